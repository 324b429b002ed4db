use super::*;
use crate::resource::SERVED;

#[test]
fn every_validator_named_by_a_resource_is_known() {
    for res in SERVED {
        for f in res.fields {
            if let Some(name) = f.validator {
                assert!(by_name(name).is_some(), "{name}");
            }
        }
    }
    assert!(by_name("isAnything").is_none());
}

#[test]
fn is_unsigned_id_accepts_plain_decimals_up_to_4294967295() {
    for ok in ["0", "5", "4294967295"] {
        assert!(is_unsigned_id(ok), "{ok:?}");
    }
}

#[test]
fn is_unsigned_id_rejects_zeros_signs_spaces_fractions_and_overflow() {
    for bad in [
        "05",
        "-1",
        " 5",
        "5 ",
        "5.0",
        "1e3",
        "0x1A",
        "abc",
        "4294967296",
        "",
        "+5",
        "-0",
        "99999999999999999999",
    ] {
        assert!(!is_unsigned_id(bad), "{bad:?}");
    }
}

#[test]
fn is_generic_name_refuses_only_angle_brackets_equals_and_braces() {
    for ok in ["", "0", "aBcD1234eFgH", "multi\nline", "é ü 😀", "a;b#c!"] {
        assert!(is_generic_name(ok), "{ok:?}");
    }
    for bad in ["<", ">", "a=b", "{", "}", "x<y"] {
        assert!(!is_generic_name(bad), "{bad:?}");
    }
}

#[test]
fn is_date_accepts_short_fields_and_an_unchecked_time() {
    for ok in [
        "2024-1-5",
        "2024-01-15 99:99:99",
        "2024-01-15",
        "2024-12-31 23:59:59",
        "2024-02-29",
        "2000-02-29",
        "2024-01-15\n",
        "2024-1-05",
        "2024-10-31",
    ] {
        assert!(is_date(ok), "{ok:?}");
    }
}

#[test]
fn is_date_rejects_impossible_days_and_other_shapes() {
    for bad in [
        "2024-02-30",
        "0000-00-00",
        "2024-01-15T10:00:00",
        "2024-01-15 10:00",
        "2024-00-10",
        "2023-02-29",
        "1900-02-29",
        "2024-04-31",
        "2024-13-01",
        "2024-01-32",
        "2024-01-00",
        "24-01-15",
        "2024-001-15",
        "2024-01-15 ",
        "2024-01-15 1:00:00",
        "0000-00-00 00:00:00",
        "2024-01-15\n\n",
        "",
    ] {
        assert!(!is_date(bad), "{bad:?}");
    }
}

#[test]
fn is_bool_accepts_zero_and_one_with_an_optional_final_newline() {
    for ok in ["0", "1", "1\n", "0\n"] {
        assert!(is_bool(ok), "{ok:?}");
    }
    for bad in ["true", "2", "01", "", " 1", "1\n\n"] {
        assert!(!is_bool(bad), "{bad:?}");
    }
}

#[test]
fn is_ip2long_accepts_optionally_negative_digits() {
    for ok in ["2130706433", "-1", "0", "12\n"] {
        assert!(is_ip2long(ok), "{ok:?}");
    }
    for bad in ["127.0.0.1", "", "-", "a1", "1 ", "--1"] {
        assert!(!is_ip2long(bad), "{bad:?}");
    }
}

#[test]
fn is_email_accepts_common_and_rfc_addresses() {
    for ok in [
        "pub@prestashop.com",
        "first.last+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "UPPER@EXAMPLE.COM",
        "a@b.c",
        "user@bücher.de",
        "\"john doe\"@example.com",
        "\"a@b\"@example.com",
        "\"\"@example.com",
        "a.\"quoted\\\"part\"@example.com",
        "user@[192.168.0.1]",
        "user@[IPv6:::ffff:1.2.3.4]",
        "john @example.com",
        "x@a.-b.com",
        "x@a--b.com",
        "x@ipv6.com",
        "123@456.789",
        &format!("{}@example.com", "a".repeat(65)),
        &format!("a@{}.com", "b".repeat(63)),
        &format!("a@b.{}", "c".repeat(62)),
    ] {
        assert!(is_email(ok), "{ok:?}");
    }
}

#[test]
fn is_email_rejects_what_prestashop_8_rejects() {
    for bad in [
        "",
        "0",
        "plain",
        "a@localhost",
        "@example.com",
        "a@",
        "a@@example.com",
        "a@b@example.com",
        ".a@example.com",
        "a.@example.com",
        "a..b@example.com",
        "a@.example.com",
        "a@example.com.",
        "a@example..com",
        "a@-example.com",
        "a@example-.com",
        "a@example.com-",
        "a@exa mple.com",
        "a b@example.com",
        " a@example.com",
        "a@example.com\n",
        "a@example.com ",
        "a,b@example.com",
        "a[b]@example.com",
        "a<b>@example.com",
        "a:b@example.com",
        "a;b@example.com",
        "a\"b\"@example.com",
        "\"unclosed@example.com",
        "\"a\".b@example.com",
        "a@exam_ple.com",
        "a@exa!mple.com",
        "a@example.com/x",
        "a@IPv6.com",
        "josé@example.com",
        "a@ex€mple.com",
        "user@[IPv6:2001:db8::1]",
        &format!("a@{}.com", "b".repeat(64)),
        &format!("a@b.{}", "c".repeat(63)),
        &format!("a@{}.com", "b.".repeat(126)),
    ] {
        assert!(!is_email(bad), "{bad:?}");
    }
}

#[test]
fn is_clean_html_accepts_ordinary_markup() {
    for ok in [
        "Hello, <b>world</b>!",
        "<p class=\"x\">a</p><br/>",
        "<a href=\"https://example.com\">link</a>",
        "Conclusion = done",
        "x = 1; online status",
        "",
        "<img src='a.png' alt='one'>",
        "a < b > c",
    ] {
        assert!(is_clean_html(ok), "{ok:?}");
    }
}

#[test]
fn is_clean_html_rejects_scripts_events_embeds_and_rlo() {
    for bad in [
        "<script>alert(1)</script>",
        "< ScRiPt src=x>",
        "<\n\tscript>",
        "<a href=\"javascript:alert(1)\">x</a>",
        "JAVASCRIPT:void(0)",
        "vbscript:x",
        "<img src=x onerror=alert(1)>",
        "<div onclick = \"x\">",
        "text onload=1",
        "xonmouseover=",
        "ONLOAD\n=",
        "<b onfoo=\"bar\">",
        "<b\nonanything='1'>",
        "<p title=x onx=\"y'>",
        "<iframe src=x>",
        "< frame>",
        "<form>",
        "<input>",
        "<embed>",
        "<object>",
        "<Formula>",
        "abc\u{202E}def",
    ] {
        assert!(!is_clean_html(bad), "{bad:?}");
    }
}

#[test]
fn is_clean_html_lets_embeds_through_when_iframes_are_allowed() {
    assert!(is_clean_html_with("<iframe src=x>", true));
    assert!(!is_clean_html_with("<iframe onload=x>", true));
    assert!(!is_clean_html_with("<script>", true));
}

#[test]
fn the_generic_event_attribute_needs_a_tag_and_a_quote() {
    // `on\w+=` without a listed event name is only refused inside a tag with a quoted value.
    assert!(is_clean_html("<b onfoo=bar>"));
    assert!(is_clean_html("text onfoo=\"bar\""));
    assert!(is_clean_html("<b> onfoo=\"bar\""));
    assert!(is_clean_html("<b onfoo=\"bar"));
    // The closing quote may lie past a `>`.
    assert!(!is_clean_html("<b onfoo=\"x> y\""));
}

#[test]
fn is_clean_html_stays_linear_on_many_unclosed_tags() {
    let s = "<a ".repeat(200_000);
    assert!(is_clean_html(&s));
    let s = format!("{}<a onx=\"1\"", "<a b".repeat(100_000));
    assert!(!is_clean_html(&s));
}

#[test]
fn zero_and_empty_are_php_empty() {
    assert!(php_empty(""));
    assert!(php_empty("0"));
    assert!(!php_empty("00"));
    assert!(!php_empty(" "));
}

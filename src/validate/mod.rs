//! PrestaShop's field validators (`classes/Validate.php`, 8.x) and the entity check that
//! `ObjectModel::validateFields` runs before a write
//! (docs/prestashop/writes.md#per-entity-processing steps 3-4,
//! docs/prestashop/writes.md#validators).
//!
//! This module owns one function per validator used by `customer_threads` and
//! `customer_messages`, named after it (`isUnsignedId` is [`is_unsigned_id`], ...), the lookup
//! [`by_name`] from the `format` names in [`crate::resource::FieldDef::validator`], and
//! [`entity::check`], which turns a body's values into PrestaShop's code 41 / code 85 errors.
//!
//! It is pure: it imports only `resource`, `error` and `php`, never actix or a connection.
//! The PHP regular expressions are small, so they are hand-written matchers here; each one says
//! which PCRE pattern it stands for. PCRE quirks kept on purpose: `$` also matches before one final
//! `"\n"` (PHP patterns without the `D` modifier), and patterns without `u` compare bytes, so
//! case-insensitivity and `\s`/`\w` are ASCII-only.

pub mod email;
pub mod entity;
pub mod html_entities;

pub use email::is_email;

/// A validator: PrestaShop's `Validate::isXxx($value)` on a string value.
pub type Validator = fn(&str) -> bool;

/// The validator for a `format` name (`isUnsignedId`, ...), as listed in the resource definitions.
pub fn by_name(name: &str) -> Option<Validator> {
    Some(match name {
        "isUnsignedId" | "isUnsignedInt" => is_unsigned_id,
        "isGenericName" => is_generic_name,
        "isDate" => is_date,
        "isBool" => is_bool,
        "isEmail" => is_email,
        "isCleanHtml" => is_clean_html,
        "isIp2Long" => is_ip2long,
        _ => return None,
    })
}

/// PHP `empty()` of a string: `""` and `"0"`.
pub fn php_empty(v: &str) -> bool {
    v.is_empty() || v == "0"
}

/// The subject without the one final `"\n"` that PCRE's `$` lets through.
fn before_final_newline(v: &str) -> &str {
    v.strip_suffix('\n').unwrap_or(v)
}

/// `isUnsignedId` = `isUnsignedInt`: `(string)(int)$v === (string)$v` and `0 <= $v <= 4294967295`.
/// So a plain decimal without sign, leading zero, space, fraction or exponent.
pub fn is_unsigned_id(v: &str) -> bool {
    let n = crate::php::int_cast(v);
    n.to_string() == v && (0..=4_294_967_295).contains(&n)
}

/// `isGenericName`: empty, or `/^[^<>={}]*$/u` (the subject is valid UTF-8 by construction).
pub fn is_generic_name(v: &str) -> bool {
    php_empty(v) || !v.contains(['<', '>', '=', '{', '}'])
}

/// `isDate`: `/^([0-9]{4})-((?:0?[0-9])|(?:1[0-2]))-((?:0?[0-9])|(?:[1-2][0-9])|(?:3[01]))( [0-9]{2}:[0-9]{2}:[0-9]{2})?$/`
/// and `checkdate(month, day, year)`. The time part is only shaped, never range-checked.
pub fn is_date(v: &str) -> bool {
    let b = before_final_newline(v).as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let num = |s: &[u8]| s.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    let (date, time) = match b.iter().position(|&c| c == b' ') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    if let Some(t) = time {
        let ok = t.len() == 8
            && t[2] == b':'
            && t[5] == b':'
            && digits(&t[..2])
            && digits(&t[3..5])
            && digits(&t[6..]);
        if !ok {
            return false;
        }
    }
    let mut parts = date.split(|&c| c == b'-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let month_ok = match m {
        [a] => a.is_ascii_digit(),
        [b'0', a] => a.is_ascii_digit(),
        [b'1', b'0'..=b'2'] => true,
        _ => false,
    };
    let day_ok = match d {
        [a] => a.is_ascii_digit(),
        [b'0'..=b'2', a] => a.is_ascii_digit(),
        [b'3', b'0' | b'1'] => true,
        _ => false,
    };
    if y.len() != 4 || !digits(y) || !month_ok || !day_ok {
        return false;
    }
    checkdate(num(m), num(d), num(y))
}

/// PHP `checkdate`: a real day of the proleptic Gregorian calendar, year 1 to 32767.
fn checkdate(month: u32, day: u32, year: u32) -> bool {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=32767).contains(&year) && (1..=days).contains(&day)
}

/// `isBool` on a string: `/^(0|1)$/`, so `"1\n"` passes too.
pub fn is_bool(v: &str) -> bool {
    matches!(before_final_newline(v), "0" | "1")
}

/// `isIp2Long`: `#^-?[0-9]+$#`.
pub fn is_ip2long(v: &str) -> bool {
    let v = before_final_newline(v);
    let digits = v.strip_prefix('-').unwrap_or(v);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

/// The event names of `Validate::isCleanHtml` (8.x), each rejected when followed by `\s*=`
/// anywhere in the value (no word boundary: `xonload=` matches too). Kept as PrestaShop lists
/// them, typo (`onmmouseup`) and duplicate (`onreset`) included.
#[rustfmt::skip]
const EVENTS: &[&str] = &[
    "onmousedown", "onmousemove", "onmmouseup", "onmouseover", "onmouseout", "onload",
    "onunload", "onfocus", "onblur", "onchange", "onsubmit", "ondblclick", "onclick",
    "onkeydown", "onkeyup", "onkeypress", "onmouseenter", "onmouseleave", "onerror",
    "onselect", "onreset", "onabort", "ondragdrop", "onresize", "onactivate", "onafterprint",
    "onmoveend", "onafterupdate", "onbeforeactivate", "onbeforecopy", "onbeforecut",
    "onbeforedeactivate", "onbeforeeditfocus", "onbeforepaste", "onbeforeprint",
    "onbeforeunload", "onbeforeupdate", "onmove", "onbounce", "oncellchange", "oncontextmenu",
    "oncontrolselect", "oncopy", "oncut", "ondataavailable", "ondatasetchanged",
    "ondatasetcomplete", "ondeactivate", "ondrag", "ondragend", "ondragenter", "ondragexit",
    "onmousewheel", "ondragleave", "ondragover", "ondragstart", "ondrop", "onerrorupdate",
    "onfilterchange", "onfinish", "onfocusin", "onfocusout", "onhashchange", "onhelp",
    "oninput", "onlosecapture", "onmessage", "onmouseup", "onmovestart", "onoffline",
    "ononline", "onpaste", "onpropertychange", "onreadystatechange", "onresizeend",
    "onresizestart", "onrowenter", "onrowexit", "onrowsdelete", "onrowsinserted", "onscroll",
    "onsearch", "onselectionchange", "onselectstart", "onstart", "onstop",
    "onanimationcancel", "onanimationend", "onanimationiteration", "onanimationstart",
    "onpointerover", "onpointerenter", "onpointerdown", "onpointermove", "onpointerup",
    "onpointerout", "onpointerleave", "onpointercancel", "ongotpointercapture",
    "onlostpointercapture", "onpagehide", "onpageshow", "onautocomplete",
    "onautocompleteerror", "oncanplay", "oncanplaythrough", "onclose", "oncuechange",
    "ondurationchange", "onemptied", "onended", "oninvalid", "onloadeddata",
    "onloadedmetadata", "onloadstart", "onpause", "onplay", "onplaying", "onpopstate",
    "onprogress", "onratechange", "onreset", "onseeked", "onseeking", "onshow", "onsort",
    "onstalled", "onstorage", "onsuspend", "ontimeupdate", "ontoggle", "onvolumechange",
    "onwaiting",
];

/// Elements rejected by `<[\s]*(i?frame|form|input|embed|object)` unless iframes are allowed.
const EMBEDS: &[&str] = &["iframe", "frame", "form", "input", "embed", "object"];

/// PCRE `\s` without the `u` modifier.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// PCRE `\w` without the `u` modifier.
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// ASCII case-insensitive "`b` at `i` starts with `word`" (`word` in lower case).
fn starts_with_ci(b: &[u8], i: usize, word: &str) -> bool {
    b.len() >= i + word.len() && b[i..i + word.len()].eq_ignore_ascii_case(word.as_bytes())
}

/// `isCleanHtml($html)` with `PS_ALLOW_HTML_IFRAME` off (the default).
pub fn is_clean_html(v: &str) -> bool {
    is_clean_html_with(v, false)
}

/// `Validate::isCleanHtml($html, $allow_iframe)` (8.x), case-insensitive over bytes. Fails on:
/// `<\s*script`; `<\s*\w+[^>]*\s(on\w+)=["'][^"']*["']`; an [`EVENTS`] name followed by `\s*=`;
/// `script:`; `<\s*(i?frame|form|input|embed|object)` unless `allow_iframe`; U+202E.
pub fn is_clean_html_with(v: &str, allow_iframe: bool) -> bool {
    let b = v.as_bytes();
    !(after_lt(b, &["script"])
        || has_event_attribute(b)
        || has_event_assignment(b)
        || b.windows(7).any(|w| w.eq_ignore_ascii_case(b"script:"))
        || (!allow_iframe && after_lt(b, EMBEDS))
        || v.contains('\u{202E}'))
}

/// `<[\s]*(word1|word2|...)`: a `<`, optional whitespace, then one of `words` (no boundary after).
fn after_lt(b: &[u8], words: &[&str]) -> bool {
    b.iter().enumerate().any(|(i, &c)| {
        if c != b'<' {
            return false;
        }
        let mut j = i + 1;
        while j < b.len() && is_space(b[j]) {
            j += 1;
        }
        words.iter().any(|w| starts_with_ci(b, j, w))
    })
}

/// `/<\s*\w+[^>]*\s(on\w+)=["'][^"']*["']/ims`. After `<\s*\w`, any run without `>` may hold a
/// whitespace followed by `on\w+=` and a quote; the closing quote (either kind) may come
/// anywhere later, even past a `>`. Linear: a failed `<` rules out every `<` before its `>`.
fn has_event_attribute(b: &[u8]) -> bool {
    let last_quote = b.iter().rposition(|&c| c == b'"' || c == b'\'');
    let Some(last_quote) = last_quote else {
        return false;
    };
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && is_space(b[j]) {
            j += 1;
        }
        if j >= b.len() || !is_word(b[j]) {
            i += 1;
            continue;
        }
        // `[^>]*\s` may start right after the first word character.
        let mut k = j + 1;
        while k < b.len() && b[k] != b'>' {
            if is_space(b[k]) && starts_with_ci(b, k + 1, "on") {
                let mut e = k + 3;
                if b.get(e).is_some_and(|&c| is_word(c)) {
                    while e < b.len() && is_word(b[e]) {
                        e += 1;
                    }
                    if b.get(e) == Some(&b'=')
                        && matches!(b.get(e + 1), Some(b'"' | b'\''))
                        && last_quote > e + 1
                    {
                        return true;
                    }
                }
            }
            k += 1;
        }
        // Every `<` up to `k` scans a subset of what this one scanned.
        i = k.max(i + 1);
    }
    false
}

/// `/(onmousedown|...|onwaiting)[\s]*=/ims`: for each `=`, the ASCII letters just before the
/// whitespace that precedes it must end with an event name.
fn has_event_assignment(b: &[u8]) -> bool {
    const LONGEST: usize = 24;
    b.iter().enumerate().any(|(i, &c)| {
        if c != b'=' {
            return false;
        }
        let mut end = i;
        while end > 0 && is_space(b[end - 1]) {
            end -= 1;
        }
        let mut start = end;
        while start > 0 && end - start < LONGEST && b[start - 1].is_ascii_alphabetic() {
            start -= 1;
        }
        let run = &b[start..end];
        EVENTS.iter().any(|ev| {
            run.len() >= ev.len() && run[run.len() - ev.len()..].eq_ignore_ascii_case(ev.as_bytes())
        })
    })
}

#[cfg(test)]
mod tests;

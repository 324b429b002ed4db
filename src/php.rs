//! Small PHP functions whose exact behaviour PrestaShop's output depends on.
//! Pure, no dependencies on the rest of the crate.

/// PHP `(int)` cast of a string: optional whitespace and sign, then leading digits; anything
/// else gives 0. Saturates like PHP 8 on overflow.
pub fn int_cast(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let mut n: i64 = 0;
    for b in digits.bytes().take_while(u8::is_ascii_digit) {
        n = n.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    if neg {
        -n
    } else {
        n
    }
}

/// PHP ≥ 8.1 `htmlspecialchars` with its defaults (ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML401).
pub fn htmlspecialchars(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// PHP `strip_tags` without allowed tags. STUB: to be implemented.
pub fn strip_tags(s: &str) -> String {
    s.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_cast_reads_leading_digits_like_php() {
        assert_eq!(int_cast("5abc"), 5);
        assert_eq!(int_cast("abc"), 0);
        assert_eq!(int_cast(" -12x"), -12);
        assert_eq!(int_cast(""), 0);
        assert_eq!(int_cast("99999999999999999999999"), i64::MAX);
    }

    #[test]
    fn htmlspecialchars_escapes_quotes_as_php_8_1() {
        assert_eq!(
            htmlspecialchars("My Shop & Co's \"<x>\""),
            "My Shop &amp; Co&#039;s &quot;&lt;x&gt;&quot;"
        );
    }
}

//! `Validate::isEmail` (PrestaShop 8.x): not `empty()`, then Symfony's `Email` constraint in
//! `loose` mode, then egulias/email-validator 3.x `RFCValidation` together with PrestaShop's
//! `SwiftMailerValidation` (`src/Core/Email/SwiftMailerValidation.php`).
//!
//! egulias is a token-driven parser with many corner cases; this is a grammar that gives the same
//! answer for the addresses real clients send, and errs on the strict side elsewhere. Exactly:
//!
//! - **Symfony loose**: `/^.+\@\S+\.\S+$/` (bytes, ASCII `\s`): something before an `@`, and after
//!   it no whitespace and a dot that is neither first nor last. So the domain needs a dot.
//! - **SwiftMailer**: the part before the first `@` is ASCII only.
//! - **egulias RFCValidation** (errors only; its warnings do not fail `RFCValidation`, so a local
//!   part over 64 octets or an address over 254 is accepted, as PrestaShop does):
//!   - local part: either a dot-atom (atoms of letters, digits and ``!#$%&'*+-/=?^_`{|}~``
//!     separated by single dots, no leading or trailing dot), or dot-atom words followed by a
//!     final quoted string (`"..."` right before the `@`, `a."b c"@x.org`), whose content is
//!     printable ASCII where `\` escapes the next character (so `\"`, `\\`, and an escaped tab)
//!     and `@`, `,`, spaces are allowed. Spaces or tabs right before the `@` (`a @x.org`) are
//!     accepted, as egulias only warns about them.
//!   - domain: labels of letters, digits, non-ASCII letters or digits, and `-`, separated by
//!     single dots; no leading or trailing dot or hyphen, no hyphen right before a dot (a hyphen
//!     right after a dot passes, as in egulias); the first label at most 63 bytes and the later
//!     ones at most 62 (egulias counts the dot in front of them); the whole domain at most 253
//!     bytes; a label token exactly `IPv6` is refused (egulias lexes it as the IPv6 tag).
//!     Non-ASCII labels have no length check here (egulias checks their punycode length).
//!   - or an address literal: `[` right after the `@`, printable ASCII except `[`, `]`, `\` and
//!     whitespace, then `]` ending the address. With the loose rule it needs a dot, so
//!     `[192.168.0.1]` and `[IPv6:::ffff:1.2.3.4]` pass and `[IPv6:2001:db8::1]` fails.
//! - Refused here although egulias accepts them (no real client sends them): comments `(...)`
//!   anywhere, a backslash outside quotes, whitespace elsewhere in the local part than before the
//!   `@`, non-ASCII symbols, marks, punctuation or spaces in the domain, text after an address
//!   literal's `]`.

/// `Validate::isEmail` (8.x).
pub fn is_email(v: &str) -> bool {
    !super::php_empty(v) && symfony_loose(v) && local_part_is_ascii(v) && rfc(v)
}

/// Symfony `Email::VALIDATION_MODE_LOOSE`: `/^.+\@\S+\.\S+$/` over bytes.
fn symfony_loose(v: &str) -> bool {
    let b = v.strip_suffix('\n').unwrap_or(v).as_bytes();
    let space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    // `.` excludes "\n"; `\S+\.\S+` has no whitespace, so only the last whitespace matters.
    b.iter().enumerate().any(|(at, &c)| {
        if c != b'@' || at == 0 || b[..at].contains(&b'\n') {
            return false;
        }
        let rest = &b[at + 1..];
        !rest.iter().any(space) && rest.len() >= 3 && rest[1..rest.len() - 1].contains(&b'.')
    })
}

/// PrestaShop's `SwiftMailerValidation`: no byte above 0x7F before the first `@`.
fn local_part_is_ascii(v: &str) -> bool {
    v.split('@').next().is_some_and(|l| l.is_ascii())
}

/// egulias `RFCValidation`, as described in the module doc.
fn rfc(v: &str) -> bool {
    let Some(at) = local_part_end(v.as_bytes()) else {
        return false;
    };
    domain(&v[at + 1..])
}

/// RFC 5322 `atext`.
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c)
}

/// Parses the local part; returns the index of the `@` that ends it.
fn local_part_end(b: &[u8]) -> Option<usize> {
    let mut i = 0;
    loop {
        // One word: an atom, or a quoted string that must be followed by the `@`.
        if b.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match *b.get(i)? {
                    b'"' => break,
                    b'\\' => {
                        let next = *b.get(i + 1)?;
                        if !(next == b'\t' || (0x20..0x7f).contains(&next)) {
                            return None;
                        }
                        i += 2;
                    }
                    0x20..=0x7e => i += 1,
                    _ => return None,
                }
            }
            i += 1;
            return (b.get(i) == Some(&b'@')).then_some(i);
        }
        let start = i;
        while b.get(i).copied().is_some_and(is_atext) {
            i += 1;
        }
        if i == start {
            return None;
        }
        match b.get(i) {
            Some(b'.') => i += 1,
            Some(b'@') => return Some(i),
            Some(b' ' | b'\t') => {
                while matches!(b.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                return (b.get(i) == Some(&b'@')).then_some(i);
            }
            _ => return None,
        }
    }
}

/// The domain part: dot-separated labels, or an address literal.
fn domain(d: &str) -> bool {
    if let Some(lit) = d.strip_prefix('[') {
        let Some(inner) = lit.strip_suffix(']') else {
            return false;
        };
        return !inner.is_empty()
            && inner
                .bytes()
                .all(|c| c.is_ascii_graphic() && !matches!(c, b'[' | b']' | b'\\'));
    }
    if d.is_empty() || d.len() > 253 {
        return false;
    }
    d.split('.').enumerate().all(|(n, label)| {
        let ok_chars = label.chars().all(|c| {
            c.is_ascii_alphanumeric() || c == '-' || (!c.is_ascii() && c.is_alphanumeric())
        });
        // Only the first label may not start with a hyphen; none may end with one.
        let hyphen_ok = !label.ends_with('-') && (n > 0 || !label.starts_with('-'));
        let max = if n == 0 { 63 } else { 62 };
        let length_ok = !label.is_empty() && (!label.is_ascii() || label.len() <= max);
        ok_chars && hyphen_ok && length_ok && !has_ipv6_token(label)
    })
}

/// egulias' lexer reads `[a-zA-Z]+[46]?`; a token that is exactly `IPv6` is not a domain atom.
fn has_ipv6_token(label: &str) -> bool {
    let b = label.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            if &b[start..i] == b"IPv" && b.get(i) == Some(&b'6') {
                return true;
            }
        } else {
            i += 1;
        }
    }
    false
}

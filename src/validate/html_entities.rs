//! PHP `html_entity_decode($s, ENT_COMPAT, 'UTF-8')`, the decoding `Tools::strlen` does before
//! `mb_strlen` when `ObjectModel::validateField` checks a field's size
//! (docs/prestashop/writes.md#per-entity-processing step 4).
//!
//! Decoded, as php-src `ext/standard/html.c` (`traverse_for_entities`) does with the default
//! HTML 4.01 document type:
//! - the 252 named entities of HTML 4.01 (`&amp;`, `&eacute;`, `&euro;`, ...; names are
//!   case-sensitive; `&apos;` is not one of them);
//! - `&#NNN;` and `&#xHH;` (`X` too; hexadecimal digits may carry strtol's `0x` prefix) for
//!   U+0009, U+000A, U+000D, U+0020-U+007E, U+00A0-U+D7FF and U+E000-U+10FFFF except the
//!   non-characters (U+FDD0-U+FDEF and the last two of each plane);
//! - not the single quote: ENT_COMPAT leaves `&#39;` / `&#x27;` as they are.
//!
//! Anything else (no `;`, an unknown name, a code point outside those ranges) stays as written.

/// The HTML 4.01 named character references (Latin-1, symbols and Greek, special).
#[rustfmt::skip]
const NAMED: &[(&str, char)] = &[
    ("nbsp", '\u{a0}'), ("iexcl", '¡'), ("cent", '¢'), ("pound", '£'), ("curren", '¤'),
    ("yen", '¥'), ("brvbar", '¦'), ("sect", '§'), ("uml", '¨'), ("copy", '©'), ("ordf", 'ª'),
    ("laquo", '«'), ("not", '¬'), ("shy", '\u{ad}'), ("reg", '®'), ("macr", '¯'), ("deg", '°'),
    ("plusmn", '±'), ("sup2", '²'), ("sup3", '³'), ("acute", '´'), ("micro", 'µ'),
    ("para", '¶'), ("middot", '·'), ("cedil", '¸'), ("sup1", '¹'), ("ordm", 'º'),
    ("raquo", '»'), ("frac14", '¼'), ("frac12", '½'), ("frac34", '¾'), ("iquest", '¿'),
    ("Agrave", 'À'), ("Aacute", 'Á'), ("Acirc", 'Â'), ("Atilde", 'Ã'), ("Auml", 'Ä'),
    ("Aring", 'Å'), ("AElig", 'Æ'), ("Ccedil", 'Ç'), ("Egrave", 'È'), ("Eacute", 'É'),
    ("Ecirc", 'Ê'), ("Euml", 'Ë'), ("Igrave", 'Ì'), ("Iacute", 'Í'), ("Icirc", 'Î'),
    ("Iuml", 'Ï'), ("ETH", 'Ð'), ("Ntilde", 'Ñ'), ("Ograve", 'Ò'), ("Oacute", 'Ó'),
    ("Ocirc", 'Ô'), ("Otilde", 'Õ'), ("Ouml", 'Ö'), ("times", '×'), ("Oslash", 'Ø'),
    ("Ugrave", 'Ù'), ("Uacute", 'Ú'), ("Ucirc", 'Û'), ("Uuml", 'Ü'), ("Yacute", 'Ý'),
    ("THORN", 'Þ'), ("szlig", 'ß'), ("agrave", 'à'), ("aacute", 'á'), ("acirc", 'â'),
    ("atilde", 'ã'), ("auml", 'ä'), ("aring", 'å'), ("aelig", 'æ'), ("ccedil", 'ç'),
    ("egrave", 'è'), ("eacute", 'é'), ("ecirc", 'ê'), ("euml", 'ë'), ("igrave", 'ì'),
    ("iacute", 'í'), ("icirc", 'î'), ("iuml", 'ï'), ("eth", 'ð'), ("ntilde", 'ñ'),
    ("ograve", 'ò'), ("oacute", 'ó'), ("ocirc", 'ô'), ("otilde", 'õ'), ("ouml", 'ö'),
    ("divide", '÷'), ("oslash", 'ø'), ("ugrave", 'ù'), ("uacute", 'ú'), ("ucirc", 'û'),
    ("uuml", 'ü'), ("yacute", 'ý'), ("thorn", 'þ'), ("yuml", 'ÿ'),
    ("fnof", 'ƒ'), ("Alpha", 'Α'), ("Beta", 'Β'), ("Gamma", 'Γ'), ("Delta", 'Δ'),
    ("Epsilon", 'Ε'), ("Zeta", 'Ζ'), ("Eta", 'Η'), ("Theta", 'Θ'), ("Iota", 'Ι'),
    ("Kappa", 'Κ'), ("Lambda", 'Λ'), ("Mu", 'Μ'), ("Nu", 'Ν'), ("Xi", 'Ξ'), ("Omicron", 'Ο'),
    ("Pi", 'Π'), ("Rho", 'Ρ'), ("Sigma", 'Σ'), ("Tau", 'Τ'), ("Upsilon", 'Υ'), ("Phi", 'Φ'),
    ("Chi", 'Χ'), ("Psi", 'Ψ'), ("Omega", 'Ω'), ("alpha", 'α'), ("beta", 'β'),
    ("gamma", 'γ'), ("delta", 'δ'), ("epsilon", 'ε'), ("zeta", 'ζ'), ("eta", 'η'),
    ("theta", 'θ'), ("iota", 'ι'), ("kappa", 'κ'), ("lambda", 'λ'), ("mu", 'μ'), ("nu", 'ν'),
    ("xi", 'ξ'), ("omicron", 'ο'), ("pi", 'π'), ("rho", 'ρ'), ("sigmaf", 'ς'),
    ("sigma", 'σ'), ("tau", 'τ'), ("upsilon", 'υ'), ("phi", 'φ'), ("chi", 'χ'), ("psi", 'ψ'),
    ("omega", 'ω'), ("thetasym", 'ϑ'), ("upsih", 'ϒ'), ("piv", 'ϖ'), ("bull", '•'),
    ("hellip", '…'), ("prime", '′'), ("Prime", '″'), ("oline", '‾'), ("frasl", '⁄'),
    ("weierp", '℘'), ("image", 'ℑ'), ("real", 'ℜ'), ("trade", '™'), ("alefsym", 'ℵ'),
    ("larr", '←'), ("uarr", '↑'), ("rarr", '→'), ("darr", '↓'), ("harr", '↔'),
    ("crarr", '↵'), ("lArr", '⇐'), ("uArr", '⇑'), ("rArr", '⇒'), ("dArr", '⇓'),
    ("hArr", '⇔'), ("forall", '∀'), ("part", '∂'), ("exist", '∃'), ("empty", '∅'),
    ("nabla", '∇'), ("isin", '∈'), ("notin", '∉'), ("ni", '∋'), ("prod", '∏'), ("sum", '∑'),
    ("minus", '−'), ("lowast", '∗'), ("radic", '√'), ("prop", '∝'), ("infin", '∞'),
    ("ang", '∠'), ("and", '∧'), ("or", '∨'), ("cap", '∩'), ("cup", '∪'), ("int", '∫'),
    ("there4", '∴'), ("sim", '∼'), ("cong", '≅'), ("asymp", '≈'), ("ne", '≠'),
    ("equiv", '≡'), ("le", '≤'), ("ge", '≥'), ("sub", '⊂'), ("sup", '⊃'), ("nsub", '⊄'),
    ("sube", '⊆'), ("supe", '⊇'), ("oplus", '⊕'), ("otimes", '⊗'), ("perp", '⊥'),
    ("sdot", '⋅'), ("lceil", '⌈'), ("rceil", '⌉'), ("lfloor", '⌊'), ("rfloor", '⌋'),
    ("lang", '〈'), ("rang", '〉'), ("loz", '◊'), ("spades", '♠'), ("clubs", '♣'),
    ("hearts", '♥'), ("diams", '♦'),
    ("quot", '"'), ("amp", '&'), ("lt", '<'), ("gt", '>'), ("OElig", 'Œ'), ("oelig", 'œ'),
    ("Scaron", 'Š'), ("scaron", 'š'), ("Yuml", 'Ÿ'), ("circ", 'ˆ'), ("tilde", '˜'),
    ("ensp", '\u{2002}'), ("emsp", '\u{2003}'), ("thinsp", '\u{2009}'), ("zwnj", '\u{200c}'),
    ("zwj", '\u{200d}'), ("lrm", '\u{200e}'), ("rlm", '\u{200f}'), ("ndash", '–'),
    ("mdash", '—'), ("lsquo", '‘'), ("rsquo", '’'), ("sbquo", '‚'), ("ldquo", '“'),
    ("rdquo", '”'), ("bdquo", '„'), ("dagger", '†'), ("Dagger", '‡'), ("permil", '‰'),
    ("lsaquo", '‹'), ("rsaquo", '›'), ("euro", '€'),
];

/// `html_entity_decode($s, ENT_COMPAT, 'UTF-8')`.
pub fn html_entity_decode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        match entity(after) {
            Some((c, len)) => {
                out.push(c);
                rest = &after[len..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// PHP `Tools::strlen`: characters after [`html_entity_decode`].
pub fn decoded_len(s: &str) -> usize {
    if !s.contains('&') {
        return s.chars().count();
    }
    html_entity_decode(s).chars().count()
}

/// The entity at the start of `s` (just after a `&`): its character and its length with `;`.
fn entity(s: &str) -> Option<(char, usize)> {
    let b = s.as_bytes();
    if let Some(num) = s.strip_prefix('#') {
        let (hex, digits) = match num.as_bytes().first() {
            Some(b'x' | b'X') => (true, &num[1..]),
            _ => (false, num),
        };
        let lead = s.len() - digits.len();
        let is_digit = |c: &u8| {
            if hex {
                c.is_ascii_hexdigit()
            } else {
                c.is_ascii_digit()
            }
        };
        if !digits.as_bytes().first().is_some_and(is_digit) {
            return None;
        }
        // strtol(base 16) accepts a `0x` prefix of its own.
        let mut start = 0;
        let d = digits.as_bytes();
        if hex
            && d.len() > 2
            && d[0] == b'0'
            && matches!(d[1], b'x' | b'X')
            && d[2].is_ascii_hexdigit()
        {
            start = 2;
        }
        let end = start + d[start..].iter().take_while(|c| is_digit(c)).count();
        if d.get(end) != Some(&b';') {
            return None;
        }
        let mut code: u32 = 0;
        for &c in &d[start..end] {
            let v = (c as char).to_digit(if hex { 16 } else { 10 })?;
            code = code
                .saturating_mul(if hex { 16 } else { 10 })
                .saturating_add(v);
        }
        if !allowed_html401(code) || code == u32::from(b'\'') {
            return None;
        }
        return char::from_u32(code).map(|c| (c, lead + end + 1));
    }
    let name_len = b.iter().take_while(|c| c.is_ascii_alphanumeric()).count();
    if name_len == 0 || b.get(name_len) != Some(&b';') {
        return None;
    }
    let name = &s[..name_len];
    NAMED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, c)| (c, name_len + 1))
}

/// php-src `unicode_cp_is_allowed` for ENT_HTML401.
fn allowed_html401(cp: u32) -> bool {
    matches!(cp, 0x09 | 0x0a | 0x0d | 0x20..=0x7e | 0xa0..=0xd7ff)
        || ((0xe000..=0x10ffff).contains(&cp)
            && (cp & 0xffff) < 0xfffe
            && !(0xfdd0..=0xfdef).contains(&cp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_html_401_table_has_252_distinct_names() {
        let mut names: Vec<&str> = NAMED.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 252);
    }

    #[test]
    fn named_and_numeric_entities_decode_to_one_character() {
        assert_eq!(
            html_entity_decode("a&amp;b&lt;&gt;&quot;&eacute;&euro;&#65;&#x42;&#X43;"),
            "a&b<>\"é€ABC"
        );
        assert_eq!(html_entity_decode("&#x0x41;"), "A");
    }

    #[test]
    fn ent_compat_keeps_single_quote_entities() {
        assert_eq!(
            html_entity_decode("&#39;&#039;&#x27;&apos;"),
            "&#39;&#039;&#x27;&apos;"
        );
    }

    #[test]
    fn malformed_or_disallowed_entities_stay_as_written() {
        for s in [
            "&amp",
            "&unknown;",
            "&AMP;",
            "&#;",
            "&#x;",
            "&#65",
            "&#128;",
            "&#0;",
            "&#xD800;",
            "&#1114112;",
            "&#99999999999999999999;",
            "&#xFFFE;",
            "& amp;",
            "&",
        ] {
            assert_eq!(html_entity_decode(s), s, "{s}");
        }
        assert_eq!(html_entity_decode("&&amp;"), "&&");
        assert_eq!(html_entity_decode("&#x&lt;"), "&#x<");
    }

    #[test]
    fn decoded_len_counts_characters_not_bytes() {
        assert_eq!(decoded_len("é&eacute;&amp;x"), 4);
        assert_eq!(decoded_len("😀"), 1);
    }
}

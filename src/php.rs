//! Small PHP functions whose exact behaviour PrestaShop's output depends on.
//! Pure, no dependencies on the rest of the crate.

/// PHP `(int)` cast of a string: leading whitespace, then the longest leading numeric part
/// (`[+-]digits[.digits][e[+-]digits]`); one with a fraction or an exponent goes through a float,
/// as PHP 8 does (`"1e3"` is 1000, `"1.9"` is 1). Anything else gives 0. Saturates on overflow.
pub fn int_cast(s: &str) -> i64 {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let int_digits = digits(&mut i);
    let mut float = false;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        let mut j = i + 1;
        frac_digits = digits(&mut j);
        if int_digits + frac_digits > 0 {
            i = j;
            float = true;
        }
    }
    if int_digits + frac_digits == 0 {
        return 0;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if digits(&mut j) > 0 {
            i = j;
            float = true;
        }
    }
    let num = &t[..i];
    if float {
        // `as` saturates and maps NaN to 0, like PHP 8 on 64-bit for finite values.
        num.parse::<f64>().map_or(0, |f| f as i64)
    } else {
        let (neg, digits) = match num.as_bytes()[0] {
            b'-' => (true, &num[1..]),
            b'+' => (false, &num[1..]),
            _ => (false, num),
        };
        let mut n: i64 = 0;
        for d in digits.bytes() {
            n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        }
        if neg {
            -n
        } else {
            n
        }
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

/// PHP 8 `strip_tags` without allowed tags: the byte state machine of `php_strip_tags_ex`
/// (ext/standard/string.c), one method per `TagState`. A `<` followed by whitespace is kept
/// as text (`a < b`), an unterminated tag swallows the rest, and NUL bytes are always dropped.
pub fn strip_tags(s: &str) -> String {
    let mut m = StripTags {
        buf: s.as_bytes(),
        out: Vec::with_capacity(s.len()),
        state: TagState::Text,
        lc: 0,
        br: 0,
        depth: 0,
        in_q: 0,
        is_xml: false,
    };
    for (i, &c) in s.as_bytes().iter().enumerate() {
        match m.state {
            TagState::Text => m.text(i, c),
            TagState::Tag => m.tag(i, c),
            TagState::Php => m.php(i, c),
            TagState::Declaration => m.declaration(i, c),
            TagState::Comment => m.comment(i, c),
        }
    }
    // Only whole ASCII-delimited ranges and NUL bytes are removed, so UTF-8 stays valid.
    String::from_utf8(m.out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Where `php_strip_tags_ex` is (its `state` 0 to 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagState {
    /// 0: text, copied.
    Text,
    /// 1: an HTML tag (quotes hide `>`, a nested `<` needs its own `>`).
    Tag,
    /// 2: a `<?` PHP block (ends at `?>` outside quotes and parentheses).
    Php,
    /// 3: a `<!` declaration.
    Declaration,
    /// 4: a `<!-- -->` comment.
    Comment,
}

/// `php_strip_tags_ex`'s variables, named as there.
struct StripTags<'a> {
    buf: &'a [u8],
    out: Vec<u8>,
    state: TagState,
    /// The last significant character.
    lc: u8,
    /// Parentheses open in a PHP block.
    br: i64,
    /// Nested `<` waiting for their `>`.
    depth: i64,
    /// The open quote, 0 outside quotes.
    in_q: u8,
    is_xml: bool,
}

impl StripTags<'_> {
    /// PHP reads one byte past the end (the string's NUL terminator) when it looks ahead.
    fn next(&self, i: usize) -> u8 {
        self.buf.get(i + 1).copied().unwrap_or(0)
    }

    fn prev(&self, i: usize, back: usize) -> u8 {
        if i >= back {
            self.buf[i - back]
        } else {
            0
        }
    }

    fn lower_is(&self, i: usize, back: usize, c: u8) -> bool {
        i >= back && self.buf[i - back] | 0x20 == c
    }

    /// A quote opens, or closes the quote it matches.
    fn toggle_quote(&mut self, c: u8) {
        self.in_q = if self.in_q != 0 { 0 } else { c };
    }

    fn text(&mut self, i: usize, c: u8) {
        match c {
            0 => {}
            b'<' if self.in_q != 0 => {}
            b'<' if is_c_space(self.next(i)) => self.out.push(c),
            b'<' => {
                self.lc = b'<';
                self.state = TagState::Tag;
            }
            b'>' if self.depth > 0 => self.depth -= 1,
            b'>' if self.in_q != 0 => {}
            _ => self.out.push(c),
        }
    }

    fn tag(&mut self, i: usize, c: u8) {
        match c {
            b'<' if self.in_q == 0 && !is_c_space(self.next(i)) => self.depth += 1,
            b'>' if self.depth > 0 => self.depth -= 1,
            b'>' if self.in_q != 0 => {}
            b'>' => {
                self.lc = b'>';
                // Inside `<?xml ...`, `->` does not close the tag.
                if !(self.is_xml && self.prev(i, 1) == b'-') {
                    self.in_q = 0;
                    self.state = TagState::Text;
                    self.is_xml = false;
                }
            }
            b'"' | b'\'' if i != 0 && (self.in_q == 0 || c == self.in_q) => self.toggle_quote(c),
            b'!' if self.prev(i, 1) == b'<' => {
                self.state = TagState::Declaration;
                self.lc = c;
            }
            b'?' if self.prev(i, 1) == b'<' => {
                self.br = 0;
                self.state = TagState::Php;
            }
            _ => {}
        }
    }

    fn php(&mut self, i: usize, c: u8) {
        let lc = self.lc;
        match c {
            b'(' if lc != b'"' && lc != b'\'' => {
                self.lc = b'(';
                self.br += 1;
            }
            b')' if lc != b'"' && lc != b'\'' => {
                self.lc = b')';
                self.br -= 1;
            }
            b'>' if self.depth > 0 => self.depth -= 1,
            b'>' if self.in_q != 0 => {}
            b'>' if self.br == 0 && lc != b'"' && self.prev(i, 1) == b'?' => {
                self.in_q = 0;
                self.state = TagState::Text;
            }
            b'"' | b'\'' if i >= 1 && self.prev(i, 1) != b'\\' => {
                if lc == c {
                    self.lc = 0;
                } else if lc != b'\\' {
                    self.lc = c;
                }
                if self.in_q == 0 || c == self.in_q {
                    self.toggle_quote(c);
                }
            }
            // `<?xml` is not PHP: back to an HTML tag (only past the fourth byte, as PHP).
            b'l' | b'L'
                if i > 4
                    && self.lower_is(i, 1, b'm')
                    && self.lower_is(i, 2, b'x')
                    && self.prev(i, 3) == b'?'
                    && self.prev(i, 4) == b'<' =>
            {
                self.state = TagState::Tag;
                self.is_xml = true;
            }
            _ => {}
        }
    }

    fn declaration(&mut self, i: usize, c: u8) {
        match c {
            b'>' if self.depth > 0 => self.depth -= 1,
            b'>' if self.in_q != 0 => {}
            b'>' => {
                self.in_q = 0;
                self.state = TagState::Text;
            }
            b'"' | b'\''
                if i != 0 && self.prev(i, 1) != b'\\' && (self.in_q == 0 || c == self.in_q) =>
            {
                self.toggle_quote(c)
            }
            b'-' if self.prev(i, 1) == b'-' && self.prev(i, 2) == b'!' => {
                self.state = TagState::Comment
            }
            // `<!DOCTYPE` is handled as an ordinary tag.
            b'e' | b'E' if i > 6 && self.doctype_ends_at(i) => self.state = TagState::Tag,
            _ => {}
        }
    }

    /// `doctyp` (any case) before `i`.
    fn doctype_ends_at(&self, i: usize) -> bool {
        b"pytcod"
            .iter()
            .enumerate()
            .all(|(k, &c)| self.lower_is(i, k + 1, c))
    }

    fn comment(&mut self, i: usize, c: u8) {
        if c == b'>' && self.in_q == 0 && self.prev(i, 1) == b'-' && self.prev(i, 2) == b'-' {
            self.in_q = 0;
            self.state = TagState::Text;
        }
    }
}

/// C `isspace` in the C locale.
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
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
        assert_eq!(int_cast("+7"), 7);
        assert_eq!(int_cast("-"), 0);
    }

    #[test]
    fn int_cast_reads_fractions_and_exponents_through_a_float_like_php_8() {
        assert_eq!(int_cast("1e3"), 1000);
        assert_eq!(int_cast("1e3abc"), 1000);
        assert_eq!(int_cast("1.9"), 1);
        assert_eq!(int_cast("-1.9"), -1);
        assert_eq!(int_cast(".5"), 0);
        assert_eq!(int_cast("5."), 5);
        assert_eq!(int_cast("2e"), 2);
        assert_eq!(int_cast("1e999"), i64::MAX);
    }

    #[test]
    fn strip_tags_removes_tags_and_keeps_text() {
        assert_eq!(strip_tags("<b>bold</b> text"), "bold text");
        assert_eq!(strip_tags("a<br/>b<br />c"), "abc");
        assert_eq!(strip_tags("plain"), "plain");
        assert_eq!(strip_tags(""), "");
    }

    #[test]
    fn strip_tags_keeps_a_lone_less_than_followed_by_whitespace() {
        assert_eq!(strip_tags("a < b"), "a < b");
        assert_eq!(strip_tags("1 <\t2"), "1 <\t2");
        assert_eq!(strip_tags("a > b"), "a > b");
    }

    #[test]
    fn strip_tags_drops_everything_after_an_unterminated_tag() {
        assert_eq!(strip_tags("a <b"), "a ");
        assert_eq!(strip_tags("x<"), "x");
        assert_eq!(strip_tags("a<b c=\"d>e"), "a");
    }

    #[test]
    fn strip_tags_ignores_greater_than_inside_quoted_attributes() {
        assert_eq!(strip_tags("<a title=\"x>y\">link</a>"), "link");
        assert_eq!(strip_tags("<a title='x>y'>link</a>"), "link");
        // A quote of the other kind does not close the quoted part.
        assert_eq!(strip_tags("<a t=\"it's>\">ok</a>"), "ok");
    }

    #[test]
    fn strip_tags_counts_nested_less_than_inside_a_tag() {
        assert_eq!(strip_tags("<a<b>>x"), "x");
        // The nested `<b>` used the first `>`: the outer tag is still open.
        assert_eq!(strip_tags("<a <b>x"), "");
    }

    #[test]
    fn strip_tags_removes_comments_including_greater_than_inside() {
        assert_eq!(strip_tags("a<!-- x > y -->b"), "ab");
        assert_eq!(strip_tags("a<!-- never closed"), "a");
        assert_eq!(strip_tags("<!DOCTYPE html>t"), "t");
        assert_eq!(strip_tags("<![CDATA[x]]>y"), "y");
    }

    #[test]
    fn strip_tags_removes_php_blocks_until_question_mark_greater_than() {
        assert_eq!(strip_tags("a<?php echo 1; ?>b"), "ab");
        assert_eq!(strip_tags("a<?php if ($x > 1) {} ?>b"), "ab");
        assert_eq!(strip_tags("a<?php echo \"?>\"; ?>b"), "ab");
        assert_eq!(strip_tags("x<?xml version=\"1.0\"?>y"), "xy");
    }

    #[test]
    fn strip_tags_drops_nul_bytes_and_keeps_multibyte_text() {
        assert_eq!(strip_tags("a\0b"), "ab");
        assert_eq!(strip_tags("é<i>ü</i>ß"), "éüß");
    }

    #[test]
    fn htmlspecialchars_escapes_quotes_as_php_8_1() {
        assert_eq!(
            htmlspecialchars("My Shop & Co's \"<x>\""),
            "My Shop &amp; Co&#039;s &quot;&lt;x&gt;&quot;"
        );
    }
}

//! PHP's query-string parsing (`parse_str` / `$_GET`): `a[b][c]=v` nesting, `+` and `%XX`
//! decoding, last duplicate wins.
//!
//! Modelled on PHP 8's `php_default_treat_data` (main/php_variables.c: split on
//! `arg_separator.input`, `php_url_decode` of name and value) and `php_register_variable_ex`
//! (the key mangling and the array building). Pure; imports nothing from the crate.

/// A parameter value: a string or a (nested) array, as PHP sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    Str(String),
    /// Key/value pairs in first-insertion order (PHP arrays keep insertion order).
    Map(Vec<(String, Param)>),
}

/// The parsed query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    pub entries: Vec<(String, Param)>,
}

/// PHP's `max_input_nesting_level` default: a name with more bracket levels is dropped, and
/// `php_register_variable_ex` deletes the whole top-level variable.
const MAX_NESTING: usize = 64;

impl Params {
    /// Parses a raw query string (without the leading `?`) like PHP fills `$_GET`.
    pub fn parse(query: &str) -> Params {
        let mut params = Params::default();
        // php_strtok_r skips empty tokens, so `a&&b` is two pairs.
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (raw_name, raw_value) = pair.split_once('=').unwrap_or((pair, ""));
            let mut name = url_decode(raw_name);
            // The decoded name is used as a C string: `%00` ends it.
            if let Some(nul) = name.iter().position(|&b| b == 0) {
                name.truncate(nul);
            }
            let name = String::from_utf8_lossy(&name);
            let value = String::from_utf8_lossy(&url_decode(raw_value)).into_owned();
            params.register(&name, value);
        }
        params
    }

    /// Adds `other`'s parameters; on duplicate keys `other` wins (merged like `parse_str`).
    ///
    /// As if `other`'s query string had been appended to this one: arrays on both sides merge
    /// key by key, anything else is replaced in place. (One difference with a real
    /// concatenation: `a[]=` items of `other` keep their own indexes instead of being appended.)
    pub fn merge(&mut self, other: Params) {
        merge_into(&mut self.entries, other.entries);
    }

    pub fn get(&self, key: &str) -> Option<&Param> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value when it is a string; `None` when absent or an array.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        match self.get(key) {
            Some(Param::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// `php_register_variable_ex`: mangles the name, then stores the value at its path.
    fn register(&mut self, name: &str, value: String) {
        // Leading spaces are dropped; in the base name (before the first `[`) spaces and dots
        // become `_`.
        let name = name.trim_start_matches(' ');
        let mut base = String::new();
        let mut rest = None;
        for (i, c) in name.char_indices() {
            match c {
                ' ' | '.' => base.push('_'),
                '[' => {
                    rest = Some(&name[i + 1..]);
                    break;
                }
                c => base.push(c),
            }
        }
        if base.is_empty() {
            return;
        }

        // Each `[key]` level; `None` is `[]` (append with the next integer index).
        let mut path: Vec<Option<String>> = Vec::new();
        if let Some(mut r) = rest {
            let mut levels = 0;
            loop {
                levels += 1;
                if levels > MAX_NESTING {
                    self.entries.retain(|(k, _)| *k != base);
                    return;
                }
                if let Some(after) = r.strip_prefix(']') {
                    path.push(None);
                    r = after;
                } else if let Some(close) = r.find(']') {
                    path.push(Some(r[..close].to_owned()));
                    r = &r[close + 1..];
                } else {
                    // "Not an index": an unmatched `[` on the first level becomes `_` and the rest
                    // is kept with ` `, `.` and `[` turned into `_`; on a deeper level the
                    // unmatched tail is dropped and the value goes to the previous level.
                    if path.is_empty() {
                        base.push('_');
                        base.extend(r.chars().map(|c| match c {
                            ' ' | '.' | '[' => '_',
                            c => c,
                        }));
                    }
                    break;
                }
                // Anything after `]` other than another `[` is ignored (`a[b]c=1` is `a[b]`).
                match r.strip_prefix('[') {
                    Some(after) => r = after,
                    None => break,
                }
            }
        }
        insert(&mut self.entries, Some(base), &path, value);
    }
}

/// `php_url_decode`: `+` is a space, `%XX` a byte; a `%` without two hex digits stays as is.
fn url_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Stores `value` under `key` (`None`: next integer index) then `path` below it, replacing a
/// string by an array (or an array by a string) in place like PHP does.
fn insert(
    entries: &mut Vec<(String, Param)>,
    key: Option<String>,
    path: &[Option<String>],
    value: String,
) {
    let Some((next, below)) = path.split_first() else {
        let leaf = Param::Str(value);
        match key {
            Some(k) => set(entries, k, leaf),
            None => {
                let k = next_index(entries);
                entries.push((k, leaf));
            }
        }
        return;
    };
    let slot = match key {
        Some(k) => match entries.iter().position(|(ek, _)| *ek == k) {
            Some(i) => {
                if !matches!(entries[i].1, Param::Map(_)) {
                    entries[i].1 = Param::Map(Vec::new());
                }
                i
            }
            None => {
                entries.push((k, Param::Map(Vec::new())));
                entries.len() - 1
            }
        },
        None => {
            let k = next_index(entries);
            entries.push((k, Param::Map(Vec::new())));
            entries.len() - 1
        }
    };
    if let Param::Map(children) = &mut entries[slot].1 {
        insert(children, next.clone(), below, value);
    }
}

/// Replaces the value of `key` in place, or appends it.
fn set(entries: &mut Vec<(String, Param)>, key: String, value: Param) {
    match entries.iter_mut().find(|(k, _)| *k == key) {
        Some((_, v)) => *v = value,
        None => entries.push((key, value)),
    }
}

/// The key `$a[] = ..` uses: one more than the largest non-negative integer key, else 0
/// (PHP < 8.3 `nNextFreeElement`; keys such as `"05"` or `"-1"` do not count).
fn next_index(entries: &[(String, Param)]) -> String {
    entries
        .iter()
        .filter_map(|(k, _)| integer_key(k))
        .filter(|&n| n >= 0)
        .map(|n| n.saturating_add(1))
        .max()
        .unwrap_or(0)
        .to_string()
}

/// A key PHP stores as an integer (`ZEND_HANDLE_NUMERIC_STR`): canonical decimal, in range.
fn integer_key(k: &str) -> Option<i64> {
    let digits = k.strip_prefix('-').unwrap_or(k);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && k != "-0";
    if canonical {
        k.parse().ok()
    } else {
        None
    }
}

fn merge_into(entries: &mut Vec<(String, Param)>, other: Vec<(String, Param)>) {
    for (k, v) in other {
        match (entries.iter_mut().find(|(ek, _)| *ek == k), v) {
            (Some((_, Param::Map(mine))), Param::Map(theirs)) => merge_into(mine, theirs),
            (Some((_, mine)), v) => *mine = v,
            (None, v) => entries.push((k, v)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Param {
        Param::Str(v.to_owned())
    }

    fn map(items: &[(&str, Param)]) -> Param {
        Param::Map(
            items
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn entries(p: &Params) -> Vec<(&str, &Param)> {
        p.entries.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }

    #[test]
    fn plain_pairs_are_decoded_with_plus_as_space() {
        let p = Params::parse("a=1&b=x+y%20z&c");
        assert_eq!(
            entries(&p),
            [("a", &s("1")), ("b", &s("x y z")), ("c", &s(""))]
        );
    }

    #[test]
    fn malformed_percent_escapes_are_kept_literally() {
        let p = Params::parse("a=%zz%4&b=100%&c=%41%2");
        assert_eq!(p.get_str("a"), Some("%zz%4"));
        assert_eq!(p.get_str("b"), Some("100%"));
        assert_eq!(p.get_str("c"), Some("A%2"));
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let p = Params::parse("a=%FF%C3%A9");
        assert_eq!(p.get_str("a"), Some("\u{FFFD}é"));
    }

    #[test]
    fn empty_pairs_and_empty_names_are_skipped() {
        let p = Params::parse("&&=1&a=2&&[x]=3&%20=4");
        assert_eq!(entries(&p), [("a", &s("2"))]);
    }

    #[test]
    fn later_duplicates_win_and_keep_the_first_position() {
        let p = Params::parse("a=1&b=2&a=3");
        assert_eq!(entries(&p), [("a", &s("3")), ("b", &s("2"))]);
    }

    #[test]
    fn base_names_lose_leading_spaces_and_turn_dots_and_spaces_into_underscores() {
        let p = Params::parse("+a.b+c=1&%20%20x=2");
        assert_eq!(entries(&p), [("a_b_c", &s("1")), ("x", &s("2"))]);
    }

    #[test]
    fn brackets_build_nested_arrays() {
        let p = Params::parse("filter[email]=x&filter[id]=[1|2]&a[b][c]=v");
        assert_eq!(
            entries(&p),
            [
                ("filter", &map(&[("email", s("x")), ("id", s("[1|2]"))])),
                ("a", &map(&[("b", map(&[("c", s("v"))]))])),
            ]
        );
    }

    #[test]
    fn keys_inside_brackets_are_not_mangled() {
        let p = Params::parse("a[b.c d]=1");
        assert_eq!(p.get("a"), Some(&map(&[("b.c d", s("1"))])));
    }

    #[test]
    fn empty_brackets_append_with_the_next_integer_index() {
        let p = Params::parse("a[]=x&a[]=y&b[5]=p&b[]=q&c[x]=1&c[]=2&d[-3]=1&d[]=2&e[07]=1&e[]=2");
        assert_eq!(p.get("a"), Some(&map(&[("0", s("x")), ("1", s("y"))])));
        assert_eq!(p.get("b"), Some(&map(&[("5", s("p")), ("6", s("q"))])));
        assert_eq!(p.get("c"), Some(&map(&[("x", s("1")), ("0", s("2"))])));
        assert_eq!(p.get("d"), Some(&map(&[("-3", s("1")), ("0", s("2"))])));
        assert_eq!(p.get("e"), Some(&map(&[("07", s("1")), ("0", s("2"))])));
    }

    #[test]
    fn nested_empty_brackets_append_inside_the_nested_array() {
        let p = Params::parse("a[b][]=1&a[b][]=2&a[][x]=3");
        assert_eq!(
            p.get("a"),
            Some(&map(&[
                ("b", map(&[("0", s("1")), ("1", s("2"))])),
                ("0", map(&[("x", s("3"))])),
            ]))
        );
    }

    #[test]
    fn an_unmatched_first_bracket_becomes_an_underscore() {
        let p = Params::parse("a[b=1&c[=2&d[e.f[g h=3");
        assert_eq!(
            entries(&p),
            [("a_b", &s("1")), ("c_", &s("2")), ("d_e_f_g_h", &s("3"))]
        );
    }

    #[test]
    fn an_unmatched_deeper_bracket_is_dropped() {
        let p = Params::parse("a[b][c=1&x[][y=2");
        assert_eq!(p.get("a"), Some(&map(&[("b", s("1"))])));
        assert_eq!(p.get("x"), Some(&map(&[("0", s("2"))])));
    }

    #[test]
    fn text_after_a_closing_bracket_is_ignored() {
        let p = Params::parse("a[b]c=1&d]=2");
        assert_eq!(p.get("a"), Some(&map(&[("b", s("1"))])));
        assert_eq!(p.get_str("d]"), Some("2"));
    }

    #[test]
    fn a_later_scalar_replaces_an_array_and_vice_versa() {
        let p = Params::parse("a[x]=1&b=2&a=3&c=4&c[y]=5&c[z]=6");
        assert_eq!(
            entries(&p),
            [
                ("a", &s("3")),
                ("b", &s("2")),
                ("c", &map(&[("y", s("5")), ("z", s("6"))])),
            ]
        );
    }

    #[test]
    fn percent_encoded_brackets_and_equals_work_like_literal_ones() {
        let p = Params::parse("filter%5Bemail%5D=a%3Db");
        assert_eq!(p.get("filter"), Some(&map(&[("email", s("a=b"))])));
    }

    #[test]
    fn a_nul_byte_ends_the_name_but_not_the_value() {
        let p = Params::parse("ab%00cd=x%00y");
        assert_eq!(p.get_str("ab"), Some("x\0y"));
    }

    #[test]
    fn too_deep_nesting_drops_the_whole_variable() {
        let deep = "[a]".repeat(MAX_NESTING + 1);
        let p = Params::parse(&format!("v=1&v{deep}=2&w{}=3", "[a]".repeat(MAX_NESTING)));
        assert_eq!(p.get("v"), None);
        assert!(p.get("w").is_some());
    }

    #[test]
    fn get_str_is_none_for_arrays_and_absent_keys() {
        let p = Params::parse("a[]=1&b=2");
        assert_eq!(p.get_str("a"), None);
        assert_eq!(p.get_str("z"), None);
        assert_eq!(p.get_str("b"), Some("2"));
        assert!(p.contains("a"));
        assert!(!p.contains("z"));
    }

    #[test]
    fn merge_lets_the_other_side_win_and_merges_arrays() {
        let mut p = Params::parse("a=1&f[x]=1&f[y]=2&s=3&t[k]=1");
        p.merge(Params::parse("a=9&f[y]=8&f[z]=7&n=6&s[q]=1&t=2"));
        assert_eq!(
            entries(&p),
            [
                ("a", &s("9")),
                ("f", &map(&[("x", s("1")), ("y", s("8")), ("z", s("7"))])),
                ("s", &map(&[("q", s("1"))])),
                ("t", &s("2")),
                ("n", &s("6")),
            ]
        );
    }
}

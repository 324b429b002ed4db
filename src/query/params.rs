//! PHP's query-string parsing (`parse_str` / `$_GET`): `a[b][c]=v` nesting, `+` and `%XX`
//! decoding, last duplicate wins. STUB: to be implemented.

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

impl Params {
    /// Parses a raw query string (without the leading `?`) like PHP fills `$_GET`.
    pub fn parse(_query: &str) -> Params {
        todo!()
    }

    /// Adds `other`'s parameters; on duplicate keys `other` wins (merged like `parse_str`).
    pub fn merge(&mut self, _other: Params) {
        todo!()
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
}

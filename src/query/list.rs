//! `schema`, `filter`, `display`, `sort`, `limit` for collections, in PrestaShop's order
//! (docs/prestashop/lists.md), and `display` for single resources
//! (docs/prestashop/documents.md#single-resources).
//!
//! Follows `WebserviceRequest::manageFilters`, `setFieldsToDisplay`, `parseDisplayFields` and
//! `SQLUtils::getSQLRetrieveFilter` (PrestaShop 8), with docs/compatibility.md W6 (dates always
//! filterable and sortable), W7 (`>=`/`<=`, other ignored bracket forms are error 33) and W8 (an
//! array value on a known field is error 33). Where PHP 8 would die with a TypeError on an array
//! parameter (`display[]=`, `sort[]=`, `limit[]=`) the stage's own syntax error is returned.
//!
//! Empty values, as PHP treats them (all `isset` is true for `""`):
//! - `schema=` is error 28 (`'' == 'blank'` is false);
//! - `display=` is error 36 (`''` is neither `full`/`minimum` nor `[...]`);
//! - `sort=` is error 37 (one sort item `''`, without an underscore);
//! - `limit=` is `LIMIT 0` (`explode` gives `['']`, `(int) ''` is 0), so an empty list.

use std::cmp::Ordering;

use super::{
    CollectionRequest, Condition, Direction, Display, FieldSelection, Filter, Limit, ListQuery,
    Param, Params, SchemaKind, SortKey,
};
use crate::error::ApiError;
use crate::php;
use crate::resource::ResourceDef;

/// Parses a GET on the collection URL. The first failing stage decides the error.
pub fn parse_collection(res: &ResourceDef, params: &Params) -> Result<CollectionRequest, ApiError> {
    if let Some(schema) = params.get("schema") {
        // A valid schema short-circuits everything else, even invalid filters.
        return match schema {
            Param::Str(s) if s == "blank" => Ok(CollectionRequest::Schema(SchemaKind::Blank)),
            Param::Str(s) if s == "synopsis" => Ok(CollectionRequest::Schema(SchemaKind::Synopsis)),
            _ => Err(ApiError::bad_schema()),
        };
    }
    let filters = parse_filters(res, params)?;
    let display = parse_display(res, params, Display::Minimum)?;
    let sort = parse_sort(res, params)?;
    let limit = parse_limit(params)?;
    Ok(CollectionRequest::List(ListQuery {
        display,
        filters,
        sort,
        limit,
    }))
}

/// Parses `display` for a single resource (default `full`).
pub fn parse_single_display(res: &ResourceDef, params: &Params) -> Result<Display, ApiError> {
    parse_display(res, params, Display::Full)
}

/// Every field name in resource order: the "available" list of errors 32, 35, 36 and 38. Dates
/// are always in it (docs/compatibility.md W6); PrestaShop's own order keeps them where the class
/// has them.
fn field_names(res: &ResourceDef) -> Vec<&'static str> {
    res.filterable(true).map(|f| f.name).collect()
}

// --- filter (manageFilters, SQLUtils::getSQLRetrieveFilter) ---

fn parse_filters(res: &ResourceDef, params: &Params) -> Result<Vec<Filter>, ApiError> {
    // A scalar `filter=x` is skipped by PHP's foreach (with a warning).
    let Some(Param::Map(entries)) = params.get("filter") else {
        return Ok(Vec::new());
    };
    let mut filters = Vec::new();
    for (name, value) in entries {
        if name == "sort" || name == "limit" {
            continue;
        }
        let Some(field) = res.field_index(name) else {
            return Err(match value {
                // These resources have no linked tables (no codes 29/30).
                Param::Map(_) => ApiError::no_linked_table(),
                Param::Str(_) => ApiError::unknown_filter(name, &field_names(res)),
            });
        };
        let raw = match value {
            Param::Str(s) if !s.is_empty() => s,
            // Empty: PrestaShop's code 33. Array: a TypeError in PHP 8, code 33 here (W8).
            _ => return Err(ApiError::malformed_filter(name)),
        };
        let condition = parse_condition(raw).ok_or_else(|| ApiError::malformed_filter(name))?;
        filters.push(Filter { field, condition });
    }
    Ok(filters)
}

/// One filter value, as `SQLUtils::getSQLRetrieveFilter` reads it. `None` for the bracket forms
/// PrestaShop silently ignores (error 33 here, docs/compatibility.md W7).
///
/// The value is split on the raw text, then each piece goes through `pSQL`, whose visible
/// effect is `strip_tags` (`Db::escape`); so `<b>` inside a piece vanishes but cannot hide a
/// bracket from the pattern.
fn parse_condition(raw: &str) -> Option<Condition> {
    let clean = |s: &str| php::strip_tags(s);
    let list = |s: &str| s.split('|').map(clean).collect::<Vec<_>>();
    let Some((prefix, inner, suffix)) = split_brackets(raw) else {
        return Some(Condition::Eq(clean(raw)));
    };
    // Checked first, so `>[5]%` is a LIKE on ">5%", as in PrestaShop.
    if prefix == "%" || suffix == "%" {
        return Some(Condition::Like(clean(&format!("{prefix}{inner}{suffix}"))));
    }
    if prefix.is_empty() && suffix.is_empty() {
        // `strpos($v, '|') > 0`: a `|` at position 0 makes the whole value a literal.
        if inner.find('|').is_some_and(|pos| pos > 0) {
            return Some(Condition::AnyOf(list(inner)));
        }
        if let Some((lo, hi)) = between_ends(inner) {
            return Some(Condition::Between(lo.to_owned(), hi.to_owned()));
        }
        return Some(Condition::Eq(clean(inner)));
    }
    // PrestaShop looks only at the prefix here: the suffix of `>[5]x` is dropped. `>=`/`<=`
    // (W7) are read the same way.
    match prefix {
        ">" => Some(Condition::Gt(clean(inner))),
        "<" => Some(Condition::Lt(clean(inner))),
        ">=" => Some(Condition::Ge(clean(inner))),
        "<=" => Some(Condition::Le(clean(inner))),
        "!" => Some(Condition::NoneOf(list(inner))),
        _ => None,
    }
}

/// `preg_match('/^(.*)\[(.*)\](.*)$/')` with greedy groups: the prefix runs to the last `[`
/// that has a `]` after it, the inner part to the last `]`. Without the `s` modifier `.` does
/// not match a newline, and `$` also matches before a final newline.
fn split_brackets(value: &str) -> Option<(&str, &str, &str)> {
    let subject = value.strip_suffix('\n').unwrap_or(value);
    if subject.contains('\n') {
        return None;
    }
    let close = subject.rfind(']')?;
    let open = subject[..close].rfind('[')?;
    Some((
        &subject[..open],
        &subject[open + 1..close],
        &subject[close + 1..],
    ))
}

/// `[x,y]` where both ends match `[\d.:\-\s]+`: the two ends in ascending order, compared like
/// PHP's `sort()` (numerically when both are numeric strings, else byte-wise).
fn between_ends(inner: &str) -> Option<(&str, &str)> {
    let (a, b) = inner.split_once(',')?;
    let allowed = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|c| {
                c.is_ascii_digit()
                    || matches!(c, b'.' | b':' | b'-' | b' ' | b'\t' | 0x0b | 0x0c | b'\r')
            })
    };
    if !allowed(a) || !allowed(b) {
        return None;
    }
    let order = match (php_numeric(a), php_numeric(b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => x.cmp(&y),
        (Some(x), Some(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        _ => a.cmp(b),
    };
    Some(if order == Ordering::Greater {
        (b, a)
    } else {
        (a, b)
    })
}

/// A PHP 8 numeric string's value (`is_numeric`: optional surrounding whitespace, sign,
/// decimal digits with an optional fraction and exponent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(super) fn as_f64(self) -> f64 {
        match self {
            Num::Int(n) => n as f64,
            Num::Float(f) => f,
        }
    }

    /// PHP `(int)` of the numeric string (floats truncated, saturating like
    /// `zend_dval_to_lval_cap`).
    pub(super) fn to_int(self) -> i64 {
        match self {
            Num::Int(n) => n,
            Num::Float(f) => f as i64,
        }
    }
}

pub(super) fn php_numeric(s: &str) -> Option<Num> {
    let ws = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let t = s.trim_matches(ws);
    let b = t.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits_from(i);
    let mut digits = int_end - i;
    let mut float = false;
    i = int_end;
    if b.get(i) == Some(&b'.') {
        float = true;
        let frac_end = digits_from(i + 1);
        digits += frac_end - (i + 1);
        i = frac_end;
    }
    if digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_end = digits_from(j);
        if exp_end > j {
            float = true;
            i = exp_end;
        }
    }
    if i != b.len() {
        return None;
    }
    if !float {
        if let Ok(n) = t.parse::<i64>() {
            return Some(Num::Int(n));
        }
    }
    t.parse::<f64>().ok().map(Num::Float)
}

// --- display (setFieldsToDisplay, parseDisplayFields) ---

fn parse_display(
    res: &ResourceDef,
    params: &Params,
    default: Display,
) -> Result<Display, ApiError> {
    let Some(value) = params.get("display") else {
        return Ok(default);
    };
    let available = field_names(res);
    let Param::Str(value) = value else {
        return Err(ApiError::bad_display_syntax(&available));
    };
    match value.as_str() {
        "full" => return Ok(Display::Full),
        "minimum" => return Ok(Display::Minimum),
        _ => {}
    }
    let Some(inner) = bracket_group(value) else {
        return Err(ApiError::bad_display_syntax(&available));
    };
    let mut selection = FieldSelection {
        fields: vec![false; res.fields.len()],
        associations: Vec::new(),
    };
    for (name, sub_fields) in display_fields(inner) {
        match sub_fields {
            None => {
                if let Some(i) = res.field_index(&name) {
                    selection.fields[i] = true;
                } else if !price_key(params, &name) {
                    return Err(ApiError::bad_display_field(&name, &available));
                }
            }
            Some(subs) => {
                // The only sub-field of `customer_messages` is `id` (compared without trimming).
                let assoc = res.associations.iter().position(|a| a.name == name);
                match assoc {
                    Some(a) if subs.iter().all(|s| s == "id") => {
                        if !selection.associations.contains(&a) {
                            selection.associations.push(a);
                        }
                    }
                    _ => {
                        let detail = format!("{name} (details : {})", var_export_list(&subs));
                        return Err(ApiError::bad_display_field(&detail, &available));
                    }
                }
            }
        }
    }
    selection.associations.sort_unstable();
    Ok(Display::Fields(selection))
}

/// `isset($this->urlFragments['price'][$name])`: `setFieldsToDisplay` accepts any name given as
/// a key of `price[...]` (a product feature); it then renders nothing here.
fn price_key(params: &Params, name: &str) -> bool {
    matches!(params.get("price"), Some(Param::Map(m)) if m.iter().any(|(k, _)| k == name))
}

/// `preg_match('#^\[(.*)\]$#Ui')`: the text between a leading `[` and a trailing `]` (a final
/// newline after the `]` is allowed by `$`; any other newline fails, `.` does not match it).
fn bracket_group(value: &str) -> Option<&str> {
    let subject = value.strip_suffix('\n').unwrap_or(value);
    if subject.contains('\n') {
        return None;
    }
    subject.strip_prefix('[')?.strip_suffix(']')
}

/// `parseDisplayFields`: splits on commas outside brackets; each part's name is trimmed and
/// what follows its first `[` (minus the last byte, assumed to be `]`) is a comma list of
/// association sub-fields. A repeated name merges its sub-lists; names keep first-seen order.
/// A trailing empty part is dropped, an empty part in the middle is kept (and fails as `""`).
fn display_fields(inner: &str) -> Vec<(String, Option<Vec<String>>)> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut level = 0i64;
    for c in inner.chars() {
        if c == ',' && level == 0 {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
        match c {
            '[' => level += 1,
            ']' => level -= 1,
            _ => {}
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }

    let mut fields: Vec<(String, Option<Vec<String>>)> = Vec::new();
    for part in parts {
        let (name, subs) = match part.find('[') {
            None => (php_trim(&part), None),
            Some(pos) => {
                let after = &part.as_bytes()[pos + 1..];
                let sub = String::from_utf8_lossy(&after[..after.len().saturating_sub(1)]);
                let subs = sub.split(',').map(str::to_owned).collect::<Vec<_>>();
                (php_trim(&part[..pos]), Some(subs))
            }
        };
        match fields.iter_mut().find(|(n, _)| *n == name) {
            None => fields.push((name, subs)),
            Some((_, existing)) => {
                if let Some(new) = subs {
                    match existing {
                        Some(list) => list.extend(new),
                        None => *existing = Some(new),
                    }
                }
            }
        }
    }
    fields
}

/// PHP `trim` with its default characters.
fn php_trim(s: &str) -> String {
    s.trim_matches([' ', '\t', '\n', '\r', '\0', '\x0b'])
        .to_owned()
}

/// `var_export($list, true)` of a list of strings, as error 35 prints it.
fn var_export_list(items: &[String]) -> String {
    let mut out = String::from("array (\n");
    for (i, item) in items.iter().enumerate() {
        let quoted = item
            .replace('\\', "\\\\")
            .replace('\'', "\\'")
            .replace('\0', "' . \"\\0\" . '");
        out.push_str(&format!("  {i} => '{quoted}',\n"));
    }
    out.push(')');
    out
}

// --- sort ---

fn parse_sort(res: &ResourceDef, params: &Params) -> Result<Vec<SortKey>, ApiError> {
    let Some(value) = params.get("sort") else {
        return Ok(Vec::new());
    };
    let Param::Str(value) = value else {
        return Err(ApiError::bad_sort_syntax());
    };
    let items: Vec<&str> = match bracket_group(value) {
        Some(inner) => inner.split(',').collect(),
        None => vec![value.as_str()],
    };
    let mut keys = Vec::with_capacity(items.len());
    for item in items {
        // Split at the last underscore: `date_add_DESC` is `date_add` + `DESC`.
        let Some((name, direction)) = item.rsplit_once('_') else {
            return Err(ApiError::bad_sort_syntax());
        };
        let direction = match direction.to_ascii_uppercase().as_str() {
            "ASC" => Direction::Asc,
            "DESC" => Direction::Desc,
            _ => return Err(ApiError::bad_sort_syntax()),
        };
        let Some(field) = res.field_index(name) else {
            return Err(ApiError::bad_sort_field(&field_names(res)));
        };
        keys.push(SortKey { field, direction });
    }
    Ok(keys)
}

// --- limit ---

fn parse_limit(params: &Params) -> Result<Option<Limit>, ApiError> {
    let Some(value) = params.get("limit") else {
        return Ok(None);
    };
    let Param::Str(value) = value else {
        return Err(ApiError::bad_limit());
    };
    let parts: Vec<&str> = value.split(',').collect();
    match parts[..] {
        [count] => Ok(Some(Limit {
            offset: 0,
            count: php::int_cast(count),
        })),
        [offset, count] => Ok(Some(Limit {
            offset: php::int_cast(offset),
            count: php::int_cast(count),
        })),
        _ => Err(ApiError::bad_limit()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorEntry;
    use crate::resource::customer_messages::CUSTOMER_MESSAGES;
    use crate::resource::customer_threads::CUSTOMER_THREADS;

    const THREAD_FIELDS: &str = "id, id_lang, id_shop, id_customer, id_order, id_product, id_contact, email, token, status, date_add, date_upd";
    const MESSAGE_FIELDS: &str = "id, id_employee, id_customer_thread, ip_address, message, file_name, user_agent, private, date_add, date_upd, read";

    fn threads(query: &str) -> Result<CollectionRequest, ApiError> {
        parse_collection(&CUSTOMER_THREADS, &Params::parse(query))
    }

    fn list(query: &str) -> ListQuery {
        match threads(query) {
            Ok(CollectionRequest::List(l)) => l,
            other => panic!("{query}: {other:?}"),
        }
    }

    /// Status and `(code, message)` pairs of a failing request.
    fn error(result: Result<impl std::fmt::Debug, ApiError>) -> (u16, Vec<(u32, String)>) {
        let e = result.expect_err("an error");
        let entries = e
            .errors
            .iter()
            .map(|ErrorEntry { code, message }| (*code, message.clone()))
            .collect();
        (e.status, entries)
    }

    fn one(status: u16, code: u32, message: &str) -> (u16, Vec<(u32, String)>) {
        (status, vec![(code, message.to_owned())])
    }

    /// The condition of `filter[email]=<value>` (the value given decoded).
    fn cond(value: &str) -> Result<Condition, ApiError> {
        let params = Params {
            entries: vec![(
                "filter".to_owned(),
                Param::Map(vec![("email".to_owned(), Param::Str(value.to_owned()))]),
            )],
        };
        match parse_collection(&CUSTOMER_THREADS, &params)? {
            CollectionRequest::List(l) => {
                assert_eq!(l.filters.len(), 1);
                assert_eq!(l.filters[0].field, 7);
                Ok(l.filters[0].condition.clone())
            }
            other => panic!("{other:?}"),
        }
    }

    fn strs(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn malformed(field: &str) -> (u16, Vec<(u32, String)>) {
        one(400, 33, &format!("The filter \"{field}\" is malformed."))
    }

    fn selected(res: &ResourceDef, names: &[&str], associations: Vec<usize>) -> Display {
        let fields = res.fields.iter().map(|f| names.contains(&f.name)).collect();
        Display::Fields(FieldSelection {
            fields,
            associations,
        })
    }

    // --- defaults and schema ---

    #[test]
    fn no_parameters_give_a_minimum_unfiltered_unsorted_list() {
        assert_eq!(
            list("ws_key=x&output_format=JSON"),
            ListQuery {
                display: Display::Minimum,
                filters: vec![],
                sort: vec![],
                limit: None,
            }
        );
    }

    #[test]
    fn schema_blank_and_synopsis_short_circuit_everything_else() {
        assert_eq!(
            threads("schema=blank&filter[nope]=1&display=bad&sort=x&limit=1,2,3"),
            Ok(CollectionRequest::Schema(SchemaKind::Blank))
        );
        assert_eq!(
            threads("schema=synopsis"),
            Ok(CollectionRequest::Schema(SchemaKind::Synopsis))
        );
    }

    #[test]
    fn other_schema_values_return_code_28() {
        let expected = one(400, 28, "Please select a schema of type 'synopsis' to get the whole schema informations (which fields are required, which kind of content...) or 'blank' to get an empty schema to fill before using POST request");
        assert_eq!(error(threads("schema=full")), expected);
        assert_eq!(error(threads("schema=")), expected);
        assert_eq!(error(threads("schema=Blank")), expected);
        assert_eq!(error(threads("schema[]=blank")), expected);
    }

    // --- filter value grammar (docs/prestashop/lists.md#filter-values table) ---

    #[test]
    fn a_value_without_brackets_is_a_literal_equality() {
        assert_eq!(cond("5"), Ok(Condition::Eq("5".into())));
        assert_eq!(cond("%a%"), Ok(Condition::Eq("%a%".into())));
        assert_eq!(cond("[5"), Ok(Condition::Eq("[5".into())));
        assert_eq!(cond("5]"), Ok(Condition::Eq("5]".into())));
        assert_eq!(cond("]5["), Ok(Condition::Eq("]5[".into())));
    }

    #[test]
    fn a_bracketed_value_is_an_equality() {
        assert_eq!(cond("[5]"), Ok(Condition::Eq("5".into())));
        assert_eq!(cond("[]"), Ok(Condition::Eq("".into())));
    }

    #[test]
    fn pipes_in_brackets_are_an_or_list() {
        assert_eq!(
            cond("[a|b|c]"),
            Ok(Condition::AnyOf(strs(&["a", "b", "c"])))
        );
        assert_eq!(cond("[a|]"), Ok(Condition::AnyOf(strs(&["a", ""]))));
    }

    #[test]
    fn a_pipe_at_position_zero_is_a_literal() {
        assert_eq!(cond("[|5]"), Ok(Condition::Eq("|5".into())));
        assert_eq!(cond("[|a|b]"), Ok(Condition::Eq("|a|b".into())));
    }

    #[test]
    fn two_numeric_ends_are_a_between_sorted_numerically() {
        assert_eq!(
            cond("[1,10]"),
            Ok(Condition::Between("1".into(), "10".into()))
        );
        assert_eq!(
            cond("[10,9]"),
            Ok(Condition::Between("9".into(), "10".into()))
        );
        assert_eq!(
            cond("[-5,1.5]"),
            Ok(Condition::Between("-5".into(), "1.5".into()))
        );
        assert_eq!(
            cond("[ 7 ,3]"),
            Ok(Condition::Between("3".into(), " 7 ".into()))
        );
    }

    #[test]
    fn date_ends_are_a_between_sorted_as_strings() {
        assert_eq!(
            cond("[2024-01-01 10:00:00,2023-12-31]"),
            Ok(Condition::Between(
                "2023-12-31".into(),
                "2024-01-01 10:00:00".into()
            ))
        );
        // "9" and "10:00" are not both numeric: byte order puts "10:00" first.
        assert_eq!(
            cond("[9,10:00]"),
            Ok(Condition::Between("10:00".into(), "9".into()))
        );
    }

    #[test]
    fn a_comma_with_other_characters_is_a_literal() {
        assert_eq!(cond("[a,b]"), Ok(Condition::Eq("a,b".into())));
        assert_eq!(cond("[1,2,3]"), Ok(Condition::Eq("1,2,3".into())));
        assert_eq!(cond("[1,]"), Ok(Condition::Eq("1,".into())));
    }

    #[test]
    fn a_percent_prefix_or_suffix_is_a_like_of_the_whole_text() {
        assert_eq!(cond("[Jo]%"), Ok(Condition::Like("Jo%".into())));
        assert_eq!(cond("%[hn]"), Ok(Condition::Like("%hn".into())));
        assert_eq!(cond("%[oh]%"), Ok(Condition::Like("%oh%".into())));
        assert_eq!(cond("x[a]%"), Ok(Condition::Like("xa%".into())));
        assert_eq!(cond("%[a_b%]"), Ok(Condition::Like("%a_b%".into())));
        assert_eq!(cond(">[5]%"), Ok(Condition::Like(">5%".into())));
    }

    #[test]
    fn comparison_prefixes_give_comparisons() {
        assert_eq!(cond(">[5]"), Ok(Condition::Gt("5".into())));
        assert_eq!(cond("<[5]"), Ok(Condition::Lt("5".into())));
        assert_eq!(cond(">=[5]"), Ok(Condition::Ge("5".into())));
        assert_eq!(
            cond("<=[2024-01-01]"),
            Ok(Condition::Le("2024-01-01".into()))
        );
    }

    #[test]
    fn a_comparison_ignores_the_suffix_like_prestashop() {
        assert_eq!(cond(">[5]x"), Ok(Condition::Gt("5".into())));
        assert_eq!(cond("![5]x"), Ok(Condition::NoneOf(strs(&["5"]))));
    }

    #[test]
    fn an_exclamation_prefix_excludes_every_listed_value() {
        assert_eq!(cond("![5]"), Ok(Condition::NoneOf(strs(&["5"]))));
        assert_eq!(cond("![a|b]"), Ok(Condition::NoneOf(strs(&["a", "b"]))));
    }

    #[test]
    fn other_bracket_forms_return_code_33() {
        // `[[5]]` is prefix `[`, inner `5]` (greedy groups), so not an equality.
        for value in [
            "[a]x", "[a][b]", "x[a]", "=[5]", "<>[5]", "!=[5]", "=>[5]", "[a] ", "[[5]]",
        ] {
            assert_eq!(error(cond(value)), malformed("email"), "{value}");
        }
    }

    #[test]
    fn filter_values_have_html_tags_stripped() {
        assert_eq!(cond("<b>x</b>"), Ok(Condition::Eq("x".into())));
        assert_eq!(cond("[<i>a</i>]"), Ok(Condition::Eq("a".into())));
        assert_eq!(
            cond("[<i>a</i>|b]"),
            Ok(Condition::AnyOf(strs(&["a", "b"])))
        );
        assert_eq!(cond("%[<b>x</b>]"), Ok(Condition::Like("%x".into())));
        assert_eq!(cond(">[<b>5</b>]"), Ok(Condition::Gt("5".into())));
        assert_eq!(cond("a < b"), Ok(Condition::Eq("a < b".into())));
    }

    #[test]
    fn tags_are_stripped_after_the_brackets_are_read() {
        // The raw value's last `[...]` decides the shape, even inside a tag.
        assert_eq!(error(cond("<a[x]>")), malformed("email"));
        assert_eq!(cond("[<a]>]"), Ok(Condition::Eq("".into())));
    }

    #[test]
    fn a_newline_hides_brackets_unless_it_ends_the_value() {
        assert_eq!(cond("[5]\n"), Ok(Condition::Eq("5".into())));
        assert_eq!(cond("a\n[5]"), Ok(Condition::Eq("a\n[5]".into())));
    }

    // --- filter errors ---

    #[test]
    fn filter_on_unknown_field_returns_code_32_listing_every_field() {
        let list = "\"id\", \"id_lang\", \"id_shop\", \"id_customer\", \"id_order\", \"id_product\", \"id_contact\", \"email\", \"token\", \"status\", \"date_add\", \"date_upd\"";
        assert_eq!(
            error(threads("filter[mail]=x")),
            one(
                400,
                32,
                &format!(
                    "This filter does not exist. Did you mean: \"email\"? The full list is: {list}"
                )
            )
        );
        assert_eq!(
            error(threads("filter[customer_messages]=1")),
            one(
                400,
                32,
                &format!("This filter does not exist. Did you mean: \"id_customer\"? The full list is: {list}")
            )
        );
    }

    #[test]
    fn filter_on_dates_is_accepted_without_date_1() {
        let l = list("filter[date_add]=[2024-01-01,2023-01-01]&filter[date_upd]=>[2024]");
        assert_eq!(
            l.filters,
            vec![
                Filter {
                    field: 10,
                    condition: Condition::Between("2023-01-01".into(), "2024-01-01".into())
                },
                Filter {
                    field: 11,
                    condition: Condition::Gt("2024".into())
                },
            ]
        );
    }

    #[test]
    fn filter_on_unknown_field_with_an_array_returns_code_31() {
        let expected = one(
            400,
            31,
            "There is no existing linked table for this resource",
        );
        assert_eq!(error(threads("filter[x][y]=1")), expected);
        assert_eq!(error(threads("filter[customer_messages][id]=1")), expected);
    }

    #[test]
    fn filter_on_known_field_with_empty_value_returns_code_33() {
        assert_eq!(error(threads("filter[email]=")), malformed("email"));
        assert_eq!(error(threads("filter[id]")), malformed("id"));
    }

    #[test]
    fn filter_on_known_field_with_an_array_returns_code_33() {
        assert_eq!(error(threads("filter[email][x]=1")), malformed("email"));
        assert_eq!(error(threads("filter[id][]=1")), malformed("id"));
    }

    #[test]
    fn filter_sort_and_filter_limit_are_ignored() {
        let l = list("filter[sort]=x&filter[limit][a]=1&filter[id]=[3]");
        assert_eq!(
            l.filters,
            vec![Filter {
                field: 0,
                condition: Condition::Eq("3".into())
            }]
        );
    }

    #[test]
    fn a_scalar_filter_parameter_is_ignored() {
        assert_eq!(list("filter=abc").filters, vec![]);
    }

    #[test]
    fn filters_keep_their_order_and_the_first_bad_one_decides() {
        let l = list("filter[status]=open&filter[id_lang]=[1|2]");
        assert_eq!(
            l.filters,
            vec![
                Filter {
                    field: 9,
                    condition: Condition::Eq("open".into())
                },
                Filter {
                    field: 1,
                    condition: Condition::AnyOf(strs(&["1", "2"]))
                },
            ]
        );
        assert_eq!(
            error(threads("filter[email]=&filter[x][y]=1")),
            malformed("email")
        );
    }

    #[test]
    fn filter_errors_come_before_display_sort_and_limit_errors() {
        assert_eq!(
            error(threads("display=bad&sort=bad&limit=1,2,3&filter[id]=")),
            malformed("id")
        );
    }

    // --- display ---

    #[test]
    fn display_full_and_minimum_are_kept() {
        assert_eq!(list("display=full").display, Display::Full);
        assert_eq!(list("display=minimum").display, Display::Minimum);
    }

    #[test]
    fn display_brackets_select_fields_in_resource_order() {
        assert_eq!(
            list("display=[email,id]").display,
            selected(&CUSTOMER_THREADS, &["id", "email"], vec![])
        );
        assert_eq!(
            list("display=[ id , date_upd ,]").display,
            selected(&CUSTOMER_THREADS, &["id", "date_upd"], vec![])
        );
        assert_eq!(
            list("display=[]").display,
            selected(&CUSTOMER_THREADS, &[], vec![])
        );
    }

    #[test]
    fn display_association_sub_list_selects_the_association() {
        assert_eq!(
            list("display=[id,customer_messages[id]]").display,
            selected(&CUSTOMER_THREADS, &["id"], vec![0])
        );
        assert_eq!(
            list("display=[customer_messages[id,id],customer_messages]").display,
            selected(&CUSTOMER_THREADS, &[], vec![0])
        );
    }

    #[test]
    fn display_unknown_field_returns_code_35_with_the_available_list() {
        let expected = one(
            400,
            35,
            &format!("Unable to display this field \"foo\". However, these are available: {THREAD_FIELDS}"),
        );
        assert_eq!(error(threads("display=[id,foo]")), expected);
        assert_eq!(
            error(threads("display=[id,,email]")),
            one(
                400,
                35,
                &format!("Unable to display this field \"\". However, these are available: {THREAD_FIELDS}"),
            )
        );
        assert_eq!(
            error(threads("display=[customer_messages]")),
            one(
                400,
                35,
                &format!("Unable to display this field \"customer_messages\". However, these are available: {THREAD_FIELDS}"),
            )
        );
    }

    #[test]
    fn display_bad_association_sub_field_returns_code_35_with_var_export_details() {
        assert_eq!(
            error(threads("display=[id,customer_messages[foo]]")),
            one(
                400,
                35,
                &format!("Unable to display this field \"customer_messages (details : array (\n  0 => 'foo',\n))\". However, these are available: {THREAD_FIELDS}"),
            )
        );
        assert_eq!(
            error(threads("display=[customer_messages[id, it's]]")),
            one(
                400,
                35,
                &format!("Unable to display this field \"customer_messages (details : array (\n  0 => 'id',\n  1 => ' it\\'s',\n))\". However, these are available: {THREAD_FIELDS}"),
            )
        );
        assert_eq!(
            error(threads("display=[email[id]]")),
            one(
                400,
                35,
                &format!("Unable to display this field \"email (details : array (\n  0 => 'id',\n))\". However, these are available: {THREAD_FIELDS}"),
            )
        );
    }

    #[test]
    fn display_association_on_messages_returns_code_35() {
        assert_eq!(
            error(parse_collection(
                &CUSTOMER_MESSAGES,
                &Params::parse("display=[id,customer_messages[id]]")
            )),
            one(
                400,
                35,
                &format!("Unable to display this field \"customer_messages (details : array (\n  0 => 'id',\n))\". However, these are available: {MESSAGE_FIELDS}"),
            )
        );
    }

    #[test]
    fn display_without_brackets_returns_code_36() {
        let expected = one(
            400,
            36,
            &format!("The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'. These are available: {THREAD_FIELDS}"),
        );
        for query in [
            "display=id",
            "display=",
            "display=FULL",
            "display=[id",
            "display[]=id",
        ] {
            assert_eq!(error(threads(query)), expected, "{query}");
        }
    }

    #[test]
    fn display_accepts_names_given_as_price_keys() {
        assert_eq!(
            list("display=[id,my_price]&price[my_price][use_tax]=0").display,
            selected(&CUSTOMER_THREADS, &["id"], vec![])
        );
    }

    #[test]
    fn display_errors_come_before_sort_errors() {
        assert_eq!(error(threads("sort=bad&display=x")).1[0].0, 36);
    }

    #[test]
    fn single_display_defaults_to_full() {
        let p = |q: &str| parse_single_display(&CUSTOMER_THREADS, &Params::parse(q));
        assert_eq!(p(""), Ok(Display::Full));
        assert_eq!(p("display=minimum"), Ok(Display::Minimum));
        assert_eq!(
            p("display=[id]"),
            Ok(selected(&CUSTOMER_THREADS, &["id"], vec![]))
        );
        assert_eq!(error(p("display=id")).1[0].0, 36);
        assert_eq!(
            error(parse_single_display(
                &CUSTOMER_MESSAGES,
                &Params::parse("display=[nope]")
            )),
            one(
                400,
                35,
                &format!("Unable to display this field \"nope\". However, these are available: {MESSAGE_FIELDS}"),
            )
        );
    }

    // --- sort ---

    #[test]
    fn sort_reads_one_key_or_a_bracketed_list() {
        assert_eq!(
            list("sort=id_DESC").sort,
            vec![SortKey {
                field: 0,
                direction: Direction::Desc
            }]
        );
        assert_eq!(
            list("sort=[date_add_desc,id_Asc]").sort,
            vec![
                SortKey {
                    field: 10,
                    direction: Direction::Desc
                },
                SortKey {
                    field: 0,
                    direction: Direction::Asc
                },
            ]
        );
    }

    #[test]
    fn sort_without_a_valid_direction_returns_code_37() {
        let expected = one(400, 37, "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)");
        for query in [
            "sort=[id_lang]",
            "sort=[id]",
            "sort=id",
            "sort=",
            "sort=[]",
            "sort=[id_ASC,]",
            "sort=id_ASC ",
            "sort[]=id_ASC",
        ] {
            assert_eq!(error(threads(query)), expected, "{query}");
        }
    }

    #[test]
    fn sort_on_unknown_field_returns_code_38_listing_dates() {
        assert_eq!(
            error(threads("sort=[id_ASC,foo_DESC]")),
            one(
                400,
                38,
                &format!("Unable to filter by this field. However, these are available: {THREAD_FIELDS}, for i18n fields:"),
            )
        );
        assert_eq!(
            error(parse_collection(
                &CUSTOMER_MESSAGES,
                &Params::parse("sort=[id_ASC, id_DESC]")
            )),
            one(
                400,
                38,
                &format!("Unable to filter by this field. However, these are available: {MESSAGE_FIELDS}, for i18n fields:"),
            )
        );
    }

    #[test]
    fn sort_errors_come_before_limit_errors() {
        assert_eq!(error(threads("limit=1,2,3&sort=id")).1[0].0, 37);
    }

    // --- limit ---

    #[test]
    fn limit_reads_a_count_or_an_offset_and_a_count() {
        assert_eq!(
            list("limit=10").limit,
            Some(Limit {
                offset: 0,
                count: 10
            })
        );
        assert_eq!(
            list("limit=5,25").limit,
            Some(Limit {
                offset: 5,
                count: 25
            })
        );
    }

    #[test]
    fn limit_parts_are_cast_like_php_int() {
        assert_eq!(
            list("limit=abc").limit,
            Some(Limit {
                offset: 0,
                count: 0
            })
        );
        assert_eq!(
            list("limit=").limit,
            Some(Limit {
                offset: 0,
                count: 0
            })
        );
        assert_eq!(
            list("limit=%2B2x,%2B-1").limit,
            Some(Limit {
                offset: 2,
                count: 0
            })
        );
        assert_eq!(
            list("limit=-1").limit,
            Some(Limit {
                offset: 0,
                count: -1
            })
        );
        assert_eq!(
            list("limit=%203, 4").limit,
            Some(Limit {
                offset: 3,
                count: 4
            })
        );
    }

    #[test]
    fn limit_with_more_than_one_comma_returns_code_39() {
        let expected = one(
            400,
            39,
            "The \"limit\" value has to be formed as this example: \"5,25\" or \"10\"",
        );
        assert_eq!(error(threads("limit=1,2,3")), expected);
        assert_eq!(error(threads("limit=,,")), expected);
        assert_eq!(error(threads("limit[]=1")), expected);
    }

    #[test]
    fn a_full_query_combines_every_stage() {
        assert_eq!(
            list("filter[id_customer]=[1,5]&display=[id,status]&sort=[status_ASC,id_DESC]&limit=0,10"),
            ListQuery {
                display: selected(&CUSTOMER_THREADS, &["id", "status"], vec![]),
                filters: vec![Filter {
                    field: 3,
                    condition: Condition::Between("1".into(), "5".into())
                }],
                sort: vec![
                    SortKey {
                        field: 9,
                        direction: Direction::Asc
                    },
                    SortKey {
                        field: 0,
                        direction: Direction::Desc
                    },
                ],
                limit: Some(Limit {
                    offset: 0,
                    count: 10
                }),
            }
        );
    }

    // --- PHP numeric strings ---

    #[test]
    fn php_numeric_accepts_what_is_numeric_accepts() {
        assert_eq!(php_numeric("5"), Some(Num::Int(5)));
        assert_eq!(php_numeric(" -5 "), Some(Num::Int(-5)));
        assert_eq!(php_numeric("+5"), Some(Num::Int(5)));
        assert_eq!(php_numeric("1.5"), Some(Num::Float(1.5)));
        assert_eq!(php_numeric(".5"), Some(Num::Float(0.5)));
        assert_eq!(php_numeric("1."), Some(Num::Float(1.0)));
        assert_eq!(php_numeric("1e2"), Some(Num::Float(100.0)));
        for bad in [
            "",
            " ",
            ".",
            "-",
            "1e",
            "0x1A",
            "1 2",
            "2024-01-01",
            "abc",
            "5a",
        ] {
            assert_eq!(php_numeric(bad), None, "{bad:?}");
        }
    }
}

//! How a sent value is stored: PrestaShop's `ObjectModel::formatValue` plus what MySQL does
//! with it in PrestaShop's non-strict session (docs/prestashop/writes.md#statuses-tokens-and-dates,
//! docs/prestashop/writes.md#how-values-are-stored, docs/compatibility.md W13, W14, W16). The
//! database then holds exactly the row PrestaShop would have written, and the response (W12) is
//! that row read back.

use super::{FieldDef, FieldType, ResourceDef};
use crate::php;

/// A value ready to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredValue {
    Int(i64),
    Text(String),
}

/// Characters a string column holds (its `varchar(N)`); PrestaShop's non-strict session lets
/// MySQL cut longer values, so threadgate cuts them the same way before writing.
fn column_chars(res: &ResourceDef, field: &FieldDef) -> Option<usize> {
    match (res.table, field.name) {
        ("customer_thread", "email") => Some(255),
        ("customer_thread", "token") => Some(12),
        ("customer_message", "file_name") => Some(18),
        ("customer_message", "ip_address") => Some(16),
        ("customer_message", "user_agent") => Some(128),
        _ => None,
    }
}

/// Range of an integer column: every id column is `unsigned`, except
/// `customer_message.id_customer_thread`, which PrestaShop declares `int(11)` signed.
fn int_range(res: &ResourceDef, field: &FieldDef) -> (i64, i64) {
    match (res.table, field.name, field.kind) {
        (_, _, FieldType::Bool) => (-128, 127),
        ("customer_message", "id_customer_thread", _) => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (0, i64::from(u32::MAX)),
    }
}

/// The statuses of the `status` ENUM; anything else is refused before storing (W13).
pub const STATUSES: [&str; 4] = ["open", "closed", "pending1", "pending2"];

/// The stored form of a sent (or, with `None`, omitted) value of a non-date field.
/// Omitted optional fields are stored as PrestaShop does: 0 for numbers, `''` for strings and
/// for the status ENUM, never NULL (docs/prestashop/writes.md#how-values-are-stored,
/// docs/prestashop/writes.md#defaults).
pub fn stored(res: &ResourceDef, field: &FieldDef, sent: Option<&str>) -> StoredValue {
    let raw = sent.unwrap_or("");
    match field.kind {
        FieldType::Int | FieldType::Bool | FieldType::Id => {
            let (lo, hi) = int_range(res, field);
            StoredValue::Int(php::int_cast(raw).clamp(lo, hi))
        }
        FieldType::Html => StoredValue::Text(sanitize_html(raw)),
        FieldType::Date => StoredValue::Text(if raw.is_empty() {
            "0000-00-00".into()
        } else {
            raw.to_owned()
        }),
        FieldType::String => {
            let text = php::strip_tags(raw);
            StoredValue::Text(match column_chars(res, field) {
                Some(n) => text.chars().take(n).collect(),
                None => text,
            })
        }
    }
}

/// `message` HTML (docs/compatibility.md W16): after `isCleanHtml` accepted it, a well-kept
/// sanitizer (ammonia, its default allow-list of formatting tags, close to HTMLPurifier's) removes
/// what is not allowed and entity-encodes stray `<` and `&`, as PrestaShop's purifier does.
pub fn sanitize_html(raw: &str) -> String {
    ammonia::Builder::default()
        .link_rel(None)
        .clean(raw)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::customer_messages::CUSTOMER_MESSAGES as M;
    use crate::resource::customer_threads::CUSTOMER_THREADS as T;

    fn f(res: &'static ResourceDef, name: &str) -> &'static FieldDef {
        res.field(name).unwrap()
    }

    #[test]
    fn omitted_optional_fields_are_stored_as_zero_or_empty_never_null() {
        assert_eq!(stored(&T, f(&T, "id_order"), None), StoredValue::Int(0));
        assert_eq!(
            stored(&T, f(&T, "email"), None),
            StoredValue::Text(String::new())
        );
        assert_eq!(
            stored(&T, f(&T, "status"), None),
            StoredValue::Text(String::new())
        );
        assert_eq!(stored(&M, f(&M, "read"), None), StoredValue::Int(0));
    }

    #[test]
    fn numbers_are_cast_like_php_and_clamped_to_the_column() {
        assert_eq!(
            stored(&T, f(&T, "id_lang"), Some("5abc")),
            StoredValue::Int(5)
        );
        assert_eq!(
            stored(&T, f(&T, "id_lang"), Some("-3")),
            StoredValue::Int(0)
        );
        assert_eq!(
            stored(&M, f(&M, "id_customer_thread"), Some("-3")),
            StoredValue::Int(-3)
        );
        assert_eq!(
            stored(&T, f(&T, "id_shop"), Some("99999999999")),
            StoredValue::Int(4_294_967_295)
        );
    }

    #[test]
    fn strings_lose_their_tags_and_are_cut_to_the_column() {
        assert_eq!(
            stored(&T, f(&T, "email"), Some("<b>a@b.c</b>")),
            StoredValue::Text("a@b.c".into())
        );
        assert_eq!(
            stored(&T, f(&T, "token"), Some("aBcD1234eFgHXYZ")),
            StoredValue::Text("aBcD1234eFgH".into())
        );
        assert_eq!(
            stored(&T, f(&T, "token"), Some("' OR 1=1 --")),
            StoredValue::Text("' OR 1=1 --".into())
        );
    }

    #[test]
    fn message_html_keeps_formatting_and_drops_the_rest() {
        assert_eq!(
            sanitize_html("Hello <b>world</b>\nline2"),
            "Hello <b>world</b>\nline2"
        );
        assert_eq!(sanitize_html("a & b < c"), "a &amp; b &lt; c");
        assert_eq!(
            sanitize_html("<p style=\"x\">hi</p><img src=x onerror=alert(1)>"),
            "<p>hi</p><img src=\"x\">"
        );
    }
}

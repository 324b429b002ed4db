//! The checks PrestaShop runs on one entity of a write body, in its order
//! (docs/prestashop/writes.md#per-entity-processing steps 3-4):
//! `WebserviceRequest::saveEntityFromXml` (code 41 for an absent required element), then
//! `ObjectModel::validateFields` / `validateField` (code 85, first failure wins).

use super::html_entities::decoded_len;
use super::{by_name, php_empty};
use crate::error::ApiError;
use crate::resource::ResourceDef;

/// The `customer_thread.status` enum (docs/compatibility.md W13).
pub const STATUSES: [&str; 4] = ["open", "closed", "pending1", "pending2"];

/// The status a value is stored as, or `None` when it is not one of [`STATUSES`]. MySQL matches an
/// enum value through the column's `_ci` collation with trailing spaces ignored, so `Open` and
/// `open ` are PrestaShop successes stored as `open`; they stay accepted.
pub fn status_value(v: &str) -> Option<&'static str> {
    let v = v.trim_end_matches(' ');
    STATUSES.into_iter().find(|s| s.eq_ignore_ascii_case(v))
}

/// Checks one entity. `values` follows `res.fields` (index 0 is `id`): `None` is an absent element,
/// `Some("")` a present but empty one. `partial` is PATCH.
///
/// 1. Unless `partial`, the first required field that is absent, in resource field order:
///    400 code 41 `parameter "<name>" required`.
/// 2. Then, per field in `res.validation_order` (`$definition` order), the first failure of:
///    required and empty (`None` or `""`; `"0"` is present): `Property <Class>-&gt;<f> is empty.`;
///    `mb_strlen(html_entity_decode(v, ENT_COMPAT))` over `max_size`: `The length of property
///    <Class>-&gt;<f> is currently <n> chars. It must be between 0 and <max> chars.`; the
///    validator, only on values that are not PHP-`empty()` (`""`, `"0"`): `Property
///    <Class>-&gt;<f> is not valid`; for `CustomerThread->status` (no PrestaShop validator), a
///    non-empty value that is not a status (W13), with the same message.
///
/// PATCH: PrestaShop 8 loads the stored row, overwrites the sent fields and validates the whole
/// object, so a stored value nobody sent (an empty token, a `0000-00-00` date) can fail a PATCH.
/// Here a `None` is skipped when `partial`: only the sent fields are validated, which matches W15
/// (only the sent fields are written). A caller that wants PrestaShop's exact behaviour passes the
/// stored values merged with the sent ones.
pub fn check(res: &ResourceDef, values: &[Option<String>], partial: bool) -> Result<(), ApiError> {
    let value = |i: usize| values.get(i).and_then(Option::as_deref);
    if !partial {
        for (i, f) in res.fields.iter().enumerate() {
            if f.required && value(i).is_none() {
                return Err(ApiError::required_field(f.name));
            }
        }
    }
    let class = res.class_name;
    for &name in res.validation_order {
        let Some(i) = res.field_index(name) else {
            continue;
        };
        let f = &res.fields[i];
        let v = value(i);
        if partial && v.is_none() {
            continue;
        }
        if f.required && v.is_none_or(str::is_empty) {
            return Err(ApiError::validation(&format!(
                "Property {class}-&gt;{name} is empty."
            )));
        }
        let Some(v) = v else {
            continue;
        };
        if let Some(max) = f.max_size {
            let len = decoded_len(v);
            if len > max as usize {
                return Err(ApiError::validation(&format!(
                    "The length of property {class}-&gt;{name} is currently {len} chars. It must be between 0 and {max} chars."
                )));
            }
        }
        if php_empty(v) && !is_status(res, name) {
            continue;
        }
        let valid = match f.validator {
            Some(validator) => by_name(validator).is_none_or(|ok| ok(v)),
            None if is_status(res, name) => v.is_empty() || status_value(v).is_some(),
            None => true,
        };
        if !valid {
            return Err(ApiError::validation(&format!(
                "Property {class}-&gt;{name} is not valid"
            )));
        }
    }
    Ok(())
}

/// `CustomerThread->status`, the one field checked beyond PrestaShop (W13).
fn is_status(res: &ResourceDef, field: &str) -> bool {
    res.class_name == "CustomerThread" && field == "status"
}

#[cfg(test)]
mod tests;

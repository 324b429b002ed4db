//! PrestaShop's JSON documents (`WebserviceOutputJSON`, docs/prestashop/documents.md#json): PHP
//! arrays passed through `json_encode($content, JSON_UNESCAPED_UNICODE)` after an `array_filter` of
//! every top-level entry. Written member by member, in order, straight into the buffer.

use super::{association_ids, value, xml::push_uint, RootEntry, Selection};
use crate::error::ApiError;
use crate::query::{Display, SchemaKind};
use crate::resource::{Entity, FieldType, ResourceDef};

/// A single entity. Without a `display` parameter: `{"customer_thread":{...}}` minus its falsy
/// members (PrestaShop 8 `array_filter`s the top-level entry). With one: the list shape
/// `{"customer_threads":[{...}]}`, members kept (the entity is pushed into a list, and only the
/// list is filtered). `display=minimum` always takes the list shape: PrestaShop adds
/// `['id' => id]` to `$content[objectsNodeName]` in `renderNodeHeader`.
pub(super) fn single(
    out: &mut Vec<u8>,
    res: &ResourceDef,
    display: &Display,
    entity: &Entity,
    plural_json: bool,
) {
    if plural_json || *display == Display::Minimum {
        list_open(out, res);
        object(out, res, display, entity, false);
        out.extend_from_slice(b"]}");
    } else {
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(res.singular.as_bytes());
        out.extend_from_slice(b"\":");
        object(out, res, display, entity, true);
        out.push(b'}');
    }
}

/// `{"customer_threads":[`
pub(super) fn list_open(out: &mut Vec<u8>, res: &ResourceDef) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(res.name.as_bytes());
    out.extend_from_slice(b"\":[");
}

/// One entity object. `drop_falsy` removes members whose value is `null`, `""` or `"0"` (the
/// `id` stays). Top-level `id` is a number; other values are strings, `null` for NULL except
/// `id_*` fields, whose NULL becomes `""` as in XML. Associations with no items are left out,
/// and so is `associations` when none has any. A PHP array left without members encodes as `[]`.
pub(super) fn object(
    out: &mut Vec<u8>,
    res: &ResourceDef,
    display: &Display,
    entity: &Entity,
    drop_falsy: bool,
) {
    let Some(sel) = Selection::of(display) else {
        out.extend_from_slice(b"{\"id\":");
        id_number(out, entity.id());
        out.push(b'}');
        return;
    };
    let start = out.len();
    let mut empty = true;
    let mut sep = |out: &mut Vec<u8>| member(out, &mut empty);
    for (i, f) in res.fields.iter().enumerate() {
        if !sel.field(i) {
            continue;
        }
        let v = value(entity, i);
        if f.kind == FieldType::Id {
            sep(out);
            out.extend_from_slice(b"\"id\":");
            id_number(out, v.unwrap_or(""));
            continue;
        }
        let v = match v {
            None if f.name.starts_with("id_") => Some(""),
            v => v,
        };
        if drop_falsy && !super::truthy(v) {
            continue;
        }
        sep(out);
        out.push(b'"');
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(b"\":");
        match v {
            Some(v) => string(out, v),
            None => out.extend_from_slice(b"null"),
        }
    }
    if sel.has_associations(res) {
        associations(out, res, &sel, entity, &mut empty);
    }
    if empty {
        out.truncate(start);
        out.extend_from_slice(b"[]");
    } else {
        out.push(b'}');
    }
}

/// Opens the object before its first member, else separates members.
fn member(out: &mut Vec<u8>, empty: &mut bool) {
    out.push(if *empty { b'{' } else { b',' });
    *empty = false;
}

/// `"associations":{"name":[{"id":"1"},...],...}` of the selected associations that have items.
fn associations(
    out: &mut Vec<u8>,
    res: &ResourceDef,
    sel: &Selection<'_>,
    entity: &Entity,
    empty: &mut bool,
) {
    let mut opened = false;
    for (j, a) in res.associations.iter().enumerate() {
        let ids = association_ids(entity, j);
        if !sel.association(j) || ids.is_empty() {
            continue;
        }
        if opened {
            out.push(b',');
        } else {
            member(out, empty);
            out.extend_from_slice(b"\"associations\":{");
            opened = true;
        }
        out.push(b'"');
        out.extend_from_slice(a.name.as_bytes());
        out.extend_from_slice(b"\":[");
        for (k, id) in ids.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"id\":");
            string(out, id);
            out.push(b'}');
        }
        out.push(b']');
    }
    if opened {
        out.push(b'}');
    }
}

/// Schemas (docs/prestashop/schemas.md#json): every field is empty, so PrestaShop 8's filter leaves
/// only the associations (one item with a null id), or an empty PHP array, `[]`, when there are
/// none.
pub(super) fn schema(out: &mut Vec<u8>, res: &ResourceDef, kind: SchemaKind, plural: bool) {
    if plural {
        return plural_schema(out, res, kind);
    }
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(res.singular.as_bytes());
    out.extend_from_slice(b"\":");
    if res.associations.is_empty() {
        out.extend_from_slice(b"[]");
    } else {
        out.extend_from_slice(b"{\"associations\":{");
        schema_associations(out, res);
        out.extend_from_slice(b"}}");
    }
    out.push(b'}');
}

/// `"customer_messages":[{"id":null}]` for each association.
fn schema_associations(out: &mut Vec<u8>, res: &ResourceDef) {
    for (j, a) in res.associations.iter().enumerate() {
        if j > 0 {
            out.push(b',');
        }
        out.push(b'"');
        out.extend_from_slice(a.name.as_bytes());
        out.extend_from_slice(b"\":[{\"id\":null}]");
    }
}

/// A schema asked for with a `display` parameter: `renderNodeFooter` then appends the entity
/// to the plural list (`array_key_exists('display', $_GET)`), where 8.x's falsy filter keeps
/// its members: every field `""` (`id` only in the blank schema), association items
/// `{"id":null}`. The ws-client's `getBlank()` reads exactly this (`customer_threads[0]`).
fn plural_schema(out: &mut Vec<u8>, res: &ResourceDef, kind: SchemaKind) {
    out.extend_from_slice(b"{\"");
    out.extend_from_slice(res.name.as_bytes());
    out.extend_from_slice(b"\":[{");
    let mut first = true;
    for f in res.fields {
        if f.name == "id" && kind == SchemaKind::Synopsis {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        out.push(b'"');
        out.extend_from_slice(f.name.as_bytes());
        out.extend_from_slice(b"\":\"\"");
    }
    if !res.associations.is_empty() {
        if !first {
            out.push(b',');
        }
        out.extend_from_slice(b"\"associations\":{");
        schema_associations(out, res);
        out.push(b'}');
    }
    out.extend_from_slice(b"}]}");
}

/// `{"errors":[{"code":32,"message":"..."}]}`, `code` a number
/// (docs/prestashop/errors.md#document).
pub(super) fn errors(out: &mut Vec<u8>, error: &ApiError) {
    out.extend_from_slice(b"{\"errors\":[");
    for (i, e) in error.errors.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"code\":");
        push_uint(out, u64::from(e.code));
        out.extend_from_slice(b",\"message\":");
        string(out, &e.message);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
}

/// Root listing (docs/compatibility.md W4): PrestaShop 1.7's bare array of the permitted resource
/// names.
pub(super) fn root(out: &mut Vec<u8>, entries: &[&RootEntry<'_>]) {
    out.push(b'[');
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, e.resource.name);
    }
    out.push(b']');
}

/// A top-level id as a JSON number (PrestaShop's loaded object has an int id). Leading zeros
/// are dropped, as `(int)` would; a value that is not all digits is written as a string so the
/// document stays valid JSON.
fn id_number(out: &mut Vec<u8>, id: &str) {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        string(out, id);
        return;
    }
    let digits = id.trim_start_matches('0');
    out.extend_from_slice(if digits.is_empty() {
        b"0"
    } else {
        digits.as_bytes()
    });
}

/// A JSON string as PHP's `json_encode(..., JSON_UNESCAPED_UNICODE)` writes it: `"`, `\` and
/// `/` escaped with a backslash, `\b \f \n \r \t`, other C0 controls as `\u00xx` (lower-case
/// hex), U+2028 and U+2029 as `\u2028`/`\u2029` (PHP escapes them unless
/// JSON_UNESCAPED_LINE_TERMINATORS), everything else raw UTF-8.
pub(super) fn string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let escaped: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'/' => b"\\/",
            0x08 => b"\\b",
            0x0C => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1F => &[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xF)],
            ],
            // U+2028 / U+2029 are E2 80 A8 / E2 80 A9.
            0xE2 if b.get(i + 1) == Some(&0x80) && matches!(b.get(i + 2), Some(0xA8 | 0xA9)) => {
                if b[i + 2] == 0xA8 {
                    b"\\u2028"
                } else {
                    b"\\u2029"
                }
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&b[run..i]);
        out.extend_from_slice(escaped);
        i += if c == 0xE2 { 3 } else { 1 };
        run = i;
    }
    out.extend_from_slice(&b[run..]);
    out.push(b'"');
}

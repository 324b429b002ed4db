//! Request bodies of POST, PUT and PATCH: raw bytes -> one [`EntityInput`] per entity.
//!
//! Owns everything between the body bytes and "this entity sent these field values": the
//! optional `xml=` prefix, the size limit the HTTP layer applies before buffering, the checks
//! PrestaShop leaves to libxml2 (NUL, UTF-8, well-formedness) and the ones it does not make (a
//! DTD is refused, never expanded; no entity but the five predefined ones and character
//! references). The XML is read with quick-xml's pull reader; nothing is fetched, nothing is
//! expanded. It imports only [`crate::resource`] and [`crate::error`]: never actix, never a
//! connection. What the values mean (required fields, validators, ids, associations) is the
//! caller's business.
//!
//! PrestaShop reads the body with `new SimpleXMLElement($this->_inputXml)` in
//! `WebserviceRequest::saveEntityFromXml` (docs/prestashop/writes.md#body), and this module mirrors
//! how SimpleXML shows the document to that code (php-src `ext/simplexml/simplexml.c`):
//! - `$xml->children()` without a namespace lists the child *elements* of the root whose
//!   namespace has no prefix (`match_ns`): every such child is one entity, whatever its name;
//!   text, comments and processing instructions are not children. An element whose prefix is
//!   bound by an `xmlns:p` declaration is invisible at every level; an undeclared prefix is
//!   only a namespace warning in libxml2, so such an element stays visible under its full name.
//! - `(string) $entity->field` is the **first** `<field>` child (`php_sxe_get_first_node`),
//!   so a repeated field keeps its first value ([`EntityInput::value`]).
//! - The string cast is `xmlNodeListGetString(doc, node->children, 1)`: the element's own text
//!   and CDATA children, concatenated, not trimmed; text inside nested elements is **not**
//!   included (`<id_lang><x>9</x>1</id_lang>` is `"1"`).
//! - libxml2 normalises line ends (`\r\n` and `\r` become `\n`, XML 1.0 §2.11) in text and
//!   CDATA alike; a `&#13;` reference stays a carriage return.
//! - libxml2 refuses documents nested deeper than 256 elements (without `XML_PARSE_HUGE`);
//!   so does [`parse`].
//!
//! JSON bodies (threadgate's extension) are read by [`parse_json`] into the same entities.
//! [`bounds`] holds the time and memory bounds of receiving a body (`http::body` reads within
//! them).

pub mod bounds;
mod json;
mod parse;
#[cfg(test)]
mod tests;

use crate::error::ApiError;
use crate::resource::ResourceDef;

pub use json::{is_json, parse as parse_json};
pub use parse::{MAX_DEPTH, MAX_ELEMENTS};

/// Default request body limit in bytes (20 MiB), a setting of the HTTP layer.
///
/// The longest valid value is a `message` of 4 194 303 characters (docs/prestashop/resources.md).
/// Measured in bytes it is up to 16 777 212 bytes of UTF-8 (4 bytes per character at worst), plus
/// the envelope and the other fields: 20 MiB lets a maximal message through in CDATA or plain
/// text, and leaves room for a message one character too long to reach validation (error 85)
/// instead of a size error. Bodies that spell every character as a reference (`&#128512;`)
/// can be longer; the setting raises the limit for them. For comparison, PrestaShop's
/// libxml2 refuses any single text node over 10 000 000 bytes (`XML_MAX_TEXT_LENGTH`).
pub const DEFAULT_BODY_LIMIT: usize = 20 * 1024 * 1024;

/// Refuses a body of `len` bytes (the `Content-Length`, or the bytes read so far) when it is
/// over `limit`: 413 code 127 ([`ApiError::body_too_large`]). Call it before buffering.
#[track_caller]
pub fn check_size(len: usize, limit: usize) -> Result<(), ApiError> {
    if len > limit {
        Err(ApiError::body_too_large(limit))
    } else {
        Ok(())
    }
}

/// One child of the root element: an entity to create or update.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityInput {
    /// The element's name (`customer_thread`; PrestaShop does not check it).
    pub element: String,
    /// Every visible child element but the first `<associations>`, in document order, with its
    /// text. Unknown names are kept (the caller ignores them, as PrestaShop does); a repeated
    /// name appears as many times as it was sent, and [`EntityInput::value`] takes the first.
    pub fields: Vec<(String, String)>,
    /// The names of the children of the entity's first `<associations>` element, in document
    /// order (`customer_messages`, `i18n`, ...). The caller decides which are allowed
    /// (docs/prestashop/writes.md#per-entity-processing step 6, docs/compatibility.md W22).
    pub associations: Vec<String>,
}

impl EntityInput {
    /// The text of the first `<name>` child, `None` when there is none (SimpleXML's
    /// `isset($entity->name)` and `(string) $entity->name`).
    pub fn value(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `<id>` text when it is non-empty: the entity "has an id"
    /// (docs/prestashop/writes.md#per-entity-processing step 1, `(string) $entity->id != ''`). Not
    /// trimmed: `" "` is an id.
    pub fn id(&self) -> Option<&str> {
        self.value("id").filter(|v| !v.is_empty())
    }

    /// The sent values in `res.fields` order; `None` for a field the body does not contain.
    pub fn values_for(&self, res: &ResourceDef) -> Vec<Option<String>> {
        res.fields
            .iter()
            .map(|f| self.value(f.name).map(str::to_owned))
            .collect()
    }
}

/// Parses a POST/PUT/PATCH body into its entities (docs/prestashop/writes.md#body).
///
/// A leading `xml=` is removed (no URL-decoding, as PrestaShop's dispatcher). Then, each
/// refused with 500 code 127 and the message `XML error : <reason>\nXML length : <bytes>\n
/// Original XML : <the first 1 024 bytes>` (length and echo of the body after `xml=`):
/// - a NUL byte, or bytes that are not UTF-8 (each with its own reason naming the offset);
/// - a document type declaration (reason `Document type declarations (<!DOCTYPE ...>) are not
///   accepted`): internal subsets, entity declarations, external entities and entity bombs are
///   never read, let alone expanded or fetched;
/// - more than [`MAX_ELEMENTS`] elements (its own reason);
/// - anything else libxml2 would not parse, an empty or whitespace-only body or one without a
///   root element included: SimpleXML's reason `String could not be parsed as XML`. Among
///   these: an entity reference other than `&lt;` `&gt;` `&amp;` `&apos;` `&quot;` and
///   character references, a character XML 1.0 does not allow, mismatched or unclosed tags,
///   text or a second element after the root, an XML declaration that is not first.
///
/// A UTF-8 byte order mark is skipped; an `encoding` named in the XML declaration is not
/// honoured (the body is read as UTF-8 whatever it says).
pub fn parse(body: &[u8]) -> Result<Vec<EntityInput>, ApiError> {
    let xml = body.strip_prefix(b"xml=").unwrap_or(body);
    let text = parse::check_bytes(xml).map_err(|f| f.into_error(xml))?;
    let doc = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    parse::entities(doc).map_err(|f| f.into_error(xml))
}

//! Response bodies: PrestaShop's XML (quick-xml) and JSON writers
//! (docs/prestashop/documents.md#root-listing, docs/prestashop/lists.md,
//! docs/prestashop/documents.md#single-resources, docs/prestashop/documents.md#xml,
//! docs/prestashop/documents.md#json, docs/prestashop/schemas.md, docs/prestashop/errors.md).
//!
//! Pure: writes bytes into a `Vec<u8>`; knows `resource` and the `query` output types, never
//! actix or a connection. Lists are written entity by entity through [`ListWriter`], so the
//! HTTP layer can stream a long list chunk by chunk.
//!
//! Both writers append straight to the caller's buffer: the fixed markup is written as byte
//! literals (PrestaShop's own writers concatenate strings with exact TABs and newlines, which no
//! generic XML writer reproduces), values go through [`xml::cdata`] / [`json::string`], which
//! borrow the value unchanged unless it needs escaping, splitting or repair.

mod json;
#[cfg(test)]
mod tests;
mod xml;

use crate::error::ApiError;
use crate::query::{Display, SchemaKind};
use crate::resource::{Entity, ResourceDef};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

/// One resource of the root listing with the key's six permissions in `Method::ALL` order.
pub struct RootEntry<'a> {
    pub resource: &'a ResourceDef,
    pub methods: [bool; 6],
}

/// `GET /api/`: the root listing (docs/prestashop/documents.md#root-listing; JSON per
/// docs/compatibility.md W4).
///
/// Only entries with at least one granted method are listed (PrestaShop lists the resources the
/// key has a permission row for), in byte order of their names (`ksort`).
pub fn root(
    out: &mut Vec<u8>,
    format: Format,
    shop_name: &str,
    ws_url: &str,
    entries: &[RootEntry<'_>],
) {
    let mut listed: Vec<&RootEntry<'_>> = entries
        .iter()
        .filter(|e| e.methods.contains(&true))
        .collect();
    listed.sort_by(|a, b| a.resource.name.as_bytes().cmp(b.resource.name.as_bytes()));
    match format {
        Format::Xml => xml::root(out, shop_name, ws_url, &listed),
        Format::Json => json::root(out, &listed),
    }
}

/// A single entity (`GET /api/customer_threads/1`). `plural_json` is true when the request had a
/// `display` parameter: JSON then uses the list shape and keeps falsy members
/// (docs/prestashop/documents.md#json).
pub fn single(
    out: &mut Vec<u8>,
    format: Format,
    res: &ResourceDef,
    display: &Display,
    entity: &Entity,
    ws_url: &str,
    plural_json: bool,
) {
    match format {
        Format::Xml => {
            out.extend_from_slice(xml::PROLOG);
            xml::entity(out, res, display, entity, ws_url);
            out.extend_from_slice(xml::EPILOG);
        }
        Format::Json => json::single(out, res, display, entity, plural_json),
    }
}

/// The entities a POST, PUT or PATCH wrote, as stored (docs/compatibility.md W12): in XML every
/// entity as a sibling under `<prestashop>`; in JSON the last one only
/// (docs/prestashop/writes.md#per-entity-processing step 7), unless the request had a `display`
/// parameter: then `renderNodeFooter` appends every entity to the plural list, members kept
/// (docs/prestashop/documents.md#json).
pub fn written(
    out: &mut Vec<u8>,
    format: Format,
    res: &ResourceDef,
    entities: &[Entity],
    ws_url: &str,
    plural_json: bool,
) {
    match format {
        Format::Xml => {
            out.extend_from_slice(xml::PROLOG);
            for e in entities {
                xml::entity(out, res, &Display::Full, e, ws_url);
            }
            out.extend_from_slice(xml::EPILOG);
        }
        Format::Json if plural_json => {
            let mut w = ListWriter::new(format, res, &Display::Full, ws_url);
            w.begin(out);
            for e in entities {
                w.entity(out, e);
            }
            w.finish(out);
        }
        Format::Json => {
            if let Some(last) = entities.last() {
                json::single(out, res, &Display::Full, last, false);
            }
        }
    }
}

/// `schema=blank|synopsis` (docs/prestashop/schemas.md). `plural_json`: the request had a `display`
/// parameter, which switches the JSON to the plural list shape, as for single entities
/// (docs/prestashop/documents.md#json).
pub fn schema(
    out: &mut Vec<u8>,
    format: Format,
    res: &ResourceDef,
    kind: SchemaKind,
    plural_json: bool,
) {
    match format {
        Format::Xml => xml::schema(out, res, kind),
        // Without `display` both kinds collapse to the same JSON (docs/prestashop/schemas.md#json).
        Format::Json => json::schema(out, res, kind, plural_json),
    }
}

/// An error document (docs/prestashop/errors.md#document). An `ApiError` with no entries renders
/// nothing.
pub fn errors(out: &mut Vec<u8>, format: Format, error: &ApiError) {
    if error.errors.is_empty() {
        return;
    }
    match format {
        Format::Xml => xml::errors(out, error),
        Format::Json => json::errors(out, error),
    }
}

/// Writes a collection entity by entity: `begin`, any number of `entity`, then `finish`.
pub struct ListWriter<'a> {
    pub format: Format,
    pub res: &'a ResourceDef,
    pub display: &'a Display,
    pub ws_url: &'a str,
    /// Entities written so far (JSON writes `[]` for an empty list,
    /// docs/prestashop/lists.md#minimal-list).
    pub count: u64,
}

impl<'a> ListWriter<'a> {
    pub fn new(
        format: Format,
        res: &'a ResourceDef,
        display: &'a Display,
        ws_url: &'a str,
    ) -> Self {
        ListWriter {
            format,
            res,
            display,
            ws_url,
            count: 0,
        }
    }

    /// XML: prolog and the plural element. JSON: nothing yet, because an empty list is the
    /// bare `[]` (issue #10172) and the opening is only known with the first entity.
    pub fn begin(&mut self, out: &mut Vec<u8>) {
        if self.format == Format::Xml {
            out.extend_from_slice(xml::PROLOG);
            xml::open_line(out, self.res.name);
        }
    }

    pub fn entity(&mut self, out: &mut Vec<u8>, entity: &Entity) {
        match self.format {
            Format::Xml => xml::entity(out, self.res, self.display, entity, self.ws_url),
            Format::Json => {
                if self.count == 0 {
                    json::list_open(out, self.res);
                } else {
                    out.push(b',');
                }
                json::object(out, self.res, self.display, entity, false);
            }
        }
        self.count += 1;
    }

    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.format {
            Format::Xml => {
                xml::close_line(out, self.res.name);
                out.extend_from_slice(xml::EPILOG);
            }
            Format::Json if self.count == 0 => out.extend_from_slice(b"[]"),
            Format::Json => out.extend_from_slice(b"]}"),
        }
    }
}

/// What a non-minimal display renders of an entity: which fields, which associations.
#[derive(Clone, Copy)]
struct Selection<'a> {
    /// `None`: every field (`display=full`).
    fields: Option<&'a [bool]>,
    /// `None`: every association (`display=full`); otherwise indexes into the resource's.
    associations: Option<&'a [usize]>,
}

impl<'a> Selection<'a> {
    /// `None` for `display=minimum`.
    fn of(display: &'a Display) -> Option<Selection<'a>> {
        match display {
            Display::Minimum => None,
            Display::Full => Some(Selection {
                fields: None,
                associations: None,
            }),
            Display::Fields(sel) => Some(Selection {
                fields: Some(&sel.fields),
                associations: Some(&sel.associations),
            }),
        }
    }

    fn field(&self, i: usize) -> bool {
        self.fields
            .is_none_or(|f| f.get(i).copied().unwrap_or(false))
    }

    fn association(&self, j: usize) -> bool {
        self.associations.is_none_or(|a| a.contains(&j))
    }

    /// The associations block appears for `full` on a resource that has associations, or when
    /// a sub-list asked for one (docs/prestashop/lists.md#display,
    /// docs/prestashop/documents.md#associations; docs/compatibility.md W24).
    fn has_associations(&self, res: &ResourceDef) -> bool {
        match self.associations {
            None => !res.associations.is_empty(),
            Some(a) => !a.is_empty(),
        }
    }
}

/// Value of field `i`, `None` for NULL (or a row shorter than the resource, defensively).
fn value(entity: &Entity, i: usize) -> Option<&str> {
    entity.values.get(i).and_then(Option::as_deref)
}

/// Ids of association `j` (empty when the row carries none).
fn association_ids(entity: &Entity, j: usize) -> &[String] {
    entity.associations.get(j).map_or(&[], Vec::as_slice)
}

/// PHP truthiness of a string value: null, `""` and `"0"` are false.
fn truthy(v: Option<&str>) -> bool {
    !matches!(v, None | Some("") | Some("0"))
}

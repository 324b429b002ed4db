//! Response bodies: PrestaShop's XML (quick-xml) and JSON writers (spec §4, §6–§10, §13).
//!
//! Pure: writes bytes into a `Vec<u8>`; knows `resource` and the `query` output types, never
//! actix or a connection. Lists are written entity by entity through [`ListWriter`], so the
//! HTTP layer can stream a long list chunk by chunk.
//! STUB: to be implemented.

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

/// `GET /api/`: the root listing (spec §4; JSON per decisions W4).
pub fn root(
    _out: &mut Vec<u8>,
    _format: Format,
    _shop_name: &str,
    _ws_url: &str,
    _entries: &[RootEntry<'_>],
) {
    todo!()
}

/// A single entity (`GET /api/customer_threads/1`). `plural_json` is true when the request had a
/// `display` parameter: JSON then uses the list shape and keeps falsy members (spec §9).
pub fn single(
    _out: &mut Vec<u8>,
    _format: Format,
    _res: &ResourceDef,
    _display: &Display,
    _entity: &Entity,
    _ws_url: &str,
    _plural_json: bool,
) {
    todo!()
}

/// `schema=blank|synopsis` (spec §10).
pub fn schema(_out: &mut Vec<u8>, _format: Format, _res: &ResourceDef, _kind: SchemaKind) {
    todo!()
}

/// An error document (spec §13.1). An `ApiError` with no entries renders nothing.
pub fn errors(_out: &mut Vec<u8>, _format: Format, _error: &ApiError) {
    todo!()
}

/// Writes a collection entity by entity: `begin`, any number of `entity`, then `finish`.
pub struct ListWriter<'a> {
    pub format: Format,
    pub res: &'a ResourceDef,
    pub display: &'a Display,
    pub ws_url: &'a str,
    /// Entities written so far (JSON writes `[]` for an empty list, spec §6.1).
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

    pub fn begin(&mut self, _out: &mut Vec<u8>) {
        todo!()
    }

    pub fn entity(&mut self, _out: &mut Vec<u8>, _entity: &Entity) {
        todo!()
    }

    pub fn finish(&mut self, _out: &mut Vec<u8>) {
        todo!()
    }
}

//! `schema`, `filter`, `display`, `sort`, `limit` for collections, in PrestaShop's order
//! (spec §6), and `display` for single resources (§7). STUB: to be implemented.

use super::{CollectionRequest, Display, Params};
use crate::error::ApiError;
use crate::resource::ResourceDef;

/// Parses a GET on the collection URL. The first failing stage decides the error.
pub fn parse_collection(
    _res: &ResourceDef,
    _params: &Params,
) -> Result<CollectionRequest, ApiError> {
    todo!()
}

/// Parses `display` for a single resource (default `full`).
pub fn parse_single_display(_res: &ResourceDef, _params: &Params) -> Result<Display, ApiError> {
    todo!()
}

//! `id_shop`, `id_shop_group`/`id_group_shop` and `language` parameters (spec §14, W26).
//! STUB: to be implemented.

use super::Params;
use crate::error::ApiError;

/// Which shops the request's context covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopSelector {
    /// No shop parameter: the shop the request's host resolves to (the default shop).
    Default,
    /// `id_shop=N`: that shop, with no existence check.
    Shop(u32),
    /// `id_shop=all`: every active shop.
    All,
    /// `id_shop_group=N` (or `id_group_shop`): the group's active shops.
    Group(u32),
}

/// Reads the shop parameters. `id_shop` neither numeric nor `all` is 404 code 999.
pub fn parse_shop_selector(_params: &Params) -> Result<ShopSelector, ApiError> {
    todo!()
}

/// Validates `language` against the shop's language ids (codes 78–81).
pub fn validate_language(_params: &Params, _known: &[u32]) -> Result<(), ApiError> {
    todo!()
}

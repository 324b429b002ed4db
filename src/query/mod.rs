//! Parsing of the webservice's query string: PHP's `$_GET` semantics, then `display`, `filter`,
//! `sort`, `limit`, `schema`, `date`, `language`, `id_shop`/`id_shop_group`
//! (docs/prestashop/lists.md, docs/prestashop/requests.md, docs/compatibility.md W6–W8).
//!
//! Pure: no actix, no connection, no SQL text. The output types below are what `db` turns into
//! SQL and what `render` reads. Errors are `ApiError`s with PrestaShop's codes and texts.

pub mod list;
pub mod params;
pub mod shop;

pub use params::{Param, Params};

/// Which fields to render (`display`, docs/prestashop/lists.md#display).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Display {
    /// `<customer_thread id=".." xlink:href=".."/>` only (the list default).
    Minimum,
    /// Every field plus associations (the single-resource default).
    Full,
    /// `display=[f1,f2,assoc[f]]`.
    Fields(FieldSelection),
}

/// A `display=[...]` selection. Output order is always the resource's field order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSelection {
    /// `fields[i]` is true when the resource's field `i` is selected.
    pub fields: Vec<bool>,
    /// Associations asked for with a sub-list (`customer_messages[id]`), by index in the
    /// resource's `associations`, with their selected sub-fields (only `id` exists here).
    pub associations: Vec<usize>,
}

/// One `filter[field]=value` (docs/prestashop/lists.md#filters, docs/compatibility.md W7). Values
/// have had HTML tags stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// Index of the field in the resource's `fields`.
    pub field: usize,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `c = v` (a bare value or `[v]`).
    Eq(String),
    /// `(c = a OR c = b ...)` (`[a|b]`).
    AnyOf(Vec<String>),
    /// `c BETWEEN lo AND hi` (`[x,y]`, ends already sorted, both inclusive).
    Between(String, String),
    /// `c LIKE pattern` (`%[v]`, `[v]%`, `x[v]%` ...), pattern with `%`/`_` as wildcards.
    Like(String),
    Gt(String),
    Lt(String),
    /// `>=[v]` (docs/compatibility.md W7).
    Ge(String),
    /// `<=[v]` (docs/compatibility.md W7).
    Le(String),
    /// `c != a AND c != b ...` (`![a|b]`).
    NoneOf(Vec<String>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// `sort` key: field index and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: usize,
    pub direction: Direction,
}

/// `limit=N` or `limit=O,N`, each part cast like PHP `(int)` (docs/prestashop/lists.md#limit). A
/// negative part makes the list empty (PrestaShop's SQL fails and it answers an empty list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub offset: i64,
    pub count: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    Blank,
    Synopsis,
}

/// A parsed collection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub display: Display,
    pub filters: Vec<Filter>,
    pub sort: Vec<SortKey>,
    pub limit: Option<Limit>,
}

/// What a GET on the collection URL asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollectionRequest {
    Schema(SchemaKind),
    List(ListQuery),
}

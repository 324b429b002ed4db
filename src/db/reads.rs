//! Reading entities: one statement for a single entity, one statement per chunk of a list,
//! association ids included (a `LEFT JOIN` on the association's table, its rows folded back
//! into entities here), so no list ever costs a query per row and a single GET is one round
//! trip. A join is about half the database's work of a correlated `GROUP_CONCAT` subquery
//! (measured: 63 µs against 135 µs per statement on 100 000 threads).
//!
//! Lists are read in chunks so `display=full` over a million rows streams in constant memory:
//! diesel's MySQL backend buffers a whole result set, so one chunk is one bounded result set.
//! A chunk's ids are picked first in a derived table (filters, order, `LIMIT`), and only those
//! rows are read in full and joined to their associations. Every order pages by key, the id
//! being the final tie-breaker (docs/compatibility.md, W11): id order (the default, or
//! `sort=[id_ASC|DESC]`) by `id > last`, any other sort by "after the last row's sort keys, then
//! its id", compared by MariaDB itself (the rows carry their keys' values), so a long list in any
//! order is one pass over an index instead of one sort of the whole table per chunk
//! (docs/tuning.md). A `limit=o,n` offset applies once, to the first chunk. Only a sort on a
//! `TEXT` column (`message`) still pages by offset ([`key_expr`]). Each chunk asks for one row
//! more than it needs, so the end of a list is known without another statement.
//!
//! A request's first statement also returns the key store's generation (an uncorrelated scalar
//! subquery, computed once, as the last column of every row), so a key revoked a moment ago is
//! noticed on that same round trip (`http::access::Guard`). Only an empty result needs a second,
//! tiny statement to read it.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;
use super::Tables;
use crate::query::{Condition, Direction, Display, Filter, ListQuery};
use crate::resource::{Entity, FieldType, ResourceDef};

/// Which columns a display needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// Field indices to select, in resource order (always includes 0, the id).
    pub fields: Vec<usize>,
    /// Aggregate association ids (per association, in `associations` order).
    pub associations: bool,
}

impl Columns {
    pub fn for_display(res: &ResourceDef, display: &Display) -> Columns {
        match display {
            Display::Minimum => Columns {
                fields: vec![0],
                associations: false,
            },
            Display::Full => Columns {
                fields: (0..res.fields.len()).collect(),
                associations: !res.associations.is_empty(),
            },
            Display::Fields(sel) => {
                let mut fields: Vec<usize> = vec![0];
                fields.extend((1..res.fields.len()).filter(|&i| sel.fields[i]));
                Columns {
                    fields,
                    associations: !sel.associations.is_empty(),
                }
            }
        }
    }
}

/// `SELECT <columns>` of the row aliased `main`, plus the association item id (`a`), plus the
/// sort keys' values a keyset chunk carries to the next (`keys`, expressions on `main`), plus the
/// key store's generation when `generation` is set.
fn select_columns(
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    keys: &[String],
    generation: bool,
) -> String {
    let mut s = String::from("SELECT ");
    for (n, &i) in cols.fields.iter().enumerate() {
        if n > 0 {
            s.push_str(", ");
        }
        let f = &res.fields[i];
        match f.kind {
            FieldType::String | FieldType::Html => s.push_str(&format!("main.`{}`", f.column)),
            // PDO hands every value over as a string (docs/prestashop/database.md#fetched-values):
            // make MySQL do the formatting.
            _ => s.push_str(&format!("CAST(main.`{}` AS CHAR)", f.column)),
        }
    }
    if let Some(a) = association(res, cols) {
        s.push_str(&format!(", CAST(a.`{}` AS CHAR)", a.id_column));
    }
    for k in keys {
        s.push_str(&format!(", CAST({k} AS CHAR)"));
    }
    if generation {
        s.push_str(&format!(
            ", (SELECT CAST(key_generation AS CHAR) FROM {} WHERE id = 1)",
            tables.name("threadgate_state")
        ));
    }
    s
}

/// The association joined in, if the display needs one. These resources have at most one
/// (`customer_messages` on threads); a second would multiply rows, so it is not supported.
fn association(
    res: &ResourceDef,
    cols: &Columns,
) -> Option<&'static crate::resource::AssociationDef> {
    debug_assert!(res.associations.len() <= 1);
    if cols.associations {
        res.associations.first()
    } else {
        None
    }
}

/// ` LEFT JOIN <assoc table> a ON a.<parent> = main.<pk>` when associations are read.
fn join(tables: &Tables, res: &ResourceDef, cols: &Columns) -> String {
    association(res, cols).map_or_else(String::new, |a| {
        format!(
            " LEFT JOIN {} a ON a.`{}` = main.`{}`",
            tables.name(a.table),
            a.parent_column,
            res.id_column()
        )
    })
}

/// Folds rows into entities: with an association, consecutive rows of one entity each carry
/// one item id (NULL when it has none). With `generation`, the last column of the first row
/// is the key store's generation.
fn to_entities(
    res: &ResourceDef,
    cols: &Columns,
    rows: Vec<super::sql::TextRow>,
    generation: bool,
) -> (Vec<Entity>, Option<u64>) {
    let (entities, seen, _) = to_entities_keyed(res, cols, rows, generation, 0);
    (entities, seen)
}

/// [`to_entities`] for rows that also carry `keys` sort-key values (before the generation):
/// they come back per entity, in entity order.
fn to_entities_keyed(
    res: &ResourceDef,
    cols: &Columns,
    rows: Vec<super::sql::TextRow>,
    generation: bool,
    keys: usize,
) -> (Vec<Entity>, Option<u64>, Vec<Vec<Option<String>>>) {
    let assoc = association(res, cols).is_some();
    let mut seen = None;
    let mut out: Vec<Entity> = Vec::with_capacity(rows.len());
    let mut out_keys: Vec<Vec<Option<String>>> = Vec::new();
    for mut row in rows {
        if generation {
            let g = row.0.pop().flatten();
            if seen.is_none() {
                seen = g.and_then(|g| g.parse().ok());
            }
        }
        let key_values = row.0.split_off(row.0.len().saturating_sub(keys));
        let mut it = row.0.into_iter();
        let mut values = vec![None; res.fields.len()];
        for &i in &cols.fields {
            values[i] = it.next().flatten();
        }
        let item = if assoc { it.next().flatten() } else { None };
        if let Some(last) = out.last_mut() {
            if assoc && last.values[0] == values[0] {
                last.associations[0].extend(item);
                continue;
            }
        }
        let mut associations = vec![Vec::new(); res.associations.len()];
        if let Some(id) = item {
            associations[0].push(id);
        }
        out.push(Entity {
            values,
            associations,
        });
        if keys > 0 {
            out_keys.push(key_values);
        }
    }
    (out, seen, out_keys)
}

/// The generation a first statement returned, or, when it returned no row, a separate read.
fn observed(
    conn: &mut MysqlConnection,
    tables: &Tables,
    from_rows: Option<u64>,
) -> QueryResult<Option<u64>> {
    match from_rows {
        Some(g) => Ok(Some(g)),
        None => super::shop::key_generation(conn, tables).map(Some),
    }
}

/// The statement for one entity by primary key. The entity is a constant table for MariaDB,
/// so its association rows come through the parent index in ascending id order, as
/// PrestaShop's getter returns them (it has no ORDER BY either).
pub fn single_sql(tables: &Tables, res: &ResourceDef, cols: &Columns, id: i64) -> Sql {
    let mut q = Sql::new(by_id_text(tables, res, cols, ById::Id)).cached();
    q.bind_int(id);
    q
}

/// The stored fields of row `id` (no associations), locked `FOR UPDATE` until the transaction
/// ends: the row a PUT or PATCH is about to replace, for its event's `changed` list
/// (docs/events.md). A kept prepared statement of one shape per resource.
pub fn locked_fields(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    id: i64,
) -> QueryResult<Option<Vec<Option<String>>>> {
    let cols = Columns {
        fields: (0..res.fields.len()).collect(),
        associations: false,
    };
    let mut q = Sql::new(format!(
        "{} FROM {} main WHERE main.`{}` = ",
        select_columns(tables, res, &cols, &[], false),
        tables.name(res.table),
        res.id_column(),
    ))
    .cached();
    q.bind_int(id).push(" FOR UPDATE");
    let (entities, _) = to_entities(res, &cols, q.load(conn)?, false);
    Ok(entities.into_iter().next().map(|e| e.values))
}

/// The row a write just inserted (`LAST_INSERT_ID()` on this connection), with the key store's
/// generation: one statement for the new id and the stored row.
pub fn last_inserted(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
) -> QueryResult<(Option<Entity>, Option<u64>)> {
    let q = Sql::new(by_id_text(tables, res, cols, ById::LastInsertId)).cached();
    let (entities, generation) = to_entities(res, cols, q.load(conn)?, true);
    Ok((entities.into_iter().next(), generation))
}

/// How [`by_id_text`] names the row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ById {
    /// `= ?` (the id bound by the caller).
    Id,
    /// `= LAST_INSERT_ID()`.
    LastInsertId,
}

/// The most statement texts [`by_id_text`] keeps per thread.
const BY_ID_TEXTS: usize = 16;

/// A kept statement text: what it was built from, and the text.
type ByIdEntry = (String, &'static str, Columns, ById, String);

thread_local! {
    /// Texts of the by-id statements this thread built last (the prefix, the resource, the
    /// columns and the row they name decide the text). Building one is a few dozen
    /// `format!`s, and every single GET and every write's read-back needs one, of a handful
    /// of shapes (`display=[...]` selections beyond the cap are rebuilt).
    static BY_ID: std::cell::RefCell<Vec<ByIdEntry>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The text of the statement that reads one entity by primary key, up to the bound id
/// (`WHERE main.<pk> = ` then `?` or `LAST_INSERT_ID()`).
fn by_id_text(tables: &Tables, res: &ResourceDef, cols: &Columns, by: ById) -> String {
    let hit = BY_ID.with(|c| {
        c.borrow()
            .iter()
            .find(|(prefix, name, c, b, _)| {
                *b == by && *name == res.name && prefix == &tables.prefix && c == cols
            })
            .map(|e| e.4.clone())
    });
    if let Some(text) = hit {
        return text;
    }
    let text = format!(
        "{} FROM {} main{} WHERE main.`{}` = {}",
        select_columns(tables, res, cols, &[], true),
        tables.name(res.table),
        join(tables, res, cols),
        res.id_column(),
        match by {
            ById::Id => "",
            ById::LastInsertId => "LAST_INSERT_ID()",
        }
    );
    BY_ID.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() == BY_ID_TEXTS {
            c.remove(0);
        }
        c.push((
            tables.prefix.clone(),
            res.name,
            cols.clone(),
            by,
            text.clone(),
        ));
    });
    text
}

/// Loads one entity (`None` when the id does not exist) and the key store's generation.
pub fn single(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    id: i64,
) -> QueryResult<(Option<Entity>, Option<u64>)> {
    let (entities, generation) = if id > 0 {
        to_entities(
            res,
            cols,
            single_sql(tables, res, cols, id).load(conn)?,
            true,
        )
    } else {
        (Vec::new(), None)
    };
    Ok((
        entities.into_iter().next(),
        observed(conn, tables, generation)?,
    ))
}

fn push_filter(q: &mut Sql, res: &ResourceDef, f: &Filter) {
    let col = format!("main.`{}`", res.fields[f.field].column);
    q.push(" AND ");
    let list = |q: &mut Sql, vals: &[String], op: &str, join: &str| {
        q.push("(");
        for (n, v) in vals.iter().enumerate() {
            if n > 0 {
                q.push(join);
            }
            q.push(&col).push(op).bind_text(v.as_str());
        }
        q.push(")");
    };
    match &f.condition {
        Condition::Eq(v) => {
            q.push(&col).push(" = ").bind_text(v.as_str());
        }
        Condition::AnyOf(vals) => list(q, vals, " = ", " OR "),
        Condition::NoneOf(vals) => list(q, vals, " != ", " AND "),
        Condition::Between(lo, hi) => {
            q.push(&col)
                .push(" BETWEEN ")
                .bind_text(lo.as_str())
                .push(" AND ")
                .bind_text(hi.as_str());
        }
        Condition::Like(p) => {
            q.push(&col).push(" LIKE ").bind_text(p.as_str());
        }
        Condition::Gt(v) => {
            q.push(&col).push(" > ").bind_text(v.as_str());
        }
        Condition::Lt(v) => {
            q.push(&col).push(" < ").bind_text(v.as_str());
        }
        Condition::Ge(v) => {
            q.push(&col).push(" >= ").bind_text(v.as_str());
        }
        Condition::Le(v) => {
            q.push(&col).push(" <= ").bind_text(v.as_str());
        }
    }
}

/// Where a chunked list read stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// Rows returned so far.
    pub returned: i64,
    /// Id of the last row returned (keyset order).
    pub last_id: Option<i64>,
    /// The sort keys' values of the last row returned, as MariaDB cast them to text (keyset
    /// order by other fields than the id); `None` before the first chunk.
    pub last_keys: Option<Vec<Option<String>>>,
    pub done: bool,
}

impl Cursor {
    /// Nothing read yet: the next statement is the request's first.
    pub fn is_first(&self) -> bool {
        self.returned == 0 && self.last_id.is_none() && !self.done
    }

    pub fn start() -> Cursor {
        Cursor {
            returned: 0,
            last_id: None,
            last_keys: None,
            done: false,
        }
    }
}

/// Keyset direction when the list is ordered by id alone.
fn keyset(q: &ListQuery) -> Option<Direction> {
    match q.sort.as_slice() {
        [] => Some(Direction::Asc),
        [k] if k.field == 0 => Some(k.direction),
        _ => None,
    }
}

/// The expression a sort field is compared with when a list pages by key: one that orders as
/// the field's `ORDER BY` does. `status` is an `ENUM` in PrestaShop's schema (`customer_thread`
/// in install-dev/data/db_structure.sql): `ORDER BY` sorts an enum by its index, while a
/// comparison with a string compares its text, so the index (`+ 0`) is compared. `None` for a
/// `TEXT` column (`message`): MariaDB sorts those on their first `max_sort_length` bytes only,
/// which no comparison reproduces, so such a sort keeps paging by offset.
fn key_expr(res: &ResourceDef, field: usize) -> Option<String> {
    let f = &res.fields[field];
    match f.kind {
        FieldType::Html => None,
        _ if f.column == "status" => Some("(main.`status` + 0)".to_owned()),
        _ => Some(format!("main.`{}`", f.column)),
    }
}

/// The sort keys' expressions when a list sorted by other fields than the id alone pages by
/// key (every sort field comparable, [`key_expr`]); `None` for id order and for offset paging.
fn sort_keys(res: &ResourceDef, q: &ListQuery) -> Option<Vec<String>> {
    if keyset(q).is_some() {
        return None;
    }
    q.sort.iter().map(|k| key_expr(res, k.field)).collect()
}

/// The sort keys this chunk's rows carry: none when no chunk can follow it (a `limit` within
/// the chunk), so a page of a list costs nothing more than before.
fn carried_keys(res: &ResourceDef, q: &ListQuery, cursor: &Cursor, chunk: u32) -> Vec<String> {
    let last_chunk = q
        .limit
        .is_some_and(|l| l.count - cursor.returned <= chunk_size(q, cursor, chunk));
    if last_chunk {
        return Vec::new();
    }
    sort_keys(res, q).unwrap_or_default()
}

/// ` AND (<rows after the last one>)` in `ORDER BY keys..., id ASC`: lexicographic over the sort
/// keys, then the id, written out term by term because the directions may be mixed. NULLs sort
/// first ascending and last descending (MariaDB), so a NULL bound is handled with `IS [NOT]
/// NULL`; values are bound and compared by MariaDB under the column's own collation.
fn push_after(
    sql: &mut Sql,
    q: &ListQuery,
    exprs: &[String],
    values: &[Option<String>],
    pk: &str,
    last_id: i64,
) {
    sql.push(" AND (");
    let mut terms = 0;
    for i in 0..=exprs.len() {
        // The term "equal on every key before i, after on key i" is empty when nothing sorts
        // after a NULL (descending).
        if i < exprs.len() && q.sort[i].direction == Direction::Desc && values[i].is_none() {
            continue;
        }
        if terms > 0 {
            sql.push(" OR ");
        }
        terms += 1;
        sql.push("(");
        for j in 0..i {
            match &values[j] {
                Some(v) => sql.push(&exprs[j]).push(" = ").bind_text(v.as_str()),
                None => sql.push(&exprs[j]).push(" IS NULL"),
            };
            sql.push(" AND ");
        }
        if i == exprs.len() {
            sql.push(pk).push(" > ").bind_int(last_id);
        } else {
            let e = &exprs[i];
            match (q.sort[i].direction, &values[i]) {
                (Direction::Asc, Some(v)) => {
                    sql.push(e).push(" > ").bind_text(v.as_str());
                }
                (Direction::Asc, None) => {
                    sql.push(e).push(" IS NOT NULL");
                }
                (Direction::Desc, Some(v)) => {
                    sql.push("(").push(e).push(" < ").bind_text(v.as_str());
                    sql.push(" OR ").push(e).push(" IS NULL)");
                }
                (Direction::Desc, None) => unreachable!("skipped above"),
            }
        }
        sql.push(")");
    }
    sql.push(")");
}

fn dir(d: Direction) -> &'static str {
    match d {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

/// The entities the next chunk should return (0 when the list is complete).
fn chunk_size(q: &ListQuery, cursor: &Cursor, chunk: u32) -> i64 {
    if cursor.done {
        return 0;
    }
    match q.limit {
        Some(l) if l.offset < 0 || l.count < 0 => 0,
        Some(l) => (l.count - cursor.returned).clamp(0, i64::from(chunk)),
        None => i64::from(chunk),
    }
}

/// ` ORDER BY ...`: the sort fields, then the id as the tie-breaker (or the id alone).
fn order_by(res: &ResourceDef, q: &ListQuery, pk: &str) -> String {
    match keyset(q) {
        Some(d) => format!(" ORDER BY {pk} {}", dir(d)),
        None => {
            let mut o = String::from(" ORDER BY ");
            for k in &q.sort {
                o.push_str(&format!(
                    "main.`{}` {}, ",
                    res.fields[k.field].column,
                    dir(k.direction)
                ));
            }
            o.push_str(&format!("{pk} ASC"));
            o
        }
    }
}

/// Where the chunk starts: after the last row (pushed as a condition) or, returned, the rows to
/// skip. The offset applies once, to the first chunk; later chunks start after the last row.
fn push_start(sql: &mut Sql, res: &ResourceDef, q: &ListQuery, cursor: &Cursor, pk: &str) -> i64 {
    let offset = q.limit.map_or(0, |l| l.offset);
    match (keyset(q), cursor.last_id, &cursor.last_keys) {
        (Some(d), Some(last), _) => {
            let op = if d == Direction::Asc { " > " } else { " < " };
            sql.push(" AND ").push(pk).push(op).bind_int(last);
            0
        }
        (None, Some(last), Some(values)) => match sort_keys(res, q) {
            Some(exprs) if exprs.len() == values.len() => {
                push_after(sql, q, &exprs, values, pk, last);
                0
            }
            _ => offset + cursor.returned,
        },
        (Some(_), None, _) => offset,
        (None, _, _) => offset + cursor.returned,
    }
}

/// The statement for the next chunk (asking one row more than `want`, to see the end), or
/// `None` when the list is complete.
pub fn chunk_sql(
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    q: &ListQuery,
    cursor: &Cursor,
    chunk: u32,
) -> Option<Sql> {
    let want = chunk_size(q, cursor, chunk);
    if want == 0 {
        return None;
    }
    let pk = format!("main.`{}`", res.id_column());
    let order = order_by(res, q, &pk);
    let keys = carried_keys(res, q, cursor, chunk);
    // Ids alone are picked straight from the table; whole rows only for the page's ids.
    let paged = cols.fields.len() > 1 || cols.associations;
    let generation = cursor.is_first();
    let mut sql = if paged {
        Sql::new(format!(
            "SELECT {pk} AS `page_id` FROM {} main WHERE 1",
            tables.name(res.table)
        ))
    } else {
        Sql::new(format!(
            "{} FROM {} main WHERE 1",
            select_columns(tables, res, cols, &keys, generation),
            tables.name(res.table)
        ))
    };
    // Fixed shapes (no filter, id order) keep their prepared statement.
    sql.cacheable = q.filters.is_empty() && keyset(q).is_some();
    for f in &q.filters {
        push_filter(&mut sql, res, f);
    }
    let skip = push_start(&mut sql, res, q, cursor, &pk);
    sql.push(&order).push(" LIMIT ");
    sql.bind_int(skip).push(", ").bind_int(want + 1);
    if paged {
        let inner = std::mem::take(&mut sql.text);
        sql.text = format!(
            "{} FROM ({inner}) page JOIN {} main ON {pk} = page.`page_id`{}{order}{}",
            select_columns(tables, res, cols, &keys, generation),
            tables.name(res.table),
            join(tables, res, cols),
            association(res, cols).map_or_else(String::new, |a| format!(", a.`{}`", a.id_column)),
        );
    }
    Some(sql)
}

/// Reads the next chunk and advances the cursor; the first chunk also returns the key
/// store's generation (read separately only when the list is empty).
pub fn next_chunk(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    q: &ListQuery,
    cursor: &mut Cursor,
    chunk: u32,
) -> QueryResult<(Vec<Entity>, Option<u64>)> {
    let first = cursor.is_first();
    let want = chunk_size(q, cursor, chunk);
    let Some(sql) = chunk_sql(tables, res, cols, q, cursor, chunk) else {
        cursor.done = true;
        let generation = if first {
            observed(conn, tables, None)?
        } else {
            None
        };
        return Ok((Vec::new(), generation));
    };
    let nkeys = carried_keys(res, q, cursor, chunk).len();
    let (mut entities, generation, mut keys) =
        to_entities_keyed(res, cols, sql.load(conn)?, first, nkeys);
    let generation = if first {
        observed(conn, tables, generation)?
    } else {
        None
    };
    let more = entities.len() as i64 > want;
    entities.truncate(want as usize);
    keys.truncate(want as usize);
    cursor.returned += entities.len() as i64;
    if let Some(last) = entities.last().and_then(|e| e.id().parse().ok()) {
        cursor.last_id = Some(last);
    }
    if let Some(values) = keys.pop() {
        cursor.last_keys = Some(values);
    }
    let limit_reached = q.limit.is_some_and(|l| cursor.returned >= l.count);
    cursor.done = !more || limit_reached;
    Ok((entities, generation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::sql::{Bind, TextRow};
    use crate::query::{Limit, SortKey};
    use crate::resource::customer_threads::CUSTOMER_THREADS as T;

    fn tables() -> Tables {
        Tables::new("ps_")
    }

    fn list(
        display: Display,
        sort: Vec<SortKey>,
        limit: Option<Limit>,
        filters: Vec<Filter>,
    ) -> ListQuery {
        ListQuery {
            display,
            filters,
            sort,
            limit,
        }
    }

    #[test]
    fn single_full_thread_is_one_statement_joining_its_message_ids() {
        let cols = Columns::for_display(&T, &Display::Full);
        let q = single_sql(&tables(), &T, &cols, 7);
        assert!(q.cacheable);
        assert_eq!(
            q.text,
            "SELECT CAST(main.`id_customer_thread` AS CHAR), CAST(main.`id_lang` AS CHAR), CAST(main.`id_shop` AS CHAR), CAST(main.`id_customer` AS CHAR), CAST(main.`id_order` AS CHAR), CAST(main.`id_product` AS CHAR), CAST(main.`id_contact` AS CHAR), main.`email`, main.`token`, main.`status`, CAST(main.`date_add` AS CHAR), CAST(main.`date_upd` AS CHAR), CAST(a.`id_customer_message` AS CHAR), (SELECT CAST(key_generation AS CHAR) FROM `ps_threadgate_state` WHERE id = 1) FROM `ps_customer_thread` main LEFT JOIN `ps_customer_message` a ON a.`id_customer_thread` = main.`id_customer_thread` WHERE main.`id_customer_thread` = ?"
        );
        assert_eq!(q.binds, vec![Bind::Int(7)]);
    }

    #[test]
    fn by_id_texts_are_kept_per_prefix_columns_and_row() {
        let full = Columns::for_display(&T, &Display::Full);
        let min = Columns::for_display(&T, &Display::Minimum);
        let other = Tables::new("shop_");
        for _ in 0..2 {
            let a = single_sql(&tables(), &T, &full, 7).text;
            assert!(a.ends_with("WHERE main.`id_customer_thread` = ?"), "{a}");
            assert!(
                a.contains("FROM `ps_customer_thread` main LEFT JOIN"),
                "{a}"
            );
            let b = single_sql(&other, &T, &full, 7).text;
            assert_eq!(b, a.replace("`ps_", "`shop_"));
            let c = single_sql(&tables(), &T, &min, 7).text;
            assert!(
                c.starts_with("SELECT CAST(main.`id_customer_thread` AS CHAR), (SELECT"),
                "{c}"
            );
            let d = by_id_text(&tables(), &T, &full, ById::LastInsertId);
            assert_eq!(d, format!("{}LAST_INSERT_ID()", a.trim_end_matches('?')));
        }
        // More shapes than are kept: each is still built right.
        for n in 1..40 {
            let cols = Columns {
                fields: (0..=(n % 12)).collect(),
                associations: n % 2 == 0,
            };
            let fresh = format!(
                "{} FROM `ps_customer_thread` main{} WHERE main.`id_customer_thread` = ?",
                select_columns(&tables(), &T, &cols, &[], true),
                join(&tables(), &T, &cols)
            );
            assert_eq!(single_sql(&tables(), &T, &cols, 1).text, fresh);
            assert_eq!(single_sql(&tables(), &T, &cols, 1).text, fresh);
        }
    }

    #[test]
    fn joined_rows_fold_back_into_entities_with_their_items() {
        let cols = Columns {
            fields: vec![0],
            associations: true,
        };
        let row = |id: &str, item: Option<&str>| {
            TextRow(vec![
                Some(id.into()),
                item.map(Into::into),
                Some("41".into()),
            ])
        };
        let rows = vec![
            row("1", Some("1")),
            row("1", Some("3")),
            row("2", None),
            row("3", Some("2")),
        ];
        let (e, generation) = to_entities(&T, &cols, rows, true);
        assert_eq!(
            generation,
            Some(41),
            "the generation column is read and dropped"
        );
        let items: Vec<(&str, &[String])> = e
            .iter()
            .map(|e| (e.id(), e.associations[0].as_slice()))
            .collect();
        assert_eq!(
            items,
            [
                ("1", &["1".to_owned(), "3".to_owned()][..]),
                ("2", &[][..]),
                ("3", &["2".to_owned()][..])
            ]
        );
    }

    #[test]
    fn minimal_lists_in_id_order_page_by_keyset_and_ask_one_row_more() {
        let cols = Columns::for_display(&T, &Display::Minimum);
        let q = list(
            Display::Minimum,
            vec![],
            Some(Limit {
                offset: 10,
                count: 1200,
            }),
            vec![],
        );
        let first = chunk_sql(&tables(), &T, &cols, &q, &Cursor::start(), 500).unwrap();
        assert!(first.cacheable);
        assert_eq!(
            first.text,
            "SELECT CAST(main.`id_customer_thread` AS CHAR), (SELECT CAST(key_generation AS CHAR) FROM `ps_threadgate_state` WHERE id = 1) FROM `ps_customer_thread` main WHERE 1 ORDER BY main.`id_customer_thread` ASC LIMIT ?, ?"
        );
        assert_eq!(first.binds, vec![Bind::Int(10), Bind::Int(501)]);
        let cursor = Cursor {
            returned: 1000,
            last_id: Some(1234),
            last_keys: None,
            done: false,
        };
        let third = chunk_sql(&tables(), &T, &cols, &q, &cursor, 500).unwrap();
        assert!(
            !third.text.contains("key_generation"),
            "only the first statement carries it"
        );
        assert!(third.text.ends_with(
            "WHERE 1 AND main.`id_customer_thread` > ? ORDER BY main.`id_customer_thread` ASC LIMIT ?, ?"
        ));
        assert_eq!(
            third.binds,
            vec![Bind::Int(1234), Bind::Int(0), Bind::Int(201)]
        );
    }

    #[test]
    fn full_lists_pick_the_page_ids_first_then_join_the_rows_and_items() {
        let cols = Columns::for_display(&T, &Display::Full);
        let q = list(
            Display::Full,
            vec![SortKey {
                field: 11,
                direction: Direction::Desc,
            }],
            Some(Limit {
                offset: 0,
                count: 50,
            }),
            vec![Filter {
                field: 3,
                condition: Condition::Eq("7".into()),
            }],
        );
        let sql = chunk_sql(&tables(), &T, &cols, &q, &Cursor::start(), 500).unwrap();
        assert!(!sql.cacheable);
        let from = sql.text.find(" FROM (SELECT").expect("a derived table");
        assert!(sql.text[..from].ends_with(
            "CAST(a.`id_customer_message` AS CHAR), (SELECT CAST(key_generation AS CHAR) FROM `ps_threadgate_state` WHERE id = 1)"
        ));
        assert_eq!(
            &sql.text[from..],
            " FROM (SELECT main.`id_customer_thread` AS `page_id` FROM `ps_customer_thread` main WHERE 1 AND main.`id_customer` = ? ORDER BY main.`date_upd` DESC, main.`id_customer_thread` ASC LIMIT ?, ?) page JOIN `ps_customer_thread` main ON main.`id_customer_thread` = page.`page_id` LEFT JOIN `ps_customer_message` a ON a.`id_customer_thread` = main.`id_customer_thread` ORDER BY main.`date_upd` DESC, main.`id_customer_thread` ASC, a.`id_customer_message`"
        );
        assert_eq!(
            sql.binds,
            vec![Bind::Text("7".into()), Bind::Int(0), Bind::Int(51)]
        );
    }

    #[test]
    fn other_sorts_page_by_offset_with_the_id_as_tie_breaker() {
        let cols = Columns::for_display(&T, &Display::Minimum);
        let q = list(
            Display::Minimum,
            vec![SortKey {
                field: 11,
                direction: Direction::Desc,
            }],
            None,
            vec![Filter {
                field: 3,
                condition: Condition::AnyOf(vec!["1".into(), "2".into()]),
            }],
        );
        let cursor = Cursor {
            returned: 500,
            last_id: Some(9),
            last_keys: None,
            done: false,
        };
        let sql = chunk_sql(&tables(), &T, &cols, &q, &cursor, 500).unwrap();
        assert!(!sql.cacheable);
        assert!(sql.text.ends_with(
            "WHERE 1 AND (main.`id_customer` = ? OR main.`id_customer` = ?) ORDER BY main.`date_upd` DESC, main.`id_customer_thread` ASC LIMIT ?, ?"
        ), "{}", sql.text);
        assert_eq!(&sql.binds[2..], [Bind::Int(500), Bind::Int(501)]);
    }

    #[test]
    fn other_sorts_page_by_key_after_the_first_chunk_with_mixed_directions_and_nulls() {
        let cols = Columns::for_display(&T, &Display::Full);
        let q = list(
            Display::Full,
            vec![
                SortKey {
                    field: 9,
                    direction: Direction::Asc,
                },
                SortKey {
                    field: 3,
                    direction: Direction::Desc,
                },
            ],
            Some(Limit {
                offset: 5,
                count: 2000,
            }),
            vec![],
        );
        let first = chunk_sql(&tables(), &T, &cols, &q, &Cursor::start(), 500).unwrap();
        assert!(
            first.text.contains("CAST(a.`id_customer_message` AS CHAR), CAST((main.`status` + 0) AS CHAR), CAST(main.`id_customer` AS CHAR), (SELECT CAST(key_generation"),
            "the rows carry their sort keys: {}",
            first.text
        );
        assert!(first.text.contains("LIMIT ?, ?) page"), "{}", first.text);
        assert_eq!(first.binds, vec![Bind::Int(5), Bind::Int(501)]);
        let cursor = Cursor {
            returned: 500,
            last_id: Some(77),
            last_keys: Some(vec![Some("2".into()), None]),
            done: false,
        };
        let next = chunk_sql(&tables(), &T, &cols, &q, &cursor, 500).unwrap();
        assert!(
            next.text.contains(
                "FROM `ps_customer_thread` main WHERE 1 AND (((main.`status` + 0) > ?) OR ((main.`status` + 0) = ? AND main.`id_customer` IS NULL AND main.`id_customer_thread` > ?)) ORDER BY main.`status` ASC, main.`id_customer` DESC, main.`id_customer_thread` ASC LIMIT ?, ?) page"
            ),
            "a NULL sorts last descending: nothing after it but equal NULLs with a higher id: {}",
            next.text
        );
        assert_eq!(
            next.binds,
            vec![
                Bind::Text("2".into()),
                Bind::Text("2".into()),
                Bind::Int(77),
                Bind::Int(0),
                Bind::Int(501)
            ],
            "the offset applied once, to the first chunk"
        );
        let cursor = Cursor {
            last_keys: Some(vec![None, Some("7".into())]),
            ..cursor
        };
        let next = chunk_sql(&tables(), &T, &cols, &q, &cursor, 500).unwrap();
        assert!(
            next.text.contains(
                "WHERE 1 AND (((main.`status` + 0) IS NOT NULL) OR ((main.`status` + 0) IS NULL AND (main.`id_customer` < ? OR main.`id_customer` IS NULL)) OR ((main.`status` + 0) IS NULL AND main.`id_customer` = ? AND main.`id_customer_thread` > ?)) ORDER BY"
            ),
            "{}",
            next.text
        );
    }

    #[test]
    fn text_columns_keep_paging_by_offset() {
        use crate::resource::customer_messages::CUSTOMER_MESSAGES as M;
        let cols = Columns::for_display(&M, &Display::Minimum);
        let message = M.fields.iter().position(|f| f.name == "message").unwrap();
        let q = list(
            Display::Minimum,
            vec![SortKey {
                field: message,
                direction: Direction::Asc,
            }],
            None,
            vec![],
        );
        let first = chunk_sql(&tables(), &M, &cols, &q, &Cursor::start(), 500).unwrap();
        assert!(
            !first.text.contains("CAST(main.`message`"),
            "{}",
            first.text
        );
        let cursor = Cursor {
            returned: 500,
            last_id: Some(9),
            last_keys: None,
            done: false,
        };
        let next = chunk_sql(&tables(), &M, &cols, &q, &cursor, 500).unwrap();
        assert_eq!(&next.binds[..], [Bind::Int(500), Bind::Int(501)]);
    }

    #[test]
    fn negative_or_exhausted_limits_need_no_statement() {
        let cols = Columns::for_display(&T, &Display::Minimum);
        for limit in [
            Limit {
                offset: 0,
                count: -1,
            },
            Limit {
                offset: -1,
                count: 5,
            },
            Limit {
                offset: 0,
                count: 0,
            },
        ] {
            let q = list(Display::Minimum, vec![], Some(limit), vec![]);
            assert!(
                chunk_sql(&tables(), &T, &cols, &q, &Cursor::start(), 500).is_none(),
                "{limit:?}"
            );
        }
        let q = list(
            Display::Minimum,
            vec![],
            Some(Limit {
                offset: 0,
                count: 50,
            }),
            vec![],
        );
        let done = Cursor {
            returned: 50,
            last_id: Some(50),
            last_keys: None,
            done: false,
        };
        assert!(chunk_sql(&tables(), &T, &cols, &q, &done, 500).is_none());
    }
}

//! Reading entities: one statement for a single entity, one statement per chunk of a list, the
//! association ids aggregated by a correlated `GROUP_CONCAT` in the same statement (so a list
//! costs no extra query per row, and a single GET is one round trip).
//!
//! Lists are read in chunks so `display=full` over a million rows streams in constant memory:
//! diesel's MySQL backend buffers a whole result set, so one chunk is one bounded result set.
//! Id order (the default, decisions W11, or `sort=[id_ASC|DESC]`) uses keyset pagination;
//! any other sort pages by offset with the id as a tie-breaker, so pages never overlap.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{Sql, TextRow};
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

/// `SELECT <columns> FROM <table> main`.
fn select(tables: &Tables, res: &ResourceDef, cols: &Columns) -> String {
    let mut s = String::from("SELECT ");
    for (n, &i) in cols.fields.iter().enumerate() {
        if n > 0 {
            s.push_str(", ");
        }
        let f = &res.fields[i];
        match f.kind {
            FieldType::String | FieldType::Html => s.push_str(&format!("main.`{}`", f.column)),
            // PDO hands every value over as a string (§5.4): make MySQL do the formatting.
            _ => s.push_str(&format!("CAST(main.`{}` AS CHAR)", f.column)),
        }
    }
    if cols.associations {
        for a in res.associations {
            s.push_str(&format!(
                ", (SELECT CAST(GROUP_CONCAT(a.`{id}` ORDER BY a.`{id}`) AS CHAR) FROM {table} a WHERE a.`{parent}` = main.`{pk}`)",
                id = a.id_column,
                table = tables.name(a.table),
                parent = a.parent_column,
                pk = res.id_column(),
            ));
        }
    }
    // The generation column: NULL on entity rows, see `with_generation`.
    s.push_str(", NULL FROM ");
    s.push_str(&tables.name(res.table));
    s.push_str(" main");
    s
}

/// Columns of `select`, the trailing generation column included.
fn width(res: &ResourceDef, cols: &Columns) -> usize {
    cols.fields.len()
        + if cols.associations {
            res.associations.len()
        } else {
            0
        }
        + 1
}

/// `(<read>) UNION ALL (SELECT NULL, ..., <key generation>)`: the read also returns the key
/// store's generation, in one extra row whose last column is the only non-NULL one (entity
/// rows have NULL there). Even an empty result reports it, so a request's first statement
/// tells whether keys changed since its key was verified, at no extra round trip.
pub fn with_generation(tables: &Tables, read: Sql, width: usize) -> Sql {
    let mut text = String::with_capacity(read.text.len() + 128);
    text.push('(');
    text.push_str(&read.text);
    text.push_str(") UNION ALL (SELECT ");
    for _ in 1..width {
        text.push_str("NULL, ");
    }
    text.push_str(&format!(
        "CAST(key_generation AS CHAR) FROM {} WHERE id = 1)",
        tables.name("threadgate_state")
    ));
    Sql {
        text,
        binds: read.binds,
        cacheable: read.cacheable,
    }
}

/// Splits the generation row of [`with_generation`] from the entity rows.
pub fn split_generation(rows: Vec<TextRow>) -> (Vec<TextRow>, Option<u64>) {
    let mut generation = None;
    let rows = rows
        .into_iter()
        .filter(|r| match r.0.last() {
            Some(Some(g)) => {
                generation = g.parse().ok();
                false
            }
            _ => true,
        })
        .collect();
    (rows, generation)
}

fn to_entity(res: &ResourceDef, cols: &Columns, row: Vec<Option<String>>) -> Entity {
    let mut values = vec![None; res.fields.len()];
    let mut it = row.into_iter();
    for &i in &cols.fields {
        values[i] = it.next().flatten();
    }
    let associations = if cols.associations {
        res.associations
            .iter()
            .map(|_| match it.next().flatten() {
                Some(ids) if !ids.is_empty() => ids.split(',').map(str::to_owned).collect(),
                _ => Vec::new(),
            })
            .collect()
    } else {
        vec![Vec::new(); res.associations.len()]
    };
    Entity {
        values,
        associations,
    }
}

/// The statement for one entity by primary key, with the key store's generation.
pub fn single_sql(tables: &Tables, res: &ResourceDef, cols: &Columns, id: i64) -> Sql {
    let mut q = Sql::new(select(tables, res, cols)).cached();
    q.push(&format!(" WHERE main.`{}` = ", res.id_column()))
        .bind_int(id);
    with_generation(tables, q, width(res, cols))
}

/// Loads one entity (`None` when the id does not exist) and the key store's generation.
pub fn single(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    id: i64,
) -> QueryResult<(Option<Entity>, Option<u64>)> {
    if id <= 0 {
        return Ok((None, None));
    }
    let (rows, generation) = split_generation(single_sql(tables, res, cols, id).load(conn)?);
    Ok((
        rows.into_iter().next().map(|r| to_entity(res, cols, r.0)),
        generation,
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
    /// Id of the last row returned (keyset order only).
    pub last_id: Option<i64>,
    pub done: bool,
}

impl Cursor {
    pub fn start() -> Cursor {
        Cursor {
            returned: 0,
            last_id: None,
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

fn dir(d: Direction) -> &'static str {
    match d {
        Direction::Asc => "ASC",
        Direction::Desc => "DESC",
    }
}

/// The statement for the next chunk, or `None` when the list is complete.
pub fn chunk_sql(
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    q: &ListQuery,
    cursor: &Cursor,
    chunk: u32,
) -> Option<Sql> {
    let (offset, count) = match q.limit {
        Some(l) if l.offset < 0 || l.count < 0 => return None,
        Some(l) => (l.offset, Some(l.count)),
        None => (0, None),
    };
    let want = match count {
        Some(c) => (c - cursor.returned).min(i64::from(chunk)),
        None => i64::from(chunk),
    };
    if cursor.done || want <= 0 {
        return None;
    }
    let pk = format!("main.`{}`", res.id_column());
    let mut sql = Sql::new(select(tables, res, cols));
    // Fixed shapes only (no filter, id order) keep their prepared statement.
    sql.cacheable = q.filters.is_empty() && keyset(q).is_some();
    sql.push(" WHERE 1");
    for f in &q.filters {
        push_filter(&mut sql, res, f);
    }
    match keyset(q) {
        Some(d) => {
            if let Some(last) = cursor.last_id {
                let op = if d == Direction::Asc { " > " } else { " < " };
                sql.push(" AND ").push(&pk).push(op).bind_int(last);
            }
            sql.push(&format!(" ORDER BY {pk} {} LIMIT ", dir(d)));
            let skip = if cursor.last_id.is_some() { 0 } else { offset };
            sql.bind_int(skip).push(", ").bind_int(want);
        }
        None => {
            sql.push(" ORDER BY ");
            for k in &q.sort {
                let f = &res.fields[k.field];
                sql.push(&format!("main.`{}` {}, ", f.column, dir(k.direction)));
            }
            sql.push(&format!("{pk} ASC LIMIT "));
            sql.bind_int(offset + cursor.returned)
                .push(", ")
                .bind_int(want);
        }
    }
    Some(with_generation(tables, sql, width(res, cols)))
}

/// Reads the next chunk of a list and advances the cursor; also returns the key store's
/// generation (`None` when no statement was needed).
pub fn next_chunk(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    cols: &Columns,
    q: &ListQuery,
    cursor: &mut Cursor,
    chunk: u32,
) -> QueryResult<(Vec<Entity>, Option<u64>)> {
    let Some(sql) = chunk_sql(tables, res, cols, q, cursor, chunk) else {
        cursor.done = true;
        return Ok((Vec::new(), None));
    };
    let want = sql.binds.last().map_or(0, |b| match b {
        super::sql::Bind::Int(n) => *n,
        super::sql::Bind::Text(_) => 0,
    });
    let (rows, generation) = split_generation(sql.load(conn)?);
    let n = rows.len() as i64;
    let entities: Vec<Entity> = rows
        .into_iter()
        .map(|r| to_entity(res, cols, r.0))
        .collect();
    cursor.returned += n;
    cursor.last_id = entities
        .last()
        .and_then(|e| e.id().parse().ok())
        .or(cursor.last_id);
    if n < want {
        cursor.done = true;
    }
    Ok((entities, generation))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::{Limit, SortKey};
    use crate::resource::customer_threads::CUSTOMER_THREADS;

    fn tables() -> Tables {
        Tables::new("ps_")
    }

    fn list(sort: Vec<SortKey>, limit: Option<Limit>, filters: Vec<Filter>) -> ListQuery {
        ListQuery {
            display: Display::Minimum,
            filters,
            sort,
            limit,
        }
    }

    #[test]
    fn single_full_thread_is_one_statement_with_its_message_ids() {
        let cols = Columns::for_display(&CUSTOMER_THREADS, &Display::Full);
        let q = single_sql(&tables(), &CUSTOMER_THREADS, &cols, 7);
        assert!(q.cacheable);
        assert_eq!(
            q.text,
            "(SELECT CAST(main.`id_customer_thread` AS CHAR), CAST(main.`id_lang` AS CHAR), CAST(main.`id_shop` AS CHAR), CAST(main.`id_customer` AS CHAR), CAST(main.`id_order` AS CHAR), CAST(main.`id_product` AS CHAR), CAST(main.`id_contact` AS CHAR), main.`email`, main.`token`, main.`status`, CAST(main.`date_add` AS CHAR), CAST(main.`date_upd` AS CHAR), (SELECT CAST(GROUP_CONCAT(a.`id_customer_message` ORDER BY a.`id_customer_message`) AS CHAR) FROM `ps_customer_message` a WHERE a.`id_customer_thread` = main.`id_customer_thread`), NULL FROM `ps_customer_thread` main WHERE main.`id_customer_thread` = ?) UNION ALL (SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, CAST(key_generation AS CHAR) FROM `ps_threadgate_state` WHERE id = 1)"
        );
    }

    #[test]
    fn default_order_pages_by_keyset_after_the_first_chunk() {
        let cols = Columns::for_display(&CUSTOMER_THREADS, &Display::Minimum);
        let q = list(
            vec![],
            Some(Limit {
                offset: 10,
                count: 1200,
            }),
            vec![],
        );
        let first = chunk_sql(
            &tables(),
            &CUSTOMER_THREADS,
            &cols,
            &q,
            &Cursor::start(),
            500,
        )
        .unwrap();
        assert_eq!(
            first.text,
            "(SELECT CAST(main.`id_customer_thread` AS CHAR), NULL FROM `ps_customer_thread` main WHERE 1 ORDER BY main.`id_customer_thread` ASC LIMIT ?, ?) UNION ALL (SELECT NULL, CAST(key_generation AS CHAR) FROM `ps_threadgate_state` WHERE id = 1)"
        );
        assert_eq!(
            first.binds,
            vec![
                super::super::sql::Bind::Int(10),
                super::super::sql::Bind::Int(500)
            ]
        );
        let cursor = Cursor {
            returned: 1000,
            last_id: Some(1234),
            done: false,
        };
        let third = chunk_sql(&tables(), &CUSTOMER_THREADS, &cols, &q, &cursor, 500).unwrap();
        assert!(third.text.contains("WHERE 1 AND main.`id_customer_thread` > ? ORDER BY main.`id_customer_thread` ASC LIMIT ?, ?) UNION ALL"));
        assert_eq!(
            third.binds,
            vec![
                super::super::sql::Bind::Int(1234),
                super::super::sql::Bind::Int(0),
                super::super::sql::Bind::Int(200)
            ]
        );
    }

    #[test]
    fn other_sorts_page_by_offset_with_the_id_as_tie_breaker() {
        let cols = Columns::for_display(&CUSTOMER_THREADS, &Display::Minimum);
        let q = list(
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
            done: false,
        };
        let sql = chunk_sql(&tables(), &CUSTOMER_THREADS, &cols, &q, &cursor, 500).unwrap();
        assert!(!sql.cacheable);
        assert!(sql.text.contains(
            "WHERE 1 AND (main.`id_customer` = ? OR main.`id_customer` = ?) ORDER BY main.`date_upd` DESC, main.`id_customer_thread` ASC LIMIT ?, ?) UNION ALL"
        ), "{}", sql.text);
    }

    #[test]
    fn the_generation_row_is_told_apart_from_entity_rows() {
        let rows = vec![
            TextRow(vec![Some("1".into()), None]),
            TextRow(vec![None, Some("7".into())]),
            TextRow(vec![Some("2".into()), None]),
        ];
        let (rows, generation) = split_generation(rows);
        assert_eq!(generation, Some(7));
        assert_eq!(rows.len(), 2);
        assert_eq!(split_generation(vec![]).1, None);
    }

    #[test]
    fn negative_or_exhausted_limits_need_no_statement() {
        let cols = Columns::for_display(&CUSTOMER_THREADS, &Display::Minimum);
        let neg = list(
            vec![],
            Some(Limit {
                offset: 0,
                count: -1,
            }),
            vec![],
        );
        assert!(chunk_sql(
            &tables(),
            &CUSTOMER_THREADS,
            &cols,
            &neg,
            &Cursor::start(),
            500
        )
        .is_none());
        let zero = list(
            vec![],
            Some(Limit {
                offset: 0,
                count: 0,
            }),
            vec![],
        );
        assert!(chunk_sql(
            &tables(),
            &CUSTOMER_THREADS,
            &cols,
            &zero,
            &Cursor::start(),
            500
        )
        .is_none());
    }
}

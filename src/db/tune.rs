//! `threadgate tune`: which of threadgate's queries an index serves, and the secondary indexes
//! that serve the rest, added or removed only on request (docs/tuning.md).
//!
//! Migrations never alter a PrestaShop table; these indexes are the one exception, and only
//! through this command. Every index it adds is named `threadgate_...`, is added online
//! (`ALGORITHM=INPLACE, LOCK=NONE`) and changes no column, key or row of the shop; `--revert`
//! drops exactly the `threadgate_` indexes of the tables below and nothing else. Tables that
//! `migrate` creates itself (a fresh database) get the same indexes in their `CREATE TABLE`
//! (migration `2026-11-21-000001_prestashop_tables`), so the command finds nothing to do there.
//!
//! The query shapes are built by the code that issues them (`reads::chunk_sql`, the bridges'
//! statements in `bridge`), so the report explains the statements threadgate really sends.

use diesel::mysql::MysqlConnection;
use serde::Serialize;

use super::reads::{chunk_sql, Columns, Cursor};
use super::sql::{opt, Sql, TextRow};
use super::{bridge, events, Tables};
use crate::query::{Condition, Direction, Display, Filter, Limit, ListQuery, SortKey};
use crate::resource::customer_messages::CUSTOMER_MESSAGES;
use crate::resource::customer_threads::CUSTOMER_THREADS;
use crate::resource::ResourceDef;

/// The name every index this command manages starts with.
pub const PREFIX: &str = "threadgate_";

/// A secondary index threadgate's queries need: (column, descending) in order.
#[derive(Debug)]
pub struct IndexDef {
    pub name: &'static str,
    /// Table without the shop's prefix.
    pub table: &'static str,
    pub columns: &'static [(&'static str, bool)],
}

impl IndexDef {
    /// `` (`id_customer`, `date_upd` DESC) ``.
    pub fn column_list(&self) -> String {
        let parts: Vec<String> = self
            .columns
            .iter()
            .map(|(c, desc)| format!("`{c}`{}", if *desc { " DESC" } else { "" }))
            .collect();
        format!("({})", parts.join(", "))
    }
}

/// Descending where the lists are newest first: MariaDB 10.8+ then reads the index in the
/// order `ORDER BY date_upd DESC, id ASC` asks for (the id is the tie-breaker, docs/
/// compatibility.md W11), with no sort; older servers ignore `DESC` and sort the (few) rows of
/// the filter.
pub const INDEXES: &[IndexDef] = &[
    IndexDef {
        name: "threadgate_customer_upd",
        table: "customer_thread",
        columns: &[("id_customer", false), ("date_upd", true)],
    },
    IndexDef {
        name: "threadgate_contact_upd",
        table: "customer_thread",
        columns: &[("id_contact", false), ("date_upd", true)],
    },
    IndexDef {
        name: "threadgate_status_upd",
        table: "customer_thread",
        columns: &[("status", false), ("date_upd", true)],
    },
    IndexDef {
        name: "threadgate_email_upd",
        table: "customer_thread",
        columns: &[("email", false), ("date_upd", true)],
    },
    IndexDef {
        name: "threadgate_upd",
        table: "customer_thread",
        columns: &[("date_upd", true)],
    },
    IndexDef {
        name: "threadgate_thread_add",
        table: "customer_message",
        columns: &[("id_customer_thread", false), ("date_add", false)],
    },
];

/// The tables `--revert` looks at (those of [`INDEXES`]).
fn managed_tables() -> Vec<&'static str> {
    let mut t: Vec<&'static str> = INDEXES.iter().map(|i| i.table).collect();
    t.dedup();
    t
}

/// A statement threadgate issues, and the keys that serve it.
struct Shape {
    name: &'static str,
    /// The alias of the table whose access the index decides (`main`, `t`, `m`).
    alias: &'static str,
    /// Keys that serve it: a `threadgate_` index or one PrestaShop has anyway.
    keys: &'static [&'static str],
    /// Whether the key also gives the order (so "Using filesort" must be gone).
    ordered: bool,
    sql: Sql,
}

/// A page of 50 (`limit=50`) filtered on one field, or (no filter) a whole list.
fn list(filter: Option<(usize, &str)>, sort: &[(usize, Direction)]) -> ListQuery {
    let page = filter.is_some();
    ListQuery {
        display: Display::Minimum,
        filters: filter
            .map(|(field, v)| Filter {
                field,
                condition: Condition::Eq(v.to_owned()),
            })
            .into_iter()
            .collect(),
        sort: sort
            .iter()
            .map(|&(field, direction)| SortKey { field, direction })
            .collect(),
        limit: page.then_some(Limit {
            offset: 0,
            count: 50,
        }),
    }
}

/// The id-picking statement of a list chunk (what `display=full` pages by, too).
fn list_sql(res: &ResourceDef, tables: &Tables, q: &ListQuery, cursor: &Cursor) -> Sql {
    let cols = Columns::for_display(res, &Display::Minimum);
    chunk_sql(tables, res, &cols, q, cursor, 500).expect("a list of 50 or more has a chunk")
}

fn field(res: &ResourceDef, name: &str) -> usize {
    res.fields
        .iter()
        .position(|f| f.name == name)
        .expect("a field of the resource")
}

/// A page of threads filtered on each field a client filters by, newest first.
fn filtered_pages(tables: &Tables) -> Vec<Shape> {
    let t = &CUSTOMER_THREADS;
    let desc = [(field(t, "date_upd"), Direction::Desc)];
    let pages: [(&'static str, &'static [&'static str], &str, &str); 4] = [
        (
            "threads by id_customer, newest first (a list page)",
            &["threadgate_customer_upd"],
            "id_customer",
            "1",
        ),
        (
            "threads by id_contact, newest first",
            &["threadgate_contact_upd"],
            "id_contact",
            "1",
        ),
        (
            "threads by status, newest first",
            &["threadgate_status_upd"],
            "status",
            "open",
        ),
        (
            "threads by email, newest first",
            &["threadgate_email_upd"],
            "email",
            "pub@prestashop.com",
        ),
    ];
    pages
        .into_iter()
        .map(|(name, keys, filter, value)| Shape {
            name,
            alias: "main",
            keys,
            ordered: true,
            sql: list_sql(
                t,
                tables,
                &list(Some((field(t, filter), value)), &desc),
                &Cursor::start(),
            ),
        })
        .collect()
}

/// The statements threadgate issues; `newest` is the newest `date_upd` of the shop's threads,
/// the bound of a later chunk of the whole list by key (so nearly every thread is after it).
fn shapes(tables: &Tables, newest: &str) -> Vec<Shape> {
    let t = &CUSTOMER_THREADS;
    let m = &CUSTOMER_MESSAGES;
    let upd = field(t, "date_upd");
    let desc = [(upd, Direction::Desc)];
    let start = Cursor::start();
    let mut shapes = filtered_pages(tables);
    shapes.extend([
        Shape {
            name: "all threads, newest first (a later chunk, by key)",
            alias: "main",
            keys: &["threadgate_upd"],
            ordered: true,
            sql: list_sql(
                t,
                tables,
                &list(None, &desc),
                &Cursor {
                    returned: 500,
                    last_id: Some(1),
                    last_keys: Some(vec![Some(newest.to_owned())]),
                    done: false,
                },
            ),
        },
        Shape {
            name: "threads by id_customer, by id",
            alias: "main",
            keys: &["id_customer"],
            ordered: true,
            sql: list_sql(
                t,
                tables,
                &list(Some((field(t, "id_customer"), "1")), &[]),
                &start,
            ),
        },
        Shape {
            name: "messages by id_customer_thread, oldest first",
            alias: "main",
            keys: &["threadgate_thread_add"],
            ordered: true,
            sql: list_sql(
                m,
                tables,
                &list(
                    Some((field(m, "id_customer_thread"), "1")),
                    &[(field(m, "date_add"), Direction::Asc)],
                ),
                &start,
            ),
        },
    ]);
    shapes.extend(bridge_shapes(tables));
    shapes.push(Shape {
        name: "event watcher: threads changed since its mark, oldest first",
        alias: "t",
        keys: &["threadgate_upd"],
        ordered: true,
        sql: events::changed_threads_sql(tables, None, Some(newest)),
    });
    shapes
}

/// The bridges' statements (`db::bridge`) that read many rows.
fn bridge_shapes(tables: &Tables) -> [Shape; 3] {
    [
        Shape {
            name: "bridge M10: a thread's messages, oldest first",
            alias: "m",
            keys: &["threadgate_thread_add"],
            ordered: true,
            sql: bridge::messages_sql(tables, 1),
        },
        Shape {
            name: "bridge thread list: a customer's threads in a department",
            alias: "t",
            keys: &["id_customer"],
            ordered: true,
            sql: bridge::customer_threads_sql(tables, 1, 1),
        },
        Shape {
            name: "bridge thread list: those threads' messages",
            alias: "m",
            keys: &["threadgate_thread_add", "id_customer_thread"],
            // Ordered by the joined table's columns: MariaDB sorts the customer's messages.
            ordered: false,
            sql: bridge::customer_thread_messages_sql(tables, 1, 1),
        },
    ]
}

/// One row of `EXPLAIN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExplainRow {
    pub table: String,
    #[serde(rename = "type")]
    pub access: String,
    pub key: Option<String>,
    pub rows: Option<String>,
    pub extra: String,
}

/// A query shape and whether an index serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShapeReport {
    pub shape: String,
    pub served: bool,
    /// The keys that would serve it.
    pub wants: Vec<String>,
    /// `EXPLAIN`, row of the table the index decides first.
    pub explain: Vec<ExplainRow>,
}

/// One of [`INDEXES`] on this shop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndexReport {
    pub name: String,
    pub table: String,
    pub columns: String,
    /// `present`, `missing`, `differs` (a `threadgate_` index of that name with other
    /// columns: left alone) or `no table`.
    pub state: String,
    /// Size from `mysql.innodb_index_stats`, when readable.
    pub bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub prefix: String,
    pub indexes: Vec<IndexReport>,
    pub shapes: Vec<ShapeReport>,
    /// `ALTER TABLE` statements run by `--apply` / `--revert`.
    pub changed: Vec<String>,
    /// Statements MariaDB refused, with its error (e.g. a key too long for an old row format):
    /// the other indexes are still added.
    pub failed: Vec<String>,
}

/// An index on a table: name and (column, descending) in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub name: String,
    pub columns: Vec<(String, bool)>,
}

fn table_name(tables: &Tables, table: &str) -> String {
    format!("{}{}", tables.prefix, table)
}

/// The indexes of one table (`information_schema.STATISTICS`); empty when it does not exist.
pub fn indexes_of(
    conn: &mut MysqlConnection,
    tables: &Tables,
    table: &str,
) -> anyhow::Result<Vec<Existing>> {
    let mut q = Sql::new(
        "SELECT CAST(INDEX_NAME AS CHAR), CAST(COLUMN_NAME AS CHAR), CAST(COLLATION AS CHAR) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ",
    );
    q.bind_text(table_name(tables, table))
        .push(" ORDER BY INDEX_NAME, SEQ_IN_INDEX");
    let mut out: Vec<Existing> = Vec::new();
    for TextRow(r) in q.load(conn)? {
        let name = r[0].clone().unwrap_or_default();
        let column = (
            r[1].clone().unwrap_or_default(),
            r[2].as_deref() == Some("D"),
        );
        match out.last_mut() {
            Some(e) if e.name == name => e.columns.push(column),
            _ => out.push(Existing {
                name,
                columns: vec![column],
            }),
        }
    }
    Ok(out)
}

/// Which of `names` (without the prefix) are tables of the database: one statement for all.
fn existing_tables(
    conn: &mut MysqlConnection,
    tables: &Tables,
    names: &[&'static str],
) -> anyhow::Result<Vec<&'static str>> {
    let full: Vec<String> = names.iter().map(|t| table_name(tables, t)).collect();
    let mut q = Sql::new(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ",
    );
    q.bind_text_list(full.iter().map(String::as_str));
    let found: Vec<String> = q
        .load(conn)?
        .into_iter()
        .filter_map(|r| r.0.into_iter().next().flatten())
        .collect();
    // The column's collation compares names without case: so does this.
    Ok(names
        .iter()
        .zip(&full)
        .filter(|(_, f)| found.iter().any(|t| t.eq_ignore_ascii_case(f)))
        .map(|(n, _)| *n)
        .collect())
}

/// Bytes of an index (`mysql.innodb_index_stats`: pages × page size), if the user may read it.
fn index_bytes(conn: &mut MysqlConnection, tables: &Tables, def: &IndexDef) -> Option<u64> {
    let mut q = Sql::new(
        "SELECT CAST(s.stat_value * @@innodb_page_size AS CHAR) FROM mysql.innodb_index_stats s \
         WHERE s.database_name = DATABASE() AND s.stat_name = 'size' AND s.table_name = ",
    );
    q.bind_text(table_name(tables, def.table))
        .push(" AND s.index_name = ")
        .bind_text(def.name);
    let rows = q.load(conn).ok()?;
    opt(rows.first()?.0.first()?)
}

fn matches(def: &IndexDef, e: &Existing) -> bool {
    e.columns.len() == def.columns.len()
        && e.columns
            .iter()
            .zip(def.columns)
            .all(|((c, d), (dc, dd))| c.eq_ignore_ascii_case(dc) && d == dd)
}

/// `EXPLAIN` of a statement, its values bound as threadgate binds them.
fn explain(conn: &mut MysqlConnection, sql: &Sql) -> anyhow::Result<Vec<ExplainRow>> {
    let mut q = sql.clone();
    q.text = format!("EXPLAIN {}", q.text);
    q.cacheable = false;
    // id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
    Ok(q.load(conn)?
        .into_iter()
        .map(|TextRow(r)| ExplainRow {
            table: r.get(2).cloned().flatten().unwrap_or_default(),
            access: r.get(3).cloned().flatten().unwrap_or_default(),
            key: r.get(5).cloned().flatten(),
            rows: r.get(8).cloned().flatten(),
            extra: r.get(9).cloned().flatten().unwrap_or_default(),
        })
        .collect())
}

/// Refuses a prefix without the shop's tables (a typo must not look like "nothing to do") or
/// without threadgate's (the list statements read its state). Returns which of [`INDEXES`]'
/// tables exist, read with the others in one statement.
fn check_tables(conn: &mut MysqlConnection, tables: &Tables) -> anyhow::Result<Vec<&'static str>> {
    const REQUIRED: [(&str, &str); 3] = [
        ("customer_thread", "check THREADGATE_TABLE_PREFIX"),
        ("customer_message", "check THREADGATE_TABLE_PREFIX"),
        ("threadgate_state", "run `threadgate migrate` first"),
    ];
    let mut names: Vec<&'static str> = REQUIRED.iter().map(|(t, _)| *t).collect();
    names.extend(managed_tables());
    let existing = existing_tables(conn, tables, &names)?;
    for (table, hint) in REQUIRED {
        if !existing.contains(&table) {
            anyhow::bail!("no table {}: {hint}", table_name(tables, table));
        }
    }
    Ok(existing)
}

/// Reads the schema and explains every shape.
pub fn report(conn: &mut MysqlConnection, tables: &Tables) -> anyhow::Result<Report> {
    let existing = check_tables(conn, tables)?;
    let mut report = Report {
        prefix: tables.prefix.clone(),
        ..Report::default()
    };
    for def in INDEXES {
        let state = if !existing.contains(&def.table) {
            "no table"
        } else {
            match indexes_of(conn, tables, def.table)?
                .iter()
                .find(|e| e.name == def.name)
            {
                None => "missing",
                Some(e) if matches(def, e) => "present",
                Some(_) => "differs",
            }
        };
        report.indexes.push(IndexReport {
            name: def.name.to_owned(),
            table: table_name(tables, def.table),
            columns: def.column_list(),
            state: state.to_owned(),
            bytes: if state == "present" {
                index_bytes(conn, tables, def)
            } else {
                None
            },
        });
    }
    let newest = Sql::new(format!(
        "SELECT CAST(MAX(date_upd) AS CHAR) FROM {}",
        tables.name("customer_thread")
    ))
    .load(conn)?
    .into_iter()
    .next()
    .and_then(|r| r.0.into_iter().next().flatten())
    .unwrap_or_else(|| "2024-01-01 00:00:00".to_owned());
    for shape in shapes(tables, &newest) {
        let rows = explain(conn, &shape.sql)?;
        let first = rows.iter().find(|r| r.table == shape.alias);
        let keyed =
            first.is_some_and(|r| r.key.as_deref().is_some_and(|k| shape.keys.contains(&k)));
        let sorted = rows.iter().any(|r| r.extra.contains("Using filesort"));
        report.shapes.push(ShapeReport {
            shape: shape.name.to_owned(),
            served: keyed && (!shape.ordered || !sorted),
            wants: shape.keys.iter().map(|k| (*k).to_owned()).collect(),
            explain: rows,
        });
    }
    Ok(report)
}

/// Adds the missing [`INDEXES`] online; returns the statements run and those MariaDB refused
/// (each with its error; one refused index does not stop the others).
pub fn apply(
    conn: &mut MysqlConnection,
    tables: &Tables,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let existing = check_tables(conn, tables)?;
    let mut run = Vec::new();
    let mut failed = Vec::new();
    for def in INDEXES {
        if !existing.contains(&def.table) {
            continue;
        }
        let existing = indexes_of(conn, tables, def.table)?;
        if existing.iter().any(|e| e.name == def.name) {
            continue;
        }
        let sql = format!(
            "ALTER TABLE {} ADD INDEX `{}` {}, ALGORITHM=INPLACE, LOCK=NONE",
            tables.name(def.table),
            def.name,
            def.column_list()
        );
        match Sql::new(sql.clone()).execute(conn) {
            Ok(_) => run.push(sql),
            Err(e) => failed.push(format!("{sql}: {e}")),
        }
    }
    Ok((run, failed))
}

/// Drops every `threadgate_` index of the tables [`INDEXES`] names, and no other index.
pub fn revert(conn: &mut MysqlConnection, tables: &Tables) -> anyhow::Result<Vec<String>> {
    check_tables(conn, tables)?;
    let mut run = Vec::new();
    for table in managed_tables() {
        for e in indexes_of(conn, tables, table)? {
            if !e.name.starts_with(PREFIX) {
                continue;
            }
            let sql = format!(
                "ALTER TABLE {} DROP INDEX `{}`, ALGORITHM=INPLACE, LOCK=NONE",
                tables.name(table),
                e.name.replace('`', "``")
            );
            Sql::new(sql.clone()).execute(conn)?;
            run.push(sql);
        }
    }
    Ok(run)
}

fn explain_text(r: &ExplainRow) -> String {
    format!(
        "{}: type {}, key {}, rows {}, Extra: {}",
        r.table,
        r.access,
        r.key.as_deref().unwrap_or("NULL"),
        r.rows.as_deref().unwrap_or("NULL"),
        if r.extra.is_empty() { "-" } else { &r.extra }
    )
}

/// The report as lines meant for people.
pub fn text(report: &Report) -> String {
    let mut s = String::new();
    for c in &report.changed {
        s.push_str(&format!("ran: {c}\n"));
    }
    for f in &report.failed {
        s.push_str(&format!("FAILED: {f}\n"));
    }
    s.push_str(&format!("indexes (prefix {}):\n", report.prefix));
    for i in &report.indexes {
        s.push_str(&format!(
            "  {} on {} {}: {}{}\n",
            i.name,
            i.table,
            i.columns,
            i.state,
            i.bytes
                .map(|b| format!(", {:.1} MiB", b as f64 / 1_048_576.0))
                .unwrap_or_default()
        ));
    }
    s.push_str("query shapes:\n");
    for sh in &report.shapes {
        s.push_str(&format!(
            "  {}: {} (wants {})\n",
            sh.shape,
            if sh.served { "served" } else { "NOT served" },
            sh.wants.join(" or ")
        ));
        for r in &sh.explain {
            s.push_str(&format!("    {}\n", explain_text(r)));
        }
    }
    let missing = report
        .indexes
        .iter()
        .filter(|i| i.state == "missing")
        .count();
    if missing > 0 {
        s.push_str(&format!(
            "{missing} index(es) missing: `threadgate tune --apply` adds them online\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_is_named_with_the_prefix_and_lists_its_columns() {
        for def in INDEXES {
            assert!(def.name.starts_with(PREFIX), "{}", def.name);
        }
        assert_eq!(INDEXES[0].column_list(), "(`id_customer`, `date_upd` DESC)");
    }

    #[test]
    fn tables_migrate_creates_have_every_index_from_the_start() {
        let up = include_str!("../../migrations/2026-11-21-000001_prestashop_tables/up.sql");
        for def in INDEXES {
            let create = up
                .split("CREATE TABLE IF NOT EXISTS `ps_")
                .find(|part| part.starts_with(&format!("{}`", def.table)))
                .expect("the table is created there");
            assert!(
                create.contains(&format!("KEY `{}` {}", def.name, def.column_list())),
                "{} missing from the CREATE TABLE of {}",
                def.name,
                def.table
            );
        }
        assert_eq!(up.matches("KEY `threadgate_").count(), INDEXES.len());
    }

    #[test]
    fn the_list_shapes_are_the_statements_threadgate_sends() {
        let s = shapes(&Tables::new("shop2_"), "2024-01-01 00:00:00");
        assert_eq!(
            s[0].sql.text,
            "SELECT CAST(main.`id_customer_thread` AS CHAR), (SELECT CAST(key_generation AS CHAR) FROM `shop2_threadgate_state` WHERE id = 1) FROM `shop2_customer_thread` main WHERE 1 AND main.`id_customer` = ? ORDER BY main.`date_upd` DESC, main.`id_customer_thread` ASC LIMIT ?, ?"
        );
        assert!(
            s[4].sql.text.contains(
                " AND (((main.`date_upd` < ? OR main.`date_upd` IS NULL)) OR (main.`date_upd` = ? AND main.`id_customer_thread` > ?))"
            ),
            "{}",
            s[4].sql.text
        );
    }
}

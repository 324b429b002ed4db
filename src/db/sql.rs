//! Statements as text plus bound parameters, and rows as strings (read as numbers with [`num`]
//! and [`opt`]).
//!
//! diesel's static DSL needs table names at compile time; a shop's prefix is only known at run
//! time. [`Sql`] is a query fragment whose text is built here and whose values are always bound
//! parameters (never spliced into the text). Unlike `diesel::sql_query`, it lets diesel keep the
//! prepared statement for fixed-shape statements (`cacheable`), so the hot paths cost one
//! `COM_STMT_EXECUTE` round trip; statements whose shape depends on the request (filters) are
//! not cached, so no client can grow the server's statement cache.

use diesel::deserialize::{self, FromSql, QueryableByName};
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::row::{Field, NamedRow, Row};
use diesel::sql_types::{BigInt, Nullable, Text, Untyped};
use diesel::{QueryResult, RunQueryDsl};
use std::str::FromStr;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    Text(String),
    Int(i64),
    /// SQL NULL, typed as text or as an integer (`PATCH`'s unsent columns, `db::writes`).
    NullText,
    NullInt,
}

static NULL_TEXT: Option<String> = None;
static NULL_INT: Option<i64> = None;

/// A statement: text with `?` placeholders and their values, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sql {
    pub text: String,
    pub binds: Vec<Bind>,
    /// Keep the prepared statement in the connection's cache (fixed shapes only).
    pub cacheable: bool,
}

impl Sql {
    pub fn new(text: impl Into<String>) -> Sql {
        Sql {
            text: text.into(),
            binds: Vec::new(),
            cacheable: false,
        }
    }

    pub fn cached(mut self) -> Sql {
        self.cacheable = true;
        self
    }

    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends `?` and binds `value` as text.
    pub fn bind_text(&mut self, value: impl Into<String>) -> &mut Sql {
        self.text.push('?');
        self.binds.push(Bind::Text(value.into()));
        self
    }

    /// Appends `?` and binds `value` as a signed 64-bit integer (LIMIT, keyset bounds).
    pub fn bind_int(&mut self, value: i64) -> &mut Sql {
        self.text.push('?');
        self.binds.push(Bind::Int(value));
        self
    }

    /// Appends `(?, ?, ...)` with one bound integer per id (an `IN` list).
    pub fn bind_int_list(&mut self, ids: impl IntoIterator<Item = i64>) -> &mut Sql {
        self.bind_list(ids, |q, id| {
            q.bind_int(id);
        })
    }

    /// Appends `(?, ?, ...)` with one bound text per value (an `IN` list).
    pub fn bind_text_list<'a>(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Sql {
        self.bind_list(values, |q, v| {
            q.bind_text(v);
        })
    }

    fn bind_list<T>(
        &mut self,
        values: impl IntoIterator<Item = T>,
        bind: impl Fn(&mut Sql, T),
    ) -> &mut Sql {
        self.text.push('(');
        for (n, v) in values.into_iter().enumerate() {
            if n > 0 {
                self.text.push_str(", ");
            }
            bind(self, v);
        }
        self.text.push(')');
        self
    }

    /// Appends `?` and binds SQL NULL (an integer NULL with `int`).
    pub fn bind_null(&mut self, int: bool) -> &mut Sql {
        self.text.push('?');
        self.binds
            .push(if int { Bind::NullInt } else { Bind::NullText });
        self
    }

    pub fn load(self, conn: &mut MysqlConnection) -> QueryResult<Vec<TextRow>> {
        RunQueryDsl::load(self, conn)
    }

    pub fn execute(self, conn: &mut MysqlConnection) -> QueryResult<usize> {
        RunQueryDsl::execute(self, conn)
    }
}

impl QueryFragment<Mysql> for Sql {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Mysql>) -> QueryResult<()> {
        if !self.cacheable {
            out.unsafe_to_cache_prepared();
        }
        let mut binds = self.binds.iter();
        let mut pieces = self.text.split('?');
        if let Some(first) = pieces.next() {
            out.push_sql(first);
        }
        for piece in pieces {
            match binds.next() {
                Some(Bind::Text(s)) => out.push_bind_param::<Text, _>(s)?,
                Some(Bind::Int(i)) => out.push_bind_param::<BigInt, _>(i)?,
                Some(Bind::NullText) => out.push_bind_param::<Nullable<Text>, _>(&NULL_TEXT)?,
                Some(Bind::NullInt) => out.push_bind_param::<Nullable<BigInt>, _>(&NULL_INT)?,
                None => {
                    return Err(diesel::result::Error::QueryBuilderError(
                        "more placeholders than bound values".into(),
                    ))
                }
            }
            out.push_sql(piece);
        }
        Ok(())
    }
}

impl QueryId for Sql {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Sql {
    type SqlType = Untyped;
}

impl RunQueryDsl<MysqlConnection> for Sql {}

/// A text column as a number: 0 (the type's default) when NULL or not a number.
pub fn num<T: FromStr + Default>(v: &Option<String>) -> T {
    opt(v).unwrap_or_default()
}

/// A text column as a number, `None` when NULL or not a number.
pub fn opt<T: FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().and_then(|s| s.parse().ok())
}

/// A row of nullable strings, by column position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRow(pub Vec<Option<String>>);

impl QueryableByName<Mysql> for TextRow {
    fn build<'a>(row: &impl NamedRow<'a, Mysql>) -> deserialize::Result<Self> {
        let n = Row::field_count(row);
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let field = Row::get(row, i).ok_or("column index out of range")?;
            values.push(match field.value() {
                None => None,
                Some(v) => Some(<String as FromSql<Text, Mysql>>::from_sql(v)?),
            });
        }
        Ok(TextRow(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binds_follow_placeholders_in_order() {
        let mut q = Sql::new("SELECT a FROM t WHERE b = ");
        q.bind_text("x").push(" LIMIT ").bind_int(5);
        assert_eq!(q.text, "SELECT a FROM t WHERE b = ? LIMIT ?");
        assert_eq!(q.binds, vec![Bind::Text("x".into()), Bind::Int(5)]);
        assert!(!q.cacheable);
    }

    #[test]
    fn in_lists_bind_every_value() {
        let mut q = Sql::new("SELECT 1 FROM t WHERE a IN ");
        q.bind_text_list(["x", "y"])
            .push(" AND b IN ")
            .bind_int_list([3]);
        assert_eq!(q.text, "SELECT 1 FROM t WHERE a IN (?, ?) AND b IN (?)");
        assert_eq!(
            q.binds,
            vec![Bind::Text("x".into()), Bind::Text("y".into()), Bind::Int(3)]
        );
    }

    #[test]
    fn text_columns_read_as_numbers() {
        assert_eq!(num::<u32>(&Some("42".into())), 42);
        assert_eq!(num::<u32>(&Some("-1".into())), 0);
        assert_eq!(num::<u64>(&None), 0);
        assert_eq!(opt::<i64>(&Some("-7".into())), Some(-7));
        assert_eq!(opt::<u32>(&Some("x".into())), None);
        assert_eq!(opt::<u32>(&None), None);
    }

    #[test]
    fn rendered_sql_keeps_values_out_of_the_text() {
        let mut q = Sql::new("SELECT 1 FROM t WHERE e = ");
        q.bind_text("' OR 1=1 --");
        let shown = diesel::debug_query::<Mysql, _>(&q).to_string();
        assert!(
            shown.starts_with("SELECT 1 FROM t WHERE e = ? -- binds: "),
            "{shown}"
        );
    }
}

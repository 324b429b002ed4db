//! Writing rows. Callers run these inside one transaction (`Connection::transaction`), so a
//! request that writes several rows (several entities, several ids, a thread and its messages)
//! is all or nothing.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;
use super::Tables;
use crate::resource::store::StoredValue;
use crate::resource::ResourceDef;

fn bind(q: &mut Sql, v: &StoredValue) {
    match v {
        StoredValue::Int(i) => q.bind_int(*i),
        StoredValue::Text(s) => q.bind_text(s.as_str()),
    };
}

/// `INSERT` of one row; `columns` are (field index, value). Returns the new id.
pub fn insert(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    columns: &[(usize, StoredValue)],
) -> QueryResult<i64> {
    let mut q = Sql::new(format!("INSERT INTO {} (", tables.name(res.table)));
    for (n, (i, _)) in columns.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.push(&format!("`{}`", res.fields[*i].column));
    }
    q.push(") VALUES (");
    for (n, (_, v)) in columns.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        bind(&mut q, v);
    }
    q.push(")");
    q.execute(conn)?;
    Sql::new("SELECT CAST(LAST_INSERT_ID() AS CHAR)")
        .cached()
        .load(conn)?
        .first()
        .and_then(|r| r.0[0].as_deref().and_then(|s| s.parse().ok()))
        .ok_or(diesel::result::Error::NotFound)
}

/// `UPDATE` of one row by id.
pub fn update(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    id: i64,
    columns: &[(usize, StoredValue)],
) -> QueryResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(format!("UPDATE {} SET ", tables.name(res.table)));
    for (n, (i, v)) in columns.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.push(&format!("`{}` = ", res.fields[*i].column));
        bind(&mut q, v);
    }
    q.push(&format!(" WHERE `{}` = ", res.id_column()))
        .bind_int(id);
    q.execute(conn)?;
    Ok(())
}

fn in_list(q: &mut Sql, ids: &[i64]) {
    q.push("(");
    for (n, id) in ids.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.bind_int(*id);
    }
    q.push(")");
}

/// Which of `ids` exist, locking them until the transaction ends (`FOR UPDATE`), so a
/// concurrent writer waits instead of interleaving.
pub fn existing(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    ids: &[i64],
) -> QueryResult<Vec<i64>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(format!(
        "SELECT CAST(`{pk}` AS CHAR) FROM {t} WHERE `{pk}` IN ",
        pk = res.id_column(),
        t = tables.name(res.table)
    ));
    in_list(&mut q, ids);
    q.push(" FOR UPDATE");
    Ok(q.load(conn)?
        .into_iter()
        .filter_map(|r| r.0[0].as_deref().and_then(|s| s.parse().ok()))
        .collect())
}

/// The stored `date_add` of a row (PUT without `date_add` keeps it, decisions W23).
pub fn date_add(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    id: i64,
) -> QueryResult<String> {
    let mut q = Sql::new(format!(
        "SELECT CAST(`date_add` AS CHAR) FROM {} WHERE `{}` = ",
        tables.name(res.table),
        res.id_column()
    ));
    q.bind_int(id);
    Ok(q.load(conn)?
        .first()
        .and_then(|r| r.0[0].clone())
        .unwrap_or_default())
}

/// Deletes rows by id; a resource's associated rows go first (a thread's messages, as
/// `CustomerThread::delete` does). Returns the number of rows of `res` deleted.
pub fn delete(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    ids: &[i64],
) -> QueryResult<usize> {
    if ids.is_empty() {
        return Ok(0);
    }
    for a in res.associations {
        let mut q = Sql::new(format!(
            "DELETE FROM {} WHERE `{}` IN ",
            tables.name(a.table),
            a.parent_column
        ));
        in_list(&mut q, ids);
        q.execute(conn)?;
    }
    let mut q = Sql::new(format!(
        "DELETE FROM {} WHERE `{}` IN ",
        tables.name(res.table),
        res.id_column()
    ));
    in_list(&mut q, ids);
    q.execute(conn)
}

//! Writing rows, and the write transaction itself ([`begin`], [`commit`], [`rollback`]).
//!
//! A request's writes run in one transaction, so a request that writes several rows (several
//! entities, several ids, a thread and its messages) is all or nothing. Every statement here is
//! a kept prepared statement of a fixed shape, so each costs one `COM_STMT_EXECUTE` round trip
//! (docs/architecture.md, "Writes: statements per write"). diesel's `Connection::transaction`
//! is not used on this path: it sends `BEGIN` and `COMMIT` through `batch_execute`, which
//! switches the connection's multi-statement option on and off around each (`COM_SET_OPTION`),
//! three round trips for each of the two.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{opt, Sql};
use super::Tables;
use crate::resource::store::StoredValue;
use crate::resource::{FieldType, ResourceDef};

/// `START TRANSACTION`, one round trip. The caller must end it with [`commit`] or
/// [`rollback`] before the connection goes back to the pool.
pub fn begin(conn: &mut MysqlConnection) -> QueryResult<()> {
    Sql::new("START TRANSACTION").cached().execute(conn)?;
    Ok(())
}

/// `COMMIT`, one round trip.
pub fn commit(conn: &mut MysqlConnection) -> QueryResult<()> {
    Sql::new("COMMIT").cached().execute(conn)?;
    Ok(())
}

/// `ROLLBACK`, one round trip.
pub fn rollback(conn: &mut MysqlConnection) -> QueryResult<()> {
    Sql::new("ROLLBACK").cached().execute(conn)?;
    Ok(())
}

fn bind(q: &mut Sql, v: &StoredValue) {
    match v {
        StoredValue::Int(i) => q.bind_int(*i),
        StoredValue::Text(s) => q.bind_text(s.as_str()),
    };
}

/// `INSERT` of one row; `columns` are (field index, value). The new id is read back with
/// `LAST_INSERT_ID()` by the statement that reads the stored row ([`super::reads::last_inserted`]).
/// `cacheable`: the column list has a fixed shape (POST writes every field), so the prepared
/// statement is kept.
pub fn insert(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    columns: &[(usize, StoredValue)],
    cacheable: bool,
) -> QueryResult<()> {
    let mut q = Sql::new(format!("INSERT INTO {} (", tables.name(res.table)));
    q.cacheable = cacheable;
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
    Ok(())
}

/// `UPDATE` of one row by id. `columns` are (field index, value), `None` keeping the stored
/// value. When every value is given the statement is `` `c` = ? `` per column; otherwise every
/// column is written `` `c` = COALESCE(?, `c`) `` with NULL bound for a kept one, so the shape
/// does not depend on which fields a PATCH sent. Either way the statement is kept prepared
/// (two shapes per column list). A stored value is never NULL (`resource::store`), so
/// `COALESCE` keeps exactly the unsent columns.
pub fn update(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    id: i64,
    columns: &[(usize, Option<StoredValue>)],
) -> QueryResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    let keeps = columns.iter().any(|(_, v)| v.is_none());
    let mut q = Sql::new(format!("UPDATE {} SET ", tables.name(res.table)));
    q.cacheable = true;
    for (n, (i, v)) in columns.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        let f = &res.fields[*i];
        q.push(&format!("`{}` = ", f.column));
        if keeps {
            q.push("COALESCE(");
        }
        match v {
            Some(v) => bind(&mut q, v),
            None => {
                let int = matches!(f.kind, FieldType::Int | FieldType::Bool | FieldType::Id);
                q.bind_null(int);
            }
        }
        if keeps {
            q.push(&format!(", `{}`)", f.column));
        }
    }
    q.push(&format!(" WHERE `{}` = ", res.id_column()))
        .bind_int(id);
    q.execute(conn)?;
    Ok(())
}

/// Which of `ids` exist, locking them until the transaction ends (`FOR UPDATE`), so a
/// concurrent writer waits instead of interleaving; and the key store's generation (a scalar
/// subquery on each row, read separately when no id exists), as this is a write's first
/// statement (`http::access::Guard`). DELETE runs it first; PUT and PATCH only when an entity
/// is refused, to answer a missing id before the refusal as PrestaShop does.
pub fn existing(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    ids: &[i64],
) -> QueryResult<(Vec<i64>, u64)> {
    let mut found = Vec::with_capacity(ids.len());
    let mut generation = None;
    if !ids.is_empty() {
        let mut q = Sql::new(format!(
            "SELECT CAST(`{pk}` AS CHAR), (SELECT CAST(key_generation AS CHAR) FROM {state} WHERE id = 1) FROM {t} WHERE `{pk}` IN ",
            pk = res.id_column(),
            t = tables.name(res.table),
            state = tables.name("threadgate_state"),
        ));
        // One id (nearly every PUT) is a fixed shape.
        q.cacheable = ids.len() == 1;
        q.bind_int_list(ids.iter().copied());
        q.push(" FOR UPDATE");
        for r in q.load(conn)? {
            found.extend(opt::<i64>(&r.0[0]));
            generation = generation.or_else(|| opt(&r.0[1]));
        }
    }
    let generation = match generation {
        Some(g) => g,
        None => super::shop::key_generation(conn, tables)?,
    };
    Ok((found, generation))
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
        q.bind_int_list(ids.iter().copied());
        q.execute(conn)?;
    }
    let mut q = Sql::new(format!(
        "DELETE FROM {} WHERE `{}` IN ",
        tables.name(res.table),
        res.id_column()
    ));
    q.bind_int_list(ids.iter().copied());
    q.execute(conn)
}

/// Slots of `threadgate_data_generation`, taken in turn by the writes of this process.
const DATA_GENERATION_SLOTS: u64 = 16;
static NEXT_SLOT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bumps the data generation every threadgate node reads with its key poll (docs/architecture.md,
/// "Several nodes, one truth"): one of sixteen rows, in turn, so concurrent writes rarely wait
/// for each other's lock on it. Run last in a write's transaction, so the row is locked only
/// from here to COMMIT, and rolled back with the write when it fails.
pub fn bump_data_generation(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<()> {
    let slot = NEXT_SLOT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % DATA_GENERATION_SLOTS;
    let mut q = Sql::new(format!(
        "UPDATE {} SET `writes` = `writes` + 1 WHERE `slot` = ",
        tables.name("threadgate_data_generation")
    ));
    q.bind_int(slot as i64);
    q.cached().execute(conn)?;
    Ok(())
}

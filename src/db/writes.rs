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

/// `UPDATE` of one row by id. `cacheable` as for [`insert`] (PUT's column lists have two
/// shapes, with and without `date_add`; PATCH's depend on the body and are not kept).
pub fn update(
    conn: &mut MysqlConnection,
    tables: &Tables,
    res: &ResourceDef,
    id: i64,
    columns: &[(usize, StoredValue)],
    cacheable: bool,
) -> QueryResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    let mut q = Sql::new(format!("UPDATE {} SET ", tables.name(res.table)));
    q.cacheable = cacheable;
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
/// concurrent writer waits instead of interleaving; and the key store's generation (a scalar
/// subquery on each row, read separately when no id exists), as this is a write's first
/// statement (`http::access::Guard`).
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
        in_list(&mut q, ids);
        q.push(" FOR UPDATE");
        for r in q.load(conn)? {
            found.extend(r.0[0].as_deref().and_then(|s| s.parse::<i64>().ok()));
            generation = generation.or_else(|| r.0[1].as_deref().and_then(|s| s.parse().ok()));
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

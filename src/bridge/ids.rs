//! The thread list's references resolved to database ids (docs/bridges.md): decimals as sent,
//! the synthetic department `contact:0`, then an in-memory index of every row's UUIDv5
//! ([`IdIndex`]) that learns the rows added since on a miss.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;
use uuid::Uuid;

use super::{uuid_of, IdRef, RowKind};
use crate::db::bridge::ids_after;
use crate::db::{self, Pool, Tables};
use crate::error::DbError;

/// UUID → id for the thread list's path and body references (docs/bridges.md#reading-ids). UUIDv5
/// is not reversible, so each entity's ids are hashed once and kept; a miss learns the rows added
/// since (`id > highest known`), so a new customer is found on its first request and an
/// unknown UUID costs one indexed range read that returns nothing. Rows are never forgotten:
/// callers still check existence, so a deleted row is not served.
#[derive(Debug, Default)]
pub struct IdIndex {
    known: RwLock<HashMap<RowKind, Known>>,
}

#[derive(Debug, Default)]
struct Known {
    by_uuid: HashMap<Uuid, u32>,
    highest: u32,
}

impl IdIndex {
    /// The id whose uuid5 is `uuid`, among the rows already learnt (no statement).
    pub fn lookup(&self, entity: RowKind, uuid: &Uuid) -> Option<u32> {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.get(&entity)?.by_uuid.get(uuid).copied()
    }

    /// Records ids (as `ids_after` returns them) for `entity`.
    pub fn learn(&self, namespace: &Uuid, entity: RowKind, ids: &[u32]) {
        let mut known = self.known.write().unwrap_or_else(|e| e.into_inner());
        let k = known.entry(entity).or_default();
        for &id in ids {
            k.by_uuid.insert(uuid_of(namespace, entity, id), id);
            k.highest = k.highest.max(id);
        }
    }

    fn highest(&self, entity: RowKind) -> u32 {
        let known = self.known.read().unwrap_or_else(|e| e.into_inner());
        known.get(&entity).map_or(0, |k| k.highest)
    }

    /// The id whose uuid5 is `uuid`, learning new rows on a miss.
    pub fn resolve(
        &self,
        conn: &mut MysqlConnection,
        tables: &Tables,
        namespace: &Uuid,
        entity: RowKind,
        uuid: &Uuid,
    ) -> QueryResult<Option<u32>> {
        if let Some(id) = self.lookup(entity, uuid) {
            return Ok(Some(id));
        }
        let (table, column) = table_of(entity);
        let ids = ids_after(conn, tables, table, column, self.highest(entity))?;
        self.learn(namespace, entity, &ids);
        Ok(self.lookup(entity, uuid))
    }
}

/// The table and primary key of an entity.
fn table_of(entity: RowKind) -> (&'static str, &'static str) {
    match entity {
        RowKind::Shop => ("shop", "id_shop"),
        RowKind::Contact => ("contact", "id_contact"),
        RowKind::Customer => ("customer", "id_customer"),
        RowKind::Employee => ("employee", "id_employee"),
    }
}

/// A path or body reference resolved as far as memory allows.
pub enum Lookup {
    /// Nothing was sent.
    Absent,
    Id(u32),
    /// A UUID the index does not know yet.
    Unknown(RowKind, Uuid),
}

impl Lookup {
    pub fn id(&self) -> Option<u32> {
        match self {
            Lookup::Id(n) => Some(*n),
            _ => None,
        }
    }
}

/// Decimals as sent, the synthetic department `contact:0`, then the index
/// (docs/bridges.md#reading-ids).
pub fn lookup(ids: &IdIndex, ns: &Uuid, entity: RowKind, r: Option<IdRef>) -> Lookup {
    match r {
        None => Lookup::Absent,
        Some(IdRef::Decimal(n)) => Lookup::Id(n),
        Some(IdRef::Uuid(u))
            if entity == RowKind::Contact && u == uuid_of(ns, RowKind::Contact, 0) =>
        {
            Lookup::Id(0)
        }
        Some(IdRef::Uuid(u)) => ids
            .lookup(entity, &u)
            .map_or(Lookup::Unknown(entity, u), Lookup::Id),
    }
}

/// Resolves the UUIDs memory did not know, learning the rows added since (one statement per
/// entity). `None` both for a reference not sent and for one that names no row: the caller
/// knows which references it sent.
pub async fn learn(
    pool: &Pool,
    tables: &Tables,
    ids: &Arc<IdIndex>,
    ns: Uuid,
    refs: [Lookup; 3],
) -> Result<[Option<u32>; 3], DbError> {
    if !refs.iter().any(|r| matches!(r, Lookup::Unknown(..))) {
        return Ok(refs.map(|r| r.id()));
    }
    let tables = tables.clone();
    let ids = ids.clone();
    db::run(pool, move |conn| {
        let mut out = [None; 3];
        for (slot, r) in out.iter_mut().zip(refs) {
            *slot = match r {
                Lookup::Unknown(entity, u) => ids.resolve(conn, &tables, &ns, entity, &u)?,
                r => r.id(),
            };
        }
        Ok(out)
    })
    .await
}

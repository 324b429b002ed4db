//! The event log (`threadgate_event`), read side.
//!
//! Stand-in on the `delivery` branch for the module the event log's branch owns: the same
//! `Event`, `EventFilter` and `page` signature, with the simplest reading rule (every event
//! after `after_id`, in id order). The owner's version applies the feed's gap-free rule.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::Sql;
use super::Tables;

/// One row of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: u64,
    /// `thread.created`, `message.created`, ... (the `type` column).
    pub kind: String,
    pub id_customer_thread: u32,
    pub id_customer_message: Option<u32>,
    pub id_shop: u32,
    /// `api` or `shop`.
    pub source: String,
    pub id_key: Option<u32>,
    /// A JSON object, as stored.
    pub data: Option<String>,
    /// UTC, `Y-m-d H:i:s.u`.
    pub created_at: String,
}

/// Which events a reader sees (the change feed narrows by key); the default sees all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {}

fn parse<T: std::str::FromStr>(v: &Option<String>) -> Option<T> {
    v.as_deref().and_then(|s| s.parse().ok())
}

/// Up to `limit` events after `after_id`, in id order.
pub fn page(
    conn: &mut MysqlConnection,
    tables: &Tables,
    after_id: u64,
    limit: u32,
    _filter: &EventFilter,
) -> QueryResult<Vec<Event>> {
    let mut q = Sql::new(format!(
        "SELECT CAST(id AS CHAR), type, CAST(id_customer_thread AS CHAR), \
         CAST(id_customer_message AS CHAR), CAST(id_shop AS CHAR), source, CAST(id_key AS CHAR), \
         data, CAST(created_at AS CHAR) FROM {} WHERE id > ",
        tables.name("threadgate_event")
    ))
    .cached();
    q.bind_int(after_id as i64)
        .push(" ORDER BY id LIMIT ")
        .bind_int(i64::from(limit));
    Ok(q.load(conn)?
        .into_iter()
        .map(|r| Event {
            id: parse(&r.0[0]).unwrap_or(0),
            kind: r.0[1].clone().unwrap_or_default(),
            id_customer_thread: parse(&r.0[2]).unwrap_or(0),
            id_customer_message: parse(&r.0[3]),
            id_shop: parse(&r.0[4]).unwrap_or(0),
            source: r.0[5].clone().unwrap_or_default(),
            id_key: parse(&r.0[6]),
            data: r.0[7].clone(),
            created_at: r.0[8].clone().unwrap_or_default(),
        })
        .collect())
}

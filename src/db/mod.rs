//! The database layer: the pool, `db::run`, migrations, and the one place that turns a parsed
//! query into SQL (`sql`). Tables are named at run time (`Tables`), because real shops use other
//! prefixes than `ps_`, so statements are built as text with bound parameters and loaded as rows
//! of strings — exactly what PrestaShop's PDO layer returns (`ATTR_STRINGIFY_FETCHES`, §5.4).
//!
//! Must not import actix or `http`. Callers hand `run` a closure; it runs on tokio's blocking
//! pool with a pooled connection, so no connection is ever held across an `.await`.

pub mod bridge;
pub mod cache;
pub mod delivery;
pub mod events;
pub mod keys;
pub mod migrations;
pub mod reads;
pub mod schema;
pub mod shop;
pub mod sql;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection};
use diesel::mysql::MysqlConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool as R2d2Pool};

use crate::error::DbError;
use crate::metrics::{DbStats, PoolEvents};

pub type Pool = R2d2Pool<ConnectionManager<MysqlConnection>>;

/// Table names with the configured prefix.
#[derive(Debug, Clone)]
pub struct Tables {
    pub prefix: String,
}

impl Tables {
    pub fn new(prefix: &str) -> Tables {
        Tables {
            prefix: prefix.to_owned(),
        }
    }

    /// `` `ps_customer_thread` `` for `customer_thread`.
    pub fn name(&self, table: &str) -> String {
        format!("`{}{}`", self.prefix, table)
    }
}

/// Session settings applied once per new connection (never per checkout), and the hook that
/// counts the connection's statements (`metrics::DbStats`).
#[derive(Debug)]
struct SessionSetup(Arc<DbStats>);

impl CustomizeConnection<MysqlConnection, diesel::r2d2::Error> for SessionSetup {
    fn on_acquire(&self, conn: &mut MysqlConnection) -> Result<(), diesel::r2d2::Error> {
        conn.set_instrumentation(self.0.instrumentation());
        // PrestaShop's sessions run with an empty sql_mode (DbPDO, spec §5.3): the `''` status
        // it stores for an omitted status is refused in strict mode. threadgate validates,
        // casts and cuts values itself before writing, so nothing relies on silent coercion.
        conn.batch_execute("SET SESSION sql_mode = ''")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool. r2d2 would run `SELECT 1` on every checkout by default (one extra round trip
/// per request); broken connections are instead detected by the failing query and dropped.
/// Checkouts and statements are counted in `stats` (`metrics`).
pub fn pool(url: &str, size: u32, stats: Arc<DbStats>) -> Result<Pool, DbError> {
    let manager = ConnectionManager::<MysqlConnection>::new(url);
    let pool = R2d2Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(size.max(1)))
        .test_on_check_out(false)
        .connection_timeout(Duration::from_secs(10))
        .event_handler(Box::new(PoolEvents(stats.clone())))
        .connection_customizer(Box::new(SessionSetup(stats)))
        .build(manager)?;
    Ok(pool)
}

/// Runs `f` with a pooled connection on the blocking thread pool.
pub async fn run<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut MysqlConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
{
    let pool = pool.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(DbError::from)?;
        f(&mut conn)
    })
    .await
    .map_err(|_| E::from(DbError::Cancelled))?
}

//! The database layer: the pool, `db::run`, migrations, and the one place that turns a parsed
//! query into SQL (`sql`). Tables are named at run time (`Tables`), because real shops use other
//! prefixes than `ps_`, so statements are built as text with bound parameters and loaded as rows
//! of strings — exactly what PrestaShop's PDO layer returns (`ATTR_STRINGIFY_FETCHES`,
//! docs/prestashop/database.md#fetched-values).
//!
//! Must not import actix or `http`. Callers hand `run` a closure; it runs on tokio's blocking
//! pool with a pooled connection, so no connection is ever held across an `.await`. `run` waits
//! a bounded time for a connection and for the answer, and discards a connection whose
//! statement failed at the connection level (`fault`), so a restarted database is served
//! again without a restart of threadgate.

pub mod bridge;
pub mod fault;
pub mod key_store;
pub mod migrations;
pub mod reads;
pub mod replica;
pub mod schema;
pub mod shop;
pub mod sql;
pub mod tune;
pub mod writes;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::mysql::MysqlConnection;
use diesel::r2d2::{HandleError, ManageConnection, Pool as R2d2Pool, R2D2Connection};
use diesel::Connection;

pub use fault::{Fault, Health};

use crate::error::DbError;
use crate::metrics::{DbStats, PoolEvents};

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

/// A pooled connection and whether a statement on it failed at the connection level.
pub struct Conn {
    conn: MysqlConnection,
    lost: bool,
}

/// Opens connections with the session settings, and discards the ones a statement found lost.
///
/// diesel's own manager only discards a connection whose transaction manager is broken: a
/// connection to a server that restarted answers "gone away" to every statement and would be
/// handed out again and again. Checking each connection on checkout (`SELECT 1`) would cost a
/// round trip per request; instead `run` marks the connection when the closure's error says the
/// connection is gone ([`Fault`]), and `has_broken` drops it when it comes back.
#[derive(Debug)]
struct Manager {
    url: String,
    /// Every connection's statements are counted here (`metrics`).
    stats: Arc<DbStats>,
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        let mut conn =
            MysqlConnection::establish(&self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        conn.set_instrumentation(self.stats.instrumentation());
        // PrestaShop's sessions run with an empty sql_mode (`classes/db/DbPDO.php`): the `''`
        // status it stores for an omitted status is refused in strict mode. threadgate
        // validates, casts and cuts values itself before writing, so nothing relies on silent
        // coercion.
        conn.batch_execute("SET SESSION sql_mode = ''")
            .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(Conn { conn, lost: false })
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        conn.conn
            .batch_execute("DO 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.lost || std::thread::panicking() || conn.conn.is_broken()
    }
}

/// r2d2's failures to open a connection go to the outage log (r2d2's default handler logs each
/// one at `error`: dozens a second while the database is down).
#[derive(Debug)]
struct ToHealth(Arc<Health>);

impl HandleError<diesel::r2d2::Error> for ToHealth {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        self.0.failed(&error);
    }
}

/// The connection pool, its outage log and how long a request waits for the database.
#[derive(Clone)]
pub struct Pool {
    inner: R2d2Pool<Manager>,
    health: Arc<Health>,
    /// The longest one `run` waits for a connection.
    checkout: Duration,
    /// The longest one `run` takes, connection included; then the request is answered 503.
    timeout: Duration,
}

/// How a pool waits for the database.
#[derive(Debug, Clone, Copy)]
pub struct PoolTimeouts {
    /// The longest a request waits for a free connection.
    pub checkout: Duration,
    /// The longest one database step of a request (its statements on one connection) may take
    /// once it holds a connection.
    pub statements: Duration,
}

impl Default for PoolTimeouts {
    fn default() -> PoolTimeouts {
        PoolTimeouts {
            checkout: Duration::from_secs(3),
            statements: Duration::from_secs(5),
        }
    }
}

/// Builds the pool without connecting: connections are opened in the background and on demand,
/// so a server can start before its database. r2d2 would run `SELECT 1` on every checkout by
/// default (one extra round trip per request); lost connections are instead detected by the
/// failing statement and dropped ([`Manager`]).
/// Checkouts and statements are counted in `stats` (`metrics`).
pub fn pool(url: &str, size: u32, timeouts: PoolTimeouts, stats: Arc<DbStats>) -> Pool {
    build(url, size, timeouts, stats, Health::default())
}

/// The read replica's pool (`db::replica`): the same as [`pool`], but its outages are not
/// logged as the database's (the replica's health check logs them once, as the replica's).
pub fn replica_pool(url: &str, size: u32, timeouts: PoolTimeouts, stats: Arc<DbStats>) -> Pool {
    build(url, size, timeouts, stats, Health::quiet())
}

fn build(
    url: &str,
    size: u32,
    timeouts: PoolTimeouts,
    stats: Arc<DbStats>,
    health: Health,
) -> Pool {
    let health = Arc::new(health);
    let checkout = timeouts.checkout.max(Duration::from_millis(1));
    let inner = R2d2Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(size.max(1)))
        .test_on_check_out(false)
        .connection_timeout(checkout)
        .error_handler(Box::new(ToHealth(health.clone())))
        .event_handler(Box::new(PoolEvents(stats.clone())))
        .build_unchecked(Manager {
            url: url.to_owned(),
            stats,
        });
    Pool {
        inner,
        health,
        checkout,
        timeout: checkout + timeouts.statements,
    }
}

impl Pool {
    /// The outage log of this pool.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// Connections open and idle (r2d2's state).
    pub fn state(&self) -> diesel::r2d2::State {
        self.inner.state()
    }

    /// The most connections the pool opens.
    pub fn max_size(&self) -> u32 {
        self.inner.max_size()
    }

    /// The longest one [`run`] takes, connection included.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Fails at once in an outage with no connection left in the pool (see [`run_within`]).
    fn fail_fast<E: From<DbError>>(&self) -> Result<(), E> {
        if self.health.is_down() && self.inner.state().idle_connections == 0 {
            return Err(E::from(DbError::Unavailable(
                "the database is unreachable and no connection is open".into(),
            )));
        }
        Ok(())
    }

    /// What [`run`] does on its blocking thread, on the calling one: runs `f` with a connection
    /// of this pool, waiting at most `checkout` for one. A connection whose statement failed at
    /// the connection level is discarded, and the outage log follows (`db::replica` reads and
    /// checks the pools this way from its own blocking threads).
    pub fn with_conn<T, E, F>(&self, checkout: Duration, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut MysqlConnection) -> Result<T, E>,
        E: From<DbError> + Fault,
    {
        self.fail_fast()?;
        let mut conn = self.inner.get_timeout(checkout).map_err(|e| {
            self.health.failed(&e);
            DbError::Unavailable(e.to_string())
        })?;
        let result = f(&mut conn.conn);
        match result.as_ref().err().and_then(Fault::unavailable_cause) {
            Some(cause) => {
                conn.lost = true;
                self.health.failed(&cause);
            }
            None => self.health.succeeded(),
        }
        result
    }
}

/// Runs `f` with a pooled connection on the blocking thread pool. Waits at most the pool's
/// checkout time for a connection and its whole timeout for the answer, then fails with
/// [`DbError::Unavailable`] / [`DbError::TimedOut`] (503): a database that stopped answering
/// never holds a request longer. A connection whose statement failed at the connection level is
/// discarded.
pub async fn run<T, E, F>(pool: &Pool, f: F) -> Result<T, E>
where
    F: FnOnce(&mut MysqlConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Fault + Send + 'static,
{
    run_within(pool, pool.timeout, f).await
}

/// [`run`] with a shorter bound (`/readyz`).
pub async fn run_within<T, E, F>(pool: &Pool, limit: Duration, f: F) -> Result<T, E>
where
    F: FnOnce(&mut MysqlConnection) -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<DbError> + Fault + Send + 'static,
{
    // In an outage with no connection left in the pool, answer at once instead of queueing a
    // blocking thread per request for the whole checkout time: r2d2 keeps reconnecting in the
    // background (every 1.5 s at most), and the first request that finds a connection again
    // ends the outage.
    pool.fail_fast()?;
    let p = pool.clone();
    let checkout = pool.checkout.min(limit);
    let task = tokio::task::spawn_blocking(move || p.with_conn(checkout, f));
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(E::from(DbError::Cancelled)),
        Err(_) => {
            pool.health.failed(&format_args!(
                "no answer from the database within {} ms",
                limit.as_millis()
            ));
            Err(E::from(DbError::TimedOut(limit)))
        }
    }
}

//! Telling a database that went away from a statement that failed, and logging an outage once.
//!
//! A connection-level failure (the server restarted, was killed, refused the connection, or a
//! statement got no answer in time) means "the database is unavailable": the request is
//! answered 503 and the connection is discarded, so the pool refills with fresh ones. Any other
//! failure is the statement's own (500). [`Health`] turns the stream of failures into one
//! `error` line when an outage starts and one line when a statement succeeds again.
//!
//! Also here: the crate's errors read as faults ([`Fault`] for `DbError` and `ApiError`) and
//! `From<DbError> for ApiError` (503 for an outage, 500 for anything else).
//!
//! Must not import actix or `http`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::error::{ApiError, DbError};

/// Texts of the client library's and the server's connection-level errors, lower case: client
/// 2002/2003 (cannot connect), 2006 (gone away), 2013/2055 (lost connection), 2014 (commands
/// out of sync: the protocol state is lost), server 1927 (connection killed), 4031 (disconnected
/// for inactivity), 1053 (shutdown in progress), 1040 (too many connections), and the refusals
/// of the operating system. The C client exposes the number only through the statement handle
/// diesel keeps to itself, so the message is what there is to read.
const CONNECTION_LEVEL: &[&str] = &[
    "gone away",
    "lost connection",
    "can't connect",
    "connection refused",
    "refused",
    "connection was killed",
    "disconnected by the server",
    "server shutdown in progress",
    "commands out of sync",
    "too many connections",
    "broken pipe",
    "connection reset",
];

/// Whether a message from the client library or the server names a connection-level failure.
pub fn is_connection_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    CONNECTION_LEVEL.iter().any(|p| m.contains(p))
}

/// Whether a diesel error means the connection (or the server behind it) is gone.
pub fn connection_lost(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => true,
        Error::DatabaseError(_, info) => is_connection_message(info.message()),
        Error::BrokenTransactionManager => true,
        Error::RollbackErrorOnCommit { commit_error, .. } => connection_lost(commit_error),
        _ => false,
    }
}

/// Whether a diesel error says a table does not exist (server error 1146), e.g. the shop's
/// tables under a wrong `THREADGATE_TABLE_PREFIX`.
pub fn missing_table(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info)
        if info.message().contains("doesn't exist") && info.message().starts_with("Table "))
}

/// An error that may say "the database is unavailable". `db::run` asks it after the closure
/// failed: such a connection is discarded instead of going back to the pool.
pub trait Fault {
    /// Why the database is unavailable, when this error says it is.
    fn unavailable_cause(&self) -> Option<String>;

    fn is_unavailable(&self) -> bool {
        self.unavailable_cause().is_some()
    }
}

// --- the crate's errors, as faults ---

impl DbError {
    /// A statement named a table that does not exist (server error 1146): the shop's tables
    /// are not under the configured prefix, or `threadgate migrate` was not run.
    pub fn is_missing_table(&self) -> bool {
        matches!(self, DbError::Query(e) if missing_table(e))
    }
}

impl Fault for DbError {
    fn unavailable_cause(&self) -> Option<String> {
        let unavailable = match self {
            DbError::Pool(_)
            | DbError::Unavailable(_)
            | DbError::TimedOut(_)
            | DbError::NotReady => true,
            DbError::Connection(_) => true,
            DbError::Query(e) => connection_lost(e),
            DbError::Cancelled => false,
        };
        unavailable.then(|| self.to_string())
    }
}

impl Fault for ApiError {
    fn unavailable_cause(&self) -> Option<String> {
        self.cause.clone().filter(|_| self.status == 503)
    }
}

impl From<DbError> for ApiError {
    /// 503 when the database is unavailable (logged once per outage by the pool, see
    /// `db::fault::Health`), else 500 and an `error` line: a statement failed on its own.
    #[track_caller]
    fn from(e: DbError) -> ApiError {
        match e.unavailable_cause() {
            Some(cause) => ApiError::unavailable(cause),
            None => {
                tracing::error!(error = %e, "database failure");
                ApiError::internal()
            }
        }
    }
}

/// The outage log: one `error` line when the first connection-level failure of an incident is
/// seen, one `info` line when a statement succeeds again. Between the two, failures are logged
/// at `debug` only (one request in an outage is not news).
#[derive(Debug, Default)]
pub struct Health {
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
    /// Follows the incident without logging it (the read replica's pool: `db::replica` logs its
    /// outages as the replica's).
    quiet: bool,
}

impl Health {
    /// A health that logs nothing.
    pub fn quiet() -> Health {
        Health {
            quiet: true,
            ..Health::default()
        }
    }

    /// A connection-level failure was seen.
    pub fn failed(&self, cause: &dyn std::fmt::Display) {
        if self.quiet {
            self.down.store(true, Ordering::Release);
            return;
        }
        if self.down.swap(true, Ordering::AcqRel) {
            tracing::debug!(error = %cause, "database still unreachable");
            return;
        }
        *self.since.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        tracing::error!(
            error = %cause,
            "database unreachable: requests that need it are answered 503 until it is back"
        );
    }

    /// A statement round-tripped (whatever its outcome).
    pub fn succeeded(&self) {
        if !self.down.load(Ordering::Acquire)
            || !self.down.swap(false, Ordering::AcqRel)
            || self.quiet
        {
            return;
        }
        let since = self.since.lock().unwrap_or_else(|e| e.into_inner()).take();
        let secs = since.map_or(0.0, |s| s.elapsed().as_secs_f64());
        tracing::info!(
            outage_secs = format!("{secs:.1}"),
            "database reachable again after {secs:.1} s"
        );
    }

    /// Inside an incident (the last thing seen was a connection-level failure).
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_level_messages_are_recognised() {
        for m in [
            "Server has gone away",
            "MySQL server has gone away",
            "Lost connection to server during query",
            "Lost connection to server at 'handshake: reading initial communication packet', system error: 104",
            "Can't connect to server on '127.0.0.1' (111)",
            "Can't connect to local server through socket '/tmp/x.sock' (2)",
            "Connection was killed",
            "The client was disconnected by the server because of inactivity.",
            "Server shutdown in progress",
            "Too many connections",
        ] {
            assert!(is_connection_message(m), "{m}");
        }
        for m in [
            "Duplicate entry '1' for key 'PRIMARY'",
            "Table 'shop.zz_shop' doesn't exist",
            "Lock wait timeout exceeded; try restarting transaction",
            "Deadlock found when trying to get lock; try restarting transaction",
        ] {
            assert!(!is_connection_message(m), "{m}");
        }
    }

    #[test]
    fn an_outage_is_one_incident_until_a_statement_succeeds() {
        let h = Health::default();
        assert!(!h.is_down());
        h.failed(&"gone away");
        h.failed(&"gone away");
        assert!(h.is_down());
        h.succeeded();
        assert!(!h.is_down());
        h.succeeded();
        assert!(!h.is_down());
    }
}

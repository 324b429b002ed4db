//! Reads on a MariaDB read replica (`THREADGATE_REPLICA_URL`), writes on the primary, and the
//! guarantee that a client never reads older data than its own last write (docs/architecture.md,
//! "A read replica").
//!
//! - **Routing.** Lists, single GETs and the bridges' reads go through a [`Route`]: to the
//!   replica while it serves, else to the primary. Writes, their read-backs and key look-ups
//!   always use the primary pool.
//! - **Read-your-writes.** After a write commits, the write's connection reads `@@last_gtid`
//!   (one statement, only with a replica) and remembers it per key id and for the node. Before a
//!   read by that key on the replica, `MASTER_GTID_WAIT(gtid, THREADGATE_REPLICA_WAIT_MS)` waits
//!   until the replica has applied it; when the wait times out the read goes to the primary.
//!   The wait is skipped when the replica's last known position already covers the write. The
//!   bridges' reads are shared by every key (their cache), so they wait for the node's last write
//!   instead. With `THREADGATE_REPLICA_SYNC=primary`, every replica read waits instead for the
//!   primary's position read at that moment (one more statement on the primary per read), which
//!   also covers writes made through other nodes.
//! - **Health.** A background check ([`Replica::check`], every `THREADGATE_REPLICA_CHECK_MS`)
//!   reads the primary's `@@gtid_binlog_pos` and the replica's `@@gtid_slave_pos`; the replica's
//!   lag is the age of the oldest primary position it has not reached. Past
//!   `THREADGATE_REPLICA_MAX_LAG_MS`, or unreachable, it stops serving and reads go to the
//!   primary until a check finds it caught up again; the log says so once per incident.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use diesel::mysql::MysqlConnection;
use diesel::Connection;

use super::sql::Sql;
use super::{Fault, Pool, PoolTimeouts, Tables};
use crate::cache::{Generation, Source};
use crate::error::DbError;
use crate::metrics::DbStats;

/// A MariaDB GTID position: per replication domain, the server id and sequence number of the
/// last transaction (`0-1-42,1-2-7`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos(BTreeMap<u32, (u32, u64)>);

impl GtidPos {
    /// Parses `@@gtid_binlog_pos`, `@@gtid_slave_pos` or `@@last_gtid`; malformed parts are
    /// skipped.
    pub fn parse(text: &str) -> GtidPos {
        let mut pos = GtidPos::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.splitn(3, '-');
            let (Some(d), Some(s), Some(n)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            if let (Ok(d), Ok(s), Ok(n)) = (d.parse(), s.parse(), n.parse()) {
                pos.merge_one(d, s, n);
            }
        }
        pos
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn merge_one(&mut self, domain: u32, server: u32, seq: u64) {
        let e = self.0.entry(domain).or_insert((server, seq));
        if seq > e.1 {
            *e = (server, seq);
        }
    }

    /// Keeps, per domain, the later of both.
    pub fn merge(&mut self, other: &GtidPos) {
        for (d, (s, n)) in &other.0 {
            self.merge_one(*d, *s, *n);
        }
    }

    /// Whether every transaction of `other` is at or before this position.
    pub fn covers(&self, other: &GtidPos) -> bool {
        other
            .0
            .iter()
            .all(|(d, (_, n))| self.0.get(d).is_some_and(|(_, m)| m >= n))
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (d, (s, n))) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{d}-{s}-{n}")?;
        }
        Ok(())
    }
}

/// How a replica read makes sure it sees the client's writes (`THREADGATE_REPLICA_SYNC`).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sync {
    /// Wait for the last write of the same key made through this node (no extra statement when
    /// the replica is known to have it already).
    #[default]
    Key,
    /// Wait for the primary's position read at the start of each replica read: every write
    /// acknowledged by any node before the read is seen (one more statement per read).
    Primary,
}

/// The replica's settings (`THREADGATE_REPLICA_*`).
#[derive(Debug, Clone)]
pub struct ReplicaSettings {
    pub url: String,
    pub pool_size: u32,
    /// The longest a read waits for the replica to apply the client's last write.
    pub wait: Duration,
    /// Lag beyond which reads go to the primary.
    pub max_lag: Duration,
    pub sync: Sync,
}

/// Whose writes a read must see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The writes of this key id (a webservice read).
    Key(u32),
    /// Every write of this node (the bridges' reads, cached for every key).
    Node,
}

/// What the replica is doing now (for `/readyz` and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaState {
    /// Reads go to the replica.
    Serving,
    /// Reads go to the primary: the replica is this far behind.
    Lagging(Duration),
    /// Reads go to the primary: the replica did not answer (the reason, never a password).
    Down(String),
}

impl ReplicaState {
    pub fn name(&self) -> &'static str {
        match self {
            ReplicaState::Serving => "serving",
            ReplicaState::Lagging(_) => "lagging",
            ReplicaState::Down(_) => "down",
        }
    }
}

/// A key's last write through this node.
#[derive(Debug, Clone)]
struct Written {
    pos: GtidPos,
    /// Set when the write's GTID could not be read: the key reads the primary until then.
    primary_until: Option<Instant>,
}

#[derive(Debug)]
struct Health {
    state: ReplicaState,
    /// When the replica stopped serving (the incident's start).
    since: Option<Instant>,
    /// The replica's position at the last check or successful wait.
    seen: GtidPos,
    /// Primary positions not yet reached by the replica, with when they were read.
    behind: VecDeque<(GtidPos, Instant)>,
    /// The pool must be rebuilt before it is used again (its connections may be dead).
    rebuild: bool,
}

/// Positions kept while the replica is behind (one per check at most): at 4 checks a second,
/// five minutes.
const BEHIND_CAPACITY: usize = 1200;
/// The longest a replica read waits for a connection; then the read goes to the primary.
const CHECKOUT: Duration = Duration::from_millis(500);

/// The replica pool's waits: [`CHECKOUT`] for a connection, and a statement bound that only
/// matters to the pool's own `run` (the replica's reads are bounded by [`Route::run`]).
fn replica_timeouts() -> PoolTimeouts {
    PoolTimeouts {
        checkout: CHECKOUT,
        ..PoolTimeouts::default()
    }
}

/// The read replica: its pool, the positions to wait for, and its health.
pub struct Replica {
    pool: RwLock<Pool>,
    settings: ReplicaSettings,
    stats: Arc<DbStats>,
    tables: Tables,
    generation: Arc<Generation>,
    serving: AtomicBool,
    by_key: Mutex<HashMap<u32, Written>>,
    node: Mutex<GtidPos>,
    health: Mutex<Health>,
}

impl fmt::Debug for Replica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replica")
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Replica {
    /// Builds the pool without connecting (the replica may be down at start); it serves once
    /// the first check finds it caught up.
    pub fn new(
        settings: ReplicaSettings,
        tables: Tables,
        generation: Arc<Generation>,
        stats: Arc<DbStats>,
    ) -> Replica {
        let pool = super::replica_pool(
            &settings.url,
            settings.pool_size,
            replica_timeouts(),
            stats.clone(),
        );
        Replica {
            pool: RwLock::new(pool),
            settings,
            stats,
            tables,
            generation,
            serving: AtomicBool::new(false),
            by_key: Mutex::new(HashMap::new()),
            node: Mutex::new(GtidPos::default()),
            health: Mutex::new(Health {
                state: ReplicaState::Down("not checked yet".into()),
                since: None,
                seen: GtidPos::default(),
                behind: VecDeque::new(),
                rebuild: false,
            }),
        }
    }

    pub fn settings(&self) -> &ReplicaSettings {
        &self.settings
    }

    /// Whether reads go to the replica now.
    pub fn serving(&self) -> bool {
        self.serving.load(Ordering::Acquire)
    }

    /// What the replica is doing now (`/readyz` reports it).
    pub fn state(&self) -> ReplicaState {
        lock(&self.health).state.clone()
    }

    fn pool(&self) -> Pool {
        self.pool.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Records the write the connection just committed (its `@@last_gtid`) for `key`.
    pub fn wrote(&self, conn: &mut MysqlConnection, key: u32) {
        if self.settings.sync == Sync::Primary {
            return;
        }
        let read = Sql::new("SELECT @@last_gtid")
            .cached()
            .load(conn)
            .map(|rows| {
                GtidPos::parse(
                    rows.first()
                        .and_then(|r| r.0[0].as_deref())
                        .unwrap_or_default(),
                )
            });
        let mut by_key = lock(&self.by_key);
        let entry = by_key.entry(key).or_insert_with(|| Written {
            pos: GtidPos::default(),
            primary_until: None,
        });
        match read {
            Ok(pos) if !pos.is_empty() => {
                entry.pos.merge(&pos);
                lock(&self.node).merge(&pos);
            }
            other => {
                // Without the write's position the replica cannot be asked to wait for it.
                if let Err(e) = other {
                    tracing::warn!(error = %e, key_id = key, "could not read the write's GTID: this key reads the primary for a while");
                }
                entry.primary_until = Some(Instant::now() + self.settings.max_lag.max(ONE_SECOND));
            }
        }
    }

    /// The position a read must wait for on the replica (`Ok(None)`: none), or `Err(())` when
    /// the read must go to the primary.
    fn target(&self, wait: Wait) -> Result<Option<GtidPos>, ()> {
        let pos = match wait {
            Wait::Key(id) => match lock(&self.by_key).get(&id) {
                None => return Ok(None),
                Some(w) if w.primary_until.is_some_and(|t| t > Instant::now()) => return Err(()),
                Some(w) => w.pos.clone(),
            },
            Wait::Node => lock(&self.node).clone(),
        };
        if pos.is_empty() || lock(&self.health).seen.covers(&pos) {
            return Ok(None);
        }
        Ok(Some(pos))
    }

    /// Runs `f` on the replica after waiting for `target`; `None` when the read must be run on
    /// the primary instead (no connection, the wait timed out, the replica failed).
    fn attempt<T, E, F>(&self, target: Option<&GtidPos>, f: &mut F) -> Option<Result<T, E>>
    where
        F: FnMut(&mut MysqlConnection) -> Result<T, E>,
    {
        let pool = self.pool();
        let mut pooled = match pool.inner.get_timeout(CHECKOUT) {
            Ok(c) => c,
            // Every connection busy: this read goes to the primary, the replica still serves.
            Err(_) if pool.state().connections > 0 => return None,
            Err(e) => {
                self.failed(&e.to_string());
                return None;
            }
        };
        // A connection found lost is discarded when it goes back to the pool (`db::Manager`).
        let conn = &mut *pooled;
        if let Some(target) = target {
            let mut q = Sql::new("SELECT CAST(MASTER_GTID_WAIT(");
            q.bind_text(target.to_string()).push(&format!(
                ", {:.3}) AS CHAR)",
                self.settings.wait.as_secs_f64()
            ));
            let waited = q.load(&mut conn.conn);
            match waited {
                Ok(rows) if rows.first().and_then(|r| r.0[0].as_deref()) == Some("0") => {
                    lock(&self.health).seen.merge(target);
                }
                Ok(_) => {
                    tracing::debug!(gtid = %target, "the replica did not apply the client's last write in time: read on the primary");
                    return None;
                }
                Err(e) => {
                    conn.lost = true;
                    self.failed(&e.to_string());
                    return None;
                }
            }
        }
        match f(&mut conn.conn) {
            Ok(v) => Some(Ok(v)),
            // A failure of the replica itself (not of the request) sends the read to the
            // primary; anything else is the request's answer.
            Err(e) => match Sql::new("DO 1").execute(&mut conn.conn) {
                Ok(_) => Some(Err(e)),
                Err(gone) => {
                    conn.lost = true;
                    self.failed(&gone.to_string());
                    None
                }
            },
        }
    }

    /// A read found the replica unreachable: reads go to the primary until a check finds it
    /// back.
    fn failed(&self, reason: &str) {
        let mut h = lock(&self.health);
        h.rebuild = true;
        self.set_state(&mut h, ReplicaState::Down(reason.to_owned()));
    }

    /// Moves to `state`, logging the start and the end of an incident once each.
    fn set_state(&self, h: &mut Health, state: ReplicaState) {
        let serving = state == ReplicaState::Serving;
        match (h.since, serving) {
            (None, false) => {
                h.since = Some(Instant::now());
                match &state {
                    ReplicaState::Lagging(lag) => tracing::warn!(
                        replica = %super::schema::describe_url(&self.settings.url),
                        lag_ms = lag.as_millis() as u64,
                        max_lag_ms = self.settings.max_lag.as_millis() as u64,
                        "the read replica lags: reads go to the primary until it catches up"
                    ),
                    ReplicaState::Down(reason) => tracing::warn!(
                        replica = %super::schema::describe_url(&self.settings.url),
                        reason = %reason,
                        "the read replica is unreachable: reads go to the primary until it answers"
                    ),
                    ReplicaState::Serving => {}
                }
            }
            (Some(since), true) => {
                h.since = None;
                tracing::info!(
                    replica = %super::schema::describe_url(&self.settings.url),
                    after_s = format!("{:.1}", since.elapsed().as_secs_f64()),
                    "the read replica serves reads again"
                );
            }
            _ => {}
        }
        h.state = state;
        self.serving.store(serving, Ordering::Release);
    }

    /// The background check: the primary's position, the replica's position and data
    /// generation, the lag, and the state that follows. Runs on a blocking thread.
    pub fn check(&self, primary: &Pool) {
        // The primary's own outage is logged by the requests and the refresh.
        let Some((primary_pos, log_bin)) = primary_position_and_log_bin(primary) else {
            return;
        };
        if !log_bin {
            let mut h = lock(&self.health);
            self.set_state(
                &mut h,
                ReplicaState::Down(
                    "the primary writes no binary log (log_bin is OFF): its writes cannot be \
                     followed on a replica"
                        .into(),
                ),
            );
            return;
        }
        let rebuild = lock(&self.health).rebuild;
        let (generation, replica_pos) = match self.read_position(rebuild) {
            Ok(read) => read,
            Err(e) => {
                self.failed(&e);
                return;
            }
        };
        if rebuild {
            *self.pool.write().unwrap_or_else(|e| e.into_inner()) = super::replica_pool(
                &self.settings.url,
                self.settings.pool_size,
                replica_timeouts(),
                self.stats.clone(),
            );
        }
        if let Some(g) = generation {
            self.generation.observe(Source::Replica, g);
        }
        self.record(primary_pos, &replica_pos);
    }

    /// The replica's data generation and `@@gtid_slave_pos`, on a fresh connection when the
    /// pool is to be rebuilt.
    fn read_position(&self, rebuild: bool) -> Result<(Option<u64>, GtidPos), String> {
        let statement = || {
            Sql::new(format!(
                "SELECT {}, @@gtid_slave_pos",
                super::shop::data_generation_sql(&self.tables)
            ))
        };
        let read = if rebuild {
            // Connections opened before an outage answer "gone away" forever: once one new
            // connection answers, the pool is replaced by a fresh one.
            MysqlConnection::establish(&self.settings.url)
                .map_err(|e| e.to_string())
                .and_then(|mut conn| statement().load(&mut conn).map_err(|e| e.to_string()))
        } else {
            self.pool()
                .with_conn(CHECKOUT, |conn| {
                    statement().load(conn).map_err(DbError::from)
                })
                .map_err(|e| e.to_string())
        };
        let rows = read?;
        let row = rows.into_iter().next().map(|r| r.0).unwrap_or_default();
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Ok((text(0).parse::<u64>().ok(), GtidPos::parse(&text(1))))
    }

    /// Records both positions read by a check: the lag, and the state that follows.
    fn record(&self, primary_pos: GtidPos, replica_pos: &GtidPos) {
        let now = Instant::now();
        let mut h = lock(&self.health);
        h.rebuild = false;
        h.seen.merge(replica_pos);
        if h.behind.back().is_none_or(|(p, _)| *p != primary_pos) {
            if h.behind.len() >= BEHIND_CAPACITY {
                h.behind.pop_front();
            }
            h.behind.push_back((primary_pos, now));
        }
        while h.behind.front().is_some_and(|(p, _)| h.seen.covers(p)) {
            h.behind.pop_front();
        }
        let lag = h
            .behind
            .front()
            .map_or(Duration::ZERO, |(_, t)| now.duration_since(*t));
        let state = if lag > self.settings.max_lag {
            ReplicaState::Lagging(lag)
        } else {
            ReplicaState::Serving
        };
        let seen = h.seen.clone();
        self.set_state(&mut h, state);
        drop(h);
        // Keys whose last write the replica has: no wait, nothing to keep.
        lock(&self.by_key)
            .retain(|_, w| w.primary_until.is_some_and(|t| t > now) || !seen.covers(&w.pos));
    }
}

/// The primary's `@@gtid_binlog_pos` and whether it writes a binary log; `None` when it did not
/// answer. A lost primary connection is discarded here too (`Pool::with_conn`), so the check
/// recovers with the primary after a restart.
fn primary_position_and_log_bin(primary: &Pool) -> Option<(GtidPos, bool)> {
    let rows = primary
        .with_conn(CHECKOUT, |conn| {
            Sql::new("SELECT @@gtid_binlog_pos, CAST(@@log_bin AS CHAR)")
                .load(conn)
                .map_err(DbError::from)
        })
        .ok()?;
    let row = rows.into_iter().next().map(|r| r.0).unwrap_or_default();
    let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    Some((
        GtidPos::parse(&text(0)),
        matches!(text(1).as_str(), "1" | "ON"),
    ))
}

const ONE_SECOND: Duration = Duration::from_secs(1);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where a read runs: the primary pool, or the replica when one serves (see the module docs).
#[derive(Clone)]
pub struct Route {
    pub primary: Pool,
    pub replica: Option<Arc<Replica>>,
    pub wait: Wait,
}

impl Route {
    /// Runs `f` (a read: it may run twice, on the replica and then on the primary) with a
    /// connection of the replica or of the primary. Without a serving replica, exactly
    /// `db::run`. Bounded like `db::run`: the replica's connection wait and GTID wait plus the
    /// primary pool's whole timeout; past it the request is answered 503, and the side that did
    /// not answer is marked (a replica stops serving until its check finds it back).
    pub async fn run<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&mut MysqlConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Fault + Send + 'static,
    {
        let replica = match &self.replica {
            Some(r) if r.serving() => r.clone(),
            _ => return super::run(&self.primary, f).await,
        };
        let limit = CHECKOUT + replica.settings.wait + self.primary.timeout();
        let on_primary = Arc::new(AtomicBool::new(false));
        let (primary, wait, phase) = (self.primary.clone(), self.wait, on_primary.clone());
        let r = replica.clone();
        let task = tokio::task::spawn_blocking(move || {
            let target = match r.settings.sync {
                Sync::Key => r.target(wait),
                Sync::Primary => primary_position(&primary).map(Some),
            };
            if let Ok(target) = target {
                if let Some(done) = r.attempt(target.as_ref(), &mut f) {
                    return done;
                }
            }
            phase.store(true, Ordering::Release);
            primary.with_conn(primary.checkout, f)
        });
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(E::from(DbError::Cancelled)),
            Err(_) => {
                let cause = format!("no answer within {} ms", limit.as_millis());
                if on_primary.load(Ordering::Acquire) {
                    self.primary.health().failed(&cause);
                } else {
                    replica.failed(&cause);
                }
                Err(E::from(DbError::TimedOut(limit)))
            }
        }
    }
}

/// The primary's position now (`THREADGATE_REPLICA_SYNC=primary`).
fn primary_position(primary: &Pool) -> Result<GtidPos, ()> {
    let rows = primary
        .with_conn(CHECKOUT, |conn| {
            Sql::new("SELECT @@gtid_binlog_pos")
                .cached()
                .load(conn)
                .map_err(DbError::from)
        })
        .map_err(|_| ())?;
    Ok(GtidPos::parse(
        rows.first()
            .and_then(|r| r.0[0].as_deref())
            .unwrap_or_default(),
    ))
}

/// What a write does right after COMMIT, on its own connection: remember its GTID for the
/// replica reads of its key (only with a replica), then tell the bridges' caches.
pub struct Committed {
    pub generation: Arc<Generation>,
    pub replica: Option<(Arc<Replica>, u32)>,
}

impl Committed {
    pub fn bump(&self, conn: &mut MysqlConnection) {
        if let Some((replica, key)) = &self.replica {
            replica.wrote(conn, *key);
        }
        self.generation.bump();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_parse_merge_and_compare_per_domain() {
        let p = GtidPos::parse("0-1-42, 1-2-7");
        assert_eq!(p.to_string(), "0-1-42,1-2-7");
        assert!(GtidPos::parse("").is_empty());
        assert_eq!(GtidPos::parse("x,0-1,0-1-5").to_string(), "0-1-5");
        assert!(p.covers(&GtidPos::parse("0-1-41")));
        assert!(p.covers(&GtidPos::parse("0-1-42,1-2-7")));
        assert!(!p.covers(&GtidPos::parse("0-1-43")));
        assert!(!p.covers(&GtidPos::parse("2-1-1")), "an unknown domain");
        assert!(p.covers(&GtidPos::default()));
        let mut m = GtidPos::parse("0-1-40,2-3-9");
        m.merge(&p);
        assert_eq!(m.to_string(), "0-1-42,1-2-7,2-3-9");
        m.merge(&GtidPos::parse("0-1-1"));
        assert_eq!(m.to_string(), "0-1-42,1-2-7,2-3-9", "never backwards");
    }
}

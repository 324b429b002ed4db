//! The state every request handler shares (`AppState`): the pool, the table names, the
//! settings, the key cache and failure limiter, the bridges' caches and the shop snapshot, with
//! the refreshes that keep the snapshot and the key generation current.
//!
//! Kept apart from `startup` (which builds the actix `App` from it and imports `http`) so that
//! `http` can use the state without importing `startup`: no import circle.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::auth::{FailureLimiter, KeyCache, KeySource, UsageLog};
use crate::bridge::cached::BridgeState;
use crate::cache::Source;
use crate::cache::{Clock, Generation};
use crate::config::{DbSettings, ServeSettings};
use crate::db::replica::{Committed, Replica, ReplicaSettings, Route, Wait};
use crate::db::shop::{self, ShopSnapshot};
use crate::db::{self, Pool, Tables};
use crate::error::DbError;
use crate::ingest::bounds::BodyBudget;
use crate::metrics::{Metrics, Sampled};

/// What every request handler shares.
pub struct AppState {
    pub pool: Pool,
    pub tables: Tables,
    pub settings: ServeSettings,
    pub keys: Arc<KeyCache>,
    /// Failed authentications per client address.
    pub limiter: FailureLimiter,
    /// Keys used since the last refresh (written to `last_used` by the refresh).
    pub usage: UsageLog,
    /// Bumped by every committed write to the thread tables, this node's at once and other
    /// nodes' through the key poll (the bridges' caches watch it).
    pub data_generation: Arc<Generation>,
    /// The read replica (`THREADGATE_REPLICA_URL`), when there is one.
    pub replica: Option<Arc<Replica>>,
    /// The bridges' UUID index and read caches.
    pub bridges: BridgeState,
    /// The time the caches read (tests move it forward instead of sleeping).
    pub clock: Arc<Clock>,
    /// Notified each time a key generation poll ends (tests wait for it instead of sleeping).
    pub key_polled: tokio::sync::Notify,
    /// Memory held by request bodies being read, bounded (`THREADGATE_BODY_MEMORY_MIB`).
    pub bodies: Arc<BodyBudget>,
    /// What `/metrics` reports (served on `THREADGATE_METRICS_BIND` only).
    pub metrics: Arc<Metrics>,
    /// Requests being served, for the shutdown's drain count.
    pub in_flight: Arc<InFlight>,
    /// `None` until the shop configuration is first read: the server is not ready.
    snapshot: RwLock<Option<Arc<ShopSnapshot>>>,
}

/// Verified keys held at most (each entry is a few hundred bytes).
const KEY_CACHE_CAPACITY: usize = 10_000;
/// Client addresses whose failures are counted at most (each entry is a few dozen bytes).
const LIMITER_CAPACITY: usize = 100_000;
/// How long a request body's chunk waits for body memory before its request gets 503.
const BODY_MEMORY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl AppState {
    /// The state of a server that is not ready yet: the pool opens its connections in the
    /// background and nothing is read. [`AppState::refresh`] (the start-up wait in `startup`,
    /// or a test) reads the shop configuration and makes it ready.
    pub fn new(db_settings: &DbSettings, settings: ServeSettings) -> anyhow::Result<AppState> {
        let metrics = Arc::new(Metrics::new());
        let pool = db::pool(
            &db_settings.database_url,
            db_settings.pool_size,
            settings.pool_timeouts(),
            metrics.db.clone(),
        );
        let tables = Tables::new(&db_settings.table_prefix);
        let clock = Arc::new(Clock::default());
        let keys = Arc::new(
            KeyCache::new(settings.key_cache_ttl(), KEY_CACHE_CAPACITY).with_clock(clock.clone()),
        );
        let limiter = FailureLimiter::new(settings.auth_failures_per_minute, LIMITER_CAPACITY);
        let data_generation = Arc::new(Generation::default());
        let replica = settings.replica_url.clone().map(|url| {
            Arc::new(Replica::new(
                ReplicaSettings {
                    url,
                    pool_size: db_settings.pool_size,
                    wait: Duration::from_millis(settings.replica_wait_ms),
                    max_lag: Duration::from_millis(settings.replica_max_lag_ms),
                    sync: settings.replica_sync,
                },
                tables.clone(),
                data_generation.clone(),
                metrics.db.clone(),
            ))
        });
        let bridges = BridgeState::new(&settings, data_generation.clone(), clock.clone());
        let bodies = Arc::new(BodyBudget::new(
            settings.body_memory_mib.saturating_mul(1 << 20),
            BODY_MEMORY_WAIT,
        ));
        Ok(AppState {
            pool,
            tables,
            settings,
            keys,
            limiter,
            usage: UsageLog::default(),
            data_generation,
            replica,
            bridges,
            clock,
            key_polled: tokio::sync::Notify::new(),
            bodies,
            metrics,
            in_flight: Arc::new(InFlight::default()),
            snapshot: RwLock::new(None),
        })
    }

    /// The metrics exposition, with the pool's and the caches' numbers read now.
    pub fn encode_metrics(&self) -> String {
        let pool = self.pool.state();
        self.metrics.encode(Sampled {
            pool_connections: pool.connections,
            pool_idle: pool.idle_connections,
            pool_max: self.pool.max_size(),
            key_cache: self.keys.stats(),
            bridge_caches: self.bridges.cache_stats(),
            replica: self.replica.as_ref().map(|r| r.state().name()),
        })
    }

    /// The shop configuration as last read; `None` before the first read succeeded.
    pub fn snapshot(&self) -> Option<Arc<ShopSnapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The shop configuration is loaded (it stays loaded through a database outage).
    pub fn is_ready(&self) -> bool {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The shop's "now", `Y-m-d H:i:s` in its time zone (docs/compatibility.md W17); in the
    /// setting's time zone while the configuration is not loaded.
    pub fn shop_now(&self) -> String {
        self.snapshot()
            .unwrap_or_default()
            .now(self.settings.timezone)
    }

    /// Reads the key store's and the thread tables' generations in one statement: a newer key
    /// generation empties the key cache, so the next request of a changed key is verified
    /// again (only the own store has one); a changed data generation means some node wrote,
    /// and the bridges' caches drop what they read before.
    pub async fn poll_key_generation(&self) -> Result<(), DbError> {
        let tables = self.tables.clone();
        let generations = db::run(&self.pool, move |conn| {
            shop::generations(conn, &tables).map_err(DbError::from)
        })
        .await;
        if let Ok((keys, data)) = generations {
            if self.settings.auth_source == KeySource::Own {
                self.keys.advance_generation(keys);
            }
            self.data_generation.observe(Source::Primary, data);
        }
        self.key_polled.notify_waiters();
        generations.map(drop)
    }

    /// The replica's health check (`db::replica`), when there is a replica.
    pub async fn check_replica(&self) {
        let Some(replica) = self.replica.clone() else {
            return;
        };
        let primary = self.pool.clone();
        let _ = tokio::task::spawn_blocking(move || replica.check(&primary)).await;
    }

    /// Where a read runs: the replica when one serves, else the primary.
    pub fn route(&self, wait: Wait) -> Route {
        Route {
            primary: self.pool.clone(),
            replica: self.replica.clone(),
            wait,
        }
    }

    /// What a write does after COMMIT on its connection (`db::replica::Committed`).
    pub fn committed(&self, key_id: u32) -> Committed {
        Committed {
            generation: self.data_generation.clone(),
            replica: self.replica.clone().map(|r| (r, key_id)),
        }
    }

    /// One poll of the event watcher (`db::events::poll`, docs/events.md "Outside changes"),
    /// with the scan for changed threads or not: counted in the metrics, logged at `info` when
    /// it appended something.
    pub async fn watch_events(&self, scan_updates: bool) -> Result<db::events::Polled, DbError> {
        let tables = self.tables.clone();
        let now = self.shop_now();
        let polled = db::run(&self.pool, move |conn| {
            db::events::poll(conn, &tables, &now, scan_updates).map_err(DbError::from)
        })
        .await;
        match &polled {
            Ok(p) if p.appended > 0 => {
                self.metrics.events_appended("shop", p.appended);
                self.metrics.watcher_poll("found");
                tracing::info!(appended = p.appended, "watcher: outside changes logged");
            }
            Ok(p) if p.skipped => self.metrics.watcher_poll("skipped"),
            Ok(p) => {
                if p.started {
                    tracing::info!("watcher: first poll on this database, marks set");
                }
                self.metrics.watcher_poll("nothing");
            }
            Err(_) => self.metrics.watcher_poll("failed"),
        }
        polled
    }

    /// Purges the events older than `THREADGATE_EVENTS_RETENTION_DAYS`, in batches of 1 000
    /// (each its own short transaction); returns how many went.
    pub async fn purge_events(&self) -> Result<usize, DbError> {
        let tables = self.tables.clone();
        let days = self.settings.events_retention_days;
        let purged = db::run(&self.pool, move |conn| {
            let mut total = 0;
            loop {
                let n = db::events::purge_batch(conn, &tables, days, 1000)?;
                total += n;
                if n == 0 {
                    return Ok::<_, DbError>(total);
                }
            }
        })
        .await?;
        if purged > 0 {
            tracing::info!(purged, days, "events older than the retention purged");
        }
        Ok(purged)
    }

    /// Re-reads the shop snapshot (a changed key generation empties the key cache at once)
    /// and writes when keys were last used.
    pub async fn refresh(&self) -> Result<(), DbError> {
        let tables = self.tables.clone();
        let used = match self.settings.auth_source {
            KeySource::Own => self.usage.take(),
            KeySource::Prestashop => Vec::new(),
        };
        let now = self.shop_now();
        let first = !self.is_ready();
        let snapshot = db::run(&self.pool, move |conn| {
            if let Err(e) = db::key_store::touch_last_used(conn, &tables, &used, &now) {
                tracing::warn!(error = %e, "could not record when keys were last used");
            }
            let snapshot = shop::load(conn, &tables).map_err(DbError::from)?;
            // The tables every write and the key poll use: a database migrated by an older
            // threadgate lacks `threadgate_data_generation` (or the event log's tables) until
            // `threadgate migrate` runs again (a missing table, as `/readyz` and the start-up
            // wait report it).
            if first {
                shop::generations(conn, &tables).map_err(DbError::from)?;
            }
            Ok::<_, DbError>(snapshot)
        })
        .await?;
        self.keys.advance_generation(snapshot.key_generation);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
        Ok(())
    }
}

/// Requests in flight, and how many finished or were cut (their future dropped before the
/// response was ready), counted by the middleware in `startup::app`.
#[derive(Debug, Default)]
pub struct InFlight {
    active: AtomicUsize,
    finished: AtomicU64,
    cut: AtomicU64,
}

/// [`InFlight`]'s counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlightCount {
    pub active: usize,
    pub finished: u64,
    pub cut: u64,
}

impl InFlight {
    /// A request starts; the guard counts it finished ([`RequestGuard::finish`]) or cut (drop).
    pub fn enter(self: &Arc<Self>) -> RequestGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        RequestGuard {
            counter: self.clone(),
            finished: false,
        }
    }

    pub fn count(&self) -> InFlightCount {
        InFlightCount {
            active: self.active.load(Ordering::Acquire),
            finished: self.finished.load(Ordering::Acquire),
            cut: self.cut.load(Ordering::Acquire),
        }
    }
}

/// One request in flight.
pub struct RequestGuard {
    counter: Arc<InFlight>,
    finished: bool,
}

impl RequestGuard {
    pub fn finish(mut self) {
        self.finished = true;
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let c = &self.counter;
        if self.finished {
            c.finished.fetch_add(1, Ordering::AcqRel);
        } else {
            c.cut.fetch_add(1, Ordering::AcqRel);
        }
        c.active.fetch_sub(1, Ordering::AcqRel);
    }
}

//! The state every request handler shares (`AppState`): the pool, the table names, the
//! settings, the key cache and failure limiter, the bridges' caches and the shop snapshot, with
//! the refreshes that keep the snapshot and the key generation current.
//!
//! Kept apart from `startup` (which builds the actix `App` from it and imports `http`) so that
//! `http` can use the state without importing `startup`: no import circle.

use std::sync::{Arc, RwLock};

use crate::auth::{FailureLimiter, KeyCache, KeySource, UsageLog};
use crate::config::{DbSettings, ServeSettings};
use crate::db::cache::DataGeneration;
use crate::db::shop::{self, ShopSnapshot};
use crate::db::{self, Pool, Tables};
use crate::error::DbError;
use crate::http::body::BodyBudget;
use crate::http::bridges::BridgeState;
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
    /// Bumped by every committed write to the thread tables (the bridges' caches watch it).
    pub data_generation: Arc<DataGeneration>,
    /// The bridges' UUID index and read caches.
    pub bridges: BridgeState,
    /// Memory held by request bodies being read, bounded (`THREADGATE_BODY_MEMORY_MIB`).
    pub bodies: Arc<BodyBudget>,
    /// What `/metrics` reports (served on `THREADGATE_METRICS_BIND` only).
    pub metrics: Arc<Metrics>,
    snapshot: RwLock<Arc<ShopSnapshot>>,
}

/// Verified keys held at most (each entry is a few hundred bytes).
const KEY_CACHE_CAPACITY: usize = 10_000;
/// Client addresses whose failures are counted at most (each entry is a few dozen bytes).
const LIMITER_CAPACITY: usize = 100_000;
/// How long a request body's chunk waits for body memory before its request gets 503.
const BODY_MEMORY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl AppState {
    /// Connects, reads the shop snapshot once, and is ready to serve.
    pub fn new(db_settings: &DbSettings, settings: ServeSettings) -> anyhow::Result<AppState> {
        let metrics = Arc::new(Metrics::new());
        let pool = db::pool(
            &db_settings.database_url,
            db_settings.pool_size,
            metrics.db.clone(),
        )?;
        let tables = Tables::new(&db_settings.table_prefix);
        let snapshot = shop::load(&mut *pool.get()?, &tables)?;
        let keys = Arc::new(KeyCache::new(settings.key_cache_ttl(), KEY_CACHE_CAPACITY));
        keys.set_generation(snapshot.key_generation);
        let limiter = FailureLimiter::new(settings.auth_failures_per_minute, LIMITER_CAPACITY);
        let data_generation = Arc::new(DataGeneration::default());
        let bridges = BridgeState::new(&settings, data_generation.clone());
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
            bridges,
            bodies,
            metrics,
            snapshot: RwLock::new(Arc::new(snapshot)),
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
        })
    }

    pub fn snapshot(&self) -> Arc<ShopSnapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The shop's "now", `Y-m-d H:i:s` in its time zone (decisions W17).
    pub fn shop_now(&self) -> String {
        self.snapshot().now(self.settings.timezone)
    }

    /// Reads the key store's generation alone; a newer one empties the key cache, so the next
    /// request of a changed key is verified again. Only the own store has a generation.
    pub async fn poll_key_generation(&self) -> Result<(), DbError> {
        if self.settings.auth_source != KeySource::Own {
            return Ok(());
        }
        let tables = self.tables.clone();
        let generation = db::run(&self.pool, move |conn| {
            shop::key_generation(conn, &tables).map_err(DbError::from)
        })
        .await?;
        self.keys.advance_generation(generation);
        Ok(())
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
        let snapshot = db::run(&self.pool, move |conn| {
            if let Err(e) = db::keys::touch_last_used(conn, &tables, &used, &now) {
                tracing::warn!(error = %e, "could not record when keys were last used");
            }
            shop::load(conn, &tables).map_err(DbError::from)
        })
        .await?;
        self.keys.set_generation(snapshot.key_generation);
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(snapshot);
        Ok(())
    }
}

//! The state every request handler shares (`AppState`): the pool, the table names, the
//! settings, the key cache and failure limiter, the bridges' caches and the shop snapshot, with
//! the refreshes that keep the snapshot and the key generation current.
//!
//! Kept apart from `startup` (which builds the actix `App` from it and imports `http`) so that
//! `http` can use the state without importing `startup`: no import circle.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::auth::{FailureLimiter, KeyCache, KeySource, UsageLog};
use crate::config::{DbSettings, ServeSettings};
use crate::db::cache::{DataGeneration, Source};
use crate::db::replica::{Committed, Replica, ReplicaSettings, Route, Wait};
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
    /// Bumped by every committed write to the thread tables, this node's at once and other
    /// nodes' through the key poll (the bridges' caches watch it).
    pub data_generation: Arc<DataGeneration>,
    /// The read replica (`THREADGATE_REPLICA_URL`), when there is one.
    pub replica: Option<Arc<Replica>>,
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
        // The table every write and the key poll use: a database migrated by an older
        // threadgate lacks `threadgate_data_generation` until `threadgate migrate` runs again.
        shop::generations(&mut *pool.get()?, &tables).map_err(|e| {
            anyhow::anyhow!(
                "threadgate's own tables are not up to date ({e}): run `threadgate migrate`"
            )
        })?;
        let keys = Arc::new(KeyCache::new(settings.key_cache_ttl(), KEY_CACHE_CAPACITY));
        keys.set_generation(snapshot.key_generation);
        let limiter = FailureLimiter::new(settings.auth_failures_per_minute, LIMITER_CAPACITY);
        let data_generation = Arc::new(DataGeneration::default());
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
            replica,
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

    /// Reads the key store's and the thread tables' generations in one statement: a newer key
    /// generation empties the key cache, so the next request of a changed key is verified
    /// again (only the own store has one); a changed data generation means some node wrote,
    /// and the bridges' caches drop what they read before.
    pub async fn poll_key_generation(&self) -> Result<(), DbError> {
        let tables = self.tables.clone();
        let (keys, data) = db::run(&self.pool, move |conn| {
            shop::generations(conn, &tables).map_err(DbError::from)
        })
        .await?;
        if self.settings.auth_source == KeySource::Own {
            self.keys.advance_generation(keys);
        }
        self.data_generation.observe(Source::Primary, data);
        Ok(())
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

//! Building and running the service: the shared state, the actix `App` (used by `main` and by
//! the tests alike), and the background refresh of the shop snapshot.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::{web, App, HttpServer};

use crate::auth::{FailureLimiter, KeyCache, KeySource, UsageLog};
use crate::config::{DbSettings, ServeSettings};
use crate::db::cache::DataGeneration;
use crate::db::shop::{self, ShopSnapshot};
use crate::db::{self, Pool, Tables};
use crate::error::DbError;
use crate::http;
use crate::http::bridges::BridgeState;

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
    snapshot: RwLock<Arc<ShopSnapshot>>,
}

/// Verified keys held at most (each entry is a few hundred bytes).
const KEY_CACHE_CAPACITY: usize = 10_000;
/// Client addresses whose failures are counted at most (each entry is a few dozen bytes).
const LIMITER_CAPACITY: usize = 100_000;

impl AppState {
    /// Connects, reads the shop snapshot once, and is ready to serve.
    pub fn new(db_settings: &DbSettings, settings: ServeSettings) -> anyhow::Result<AppState> {
        let pool = db::pool(&db_settings.database_url, db_settings.pool_size)?;
        let tables = Tables::new(&db_settings.table_prefix);
        let snapshot = shop::load(&mut *pool.get()?, &tables)?;
        let keys = Arc::new(KeyCache::new(settings.key_cache_ttl(), KEY_CACHE_CAPACITY));
        keys.set_generation(snapshot.key_generation);
        let limiter = FailureLimiter::new(settings.auth_failures_per_minute, LIMITER_CAPACITY);
        let data_generation = Arc::new(DataGeneration::default());
        let bridges = BridgeState::new(&settings, data_generation.clone());
        Ok(AppState {
            pool,
            tables,
            settings,
            keys,
            limiter,
            usage: UsageLog::default(),
            data_generation,
            bridges,
            snapshot: RwLock::new(Arc::new(snapshot)),
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

/// The application, as `serve` runs it and as the tests call it.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .wrap(ErrorHandlers::new().default_handler(http::response::rerender))
        .configure(http::routes)
}

/// Sends responses without Nagle's delay: a response written in two parts (headers, then a
/// streamed body) would otherwise wait for the client's delayed ACK, about 40 ms.
pub fn no_delay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(tcp) = conn.downcast_ref::<actix_web::rt::net::TcpStream>() {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY not set");
        }
    }
}

/// Starts the background work on the current actix runtime: the shop snapshot refresh every
/// `THREADGATE_CONFIG_REFRESH` seconds and the key generation poll every
/// `THREADGATE_KEY_POLL_MS`.
pub fn spawn_background(state: web::Data<AppState>) {
    let refresh_every = Duration::from_secs(state.settings.config_refresh.max(1));
    let refresher = state.clone();
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(refresh_every);
        tick.tick().await;
        loop {
            tick.tick().await;
            if let Err(e) = refresher.refresh().await {
                tracing::warn!(error = %e, "could not refresh the shop snapshot");
            }
        }
    });
    if state.settings.key_poll_ms == 0 {
        return;
    }
    let poll_every = Duration::from_millis(state.settings.key_poll_ms);
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(poll_every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = state.poll_key_generation().await {
                // The snapshot refresh warns about an unreachable database; 4 times a second
                // would only repeat it.
                tracing::debug!(error = %e, "could not read the key generation");
            }
        }
    });
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn serve(db_settings: DbSettings, settings: ServeSettings) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    let workers = settings.workers;
    let state = web::Data::new(AppState::new(&db_settings, settings)?);
    spawn_background(state.clone());

    let mut server = HttpServer::new(move || app(state.clone())).on_connect(no_delay);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    let server = server.bind(&bind)?;
    tracing::info!(%bind, "threadgate is serving");
    server.run().await?;
    Ok(())
}

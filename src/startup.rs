//! Building and running the service: the actix `App` (used by `main` and by the tests alike),
//! the server, and the background refresh of the shop snapshot ([`AppState`] lives in `state`).

use std::time::Duration;

use anyhow::Context;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpServer};

use crate::config::{DbSettings, KeySource, ServeSettings};
use crate::http;
use crate::state::AppState;

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
        // Outermost: it sees every response, re-rendered errors included.
        .wrap(from_fn(http::observe::access_log))
}

/// The metrics endpoint's application: `GET /metrics` and nothing else, on its own bind
/// address (`THREADGATE_METRICS_BIND`), never on the API's.
pub fn metrics_app(
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
        .route("/metrics", web::get().to(http::observe::scrape))
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

/// What `serve` says when it cannot listen: the address, and the setting that changes it.
pub fn bind_error(bind: &str, e: std::io::Error) -> anyhow::Error {
    if e.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "address {bind} is already in use (another server listens there): choose another \
             with --bind or THREADGATE_BIND, or stop that server"
        )
    } else {
        anyhow::Error::new(e).context(format!(
            "could not listen on {bind}: check --bind or THREADGATE_BIND"
        ))
    }
}

/// Runs the server until Ctrl-C / SIGTERM.
pub async fn serve(db_settings: DbSettings, settings: ServeSettings) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    let workers = settings.workers;
    let metrics_bind = settings.metrics_bind.clone();
    let state = web::Data::new(AppState::new(&db_settings, settings).with_context(|| {
        format!(
            "could not start on the database ({}): check DATABASE_URL (or --database-url) and \
             THREADGATE_TABLE_PREFIX (or --table-prefix)",
            crate::db::schema::describe_url(&db_settings.database_url)
        )
    })?);
    spawn_background(state.clone());
    // Webhooks and the customer's e-mail, on threads of their own (docs/events.md).
    let delivery_stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    crate::delivery::spawn(
        &db_settings.database_url,
        &crate::db::Tables::new(&db_settings.table_prefix),
        &state.settings.delivery,
        state.metrics.delivery.clone(),
        delivery_stop.clone(),
    )
    .context("could not start the delivery workers (webhooks, customer e-mail)")?;

    let metrics = match &metrics_bind {
        Some(addr) => {
            let s = state.clone();
            let server = HttpServer::new(move || metrics_app(s.clone()))
                .workers(1)
                .bind(addr)
                .map_err(|e| bind_error(addr, e))?;
            Some(server.run())
        }
        None => None,
    };
    let s = state.clone();
    let mut server = HttpServer::new(move || app(s.clone())).on_connect(no_delay);
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    let server = server.bind(&bind).map_err(|e| bind_error(&bind, e))?;
    log_start(&db_settings, &state, &bind, metrics_bind.as_deref());
    if let Some(m) = metrics {
        // Stops with the API server: both listen for the same signals.
        actix_web::rt::spawn(m);
    }
    let served = server.run().await;
    delivery_stop.store(true, std::sync::atomic::Ordering::Relaxed);
    served?;
    Ok(())
}

/// The start-up line: what is served, from where, to where (never a password or a key).
fn log_start(db: &DbSettings, state: &AppState, bind: &str, metrics_bind: Option<&str>) {
    let snapshot = state.snapshot();
    let shops: Vec<String> = snapshot.shops.iter().map(|s| s.id.to_string()).collect();
    let languages: Vec<String> = snapshot.languages.iter().map(u32::to_string).collect();
    tracing::info!(
        database = %crate::db::schema::describe_url(&db.database_url),
        prefix = %db.table_prefix,
        key_source = match state.settings.auth_source {
            KeySource::Own => "own",
            KeySource::Prestashop => "prestashop",
        },
        shops = %shops.join(","),
        languages = %languages.join(","),
        prestashop_version = snapshot.prestashop_version().unwrap_or("unknown"),
        %bind,
        metrics = metrics_bind.unwrap_or("off"),
        "threadgate is serving"
    );
}

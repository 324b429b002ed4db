//! Building and running the service: the actix `App` and the server (used by `main` and by the
//! tests alike), the wait for the database at start-up, the background refresh of the shop
//! snapshot, and the graceful shutdown ([`AppState`] lives in `state`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive};
use actix_server::{Server, ServerBuilder};
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig;
use actix_web::dev::{Service, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::rt::net::TcpStream;
use actix_web::{web, App, HttpServer};

use crate::config::{DbSettings, KeySource, ServeSettings};
use crate::db::{self, shop, Fault};
use crate::error::DbError;
use crate::http;
use crate::http::conn::Conn;
use crate::state::{AppState, InFlightCount};

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
    let in_flight = state.in_flight.clone();
    App::new()
        .app_data(state)
        .wrap(ErrorHandlers::new().default_handler(http::response::rerender))
        // Counts requests in flight for the shutdown's "drained / cut" line.
        .wrap_fn(move |req, srv| {
            let guard = in_flight.enter();
            let response = srv.call(req);
            async move {
                let response = response.await;
                guard.finish();
                response
            }
        })
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

/// Listening sockets on every address `addr` resolves to, made as actix-web's
/// `HttpServer::bind` made them (`SO_REUSEADDR`, a backlog of 1024).
pub fn bind(addr: &str) -> std::io::Result<Vec<std::net::TcpListener>> {
    use socket2::{Domain, Socket, Type};
    use std::net::ToSocketAddrs;
    let mut listeners = Vec::new();
    let mut error = None;
    for a in addr.to_socket_addrs()? {
        let socket = Socket::new(Domain::for_address(a), Type::STREAM, None).and_then(|s| {
            s.set_reuse_address(true)?;
            s.bind(&a.into())?;
            s.listen(1024)?;
            Ok(s)
        });
        match socket {
            Ok(s) => listeners.push(s.into()),
            Err(e) => error = Some(e),
        }
    }
    match error {
        Some(e) if listeners.is_empty() => Err(e),
        _ if listeners.is_empty() => Err(std::io::Error::other(format!("{addr}: no address"))),
        _ => Ok(listeners),
    }
}

/// The HTTP server on `listeners`, as `serve` runs it and as the tests start it: actix-server
/// accepting, every connection read through [`http::conn::Conn`] (request targets encoded as
/// Apache would pass them; malformed heads answered with an error document), actix-http's
/// HTTP/1 dispatcher, and [`app`]. Accepted sockets set `TCP_NODELAY`: a response written in two
/// parts (headers, then a streamed body) would otherwise wait for the client's delayed ACK.
/// Call `.run()` on the result (tests add `.disable_signals()` first).
pub fn server(
    listeners: Vec<std::net::TcpListener>,
    state: web::Data<AppState>,
    workers: Option<usize>,
) -> std::io::Result<ServerBuilder> {
    let head_timeout = Duration::from_millis(state.settings.request_head_timeout_ms);
    let mut builder = Server::build();
    if let Some(n) = workers {
        builder = builder.workers(n.max(1));
    }
    // As actix-web's HttpServer: a graceful stop also closes idle keep-alive connections.
    let stopping = builder.graceful_shutdown_signal();
    for listener in listeners {
        let addr = listener.local_addr()?;
        let state = state.clone();
        let stopping = stopping.clone();
        builder = builder.listen("threadgate", listener, move || {
            let app = map_config(app(state.clone()), |_| AppConfig::default());
            let stopping = stopping.clone();
            let h1 = HttpService::build()
                .graceful_shutdown_signal(move || {
                    let stopping = stopping.clone();
                    async move { stopping.notified().await }
                })
                .keep_alive(KeepAlive::Timeout(Duration::from_secs(5)))
                // The connection layer times the first head and answers 408 itself.
                .client_request_timeout(Duration::ZERO)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .h1(app);
            fn_service(move |tcp: TcpStream| {
                let peer = tcp.peer_addr().ok();
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
                std::future::ready(Ok::<_, DispatchError>((Conn::new(tcp, head_timeout), peer)))
            })
            .and_then(h1)
        })?;
    }
    Ok(builder)
}

/// The background tasks of a server (stopped at shutdown, before the pool is closed).
pub struct Background(Vec<tokio::task::JoinHandle<()>>);

impl Background {
    /// Stops every task and waits until they are gone.
    pub async fn stop(self) {
        for t in &self.0 {
            t.abort();
        }
        for t in self.0 {
            let _ = t.await;
        }
    }
}

/// Starts the background work on the current actix runtime: the wait for the database when the
/// state is not ready yet ([`wait_until_ready`]), then the shop snapshot refresh every
/// `THREADGATE_CONFIG_REFRESH` seconds; the key and data generation poll every
/// `THREADGATE_KEY_POLL_MS`; with a replica its check every `THREADGATE_REPLICA_CHECK_MS`; and
/// with events on the watcher and the retention purge.
pub fn spawn_background(state: web::Data<AppState>) -> Background {
    let refresh_every = Duration::from_secs(state.settings.config_refresh.max(1));
    let refresher = state.clone();
    let mut tasks = vec![actix_web::rt::spawn(async move {
        if !refresher.is_ready() {
            wait_until_ready(&refresher).await;
        }
        let mut tick = tokio::time::interval(refresh_every);
        tick.tick().await;
        loop {
            tick.tick().await;
            match refresher.refresh().await {
                Ok(()) => {}
                // The outage is logged once by the pool.
                Err(e) if e.is_unavailable() => {
                    tracing::debug!(error = %e, "could not refresh the shop snapshot")
                }
                Err(e) => tracing::warn!(error = %e, "could not refresh the shop snapshot"),
            }
        }
    })];
    if state.replica.is_some() {
        let checker = state.clone();
        let every = Duration::from_millis(state.settings.replica_check_ms.max(10));
        tasks.push(actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                checker.check_replica().await;
            }
        }));
    }
    spawn_events(&state, &mut tasks);
    if state.settings.key_poll_ms > 0 {
        let poll_every = Duration::from_millis(state.settings.key_poll_ms);
        tasks.push(actix_web::rt::spawn(async move {
            let mut tick = tokio::time::interval(poll_every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if !state.is_ready() {
                    continue;
                }
                if let Err(e) = state.poll_key_generation().await {
                    // The pool logs an outage once; 4 times a second would only repeat it.
                    tracing::debug!(error = %e, "could not read the key and data generations");
                }
            }
        }));
    }
    Background(tasks)
}

/// How often the retention purge runs.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// With events on: the watcher every `THREADGATE_EVENTS_WATCH_MS` (unless 0) and the
/// retention purge at start and every 10 minutes (docs/events.md).
fn spawn_events(state: &web::Data<AppState>, tasks: &mut Vec<tokio::task::JoinHandle<()>>) {
    if !state.settings.events_on() {
        return;
    }
    let purger = state.clone();
    tasks.push(actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(PURGE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if !purger.is_ready() {
                continue;
            }
            if let Err(e) = purger.purge_events().await {
                tracing::warn!(error = %e, "could not purge old events");
            }
        }
    }));
    if state.settings.events_watch_ms == 0 {
        return;
    }
    let every = Duration::from_millis(state.settings.events_watch_ms);
    let updates_every = Duration::from_millis(state.settings.events_updates_ms);
    let state = state.clone();
    tasks.push(actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_scan: Option<std::time::Instant> = None;
        loop {
            tick.tick().await;
            if !state.is_ready() {
                continue;
            }
            // The scan for changed threads runs on the watcher's ticks, at most once per
            // THREADGATE_EVENTS_UPDATES_MS (0: never).
            let scan = state.settings.events_updates_ms > 0
                && last_scan.is_none_or(|t| t.elapsed() + every / 2 >= updates_every);
            match state.watch_events(scan).await {
                Ok(_) if scan => last_scan = Some(std::time::Instant::now()),
                Ok(_) => {}
                // The pool logs an outage once.
                Err(e) if e.is_unavailable() => {
                    tracing::debug!(error = %e, "watcher: could not poll for outside changes")
                }
                Err(e) => tracing::warn!(error = %e, "watcher: could not poll for outside changes"),
            }
        }
    }));
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

/// The first wait between two attempts to read the shop configuration at start-up.
const FIRST_RETRY: Duration = Duration::from_millis(500);
/// The longest wait between two attempts.
const MAX_RETRY: Duration = Duration::from_secs(5);

/// Reads the shop configuration until it succeeds, with a capped exponential backoff: one
/// `warn` line per failed attempt while the database is unreachable, one `error` line (once)
/// when it answers but the shop's tables are missing under the prefix, one `info` line when
/// the server is ready.
pub async fn wait_until_ready(state: &AppState) {
    let mut delay = FIRST_RETRY;
    let mut attempt = 0u32;
    let mut told_tables = false;
    loop {
        attempt += 1;
        match state.refresh().await {
            Ok(()) => {
                let snapshot = state.snapshot().unwrap_or_default();
                tracing::info!(
                    attempt,
                    shops = snapshot.shops.len(),
                    languages = snapshot.languages.len(),
                    prestashop_version = snapshot.prestashop_version().unwrap_or("unknown"),
                    "database reachable and shop configuration loaded: ready"
                );
                return;
            }
            Err(e) if e.is_missing_table() => {
                if !told_tables {
                    tracing::error!(
                        prefix = %state.tables.prefix,
                        "not ready: the shop's tables are {}",
                        missing_tables(state).await
                    );
                    told_tables = true;
                }
            }
            Err(e) => tracing::warn!(
                attempt,
                error = %e,
                "not ready: the database cannot be read yet; retrying in {:.1} s",
                delay.as_secs_f64()
            ),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_RETRY);
    }
}

/// Which tables are missing, as `/readyz` says it.
async fn missing_tables(state: &AppState) -> String {
    let tables = state.tables.clone();
    let prefix = tables.prefix.clone();
    match db::run(&state.pool, move |conn| {
        shop::missing_tables(conn, &tables).map_err(DbError::from)
    })
    .await
    {
        Ok(m) => http::health::missing_message(&prefix, &m),
        Err(_) => http::health::missing_message(&prefix, &["(some)"]),
    }
}

/// `THREADGATE_DB_WAIT=false`: read the shop configuration now or give up with one message.
async fn load_now(state: &AppState) -> anyhow::Result<()> {
    match state.refresh().await {
        Ok(()) => Ok(()),
        Err(e) if e.is_missing_table() => {
            anyhow::bail!("the shop's tables are {}", missing_tables(state).await)
        }
        Err(e) => anyhow::bail!(
            "the database cannot be read ({e}); check DATABASE_URL, or set THREADGATE_DB_WAIT=true to start and wait for it"
        ),
    }
}

/// Waits for SIGTERM or SIGINT; returns its name.
async fn stop_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "SIGINT",
        _ = terminate => "SIGTERM",
    }
}

/// Runs the server until SIGTERM / SIGINT, then drains: no new connections, in-flight requests
/// get `THREADGATE_SHUTDOWN_TIMEOUT` seconds, the rest are cut; then the pool is closed.
pub async fn serve(db_settings: DbSettings, settings: ServeSettings) -> anyhow::Result<()> {
    let bind = settings.bind.clone();
    let workers = settings.workers;
    let grace = settings.shutdown_timeout;
    let wait = settings.db_wait;
    let metrics_bind = settings.metrics_bind.clone();
    let state = web::Data::new(AppState::new(&db_settings, settings).with_context(|| {
        format!(
            "could not start on the database ({}): check DATABASE_URL (or --database-url) and \
             THREADGATE_TABLE_PREFIX (or --table-prefix)",
            db::schema::describe_url(&db_settings.database_url)
        )
    })?);
    if !wait {
        load_now(&state).await?;
    } else if let Err(e) = state.refresh().await {
        // The background wait retries and logs each attempt.
        tracing::debug!(error = %e, "shop configuration not read at start-up");
    }
    let background = spawn_background(state.clone());
    // Webhooks and the customer's e-mail, on threads of their own (docs/events.md).
    let delivery = crate::delivery::spawn(
        &db_settings.database_url,
        &crate::db::Tables::new(&db_settings.table_prefix),
        &state.settings.delivery,
        state.metrics.delivery.clone(),
    )
    .context("could not start the delivery workers (webhooks, customer e-mail)")?;

    let metrics = metrics_server(&state, metrics_bind.as_deref())?;
    let listeners = self::bind(&bind).map_err(|e| bind_error(&bind, e))?;
    let server = server(listeners, state.clone(), workers)?
        .shutdown_timeout(grace)
        .disable_signals()
        .run();
    log_start(&db_settings, &state, &bind, metrics_bind.as_deref());

    let metrics_handle = metrics.as_ref().map(|m| m.handle());
    if let Some(m) = metrics {
        actix_web::rt::spawn(m);
    }
    let at_signal = stop_on_signal(state.clone(), server.handle(), metrics_handle, grace);
    server.await?;

    log_drained(&state, &at_signal);
    background.stop().await;
    delivery.stop(Duration::from_secs(grace.max(1))).await;
    close_pool(state).await;
    Ok(())
}

/// The `/metrics` server on its own address, when one is set (one worker, no signals: the
/// main server's stop ends it).
fn metrics_server(
    state: &web::Data<AppState>,
    bind: Option<&str>,
) -> anyhow::Result<Option<actix_web::dev::Server>> {
    let Some(addr) = bind else {
        return Ok(None);
    };
    let s = state.clone();
    let server = HttpServer::new(move || metrics_app(s.clone()))
        .workers(1)
        .disable_signals()
        .bind(addr)
        .map_err(|e| bind_error(addr, e))?
        .run();
    Ok(Some(server))
}

/// At SIGTERM / SIGINT, stops the server (its in-flight requests get `grace` seconds) and the
/// metrics server. The cell receives the in-flight count at the signal.
fn stop_on_signal(
    state: web::Data<AppState>,
    handle: actix_web::dev::ServerHandle,
    metrics: Option<actix_web::dev::ServerHandle>,
    grace: u64,
) -> Arc<Mutex<Option<InFlightCount>>> {
    let at_signal = Arc::new(Mutex::new(None));
    let seen = at_signal.clone();
    actix_web::rt::spawn(async move {
        let name = stop_signal().await;
        let count = state.in_flight.count();
        *seen.lock().unwrap_or_else(|e| e.into_inner()) = Some(count);
        tracing::info!(
            signal = name,
            in_flight = count.active,
            "stopping: no new connections; in-flight requests get up to {grace} s"
        );
        handle.stop(true).await;
        if let Some(m) = metrics {
            m.stop(false).await;
        }
    });
    at_signal
}

/// The drain's outcome: requests finished and cut since the signal (nothing without one).
fn log_drained(state: &AppState, at_signal: &Mutex<Option<InFlightCount>>) {
    let start = *at_signal.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(start) = start {
        let end = state.in_flight.count();
        let drained = end.finished - start.finished;
        let cut = end.cut - start.cut + end.active as u64;
        tracing::info!(
            drained,
            cut,
            "stopped: {drained} request(s) drained, {cut} cut"
        );
    }
}

/// The workers drop their copies of the state as their threads wind down: the pool (and with
/// it every connection) closes with the last one. Waits up to 2 s for it.
async fn close_pool(state: web::Data<AppState>) {
    let mut state = state.into_inner();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        match Arc::try_unwrap(state) {
            Ok(last) => {
                drop(last);
                tracing::info!("database connections closed");
                break;
            }
            Err(shared) if tokio::time::Instant::now() < deadline => {
                state = shared;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => {
                tracing::info!("database connections close as the process exits");
                break;
            }
        }
    }
}

/// The start-up line: what is served, from where, to where (never a password or a key).
/// Before the shop configuration is read (the server waits for its database) the shops,
/// languages and version say `(not loaded yet)`; the "ready" line names them once read.
fn log_start(db: &DbSettings, state: &AppState, bind: &str, metrics_bind: Option<&str>) {
    const NOT_LOADED: &str = "(not loaded yet)";
    let snapshot = state.snapshot();
    let list = |f: &dyn Fn(&shop::ShopSnapshot) -> Vec<String>| {
        snapshot
            .as_deref()
            .map_or_else(|| NOT_LOADED.to_owned(), |s| f(s).join(","))
    };
    let shops = list(&|s| s.shops.iter().map(|s| s.id.to_string()).collect());
    let languages = list(&|s| s.languages.iter().map(u32::to_string).collect());
    let version = snapshot
        .as_deref()
        .map_or(NOT_LOADED, |s| s.prestashop_version().unwrap_or("unknown"));
    tracing::info!(
        database = %db::schema::describe_url(&db.database_url),
        prefix = %db.table_prefix,
        key_source = match state.settings.auth_source {
            KeySource::Own => "own",
            KeySource::Prestashop => "prestashop",
        },
        %shops,
        %languages,
        prestashop_version = version,
        ready = state.is_ready(),
        %bind,
        metrics = metrics_bind.unwrap_or("off"),
        replica = %state
            .settings
            .replica_url
            .as_deref()
            .map_or_else(|| "off".to_owned(), crate::db::schema::describe_url),
        "threadgate is serving"
    );
}

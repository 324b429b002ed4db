//! Building and running the service: the actix `App` and the server (used by `main` and by the
//! tests alike), and the background refresh of the shop snapshot ([`AppState`] lives in `state`).

use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, KeepAlive};
use actix_server::{Server, ServerBuilder};
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::body::MessageBody;
use actix_web::dev::AppConfig;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::ErrorHandlers;
use actix_web::rt::net::TcpStream;
use actix_web::{web, App};

use crate::config::{DbSettings, ServeSettings};
use crate::http;
use crate::http::conn::Conn;
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

    let server = server(self::bind(&bind)?, state, workers)?;
    tracing::info!(%bind, "threadgate is serving");
    server.run().await?;
    Ok(())
}

//! The only module that knows actix: routes, the webservice dispatcher, PrestaShop's headers,
//! the rendering of every error — actix's own included — as an error document, and the
//! access log, request ids and `/metrics` handler (`observe`), and the change feed
//! (`changes`).

pub mod access;
pub mod body;
pub mod bridges;
pub mod changes;
pub mod conn;
pub mod health;
pub mod json;
pub mod observe;
pub mod request;
pub mod response;
pub mod webservice;
pub mod write;

use actix_web::web;

/// The route tree. The webservice takes every path (PrestaShop's rewrite accepts `//api/...`
/// and `&` in the path), so it is the default service; foreign routes (bridges, `/healthz`,
/// `/readyz`) go before it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::routes);
    cfg.configure(bridges::routes);
    cfg.configure(changes::routes);
    cfg.default_service(web::to(webservice::dispatch));
}

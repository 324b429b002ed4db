//! The only module that knows actix: routes, the webservice dispatcher, PrestaShop's headers,
//! and the rendering of every error — actix's own included — as an error document.

pub mod access;
pub mod bridges;
pub mod request;
pub mod response;
pub mod webservice;
pub mod write;

use actix_web::web;

/// The route tree. The webservice takes every path (PrestaShop's rewrite accepts `//api/...`
/// and `&` in the path), so it is the default service; foreign routes (bridges) go before it.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(bridges::routes);
    cfg.default_service(web::to(webservice::dispatch));
}

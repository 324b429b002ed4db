//! threadgate: PrestaShop's webservice for `customer_threads` and `customer_messages`, served
//! from Rust on the shop's own MariaDB/MySQL schema.
//!
//! Layers (see docs/architecture.md):
//! - [`http`] is the only module that knows actix: routes, extractors, headers, error rendering.
//! - [`auth`] resolves a key (argon2id hashes, a verified-key cache) and its permissions.
//! - [`query`] parses the query string (display, filter, sort, limit, schema, shops) — pure.
//! - [`render`] writes PrestaShop's XML and JSON documents — pure.
//! - [`db`] owns the pool, migrations and the one place that turns a query into SQL.
//! - [`ingest`] turns a POST/PUT/PATCH body into entities (size limit, safe XML) — pure.
//! - [`resource`] describes the resources as data; every other layer is driven by it.
//! - [`validate`] holds PrestaShop's validators and the code 41 / 85 checks of a write — pure.
//! - [`bridge`] builds the two bridges' documents from the same rows (pure), and keeps their
//!   caches and UUID index (`bridge::cached`, reading through `db`).
//! - [`cache`] is the one single-flight TTL cache, for verified keys and bridge reads — pure.
//! - [`state`] is what every handler shares (`AppState`); [`startup`] builds the app from it.
//! - [`telemetry`] sets up the logs; [`metrics`] keeps the Prometheus metrics (no actix).
//!
//! A request flows route → dispatcher (key, resource, id, parsed query, format) → `db::run` →
//! rows → render → response with PrestaShop's headers; any failure is one [`error::ApiError`].

pub mod auth;
pub mod bridge;
pub mod cache;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod php;
pub mod query;
pub mod render;
pub mod resource;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod validate;

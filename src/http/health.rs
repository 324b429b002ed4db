//! `GET /healthz` and `GET /readyz`, outside `/api` and without a key (README, "Operating
//! threadgate"). Small JSON bodies naming each check; never a URL, a password or a key.
//!
//! - `/healthz`: the process is up and serving HTTP: always 200.
//! - `/readyz`: 200 only when a statement round-trips to the database within
//!   [`READY_TIMEOUT`], the shop's tables exist under the prefix and the shop configuration is
//!   loaded; else 503 with the failed checks. With a read replica (`THREADGATE_REPLICA_URL`)
//!   it also says what the replica does (`serving`, `lagging` with its lag, `down` with the
//!   reason); a lagging or down replica does not make the node unready, since its reads go to
//!   the primary meanwhile.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Serialize;

use super::response::Rendered;
use crate::db::replica::ReplicaState;
use crate::db::{self, shop};
use crate::error::DbError;
use crate::state::AppState;

/// How long `/readyz` waits for the database (connection and statement).
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthz").to(healthz))
        .service(web::resource("/readyz").to(readyz));
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

#[derive(Serialize)]
struct Ready {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    /// `ok`, or `unreachable` (no answer within the timeout).
    database: &'static str,
    /// `ok`, `unknown` (the database did not answer), or which tables are missing and what to
    /// do about it.
    shop_tables: String,
    /// `loaded` or `not loaded`.
    shop_configuration: &'static str,
    /// Only with a read replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    replica: Option<ReplicaCheck>,
}

/// What the read replica does (`db::replica`): informative, never a reason to be unready.
#[derive(Serialize)]
struct ReplicaCheck {
    /// `serving` (reads go there), `lagging` or `down` (reads go to the primary).
    state: &'static str,
    /// How far behind the replica is, when it lags.
    #[serde(skip_serializing_if = "Option::is_none")]
    lag_ms: Option<u64>,
    /// Why it is down (the client library's message, never a URL or a password).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl From<ReplicaState> for ReplicaCheck {
    fn from(state: ReplicaState) -> ReplicaCheck {
        let name = state.name();
        let (lag_ms, reason) = match state {
            ReplicaState::Serving => (None, None),
            ReplicaState::Lagging(lag) => (Some(lag.as_millis() as u64), None),
            ReplicaState::Down(reason) => (None, Some(reason)),
        };
        ReplicaCheck {
            state: name,
            lag_ms,
            reason,
        }
    }
}

fn json(status: u16, body: &impl Serialize, req: &HttpRequest) -> HttpResponse {
    let mut b = match status {
        200 => HttpResponse::Ok(),
        _ => HttpResponse::ServiceUnavailable(),
    };
    b.insert_header((CONTENT_TYPE, "application/json"));
    b.insert_header((CACHE_CONTROL, "no-store"));
    let body = serde_json::to_vec(body).unwrap_or_default();
    let mut res = if req.method() == actix_web::http::Method::HEAD {
        b.finish()
    } else {
        b.body(body)
    };
    res.extensions_mut().insert(Rendered);
    res
}

async fn healthz(req: HttpRequest) -> HttpResponse {
    json(200, &Health { status: "up" }, &req)
}

async fn readyz(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let tables = state.tables.clone();
    let prefix = tables.prefix.clone();
    let missing = db::run_within(&state.pool, READY_TIMEOUT, move |conn| {
        shop::missing_tables(conn, &tables).map_err(DbError::from)
    })
    .await;
    let (database, shop_tables) = match missing {
        Ok(m) if m.is_empty() => ("ok", "ok".to_owned()),
        Ok(m) => ("ok", missing_message(&prefix, &m)),
        Err(e) => {
            tracing::debug!(error = %e, "readiness: the database did not answer");
            ("unreachable", "unknown".to_owned())
        }
    };
    let loaded = state.is_ready();
    let ready = database == "ok" && shop_tables == "ok" && loaded;
    let body = Ready {
        status: if ready { "ready" } else { "not ready" },
        checks: Checks {
            database,
            shop_tables,
            shop_configuration: if loaded { "loaded" } else { "not loaded" },
            replica: state.replica.as_ref().map(|r| r.state().into()),
        },
    };
    json(if ready { 200 } else { 503 }, &body, &req)
}

/// What `/readyz` and the start-up log say when tables are missing under the prefix.
pub fn missing_message(prefix: &str, missing: &[&str]) -> String {
    format!(
        "missing under the prefix \"{prefix}\": {}; set THREADGATE_TABLE_PREFIX to the shop's prefix, or run `threadgate migrate`",
        missing.join(", ")
    )
}

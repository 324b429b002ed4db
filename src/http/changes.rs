//! The change feed, `GET /threadgate/v1/changes?cursor=...&limit=...` (docs/events.md,
//! "Change feed"; described by docs/openapi/changes.json, OpenAPI 3.1): the event log in
//! order, for the same keys as `/api/` (Basic user name, a forwarded `Authorization`, or
//! `ws_key`). A key sees the events of the resources it may GET (`customer_threads`:
//! `thread.*`, `customer_messages`: `message.*`) on its shops. Every answer is JSON, errors
//! included: `{"error": {"status": N, "code": "...", "message": "..."}}`.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL};
use actix_web::http::Method as HttpMethod;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::access;
use crate::bridge::Refusal;
use crate::db::{self, events as event_log};
use crate::error::{ApiError, DbError};
use crate::events::{self, Filter};
use crate::query::Params;
use crate::resource::Method;
use crate::state::AppState;

/// The feed's path.
pub const PATH: &str = "/threadgate/v1/changes";
/// Events per page when the request does not say.
pub const DEFAULT_LIMIT: u32 = 100;
/// Events per page at most.
pub const MAX_LIMIT: u32 = 1000;
const REALM: &str = "Basic realm=\"threadgate\"";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(PATH, web::route().to(changes));
}

/// An error answer of the feed.
#[derive(Debug)]
struct FeedError {
    status: u16,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
}

fn err(status: u16, code: &'static str, message: impl Into<String>) -> FeedError {
    FeedError {
        status,
        code,
        message: message.into(),
        retry_after: None,
    }
}

impl From<DbError> for FeedError {
    fn from(e: DbError) -> FeedError {
        tracing::error!(error = %e, "the change feed could not be read");
        err(500, "internal_error", "The event log could not be read")
    }
}

/// Its 401's realm, its 405's `Allow`, its `Retry-After` (`http::json::refuse`).
impl Refusal for FeedError {
    const REALM: &'static str = REALM;
    const ALLOW: &'static str = "GET";

    fn status(&self) -> u16 {
        self.status
    }

    fn retry_after(&self) -> Option<u64> {
        self.retry_after
    }
}

impl From<access::Denied> for FeedError {
    fn from(d: access::Denied) -> FeedError {
        key_error(d.into())
    }
}

/// A key check's failure in the feed's terms (the PrestaShop messages say what is wrong).
fn key_error(e: ApiError) -> FeedError {
    let message = e
        .errors
        .iter()
        .map(|x| x.message.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let code = match e.status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        429 => "too_many_requests",
        503 => "service_unavailable",
        _ => "internal_error",
    };
    FeedError {
        status: if code == "internal_error" {
            500
        } else {
            e.status
        },
        code,
        message,
        retry_after: e.retry_after,
    }
}

async fn changes(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    match feed(&req, &state).await {
        Ok(body) => HttpResponse::Ok()
            .insert_header(("Content-Type", "application/json"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(body.to_string()),
        Err(e) => {
            let body = json!({"error": {"status": e.status, "code": e.code, "message": e.message}});
            let mut res = super::json::refuse(&e, body.to_string().into_bytes(), false);
            res.headers_mut()
                .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
    }
}

async fn feed(req: &HttpRequest, state: &AppState) -> Result<Value, FeedError> {
    if req.method() != HttpMethod::GET {
        return Err(err(
            405,
            "method_not_allowed",
            format!("The change feed answers GET only, not {}", req.method()),
        ));
    }
    let params = Params::parse(req.query_string());
    let (limit, cursor) = page_params(&params)?;
    let account = feed_account(req, state, &params).await?;
    let filter = Filter {
        threads: account.allows("customer_threads", Method::Get),
        messages: account.allows("customer_messages", Method::Get),
        shops: Some(account.shops.clone()),
    };
    if !filter.threads && !filter.messages {
        return Err(err(
            403,
            "forbidden",
            "This key may not GET customer_threads nor customer_messages, so it sees no event",
        ));
    }
    let tables = state.tables.clone();
    let gap_wait = state.settings.gap_wait();
    let page = db::run(&state.pool, move |conn| {
        Ok::<_, DbError>(event_log::feed(
            conn, &tables, cursor, limit, &filter, gap_wait,
        ))
    })
    .await?;
    let page = match page {
        Ok(p) => p,
        Err(event_log::FeedError::Expired { purged_through }) => {
            return Err(err(
                410,
                "cursor_expired",
                format!(
                    "Events after this cursor were purged (they are kept {} days; every event up to #{purged_through} is gone): read the feed again without a cursor and resynchronise",
                    state.settings.events_retention_days
                ),
            ))
        }
        Err(event_log::FeedError::Db(e)) => return Err(DbError::from(e).into()),
    };
    Ok(json!({
        "events": page.events.iter().map(events::Event::to_json).collect::<Vec<_>>(),
        "cursor": events::encode_cursor(page.last_id),
        "end_of_stream": page.end_of_stream,
    }))
}

/// The `limit` and `cursor` of a feed request.
fn page_params(params: &Params) -> Result<(u32, Option<u64>), FeedError> {
    let limit = match params.get_str("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(err(
                    400,
                    "invalid_limit",
                    format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                ))
            }
        },
    };
    let cursor = match params.get_str("cursor") {
        None => None,
        Some(c) => Some(events::decode_cursor(c.trim()).ok_or_else(|| {
            err(
                400,
                "invalid_cursor",
                "cursor is not a cursor this feed gave: pass the last answer's cursor as it is, or none to start from the oldest event kept",
            )
        })?),
    };
    Ok((limit, cursor))
}

/// The account of the request's key, let in by the webservice's gate (`access::gate`); the
/// feed's own filter decides what it sees.
async fn feed_account(
    req: &HttpRequest,
    state: &AppState,
    params: &Params,
) -> Result<std::sync::Arc<crate::auth::Account>, FeedError> {
    let key = || {
        access::request_key(req, state, params.get_str("ws_key"))
            .ok_or_else(|| key_error(ApiError::no_key()))
    };
    let admitted = access::gate(req, state, None, key, None).await?;
    Ok(admitted.verified.account)
}

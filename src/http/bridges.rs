//! The two bridge routes (docs/bridges.md, and its #decisions): Mirakl M10
//! `GET /api/inbox/threads/{thread_id}` and the myKaarma thread list
//! `POST /communications/departments/{departmentUUID}/customers/{customerUUID}/threads`.
//!
//! Handlers only: each parses the request, passes the webservice's gate (`http::access::gate`:
//! the same keys, cache and failed-authentication limit; its refusals in the bridge's terms),
//! calls `bridge::cached` (the bridges' caches and reads) and renders the answer. Responses
//! are plain JSON in the foreign API's shape, without the webservice's PrestaShop headers
//! (`http::json`). A refusal is written by `http::json::refuse` from the bridge's one error
//! type (`bridge::Refusal`).

use std::sync::Arc;

use actix_web::http::Method as HttpMethod;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use uuid::Uuid;

use super::access::{self, Denied};
use super::body::{self, Body, BodyError};
use super::json;
use crate::auth::credential;
use crate::bridge::cached::{ListRequest, Listed, Source};
use crate::bridge::mirakl_m10::M10Error;
use crate::bridge::thread_list::{self, Envelope, Failure, ListError};
use crate::bridge::KeyFailure;
use crate::db::replica::Wait;
use crate::db::shop::ShopSnapshot;
use crate::resource::Method;
use crate::state::AppState;

pub const M10_PATH: &str = "/api/inbox/threads/{thread_id}";
pub const THREAD_LIST_PATH: &str =
    "/communications/departments/{departmentUUID}/customers/{customerUUID}/threads";
/// Each route as a literal scope and the dynamic rest: the router compares a scope's literal
/// prefix and only runs a resource's pattern (a regex) on paths under it, instead of running both
/// patterns on every request (measured: ~5 % of a GET by id's instructions, callgrind). A path
/// under a scope that its resource does not match goes to the default service, as before.
const M10_SCOPE: (&str, &str) = ("/api/inbox/threads", "/{thread_id}");
const THREAD_LIST_SCOPE: (&str, &str) = (
    "/communications/departments",
    "/{departmentUUID}/customers/{customerUUID}/threads",
);

/// Registers both routes (before the webservice's default service).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::scope(M10_SCOPE.0).service(web::resource(M10_SCOPE.1).to(mirakl_m10)))
        .service(
            web::scope(THREAD_LIST_SCOPE.0)
                .service(web::resource(THREAD_LIST_SCOPE.1).to(thread_list)),
        );
}

/// Bodies larger than this are refused as `INVALID_REQUEST_DATA` (the documented body has six
/// small fields).
const BODY_LIMIT: usize = 64 * 1024;

/// Where the bridges read from, with the shop configuration the gate found.
fn source(state: &AppState, snapshot: Arc<ShopSnapshot>) -> Source<'_> {
    Source {
        pool: &state.pool,
        route: state.route(Wait::Node),
        tables: &state.tables,
        settings: &state.settings,
        snapshot,
    }
}

/// The gate's refusals in a bridge's terms: the key's failures as [`KeyFailure`]s, the
/// others (Host, not ready, webservice disabled) as `own` writes them.
fn refusal<E: From<KeyFailure>>(r: Denied, own: impl FnOnce(Denied) -> E) -> E {
    match r {
        Denied::Key(e) => KeyFailure::of(&e).into(),
        Denied::Forbidden(_) => KeyFailure::NoPermission.into(),
        other => own(other),
    }
}

/// The bridges' grant: both read customer threads.
const NEED: Option<(&str, Method)> = Some(("customer_threads", Method::Get));

impl From<Denied> for M10Error {
    fn from(r: Denied) -> M10Error {
        refusal(r, |r| match r {
            Denied::BadHost(_) => M10Error::new(400, "Invalid Host or X-Forwarded-Host header"),
            Denied::NotReady => M10Error::unavailable(),
            _ => M10Error::new(503, "The webservice is disabled"),
        })
    }
}

impl From<Denied> for ListError {
    fn from(r: Denied) -> ListError {
        refusal(r, |r| match r {
            Denied::BadHost(header) => Failure::InvalidRequestData(format!(
                "the {header} header is not a host[:port] of at most 255 bytes"
            ))
            .into(),
            Denied::NotReady => ListError::unavailable(),
            _ => Failure::ServiceUnavailable.into(),
        })
    }
}

// --- Mirakl M10 ---

async fn mirakl_m10(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let head = req.method() == HttpMethod::HEAD;
    match m10(&req, &state).await {
        Ok(body) => json::finish(json::builder(200), body, head),
        Err(e) => json::refuse(&e, e.body(), head),
    }
}

/// The key of an M10 request: `Authorization: <key>` (Mirakl's legacy form), `Bearer <key>`,
/// or Basic with the key as user name (docs/bridges.md#m10-authentication,
/// docs/bridges.md#decisions).
fn m10_key(value: &str) -> String {
    if let Some(user) = credential::basic_user(value.as_bytes()) {
        return user;
    }
    match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim().to_owned(),
        _ => value.to_owned(),
    }
}

/// The path's thread id: decimal digits naming a positive id, else no thread.
fn thread_id(req: &HttpRequest) -> Option<u32> {
    let raw_id = req.match_info().get("thread_id").unwrap_or("");
    raw_id
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw_id.parse().ok())
        .flatten()
        .filter(|&n| n > 0)
}

async fn m10(req: &HttpRequest, state: &AppState) -> Result<Bytes, M10Error> {
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::HEAD {
        return Err(M10Error::new(405, "Method not allowed"));
    }
    let key = || {
        access::authorization(req, state)
            .map(m10_key)
            .ok_or_else(|| M10Error::new(401, "Authentication required"))
    };
    let admitted = access::gate(req, state, None, key, NEED).await?;
    let account = admitted.verified.account;
    let src = source(state, admitted.snapshot);

    // docs/bridges.md#the-customer_id-parameter: `?customer_id=` (present but empty) is refused,
    // never read as "all".
    let customer_id = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "customer_id")
        .map(|(_, v)| v.into_owned());
    if customer_id.as_deref() == Some("") {
        return Err(M10Error::new(400, "customer_id must not be empty"));
    }
    let id = thread_id(req).ok_or_else(M10Error::not_found)?;
    state
        .bridges
        .m10(&src, &account.shops, id, customer_id.as_deref())
        .await
}

// --- myKaarma thread list ---

async fn thread_list(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_uuid = Uuid::new_v4().to_string();
    let head = req.method() == HttpMethod::HEAD;
    match list(&req, payload, &state).await {
        Ok(Listed { page, warnings }) => {
            let body = serde_json::to_vec(&Envelope {
                customer_threads: &*page,
                request_uuid,
                errors: Vec::new(),
                warnings,
            });
            json::finish(json::builder(200), body.unwrap_or_default().into(), head)
        }
        Err(e) => {
            let body = e.clone().body(request_uuid);
            json::refuse(&e, body, head)
        }
    }
}

/// The request body (`http::body`). A body that is late or finds no memory is refused at
/// once (`Err`: not a matter of its content); one too large or unreadable is the parsed body's
/// failure, reported in myKaarma's order.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Result<Body, Failure>, ListError> {
    let read = body::read(
        req,
        payload,
        BODY_LIMIT,
        state.settings.body_time(),
        &state.bodies,
    )
    .await;
    match read {
        Ok(b) => Ok(Ok(b)),
        Err(BodyError::TooLarge(_)) => Ok(Err(Failure::InvalidRequestData(
            "the body is too large".into(),
        ))),
        Err(BodyError::Unreadable) => Ok(Err(Failure::InvalidRequestData(
            "the body could not be read".into(),
        ))),
        // 408 closes the connection (`json::refuse`).
        Err(BodyError::TimedOut(_)) => Err(Failure::RequestTimeout.into()),
        Err(BodyError::Busy) => Err(ListError::busy()),
    }
}

async fn list(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Listed, ListError> {
    if req.method() != HttpMethod::POST {
        return Err(Failure::MethodNotAllowed.into());
    }
    let key = || -> Result<String, ListError> {
        let value = access::authorization(req, state).ok_or(Failure::CredentialsAreNull)?;
        Ok(credential::basic_user(value.as_bytes()).ok_or(Failure::WrongCredential)?)
    };
    let admitted = access::gate(req, state, None, key, NEED).await?;
    let account = admitted.verified.account;
    let src = source(state, admitted.snapshot);
    let body = read_body(req, payload, state)
        .await?
        .and_then(|b| thread_list::parse_body(&b));
    let request = ListRequest {
        department: req.match_info().get("departmentUUID").unwrap_or(""),
        customer: req.match_info().get("customerUUID").unwrap_or(""),
        body,
    };
    state
        .bridges
        .thread_list(&src, &account.shops, request)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scopes_spell_the_routes_patterns() {
        // `HttpRequest::match_pattern` joins the scope's and the resource's patterns; the
        // access log's route label compares it with these.
        assert_eq!(format!("{}{}", M10_SCOPE.0, M10_SCOPE.1), M10_PATH);
        assert_eq!(
            format!("{}{}", THREAD_LIST_SCOPE.0, THREAD_LIST_SCOPE.1),
            THREAD_LIST_PATH
        );
    }
}

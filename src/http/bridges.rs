//! The two bridge routes (docs/bridges.md, and its #decisions): Mirakl M10
//! `GET /api/inbox/threads/{thread_id}` and the myKaarma thread list
//! `POST /communications/departments/{departmentUUID}/customers/{customerUUID}/threads`.
//!
//! Handlers only: each parses the request, authenticates with the webservice's keys
//! (`http::access::authenticate`: the same cache and the same failed-authentication limit),
//! calls `bridge::cached` (the bridges' caches and reads) and renders the answer. Responses
//! are plain JSON in the foreign API's shape, without the webservice's PrestaShop headers;
//! they carry the [`Rendered`] marker so the error middleware leaves them alone. A refusal is
//! written by `refuse` from the bridge's one error type ([`Refusal`]).

use std::sync::Arc;

use actix_web::http::header::{
    HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::http::{Method as HttpMethod, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use uuid::Uuid;

use super::body::{self, Body, BodyError};
use super::request::{invalid_host_header, percent_decode, request_host};
use super::response::Rendered;
use crate::auth::{credential, Account};
use crate::bridge::cached::{ListRequest, Listed, Source};
use crate::bridge::mirakl_m10::M10Error;
use crate::bridge::thread_list::{self, Envelope, Failure, ListError};
use crate::bridge::{KeyFailure, Refusal};
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

fn json(status: u16) -> actix_web::HttpResponseBuilder {
    let mut b = HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    b.insert_header((CONTENT_TYPE, "application/json"));
    b
}

fn finish(mut b: actix_web::HttpResponseBuilder, body: Bytes, head: bool) -> HttpResponse {
    let mut res = if head { b.finish() } else { b.body(body) };
    res.extensions_mut().insert(Rendered);
    res
}

/// A bridge's refusal: its status, its realm on a 401, `Allow` on a 405, `Retry-After` when
/// it has one, and `body`. A 408 closes the connection.
fn refuse<E: Refusal>(e: &E, body: Vec<u8>, head: bool) -> HttpResponse {
    let mut b = json(e.status());
    match e.status() {
        401 => {
            b.insert_header((WWW_AUTHENTICATE, E::REALM));
        }
        405 => {
            b.insert_header((ALLOW, E::ALLOW));
        }
        408 => {
            // The rest of the body may still be on its way: the connection cannot be reused.
            b.force_close();
        }
        _ => {}
    }
    if let Some(s) = e.retry_after() {
        b.insert_header((RETRY_AFTER, s.to_string()));
    }
    finish(b, body.into(), head)
}

/// The `Authorization` value, or a forwarded copy when a proxy renamed it.
fn authorization<'a>(req: &'a HttpRequest, state: &AppState) -> Option<&'a str> {
    let h = req.headers();
    h.get(AUTHORIZATION)
        .or_else(|| {
            state
                .settings
                .forwarded_auth_headers
                .iter()
                .find_map(|n| h.get(n.as_str()))
        })
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// The key's account, when it may read customer threads.
async fn account(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
) -> Result<Arc<Account>, KeyFailure> {
    let account = super::access::authenticate(req, state, key)
        .await
        .map_err(|e| KeyFailure::of(&e))?
        .account;
    if account.allows("customer_threads", Method::Get) {
        Ok(account)
    } else {
        Err(KeyFailure::NoPermission)
    }
}

/// Where the bridges read from, with the shop configuration as last read (`None` before it
/// was first read: the caller answers 503).
fn source(state: &AppState) -> Option<Source<'_>> {
    Some(Source {
        pool: &state.pool,
        route: state.route(Wait::Node),
        tables: &state.tables,
        settings: &state.settings,
        snapshot: state.snapshot()?,
    })
}

/// The shop the request's host names (docs/compatibility.md, "The shop of a request"): its
/// `PS_WEBSERVICE` decides whether the bridges serve.
fn request_shop(req: &HttpRequest, snapshot: &ShopSnapshot) -> u32 {
    snapshot
        .shop_for_request(&request_host(req.headers()), &percent_decode(req.path()))
        .shop
}

// --- Mirakl M10 ---

async fn mirakl_m10(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let head = req.method() == HttpMethod::HEAD;
    match m10(&req, &state).await {
        Ok(body) => finish(json(200), body, head),
        Err(e) => refuse(&e, e.body(), head),
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
    if invalid_host_header(req).is_some() {
        return Err(M10Error::new(
            400,
            "Invalid Host or X-Forwarded-Host header",
        ));
    }
    let key = authorization(req, state)
        .map(m10_key)
        .ok_or_else(|| M10Error::new(401, "Authentication required"))?;
    let src = source(state).ok_or_else(M10Error::unavailable)?;
    if !src
        .snapshot
        .webservice_enabled(request_shop(req, &src.snapshot))
    {
        return Err(M10Error::new(503, "The webservice is disabled"));
    }
    let account = account(req, state, &key).await?;

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
            finish(json(200), body.unwrap_or_default().into(), head)
        }
        Err(e) => {
            let body = e.clone().body(request_uuid);
            refuse(&e, body, head)
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
        // 408 closes the connection (`refuse`).
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
    if let Some(header) = invalid_host_header(req) {
        return Err(Failure::InvalidRequestData(format!(
            "the {header} header is not a host[:port] of at most 255 bytes"
        ))
        .into());
    }
    let value = authorization(req, state).ok_or(Failure::CredentialsAreNull)?;
    let key = credential::basic_user(value.as_bytes()).ok_or(Failure::WrongCredential)?;
    let src = source(state).ok_or_else(ListError::unavailable)?;
    if !src
        .snapshot
        .webservice_enabled(request_shop(req, &src.snapshot))
    {
        return Err(Failure::ServiceUnavailable.into());
    }
    let account = account(req, state, &key).await?;
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

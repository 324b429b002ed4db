//! The two bridge routes (bridges.md; decisions, Bridges): Mirakl M10
//! `GET /api/inbox/threads/{thread_id}` and the myKaarma thread list
//! `POST /communications/departments/{departmentUUID}/customers/{customerUUID}/threads`.
//!
//! Each handler authenticates with the webservice's keys (`http::keys::authenticate`: the same
//! cache and the same failed-authentication limit),
//! reads through `db::bridge` in one `db::run`, and hands the rows to the pure `bridge` module.
//! Responses are plain JSON in the foreign API's shape, without the webservice's PrestaShop
//! headers; they carry the [`Rendered`] marker so the error middleware leaves them alone.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::{Method as HttpMethod, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono_tz::Tz;
use futures_util::StreamExt;
use uuid::Uuid;

use super::response::Rendered;
use crate::auth::{credential, Account};
use crate::bridge::mirakl_m10::{self, View};
use crate::bridge::thread_list::{self, Envelope, Failure};
use crate::bridge::{self, attachment_size, parse_ref, uuid_of, Entity, IdRef};
use crate::db;
use crate::db::bridge::{self as reads, IdIndex};
use crate::error::{ApiError, DbError};
use crate::resource::Method;
use crate::startup::AppState;

pub const M10_PATH: &str = "/api/inbox/threads/{thread_id}";
pub const THREAD_LIST_PATH: &str =
    "/communications/departments/{departmentUUID}/customers/{customerUUID}/threads";

/// Registers both routes (before the webservice's default service).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let index = web::Data::new(IdIndex::default());
    cfg.service(web::resource(M10_PATH).to(mirakl_m10)).service(
        web::resource(THREAD_LIST_PATH)
            .app_data(index)
            .to(thread_list),
    );
}

/// The realm of the bridges' 401 answers (both accept Basic with the key as user name).
const M10_REALM: &str = "Basic realm=\"threadgate\"";
const LIST_REALM: &str = "Basic realm=\"communications\"";
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

fn finish(mut b: actix_web::HttpResponseBuilder, body: Vec<u8>, head: bool) -> HttpResponse {
    let mut res = if head { b.finish() } else { b.body(body) };
    res.extensions_mut().insert(Rendered);
    res
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

/// How a key failed, in the bridges' terms.
enum KeyFailure {
    Wrong,
    NoPermission,
    TooMany(Option<u64>),
    Internal,
}

fn key_failure(e: &ApiError) -> KeyFailure {
    match e.status {
        429 => KeyFailure::TooMany(e.retry_after),
        s if s >= 500 => KeyFailure::Internal,
        // 21 alone: an active key without any permission row.
        _ if e.errors.len() == 1 && e.errors[0].code == 21 => KeyFailure::NoPermission,
        _ => KeyFailure::Wrong,
    }
}

async fn account(
    req: &HttpRequest,
    state: &AppState,
    key: &str,
) -> Result<Arc<Account>, KeyFailure> {
    let account = super::keys::authenticate(req, state, key)
        .await
        .map_err(|e| key_failure(&e))?
        .account;
    if account.allows("customer_threads", Method::Get) {
        Ok(account)
    } else {
        Err(KeyFailure::NoPermission)
    }
}

// --- Mirakl M10 ---

struct M10Error {
    status: u16,
    message: &'static str,
    retry_after: Option<u64>,
}

fn m10_err(status: u16, message: &'static str) -> M10Error {
    M10Error {
        status,
        message,
        retry_after: None,
    }
}

async fn mirakl_m10(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let head = req.method() == HttpMethod::HEAD;
    match m10(&req, &state).await {
        Ok(body) => finish(json(200), body, head),
        Err(e) => {
            let body = serde_json::to_vec(&mirakl_m10::Error {
                status: e.status,
                message: e.message,
            })
            .unwrap_or_default();
            let mut b = json(e.status);
            match e.status {
                401 => {
                    b.insert_header((actix_web::http::header::WWW_AUTHENTICATE, M10_REALM));
                }
                405 => {
                    b.insert_header((ALLOW, "GET, HEAD"));
                }
                _ => {}
            }
            if let Some(s) = e.retry_after {
                b.insert_header((RETRY_AFTER, s.to_string()));
            }
            finish(b, body, head)
        }
    }
}

/// The key of an M10 request: `Authorization: <key>` (Mirakl's legacy form), `Bearer <key>`,
/// or Basic with the key as user name (bridges.md §1.2, decisions Bridges).
fn m10_key(value: &str) -> String {
    if let Some(user) = credential::basic_user(value.as_bytes()) {
        return user;
    }
    match value.split_once(|c: char| c.is_ascii_whitespace()) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim().to_owned(),
        _ => value.to_owned(),
    }
}

async fn m10(req: &HttpRequest, state: &AppState) -> Result<Vec<u8>, M10Error> {
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::HEAD {
        return Err(m10_err(405, "Method not allowed"));
    }
    let key = authorization(req, state)
        .map(m10_key)
        .ok_or_else(|| m10_err(401, "Authentication required"))?;
    let snapshot = state.snapshot();
    if !snapshot.webservice_enabled() {
        return Err(m10_err(503, "The webservice is disabled"));
    }
    let account = account(req, state, &key).await.map_err(|f| match f {
        KeyFailure::Wrong => m10_err(401, "Invalid API key"),
        KeyFailure::NoPermission => m10_err(403, "This API key may not read customer threads"),
        KeyFailure::TooMany(retry_after) => M10Error {
            status: 429,
            message: "Too many failed authentication attempts, retry later",
            retry_after,
        },
        KeyFailure::Internal => m10_err(500, "Internal error"),
    })?;

    // bridges.md §4.3: `?customer_id=` (present but empty) is refused, never read as "all".
    let customer_id = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "customer_id")
        .map(|(_, v)| v.into_owned());
    if customer_id.as_deref() == Some("") {
        return Err(m10_err(400, "customer_id must not be empty"));
    }
    let not_found = || m10_err(404, "Thread not found");
    let raw_id = req.match_info().get("thread_id").unwrap_or("");
    let id: u32 = raw_id
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| raw_id.parse().ok())
        .flatten()
        .filter(|&n| n > 0)
        .ok_or_else(not_found)?;

    let tables = state.tables.clone();
    let upload_dir = state.settings.upload_dir.clone();
    let found = db::run(&state.pool, move |conn| {
        let found = reads::thread_with_messages(conn, &tables, id.into()).map_err(DbError::from)?;
        Ok::<_, DbError>(found.map(|(t, mut messages)| {
            for m in &mut messages {
                if let Some(name) = m.attachment() {
                    m.file_size = attachment_size(upload_dir.as_deref(), name);
                }
            }
            (t, messages)
        }))
    })
    .await
    .map_err(|_| m10_err(500, "Internal error"))?;
    let (thread, messages) = found.ok_or_else(not_found)?;
    // A thread of a shop the key is not associated with does not exist for this key.
    if !account.shops.contains(&thread.id_shop) {
        return Err(not_found());
    }
    let view = match customer_id.as_deref() {
        Some(c) if !mirakl_m10::owned_by(&thread, c) => return Err(not_found()),
        Some(c) => View::Customer(c),
        None => View::All,
    };
    let shop_name = snapshot
        .shops
        .iter()
        .find(|s| s.id == thread.id_shop)
        .map(|s| s.name.as_str())
        .or_else(|| snapshot.config("PS_SHOP_NAME", thread.id_shop))
        .unwrap_or(&state.settings.shop_name);
    let tz = snapshot.timezone(thread.id_shop, state.settings.timezone);
    let doc = mirakl_m10::build(&thread, &messages, shop_name, tz, view);
    serde_json::to_vec(&doc).map_err(|_| m10_err(500, "Internal error"))
}

// --- myKaarma thread list ---

async fn thread_list(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    index: web::Data<IdIndex>,
) -> HttpResponse {
    let request_uuid = Uuid::new_v4().to_string();
    let (status, envelope, retry_after) =
        match list(&req, payload, &state, index.into_inner(), &request_uuid).await {
            Ok(e) => (200, e, None),
            Err((failure, warnings, retry_after)) => (
                failure.status(),
                Envelope {
                    customer_threads: Vec::new(),
                    request_uuid: request_uuid.clone(),
                    errors: vec![failure.entry(&request_uuid)],
                    warnings,
                },
                retry_after,
            ),
        };
    let body = serde_json::to_vec(&envelope).unwrap_or_default();
    let mut b = json(status);
    match status {
        401 => {
            b.insert_header((actix_web::http::header::WWW_AUTHENTICATE, LIST_REALM));
        }
        405 => {
            b.insert_header((ALLOW, "POST"));
        }
        _ => {}
    }
    if let Some(s) = retry_after {
        b.insert_header((RETRY_AFTER, s.to_string()));
    }
    finish(b, body, req.method() == HttpMethod::HEAD)
}

type ListFailure = (Failure, Vec<thread_list::Warning>, Option<u64>);

fn fail(f: Failure) -> ListFailure {
    (f, Vec::new(), None)
}

async fn read_body(mut payload: web::Payload) -> Result<Vec<u8>, Failure> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| Failure::InvalidRequestData("the body could not be read".into()))?;
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(Failure::InvalidRequestData("the body is too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// What the database step found: the first failing check wins, in myKaarma's order
/// (department → customer → body → assignee, bridges.md §5.4).
enum Found {
    /// The threads and the resolved assignee filter.
    Threads(
        Vec<(bridge::ThreadRow, Vec<bridge::MessageRow>)>,
        Option<u32>,
    ),
    Fails(Failure),
}

async fn list(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    index: Arc<IdIndex>,
    request_uuid: &str,
) -> Result<Envelope, ListFailure> {
    if req.method() != HttpMethod::POST {
        return Err(fail(Failure::MethodNotAllowed));
    }
    let value = authorization(req, state).ok_or_else(|| fail(Failure::CredentialsAreNull))?;
    let key =
        credential::basic_user(value.as_bytes()).ok_or_else(|| fail(Failure::WrongCredential))?;
    let snapshot = state.snapshot();
    if !snapshot.webservice_enabled() {
        return Err(fail(Failure::ServiceUnavailable));
    }
    let account = account(req, state, &key).await.map_err(|f| match f {
        KeyFailure::Wrong => fail(Failure::WrongCredential),
        KeyFailure::NoPermission => fail(Failure::NotAuthorized),
        KeyFailure::TooMany(s) => (Failure::TooManyRequests, Vec::new(), s),
        KeyFailure::Internal => fail(Failure::Internal),
    })?;

    let department_raw = req
        .match_info()
        .get("departmentUUID")
        .unwrap_or("")
        .to_owned();
    let customer_raw = req
        .match_info()
        .get("customerUUID")
        .unwrap_or("")
        .to_owned();
    let department = parse_ref(&department_raw);
    let customer = parse_ref(&customer_raw);
    let body = read_body(payload)
        .await
        .and_then(|b| thread_list::parse_body(&b));

    let ns = state.settings.bridge_uuid_namespace;
    let tables = state.tables.clone();
    let assignee_raw = body.as_ref().ok().and_then(|r| r.assignee.clone());
    let body_ok = body.is_ok();
    let found = db::run(&state.pool, move |conn| -> Result<Found, DbError> {
        let resolve = |conn: &mut diesel::mysql::MysqlConnection,
                       entity: Entity,
                       r: Option<IdRef>|
         -> Result<Option<u32>, DbError> {
            match r {
                None => Ok(None),
                Some(IdRef::Decimal(n)) => Ok(Some(n)),
                Some(IdRef::Uuid(u))
                    if entity == Entity::Contact && u == uuid_of(&ns, Entity::Contact, 0) =>
                {
                    Ok(Some(0))
                }
                Some(IdRef::Uuid(u)) => Ok(index.resolve(conn, &tables, &ns, entity, &u)?),
            }
        };
        let Some(contact) = resolve(conn, Entity::Contact, department)? else {
            return Ok(Found::Fails(Failure::NotAuthorized));
        };
        let Some(id_customer) = resolve(conn, Entity::Customer, customer)?.filter(|&c| c > 0)
        else {
            return Ok(Found::Fails(Failure::InvalidCustomer(customer_raw)));
        };
        let employee = match assignee_raw.as_deref() {
            None => None,
            Some(a) => Some(resolve(conn, Entity::Employee, parse_ref(a))?.filter(|&e| e > 0)),
        };
        let (customer_ok, contact_ok, employee_ok) = reads::exist(
            conn,
            &tables,
            id_customer,
            (contact > 0).then_some(contact),
            employee.flatten(),
        )?;
        if !contact_ok {
            return Ok(Found::Fails(Failure::NotAuthorized));
        }
        if !customer_ok {
            return Ok(Found::Fails(Failure::InvalidCustomer(customer_raw)));
        }
        if !body_ok {
            return Ok(Found::Threads(Vec::new(), None));
        }
        if let Some(a) = assignee_raw {
            if employee == Some(None) || !employee_ok {
                return Ok(Found::Fails(Failure::InvalidUser(a)));
            }
        }
        let threads = reads::customer_threads(conn, &tables, id_customer, contact)?;
        Ok(Found::Threads(threads, employee.flatten()))
    })
    .await
    .map_err(|_| fail(Failure::Internal))?;

    let (threads, assignee) = match found {
        Found::Fails(f) => {
            let warnings = body.map(|b| b.warnings).unwrap_or_default();
            return Err((f, warnings, None));
        }
        Found::Threads(t, a) => (t, a),
    };
    let req_body = body.map_err(fail)?;
    let mut zones: HashMap<u32, Tz> = HashMap::new();
    let summaries = threads
        .iter()
        // Threads of shops the key is not associated with are not listed.
        .filter(|(t, _)| account.shops.contains(&t.id_shop))
        .map(|(t, messages)| {
            let tz = *zones
                .entry(t.id_shop)
                .or_insert_with(|| snapshot.timezone(t.id_shop, state.settings.timezone));
            thread_list::summarize(t, messages, tz)
        })
        .collect();
    let customer_threads = thread_list::select(summaries, &req_body, assignee, &ns);
    Ok(Envelope {
        customer_threads,
        request_uuid: request_uuid.to_owned(),
        errors: Vec::new(),
        warnings: req_body.warnings,
    })
}

//! The two bridge routes (bridges.md; decisions, Bridges): Mirakl M10
//! `GET /api/inbox/threads/{thread_id}` and the myKaarma thread list
//! `POST /communications/departments/{departmentUUID}/customers/{customerUUID}/threads`.
//!
//! Each handler authenticates with the webservice's keys (`http::keys::authenticate`: the same
//! cache and the same failed-authentication limit), reads through `db::bridge` behind a
//! [`ReadCache`] (threadgate's own writes are seen at once, other writers within
//! `THREADGATE_BRIDGE_CACHE_MS`; authorisation and the customer's view are decided per request,
//! never cached), and hands the rows to the pure `bridge` module.
//! Responses are plain JSON in the foreign API's shape, without the webservice's PrestaShop
//! headers; they carry the [`Rendered`] marker so the error middleware leaves them alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::header::{HeaderValue, ALLOW, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};
use actix_web::http::{Method as HttpMethod, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use chrono_tz::Tz;
use serde_json::value::RawValue;
use uuid::Uuid;

use super::body::{self, Body, BodyError};
use super::request::invalid_host_header;
use super::response::Rendered;
use crate::auth::{credential, Account};
use crate::bridge::mirakl_m10::{self, View};
use crate::bridge::thread_list::{self, Envelope, Failure, Summary};
use crate::bridge::{attachment_size, parse_ref, uuid_of, Entity, IdRef, MessageRow, ThreadRow};
use crate::config::ServeSettings;
use crate::db;
use crate::db::bridge::{self as reads, IdIndex};
use crate::db::cache::{DataGeneration, ReadCache, Weigh};
use crate::db::replica::{Route, Wait};
use crate::db::shop::ShopSnapshot;
use crate::error::{ApiError, DbError};
use crate::resource::Method;
use crate::state::AppState;

pub const M10_PATH: &str = "/api/inbox/threads/{thread_id}";
pub const THREAD_LIST_PATH: &str =
    "/communications/departments/{departmentUUID}/customers/{customerUUID}/threads";

/// Registers both routes (before the webservice's default service).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource(M10_PATH).to(mirakl_m10))
        .service(web::resource(THREAD_LIST_PATH).to(thread_list));
}

/// What the bridges keep between requests, shared by every worker: the UUID index of the
/// thread list and the read caches of both routes (`db::cache`: threadgate's writes are seen
/// at once, other writers within `THREADGATE_BRIDGE_CACHE_MS`).
#[derive(Debug)]
pub struct BridgeState {
    ids: Arc<IdIndex>,
    m10: ReadCache<u32, M10Read>,
    lists: ReadCache<ListKey, ListRead>,
}

impl BridgeState {
    pub fn new(settings: &ServeSettings, generation: Arc<DataGeneration>) -> BridgeState {
        let ttl = std::time::Duration::from_millis(settings.bridge_cache_ms);
        let half = settings.bridge_cache_mib.saturating_mul(1 << 20) / 2;
        BridgeState {
            ids: Arc::new(IdIndex::default()),
            m10: ReadCache::new(ttl, half, generation.clone()),
            lists: ReadCache::new(ttl, half, generation),
        }
    }

    /// The read caches' hits and misses, for `/metrics`.
    pub fn cache_stats(&self) -> Vec<(&'static str, crate::metrics::CacheStats)> {
        vec![
            ("m10", self.m10.stats()),
            ("thread_list", self.lists.stats()),
        ]
    }
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

fn finish(mut b: actix_web::HttpResponseBuilder, body: Bytes, head: bool) -> HttpResponse {
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
            .unwrap_or_default()
            .into();
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

/// The shop the request's host names (docs/compatibility.md, "The shop of a request"): its
/// `PS_WEBSERVICE` decides whether the bridges serve.
fn request_shop(req: &HttpRequest, snapshot: &ShopSnapshot) -> u32 {
    snapshot
        .shop_for_request(
            &super::request::request_host(req.headers()),
            &super::request::percent_decode(req.path()),
        )
        .shop
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

async fn m10(req: &HttpRequest, state: &AppState) -> Result<Bytes, M10Error> {
    if req.method() != HttpMethod::GET && req.method() != HttpMethod::HEAD {
        return Err(m10_err(405, "Method not allowed"));
    }
    if invalid_host_header(req).is_some() {
        return Err(m10_err(400, "Invalid Host or X-Forwarded-Host header"));
    }
    let key = authorization(req, state)
        .map(m10_key)
        .ok_or_else(|| m10_err(401, "Authentication required"))?;
    let snapshot = state.snapshot();
    if !snapshot.webservice_enabled(request_shop(req, &snapshot)) {
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

    let read = state
        .bridges
        .m10
        .get_or_load(id, || read_m10(state, id))
        .await
        .map_err(|()| m10_err(500, "Internal error"))?;
    let found = read.0.as_ref().ok_or_else(not_found)?;
    // A thread of a shop the key is not associated with does not exist for this key.
    if !account.shops.contains(&found.thread.id_shop) {
        return Err(not_found());
    }
    match customer_id.as_deref() {
        None => Ok(found.shop_view.clone()),
        Some(c) if !mirakl_m10::owned_by(&found.thread, c) => Err(not_found()),
        Some(c) => found
            .render(View::Customer(c))
            .map_err(|_| m10_err(500, "Internal error")),
    }
}

/// What M10 keeps of a thread id: nothing when the thread does not exist, else its rows, the
/// shop's name and time zone as they were read, and the shop's view already rendered (the
/// answer without `customer_id`, the same bytes for every key that may see the thread).
#[derive(Debug)]
pub struct M10Read(Option<M10Thread>);

#[derive(Debug)]
struct M10Thread {
    thread: ThreadRow,
    messages: Vec<MessageRow>,
    shop_name: String,
    tz: Tz,
    shop_view: Bytes,
}

impl M10Thread {
    fn render(&self, view: View<'_>) -> serde_json::Result<Bytes> {
        let doc = mirakl_m10::build(&self.thread, &self.messages, &self.shop_name, self.tz, view);
        serde_json::to_vec(&doc).map(Bytes::from)
    }
}

impl Weigh for M10Read {
    fn weight(&self) -> usize {
        self.0.as_ref().map_or(0, |t| {
            let rows: usize = t
                .messages
                .iter()
                .map(|m| std::mem::size_of::<MessageRow>() + m.message.len() + m.date_add.len())
                .sum();
            t.shop_view.len() + rows + std::mem::size_of::<M10Thread>()
        })
    }
}

/// Reads a thread and its messages (two statements, `db::bridge`), with the attachments' sizes.
async fn read_m10(state: &AppState, id: u32) -> Result<M10Read, ()> {
    let tables = state.tables.clone();
    let upload_dir = state.settings.upload_dir.clone();
    let found = Route::run(&state.route(Wait::Node), move |conn| {
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
    .map_err(|e| tracing::error!(error = %e, "M10 read failed"))?;
    let Some((thread, messages)) = found else {
        return Ok(M10Read(None));
    };
    let snapshot = state.snapshot();
    let shop_name = snapshot
        .shops
        .iter()
        .find(|s| s.id == thread.id_shop)
        .map(|s| s.name.as_str())
        .or_else(|| snapshot.config("PS_SHOP_NAME", thread.id_shop))
        .unwrap_or(&state.settings.shop_name)
        .to_owned();
    let tz = snapshot.timezone(thread.id_shop, state.settings.timezone);
    let mut t = M10Thread {
        thread,
        messages,
        shop_name,
        tz,
        shop_view: Bytes::new(),
    };
    t.shop_view = t
        .render(View::All)
        .map_err(|e| tracing::error!(error = %e, "M10 rendering failed"))?;
    Ok(M10Read(Some(t)))
}

// --- myKaarma thread list ---

async fn thread_list(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_uuid = Uuid::new_v4().to_string();
    let (status, body, retry_after) = match list(&req, payload, &state).await {
        Ok(Listed { page, warnings }) => (
            200,
            serde_json::to_vec(&Envelope {
                customer_threads: &*page,
                request_uuid,
                errors: Vec::new(),
                warnings,
            }),
            None,
        ),
        Err((failure, warnings, retry_after)) => (
            failure.status(),
            serde_json::to_vec(&Envelope {
                customer_threads: Vec::<thread_list::CustomerThread>::new(),
                errors: vec![failure.entry(&request_uuid)],
                request_uuid,
                warnings,
            }),
            retry_after,
        ),
    };
    let body = body.unwrap_or_default().into();
    let mut b = json(status);
    match status {
        401 => {
            b.insert_header((actix_web::http::header::WWW_AUTHENTICATE, LIST_REALM));
        }
        408 => {
            // The rest of the body may still be on its way: the connection cannot be reused.
            b.force_close();
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

/// A successful list: the page (the `customerThreads` array, rendered) and the warnings.
struct Listed {
    page: Arc<RawValue>,
    warnings: Vec<thread_list::Warning>,
}

type ListFailure = (Failure, Vec<thread_list::Warning>, Option<u64>);

fn fail(f: Failure) -> ListFailure {
    (f, Vec::new(), None)
}

async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Body, Failure> {
    body::read(
        req,
        payload,
        BODY_LIMIT,
        state.settings.body_time(),
        &state.bodies,
    )
    .await
    .map_err(|e| match e {
        BodyError::TooLarge(_) => Failure::InvalidRequestData("the body is too large".into()),
        BodyError::Unreadable => Failure::InvalidRequestData("the body could not be read".into()),
        BodyError::TimedOut(_) => Failure::RequestTimeout,
        BodyError::Busy => Failure::Busy,
    })
}

/// A thread list read: the department (contact), the customer and the assignee filter's
/// employee, resolved to ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ListKey {
    contact: u32,
    customer: u32,
    employee: Option<u32>,
}

/// What the thread list keeps of a [`ListKey`]: which of its rows exist and, when all do, the
/// summary of every thread of the customer in the department. Filters, sorting and the page
/// depend on the request; the last few pages rendered from these summaries are kept with them.
#[derive(Debug)]
pub struct ListRead {
    contact_ok: bool,
    customer_ok: bool,
    employee_ok: bool,
    threads: Vec<Summary>,
    pages: Mutex<Vec<(PageShape, Arc<RawValue>)>>,
}

/// Everything a page depends on besides the summaries: the key's shops and the body's
/// filters, sort and size (the namespace is a setting; warnings are per request).
#[derive(Debug, Clone, PartialEq, Eq)]
struct PageShape {
    shops: Vec<u32>,
    is_closed: Option<bool>,
    is_archived: Option<bool>,
    assignee: Option<u32>,
    max_results: usize,
    sort_key: thread_list::SortKey,
    sort_order: thread_list::SortOrder,
}

/// Rendered pages kept per read, the oldest replaced first.
const PAGES_PER_READ: usize = 4;
/// An upper bound of one rendered thread (its UUIDs, dates and names), in bytes.
const PAGE_ENTRY_BYTES: usize = 360;

impl ListRead {
    /// The page of `shape`, rendered by `render` the first time it is asked for.
    fn page(
        &self,
        shape: PageShape,
        render: impl FnOnce() -> serde_json::Result<Box<RawValue>>,
    ) -> serde_json::Result<Arc<RawValue>> {
        let lock = || self.pages.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, page)) = lock().iter().find(|(s, _)| *s == shape) {
            return Ok(page.clone());
        }
        let page: Arc<RawValue> = Arc::from(render()?);
        let mut pages = lock();
        if pages.len() >= PAGES_PER_READ {
            pages.remove(0);
        }
        pages.push((shape, page.clone()));
        Ok(page)
    }
}

impl Weigh for ListRead {
    /// The summaries, plus the most the kept pages can hold (counted up front: they are added
    /// after the read is cached).
    fn weight(&self) -> usize {
        let page = self
            .threads
            .len()
            .min(thread_list::MAX_MAX_RESULTS as usize)
            * PAGE_ENTRY_BYTES;
        std::mem::size_of::<ListRead>()
            + self.threads.len() * std::mem::size_of::<Summary>()
            + PAGES_PER_READ * page
    }
}

/// Existence of the three rows in one statement, then the threads and their messages in two
/// (`db::bridge`), summarised in each thread's shop time zone.
async fn read_list(state: &AppState, key: ListKey) -> Result<ListRead, ()> {
    let tables = state.tables.clone();
    let rows = Route::run(&state.route(Wait::Node), move |conn| {
        let contact = (key.contact > 0).then_some(key.contact);
        let (customer_ok, contact_ok, employee_ok) =
            reads::exist(conn, &tables, key.customer, contact, key.employee)?;
        let threads = if customer_ok && contact_ok && employee_ok {
            reads::customer_threads(conn, &tables, key.customer, key.contact)?
        } else {
            Vec::new()
        };
        Ok::<_, DbError>((contact_ok, customer_ok, employee_ok, threads))
    })
    .await
    .map_err(|e| tracing::error!(error = %e, "thread list read failed"))?;
    let (contact_ok, customer_ok, employee_ok, threads) = rows;
    let snapshot = state.snapshot();
    let mut zones: HashMap<u32, Tz> = HashMap::new();
    let threads = threads
        .iter()
        .map(|(t, messages)| {
            let tz = *zones
                .entry(t.id_shop)
                .or_insert_with(|| snapshot.timezone(t.id_shop, state.settings.timezone));
            thread_list::summarize(t, messages, tz)
        })
        .collect();
    Ok(ListRead {
        contact_ok,
        customer_ok,
        employee_ok,
        threads,
        pages: Mutex::new(Vec::new()),
    })
}

/// A path or body reference resolved as far as memory allows.
enum Lookup {
    /// Nothing was sent.
    Absent,
    Id(u32),
    /// A UUID the index does not know yet.
    Unknown(Entity, Uuid),
}

impl Lookup {
    fn id(&self) -> Option<u32> {
        match self {
            Lookup::Id(n) => Some(*n),
            _ => None,
        }
    }
}

/// Decimals as sent, the synthetic department `contact:0`, then the index (bridges.md §7.3).
fn lookup(ids: &IdIndex, ns: &Uuid, entity: Entity, r: Option<IdRef>) -> Lookup {
    match r {
        None => Lookup::Absent,
        Some(IdRef::Decimal(n)) => Lookup::Id(n),
        Some(IdRef::Uuid(u))
            if entity == Entity::Contact && u == uuid_of(ns, Entity::Contact, 0) =>
        {
            Lookup::Id(0)
        }
        Some(IdRef::Uuid(u)) => ids
            .lookup(entity, &u)
            .map_or(Lookup::Unknown(entity, u), Lookup::Id),
    }
}

/// Resolves the UUIDs memory did not know, learning the rows added since (one statement per
/// entity). `None` both for a reference not sent and for one that names no row: the caller
/// knows which references it sent.
async fn learn(state: &AppState, refs: [Lookup; 3]) -> Result<[Option<u32>; 3], DbError> {
    if !refs.iter().any(|r| matches!(r, Lookup::Unknown(..))) {
        return Ok(refs.map(|r| r.id()));
    }
    let tables = state.tables.clone();
    let ids = state.bridges.ids.clone();
    let ns = state.settings.bridge_uuid_namespace;
    db::run(&state.pool, move |conn| {
        let mut out = [None; 3];
        for (slot, r) in out.iter_mut().zip(refs) {
            *slot = match r {
                Lookup::Unknown(entity, u) => ids.resolve(conn, &tables, &ns, entity, &u)?,
                r => r.id(),
            };
        }
        Ok(out)
    })
    .await
}

async fn list(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Listed, ListFailure> {
    if req.method() != HttpMethod::POST {
        return Err(fail(Failure::MethodNotAllowed));
    }
    if let Some(header) = invalid_host_header(req) {
        return Err(fail(Failure::InvalidRequestData(format!(
            "the {header} header is not a host[:port] of at most 255 bytes"
        ))));
    }
    let value = authorization(req, state).ok_or_else(|| fail(Failure::CredentialsAreNull))?;
    let key =
        credential::basic_user(value.as_bytes()).ok_or_else(|| fail(Failure::WrongCredential))?;
    let snapshot = state.snapshot();
    if !snapshot.webservice_enabled(request_shop(req, &snapshot)) {
        return Err(fail(Failure::ServiceUnavailable));
    }
    let account = account(req, state, &key).await.map_err(|f| match f {
        KeyFailure::Wrong => fail(Failure::WrongCredential),
        KeyFailure::NoPermission => fail(Failure::NotAuthorized),
        KeyFailure::TooMany(s) => (Failure::TooManyRequests, Vec::new(), s),
        KeyFailure::Internal => fail(Failure::Internal),
    })?;

    let department_raw = req.match_info().get("departmentUUID").unwrap_or("");
    let customer_raw = req.match_info().get("customerUUID").unwrap_or("");
    let body = match read_body(req, payload, state).await {
        // Not a matter of the body's content: answered at once (408 closes the connection).
        Err(f @ Failure::RequestTimeout) => return Err(fail(f)),
        Err(f @ Failure::Busy) => return Err((f, Vec::new(), Some(1))),
        b => b.and_then(|b| thread_list::parse_body(&b)),
    };
    let assignee_raw = body.as_ref().ok().and_then(|r| r.assignee.clone());
    // The warnings of a parsed body go with any error found after it.
    let failed = |f: Failure, body: &Result<thread_list::Request, Failure>| {
        let warnings = body
            .as_ref()
            .map(|b| b.warnings.clone())
            .unwrap_or_default();
        (f, warnings, None)
    };

    // myKaarma's order (bridges.md §5.4): department → customer → body → assignee.
    let ns = state.settings.bridge_uuid_namespace;
    let ids = &state.bridges.ids;
    let refs = [
        lookup(ids, &ns, Entity::Contact, parse_ref(department_raw)),
        lookup(ids, &ns, Entity::Customer, parse_ref(customer_raw)),
        match assignee_raw.as_deref() {
            None => Lookup::Absent,
            Some(a) => match lookup(ids, &ns, Entity::Employee, parse_ref(a)) {
                // An assignee that is not a UUID or a decimal names nobody.
                Lookup::Absent => Lookup::Id(0),
                l => l,
            },
        },
    ];
    let [contact, customer, employee] = learn(state, refs)
        .await
        .map_err(|_| fail(Failure::Internal))?;
    let Some(contact) = contact else {
        return Err(failed(Failure::NotAuthorized, &body));
    };
    let Some(customer) = customer.filter(|&c| c > 0) else {
        return Err(failed(
            Failure::InvalidCustomer(customer_raw.to_owned()),
            &body,
        ));
    };
    // `None`: no filter; `Some(None)`: an assignee that names no employee.
    let employee = assignee_raw.as_ref().map(|_| employee.filter(|&e| e > 0));
    let key = ListKey {
        contact,
        customer,
        employee: employee.flatten(),
    };
    let read = state
        .bridges
        .lists
        .get_or_load(key, || read_list(state, key))
        .await
        .map_err(|()| fail(Failure::Internal))?;
    if !read.contact_ok {
        return Err(failed(Failure::NotAuthorized, &body));
    }
    if !read.customer_ok {
        return Err(failed(
            Failure::InvalidCustomer(customer_raw.to_owned()),
            &body,
        ));
    }
    let req_body = body.map_err(fail)?;
    if let Some(a) = assignee_raw {
        if employee == Some(None) || !read.employee_ok {
            return Err((Failure::InvalidUser(a), req_body.warnings, None));
        }
    }
    let shape = PageShape {
        shops: account.shops.clone(),
        is_closed: req_body.is_closed,
        is_archived: req_body.is_archived,
        assignee: employee.flatten(),
        max_results: req_body.max_results,
        sort_key: req_body.sort_key,
        sort_order: req_body.sort_order,
    };
    let page = read
        .page(shape, || {
            // Threads of shops the key is not associated with are not listed.
            let visible = read
                .threads
                .iter()
                .filter(|s| account.shops.contains(&s.shop));
            let threads = thread_list::select(visible, &req_body, employee.flatten(), &ns);
            serde_json::value::to_raw_value(&threads)
        })
        .map_err(|_| fail(Failure::Internal))?;
    Ok(Listed {
        page,
        warnings: req_body.warnings,
    })
}

//! The `/api/` dispatcher: PrestaShop's pipeline in its order (docs/prestashop/requests.md#pipeline
//! step 4) — key (16), webservice enabled (22), authentication (17/18/20/21), shops (999/132),
//! language (78–81), resource (26/27), method (23/25) — then the read handlers. Short on purpose:
//! parsing lives in `query`, SQL in `db`, documents in `render`.

use std::sync::Arc;

use actix_web::http::header::{
    HeaderValue, CONTENT_TYPE, FORWARDED, HOST, X_FORWARDED_HOST, X_FORWARDED_PROTO,
};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::Bytes;

use super::access::{self, Admitted, Guard};
use super::body::{self, Body, BodyError};
use super::observe::DecodedPath;
use super::request::{
    parse_api_path_under, percent_decode, request_host, ws_url, ApiPath, IO_FORMAT,
    LOCAL_CONTENT_SHA1, OUTPUT_FORMAT,
};
use super::response::{self, request_format, Ctx};
use super::write;
use crate::auth::Account;
use crate::db::reads::{self, Columns, Cursor};
use crate::db::replica::{Route, Wait};
use crate::db::shop::{RequestShop, ShopSnapshot};
use crate::db::Tables;
use crate::error::{ApiError, DbError};
use crate::ingest;
use crate::php;
use crate::query::list::{parse_collection, parse_single_display};
use crate::query::shop::{parse_shop_selector, validate_language, ShopSelector};
use crate::query::{CollectionRequest, ListQuery, Params};
use crate::render::{self, Format, ListWriter, RootEntry};
use crate::resource::{self, Method, ResourceDef, CORE_RESOURCE_NAMES, SERVED};
use crate::state::AppState;

/// Every request that no other route takes.
pub async fn dispatch(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    // The shop the host and path name (used when the request has no `id_shop`), and the API
    // path under that shop's base URI.
    // Decoded once, by the access log's middleware; decoded here when it did not run.
    let decoded = req
        .extensions_mut()
        .remove::<DecodedPath>()
        .map_or_else(|| percent_decode(req.path()), |d| d.0);
    let located = match state.snapshot() {
        Some(snapshot) => snapshot.shop_for_request(&request_host(req.headers()), &decoded),
        // Not ready: `handle` answers 503 before the shop is used.
        None => RequestShop {
            shop: 0,
            base_uri: "/".to_owned(),
        },
    };
    let (path, base_uri) = parse_api_path_under(&decoded, &located.base_uri);
    let mut params = Params::parse(path.as_ref().map_or("", |p| p.path_params.as_str()));
    params.merge(Params::parse(req.query_string()));
    let local_sha1 = req
        .headers()
        .get(LOCAL_CONTENT_SHA1)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut ctx = Ctx::new(request_format(&req, &params), local_sha1);
    ctx.plural_json = params.contains("display");
    let result = match &path {
        Some(path) => {
            let shop = RequestShop {
                shop: located.shop,
                base_uri,
            };
            handle(&req, payload, &state, path, &shop, &params, &mut ctx).await
        }
        None => Err(ApiError::route_not_found()),
    };
    result.unwrap_or_else(|e| response::error(&ctx, &e))
}

async fn handle(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    path: &ApiPath,
    located: &RequestShop,
    params: &Params,
    ctx: &mut Ctx,
) -> Result<HttpResponse, ApiError> {
    // The grants are checked below, in PrestaShop's order.
    let Admitted {
        key,
        verified,
        snapshot,
    } = access::gate(
        req,
        state,
        Some(located.shop),
        || access::request_key(req, state, params.get_str("ws_key")).ok_or_else(ApiError::no_key),
        None,
    )
    .await?;
    let default_shop = located.shop;
    let account = verified.account.clone();
    ctx.psws = state.settings.psws_version().map(str::to_owned);

    let shops = context_shops(&snapshot, parse_shop_selector(params)?, default_shop)?;
    access::check_shops(&account, &shops)?;
    validate_language(params, &snapshot.languages)?;

    let method_name = params.get_str("ps_method").unwrap_or(req.method().as_str());
    let base = base_url(req, state, &snapshot, shops[0], &located.base_uri);
    if path.resource.is_empty() {
        // The root listing: no resource or method check
        // (docs/prestashop/authentication.md#permissions).
        ctx.head = method_name == "HEAD";
        let name = snapshot
            .config("PS_SHOP_NAME", shops[0])
            .unwrap_or(&state.settings.shop_name);
        return Ok(root(ctx, &account, name, &base));
    }
    let res = served_resource(&path.resource, &account)?;
    access::check_resource(&account, res.name)?;
    let method = Method::parse(method_name).ok_or_else(|| ApiError::invalid_method(method_name))?;
    access::check_method(&account, res.name, method)?;
    let guard = Guard::new(state, &key, &verified, &shops, res.name, method);
    match method {
        Method::Get | Method::Head => {
            ctx.head = method == Method::Head;
            read(state, res, path, params, ctx, base, guard).await
        }
        Method::Delete => {
            let outbox = outbox(req, state, &account, params);
            let writer = write::Writer { guard, outbox };
            write::delete(state, res, path.id.as_deref(), params, ctx, writer).await
        }
        Method::Post | Method::Put | Method::Patch => {
            let outbox = outbox(req, state, &account, params);
            let entities = body_entities(req, payload, state, res, params, ctx).await?;
            let writer = write::Writer { guard, outbox };
            write::save(state, res, method, entities, ctx, &base, writer).await
        }
    }
}

/// What a write appends to the event log in its transaction (docs/events.md): the key, and
/// the per-message opt-out of the customer's e-mail (`notify_customer=0` or the
/// `X-Threadgate-Notify-Customer: 0` header).
fn outbox(
    req: &HttpRequest,
    state: &AppState,
    account: &Account,
    params: &Params,
) -> write::Outbox {
    write::Outbox {
        enabled: state.settings.events_on(),
        key: account.id,
        notify_customer: write::notify_customer(
            params.get_str("notify_customer"),
            req.headers()
                .get("X-Threadgate-Notify-Customer")
                .and_then(|v| v.to_str().ok()),
        ),
    }
}

/// The entities of a write's body, XML or JSON (threadgate's extension, docs/compatibility.md).
async fn body_entities(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    res: &'static ResourceDef,
    params: &Params,
    ctx: &mut Ctx,
) -> Result<Vec<ingest::EntityInput>, ApiError> {
    // PrestaShop reads a body only when the real method carries one
    // (docs/prestashop/requests.md#method-and-ps_method).
    let body = match req.method().as_str() {
        "POST" | "PUT" | "PATCH" => read_body(req, payload, state).await?,
        _ => Body::empty(),
    };
    let headers = req.headers();
    let format_asked = [IO_FORMAT, OUTPUT_FORMAT]
        .iter()
        .any(|h| headers.contains_key(h))
        || ["output_format", "io_format"]
            .iter()
            .any(|p| params.get_str(p).is_some());
    if ingest::is_json(
        headers.get(CONTENT_TYPE).map(HeaderValue::as_bytes),
        ctx.format == Format::Json,
        &body,
    ) {
        // A JSON body with no format asked is answered in JSON.
        if !format_asked {
            ctx.format = Format::Json;
        }
        ingest::parse_json(&body, res)
    } else {
        ingest::parse(&body)
    }
}

/// The webservice's base URL as PrestaShop builds it, for `shop` under its `base_uri`.
fn base_url(
    req: &HttpRequest,
    state: &AppState,
    snapshot: &ShopSnapshot,
    shop: u32,
    base_uri: &str,
) -> String {
    let headers = req.headers();
    // actix's `ConnectionInfo` (host, scheme, client addresses, as owned strings) is built only
    // when a proxy header may change the scheme; without one its scheme is the target's, else
    // the listener's.
    let info;
    let scheme = if headers.contains_key(FORWARDED) || headers.contains_key(X_FORWARDED_PROTO) {
        info = req.connection_info();
        info.scheme()
    } else if let Some(s) = req.uri().scheme_str() {
        s
    } else if req.app_config().secure() {
        "https"
    } else {
        "http"
    };
    ws_url(
        snapshot
            .config("PS_SSL_ENABLED", shop)
            .map(|v| v.trim() == "1"),
        headers.get(X_FORWARDED_PROTO).and_then(|v| v.to_str().ok()),
        scheme,
        headers.get(X_FORWARDED_HOST).and_then(|v| v.to_str().ok()),
        headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(&state.settings.bind),
        base_uri,
    )
}

/// The resource of the path: one threadgate serves, else 26 (a core resource the key may not
/// use), the not-served error (one it may), or 27 (no such resource).
fn served_resource(name: &str, account: &Account) -> Result<&'static ResourceDef, ApiError> {
    match resource::served(name) {
        Some(res) => Ok(res),
        None if CORE_RESOURCE_NAMES.contains(&name) => {
            access::check_resource(account, name)?;
            Err(ApiError::not_served(name))
        }
        None => Err(ApiError::unknown_resource(name, &CORE_RESOURCE_NAMES)),
    }
}

/// The request body (`http::body`), its failures as error documents.
async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Body, ApiError> {
    let settings = &state.settings;
    body::read(
        req,
        payload,
        settings.max_body_bytes,
        settings.body_time(),
        &state.bodies,
    )
    .await
    .map_err(|e| match e {
        BodyError::TooLarge(limit) => ApiError::body_too_large(limit),
        BodyError::Unreadable => ApiError::unreadable_body(),
        BodyError::TimedOut(seconds) => ApiError::body_timeout(seconds),
        BodyError::Busy => ApiError::bodies_busy(),
    })
}

/// The shops a request runs in; `default_shop` is the one its host names.
fn context_shops(
    snapshot: &ShopSnapshot,
    selector: ShopSelector,
    default_shop: u32,
) -> Result<Vec<u32>, ApiError> {
    let shops: Vec<u32> = match selector {
        ShopSelector::Default => vec![default_shop],
        ShopSelector::Shop(id) => vec![id],
        ShopSelector::All => snapshot.active_shops().map(|s| s.id).collect(),
        ShopSelector::Group(g) => {
            let shops: Vec<u32> = snapshot
                .active_shops()
                .filter(|s| s.group == g)
                .map(|s| s.id)
                .collect();
            if shops.is_empty() {
                return Err(ApiError::shop_group_without_shops());
            }
            shops
        }
    };
    if shops.is_empty() {
        Ok(vec![default_shop])
    } else {
        Ok(shops)
    }
}

fn root(ctx: &Ctx, account: &Account, shop_name: &str, base: &str) -> HttpResponse {
    let entries: Vec<RootEntry<'_>> = SERVED
        .iter()
        .filter(|r| account.knows(r.name))
        .map(|r| RootEntry {
            resource: r,
            methods: account.methods(r.name),
        })
        .collect();
    let mut body = Vec::with_capacity(2048);
    render::root(&mut body, ctx.format, shop_name, base, &entries);
    response::ok(ctx, 200, body)
}

async fn read(
    state: &AppState,
    res: &'static ResourceDef,
    path: &ApiPath,
    params: &Params,
    ctx: &Ctx,
    base: String,
    guard: Guard,
) -> Result<HttpResponse, ApiError> {
    let tables = state.tables.clone();
    if let Some(id) = &path.id {
        let display = parse_single_display(res, params)?;
        let id = php::int_cast(id);
        let cols = Columns::for_display(res, &display);
        let entity = Route::run(&state.route(Wait::Key(guard.key_id)), move |conn| {
            let (entity, generation) =
                reads::single(conn, &tables, res, &cols, id).map_err(DbError::from)?;
            guard.confirm(conn, generation)?;
            Ok::<_, ApiError>(entity)
        })
        .await?
        .ok_or_else(ApiError::not_found_empty)?;
        let mut body = Vec::with_capacity(1024);
        render::single(
            &mut body,
            ctx.format,
            res,
            &display,
            &entity,
            &base,
            ctx.plural_json,
        );
        return Ok(response::ok(ctx, 200, body));
    }
    match parse_collection(res, params)? {
        CollectionRequest::Schema(kind) => {
            let mut body = Vec::with_capacity(1024);
            render::schema(&mut body, ctx.format, res, kind, ctx.plural_json);
            Ok(response::ok(ctx, 200, body))
        }
        CollectionRequest::List(q) => list(state, res, q, ctx, base, guard).await,
    }
}

/// A list: one statement per chunk. A list that fits in one chunk is answered whole (with
/// `Content-Sha1`); a longer one is streamed chunk by chunk, so memory stays flat.
async fn list(
    state: &AppState,
    res: &'static ResourceDef,
    q: ListQuery,
    ctx: &Ctx,
    base: String,
    guard: Guard,
) -> Result<HttpResponse, ApiError> {
    let mut stream = ListStream {
        route: state.route(Wait::Key(guard.key_id)),
        guard: Some(guard),
        tables: state.tables.clone(),
        res,
        cols: Arc::new(Columns::for_display(res, &q.display)),
        q: Arc::new(q),
        cursor: Cursor::start(),
        chunk: state.settings.stream_chunk.max(1),
        format: ctx.format,
        base,
        count: 0,
        first: None,
        finished: false,
    };
    let mut body = Vec::with_capacity(4096);
    stream.writer().begin(&mut body);
    stream.fetch_into(&mut body).await?;
    if stream.finished {
        return Ok(response::ok(ctx, 200, body));
    }
    stream.first = Some(Bytes::from(body));
    Ok(response::streamed(
        ctx,
        futures_util::stream::unfold(stream, |mut s| async move {
            if let Some(first) = s.first.take() {
                return Some((Ok(first), s));
            }
            if s.finished {
                return None;
            }
            let mut buf = Vec::with_capacity(64 * 1024);
            match s.fetch_into(&mut buf).await {
                Ok(()) => Some((Ok(Bytes::from(buf)), s)),
                Err(e) => {
                    // Headers are gone: all we can do is cut the body short (and log why).
                    tracing::error!(error = %e, "list stream aborted");
                    s.finished = true;
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("stream aborted")),
                        s,
                    ))
                }
            }
        }),
    ))
}

struct ListStream {
    /// Checked against the first chunk's generation, then dropped.
    guard: Option<Guard>,
    /// The replica or the primary, per chunk (`db::replica`).
    route: Route,
    tables: Tables,
    res: &'static ResourceDef,
    cols: Arc<Columns>,
    q: Arc<ListQuery>,
    cursor: Cursor,
    chunk: u32,
    format: Format,
    base: String,
    count: u64,
    first: Option<Bytes>,
    finished: bool,
}

impl ListStream {
    fn writer(&self) -> ListWriter<'_> {
        let mut w = ListWriter::new(self.format, self.res, &self.q.display, &self.base);
        w.count = self.count;
        w
    }

    /// Reads the next chunk and renders it; renders the list's end when the list is done.
    async fn fetch_into(&mut self, out: &mut Vec<u8>) -> Result<(), ApiError> {
        let (tables, res, cols, q, cursor, chunk) = (
            self.tables.clone(),
            self.res,
            self.cols.clone(),
            self.q.clone(),
            self.cursor.clone(),
            self.chunk,
        );
        let guard = self.guard.take();
        let (entities, cursor) = Route::run(&self.route, move |conn| {
            // A read may run twice (on the replica, then on the primary): from the same cursor.
            let mut cursor = cursor.clone();
            let (rows, generation) =
                reads::next_chunk(conn, &tables, res, &cols, &q, &mut cursor, chunk)
                    .map_err(DbError::from)?;
            if let Some(guard) = &guard {
                guard.confirm(conn, generation)?;
            }
            Ok::<_, ApiError>((rows, cursor))
        })
        .await?;
        self.cursor = cursor;
        let mut w = self.writer();
        for e in &entities {
            w.entity(out, e);
        }
        let done = self.cursor.done;
        if done {
            w.finish(out);
        }
        self.count = w.count;
        self.finished = done;
        Ok(())
    }
}

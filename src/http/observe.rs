//! What an operator sees of each request (docs/architecture.md, "Observability"):
//!
//! - the **request id**: the client's `X-Request-Id` when it is 1 to 128 visible ASCII
//!   characters, else a generated one (32 hex digits); echoed as `X-Request-Id` on every
//!   response that leaves the application (error documents and actix's re-rendered errors
//!   included), and carried by the `request` span around the handler, so every line a request
//!   logs names it;
//! - the **access log**: one line per request, target `threadgate::access`, at `info` (`warn`
//!   for 429 and 5xx): method, path with every `ws_key` parameter removed, status, duration,
//!   response bytes, key id (never the key), client address (resolved with the trusted
//!   proxies), request id, and the PrestaShop error codes of an error document;
//! - the **request metrics** (`metrics::Metrics::request`), counted when the line is written.
//!
//! A response whose length is known is logged when its head is ready. A streamed one (a long
//! `display=full` list) is logged when its body ends, so the line has its true byte count and
//! duration; a client that goes away mid-body gives a line with `aborted=true` and the bytes
//! sent so far.
//!
//! Also the `/metrics` handler, which `startup` serves on `THREADGATE_METRICS_BIND` only.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use bytes::Bytes;
use tracing::Instrument;

use super::bridges::{M10_PATH, THREAD_LIST_PATH};
use super::request::{is_api_path, percent_decode};
use crate::metrics::{self, Metrics, Route};
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest request id taken from a client.
const REQUEST_ID_MAX: usize = 128;

/// The request's id (request extensions).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of the key a request authenticated with (request extensions, set by
/// `http::access::authenticate`). Never the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyId(pub u32);

/// The request path percent-decoded once, by [`access_log`] (request extensions): the
/// dispatcher takes it instead of decoding the path again.
#[derive(Debug, Clone)]
pub struct DecodedPath(pub String);

/// The client's address as [`access_log`] resolved it (request extensions): the failure limiter
/// uses it instead of resolving it again (`http::access::client_address`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// The PrestaShop error codes of an error document, comma-separated (response extensions,
/// set by `http::response::error`).
#[derive(Debug, Clone)]
pub struct ErrorCodes(pub String);

/// The client's id when it is usable in a header and a log line, else a new one.
pub fn request_id(sent: Option<&HeaderValue>) -> String {
    match sent.map(HeaderValue::as_bytes) {
        Some(v) if valid_request_id(v) => String::from_utf8_lossy(v).into_owned(),
        _ => format!("{:032x}", rand::random::<u128>()),
    }
}

fn valid_request_id(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= REQUEST_ID_MAX && v.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// `ws_key` in any spelling PHP would read as it (`ws%5Fkey`, `ws.key`, `ws_key[]`, any case).
fn is_key_param(raw_name: &str) -> bool {
    let name = percent_decode(raw_name).to_ascii_lowercase();
    let name: String = name
        .chars()
        .map(|c| {
            if matches!(c, '.' | ' ' | '[' | '+') {
                '_'
            } else {
                c
            }
        })
        .collect();
    name.starts_with("ws_key")
}

/// `&`-separated parameters without the `ws_key` ones.
fn without_keys(params: &str) -> String {
    params
        .split('&')
        .filter(|p| !is_key_param(p.split_once('=').map_or(*p, |(n, _)| n)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The path and query as logged: no `ws_key` parameter, wherever it was. The webservice reads
/// parameters from the query string and from the decoded path after its first `&` (the PHP
/// library's `/api/customers&ws_key=...`); such a path is logged decoded.
pub fn loggable_path(path: &str, query: &str) -> String {
    loggable_decoded_path(path, &percent_decode(path), query)
}

/// [`loggable_path`] with the path's percent-decoded form at hand.
fn loggable_decoded_path(path: &str, decoded: &str, query: &str) -> String {
    let mut out = match decoded.split_once('&') {
        Some((p, params)) => {
            let kept = without_keys(params);
            if kept.is_empty() {
                p.to_owned()
            } else {
                format!("{p}&{kept}")
            }
        }
        None => path.to_owned(),
    };
    if !query.is_empty() {
        out.push('?');
        out.push_str(&without_keys(query));
    }
    out
}

/// The `route` label of a request (`decoded`: its path, percent-decoded).
pub fn route_of(req: &HttpRequest, decoded: &str) -> Route {
    if may_be_a_bridge(req.path()) {
        match req.match_pattern().as_deref() {
            Some(M10_PATH) => return Route::M10,
            Some(THREAD_LIST_PATH) => return Route::ThreadList,
            _ => {}
        }
    }
    match req.path() {
        "/healthz" | "/readyz" => Route::Health,
        _ if is_api_path(decoded) => Route::Webservice,
        _ => Route::Other,
    }
}

/// Whether the router might match `path` to a bridge's route: it starts with a route's
/// literal part, or it has a percent-encoded byte (the router matches the path with encoded
/// unreserved characters decoded). Any other path skips the router's look-up, which builds the
/// matched pattern anew for every request.
fn may_be_a_bridge(path: &str) -> bool {
    let literal = |pattern: &'static str| pattern.split('{').next().unwrap_or(pattern);
    path.contains('%')
        || path.starts_with(literal(M10_PATH))
        || path.starts_with(literal(THREAD_LIST_PATH))
}

/// One request's access-log line, waiting for its byte count.
struct Line {
    method: String,
    path: String,
    status: u16,
    key_id: Option<u32>,
    client: Option<IpAddr>,
    request_id: String,
    errors: Option<String>,
    route: Route,
    started: Instant,
    metrics: Option<Arc<Metrics>>,
}

impl Line {
    fn write(&self, bytes: u64, aborted: bool) {
        let elapsed = self.started.elapsed();
        if let Some(m) = &self.metrics {
            m.request(self.route, &self.method, self.status, elapsed);
        }
        let duration_ms = elapsed.as_micros() as f64 / 1000.0;
        let aborted = aborted.then_some(true);
        macro_rules! line {
            ($level:ident) => {
                tracing::$level!(
                    target: "threadgate::access",
                    method = %self.method,
                    path = ?Quoted(&self.path),
                    status = self.status,
                    duration_ms,
                    bytes,
                    key_id = self.key_id,
                    client = self.client.map(tracing::field::display),
                    request_id = %self.request_id,
                    error = self.errors.as_deref(),
                    aborted,
                    "request"
                )
            };
        }
        if self.status == 429 || self.status >= 500 {
            line!(warn);
        } else {
            line!(info);
        }
    }
}

/// A string as `Debug` writes it (quoted, escaped), without `str`'s per-character escape
/// checks when there is nothing to escape (printable ASCII without `"` or a backslash): the path of
/// nearly every request.
struct Quoted<'a>(&'a str);

impl std::fmt::Debug for Quoted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self
            .0
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
        {
            f.write_str("\"")?;
            f.write_str(self.0)?;
            f.write_str("\"")
        } else {
            std::fmt::Debug::fmt(self.0, f)
        }
    }
}

/// A streamed body that writes its line when it ends (or is dropped unfinished).
struct Logged {
    body: BoxBody,
    bytes: u64,
    line: Option<Line>,
}

impl Logged {
    fn finish(&mut self, aborted: bool) {
        if let Some(line) = self.line.take() {
            line.write(self.bytes, aborted);
        }
    }
}

impl MessageBody for Logged {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.body).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.bytes += chunk.len() as u64;
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.finish(true);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.finish(false);
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.finish(true);
    }
}

/// The middleware around the whole application (`startup::app`): request id, request span,
/// access-log line, request metrics.
pub async fn access_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(req.headers().get(&REQUEST_ID));
    req.extensions_mut().insert(RequestId(id.clone()));
    // Read before the call: the router needs the request unshared (no clone may be kept).
    let state = req.app_data::<web::Data<AppState>>();
    let decoded = percent_decode(req.path());
    let client = state.map(|s| super::access::client_address(req.request(), s));
    let mut line = Line {
        method: req.method().as_str().to_owned(),
        path: loggable_decoded_path(req.path(), &decoded, req.query_string()),
        status: 0,
        key_id: None,
        client,
        request_id: id.clone(),
        errors: None,
        route: route_of(req.request(), &decoded),
        started,
        metrics: state.map(|s| s.metrics.clone()),
    };
    {
        let mut ext = req.extensions_mut();
        ext.insert(DecodedPath(decoded));
        if let Some(c) = client {
            ext.insert(ClientAddress(c));
        }
    }
    let header = HeaderValue::from_str(&id).ok();
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = match next.call(req).instrument(span).await {
        Ok(res) => res.map_into_boxed_body(),
        Err(e) => {
            // No handler of threadgate fails this way; should one, it is answered and logged
            // all the same.
            let mut response = e.error_response();
            if let Some(v) = header {
                response.headers_mut().insert(REQUEST_ID, v);
            }
            line.status = response.status().as_u16();
            line.write(0, false);
            return Err(InternalError::from_response(e.to_string(), response).into());
        }
    };
    if let Some(v) = header {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    line.status = res.status().as_u16();
    line.key_id = res.request().extensions().get::<KeyId>().map(|k| k.0);
    line.errors = res
        .response()
        .extensions()
        .get::<ErrorCodes>()
        .map(|c| c.0.clone());
    match res.response().body().size() {
        BodySize::Stream => Ok(res.map_body(|_, body| {
            BoxBody::new(Logged {
                body,
                bytes: 0,
                line: Some(line),
            })
        })),
        BodySize::Sized(n) => {
            line.write(n, false);
            Ok(res)
        }
        BodySize::None => {
            line.write(0, false);
            Ok(res)
        }
    }
}

/// `GET /metrics`: the Prometheus exposition (`startup::metrics_app`, its own bind address).
pub async fn scrape(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(metrics::CONTENT_TYPE)
        .body(state.encode_metrics())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_removed_from_the_logged_path() {
        assert_eq!(
            loggable_path("/api/customer_threads", "ws_key=SECRET&display=full"),
            "/api/customer_threads?display=full"
        );
        assert_eq!(
            loggable_path(
                "/api/",
                "ws%5Fkey=SECRET&WS_KEY=S2&ws.key=S3&ws_key[]=S4&ws+key=S5&a=1"
            ),
            "/api/?a=1"
        );
        assert_eq!(
            loggable_path("/api/customer_threads&ws_key=SECRET&limit=1", ""),
            "/api/customer_threads&limit=1"
        );
        assert_eq!(
            loggable_path("/api/customer_threads%26ws_key%3DSECRET", "a=b"),
            "/api/customer_threads?a=b"
        );
        assert_eq!(loggable_path("/api/x", ""), "/api/x");
    }

    #[test]
    fn only_paths_that_may_be_a_bridge_go_through_the_router() {
        for p in [
            "/api/inbox/threads/1",
            "/api/inbox/threads/",
            "/api/%69nbox/threads/1",
            "/communications/departments/a/customers/b/threads",
        ] {
            assert!(may_be_a_bridge(p), "{p}");
        }
        for p in [
            "/api/customer_threads/1",
            "/api/inbox/threads",
            "//api/inbox/threads/1",
            "/healthz",
            "/communications/x",
        ] {
            assert!(!may_be_a_bridge(p), "{p}");
        }
    }

    #[test]
    fn quoted_paths_are_written_as_debug_writes_them() {
        for s in [
            "/api/customer_threads/1?display=full",
            "",
            "a\"b",
            "a\\b",
            "tab\there",
            "caf\u{e9}",
            "nl\n",
            "\u{7f}",
            "'single'",
        ] {
            assert_eq!(format!("{:?}", Quoted(s)), format!("{s:?}"));
        }
    }

    #[test]
    fn request_ids_are_taken_when_printable_and_short() {
        let ok = HeaderValue::from_static("abc-123_XYZ");
        assert_eq!(request_id(Some(&ok)), "abc-123_XYZ");
        for bad in [
            HeaderValue::from_static(""),
            HeaderValue::from_static("has space"),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            HeaderValue::from_str(&"x".repeat(129)).unwrap(),
        ] {
            let id = request_id(Some(&bad));
            assert_eq!(id.len(), 32, "{bad:?} -> {id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(request_id(None), request_id(None));
        assert_eq!(
            request_id(Some(&HeaderValue::from_str(&"x".repeat(128)).unwrap())).len(),
            128
        );
    }
}

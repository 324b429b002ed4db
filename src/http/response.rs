//! Responses with PrestaShop's headers (docs/prestashop/documents.md#headers): `Access-Time`,
//! `X-Powered-By`, `PSWS-Version` (only once a key is accepted, docs/compatibility.md W1/W21),
//! `Content-Type`, `Execution-Time`, `Content-Sha1` (successful bodies only), `Local-Content-Sha1`
//! → 304, HEAD without a body. Every response built here carries the [`Rendered`] marker, so the
//! error middleware can tell actix's own error responses apart and re-render them.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{
    HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE,
};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder};
use bytes::Bytes;
use futures_util::Stream;
use sha1::{Digest, Sha1};

use super::observe::ErrorCodes;
use super::request::{output_format, IO_FORMAT, OUTPUT_FORMAT};
use crate::error::{ApiError, WWW_AUTHENTICATE as REALM};
use crate::query::Params;
use crate::render::{self, Format};

/// Marks responses rendered by threadgate itself.
#[derive(Debug, Clone, Copy)]
pub struct Rendered;

/// Per-request response context.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub format: Format,
    pub started: Instant,
    pub access_time: u64,
    /// `PSWS-Version` to send; set once the key is accepted.
    pub psws: Option<String>,
    /// HEAD (real or through `ps_method`): headers only.
    pub head: bool,
    /// The request's `Local-Content-Sha1`.
    pub local_sha1: Option<String>,
    /// The query string has a `display` parameter: JSON single entities, schemas and write
    /// answers then take the plural list shape (`WebserviceOutputJSON::renderNodeFooter`,
    /// docs/prestashop/documents.md#json).
    pub plural_json: bool,
}

impl Ctx {
    pub fn new(format: Format, local_sha1: Option<String>) -> Ctx {
        Ctx {
            format,
            started: Instant::now(),
            access_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            psws: None,
            head: false,
            local_sha1,
            plural_json: false,
        }
    }
}

/// PHP's `round($t, 3)` printed as PHP prints floats: `0`, `0.01`, `0.012`, `1.5`.
pub fn execution_time(secs: f64) -> String {
    let ms = (secs * 1000.0).round() as u64;
    let mut s = (ms / 1000).to_string();
    let frac = ms % 1000;
    if frac != 0 {
        // The milliseconds' three digits without their trailing zeros.
        let digits = [frac / 100, frac / 10 % 10, frac % 10];
        let n = if digits[2] != 0 {
            3
        } else if digits[1] != 0 {
            2
        } else {
            1
        };
        s.push('.');
        s.extend(digits[..n].iter().map(|&d| char::from(b'0' + d as u8)));
    }
    s
}

pub fn content_type(format: Format) -> &'static str {
    match format {
        Format::Xml => "text/xml;charset=UTF-8",
        Format::Json => "application/json",
    }
}

// Header names as constants and fixed values as static values: a name given as text is parsed
// and a `&str` value copied on every response (measured: ~2 % of a GET by id's instructions,
// callgrind). The names go out lower-case either way.
const ACCESS_TIME: HeaderName = HeaderName::from_static("access-time");
const X_POWERED_BY: HeaderName = HeaderName::from_static("x-powered-by");
const PSWS_VERSION: HeaderName = HeaderName::from_static("psws-version");
const EXECUTION_TIME: HeaderName = HeaderName::from_static("execution-time");
const CONTENT_SHA1: HeaderName = HeaderName::from_static("content-sha1");

fn content_type_value(format: Format) -> HeaderValue {
    HeaderValue::from_static(content_type(format))
}

fn builder(ctx: &Ctx, status: u16) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    b.insert_header((ACCESS_TIME, HeaderValue::from(ctx.access_time)));
    b.insert_header((
        X_POWERED_BY,
        HeaderValue::from_static("PrestaShop Webservice"),
    ));
    if let Some(v) = &ctx.psws {
        if let Ok(v) = HeaderValue::from_str(v) {
            b.insert_header((PSWS_VERSION, v));
        }
    }
    b.insert_header((
        EXECUTION_TIME,
        execution_time(ctx.started.elapsed().as_secs_f64()),
    ));
    b
}

fn finish(mut b: HttpResponseBuilder, body: impl MessageBody + 'static) -> HttpResponse {
    let mut res = b.body(body);
    res.extensions_mut().insert(Rendered);
    res
}

/// A successful response with a body: `Content-Sha1`, 304 when the client has it already.
pub fn ok(ctx: &Ctx, status: u16, body: Vec<u8>) -> HttpResponse {
    let sha1 = hex::encode(Sha1::digest(&body));
    let not_modified = ctx.local_sha1.as_deref() == Some(sha1.as_str());
    let mut b = builder(ctx, if not_modified { 304 } else { status });
    b.insert_header((CONTENT_TYPE, content_type_value(ctx.format)));
    b.insert_header((CONTENT_SHA1, sha1));
    if not_modified || ctx.head {
        finish(b, ())
    } else {
        finish(b, body)
    }
}

/// A success without a body (DELETE): no `Content-Type`, no `Content-Sha1`
/// (docs/compatibility.md W25).
pub fn empty(ctx: &Ctx, status: u16) -> HttpResponse {
    finish(builder(ctx, status), ())
}

/// A long list written while it is read: no `Content-Sha1` (the body is not known when the
/// headers go out; docs/compatibility.md).
pub fn streamed<S>(ctx: &Ctx, stream: S) -> HttpResponse
where
    S: Stream<Item = Result<Bytes, actix_web::Error>> + 'static,
{
    let mut b = builder(ctx, 200);
    b.insert_header((CONTENT_TYPE, content_type_value(ctx.format)));
    if ctx.head {
        return finish(b, ());
    }
    let mut res = b.streaming(stream);
    res.extensions_mut().insert(Rendered);
    res
}

/// An error document in the negotiated format (docs/prestashop/errors.md#document); 404 of an
/// unknown id has no body and no `Content-Type` (docs/compatibility.md W25).
pub fn error(ctx: &Ctx, e: &ApiError) -> HttpResponse {
    if e.status == 503 {
        // An outage is logged once by the pool (`db::fault::Health`), not once per request.
        let cause = e.cause.as_deref().unwrap_or("");
        tracing::debug!(error = %e, cause, "request refused: service unavailable");
    } else if e.status >= 500 {
        tracing::error!(error = %e, "request failed");
    } else {
        tracing::debug!(error = %e, "request refused");
    }
    let mut b = builder(ctx, e.status);
    if e.status == 408 {
        // The rest of the body may still be on its way: the connection cannot be reused.
        b.force_close();
    }
    if e.www_authenticate {
        b.insert_header((WWW_AUTHENTICATE, REALM));
    }
    if let Some(s) = e.retry_after {
        b.insert_header((RETRY_AFTER, s.to_string()));
    }
    if e.errors.is_empty() {
        return finish(b, ());
    }
    let mut body = Vec::with_capacity(256);
    render::errors(&mut body, ctx.format, e);
    b.insert_header((CONTENT_TYPE, content_type_value(ctx.format)));
    let mut res = if ctx.head {
        finish(b, ())
    } else {
        finish(b, body)
    };
    // The access log names the codes.
    let codes: Vec<String> = e.errors.iter().map(|x| x.code.to_string()).collect();
    res.extensions_mut().insert(ErrorCodes(codes.join(",")));
    res
}

/// The format a request asked for, read from its headers and query string.
pub fn request_format(req: &HttpRequest, params: &Params) -> Format {
    let h = |n: HeaderName| req.headers().get(n).map(HeaderValue::as_bytes);
    output_format(
        h(IO_FORMAT),
        h(OUTPUT_FORMAT),
        params.get_str("output_format"),
        params.get_str("io_format"),
    )
}

/// Re-renders actix's own error responses (payload errors, ...; malformed heads never reach
/// the app, `http::conn` answers them) as
/// PrestaShop error documents; responses threadgate rendered pass through untouched.
pub fn rerender<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.response().extensions().get::<Rendered>().is_some() {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let params = Params::parse(req.query_string());
    let ctx = Ctx::new(request_format(&req, &params), None);
    let message = status.canonical_reason().unwrap_or("Error");
    let e = ApiError::new(status.as_u16(), 0, message);
    let resp: HttpResponse<BoxBody> = error(&ctx, &e);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, resp).map_into_right_body(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[actix_web::test]
    async fn actix_own_errors_are_rerendered_as_error_documents() {
        let req =
            TestRequest::with_uri("/api/customer_threads?output_format=JSON").to_http_request();
        let res = ServiceResponse::new(req, HttpResponse::PayloadTooLarge().finish());
        let ErrorHandlerResponse::Response(out) = rerender(res).unwrap() else {
            panic!("expected a response")
        };
        assert_eq!(out.status(), 413);
        assert_eq!(out.headers().get(CONTENT_TYPE).unwrap(), "application/json");
        let body = actix_web::body::to_bytes(out.into_body()).await.unwrap();
        assert_eq!(
            &body[..],
            br#"{"errors":[{"code":0,"message":"Payload Too Large"}]}"#
        );
    }

    #[actix_web::test]
    async fn our_own_responses_pass_through_the_error_middleware() {
        let req = TestRequest::default().to_http_request();
        let ctx = Ctx::new(Format::Xml, None);
        let ours = error(&ctx, &ApiError::bad_limit());
        let res = ServiceResponse::new(req, ours);
        let ErrorHandlerResponse::Response(out) = rerender(res).unwrap() else {
            panic!("expected a response")
        };
        let body = actix_web::body::to_bytes(out.into_body()).await.unwrap();
        assert!(std::str::from_utf8(&body)
            .unwrap()
            .contains("<code><![CDATA[39]]></code>"));
    }

    #[test]
    fn execution_time_prints_like_php_round_3() {
        assert_eq!(execution_time(0.0), "0");
        assert_eq!(execution_time(0.0004), "0");
        assert_eq!(execution_time(0.0123), "0.012");
        assert_eq!(execution_time(0.01), "0.01");
        assert_eq!(execution_time(1.5), "1.5");
        assert_eq!(execution_time(2.0), "2");
        assert_eq!(execution_time(0.1005), "0.101");
        assert_eq!(execution_time(0.2), "0.2");
        assert_eq!(execution_time(12.034), "12.034");
        assert_eq!(execution_time(3.0104), "3.01");
    }
}

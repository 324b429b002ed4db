//! Plain JSON answers of the routes outside the webservice (both bridges, the change feed):
//! no PrestaShop headers, and the [`Rendered`] marker so the error middleware leaves them
//! alone. A refusal ([`Refusal`]: each bridge's error, the feed's) is written in one place,
//! [`refuse`].

use actix_web::http::header::{ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};
use bytes::Bytes;

use super::response::Rendered;
use crate::bridge::Refusal;

/// A JSON answer with `status`.
pub fn builder(status: u16) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    b.insert_header((CONTENT_TYPE, "application/json"));
    b
}

/// The answer with `body` (none for HEAD), marked as already rendered.
pub fn finish(mut b: HttpResponseBuilder, body: Bytes, head: bool) -> HttpResponse {
    let mut res = if head { b.finish() } else { b.body(body) };
    res.extensions_mut().insert(Rendered);
    res
}

/// A refusal: its status, its realm on a 401, `Allow` on a 405, `Retry-After` when it has
/// one, and `body`. A 408 closes the connection.
pub fn refuse<E: Refusal>(e: &E, body: Vec<u8>, head: bool) -> HttpResponse {
    let mut b = builder(e.status());
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

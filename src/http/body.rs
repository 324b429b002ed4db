//! The one request-body reader of the webservice and the bridges, with three bounds:
//!
//! - **size**: a body over the caller's limit is refused, by its `Content-Length` before a
//!   byte is read, else as soon as what arrived passes the limit;
//! - **time**: the whole body must arrive within `THREADGATE_BODY_TIMEOUT` seconds plus
//!   `THREADGATE_BODY_SECS_PER_MIB` per MiB (of the announced length, or of what arrived when
//!   no length is announced), else the request ends with 408 and the connection is closed;
//! - **memory**: a body's buffer grows with what has arrived, never with what
//!   `Content-Length` announces, and every byte held is reserved from [`BodyBudget`]
//!   (`ingest::bounds`), shared by all requests (`THREADGATE_BODY_MEMORY_MIB`). When it is
//!   spent, a chunk waits up to [`BodyBudget::wait`] for bodies being read to finish, then the
//!   request gets 503.
//!
//! Callers map [`BodyError`] to their own error documents.

use std::sync::Arc;

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use tokio::time::Instant;

use crate::ingest::bounds::{BodyBudget, BodyTime};

/// Why a body was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Over the caller's limit (in bytes).
    TooLarge(usize),
    /// The connection failed or the body was malformed (chunked encoding, ...).
    Unreadable,
    /// It did not arrive within its time (in seconds).
    TimedOut(u64),
    /// The memory for bodies being read is spent.
    Busy,
}

/// A body read whole; its memory stays reserved until it is dropped.
#[derive(Debug)]
pub struct Body {
    bytes: Vec<u8>,
    budget: Option<Arc<BodyBudget>>,
}

impl Body {
    /// An empty body (methods that carry none).
    pub fn empty() -> Body {
        Body {
            bytes: Vec::new(),
            budget: None,
        }
    }
}

impl std::ops::Deref for Body {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl Drop for Body {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.release(self.bytes.len());
        }
    }
}

/// The declared `Content-Length`, if any and readable.
fn declared(req: &HttpRequest) -> Option<usize> {
    req.headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Reads the request body within `limit` bytes, its time and the shared memory budget.
pub async fn read(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    time: BodyTime,
    budget: &Arc<BodyBudget>,
) -> Result<Body, BodyError> {
    let announced = declared(req);
    if announced.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge(limit));
    }
    let started = Instant::now();
    // Reserved bytes are tied to `body` from the first one, so any early return frees them.
    let mut body = Body {
        bytes: Vec::new(),
        budget: Some(budget.clone()),
    };
    loop {
        let allowed = time.allowed(announced.unwrap_or(0).max(body.bytes.len()));
        let next = match tokio::time::timeout_at(started + allowed, payload.next()).await {
            Ok(next) => next,
            Err(_) => return Err(BodyError::TimedOut(allowed.as_secs())),
        };
        let Some(chunk) = next else {
            return Ok(body);
        };
        let chunk = chunk.map_err(|e| {
            tracing::debug!(error = %e, "request body could not be read");
            BodyError::Unreadable
        })?;
        if body.bytes.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        let remaining = (started + allowed).saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, budget.reserve(chunk.len())).await {
            Ok(reserved) => reserved.map_err(|_| BodyError::Busy)?,
            Err(_) => return Err(BodyError::TimedOut(allowed.as_secs())),
        }
        body.bytes.extend_from_slice(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_frees_its_memory_when_dropped() {
        let budget = Arc::new(BodyBudget::new(100, std::time::Duration::ZERO));
        assert!(budget.try_reserve(3));
        let body = Body {
            bytes: b"abc".to_vec(),
            budget: Some(budget.clone()),
        };
        assert_eq!(&*body, b"abc");
        drop(body);
        assert_eq!(budget.reserved(), 0);
    }
}

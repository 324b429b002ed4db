//! The one request-body reader of the webservice and the bridges, with three bounds:
//!
//! - **size**: a body over the caller's limit is refused, by its `Content-Length` before a
//!   byte is read, else as soon as what arrived passes the limit;
//! - **time**: the whole body must arrive within `THREADGATE_BODY_TIMEOUT` seconds plus
//!   `THREADGATE_BODY_SECS_PER_MIB` per MiB (of the announced length, or of what arrived when
//!   no length is announced), else the request ends with 408 and the connection is closed;
//! - **memory**: a body's buffer grows with what has arrived, never with what
//!   `Content-Length` announces, and every byte held is reserved from [`BodyBudget`], shared by
//!   all requests (`THREADGATE_BODY_MEMORY_MIB`). When it is spent, a chunk waits up to
//!   [`BodyBudget::wait`] for bodies being read to finish, then the request gets 503.
//!
//! Callers map [`BodyError`] to their own error documents.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use tokio::time::Instant;

const MIB: usize = 1 << 20;

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

/// How long bodies may take, from the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTime {
    pub floor: Duration,
    pub per_mib: Duration,
}

impl BodyTime {
    /// The time a body of `len` bytes may take: the floor plus `per_mib` for every MiB begun.
    pub fn allowed(&self, len: usize) -> Duration {
        let mibs = u32::try_from(len.div_ceil(MIB)).unwrap_or(u32::MAX);
        self.floor.saturating_add(self.per_mib.saturating_mul(mibs))
    }
}

/// The memory every body being read holds, bounded. Shared by all workers
/// (`AppState::bodies`).
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    reserved: AtomicUsize,
    freed: tokio::sync::Notify,
    /// How long a chunk waits for memory before its request gets 503.
    pub wait: Duration,
}

impl BodyBudget {
    pub fn new(limit: usize, wait: Duration) -> BodyBudget {
        BodyBudget {
            limit,
            reserved: AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
            wait,
        }
    }

    /// Bytes of request bodies held right now (tests and operators read it).
    pub fn reserved(&self) -> usize {
        self.reserved.load(Ordering::Acquire)
    }

    /// Reserves `n` more bytes if they fit (a body alone may always hold what it needs up to
    /// its own size limit: with nothing else reserved, any `n` fits).
    fn try_reserve(&self, n: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r == 0 || r.saturating_add(n) <= self.limit).then(|| r + n)
            })
            .is_ok()
    }

    /// Reserves `n` bytes, waiting up to [`BodyBudget::wait`] for others to free theirs.
    async fn reserve(&self, n: usize) -> Result<(), BodyError> {
        let deadline = Instant::now() + self.wait;
        loop {
            let freed = self.freed.notified();
            if self.try_reserve(n) {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return if self.try_reserve(n) {
                    Ok(())
                } else {
                    Err(BodyError::Busy)
                };
            }
        }
    }

    fn release(&self, n: usize) {
        if n > 0 {
            self.reserved.fetch_sub(n, Ordering::AcqRel);
            self.freed.notify_waiters();
        }
    }
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
            Ok(reserved) => reserved?,
            Err(_) => return Err(BodyError::TimedOut(allowed.as_secs())),
        }
        body.bytes.extend_from_slice(&chunk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_grows_per_mib_begun_from_a_floor() {
        let t = BodyTime {
            floor: Duration::from_secs(10),
            per_mib: Duration::from_secs(5),
        };
        assert_eq!(t.allowed(0), Duration::from_secs(10));
        assert_eq!(t.allowed(1), Duration::from_secs(15));
        assert_eq!(t.allowed(MIB), Duration::from_secs(15));
        assert_eq!(t.allowed(20 * MIB), Duration::from_secs(110));
    }

    #[actix_web::test]
    async fn the_budget_waits_for_freed_memory_then_refuses() {
        let budget = Arc::new(BodyBudget::new(100, Duration::from_millis(50)));
        assert!(
            budget.try_reserve(500),
            "alone, a body may hold what it needs"
        );
        budget.release(500);
        budget.reserve(60).await.unwrap();
        assert_eq!(budget.reserve(60).await, Err(BodyError::Busy));
        assert_eq!(budget.reserved(), 60);
        // Freed while a reservation waits: it gets the memory.
        let b = budget.clone();
        let waiter = actix_web::rt::spawn(async move { b.reserve(60).await });
        actix_web::rt::task::yield_now().await;
        budget.release(60);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(budget.reserved(), 60);
    }

    #[test]
    fn a_body_frees_its_memory_when_dropped() {
        let budget = Arc::new(BodyBudget::new(100, Duration::ZERO));
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

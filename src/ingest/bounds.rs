//! The bounds of receiving a request body that are not the HTTP layer's business: how long a
//! body may take ([`BodyTime`], from the settings) and the memory all bodies being read share
//! ([`BodyBudget`]). `http::body` reads bodies within them; they live here so that `config`
//! and `state` can name them without importing `http`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::time::Instant;

const MIB: usize = 1 << 20;

/// The body memory is spent: a chunk waited [`BodyBudget::wait`] and none was freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spent;

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
    pub fn try_reserve(&self, n: usize) -> bool {
        self.reserved
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r == 0 || r.saturating_add(n) <= self.limit).then(|| r + n)
            })
            .is_ok()
    }

    /// Reserves `n` bytes, waiting up to [`BodyBudget::wait`] for others to free theirs.
    pub async fn reserve(&self, n: usize) -> Result<(), Spent> {
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
                    Err(Spent)
                };
            }
        }
    }

    /// Gives back `n` bytes reserved earlier (a body dropped).
    pub fn release(&self, n: usize) {
        if n > 0 {
            self.reserved.fetch_sub(n, Ordering::AcqRel);
            self.freed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

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
        assert_eq!(budget.reserve(60).await, Err(Spent));
        assert_eq!(budget.reserved(), 60);
        // Freed while a reservation waits: it gets the memory.
        let b = budget.clone();
        let waiter = actix_web::rt::spawn(async move { b.reserve(60).await });
        actix_web::rt::task::yield_now().await;
        budget.release(60);
        assert_eq!(waiter.await.unwrap(), Ok(()));
        assert_eq!(budget.reserved(), 60);
    }
}

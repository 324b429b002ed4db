//! The one single-flight TTL cache of the crate: the bridges' reads (`bridge::cached`,
//! docs/bridges.md, "Read cache") and the verified keys (`auth::cache::KeyCache`) both keep
//! their values in a [`ReadCache`].
//!
//! What it promises:
//! - **Changes the service makes are seen at once.** Every cache watches a [`Generation`]: the
//!   webservice bumps the bridges' one after every write it commits to `customer_thread` or
//!   `customer_message`, before it answers; the key store's one follows the database's key
//!   generation. An entry read under an older generation is never served, and a read that
//!   overlapped a change is handed to the requests that were already waiting for it (they
//!   arrived before the change was acknowledged) but never kept.
//! - **Other writers are seen within the TTL.** Rows written by PrestaShop itself or by another
//!   process carry no signal threadgate could observe without reading them, so an entry is served
//!   for at most `ttl`, counted from the moment its read began. A TTL of zero turns the cache off:
//!   every request reads.
//! - **One read per key at a time.** Concurrent misses of a key share one read (single flight); a
//!   request that arrives after a change starts a new read instead of joining an older one. With
//!   early renewal (the bridges), once an entry is past half its TTL the next request reads the
//!   key again while the others are still served the entry, so a busy key is renewed before it
//!   expires and nobody queues.
//! - **Bounded memory.** Entries weigh what they hold ([`Weigh`]); past the budget, expired
//!   entries go first, then the oldest, down to three quarters of it.
//! - **Counted.** Each [`ReadCache::get_or_load`] is a hit (served from an entry) or a miss (it
//!   read, or waited for a read); [`ReadCache::stats`] reports them for `/metrics`.
//!
//! Time comes from a [`Clock`], so tests move it forward instead of sleeping.
//! The values are whole, immutable reads (`Arc<V>`): a hit clones a pointer under a short lock.
//! Imports nothing from the crate.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::OnceCell;

/// Where a `data_generation` was read: the primary (the key poll) or the read replica (its
/// check), each followed on its own ([`Generation::observe`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary = 0,
    Replica = 1,
}

/// Where the caches read the time: the monotonic clock, plus however far a test has moved it
/// forward with [`Clock::advance`] (never in production, where the offset stays zero).
#[derive(Debug, Default)]
pub struct Clock {
    offset_ns: AtomicU64,
}

impl Clock {
    pub fn now(&self) -> Instant {
        Instant::now() + Duration::from_nanos(self.offset_ns.load(Ordering::Acquire))
    }

    /// Moves this clock forward (tests: an entry's TTL passes without waiting for it).
    pub fn advance(&self, by: Duration) {
        let ns = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.fetch_add(ns, Ordering::AcqRel);
    }
}

/// Hits and misses of a cache, as its `stats()` reports them (`/metrics` shows them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// Counters a cache keeps for [`CacheStats`] (relaxed atomics: a hit costs one add).
#[derive(Debug, Default)]
pub struct CacheCounters {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CacheCounters {
    pub fn hit(&self) {
        self.hits.fetch_add(1, Ordering::Relaxed);
    }

    pub fn miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

/// A counter of changes a cache must not outlive: entries read under an older value are never
/// served. The bridges' one counts the writes threadgate has committed to the thread tables: this
/// node's at once, and every node's through the database's `data_generation`
/// ([`Generation::observe`]).
#[derive(Debug, Default)]
pub struct Generation {
    local: AtomicU64,
    /// The database's `data_generation` last read, per [`Source`].
    seen: [AtomicU64; 2],
}

impl Generation {
    pub fn current(&self) -> u64 {
        self.local.load(Ordering::Acquire)
    }

    /// Called after a write commits and before it is answered.
    pub fn bump(&self) {
        self.local.fetch_add(1, Ordering::AcqRel);
    }

    /// The database's `data_generation` as read now: when it changed since the last read from
    /// `source`, some node (this one included) committed a write meanwhile, and every entry read
    /// before is outdated. The first read after start only bumps an empty cache.
    pub fn observe(&self, source: Source, database: u64) {
        if self.seen[source as usize].swap(database, Ordering::AcqRel) != database {
            self.bump();
        }
    }

    /// Sets the generation only when it moves forward; whether it did.
    pub fn advance(&self, generation: u64) -> bool {
        self.local.fetch_max(generation, Ordering::AcqRel) < generation
    }
}

/// Roughly how many bytes a cached value holds.
pub trait Weigh {
    fn weight(&self) -> usize;
}

/// Per-entry bookkeeping counted on top of the value's own weight.
pub const ENTRY_OVERHEAD: usize = 128;

/// Reads in progress past which abandoned ones are swept before another starts.
const FLIGHTS_BEFORE_SWEEP: usize = 1024;

struct Entry<V> {
    value: Arc<V>,
    read_at: Instant,
    generation: u64,
    weight: usize,
    /// Insertion order: the oldest go first when the budget is exceeded.
    seq: u64,
}

struct Loaded<V> {
    value: Arc<V>,
    read_at: Instant,
    generation: u64,
}

/// One read in progress, shared by every request that misses the key meanwhile.
struct Flight<V> {
    generation: u64,
    cell: OnceCell<Loaded<V>>,
}

struct Inner<K, V> {
    entries: HashMap<K, Entry<V>>,
    flights: HashMap<K, Arc<Flight<V>>>,
    weight: usize,
    next_seq: u64,
}

pub struct ReadCache<K, V> {
    ttl: Duration,
    budget: usize,
    /// Past half the TTL, one request reads again while the others are served the entry.
    renew_early: bool,
    generation: Arc<Generation>,
    clock: Arc<Clock>,
    inner: Mutex<Inner<K, V>>,
    /// Requests served from an entry, and those that read or waited for a read.
    counters: CacheCounters,
}

impl<K, V> std::fmt::Debug for ReadCache<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadCache")
            .field("ttl", &self.ttl)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, V: Weigh> ReadCache<K, V> {
    /// `ttl` zero: no caching. `budget`: bytes of values held at most. Renews early, on the
    /// system clock.
    pub fn new(ttl: Duration, budget: usize, generation: Arc<Generation>) -> ReadCache<K, V> {
        ReadCache {
            ttl,
            budget,
            renew_early: true,
            generation,
            clock: Arc::default(),
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                flights: HashMap::new(),
                weight: 0,
                next_seq: 0,
            }),
            counters: CacheCounters::default(),
        }
    }

    /// Reads the time from `clock` (tests move it forward).
    pub fn with_clock(mut self, clock: Arc<Clock>) -> ReadCache<K, V> {
        self.clock = clock;
        self
    }

    /// An entry is served until its TTL has passed, never renewed before (the key cache: a
    /// renewal would be an argon2 run).
    pub fn without_early_renewal(mut self) -> ReadCache<K, V> {
        self.renew_early = false;
        self
    }

    pub fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Hits and misses of [`ReadCache::get_or_load`] so far.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats()
    }

    fn lock(&self) -> MutexGuard<'_, Inner<K, V>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The value of `key`: cached when fresh, else read by `load` (at most one `load` per key
    /// and generation at a time). A failed load is not cached; each waiter then tries its own,
    /// and a failed renewal answers the still-fresh entry it was to replace.
    pub async fn get_or_load<E, F, Fut>(&self, key: K, load: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        if self.ttl.is_zero() {
            self.counters.miss();
            return load().await.map(Arc::new);
        }
        let generation = self.generation.current();
        // The entry a renewal replaces: still fresh, so it answers if the renewal fails.
        let mut renewing = None;
        let flight = {
            let mut inner = self.lock();
            let reading = inner
                .flights
                .get(&key)
                .is_some_and(|f| f.generation == generation);
            if let Some(e) = inner.entries.get(&key) {
                let age = self.clock.now().saturating_duration_since(e.read_at);
                // Past half its life, the first request reads the key again while the others
                // are still served the entry: a hot key never makes a crowd wait for a read.
                if e.generation == generation && age < self.ttl {
                    if !self.renew_early || age < self.ttl / 2 || reading {
                        self.counters.hit();
                        return Ok(e.value.clone());
                    }
                    renewing = Some(e.value.clone());
                }
            }
            self.counters.miss();
            match inner.flights.get(&key) {
                Some(f) if f.generation == generation => f.clone(),
                _ => {
                    if inner.flights.len() >= FLIGHTS_BEFORE_SWEEP {
                        // Reads whose requests all went away (a client that disconnects).
                        inner.flights.retain(|_, f| Arc::strong_count(f) > 1);
                    }
                    let f = Arc::new(Flight {
                        generation,
                        cell: OnceCell::new(),
                    });
                    inner.flights.insert(key.clone(), f.clone());
                    f
                }
            }
        };
        let loaded = flight
            .cell
            .get_or_try_init(|| async {
                // Taken before the read: a write committed after this point makes the result
                // unkeepable, and the TTL runs from here.
                let read_at = self.clock.now();
                let generation = self.generation.current();
                let value = load().await?;
                Ok(Loaded {
                    value: Arc::new(value),
                    read_at,
                    generation,
                })
            })
            .await;
        let loaded = match (loaded, renewing) {
            (Ok(l), _) => l,
            (Err(_), Some(fresh)) => return Ok(fresh),
            (Err(e), None) => return Err(e),
        };
        let value = loaded.value.clone();
        self.settle(key, &flight, loaded);
        Ok(value)
    }

    /// The first waiter to finish ends the flight and keeps the result if no write overlapped it.
    fn settle(&self, key: K, flight: &Arc<Flight<V>>, loaded: &Loaded<V>) {
        let mut inner = self.lock();
        if !inner
            .flights
            .get(&key)
            .is_some_and(|f| Arc::ptr_eq(f, flight))
        {
            return;
        }
        inner.flights.remove(&key);
        self.store(&mut inner, key, loaded);
    }

    /// The value of `key` when it is cached and fresh, without reading (a caller that reads by
    /// itself, on a connection it already holds).
    pub fn peek(&self, key: &K) -> Option<Arc<V>> {
        if self.ttl.is_zero() {
            return None;
        }
        let generation = self.generation.current();
        let now = self.clock.now();
        let inner = self.lock();
        let e = inner.entries.get(key)?;
        (e.generation == generation && now.saturating_duration_since(e.read_at) < self.ttl)
            .then(|| e.value.clone())
    }

    /// Keeps a value read by the caller (see [`ReadCache::peek`]) under the generation its
    /// read began in (nothing is kept when that generation has passed).
    pub fn keep(&self, key: K, value: Arc<V>, generation: u64) {
        if self.ttl.is_zero() {
            return;
        }
        let loaded = Loaded {
            value,
            read_at: self.clock.now(),
            generation,
        };
        let mut inner = self.lock();
        self.store(&mut inner, key, &loaded);
    }

    /// Drops every entry (the generation moved: none of them can be served any more).
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.entries.clear();
        inner.weight = 0;
    }

    fn store(&self, inner: &mut Inner<K, V>, key: K, loaded: &Loaded<V>) {
        if loaded.generation != self.generation.current() {
            return;
        }
        let weight = loaded.value.weight() + ENTRY_OVERHEAD;
        if weight > self.budget {
            return;
        }
        let entry = Entry {
            value: loaded.value.clone(),
            read_at: loaded.read_at,
            generation: loaded.generation,
            weight,
            seq: inner.next_seq,
        };
        inner.next_seq += 1;
        if let Some(old) = inner.entries.insert(key, entry) {
            inner.weight -= old.weight;
        }
        inner.weight += weight;
        if inner.weight > self.budget {
            self.shrink(inner);
        }
    }

    /// Drops expired and outdated entries, then the oldest, to three quarters of the budget;
    /// forgets flights nobody waits for (their requests went away).
    fn shrink(&self, inner: &mut Inner<K, V>) {
        let generation = self.generation.current();
        let ttl = self.ttl;
        let now = self.clock.now();
        inner.entries.retain(|_, e| {
            e.generation == generation && now.saturating_duration_since(e.read_at) < ttl
        });
        inner.flights.retain(|_, f| Arc::strong_count(f) > 1);
        let mut weight: usize = inner.entries.values().map(|e| e.weight).sum();
        let target = self.budget / 4 * 3;
        if weight > target {
            let mut by_age: Vec<(u64, K)> = inner
                .entries
                .iter()
                .map(|(k, e)| (e.seq, k.clone()))
                .collect();
            by_age.sort_unstable_by_key(|(seq, _)| *seq);
            for (_, k) in by_age {
                if weight <= target {
                    break;
                }
                if let Some(e) = inner.entries.remove(&k) {
                    weight -= e.weight;
                }
            }
        }
        inner.weight = weight;
    }

    /// Entries held (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt;
    use std::sync::atomic::AtomicUsize;

    struct Val(usize);

    impl Weigh for Val {
        fn weight(&self) -> usize {
            self.0
        }
    }

    fn cache(ttl: Duration, budget: usize) -> (ReadCache<u32, Val>, Arc<Generation>) {
        let g = Arc::new(Generation::default());
        (ReadCache::new(ttl, budget, g.clone()), g)
    }

    /// A cache on a clock the test moves forward.
    fn timed(ttl: Duration) -> (ReadCache<u32, Val>, Arc<Clock>) {
        let clock = Arc::new(Clock::default());
        let (c, _) = cache(ttl, 1 << 20);
        (c.with_clock(clock.clone()), clock)
    }

    const HOUR: Duration = Duration::from_secs(3600);

    async fn get(c: &ReadCache<u32, Val>, key: u32, loads: &AtomicUsize, v: usize) -> usize {
        c.get_or_load(key, || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok::<_, ()>(Val(v))
        })
        .await
        .unwrap()
        .0
    }

    /// A load that counts itself and finishes only once `gate` is notified.
    async fn held(
        c: &ReadCache<u32, Val>,
        key: u32,
        loads: &AtomicUsize,
        gate: &tokio::sync::Notify,
        v: usize,
    ) -> usize {
        c.get_or_load(key, || async {
            loads.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            Ok::<_, ()>(Val(v))
        })
        .await
        .unwrap()
        .0
    }

    #[test]
    fn a_changed_database_generation_bumps_once_per_source() {
        let g = Generation::default();
        g.observe(Source::Primary, 0);
        assert_eq!(g.current(), 0, "unchanged from the start");
        g.observe(Source::Primary, 7);
        assert_eq!(g.current(), 1);
        g.observe(Source::Primary, 7);
        assert_eq!(g.current(), 1, "the same value again: nothing new");
        g.observe(Source::Replica, 7);
        assert_eq!(g.current(), 2, "each source is followed on its own");
        g.bump();
        g.observe(Source::Replica, 7);
        assert_eq!(g.current(), 3, "a local bump is kept");
    }

    #[tokio::test]
    async fn a_fresh_entry_is_served_without_reading_again() {
        let (c, _) = cache(HOUR, 1 << 20);
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        assert_eq!(get(&c, 1, &loads, 11).await, 10);
        assert_eq!(get(&c, 2, &loads, 20).await, 20);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert_eq!(c.len(), 2);
    }

    #[tokio::test]
    async fn a_write_makes_every_entry_unservable() {
        let (c, g) = cache(HOUR, 1 << 20);
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        g.bump();
        assert_eq!(get(&c, 1, &loads, 11).await, 11);
        assert_eq!(get(&c, 1, &loads, 12).await, 11);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_entry_older_than_the_ttl_is_read_again() {
        let (c, clock) = timed(Duration::from_secs(2));
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        clock.advance(Duration::from_millis(900));
        assert_eq!(get(&c, 1, &loads, 11).await, 10);
        clock.advance(Duration::from_millis(1100));
        assert_eq!(get(&c, 1, &loads, 11).await, 11);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn without_early_renewal_an_entry_is_served_until_its_ttl_has_passed() {
        let (c, clock) = timed(Duration::from_secs(2));
        let c = c.without_early_renewal();
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(get(&c, 1, &loads, 11).await, 10);
        clock.advance(Duration::from_millis(500));
        assert_eq!(get(&c, 1, &loads, 12).await, 12);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_value_kept_by_its_reader_is_peeked_until_the_generation_moves() {
        let (c, g) = cache(HOUR, 1 << 20);
        assert!(c.peek(&1).is_none());
        c.keep(1, Arc::new(Val(10)), g.current());
        assert_eq!(c.peek(&1).map(|v| v.0), Some(10));
        // Read under a generation that has passed: not kept.
        c.keep(2, Arc::new(Val(20)), g.current() + 1);
        assert!(c.peek(&2).is_none());
        g.bump();
        assert!(c.peek(&1).is_none());
        c.clear();
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn past_half_its_ttl_one_request_renews_an_entry_the_others_still_use() {
        let (c, clock) = timed(Duration::from_secs(2));
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        clock.advance(Duration::from_millis(1100));
        let gate = tokio::sync::Notify::new();
        let renew = held(&c, 1, &loads, &gate, 11);
        let meanwhile = async {
            tokio::task::yield_now().await;
            // The renewal is under way: the entry is served, no second read starts.
            let v = get(&c, 1, &loads, 12).await;
            gate.notify_one();
            v
        };
        let (renewed, served) = tokio::join!(renew, meanwhile);
        assert_eq!((renewed, served), (11, 10));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert_eq!(get(&c, 1, &loads, 13).await, 11);
    }

    #[tokio::test]
    async fn a_failed_renewal_answers_the_entry_it_would_have_replaced() {
        let (c, clock) = timed(Duration::from_secs(2));
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        clock.advance(Duration::from_millis(1100));
        let v = c.get_or_load(1, || async { Err::<Val, _>("down") }).await;
        assert_eq!(v.map(|v| v.0), Ok(10));
        assert_eq!(get(&c, 1, &loads, 11).await, 10);
    }

    #[tokio::test]
    async fn each_request_is_a_hit_or_a_miss() {
        let (c, _) = cache(HOUR, 1 << 20);
        let loads = AtomicUsize::new(0);
        get(&c, 1, &loads, 10).await;
        get(&c, 1, &loads, 10).await;
        get(&c, 1, &loads, 10).await;
        get(&c, 2, &loads, 20).await;
        assert_eq!(c.stats(), CacheStats { hits: 2, misses: 2 });
        let (off, _) = cache(Duration::ZERO, 1 << 20);
        get(&off, 1, &loads, 10).await;
        assert_eq!(off.stats(), CacheStats { hits: 0, misses: 1 });
    }

    #[tokio::test]
    async fn ttl_zero_reads_every_time_and_keeps_nothing() {
        let (c, _) = cache(Duration::ZERO, 1 << 20);
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        assert_eq!(get(&c, 1, &loads, 11).await, 11);
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn a_failed_read_is_not_kept() {
        let (c, _) = cache(HOUR, 1 << 20);
        let r = c.get_or_load(1, || async { Err::<Val, _>("down") }).await;
        assert_eq!(r.err(), Some("down"));
        assert!(c.is_empty());
        let loads = AtomicUsize::new(0);
        assert_eq!(get(&c, 1, &loads, 10).await, 10);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_read() {
        let (c, _) = cache(HOUR, 1 << 20);
        let loads = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let one = || held(&c, 7, &loads, &gate, 70);
        let open = async {
            // Every waiter has joined the flight before the read finishes.
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (a, b, c3, ()) = tokio::join!(one(), one(), one(), open);
        assert_eq!((a, b, c3), (70, 70, 70));
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert_eq!(c.len(), 1);
    }

    #[tokio::test]
    async fn a_read_overlapping_a_write_is_answered_but_not_kept() {
        let (c, g) = cache(HOUR, 1 << 20);
        let v = c
            .get_or_load(1, || async {
                g.bump();
                Ok::<_, ()>(Val(10))
            })
            .await
            .unwrap();
        assert_eq!(v.0, 10);
        assert!(c.is_empty());
    }

    #[tokio::test]
    async fn a_request_after_a_write_does_not_join_an_older_read() {
        let (c, g) = cache(HOUR, 1 << 20);
        let loads = AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let before = held(&c, 1, &loads, &gate, 10);
        let after = async {
            tokio::task::yield_now().await;
            g.bump();
            let v = get(&c, 1, &loads, 11).await;
            gate.notify_one();
            v
        };
        let (b, a) = tokio::join!(before, after);
        assert_eq!((b, a), (10, 11));
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        // The newer read is the one kept.
        assert_eq!(get(&c, 1, &loads, 12).await, 11);
    }

    #[tokio::test]
    async fn reads_abandoned_by_their_requests_are_swept() {
        let (c, _) = cache(HOUR, 1 << 20);
        let gate = tokio::sync::Notify::new();
        let loads = AtomicUsize::new(0);
        for k in 0..FLIGHTS_BEFORE_SWEEP as u32 + 10 {
            // Polled once (the read starts and waits), then dropped: a disconnected client.
            assert_eq!(held(&c, k, &loads, &gate, 1).now_or_never(), None);
        }
        assert!(c.lock().flights.len() <= FLIGHTS_BEFORE_SWEEP);
        // An abandoned read is started again by the next request of its key.
        assert_eq!(get(&c, 3, &loads, 30).await, 30);
    }

    #[tokio::test]
    async fn past_the_budget_the_oldest_entries_go() {
        // Each entry weighs 100 + overhead; the budget holds four, shrinking keeps three.
        let (c, _) = cache(HOUR, 4 * (100 + ENTRY_OVERHEAD));
        let loads = AtomicUsize::new(0);
        for k in 1..=5 {
            get(&c, k, &loads, 100).await;
        }
        assert_eq!(c.len(), 3);
        // 3, 4 and 5 are still cached; 1 is read again.
        for k in 3..=5 {
            get(&c, k, &loads, 100).await;
        }
        assert_eq!(loads.load(Ordering::SeqCst), 5);
        get(&c, 1, &loads, 100).await;
        assert_eq!(loads.load(Ordering::SeqCst), 6);
        // A value larger than the whole budget is answered, never kept.
        assert_eq!(get(&c, 9, &loads, 1 << 20).await, 1 << 20);
        assert!(c.len() <= 4);
        get(&c, 9, &loads, 1 << 20).await;
        assert_eq!(loads.load(Ordering::SeqCst), 8);
    }
}

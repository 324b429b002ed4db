//! Verified keys in memory: keyed by a BLAKE3 keyed hash of the normalised key (a random key per
//! process, so the map never holds anything that could be replayed), bounded in size, each
//! entry valid for a short TTL and only for the key-store generation it was verified under.
//!
//! When an entry expires under load, every in-flight request of that key misses at once; each
//! argon2 run holds ~19 MiB, so [`KeyCache::flight`] lets one request per key verify while the
//! others wait for its result, and [`KeyCache::verification_permit`] caps how many argon2 runs
//! (of different keys) go at once.
//!
//! The cache also remembers which keys it has verified successfully since the process
//! started ([`KeyCache::is_vouched`]), past their entry's TTL: a client address over the
//! failed-authentication limit may still use such a key (its verification is then not argon2
//! spent on a guess), while an unknown key from it is refused before any look-up.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Account;
use crate::metrics::{CacheCounters, CacheStats};

pub type Fingerprint = [u8; 32];

struct Entry {
    account: Arc<Account>,
    expires: Instant,
    generation: u64,
}

pub struct KeyCache {
    secret: [u8; 32],
    inflight: Mutex<HashMap<Fingerprint, Arc<tokio::sync::Mutex<()>>>>,
    argon2_permits: tokio::sync::Semaphore,
    verifications: AtomicU64,
    ttl: Duration,
    capacity: usize,
    generation: AtomicU64,
    entries: Mutex<HashMap<Fingerprint, Entry>>,
    /// Fingerprints of keys verified successfully (and not failed since), at most `capacity`.
    vouched: Mutex<std::collections::HashSet<Fingerprint>>,
    /// Requests answered from the cache, and those that were not ([`KeyCache::lookup`]).
    counters: CacheCounters,
}

impl KeyCache {
    pub fn new(ttl: Duration, capacity: usize) -> KeyCache {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        KeyCache {
            secret,
            inflight: Mutex::new(HashMap::new()),
            argon2_permits: tokio::sync::Semaphore::new(cores),
            verifications: AtomicU64::new(0),
            ttl,
            capacity: capacity.max(1),
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            vouched: Mutex::new(std::collections::HashSet::new()),
            counters: CacheCounters::default(),
        }
    }

    /// [`KeyCache::get`] for a request's first look: counted as a hit or a miss.
    pub fn lookup(&self, fp: &Fingerprint) -> Option<Arc<Account>> {
        let found = self.get(fp);
        match found {
            Some(_) => self.counters.hit(),
            None => self.counters.miss(),
        }
        found
    }

    /// Hits and misses of [`KeyCache::lookup`] so far.
    pub fn stats(&self) -> CacheStats {
        self.counters.stats()
    }

    pub fn fingerprint(&self, normalized_key: &str) -> Fingerprint {
        *blake3::keyed_hash(&self.secret, normalized_key.as_bytes()).as_bytes()
    }

    /// The generation to pass to [`KeyCache::insert`] for a verification started now.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn get(&self, fp: &Fingerprint) -> Option<Arc<Account>> {
        let now = Instant::now();
        let generation = self.generation();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(fp) {
            Some(e) if e.expires > now && e.generation == generation => Some(e.account.clone()),
            Some(_) => {
                map.remove(fp);
                None
            }
            None => None,
        }
    }

    /// Caches a verification made under `generation` (dropped if the key store changed since).
    /// The key is vouched for either way: it was right when it was checked.
    pub fn insert(&self, fp: Fingerprint, account: Arc<Account>, generation: u64) {
        {
            let mut vouched = self.vouched.lock().unwrap_or_else(|e| e.into_inner());
            if vouched.len() >= self.capacity && !vouched.contains(&fp) {
                vouched.clear();
            }
            vouched.insert(fp);
        }
        if generation != self.generation() {
            return;
        }
        let now = Instant::now();
        let mut map = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(
            fp,
            Entry {
                account,
                expires: now + self.ttl,
                generation,
            },
        );
    }

    /// Whether the key of `fp` was verified successfully by this process, and has not failed a
    /// verification since.
    pub fn is_vouched(&self, fp: &Fingerprint) -> bool {
        self.vouched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(fp)
    }

    /// A verification of `fp`'s key failed (revoked, deleted, changed): no longer vouched for.
    pub fn unvouch(&self, fp: &Fingerprint) {
        self.vouched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(fp);
    }

    /// Called when the key store's generation changes: every entry is dropped at once.
    pub fn set_generation(&self, generation: u64) {
        if self.generation.swap(generation, Ordering::AcqRel) != generation {
            self.clear();
        }
    }

    fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Like [`KeyCache::set_generation`], but only forward: the poll never undoes a newer
    /// generation a request has already seen.
    pub fn advance_generation(&self, generation: u64) {
        if self.generation.fetch_max(generation, Ordering::AcqRel) < generation {
            self.clear();
        }
    }

    /// The verification turn of one key: hold its lock while verifying, and look in the cache
    /// again once it is yours (the request before may have verified the key meanwhile).
    pub fn flight(&self, fp: &Fingerprint) -> Flight<'_> {
        let lock = self
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(*fp)
            .or_default()
            .clone();
        Flight {
            cache: self,
            fp: *fp,
            lock,
        }
    }

    /// A permit to run argon2 (at most one run per core at a time).
    pub async fn verification_permit(&self) -> tokio::sync::SemaphorePermit<'_> {
        self.argon2_permits
            .acquire()
            .await
            .expect("the verification semaphore is never closed")
    }

    /// Counts one argon2 verification (tests and timing checks read it).
    pub fn count_verification(&self) {
        self.verifications.fetch_add(1, Ordering::Relaxed);
    }

    /// argon2 verifications run so far by this cache's server.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One key's verification turn; see [`KeyCache::flight`].
pub struct Flight<'a> {
    cache: &'a KeyCache,
    fp: Fingerprint,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Flight<'_> {
    pub async fn turn(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }
}

impl Drop for Flight<'_> {
    /// The last request of a flight removes its lock, so the map only holds keys being verified.
    fn drop(&mut self) {
        let mut map = self
            .cache
            .inflight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        // Two references: ours and the map's; anyone else still waiting keeps it alive.
        if Arc::strong_count(&self.lock) <= 2 {
            map.remove(&self.fp);
        }
    }
}

/// When keys were last used, recorded in memory on each successful request and written by the
/// background refresh (never a statement on the request path). A key is marked at most once a
/// minute.
pub struct UsageLog {
    marks: Mutex<HashMap<u32, (Instant, bool)>>,
}

const USAGE_RESOLUTION: Duration = Duration::from_secs(60);
const USAGE_CAPACITY: usize = 100_000;

impl Default for UsageLog {
    fn default() -> UsageLog {
        UsageLog {
            marks: Mutex::new(HashMap::new()),
        }
    }
}

impl UsageLog {
    /// Notes a use of key `id`.
    pub fn record(&self, id: u32, now: Instant) {
        let mut map = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= USAGE_CAPACITY && !map.contains_key(&id) {
            map.retain(|_, (_, dirty)| *dirty);
        }
        match map.get_mut(&id) {
            Some((at, dirty)) => {
                if *at + USAGE_RESOLUTION <= now {
                    *at = now;
                    *dirty = true;
                }
            }
            None => {
                map.insert(id, (now, true));
            }
        }
    }

    /// The keys used since the last call (each at most once a minute).
    pub fn take(&self) -> Vec<u32> {
        let mut map = self.marks.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids: Vec<u32> = map
            .iter_mut()
            .filter(|(_, (_, dirty))| *dirty)
            .map(|(id, (_, dirty))| {
                *dirty = false;
                *id
            })
            .collect();
        ids.sort_unstable();
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account() -> Arc<Account> {
        Arc::new(Account {
            id: 1,
            source: crate::config::KeySource::Own,
            permissions: vec![("customer_threads".into(), 1)],
            shops: vec![1],
        })
    }

    #[test]
    fn a_cached_key_is_found_until_the_generation_changes() {
        let c = KeyCache::new(Duration::from_secs(60), 10);
        let fp = c.fingerprint("KEY");
        c.insert(fp, account(), c.generation());
        assert_eq!(c.get(&fp).map(|a| a.id), Some(1));
        c.set_generation(5);
        assert!(c.get(&fp).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn the_poll_only_moves_the_generation_forward() {
        let c = KeyCache::new(Duration::from_secs(60), 10);
        let fp = c.fingerprint("KEY");
        c.set_generation(5);
        c.insert(fp, account(), 5);
        // An older or equal generation (a poll that raced a request) changes nothing.
        c.advance_generation(4);
        c.advance_generation(5);
        assert_eq!(c.generation(), 5);
        assert_eq!(c.get(&fp).map(|a| a.id), Some(1));
        c.advance_generation(6);
        assert_eq!(c.generation(), 6);
        assert!(c.is_empty());
    }

    #[test]
    fn a_verification_from_an_older_generation_is_not_cached() {
        let c = KeyCache::new(Duration::from_secs(60), 10);
        let fp = c.fingerprint("KEY");
        let g = c.generation();
        c.set_generation(g + 1);
        c.insert(fp, account(), g);
        assert!(c.get(&fp).is_none());
    }

    #[test]
    fn a_verified_key_stays_vouched_for_past_its_ttl_until_it_fails() {
        let c = KeyCache::new(Duration::ZERO, 2);
        let fp = c.fingerprint("KEY");
        assert!(!c.is_vouched(&fp));
        c.insert(fp, account(), c.generation());
        assert!(c.get(&fp).is_none(), "expired");
        c.set_generation(9);
        assert!(c.is_vouched(&fp), "past the TTL and the generation");
        c.unvouch(&fp);
        assert!(!c.is_vouched(&fp));
        for k in ["A", "B", "C"] {
            c.insert(c.fingerprint(k), account(), c.generation());
        }
        assert!(c.vouched.lock().unwrap().len() <= 2, "bounded");
    }

    #[test]
    fn expired_entries_are_not_served() {
        let c = KeyCache::new(Duration::ZERO, 10);
        let fp = c.fingerprint("KEY");
        c.insert(fp, account(), c.generation());
        assert!(c.get(&fp).is_none());
    }

    #[test]
    fn fingerprints_are_keyed_per_process() {
        let a = KeyCache::new(Duration::from_secs(1), 1);
        let b = KeyCache::new(Duration::from_secs(1), 1);
        assert_eq!(a.fingerprint("K"), a.fingerprint("K"));
        assert_ne!(a.fingerprint("K"), b.fingerprint("K"));
    }

    #[actix_web::test]
    async fn one_verification_per_key_runs_at_a_time_and_the_flight_map_empties() {
        let c = Arc::new(KeyCache::new(Duration::from_secs(60), 10));
        let fp = c.fingerprint("KEY");
        let first = c.flight(&fp);
        let turn = first.turn().await;
        let second = c.flight(&fp);
        assert!(
            second.lock.try_lock().is_err(),
            "the second request waits for the first"
        );
        drop(turn);
        assert!(second.lock.try_lock().is_ok());
        drop(first);
        drop(second);
        assert!(c.inflight.lock().unwrap().is_empty());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let c = KeyCache::new(Duration::from_secs(60), 2);
        for k in ["A", "B", "C"] {
            c.insert(c.fingerprint(k), account(), c.generation());
        }
        assert!(c.len() <= 2);
    }

    #[test]
    fn a_key_is_marked_used_at_most_once_a_minute() {
        let log = UsageLog::default();
        let t0 = Instant::now();
        log.record(7, t0);
        log.record(7, t0 + Duration::from_secs(1));
        log.record(8, t0);
        assert_eq!(log.take(), vec![7, 8]);
        log.record(7, t0 + Duration::from_secs(30));
        assert_eq!(log.take(), Vec::<u32>::new());
        log.record(7, t0 + Duration::from_secs(61));
        assert_eq!(log.take(), vec![7]);
    }
}

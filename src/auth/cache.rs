//! Verified keys in memory: keyed by a BLAKE3 keyed hash of the normalised key (a random key per
//! process, so the map never holds anything that could be replayed), bounded in size, each
//! entry valid for a short TTL and only for the key-store generation it was verified under.
//!
//! The entries live in the crate's one single-flight TTL cache (`crate::cache::ReadCache`,
//! without early renewal: a renewal would be an argon2 run). When an entry expires under load,
//! every in-flight request of that key misses at once; each argon2 run holds ~19 MiB, so
//! [`KeyCache::verified`] lets one request per key verify while the others share its result,
//! and [`KeyCache::verification_permit`] caps how many argon2 runs (of different keys) go at
//! once.
//!
//! The cache also remembers which keys it has verified successfully since the process
//! started ([`KeyCache::is_vouched`]), past their entry's TTL: a client address over the
//! failed-authentication limit may still use such a key (its verification is then not argon2
//! spent on a guess), while an unknown key from it is refused before any look-up.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Account;
use crate::cache::{CacheStats, Clock, Generation, ReadCache, Weigh, ENTRY_OVERHEAD};

pub type Fingerprint = [u8; 32];

/// What one cached account is counted as (its grants are a few short strings).
const ACCOUNT_WEIGHT: usize = 384;

impl Weigh for Account {
    fn weight(&self) -> usize {
        ACCOUNT_WEIGHT
    }
}

pub struct KeyCache {
    secret: [u8; 32],
    accounts: ReadCache<Fingerprint, Account>,
    argon2_permits: tokio::sync::Semaphore,
    verifications: AtomicU64,
    /// Fingerprints of keys verified successfully (and not failed since), at most `capacity`.
    vouched: Mutex<HashSet<Fingerprint>>,
    capacity: usize,
}

impl KeyCache {
    /// At most `capacity` keys, each for `ttl`.
    pub fn new(ttl: Duration, capacity: usize) -> KeyCache {
        let mut secret = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut secret);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let budget = capacity.max(1) * (ACCOUNT_WEIGHT + ENTRY_OVERHEAD);
        KeyCache {
            secret,
            accounts: ReadCache::new(ttl, budget, Arc::new(Generation::default()))
                .without_early_renewal(),
            argon2_permits: tokio::sync::Semaphore::new(cores),
            verifications: AtomicU64::new(0),
            vouched: Mutex::new(HashSet::new()),
            capacity: capacity.max(1),
        }
    }

    /// Reads the time from `clock` (tests move it forward).
    pub fn with_clock(mut self, clock: Arc<Clock>) -> KeyCache {
        self.accounts = self.accounts.with_clock(clock);
        self
    }

    /// Hits and misses of [`KeyCache::verified`] so far (one per request that authenticates).
    pub fn stats(&self) -> CacheStats {
        self.accounts.stats()
    }

    pub fn fingerprint(&self, normalized_key: &str) -> Fingerprint {
        *blake3::keyed_hash(&self.secret, normalized_key.as_bytes()).as_bytes()
    }

    /// The generation to pass to [`KeyCache::insert`] for a verification started now.
    pub fn generation(&self) -> u64 {
        self.accounts.generation().current()
    }

    pub fn get(&self, fp: &Fingerprint) -> Option<Arc<Account>> {
        self.accounts.peek(fp)
    }

    /// Caches a verification made under `generation` (dropped if the key store changed since).
    pub fn insert(&self, fp: Fingerprint, account: Arc<Account>, generation: u64) {
        self.accounts.keep(fp, account, generation);
    }

    /// The cached account of `fp`, else the one `verify` finds: one verification per key at a
    /// time, the requests that miss meanwhile share its result; a failed one is not kept.
    pub async fn verified<E, F, Fut>(&self, fp: Fingerprint, verify: F) -> Result<Arc<Account>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Account, E>>,
    {
        self.accounts.get_or_load(fp, verify).await
    }

    /// A verification of `fp`'s key succeeded: vouched for from now on, past its entry's TTL
    /// and the key store's generation (it was right when it was checked).
    pub fn vouch(&self, fp: Fingerprint) {
        let mut vouched = self.vouched.lock().unwrap_or_else(|e| e.into_inner());
        if vouched.len() >= self.capacity && !vouched.contains(&fp) {
            vouched.clear();
        }
        vouched.insert(fp);
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

    /// Called when a newer key-store generation is seen (the poll, a snapshot load, a request's
    /// re-check): every entry is dropped at once. Only forward: an older or equal generation
    /// (a poll that raced a request) changes nothing, so a newer one is never undone.
    pub fn advance_generation(&self, generation: u64) {
        if self.accounts.generation().advance(generation) {
            self.accounts.clear();
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
        self.accounts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
        c.advance_generation(5);
        assert!(c.get(&fp).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn the_poll_only_moves_the_generation_forward() {
        let c = KeyCache::new(Duration::from_secs(60), 10);
        let fp = c.fingerprint("KEY");
        c.advance_generation(5);
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
        c.advance_generation(g + 1);
        c.insert(fp, account(), g);
        assert!(c.get(&fp).is_none());
    }

    #[test]
    fn a_verified_key_stays_vouched_for_past_its_ttl_until_it_fails() {
        let c = KeyCache::new(Duration::ZERO, 2);
        let fp = c.fingerprint("KEY");
        assert!(!c.is_vouched(&fp));
        c.insert(fp, account(), c.generation());
        c.vouch(fp);
        assert!(c.get(&fp).is_none(), "expired");
        c.advance_generation(9);
        assert!(c.is_vouched(&fp), "past the TTL and the generation");
        c.unvouch(&fp);
        assert!(!c.is_vouched(&fp));
        for k in ["A", "B", "C"] {
            c.vouch(c.fingerprint(k));
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
    async fn one_verification_per_key_runs_at_a_time_and_the_others_share_it() {
        let c = KeyCache::new(Duration::from_secs(60), 10);
        let fp = c.fingerprint("KEY");
        let runs = std::sync::atomic::AtomicUsize::new(0);
        let gate = tokio::sync::Notify::new();
        let verify = || {
            c.verified(fp, || async {
                runs.fetch_add(1, Ordering::SeqCst);
                gate.notified().await;
                Ok::<_, ()>((*account()).clone())
            })
        };
        let open = async {
            tokio::task::yield_now().await;
            gate.notify_one();
        };
        let (a, b, ()) = tokio::join!(verify(), verify(), open);
        assert_eq!((a.unwrap().id, b.unwrap().id), (1, 1));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(c.get(&fp).map(|a| a.id), Some(1));
    }

    #[test]
    fn an_entry_is_served_until_its_ttl_has_passed() {
        let clock = Arc::new(Clock::default());
        let c = KeyCache::new(Duration::from_secs(60), 10).with_clock(clock.clone());
        let fp = c.fingerprint("KEY");
        c.insert(fp, account(), c.generation());
        clock.advance(Duration::from_secs(59));
        assert_eq!(c.get(&fp).map(|a| a.id), Some(1));
        clock.advance(Duration::from_secs(1));
        assert!(c.get(&fp).is_none());
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

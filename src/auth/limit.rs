//! Failed-authentication rate limiting per client address (docs/architecture.md#keys).
//!
//! A fixed one-minute window per address, opened by its first failure. Once an address has
//! `limit` failures in its window, [`FailureLimiter::check`] refuses it until the window ends,
//! for any key it has not been seen to hold (`http::access::authenticate`): a key that is in the
//! verified-key cache, or that this process verified before, still goes through, so one
//! integration with a stale key behind a shared address (a proxy, a NAT) never locks out the
//! others; unknown and wrong keys are refused before any key look-up or argon2 work. Only
//! failures are counted. Memory is bounded: at capacity, ended windows are dropped first, then
//! the oldest ones.
//!
//! Also here: which address a request comes from ([`client_address`]).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

struct Window {
    start: Instant,
    failures: u32,
}

pub struct FailureLimiter {
    limit: u32,
    capacity: usize,
    windows: Mutex<HashMap<IpAddr, Window>>,
}

impl FailureLimiter {
    /// `limit` failures a minute per address (0: no limit), at most `capacity` addresses held.
    pub fn new(limit: u32, capacity: usize) -> FailureLimiter {
        FailureLimiter {
            limit,
            capacity: capacity.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds)` when `ip` is over the limit: the seconds until its window ends (≥ 1).
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        if self.limit == 0 {
            return Ok(());
        }
        let map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        match map.get(&ip) {
            Some(w) if w.failures >= self.limit => {
                let end = w.start + WINDOW;
                if end > now {
                    let left = end - now;
                    Err(left.as_secs() + u64::from(left.subsec_nanos() > 0))
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts one failed authentication from `ip`; `true` when this failure brought the
    /// address to the limit (once per window: the moment to log it).
    pub fn record_failure(&self, ip: IpAddr, now: Instant) -> bool {
        if self.limit == 0 {
            return false;
        }
        let mut map = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(w) = map.get_mut(&ip) {
            if w.start + WINDOW > now {
                w.failures = w.failures.saturating_add(1);
            } else {
                *w = Window {
                    start: now,
                    failures: 1,
                };
            }
            return w.failures == self.limit;
        }
        if map.len() >= self.capacity {
            map.retain(|_, w| w.start + WINDOW > now);
            if map.len() >= self.capacity {
                if let Some(oldest) = map.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k) {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(
            ip,
            Window {
                start: now,
                failures: 1,
            },
        );
        self.limit == 1
    }

    /// The limit per window (0: none).
    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn len(&self) -> usize {
        self.windows.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The client address: the TCP peer, unless the peer is a trusted proxy; then the last
/// `X-Forwarded-For` hop that is not itself a trusted proxy (hops to its left can be forged by
/// the client). Unparsable hops end the walk at the last good address.
pub fn client_address<'a>(
    peer: IpAddr,
    trusted: &[IpAddr],
    forwarded_for: impl IntoIterator<Item = &'a str>,
) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded_for
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_address_is_refused_once_over_the_limit_until_its_window_ends() {
        let l = FailureLimiter::new(3, 100);
        let t0 = Instant::now();
        let a = ip("10.0.0.1");
        for n in 1..=3 {
            assert_eq!(l.check(a, t0), Ok(()));
            assert_eq!(
                l.record_failure(a, t0),
                n == 3,
                "reached once, at the third"
            );
        }
        assert!(!l.record_failure(a, t0), "only once per window");
        assert_eq!(l.check(a, t0), Err(60));
        assert_eq!(l.check(a, t0 + Duration::from_millis(30_500)), Err(30));
        assert_eq!(l.check(a, t0 + WINDOW), Ok(()));
        assert_eq!(
            l.check(ip("10.0.0.2"), t0),
            Ok(()),
            "other addresses are free"
        );
        l.record_failure(a, t0 + WINDOW);
        assert_eq!(
            l.check(a, t0 + WINDOW),
            Ok(()),
            "a new window starts at one"
        );
    }

    #[test]
    fn zero_disables_the_limit() {
        let l = FailureLimiter::new(0, 10);
        let t0 = Instant::now();
        for _ in 0..100 {
            l.record_failure(ip("10.0.0.1"), t0);
        }
        assert_eq!(l.check(ip("10.0.0.1"), t0), Ok(()));
        assert!(l.is_empty());
    }

    #[test]
    fn memory_stays_within_capacity() {
        let l = FailureLimiter::new(5, 3);
        let t0 = Instant::now();
        for i in 0..10u8 {
            l.record_failure(
                IpAddr::from([10, 0, 0, i]),
                t0 + Duration::from_secs(i.into()),
            );
        }
        assert!(l.len() <= 3);
        assert_eq!(l.len(), 3);
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let proxy = ip("10.0.0.9");
        assert_eq!(
            client_address(ip("1.2.3.4"), &[proxy], ["5.6.7.8"]),
            ip("1.2.3.4"),
            "an untrusted peer cannot pick its address"
        );
        assert_eq!(
            client_address(proxy, &[proxy], ["6.6.6.6, 5.6.7.8"]),
            ip("5.6.7.8"),
            "the last hop before the proxy, not the client-chosen first one"
        );
        let inner = ip("10.0.0.8");
        assert_eq!(
            client_address(proxy, &[proxy, inner], ["5.6.7.8", "10.0.0.8"]),
            ip("5.6.7.8")
        );
        assert_eq!(client_address(proxy, &[proxy], []), proxy);
        assert_eq!(client_address(proxy, &[proxy], ["junk"]), proxy);
    }
}

//! Metrics in the Prometheus text format (docs/architecture.md, "Observability"), through the
//! Prometheus project's own Rust client (`prometheus-client`).
//!
//! Three kinds of numbers:
//! - counted as things happen: requests by route, method and status and their latency (the
//!   access-log middleware, `http::observe`), failed authentications and 429s
//!   (`http::access`);
//! - counted by the pool itself ([`DbStats`]): checkouts (time, waits, time-outs) through
//!   r2d2's event hooks, and statements and their errors through diesel's per-connection
//!   instrumentation, so `db::run` needs no edit;
//! - read at scrape time ([`Sampled`]): the pool's size and idle connections, the key cache's
//!   and the bridges' read caches' hits and misses (each cache's `stats()`, `crate::cache`);
//! - counted by the delivery workers ([`DeliveryStats`]): webhook deliveries, failures,
//!   retries and pauses, customer e-mails, and the queue depths they last saw.
//!
//! Label values are bounded: routes and methods come from fixed lists, never from the path.
//! No actix here: the `http` layer serves [`Metrics::encode`] on its own bind address.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use diesel::connection::{Instrumentation, InstrumentationEvent};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::cache::CacheStats;

/// The `Content-Type` of what [`Metrics::encode`] writes (Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Latency buckets, seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Checkout buckets, seconds: 10 µs to 10 s.
const CHECKOUT_BUCKETS: [f64; 13] = [
    0.00001, 0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0,
];

/// A checkout slower than this had to wait for a connection (none was idle): taking an idle
/// one is a lock and a pop, a few microseconds.
pub const CHECKOUT_WAIT: Duration = Duration::from_millis(1);

/// What a request is, for the `route` label: a fixed set, never the raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Webservice,
    M10,
    ThreadList,
    Health,
    Other,
}

impl Route {
    pub fn as_str(self) -> &'static str {
        match self {
            Route::Webservice => "webservice",
            Route::M10 => "m10",
            Route::ThreadList => "thread_list",
            Route::Health => "health",
            Route::Other => "other",
        }
    }
}

/// The method labels [`method_label`] gives, in the order of [`Metrics`]' hot counters.
const METHOD_LABELS: [&str; 8] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other",
];
/// How many [`Route`]s there are (`Other` is the last).
const ROUTES: usize = Route::Other as usize + 1;
/// Routes × method labels: one hot counter each (status 200).
const HOT: usize = ROUTES * METHOD_LABELS.len();

/// An HTTP method as a label value: the usual ones by name, anything else `other`.
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: &'static str,
}

/// Numbers read when `/metrics` is scraped.
#[derive(Debug, Clone, Default)]
pub struct Sampled {
    /// Connections the pool holds (idle or checked out), and its maximum.
    pub pool_connections: u32,
    pub pool_idle: u32,
    pub pool_max: u32,
    pub key_cache: CacheStats,
    /// Per bridge read cache: (`m10` or `thread_list`, its counts).
    pub bridge_caches: Vec<(&'static str, CacheStats)>,
    /// The read replica's state (`serving`, `lagging` or `down`), when there is a replica.
    pub replica: Option<&'static str>,
}

/// The replica's states, each a series of `threadgate_replica_state` (1 for the current one).
const REPLICA_STATES: [&str; 3] = ["serving", "lagging", "down"];

/// `threadgate_replica_state{state=..}`: only with a replica.
fn replica_gauge(
    encoder: &mut DescriptorEncoder,
    state: Option<&'static str>,
) -> Result<(), std::fmt::Error> {
    let Some(state) = state else {
        return Ok(());
    };
    let g = ConstGauge::new(0i64);
    let mut m = encoder.encode_descriptor(
        "threadgate_replica_state",
        "The read replica's state: 1 for the current one (reads go to the primary unless serving)",
        None,
        g.metric_type(),
    )?;
    for name in REPLICA_STATES {
        let labels = [("state", name)];
        ConstGauge::new(i64::from(name == state)).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// The [`Collector`] that writes the last [`Sampled`] values.
#[derive(Debug, Default)]
struct SampledCollector(Mutex<Sampled>);

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let g = ConstGauge::new(value as i64);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

impl Collector for SampledCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let e = &mut encoder;
        gauge(
            e,
            "threadgate_db_pool_connections",
            "Connections the pool holds, idle or in use",
            s.pool_connections.into(),
        )?;
        gauge(
            e,
            "threadgate_db_pool_idle_connections",
            "Idle connections in the pool",
            s.pool_idle.into(),
        )?;
        gauge(
            e,
            "threadgate_db_pool_max_connections",
            "Largest number of connections the pool opens (THREADGATE_POOL_SIZE)",
            s.pool_max.into(),
        )?;
        counter(
            e,
            "threadgate_key_cache_hits",
            "Authentications answered from the verified-key cache",
            s.key_cache.hits,
        )?;
        counter(
            e,
            "threadgate_key_cache_misses",
            "Authentications that had to look the key up",
            s.key_cache.misses,
        )?;
        for (name, field, help) in [
            (
                "threadgate_bridge_cache_hits",
                true,
                "Bridge reads answered from the read cache",
            ),
            (
                "threadgate_bridge_cache_misses",
                false,
                "Bridge reads that went to the database (or waited for a read in progress)",
            ),
        ] {
            let c = ConstCounter::new(0u64);
            let mut m = e.encode_descriptor(name, help, None, c.metric_type())?;
            for (cache, stats) in &s.bridge_caches {
                let v = if field { stats.hits } else { stats.misses };
                let labels = [("cache", *cache)];
                ConstCounter::new(v).encode(m.encode_family(&labels)?)?;
            }
        }
        replica_gauge(e, s.replica)
    }
}

/// The delivery workers' numbers (`delivery`), read at scrape time.
#[derive(Debug, Default)]
pub struct DeliveryStats {
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub retries_scheduled: AtomicU64,
    pub paused: AtomicU64,
    pub mails_sent: AtomicU64,
    pub mails_failed: AtomicU64,
    /// Events the last subscription worked on is behind the log's newest (an upper bound:
    /// events its filters skip count too).
    pub webhook_backlog: AtomicU64,
    /// Customer e-mails waiting to be sent (or retried).
    pub mail_backlog: AtomicU64,
}

#[derive(Debug)]
struct DeliveryCollector(Arc<DeliveryStats>);

impl Collector for DeliveryCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let d = &self.0;
        let e = &mut encoder;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        counter(
            e,
            "threadgate_webhook_deliveries",
            "Webhook requests answered 2xx",
            get(&d.delivered),
        )?;
        counter(
            e,
            "threadgate_webhook_failures",
            "Webhook requests that failed (an error, a timeout or a non-2xx answer)",
            get(&d.failed),
        )?;
        counter(
            e,
            "threadgate_webhook_retries",
            "Webhook retries scheduled after a failure",
            get(&d.retries_scheduled),
        )?;
        counter(
            e,
            "threadgate_webhook_pauses",
            "Subscriptions paused at the end of their retry period",
            get(&d.paused),
        )?;
        counter(
            e,
            "threadgate_reply_mails_sent",
            "Customer e-mails sent on shop replies",
            get(&d.mails_sent),
        )?;
        counter(
            e,
            "threadgate_reply_mail_failures",
            "Customer e-mail attempts that failed",
            get(&d.mails_failed),
        )?;
        gauge(
            e,
            "threadgate_webhook_backlog_events",
            "Events a subscription was last seen behind the log",
            get(&d.webhook_backlog),
        )?;
        gauge(
            e,
            "threadgate_reply_mail_backlog",
            "Customer e-mails waiting to be sent",
            get(&d.mail_backlog),
        )?;
        Ok(())
    }
}

/// The pool's own numbers: r2d2's checkout events and diesel's statement events.
#[derive(Debug)]
pub struct DbStats {
    checkout: Histogram,
    waits: Counter,
    timeouts: Counter,
    statements: Counter,
    errors: Counter,
}

impl Default for DbStats {
    fn default() -> DbStats {
        DbStats {
            checkout: Histogram::new(CHECKOUT_BUCKETS),
            waits: Counter::default(),
            timeouts: Counter::default(),
            statements: Counter::default(),
            errors: Counter::default(),
        }
    }
}

impl DbStats {
    /// The per-connection hook that counts statements and failed statements.
    pub fn instrumentation(self: &Arc<DbStats>) -> impl Instrumentation {
        let stats = self.clone();
        move |event: InstrumentationEvent<'_>| {
            if let InstrumentationEvent::FinishQuery { error, .. } = event {
                stats.statements.inc();
                if error.is_some() {
                    stats.errors.inc();
                }
            }
        }
    }

    /// Statements finished so far, and those that failed.
    pub fn statements(&self) -> (u64, u64) {
        (self.statements.get(), self.errors.get())
    }
}

/// Registered with the pool builder (`db::pool`): every checkout is timed.
#[derive(Debug)]
pub struct PoolEvents(pub Arc<DbStats>);

impl diesel::r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: diesel::r2d2::event::CheckoutEvent) {
        let d = event.duration();
        self.0.checkout.observe(d.as_secs_f64());
        if d >= CHECKOUT_WAIT {
            self.0.waits.inc();
        }
    }

    fn handle_timeout(&self, _: diesel::r2d2::event::TimeoutEvent) {
        self.0.timeouts.inc();
    }
}

/// Every metric of one server.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    /// The children of `requests` with status 200 and of `latency`, per route (and method),
    /// taken from their family on first use: a family's look-up hashes its label set under a
    /// lock on every request (measured: ~1 % of a GET by id's instructions, callgrind). Taken
    /// lazily, so the exposition lists exactly the label sets seen, as before.
    hot_requests: [OnceLock<Counter>; HOT],
    hot_latency: [OnceLock<Histogram>; ROUTES],
    auth_failures: Counter,
    throttled: Counter,
    events_appended: Family<SourceLabels, Counter>,
    watcher_polls: Family<OutcomeLabels, Counter>,
    watcher_last_poll: Gauge,
    pub db: Arc<DbStats>,
    /// Shared with this server's delivery workers.
    pub delivery: Arc<DeliveryStats>,
    sampled: Arc<SampledCollector>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "threadgate_http_requests",
            "Requests answered, by route, method and status",
            requests.clone(),
        );
        let latency: Family<RouteLabels, Histogram> =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register(
            "threadgate_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response body, by route",
            latency.clone(),
        );
        let auth_failures = Counter::default();
        registry.register(
            "threadgate_auth_failures",
            "Failed authentications (unknown, inactive, malformed or empty keys)",
            auth_failures.clone(),
        );
        let throttled = Counter::default();
        registry.register(
            "threadgate_auth_throttled",
            "Requests answered 429 because their address failed to authenticate too often",
            throttled.clone(),
        );
        let events_appended = Family::<SourceLabels, Counter>::default();
        registry.register(
            "threadgate_events_appended",
            "Events appended to the event log, by source (api: threadgate's writes; shop: the watcher)",
            events_appended.clone(),
        );
        let watcher_polls = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "threadgate_events_watcher_polls",
            "Polls of the watcher for outside changes, by outcome (found, nothing, skipped: another node polled, failed)",
            watcher_polls.clone(),
        );
        let watcher_last_poll = Gauge::default();
        registry.register(
            "threadgate_events_watcher_last_poll_timestamp_seconds",
            "Unix time of this node's last completed watcher poll; the watcher's lag is time() minus it",
            watcher_last_poll.clone(),
        );
        let db = Arc::new(DbStats::default());
        register_db(&mut registry, &db);
        let sampled = Arc::new(SampledCollector::default());
        registry.register_collector(Box::new(sampled.clone()));
        let delivery = Arc::new(DeliveryStats::default());
        registry.register_collector(Box::new(DeliveryCollector(delivery.clone())));
        Metrics {
            registry,
            requests,
            latency,
            hot_requests: std::array::from_fn(|_| OnceLock::new()),
            hot_latency: std::array::from_fn(|_| OnceLock::new()),
            auth_failures,
            throttled,
            events_appended,
            watcher_polls,
            watcher_last_poll,
            db,
            delivery,
            sampled,
        }
    }
}

/// The pool's own numbers ([`DbStats`]) in `registry`.
fn register_db(registry: &mut Registry, db: &DbStats) {
    registry.register(
        "threadgate_db_checkout_duration_seconds",
        "Time to check a connection out of the pool",
        db.checkout.clone(),
    );
    registry.register(
        "threadgate_db_checkout_waits",
        "Checkouts that waited for a connection (1 ms or more: none was idle)",
        db.waits.clone(),
    );
    registry.register(
        "threadgate_db_checkout_timeouts",
        "Checkouts that gave up waiting for a connection",
        db.timeouts.clone(),
    );
    registry.register(
        "threadgate_db_statements",
        "SQL statements run",
        db.statements.clone(),
    );
    registry.register(
        "threadgate_db_errors",
        "SQL statements that failed",
        db.errors.clone(),
    );
}

impl Metrics {
    /// Counts `n` events appended by `source` (`api` or `shop`).
    pub fn events_appended(&self, source: &'static str, n: usize) {
        if n > 0 {
            self.events_appended
                .get_or_create(&SourceLabels { source })
                .inc_by(n as u64);
        }
    }

    /// Counts a watcher poll (`found`, `nothing`, `skipped`, `failed`); a completed one sets
    /// the last-poll time.
    pub fn watcher_poll(&self, outcome: &'static str) {
        self.watcher_polls
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
        if outcome != "failed" {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            self.watcher_last_poll.set(now);
        }
    }

    /// Counts one answered request and its latency.
    pub fn request(&self, route: Route, method: &str, status: u16, elapsed: Duration) {
        let slot = route as usize;
        let name = route.as_str();
        let method = method_label(method);
        let labels = || RequestLabels {
            route: name,
            method,
            status,
        };
        match METHOD_LABELS.iter().position(|m| *m == method) {
            Some(m) if status == 200 => {
                self.hot_requests[slot * METHOD_LABELS.len() + m]
                    .get_or_init(|| self.requests.get_or_create(&labels()).clone())
                    .inc();
            }
            _ => {
                self.requests.get_or_create(&labels()).inc();
            }
        }
        self.hot_latency[slot]
            .get_or_init(|| {
                self.latency
                    .get_or_create(&RouteLabels { route: name })
                    .clone()
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn auth_failure(&self) {
        self.auth_failures.inc();
    }

    pub fn throttled(&self) {
        self.throttled.inc();
    }

    /// The whole exposition, with `sampled` as the scrape-time values.
    pub fn encode(&self, sampled: Sampled) -> String {
        *self.sampled.0.lock().unwrap_or_else(|e| e.into_inner()) = sampled;
        let mut out = String::with_capacity(8 * 1024);
        if prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry).is_err() {
            out.clear();
            let _ = writeln!(out, "# the metrics could not be encoded");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_bounded_labels() {
        let m = Metrics::new();
        m.request(Route::Webservice, "GET", 200, Duration::from_millis(3));
        m.request(Route::Webservice, "GET", 200, Duration::from_millis(3));
        m.request(Route::Other, "BREW", 404, Duration::from_millis(3));
        let text = m.encode(Sampled {
            pool_connections: 2,
            pool_idle: 1,
            pool_max: 2,
            key_cache: CacheStats { hits: 5, misses: 1 },
            bridge_caches: vec![("m10", CacheStats { hits: 3, misses: 2 })],
            replica: Some("lagging"),
        });
        for line in [
            "threadgate_http_requests_total{route=\"webservice\",method=\"GET\",status=\"200\"} 2",
            "threadgate_http_requests_total{route=\"other\",method=\"other\",status=\"404\"} 1",
            "threadgate_http_request_duration_seconds_count{route=\"webservice\"} 2",
            "threadgate_db_pool_connections 2",
            "threadgate_db_pool_idle_connections 1",
            "threadgate_key_cache_hits_total 5",
            "threadgate_key_cache_misses_total 1",
            "threadgate_bridge_cache_hits_total{cache=\"m10\"} 3",
            "threadgate_bridge_cache_misses_total{cache=\"m10\"} 2",
            "threadgate_db_statements_total 0",
            "threadgate_replica_state{state=\"serving\"} 0",
            "threadgate_replica_state{state=\"lagging\"} 1",
            "threadgate_replica_state{state=\"down\"} 0",
            "threadgate_webhook_deliveries_total 0",
            "threadgate_reply_mail_backlog 0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        let without = m.encode(Sampled::default());
        assert!(!without.contains("threadgate_replica_state"), "{without}");
    }
}

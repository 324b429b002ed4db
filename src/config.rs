//! Settings, from flags or the environment (`threadgate serve --help` lists them all).
//!
//! Owns nothing else: values are validated here and handed to `startup` as plain data.

use std::time::Duration;

use clap::Args;

/// Where the database is and how its tables are named.
#[derive(Args, Debug, Clone)]
pub struct DbSettings {
    /// MySQL/MariaDB URL, e.g. `mysql://user:pass@127.0.0.1:3306/shop` or
    /// `mysql://root@localhost/shop?unix_socket=/run/mysqld/mysqld.sock`.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: String,

    /// Table prefix of the shop's tables (PrestaShop's `_DB_PREFIX_`); threadgate's own tables
    /// get it too.
    #[arg(long, env = "THREADGATE_TABLE_PREFIX", default_value = "ps_", value_parser = parse_prefix)]
    pub table_prefix: String,

    /// Connections in the pool (each actix worker borrows one per request).
    #[arg(long, env = "THREADGATE_POOL_SIZE", default_value_t = 16)]
    pub pool_size: u32,
}

/// The default namespace of the thread list's UUIDv5 ids: uuid5(NAMESPACE_URL,
/// "urn:x-prestashop-bridge:v1") (README.md, settings); `THREADGATE_BRIDGE_UUID_NAMESPACE`
/// overrides it. Defined here, with the other defaults, so that `config` imports nothing from
/// `bridge`.
pub const DEFAULT_BRIDGE_NAMESPACE: &str = "d44e8d6f-f348-5ec4-a555-002e48605f29";

/// How the HTTP service behaves.
#[derive(Args, Debug, Clone)]
pub struct ServeSettings {
    /// Address to listen on.
    #[arg(long, env = "THREADGATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,

    /// Address of the metrics endpoint (`GET /metrics`, Prometheus text format), e.g.
    /// `127.0.0.1:9090`. Unset (the default): no metrics endpoint. Never served on `--bind`.
    #[arg(long, env = "THREADGATE_METRICS_BIND")]
    pub metrics_bind: Option<String>,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "THREADGATE_WORKERS")]
    pub workers: Option<usize>,

    /// Value of the `PSWS-Version` header; `none` omits it (docs/compatibility.md W1).
    #[arg(long, env = "THREADGATE_PSWS_VERSION", default_value = "1.7.8.11")]
    pub psws_version: String,

    /// Shop time zone used when the shop's configuration has no `PS_TIMEZONE`
    /// (docs/compatibility.md W17).
    #[arg(long, env = "THREADGATE_TIMEZONE", default_value = "UTC", value_parser = parse_tz)]
    pub timezone: chrono_tz::Tz,

    /// Shop name for the root listing when the configuration has no `PS_SHOP_NAME`.
    #[arg(long, env = "THREADGATE_SHOP_NAME", default_value = "PrestaShop")]
    pub shop_name: String,

    /// Request headers that carry a forwarded `Authorization` value when a proxy renames it
    /// (PrestaShop reads `HTTP_AUTHORIZATION` / `REDIRECT_HTTP_AUTHORIZATION`), comma-separated.
    #[arg(
        long,
        env = "THREADGATE_FORWARDED_AUTH_HEADERS",
        value_delimiter = ',',
        default_value = "X-Authorization,HTTP_AUTHORIZATION,REDIRECT_HTTP_AUTHORIZATION"
    )]
    pub forwarded_auth_headers: Vec<String>,

    /// Seconds a verified key stays in the in-memory cache before argon2 runs again.
    #[arg(long, env = "THREADGATE_KEY_CACHE_TTL", default_value_t = 60)]
    pub key_cache_ttl: u64,

    /// Where keys are checked: `own` (threadgate's argon2id store, the default) or `prestashop`
    /// (the shop's own `webservice_account` tables, read as PrestaShop does).
    #[arg(
        long,
        env = "THREADGATE_AUTH_SOURCE",
        default_value = "own",
        value_enum
    )]
    pub auth_source: KeySource,

    /// With `--auth-source prestashop`: seconds a key read from the shop's tables is trusted
    /// before it is read again (Back Office changes show up within this time).
    #[arg(long, env = "THREADGATE_PRESTASHOP_KEY_TTL", default_value_t = 5)]
    pub prestashop_key_ttl: u64,

    /// Failed authentications (codes 17, 18, 20, 21) allowed per client address and minute;
    /// more are answered 429 before any key look-up. 0 disables the limit.
    #[arg(
        long,
        env = "THREADGATE_AUTH_FAILURES_PER_MINUTE",
        default_value_t = 20
    )]
    pub auth_failures_per_minute: u32,

    /// Proxies whose `X-Forwarded-For` is believed (comma-separated IP addresses). Empty: the
    /// client address is always the TCP peer.
    #[arg(long, env = "THREADGATE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// Seconds between reloads of the shop's configuration (shops, languages, PS_* values).
    #[arg(long, env = "THREADGATE_CONFIG_REFRESH", default_value_t = 10)]
    pub config_refresh: u64,

    /// Milliseconds between reads of the key store's generation (one tiny statement), so that
    /// a key change reaches the requests that run no statement of their own (`GET /api/`,
    /// `schema=`, bridge reads served from the cache) within this time. 0: only at the
    /// configuration refresh.
    #[arg(long, env = "THREADGATE_KEY_POLL_MS", default_value_t = 250)]
    pub key_poll_ms: u64,

    /// Largest request body accepted, in bytes; a larger one is refused before it is read
    /// whole. The default lets a maximal `message` (4 194 303 characters) through.
    #[arg(long, env = "THREADGATE_MAX_BODY_BYTES", default_value_t = crate::ingest::DEFAULT_BODY_LIMIT)]
    pub max_body_bytes: usize,

    /// Seconds every request body may take to arrive, at least (plus
    /// `--body-secs-per-mib`); a slower one is answered 408 and its connection closed.
    #[arg(long, env = "THREADGATE_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout: u64,

    /// Seconds more a request body may take per MiB (of its `Content-Length`, or of what
    /// arrived when it announces none).
    #[arg(long, env = "THREADGATE_BODY_SECS_PER_MIB", default_value_t = 5)]
    pub body_secs_per_mib: u64,

    /// MiB that all request bodies being read at once may hold; beyond it a new chunk waits up
    /// to a second for memory, then its request gets 503.
    #[arg(long, env = "THREADGATE_BODY_MEMORY_MIB", default_value_t = 256)]
    pub body_memory_mib: usize,

    /// Entities per database round trip when streaming `display=full` lists.
    #[arg(long, env = "THREADGATE_STREAM_CHUNK", default_value_t = 500)]
    pub stream_chunk: u32,

    /// Namespace of the thread list bridge's UUIDv5 ids (docs/bridges.md#uuid-namespace); the
    /// default is uuid5(NAMESPACE_URL, "urn:x-prestashop-bridge:v1").
    #[arg(
        long,
        env = "THREADGATE_BRIDGE_UUID_NAMESPACE",
        default_value = DEFAULT_BRIDGE_NAMESPACE,
        value_parser = parse_uuid
    )]
    pub bridge_uuid_namespace: uuid::Uuid,

    /// The shop's upload directory (PrestaShop's `upload/`), where message attachments are;
    /// M10 reports their sizes from it (0 when unset or unreadable).
    #[arg(long, env = "THREADGATE_UPLOAD_DIR")]
    pub upload_dir: Option<std::path::PathBuf>,

    /// Milliseconds a bridge read (an M10 thread, a customer's thread list) may be served from
    /// memory. threadgate's own writes are seen at once whatever this is; writes made by
    /// PrestaShop or another process are seen within it. 0 reads the database on every request.
    /// A busy key is read again every half of it: the default keeps the re-read of a large
    /// customer's list (~12 ms of database CPU) to once every 2.5 s (docs/bridges.md).
    #[arg(long, env = "THREADGATE_BRIDGE_CACHE_MS", default_value_t = 5000)]
    pub bridge_cache_ms: u64,

    /// Milliseconds a new connection has to send its first complete request head; past it,
    /// 408 with an error document (0: no limit). Later heads are bounded by the keep-alive time.
    #[arg(
        long,
        env = "THREADGATE_REQUEST_HEAD_TIMEOUT_MS",
        default_value_t = 5000
    )]
    pub request_head_timeout_ms: u64,

    /// MiB of memory the bridges' read cache may hold (split between M10 and the thread list).
    #[arg(long, env = "THREADGATE_BRIDGE_CACHE_MIB", default_value_t = 64)]
    pub bridge_cache_mib: usize,

    /// A read replica of the database (the same URL forms as `DATABASE_URL`): lists, single
    /// GETs and the bridges read there, writes and key look-ups stay on the primary. Unset (the
    /// default): everything on the primary. The primary needs `log_bin` and the replica GTID
    /// replication (docs/architecture.md, "A read replica").
    #[arg(long, env = "THREADGATE_REPLICA_URL", hide_env_values = true)]
    pub replica_url: Option<String>,

    /// Milliseconds a read on the replica waits for it to apply the client's last write
    /// (`MASTER_GTID_WAIT`); then the read goes to the primary.
    #[arg(long, env = "THREADGATE_REPLICA_WAIT_MS", default_value_t = 200)]
    pub replica_wait_ms: u64,

    /// Milliseconds the replica may be behind the primary; beyond, reads go to the primary
    /// until it catches up.
    #[arg(long, env = "THREADGATE_REPLICA_MAX_LAG_MS", default_value_t = 2000)]
    pub replica_max_lag_ms: u64,

    /// Milliseconds between checks of the replica's position and reachability.
    #[arg(long, env = "THREADGATE_REPLICA_CHECK_MS", default_value_t = 250)]
    pub replica_check_ms: u64,

    /// Whose writes a replica read waits for: `key` (the same key's writes through this node; no
    /// extra statement once the replica has them) or `primary` (every write acknowledged before
    /// the read, through any node: one more statement on the primary per read).
    #[arg(long, env = "THREADGATE_REPLICA_SYNC", value_enum, default_value_t = crate::db::replica::Sync::Key)]
    pub replica_sync: crate::db::replica::Sync,

    /// Milliseconds a request waits for a free database connection (all in use, or the
    /// database unreachable) before it is answered 503 with `Retry-After`.
    #[arg(
        long,
        env = "THREADGATE_DB_CHECKOUT_TIMEOUT_MS",
        default_value_t = 3000
    )]
    pub db_checkout_timeout_ms: u64,

    /// Milliseconds one database step of a request (its statements on one connection) may
    /// take once it holds a connection, before the request is answered 503: a database that
    /// stops answering (paused, cut off) never holds a request longer.
    #[arg(long, env = "THREADGATE_DB_TIMEOUT_MS", default_value_t = 5_000)]
    pub db_timeout_ms: u64,

    /// Start without a reachable database and wait for it (answering 503 meanwhile, retrying
    /// with a capped backoff); `false` exits at once when the database or the shop's tables
    /// cannot be read, as before.
    #[arg(
        long,
        env = "THREADGATE_DB_WAIT",
        default_value = "true",
        action = clap::ArgAction::Set,
        value_parser = parse_on_off
    )]
    pub db_wait: bool,

    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT; the rest are cut.
    #[arg(long, env = "THREADGATE_SHUTDOWN_TIMEOUT", default_value_t = 20)]
    pub shutdown_timeout: u64,

    /// The event log (docs/events.md): `on` appends an event in the transaction of every
    /// write and runs the watcher and the retention purge; `off` does none of it (to measure
    /// what it costs).
    #[arg(long, env = "THREADGATE_EVENTS", default_value = "on", value_parser = parse_switch)]
    pub events: Switch,

    /// Milliseconds between two polls of the watcher for changes made outside threadgate (the
    /// shop's contact form, its Back Office, SQL): how late such a change may reach the event
    /// log. 0: no watcher on this node.
    #[arg(long, env = "THREADGATE_EVENTS_WATCH_MS", default_value_t = 2000)]
    pub events_watch_ms: u64,

    /// Milliseconds between two scans for threads changed outside threadgate (by `date_upd`:
    /// a whole read of `customer_thread` unless the operator indexed `date_upd`, about a
    /// second on 1 M threads, docs/events.md), made on the watcher's polls: how late such a
    /// change may reach the event log. 0: never (new threads and messages are still found).
    #[arg(long, env = "THREADGATE_EVENTS_UPDATES_MS", default_value_t = 5000)]
    pub events_updates_ms: u64,

    /// Days an event is kept; older ones are purged in batches in the background, and a change
    /// feed cursor older than the oldest kept event is answered 410.
    #[arg(long, env = "THREADGATE_EVENTS_RETENTION_DAYS", default_value_t = 30)]
    pub events_retention_days: u32,

    /// Delivery of events: webhooks and the customer's e-mail (docs/events.md).
    #[command(flatten)]
    pub delivery: DeliverySettings,
}

/// The server's secret key, which encrypts the webhooks' signing secrets in the database
/// (docs/events.md, "Signatures"). One of the two is needed to add webhooks and to deliver.
#[derive(Args, Debug, Clone, Default)]
pub struct SecretKeySettings {
    /// File holding the secret key (64 hex digits); `webhooks add` creates it (mode 0600)
    /// when it does not exist. Every node that delivers needs the same key.
    #[arg(long, env = "THREADGATE_SECRET_KEY_FILE")]
    pub secret_key_file: Option<std::path::PathBuf>,

    /// The secret key itself (64 hex digits), instead of a file.
    #[arg(long, env = "THREADGATE_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
}

/// How the event log is read: by the change feed, the delivery workers and `events tail`
/// (docs/events.md, "Ordering").
#[derive(Args, Debug, Clone, Copy)]
pub struct EventReadSettings {
    /// Milliseconds a reader waits for a missing event id (an append not committed yet) before
    /// taking it as never to come (a rolled-back write burns its id). It bounds how long an
    /// append may take to commit: an event whose write commits later than this after its
    /// append may be passed over. Only a gap waits: with consecutive ids nothing is held back.
    #[arg(long, env = "THREADGATE_EVENTS_GAP_WAIT_MS", default_value_t = 10_000)]
    pub events_gap_wait_ms: u64,
}

impl EventReadSettings {
    pub fn gap_wait(&self) -> Duration {
        Duration::from_millis(self.events_gap_wait_ms)
    }
}

/// How events are delivered: webhooks and the customer's e-mail on a shop reply.
#[derive(Args, Debug, Clone)]
pub struct DeliverySettings {
    #[command(flatten)]
    pub secret: SecretKeySettings,

    /// How the log is read (also by the change feed: `ServeSettings::gap_wait`).
    #[command(flatten)]
    pub read: EventReadSettings,

    /// Delivery threads on this node (each with its own database connection, never the API's
    /// pool); 0: this node delivers nothing (other nodes on the database still do).
    #[arg(long, env = "THREADGATE_DELIVERY_WORKERS", default_value_t = 2)]
    pub delivery_workers: usize,

    /// Milliseconds between two looks for work when there was none.
    #[arg(long, env = "THREADGATE_DELIVERY_POLL_MS", default_value_t = 500)]
    pub delivery_poll_ms: u64,

    /// Events read from the log per subscription and turn.
    #[arg(long, env = "THREADGATE_DELIVERY_BATCH", default_value_t = 100)]
    pub delivery_batch: u32,

    /// Milliseconds a webhook request (connect, send, answer) or an SMTP exchange may take.
    #[arg(long, env = "THREADGATE_DELIVERY_TIMEOUT_MS", default_value_t = 10_000)]
    pub delivery_timeout_ms: u64,

    /// Seconds a node holds a subscription (or the e-mail queue) before another may take it
    /// over; renewed after each delivery.
    #[arg(long, env = "THREADGATE_DELIVERY_LEASE_SECS", default_value_t = 60)]
    pub delivery_lease_secs: u64,

    /// First retry delay in milliseconds; doubled on each failure, with jitter.
    #[arg(long, env = "THREADGATE_DELIVERY_BACKOFF_MS", default_value_t = 1_000)]
    pub delivery_backoff_ms: u64,

    /// Longest retry delay in milliseconds.
    #[arg(
        long,
        env = "THREADGATE_DELIVERY_BACKOFF_MAX_MS",
        default_value_t = 600_000
    )]
    pub delivery_backoff_max_ms: u64,

    /// Seconds of failures after which a subscription is paused (and an e-mail given up).
    #[arg(long, env = "THREADGATE_DELIVERY_RETRY_SECS", default_value_t = 86_400)]
    pub delivery_retry_secs: u64,

    /// Send the customer PrestaShop's `reply_msg` e-mail when an employee's public reply is
    /// created through the API (`on` or `off`).
    #[arg(long, env = "THREADGATE_REPLY_MAIL", default_value = "off", value_parser = parse_on_off)]
    pub reply_mail: bool,

    /// SMTP server, instead of the shop's `PS_MAIL_SERVER`.
    #[arg(long, env = "THREADGATE_SMTP_HOST")]
    pub smtp_host: Option<String>,

    /// SMTP port, instead of the shop's `PS_MAIL_SMTP_PORT`.
    #[arg(long, env = "THREADGATE_SMTP_PORT")]
    pub smtp_port: Option<u16>,

    /// `off`, `tls` (STARTTLS) or `ssl` (TLS from the start), instead of the shop's
    /// `PS_MAIL_SMTP_ENCRYPTION`.
    #[arg(long, env = "THREADGATE_SMTP_ENCRYPTION")]
    pub smtp_encryption: Option<String>,

    /// SMTP user, instead of the shop's `PS_MAIL_USER`.
    #[arg(long, env = "THREADGATE_SMTP_USER")]
    pub smtp_user: Option<String>,

    /// SMTP password, instead of the shop's `PS_MAIL_PASSWD`.
    #[arg(long, env = "THREADGATE_SMTP_PASSWORD", hide_env_values = true)]
    pub smtp_password: Option<String>,

    /// Sender address, instead of the thread's contact's (or the shop's `PS_SHOP_EMAIL`).
    #[arg(long, env = "THREADGATE_MAIL_FROM")]
    pub mail_from: Option<String>,
}

/// The one reading of an on/off value, for settings and request switches alike: `on`, `1`,
/// `true`, `yes` or `off`, `0`, `false`, `no` (any case, surrounding spaces ignored); `None`
/// for anything else.
pub fn on_off(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "on" | "1" | "true" | "yes" => Some(true),
        "off" | "0" | "false" | "no" => Some(false),
        _ => None,
    }
}

/// An on/off setting ([`on_off`]).
fn parse_on_off(s: &str) -> Result<bool, String> {
    on_off(s).ok_or_else(|| format!("expected on or off, not {s:?}"))
}

/// An on/off setting kept as a [`Switch`].
fn parse_switch(s: &str) -> Result<Switch, String> {
    Ok(if parse_on_off(s)? {
        Switch::On
    } else {
        Switch::Off
    })
}

/// `on` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    On,
    Off,
}

/// Where keys are checked (docs/architecture.md#keys).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeySource {
    /// threadgate's own store: argon2id hashes, managed with `threadgate keys`.
    #[default]
    Own,
    /// The shop's `webservice_account`, `webservice_permission`, `webservice_account_shop`.
    Prestashop,
}

/// argon2id cost of newly hashed keys. A stored hash carries its own parameters, so changing
/// these never invalidates existing keys. Defaults: OWASP's m=19 MiB, t=2, p=1.
#[derive(Args, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory per hash, KiB.
    #[arg(long, env = "THREADGATE_ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,
    /// Iterations.
    #[arg(long, env = "THREADGATE_ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,
    /// Lanes.
    #[arg(long, env = "THREADGATE_ARGON2_PARALLELISM", default_value_t = 1)]
    pub argon2_parallelism: u32,
}

impl Default for Argon2Settings {
    fn default() -> Argon2Settings {
        Argon2Settings {
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
        }
    }
}

impl ServeSettings {
    /// How long request bodies may take (`http::body` reads within it).
    pub fn body_time(&self) -> crate::ingest::bounds::BodyTime {
        crate::ingest::bounds::BodyTime {
            floor: Duration::from_secs(self.body_timeout),
            per_mib: Duration::from_secs(self.body_secs_per_mib),
        }
    }

    /// How long a verified key is trusted: the key-cache TTL for the own store, the short
    /// PrestaShop TTL when keys are read from the shop's tables.
    pub fn key_cache_ttl(&self) -> Duration {
        match self.auth_source {
            KeySource::Own => Duration::from_secs(self.key_cache_ttl),
            KeySource::Prestashop => Duration::from_secs(self.prestashop_key_ttl),
        }
    }

    /// Whether threadgate keeps the event log (`THREADGATE_EVENTS`).
    pub fn events_on(&self) -> bool {
        self.events == Switch::On
    }

    /// How long a reader of the log waits for a missing event id
    /// (`THREADGATE_EVENTS_GAP_WAIT_MS`).
    pub fn gap_wait(&self) -> Duration {
        self.delivery.read.gap_wait()
    }

    /// How the pool waits for the database.
    pub fn pool_timeouts(&self) -> crate::db::PoolTimeouts {
        crate::db::PoolTimeouts {
            checkout: Duration::from_millis(self.db_checkout_timeout_ms.max(1)),
            statements: Duration::from_millis(self.db_timeout_ms.max(1)),
        }
    }

    /// The `PSWS-Version` value to send, if any.
    pub fn psws_version(&self) -> Option<&str> {
        match self.psws_version.as_str() {
            "none" | "" => None,
            v => Some(v),
        }
    }
}

/// Table prefixes end up inside SQL identifiers: allow only what MySQL accepts unquoted.
fn parse_prefix(s: &str) -> Result<String, String> {
    if s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        Ok(s.to_owned())
    } else {
        Err("the prefix may hold only ASCII letters, digits and '_' (at most 32)".into())
    }
}

fn parse_uuid(s: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(s).map_err(|_| format!("not a UUID: {s:?}"))
}

fn parse_tz(s: &str) -> Result<chrono_tz::Tz, String> {
    s.parse().map_err(|_| format!("unknown time zone {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_with_sql_metacharacters_are_refused() {
        assert!(parse_prefix("ps_").is_ok());
        assert!(parse_prefix("").is_ok());
        assert!(parse_prefix("ps`; DROP").is_err());
        assert!(parse_prefix("a-b").is_err());
    }

    #[test]
    fn one_reading_of_on_and_off() {
        for v in ["on", "1", "TRUE", " yes "] {
            assert_eq!(on_off(v), Some(true), "{v:?}");
        }
        for v in ["off", "0", "False", "no\t"] {
            assert_eq!(on_off(v), Some(false), "{v:?}");
        }
        assert_eq!(on_off("maybe"), None);
        assert_eq!(on_off(""), None);
        assert_eq!(
            parse_on_off("2"),
            Err("expected on or off, not \"2\"".to_owned())
        );
        assert_eq!(parse_switch("Off"), Ok(Switch::Off));
    }
}

//! Delivery of the event log (docs/events.md): signed webhooks and the customer's e-mail on a
//! shop reply.
//!
//! A [`Worker`] owns no database connection and no async runtime: [`Worker::step`] does one
//! pass with the connection it is given (every subscription that is due, then the e-mail
//! queue) and is what the tests drive; [`spawn`] runs it on threads of their own, each with
//! its own connection, so a slow or dead receiver or mail server never holds an API thread,
//! a pool connection or the async runtime. Coordination between threads and nodes is in the
//! database only: a subscription (or the e-mail queue) is worked on by whoever holds its
//! lease (`db::delivery`).

pub mod mail;
pub mod sign;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::mysql::MysqlConnection;
use diesel::Connection;
use rand::Rng;

use crate::config::DeliverySettings;
use crate::db::delivery::{self as store, NewMail, WebhookRow};
// The event log's read side: `read_page` below is the only caller.
use crate::db::events::{self as event_log, FeedError, FeedPage};
use crate::db::shop::{self, NameFirst, ShopSnapshot};
use crate::db::Tables;
use crate::events::{Event, Filter};
use crate::metrics::DeliveryStats;
use sign::SecretKey;

/// The event types a subscription may ask for.
pub const EVENT_TYPES: [&str; 6] = [
    "thread.created",
    "thread.updated",
    "thread.deleted",
    "message.created",
    "message.updated",
    "message.deleted",
];

/// The page of events after `after` that `filter` lets through, as the change feed reads it
/// (`db::events::feed`: never past the readable horizon, so no event that commits late is
/// passed over). A position whose events were purged (retention) reads from the oldest event
/// kept.
pub fn read_page(
    conn: &mut MysqlConnection,
    tables: &Tables,
    after: u64,
    limit: u32,
    filter: &Filter,
    gap_wait: Duration,
) -> diesel::QueryResult<FeedPage> {
    match event_log::feed(conn, tables, Some(after), limit, filter, gap_wait) {
        Ok(page) => Ok(page),
        Err(FeedError::Expired { .. }) => {
            match event_log::feed(conn, tables, None, limit, filter, gap_wait) {
                Ok(page) => Ok(page),
                Err(FeedError::Db(e)) => Err(e),
                Err(FeedError::Expired { .. }) => Err(diesel::result::Error::NotFound),
            }
        }
        Err(FeedError::Db(e)) => Err(e),
    }
}

/// Up to `limit` events after `after`, every resource and shop, in id order ([`read_page`]).
pub fn read_events(
    conn: &mut MysqlConnection,
    tables: &Tables,
    after: u64,
    limit: u32,
    gap_wait: Duration,
) -> diesel::QueryResult<Vec<Event>> {
    Ok(read_page(conn, tables, after, limit, &Filter::everything(), gap_wait)?.events)
}

/// What of a subscription's filters the log's reading can apply in SQL: the families
/// (`thread.*`, `message.*`) its event types and resource allow, and its shop. [`matches`]
/// applies the rest (single event types).
pub fn filter_of(sub: &WebhookRow) -> Filter {
    let wants = |family: &str| {
        let typed = sub
            .events
            .iter()
            .any(|e| e == "*" || e.split('.').next() == Some(family));
        let resource = match sub.resource.as_deref() {
            None => true,
            Some("customer_threads") => family == "thread",
            Some("customer_messages") => family == "message",
            Some(_) => false,
        };
        typed && resource
    };
    Filter {
        threads: wants("thread"),
        messages: wants("message"),
        shops: sub.shop.map(|s| vec![s]),
    }
}

/// Checks a subscription's `--events` list: known types, `thread.*`, `message.*` or `*`.
pub fn parse_event_types(list: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for e in list.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if e == "*" || e == "thread.*" || e == "message.*" || EVENT_TYPES.contains(&e) {
            if !out.iter().any(|x| x == e) {
                out.push(e.to_owned());
            }
        } else {
            return Err(format!(
                "unknown event type {e:?}: expected one of {}, thread.*, message.* or *",
                EVENT_TYPES.join(", ")
            ));
        }
    }
    if out.is_empty() {
        return Err("--events needs at least one event type".into());
    }
    Ok(out)
}

/// Checks a webhook URL: `http` or `https`, with a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || url.len() > 2048 || url.chars().any(|c| c.is_whitespace()) {
        return Err(format!("{url:?} is not a usable URL"));
    }
    Ok(())
}

/// Whether a subscription wants `event`.
pub fn matches(sub: &WebhookRow, event: &Event) -> bool {
    let kind = event.kind.as_str();
    let family = kind.split('.').next().unwrap_or("");
    let wanted = sub.events.iter().any(|e| {
        e == "*" || e == kind || (e.ends_with(".*") && e.trim_end_matches(".*") == family)
    });
    let resource_ok = match sub.resource.as_deref() {
        None => true,
        Some("customer_threads") => family == "thread",
        Some("customer_messages") => family == "message",
        Some(_) => false,
    };
    let shop_ok = sub.shop.is_none_or(|s| s == event.id_shop);
    wanted && resource_ok && shop_ok
}

/// The JSON body of a delivery: the event (docs/events.md, "Webhooks").
pub fn event_body(event: &Event) -> Vec<u8> {
    let data = event
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .unwrap_or_else(|| serde_json::json!({}));
    let created_at =
        match chrono::NaiveDateTime::parse_from_str(&event.created_at, "%Y-%m-%d %H:%M:%S%.f") {
            Ok(t) => t
                .and_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            Err(_) => event.created_at.clone(),
        };
    serde_json::to_vec(&serde_json::json!({
        "id": event.id,
        "type": event.kind,
        "created_at": created_at,
        "id_shop": event.id_shop,
        "id_customer_thread": event.id_customer_thread,
        "id_customer_message": event.id_customer_message,
        "source": event.source,
        "id_key": event.id_key,
        "data": data,
    }))
    .unwrap_or_default()
}

/// Whether a `message.created` event asks for the customer's e-mail: an employee's public
/// reply made through the API, not opted out.
pub fn wants_mail(event: &Event) -> bool {
    if event.kind != "message.created" || event.source != "api" {
        return false;
    }
    let Some(data) = event
        .data
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
    else {
        return false;
    };
    let int = |v: &serde_json::Value| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .or_else(|| v.as_bool().map(i64::from))
    };
    let employee = data.get("id_employee").and_then(int).unwrap_or(0);
    let private = data.get("private").and_then(int).unwrap_or(0);
    let notify = data
        .get("notify_customer")
        .map(|v| int(v).unwrap_or(1) != 0)
        .unwrap_or(true);
    employee > 0 && private == 0 && notify
}

/// What one [`Worker::step`] did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StepReport {
    pub delivered: u64,
    pub failed: u64,
    pub mails_sent: u64,
    pub mails_failed: u64,
    /// Events looked at (delivered, skipped by the filters, or queued as e-mails).
    pub events_seen: u64,
    /// Positions moved past events the filters hid in SQL (none of them read).
    pub passed: u64,
}

impl StepReport {
    pub fn did_work(&self) -> bool {
        self.delivered
            + self.failed
            + self.mails_sent
            + self.mails_failed
            + self.events_seen
            + self.passed
            > 0
    }
}

/// A delivery worker: settings, the secret key, an HTTP agent and a name for its leases.
pub struct Worker {
    tables: Tables,
    settings: DeliverySettings,
    key: Option<SecretKey>,
    agent: ureq::Agent,
    owner: String,
    pub stats: Arc<DeliveryStats>,
}

/// The secret key from the settings: the key itself, else the file (read, never created).
pub fn secret_key(
    settings: &crate::config::SecretKeySettings,
) -> anyhow::Result<Option<SecretKey>> {
    if let Some(k) = &settings.secret_key {
        return Ok(Some(SecretKey::parse(k)?));
    }
    match &settings.secret_key_file {
        Some(path) => Ok(Some(SecretKey::read_file(path)?)),
        None => Ok(None),
    }
}

/// The HTTP client of deliveries: bounded time, no redirects, no proxy from the environment,
/// and any answer (a 500 included) returned as an answer.
pub fn http_agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
        .http_status_as_error(false)
        .max_redirects(0)
        .proxy(None)
        .user_agent(concat!("threadgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// One webhook request: the signed POST of `body`. `Ok(status)` for a 2xx answer.
pub fn post(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    subscription: u32,
    event_id: &str,
    event_type: &str,
    body: &[u8],
) -> Result<u16, String> {
    let timestamp = chrono::Utc::now().timestamp();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", event_id)
        .header("X-Threadgate-Event-Id", event_id)
        .header("X-Threadgate-Event-Type", event_type)
        .header("X-Threadgate-Webhook-Id", subscription.to_string())
        .header("X-Threadgate-Timestamp", timestamp.to_string())
        .header(
            "X-Threadgate-Signature",
            sign::signature(secret, timestamp, body),
        )
        .send(body)
        .map_err(|e| format!("{e}"))?;
    let status = response.status().as_u16();
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(format!("the receiver answered HTTP {status}"))
    }
}

impl Worker {
    /// A worker named `owner` (unique per thread and node: it names the leases it takes).
    pub fn new(
        tables: Tables,
        settings: DeliverySettings,
        key: Option<SecretKey>,
        owner: String,
    ) -> Worker {
        let agent = http_agent(Duration::from_millis(settings.delivery_timeout_ms.max(1)));
        Worker {
            tables,
            settings,
            key,
            agent,
            owner,
            stats: Arc::new(DeliveryStats::default()),
        }
    }

    /// Shares counters with other workers (the threads of one node).
    pub fn with_stats(mut self, stats: Arc<DeliveryStats>) -> Worker {
        self.stats = stats;
        self
    }

    /// Exponential backoff with jitter: base × 2^(attempts−1), capped, then a random point in
    /// its upper half.
    fn backoff_ms(&self, attempts: u32) -> u64 {
        let base = self.settings.delivery_backoff_ms;
        let cap = self.settings.delivery_backoff_max_ms.max(base);
        let exp = base.saturating_mul(1u64 << attempts.saturating_sub(1).min(40));
        let d = exp.min(cap);
        if d < 2 {
            return d;
        }
        rand::thread_rng().gen_range(d / 2..=d)
    }

    /// One pass: every due subscription this worker can lease, then the e-mail queue.
    pub fn step(&self, conn: &mut MysqlConnection) -> anyhow::Result<StepReport> {
        let mut report = StepReport::default();
        // Without the secret key nothing can be signed: leave the subscriptions to the nodes
        // that have it.
        let due = if self.key.is_some() {
            store::due_webhooks(conn, &self.tables)?
        } else {
            Vec::new()
        };
        // The log's highest id, once per pass, for the backlog of every subscription.
        let newest = if due.is_empty() {
            0
        } else {
            store::max_event_id(conn, &self.tables)?
        };
        for id in due {
            if store::take_webhook_lease(
                conn,
                &self.tables,
                id,
                &self.owner,
                self.settings.delivery_lease_secs,
            )? {
                let outcome = self.run_subscription(conn, id, newest, &mut report);
                let released = store::release_webhook(conn, &self.tables, id, &self.owner);
                outcome?;
                released?;
            }
        }
        self.run_mail(conn, &mut report)?;
        Ok(report)
    }

    /// POSTs one event and moves the subscription past it (`position` is where it stood).
    /// `false`: stop this turn (the delivery failed and was recorded, or the lease was lost).
    fn deliver(
        &self,
        conn: &mut MysqlConnection,
        sub: &WebhookRow,
        secret: &str,
        event: &Event,
        position: u64,
        report: &mut StepReport,
    ) -> anyhow::Result<bool> {
        let lease = self.settings.delivery_lease_secs;
        let body = event_body(event);
        let event_id = event.id.to_string();
        match post(
            &self.agent,
            &sub.url,
            secret,
            sub.id,
            &event_id,
            &event.kind,
            &body,
        ) {
            Ok(_) => {
                report.delivered += 1;
                self.stats.delivered.fetch_add(1, Ordering::Relaxed);
                let held = store::advance_webhook(
                    conn,
                    &self.tables,
                    sub.id,
                    &self.owner,
                    event.id,
                    1,
                    lease,
                )?;
                if !held {
                    tracing::warn!(
                        webhook = sub.id,
                        "webhook lease lost to another node; stopping"
                    );
                }
                Ok(held)
            }
            Err(error) => {
                report.failed += 1;
                self.record_failure(conn, sub, position, Some(event.id), &error)?;
                Ok(false)
            }
        }
    }

    /// Delivers the subscription's next events, in order, until it is caught up, a delivery
    /// fails or the batch is done. The lease is held by the caller.
    /// `newest`: the log's highest id, read once per pass (the backlog is measured up to it).
    fn run_subscription(
        &self,
        conn: &mut MysqlConnection,
        id: u32,
        newest: u64,
        report: &mut StepReport,
    ) -> anyhow::Result<()> {
        let Some(sub) = store::get_webhook(conn, &self.tables, id)? else {
            return Ok(());
        };
        let lease = self.settings.delivery_lease_secs;
        let Some(key) = &self.key else {
            return Ok(());
        };
        let secret = match key.decrypt(&sub.secret) {
            Ok(s) => s,
            Err(e) => {
                // This node's key is not the one the secret was stored with: a failure like a
                // dead receiver (retried, then paused), so a node with the right key can
                // still deliver meanwhile.
                report.failed += 1;
                self.record_failure(conn, &sub, sub.position, None, &e.to_string())?;
                return Ok(());
            }
        };
        let page = read_page(
            conn,
            &self.tables,
            sub.position,
            self.settings.delivery_batch.max(1),
            &filter_of(&sub),
            self.settings.read.gap_wait(),
        )?;
        let mut position = sub.position;
        let mut delivered = 0u64;
        for event in &page.events {
            report.events_seen += 1;
            if !matches(&sub, event) {
                position = event.id;
                continue;
            }
            if !self.deliver(conn, &sub, &secret, event, position, report)? {
                return Ok(());
            }
            position = event.id;
            delivered += 1;
        }
        // The whole page is done: on to where it ends (past the events the filters hid).
        if page.last_id > position {
            position = page.last_id;
            report.passed += 1;
        }
        if position != sub.position
            && !store::advance_webhook(conn, &self.tables, id, &self.owner, position, 0, lease)?
        {
            return Ok(());
        }
        let behind = newest.saturating_sub(position);
        self.stats.webhook_backlog.store(behind, Ordering::Relaxed);
        if delivered > 0 {
            tracing::info!(
                webhook = id,
                delivered,
                position,
                behind,
                "webhook deliveries"
            );
        }
        Ok(())
    }

    /// Counts and logs a failed delivery and schedules the retry, or pauses the subscription
    /// once it has failed for the whole retry period.
    /// `position`: where the subscription stands (every event before the failed one done).
    fn record_failure(
        &self,
        conn: &mut MysqlConnection,
        sub: &WebhookRow,
        position: u64,
        event: Option<u64>,
        error: &str,
    ) -> anyhow::Result<()> {
        self.stats.failed.fetch_add(1, Ordering::Relaxed);
        let retry_in = self.backoff_ms(sub.attempts + 1);
        let reason = format!(
            "deliveries failed for more than {} s (last: {error})",
            self.settings.delivery_retry_secs
        );
        let failure = store::fail_webhook(
            conn,
            &self.tables,
            sub.id,
            &self.owner,
            &store::FailedDelivery {
                position,
                error,
                retry_in_ms: retry_in,
                retry_secs: self.settings.delivery_retry_secs,
                reason: &reason,
                lease_secs: self.settings.delivery_lease_secs,
            },
        )?;
        match failure {
            Some(f) if f.paused => {
                self.stats.paused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(webhook = sub.id, url = %sub.url, event, attempts = f.attempts, %reason, "webhook paused after its retry period; `threadgate webhooks resume` starts it again");
            }
            Some(f) => {
                self.stats.retries_scheduled.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(webhook = sub.id, url = %sub.url, event, attempts = f.attempts, retry_in_ms = retry_in, %error, "webhook delivery failed; retrying later");
            }
            None => {}
        }
        Ok(())
    }

    /// Queues the e-mails of new events, then sends the due ones, under the e-mail lease.
    fn run_mail(&self, conn: &mut MysqlConnection, report: &mut StepReport) -> anyhow::Result<()> {
        let lease = self.settings.delivery_lease_secs;
        let Some(mut position) = store::take_mail_lease(conn, &self.tables, &self.owner, lease)?
        else {
            return Ok(());
        };
        let outcome = (|| -> anyhow::Result<()> {
            // Follow the log even when e-mails are off, so turning them on later never
            // sends mails for replies made while they were off.
            loop {
                let page = read_page(
                    conn,
                    &self.tables,
                    position,
                    self.settings.delivery_batch.max(1),
                    &Filter::everything(),
                    self.settings.read.gap_wait(),
                )?;
                if page.last_id <= position {
                    break;
                }
                let events = page.events;
                let last = page.last_id;
                let mails: Vec<NewMail> = if self.settings.reply_mail {
                    events
                        .iter()
                        .filter(|e| wants_mail(e))
                        .filter_map(|e| {
                            Some(NewMail {
                                event: e.id,
                                thread: e.id_customer_thread,
                                message: e.id_customer_message?,
                                shop: e.id_shop,
                            })
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                report.events_seen += mails.len() as u64;
                if !store::queue_mails(conn, &self.tables, &self.owner, &mails, last, lease)? {
                    return Ok(());
                }
                position = last;
                if page.end_of_stream {
                    break;
                }
            }
            if self.settings.reply_mail {
                self.send_mails(conn, report)?;
            }
            Ok(())
        })();
        let released = store::release_mail_lease(conn, &self.tables, &self.owner);
        outcome?;
        released?;
        Ok(())
    }

    fn send_mails(
        &self,
        conn: &mut MysqlConnection,
        report: &mut StepReport,
    ) -> anyhow::Result<()> {
        let due = store::due_mails(conn, &self.tables, self.settings.delivery_batch.max(1))?;
        if due.is_empty() {
            return Ok(());
        }
        // The shop's snapshot with its mail settings, read once per pass (one configuration
        // query; the same shop → group → global resolution as the rest).
        let snapshot = shop::load_with(conn, &self.tables, &store::MAIL_CONFIG_NAMES)?;
        let timeout = Duration::from_millis(self.settings.delivery_timeout_ms.max(1));
        for m in due {
            if !self.send_mail(conn, &snapshot, timeout, &m, report)? {
                break;
            }
        }
        self.stats
            .mail_backlog
            .store(store::pending_mails(conn, &self.tables)?, Ordering::Relaxed);
        Ok(())
    }

    /// Sends one queued e-mail, or marks it skipped. `false`: the SMTP server failed (the
    /// others wait for the next pass).
    fn send_mail(
        &self,
        conn: &mut MysqlConnection,
        snapshot: &ShopSnapshot,
        timeout: Duration,
        m: &store::MailRow,
        report: &mut StepReport,
    ) -> anyhow::Result<bool> {
        let Some(ctx) = store::mail_context(conn, &self.tables, m.message)? else {
            self.skip_mail(
                conn,
                m.event,
                None,
                "the message or its thread no longer exists",
            )?;
            return Ok(true);
        };
        let smtp = match mail::smtp_config(&self.settings, snapshot, ctx.shop) {
            Ok(s) => s,
            Err(mail::NoMail::ShopSendsNone) => {
                self.skip_mail(
                    conn,
                    m.event,
                    Some(&ctx.email),
                    "the shop sends no e-mail (PS_MAIL_METHOD 3)",
                )?;
                return Ok(true);
            }
        };
        let to = match ctx.email.trim().parse::<lettre::message::Mailbox>() {
            Ok(to) => to,
            Err(_) => {
                self.skip_mail(
                    conn,
                    m.event,
                    Some(&ctx.email),
                    "the thread's e-mail address is not usable",
                )?;
                return Ok(true);
            }
        };
        let shop_name = shop_name(snapshot, ctx.shop);
        let from = self.sender(snapshot, &ctx, &shop_name);
        let Some(from) = from else {
            self.skip_mail(
                conn,
                m.event,
                Some(&ctx.email),
                "no sender address: set THREADGATE_MAIL_FROM or the shop's PS_SHOP_EMAIL",
            )?;
            return Ok(true);
        };
        let rendered = mail::render(&ctx, &shop_name, &mail::thread_link(snapshot, &ctx));
        match mail::send(&smtp, timeout, from, to, &rendered) {
            Ok(()) => {
                store::finish_mail(conn, &self.tables, m.event, "sent", Some(&ctx.email), None)?;
                report.mails_sent += 1;
                self.stats.mails_sent.fetch_add(1, Ordering::Relaxed);
                tracing::info!(
                    event = m.event,
                    thread = ctx.thread,
                    message = m.message,
                    "reply e-mail sent to the customer"
                );
            }
            Err(error) => {
                self.mail_failed(conn, m, ctx.thread, &error, report)?;
                // The server is likely down for the others too: try them on the next pass.
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Records a failed e-mail attempt: retried later, or given up after its retry period.
    fn mail_failed(
        &self,
        conn: &mut MysqlConnection,
        m: &store::MailRow,
        thread: u32,
        error: &str,
        report: &mut StepReport,
    ) -> anyhow::Result<()> {
        let retry_in = self.backoff_ms(m.attempts + 1);
        let gave_up = store::fail_mail(
            conn,
            &self.tables,
            m.event,
            error,
            retry_in,
            self.settings.delivery_retry_secs,
        )?;
        report.mails_failed += 1;
        self.stats.mails_failed.fetch_add(1, Ordering::Relaxed);
        if gave_up {
            tracing::warn!(event = m.event, thread, %error, "reply e-mail given up after its retry period");
        } else {
            tracing::warn!(event = m.event, thread, attempts = m.attempts + 1, retry_in_ms = retry_in, %error, "reply e-mail not sent; retrying later");
        }
        Ok(())
    }

    /// Marks a queued e-mail skipped, with the reason.
    fn skip_mail(
        &self,
        conn: &mut MysqlConnection,
        event: u64,
        email: Option<&str>,
        reason: &str,
    ) -> anyhow::Result<()> {
        store::finish_mail(conn, &self.tables, event, "skipped", email, Some(reason))?;
        Ok(())
    }

    /// `From:` — the setting, else the thread's contact (as the Back Office sends it), else the
    /// shop's `PS_SHOP_EMAIL` with its name.
    fn sender(
        &self,
        snapshot: &ShopSnapshot,
        ctx: &store::MailContext,
        shop_name: &str,
    ) -> Option<lettre::message::Mailbox> {
        if let Some(from) = &self.settings.mail_from {
            return from.parse().ok();
        }
        let (name, address) = if !ctx.contact_email.trim().is_empty() {
            (ctx.contact_name.clone(), ctx.contact_email.clone())
        } else {
            (
                shop_name.to_owned(),
                snapshot.config("PS_SHOP_EMAIL", ctx.shop)?.to_owned(),
            )
        };
        let address = address.trim().parse().ok()?;
        let name = Some(name).filter(|n| !n.trim().is_empty());
        Some(lettre::message::Mailbox::new(name, address))
    }
}

/// Runs `settings.delivery_workers` threads, each with a [`Worker`] and its own database
/// connection, until `stop` is set. A thread that finds no work sleeps
/// `THREADGATE_DELIVERY_POLL_MS`; a database error drops the connection and retries after
/// the same pause.
pub fn spawn(
    database_url: &str,
    tables: &Tables,
    settings: &DeliverySettings,
    stats: Arc<DeliveryStats>,
) -> anyhow::Result<Workers> {
    let stop = Arc::new(AtomicBool::new(false));
    let key = match secret_key(&settings.secret) {
        // Named but not created yet (`webhooks add` creates it): no webhook can exist.
        Err(e)
            if matches!(
                e.downcast_ref::<sign::KeyError>(),
                Some(sign::KeyError::Read { source, .. }) if source.kind() == std::io::ErrorKind::NotFound
            ) =>
        {
            tracing::info!(error = %e, "the secret key file does not exist yet");
            None
        }
        other => other?,
    };
    if key.is_none() {
        tracing::info!("no secret key set (THREADGATE_SECRET_KEY_FILE or THREADGATE_SECRET_KEY): this node delivers no webhooks (e-mails still go out)");
    }
    let node = format!(
        "{}-{}-{:08x}",
        hostname(),
        std::process::id(),
        rand::thread_rng().gen::<u32>()
    );
    let mut handles = Vec::new();
    for n in 0..settings.delivery_workers {
        let worker = Worker::new(
            tables.clone(),
            settings.clone(),
            key.clone(),
            format!("{node}-{n}"),
        )
        .with_stats(stats.clone());
        let url = database_url.to_owned();
        let stop = stop.clone();
        let poll = Duration::from_millis(settings.delivery_poll_ms.max(10));
        handles.push(
            std::thread::Builder::new()
                .name(format!("threadgate-delivery-{n}"))
                .spawn(move || run_loop(worker, &url, poll, &stop))?,
        );
    }
    Ok(Workers { stop, handles })
}

/// A server's delivery threads, stopped at shutdown ([`Workers::stop`]).
pub struct Workers {
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Asks every thread to stop and waits for them up to `grace`: a thread ends after its
    /// current step (a webhook request or an SMTP exchange, bounded by
    /// `THREADGATE_DELIVERY_TIMEOUT_MS`); what it had not delivered stays queued in the database.
    pub async fn stop(self, grace: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let handles = self.handles;
        let joined = tokio::task::spawn_blocking(move || {
            for h in handles {
                let _ = h.join();
            }
        });
        if tokio::time::timeout(grace, joined).await.is_err() {
            tracing::warn!("delivery workers still busy at shutdown; left to end with the process");
        }
    }
}

fn run_loop(worker: Worker, url: &str, poll: Duration, stop: &AtomicBool) {
    let mut conn: Option<MysqlConnection> = None;
    while !stop.load(Ordering::Relaxed) {
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match MysqlConnection::establish(url) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    tracing::warn!(error = %e, "delivery worker cannot reach the database");
                    std::thread::sleep(poll);
                    continue;
                }
            },
        };
        match worker.step(c) {
            Ok(r) if r.did_work() => {}
            Ok(_) => std::thread::sleep(poll),
            Err(e) => {
                tracing::warn!(error = %e, "delivery pass failed");
                conn = None;
                std::thread::sleep(poll);
            }
        }
    }
}

/// The shop's name: its `PS_SHOP_NAME`, else the shop's own.
fn shop_name(snapshot: &ShopSnapshot, shop: u32) -> String {
    snapshot
        .shop_name(shop, NameFirst::Configuration)
        .unwrap_or_default()
        .to_owned()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".to_owned())
        .chars()
        .take(32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, shop: u32, source: &str, data: &str) -> Event {
        Event {
            id: 5,
            kind: kind.into(),
            id_customer_thread: 3,
            id_customer_message: Some(9),
            id_shop: shop,
            source: source.into(),
            id_key: Some(1),
            data: Some(data.into()),
            created_at: "2026-12-06 10:00:00.250000".into(),
        }
    }

    fn sub(events: &[&str], resource: Option<&str>, shop: Option<u32>) -> WebhookRow {
        WebhookRow {
            id: 1,
            url: "http://127.0.0.1/".into(),
            events: events.iter().map(|s| s.to_string()).collect(),
            resource: resource.map(str::to_owned),
            shop,
            secret: String::new(),
            state: "active".into(),
            state_reason: None,
            position: 0,
            attempts: 0,
            failing_since: None,
            next_attempt_at: None,
            last_error: None,
            last_delivered_at: None,
            delivered: 0,
            failures: 0,
            created_at: String::new(),
        }
    }

    #[test]
    fn subscriptions_match_by_type_family_resource_and_shop() {
        let e = event("message.created", 2, "api", "{}");
        assert!(matches(&sub(&["message.created"], None, None), &e));
        assert!(matches(&sub(&["message.*"], None, Some(2)), &e));
        assert!(matches(&sub(&["*"], Some("customer_messages"), None), &e));
        assert!(!matches(&sub(&["thread.*"], None, None), &e));
        assert!(!matches(&sub(&["*"], Some("customer_threads"), None), &e));
        assert!(!matches(&sub(&["*"], None, Some(1)), &e));
    }

    #[test]
    fn the_families_and_shop_a_subscription_wants_are_filtered_in_sql() {
        let f = |events: &[&str], resource: Option<&str>, shop: Option<u32>| {
            let f = filter_of(&sub(events, resource, shop));
            (f.threads, f.messages, f.shops)
        };
        assert_eq!(f(&["*"], None, None), (true, true, None));
        assert_eq!(filter_of(&sub(&["*"], None, None)), Filter::everything());
        assert_eq!(
            f(&["message.created"], None, Some(2)),
            (false, true, Some(vec![2]))
        );
        assert_eq!(
            f(&["thread.*", "message.deleted"], None, None),
            (true, true, None)
        );
        assert_eq!(
            f(&["*"], Some("customer_threads"), None),
            (true, false, None)
        );
        assert_eq!(
            f(&["thread.*"], Some("customer_messages"), None),
            (false, false, None)
        );
    }

    #[test]
    fn only_public_employee_replies_through_the_api_ask_for_mail() {
        let d = r#"{"id_employee":2,"private":0,"notify_customer":true}"#;
        assert!(wants_mail(&event("message.created", 1, "api", d)));
        assert!(!wants_mail(&event("message.created", 1, "shop", d)));
        assert!(!wants_mail(&event("message.updated", 1, "api", d)));
        for no in [
            r#"{"id_employee":0,"private":0,"notify_customer":true}"#,
            r#"{"id_employee":2,"private":1,"notify_customer":true}"#,
            r#"{"id_employee":2,"private":0,"notify_customer":false}"#,
            "not json",
        ] {
            assert!(!wants_mail(&event("message.created", 1, "api", no)), "{no}");
        }
    }

    #[test]
    fn the_body_is_the_event_with_an_rfc3339_time() {
        let body = event_body(&event("message.created", 1, "api", r#"{"private":0}"#));
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"created_at":"2026-12-06T10:00:00.250000Z","data":{"private":0},"id":5,"id_customer_message":9,"id_customer_thread":3,"id_key":1,"id_shop":1,"source":"api","type":"message.created"}"#
        );
    }

    #[test]
    fn event_lists_and_urls_are_checked() {
        assert_eq!(
            parse_event_types(&["message.created".into(), "thread.*".into()]).unwrap(),
            vec!["message.created", "thread.*"]
        );
        assert!(parse_event_types(&["message.sent".into()]).is_err());
        assert!(parse_event_types(&[]).is_err());
        assert!(check_url("https://example.com/hook").is_ok());
        assert!(check_url("http://127.0.0.1:9000").is_ok());
        assert!(check_url("ftp://example.com").is_err());
        assert!(check_url("http:///x").is_err());
    }
}

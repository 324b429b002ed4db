//! SQL of event delivery (`threadgate_webhook`, `threadgate_mail_cursor`, `threadgate_mail`):
//! subscriptions, their positions and leases, and the customer e-mail queue. Times are UTC.
//! The worker and the commands live in `delivery`; this module only moves rows.

use diesel::mysql::MysqlConnection;
use diesel::QueryResult;

use super::sql::{opt, Sql};
use super::Tables;

/// A subscription as stored (the secret still encrypted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WebhookRow {
    pub id: u32,
    pub url: String,
    /// Event types (`message.created`, `thread.*`, `*`).
    pub events: Vec<String>,
    pub resource: Option<String>,
    pub shop: Option<u32>,
    #[serde(skip)]
    pub secret: String,
    /// `active` or `paused`.
    pub state: String,
    pub state_reason: Option<String>,
    /// Every event up to this id is delivered (or did not match).
    pub position: u64,
    pub attempts: u32,
    pub failing_since: Option<String>,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub last_delivered_at: Option<String>,
    pub delivered: u64,
    pub failures: u64,
    pub created_at: String,
}

/// A new subscription.
pub struct NewWebhook<'a> {
    pub url: &'a str,
    pub events: &'a [String],
    pub resource: Option<&'a str>,
    pub shop: Option<u32>,
    /// Encrypted.
    pub secret: &'a str,
}

const WEBHOOK_COLUMNS: &str =
    "CAST(id_webhook AS CHAR), url, events, resource, CAST(id_shop AS CHAR), \
     secret, state, state_reason, CAST(position AS CHAR), CAST(attempts AS CHAR), \
     CAST(failing_since AS CHAR), CAST(next_attempt_at AS CHAR), last_error, \
     CAST(last_delivered_at AS CHAR), CAST(delivered AS CHAR), CAST(failures AS CHAR), \
     CAST(created_at AS CHAR)";

fn webhook_row(r: super::sql::TextRow) -> WebhookRow {
    let c = r.0;
    WebhookRow {
        id: opt(&c[0]).unwrap_or(0),
        url: c[1].clone().unwrap_or_default(),
        events: c[2]
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        resource: c[3].clone(),
        shop: opt(&c[4]),
        secret: c[5].clone().unwrap_or_default(),
        state: c[6].clone().unwrap_or_default(),
        state_reason: c[7].clone(),
        position: opt(&c[8]).unwrap_or(0),
        attempts: opt(&c[9]).unwrap_or(0),
        failing_since: c[10].clone(),
        next_attempt_at: c[11].clone(),
        last_error: c[12].clone(),
        last_delivered_at: c[13].clone(),
        delivered: opt(&c[14]).unwrap_or(0),
        failures: opt(&c[15]).unwrap_or(0),
        created_at: c[16].clone().unwrap_or_default(),
    }
}

/// The highest event id (0 when the log is empty): how far the log goes, for backlogs; not a
/// reading position (`db::events::horizon`).
pub fn max_event_id(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<u64> {
    let rows = Sql::new(format!(
        "SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM {}",
        tables.name("threadgate_event")
    ))
    .cached()
    .load(conn)?;
    Ok(rows.first().and_then(|r| opt(&r.0[0])).unwrap_or(0))
}

/// Inserts a subscription positioned after the newest event whose every predecessor is final
/// (`db::events::newest`: it gets what happens from now on, including an event appended just
/// before that commits just after; `replay` moves it back). Returns its id.
pub fn insert_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    new: &NewWebhook<'_>,
    gap_wait: std::time::Duration,
) -> QueryResult<u32> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let position = super::events::newest(conn, tables, gap_wait)?;
        let mut q = Sql::new(format!(
            "INSERT INTO {} (url, events, resource, id_shop, secret, position, created_at) VALUES (",
            tables.name("threadgate_webhook")
        ));
        q.bind_text(new.url)
            .push(", ")
            .bind_text(new.events.join(","))
            .push(", ");
        match new.resource {
            Some(r) => q.bind_text(r),
            None => q.push("NULL"),
        };
        q.push(", ");
        match new.shop {
            Some(s) => q.bind_int(i64::from(s)),
            None => q.push("NULL"),
        };
        q.push(", ")
            .bind_text(new.secret)
            .push(", ")
            .bind_int(position as i64)
            .push(", UTC_TIMESTAMP(6))");
        q.execute(conn)?;
        let rows = Sql::new("SELECT CAST(LAST_INSERT_ID() AS CHAR)").load(conn)?;
        Ok(rows.first().and_then(|r| opt(&r.0[0])).unwrap_or(0))
    })
}

pub fn list_webhooks(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Vec<WebhookRow>> {
    Ok(Sql::new(format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {} ORDER BY id_webhook",
        tables.name("threadgate_webhook")
    ))
    .load(conn)?
    .into_iter()
    .map(webhook_row)
    .collect())
}

pub fn get_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
) -> QueryResult<Option<WebhookRow>> {
    let mut q = Sql::new(format!(
        "SELECT {WEBHOOK_COLUMNS} FROM {} WHERE id_webhook = ",
        tables.name("threadgate_webhook")
    ))
    .cached();
    q.bind_int(i64::from(id));
    Ok(q.load(conn)?.into_iter().next().map(webhook_row))
}

pub fn remove_webhook(conn: &mut MysqlConnection, tables: &Tables, id: u32) -> QueryResult<bool> {
    let mut q = Sql::new(format!(
        "DELETE FROM {} WHERE id_webhook = ",
        tables.name("threadgate_webhook")
    ));
    q.bind_int(i64::from(id));
    Ok(q.execute(conn)? == 1)
}

/// Pauses (with a reason) or resumes a subscription; resuming forgets the failures, so the
/// next event is tried at once. False when there is no such subscription.
pub fn set_webhook_state(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    active: bool,
    reason: &str,
) -> QueryResult<bool> {
    let mut q = Sql::new(format!("UPDATE {} SET ", tables.name("threadgate_webhook")));
    if active {
        q.push(
            "state = 'active', state_reason = NULL, attempts = 0, failing_since = NULL, \
             next_attempt_at = NULL",
        );
    } else {
        q.push("state = 'paused', state_reason = ")
            .bind_text(reason);
    }
    q.push(" WHERE id_webhook = ").bind_int(i64::from(id));
    q.execute(conn)?;
    Ok(get_webhook(conn, tables, id)?.is_some())
}

/// Moves a subscription's position back (or forward) to `after`: the events after it are
/// delivered again. Also resumes it.
pub fn replay_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    after: u64,
) -> QueryResult<bool> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET position = ",
        tables.name("threadgate_webhook")
    ));
    q.bind_int(after as i64)
        .push(
            ", state = 'active', state_reason = NULL, attempts = 0, failing_since = NULL, \
             next_attempt_at = NULL WHERE id_webhook = ",
        )
        .bind_int(i64::from(id));
    q.execute(conn)?;
    Ok(get_webhook(conn, tables, id)?.is_some())
}

/// Active subscriptions with work to do now: behind the log, not waiting for a retry, and
/// not leased by a live node.
pub fn due_webhooks(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Vec<u32>> {
    Ok(Sql::new(format!(
        "SELECT CAST(id_webhook AS CHAR) FROM {w} WHERE state = 'active' \
         AND lease_until < UTC_TIMESTAMP(6) \
         AND (next_attempt_at IS NULL OR next_attempt_at <= UTC_TIMESTAMP(6)) \
         AND position < (SELECT COALESCE(MAX(id), 0) FROM {e}) ORDER BY id_webhook",
        w = tables.name("threadgate_webhook"),
        e = tables.name("threadgate_event"),
    ))
    .cached()
    .load(conn)?
    .into_iter()
    .filter_map(|r| opt(&r.0[0]))
    .collect())
}

/// Takes the subscription's lease when it is free (or expired): one atomic UPDATE, so of
/// several nodes exactly one gets it.
pub fn take_webhook_lease(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    owner: &str,
    lease_secs: u64,
) -> QueryResult<bool> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET lease_owner = ",
        tables.name("threadgate_webhook")
    ))
    .cached();
    q.bind_text(owner)
        .push(", lease_until = UTC_TIMESTAMP(6) + INTERVAL ")
        .bind_int(lease_secs as i64)
        .push(" SECOND WHERE id_webhook = ")
        .bind_int(i64::from(id))
        .push(" AND state = 'active' AND lease_until < UTC_TIMESTAMP(6)");
    Ok(q.execute(conn)? == 1)
}

/// Records progress under the lease: the new position, `delivered` more deliveries (their
/// failures forgotten), and a renewed lease. False when the lease was lost (another node
/// took over after it expired): the caller stops.
pub fn advance_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    owner: &str,
    position: u64,
    delivered: u64,
    lease_secs: u64,
) -> QueryResult<bool> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET position = GREATEST(position, ",
        tables.name("threadgate_webhook")
    ))
    .cached();
    q.bind_int(position as i64)
        .push("), delivered = delivered + ")
        .bind_int(delivered as i64)
        .push(
            ", last_delivered_at = IF(? > 0, UTC_TIMESTAMP(6), last_delivered_at), \
             attempts = IF(? > 0, 0, attempts), failing_since = IF(? > 0, NULL, failing_since), \
             last_error = IF(? > 0, NULL, last_error)",
        );
    for _ in 0..4 {
        q.binds.push(super::sql::Bind::Int(delivered as i64));
    }
    q.push(", lease_until = UTC_TIMESTAMP(6) + INTERVAL ")
        .bind_int(lease_secs as i64)
        .push(" SECOND WHERE id_webhook = ")
        .bind_int(i64::from(id))
        .push(" AND lease_owner = ")
        .bind_text(owner);
    Ok(q.execute(conn)? == 1)
}

/// What a failed delivery did to its subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub attempts: u32,
    /// The retry period is over: the subscription is now paused.
    pub paused: bool,
}

/// What to record of a failed delivery ([`fail_webhook`]).
pub struct FailedDelivery<'a> {
    /// The position to move to (every event before the failed one is done).
    pub position: u64,
    pub error: &'a str,
    pub retry_in_ms: u64,
    /// Failing for this long pauses the subscription, with `reason`.
    pub retry_secs: u64,
    pub reason: &'a str,
    pub lease_secs: u64,
}

/// Records a failed delivery under the lease, in one UPDATE of its row: the position reached,
/// the failure, the next attempt in `retry_in_ms` and a renewed lease, or, when the
/// subscription has been failing for `retry_secs`, its pause with `reason`. `None` when the
/// lease was lost.
pub fn fail_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    owner: &str,
    f: &FailedDelivery<'_>,
) -> QueryResult<Option<Failure>> {
    let w = tables.name("threadgate_webhook");
    let reason = truncate(f.reason, 1000);
    // Assignments are made left to right, each seeing the ones before: the pause looks at the
    // `failing_since` just set.
    let mut q = Sql::new(format!("UPDATE {w} SET position = GREATEST(position, "));
    q.bind_int(f.position as i64)
        .push("), attempts = attempts + 1, failures = failures + 1, last_error = ")
        .bind_text(truncate(f.error, 1000))
        .push(
            ", failing_since = COALESCE(failing_since, UTC_TIMESTAMP(6)), \
             next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL ",
        )
        .bind_int((f.retry_in_ms * 1000) as i64)
        .push(" MICROSECOND, lease_until = UTC_TIMESTAMP(6) + INTERVAL ")
        .bind_int(f.lease_secs as i64)
        .push(" SECOND");
    for (column, value) in [("state_reason", None), ("state", Some("'paused'"))] {
        q.push(&format!(
            ", {column} = IF(state = 'active' AND failing_since <= UTC_TIMESTAMP(6) - INTERVAL "
        ))
        .bind_int(f.retry_secs as i64)
        .push(" SECOND, ");
        match value {
            Some(v) => q.push(v),
            None => q.bind_text(reason.as_str()),
        };
        q.push(&format!(", {column})"));
    }
    q.push(" WHERE id_webhook = ")
        .bind_int(i64::from(id))
        .push(" AND lease_owner = ")
        .bind_text(owner);
    if q.execute(conn)? != 1 {
        return Ok(None);
    }
    let row = get_webhook(conn, tables, id)?;
    Ok(Some(Failure {
        attempts: row.as_ref().map_or(0, |r| r.attempts),
        paused: row.is_some_and(|r| {
            r.state == "paused" && r.state_reason.as_deref() == Some(reason.as_str())
        }),
    }))
}

/// Gives the lease back (only ours).
pub fn release_webhook(
    conn: &mut MysqlConnection,
    tables: &Tables,
    id: u32,
    owner: &str,
) -> QueryResult<()> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET lease_owner = NULL, lease_until = '1970-01-02 00:00:00' WHERE id_webhook = ",
        tables.name("threadgate_webhook")
    ))
    .cached();
    q.bind_int(i64::from(id))
        .push(" AND lease_owner = ")
        .bind_text(owner);
    q.execute(conn)?;
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

// --- the customer e-mail queue ---

/// Takes the e-mail queue's lease (one row); returns the e-mail cursor's position if taken.
pub fn take_mail_lease(
    conn: &mut MysqlConnection,
    tables: &Tables,
    owner: &str,
    lease_secs: u64,
) -> QueryResult<Option<u64>> {
    let c = tables.name("threadgate_mail_cursor");
    let mut q = Sql::new(format!("UPDATE {c} SET lease_owner = ")).cached();
    q.bind_text(owner)
        .push(", lease_until = UTC_TIMESTAMP(6) + INTERVAL ")
        .bind_int(lease_secs as i64)
        .push(" SECOND WHERE id = 1 AND lease_until < UTC_TIMESTAMP(6)");
    if q.execute(conn)? != 1 {
        return Ok(None);
    }
    let rows = Sql::new(format!(
        "SELECT CAST(position AS CHAR) FROM {c} WHERE id = 1"
    ))
    .cached()
    .load(conn)?;
    Ok(Some(rows.first().and_then(|r| opt(&r.0[0])).unwrap_or(0)))
}

pub fn release_mail_lease(
    conn: &mut MysqlConnection,
    tables: &Tables,
    owner: &str,
) -> QueryResult<()> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET lease_owner = NULL, lease_until = '1970-01-02 00:00:00' WHERE id = 1 AND lease_owner = ",
        tables.name("threadgate_mail_cursor")
    ))
    .cached();
    q.bind_text(owner);
    q.execute(conn)?;
    Ok(())
}

/// A customer e-mail to queue (from a `message.created` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    pub event: u64,
    pub thread: u32,
    pub message: u32,
    pub shop: u32,
}

/// Queues `mails` and moves the e-mail cursor to `position`, in one transaction, under the
/// lease (false when it was lost).
pub fn queue_mails(
    conn: &mut MysqlConnection,
    tables: &Tables,
    owner: &str,
    mails: &[NewMail],
    position: u64,
    lease_secs: u64,
) -> QueryResult<bool> {
    use diesel::Connection;
    conn.transaction(|conn| {
        let mut q = Sql::new(format!(
            "UPDATE {} SET position = GREATEST(position, ",
            tables.name("threadgate_mail_cursor")
        ));
        q.bind_int(position as i64)
            .push("), lease_until = UTC_TIMESTAMP(6) + INTERVAL ")
            .bind_int(lease_secs as i64)
            .push(" SECOND WHERE id = 1 AND lease_owner = ")
            .bind_text(owner);
        if q.execute(conn)? != 1 {
            return Ok(false);
        }
        if mails.is_empty() {
            return Ok(true);
        }
        let mut q = Sql::new(format!(
            "INSERT IGNORE INTO {} (id_event, id_customer_thread, id_customer_message, id_shop, \
             next_attempt_at, created_at) VALUES ",
            tables.name("threadgate_mail")
        ));
        for (i, m) in mails.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .bind_int(m.event as i64)
                .push(", ")
                .bind_int(i64::from(m.thread))
                .push(", ")
                .bind_int(i64::from(m.message))
                .push(", ")
                .bind_int(i64::from(m.shop))
                .push(", UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))");
        }
        q.execute(conn)?;
        Ok(true)
    })
}

/// A queued e-mail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailRow {
    pub event: u64,
    pub thread: u32,
    pub message: u32,
    pub shop: u32,
    pub state: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub recipient: Option<String>,
}

/// Pending e-mails whose time has come, oldest first.
pub fn due_mails(
    conn: &mut MysqlConnection,
    tables: &Tables,
    limit: u32,
) -> QueryResult<Vec<MailRow>> {
    mails_where(
        conn,
        tables,
        "state = 'pending' AND next_attempt_at <= UTC_TIMESTAMP(6)",
        limit,
    )
}

/// Every queued e-mail (for tests and operators), oldest first.
pub fn all_mails(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<Vec<MailRow>> {
    mails_where(conn, tables, "1", 10_000)
}

fn mails_where(
    conn: &mut MysqlConnection,
    tables: &Tables,
    cond: &str,
    limit: u32,
) -> QueryResult<Vec<MailRow>> {
    let mut q = Sql::new(format!(
        "SELECT CAST(id_event AS CHAR), CAST(id_customer_thread AS CHAR), \
         CAST(id_customer_message AS CHAR), CAST(id_shop AS CHAR), state, CAST(attempts AS CHAR), \
         last_error, recipient FROM {} WHERE {cond} ORDER BY id_event LIMIT ",
        tables.name("threadgate_mail")
    ));
    q.bind_int(i64::from(limit));
    Ok(q.load(conn)?
        .into_iter()
        .map(|r| {
            let c = r.0;
            MailRow {
                event: opt(&c[0]).unwrap_or(0),
                thread: opt(&c[1]).unwrap_or(0),
                message: opt(&c[2]).unwrap_or(0),
                shop: opt(&c[3]).unwrap_or(0),
                state: c[4].clone().unwrap_or_default(),
                attempts: opt(&c[5]).unwrap_or(0),
                last_error: c[6].clone(),
                recipient: c[7].clone(),
            }
        })
        .collect())
}

/// Pending e-mails (the queue depth).
pub fn pending_mails(conn: &mut MysqlConnection, tables: &Tables) -> QueryResult<u64> {
    let rows = Sql::new(format!(
        "SELECT CAST(COUNT(*) AS CHAR) FROM {} WHERE state = 'pending'",
        tables.name("threadgate_mail")
    ))
    .cached()
    .load(conn)?;
    Ok(rows.first().and_then(|r| opt(&r.0[0])).unwrap_or(0))
}

/// Marks an e-mail `sent` or `skipped` (final), with the recipient and a note.
pub fn finish_mail(
    conn: &mut MysqlConnection,
    tables: &Tables,
    event: u64,
    state: &str,
    recipient: Option<&str>,
    note: Option<&str>,
) -> QueryResult<()> {
    let mut q = Sql::new(format!(
        "UPDATE {} SET state = ",
        tables.name("threadgate_mail")
    ));
    q.bind_text(state)
        .push(", attempts = attempts + 1, recipient = ");
    match recipient {
        Some(r) => q.bind_text(truncate(r, 255)),
        None => q.push("recipient"),
    };
    q.push(", last_error = ");
    match note {
        Some(n) => q.bind_text(truncate(n, 1000)),
        None => q.push("NULL"),
    };
    q.push(", sent_at = IF(state = 'sent', UTC_TIMESTAMP(6), NULL) WHERE id_event = ")
        .bind_int(event as i64);
    q.execute(conn)?;
    Ok(())
}

/// Records a failed attempt: retried in `retry_in_ms`, or `failed` once the e-mail is older
/// than `retry_secs`. True when it was given up.
pub fn fail_mail(
    conn: &mut MysqlConnection,
    tables: &Tables,
    event: u64,
    error: &str,
    retry_in_ms: u64,
    retry_secs: u64,
) -> QueryResult<bool> {
    let m = tables.name("threadgate_mail");
    let mut q = Sql::new(format!(
        "UPDATE {m} SET attempts = attempts + 1, last_error = "
    ));
    q.bind_text(truncate(error, 1000))
        .push(", state = IF(created_at <= UTC_TIMESTAMP(6) - INTERVAL ")
        .bind_int(retry_secs as i64)
        .push(" SECOND, 'failed', 'pending'), next_attempt_at = UTC_TIMESTAMP(6) + INTERVAL ")
        .bind_int((retry_in_ms * 1000) as i64)
        .push(" MICROSECOND WHERE id_event = ")
        .bind_int(event as i64);
    q.execute(conn)?;
    let mut s = Sql::new(format!("SELECT state FROM {m} WHERE id_event = "));
    s.bind_int(event as i64);
    let rows = s.load(conn)?;
    Ok(rows.first().and_then(|r| r.0[0].as_deref()) == Some("failed"))
}

/// What the reply e-mail needs about a message, its thread, customer, contact and language.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MailContext {
    pub message: String,
    pub thread: u32,
    pub email: String,
    pub token: String,
    pub lang: u32,
    pub shop: u32,
    pub firstname: String,
    pub lastname: String,
    pub contact_email: String,
    pub contact_name: String,
    pub iso_code: String,
}

/// The message and what surrounds it; `None` when the message (or its thread) is gone.
pub fn mail_context(
    conn: &mut MysqlConnection,
    tables: &Tables,
    message: u32,
) -> QueryResult<Option<MailContext>> {
    let mut q = Sql::new(format!(
        "SELECT m.message, CAST(t.id_customer_thread AS CHAR), t.email, t.token, \
         CAST(t.id_lang AS CHAR), CAST(t.id_shop AS CHAR), c.firstname, c.lastname, co.email, \
         cl.name, l.iso_code \
         FROM {m} m JOIN {t} t ON t.id_customer_thread = m.id_customer_thread \
         LEFT JOIN {c} c ON c.id_customer = t.id_customer \
         LEFT JOIN {co} co ON co.id_contact = t.id_contact \
         LEFT JOIN {cl} cl ON cl.id_contact = t.id_contact AND cl.id_lang = t.id_lang \
         LEFT JOIN {l} l ON l.id_lang = t.id_lang \
         WHERE m.id_customer_message = ",
        m = tables.name("customer_message"),
        t = tables.name("customer_thread"),
        c = tables.name("customer"),
        co = tables.name("contact"),
        cl = tables.name("contact_lang"),
        l = tables.name("lang"),
    ));
    q.bind_int(i64::from(message));
    Ok(q.load(conn)?.into_iter().next().map(|r| {
        let c = r.0;
        let s = |i: usize| c[i].clone().unwrap_or_default();
        MailContext {
            message: s(0),
            thread: opt(&c[1]).unwrap_or(0),
            email: s(2),
            token: s(3),
            lang: opt(&c[4]).unwrap_or(0),
            shop: opt(&c[5]).unwrap_or(0),
            firstname: s(6),
            lastname: s(7),
            contact_email: s(8),
            contact_name: s(9),
            iso_code: s(10),
        }
    }))
}

/// Configuration names the e-mail sender reads.
pub const MAIL_CONFIG_NAMES: [&str; 9] = [
    "PS_MAIL_METHOD",
    "PS_MAIL_SERVER",
    "PS_MAIL_SMTP_PORT",
    "PS_MAIL_SMTP_ENCRYPTION",
    "PS_MAIL_USER",
    "PS_MAIL_PASSWD",
    "PS_SHOP_EMAIL",
    "PS_SHOP_NAME",
    "PS_SSL_ENABLED",
];

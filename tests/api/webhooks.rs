//! Delivery of events (docs/events.md): signed webhooks to a real HTTP receiver on loopback,
//! and the customer's reply e-mail to a real SMTP server (aiosmtpd) on loopback. The worker's
//! step function is driven directly; waits poll a condition every 50 ms up to a deadline.
//!
//! The event log is written by the test itself (as threadgate's writes and its watcher do),
//! so these tests depend only on the event table's contract.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use diesel::MysqlConnection;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use threadgate::config::DeliverySettings;
use threadgate::db::delivery as store;
use threadgate::delivery::sign::{self, SecretKey};
use threadgate::delivery::Worker;

use crate::support::http::basic;
use crate::support::{free_port, TestApp, TestDb};

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn event_id(&self) -> u64 {
        self.header("X-Threadgate-Event-Id").parse().unwrap()
    }
}

/// A tiny HTTP/1.1 server on a loopback port: records every request and answers 500 to the
/// first `fail_first` ones, 200 to the others.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    fail_first: Arc<AtomicUsize>,
}

impl Receiver {
    fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let fail = Arc::new(AtomicUsize::new(fail_first));
        let (g, f) = (got.clone(), fail.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = serve_one(stream, &g, &f);
            }
        });
        Receiver {
            port,
            got,
            fail_first: fail,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/threadgate", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// The event ids of the requests answered 200, in order.
    fn delivered_ids(&self) -> Vec<u64> {
        self.received()
            .iter()
            .filter(|r| r.header("X-Test-Answer") == "200")
            .map(Received::event_id)
            .collect()
    }
}

fn serve_one(
    stream: TcpStream,
    got: &Mutex<Vec<Received>>,
    fail: &AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h)?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body)?;
    let failing = fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing { 500 } else { 200 };
    headers.push(("X-Test-Answer".into(), status.to_string()));
    got.lock().unwrap().push(Received { headers, body });
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} {}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        if failing {
            "Internal Server Error"
        } else {
            "OK"
        }
    )?;
    out.flush()
}

/// Delivery settings as `threadgate serve` has them with no flags, tuned for tests.
fn settings() -> DeliverySettings {
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        delivery: DeliverySettings,
    }
    let mut s = Args::parse_from(["test"]).delivery;
    s.delivery_backoff_ms = 1;
    s.delivery_backoff_max_ms = 20;
    s.delivery_timeout_ms = 5_000;
    s
}

/// Appends an event as threadgate's writes (source `api`) or its watcher (`shop`) do.
fn append(db: &TestDb, kind: &str, thread: u32, message: Option<u32>, source: &str, data: &str) {
    db.exec(&format!(
        "INSERT INTO `ps_threadgate_event` (type, id_customer_thread, id_customer_message, id_shop, \
         source, id_key, data, created_at) VALUES ('{kind}', {thread}, {}, 1, '{source}', {}, '{data}', UTC_TIMESTAMP(6))",
        message.map_or("NULL".into(), |m| m.to_string()),
        if source == "api" { "1" } else { "NULL" },
    ));
}

fn event_ids(db: &TestDb) -> Vec<u64> {
    let mut conn = db.conn();
    threadgate::delivery::read_events(&mut conn, &db.tables, 0, 10_000, settings().read.gap_wait())
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Adds a subscription; returns its id and its secret.
fn subscribe(db: &TestDb, key: &SecretKey, url: &str, events: &[&str]) -> (u32, String) {
    let secret = sign::new_secret();
    let events: Vec<String> = events.iter().map(|s| s.to_string()).collect();
    let id = store::insert_webhook(
        &mut db.conn(),
        &db.tables,
        &store::NewWebhook {
            url,
            events: &events,
            resource: None,
            shop: None,
            secret: &key.encrypt(&secret),
        },
        settings().read.gap_wait(),
    )
    .unwrap();
    (id, secret)
}

/// Steps `worker` until `done` holds, polling every 50 ms, for at most 10 s.
fn step_until(worker: &Worker, conn: &mut MysqlConnection, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "not done within 10 s");
        let report = worker.step(conn).expect("a delivery pass");
        if !report.did_work() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn verify(secret: &str, r: &Received) {
    let sig = r.header("X-Threadgate-Signature");
    let ts = r.header("X-Threadgate-Timestamp");
    let (t, v1) = sig.split_once(',').unwrap();
    assert_eq!(t, format!("t={ts}"));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(&r.body);
    assert_eq!(
        v1,
        format!("v1={}", hex::encode(mac.finalize().into_bytes())),
        "the signature verifies"
    );
    let age = chrono::Utc::now().timestamp() - ts.parse::<i64>().unwrap();
    assert!((0..300).contains(&age), "a fresh timestamp");
}

#[test]
fn message_created_events_arrive_in_order_once_each_and_signed() {
    let app = TestApp::spawn();
    let db = &app.db;
    let key = SecretKey::generate();
    let receiver = Receiver::start(0);
    let (id, secret) = subscribe(db, &key, &receiver.url(), &["message.created"]);

    // A reply posted through the API (its event appended by the write's outbox)...
    let api_key = db.full_key();
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}",
            basic(&api_key)
        ),
        b"<prestashop><customer_message><id_customer_thread>1</id_customer_thread><id_employee>1</id_employee><message>On its way</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // ...a thread change the subscription does not want...
    append(
        db,
        "thread.updated",
        1,
        None,
        "api",
        r#"{"changed":["status"]}"#,
    );
    // ...and a message the shop's front office inserted with SQL (seen by the watcher).
    db.exec("INSERT INTO `ps_customer_message` (id_customer_thread, id_employee, message, date_add, date_upd, private, `read`) VALUES (3, 0, 'Any news?', NOW(), NOW(), 0, 0)");
    append(
        db,
        "message.created",
        3,
        Some(5),
        "shop",
        r#"{"id_employee":0,"private":0}"#,
    );
    let ids = event_ids(db);
    assert_eq!(ids.len(), 3);

    let worker = Worker::new(db.tables.clone(), settings(), Some(key), "node-a".into());
    let mut conn = db.conn();
    step_until(&worker, &mut conn, || receiver.received().len() >= 2);
    // Nothing more comes: one more pass delivers nothing.
    assert_eq!(worker.step(&mut conn).unwrap().delivered, 0);

    let got = receiver.received();
    assert_eq!(receiver.delivered_ids(), vec![ids[0], ids[2]]);
    for r in &got {
        verify(&secret, r);
        assert_eq!(r.header("Content-Type"), "application/json");
        assert_eq!(
            r.header("Idempotency-Key"),
            r.header("X-Threadgate-Event-Id")
        );
        assert_eq!(r.header("X-Threadgate-Event-Type"), "message.created");
        assert_eq!(r.header("X-Threadgate-Webhook-Id"), id.to_string());
    }
    let first = got[0].json();
    assert_eq!(first["id"], ids[0]);
    assert_eq!(first["type"], "message.created");
    assert_eq!(first["id_customer_thread"], 1);
    assert_eq!(first["id_customer_message"], 4);
    assert_eq!(first["id_shop"], 1);
    assert_eq!(first["source"], "api");
    assert_eq!(first["id_key"], 1);
    assert_eq!(
        first["data"],
        serde_json::json!({"id_employee":1,"private":0,"notify_customer":true})
    );
    assert!(first["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(got[1].json()["source"], "shop");
    assert_eq!(got[1].json()["id_key"], serde_json::Value::Null);

    let row = store::get_webhook(&mut conn, &db.tables, id)
        .unwrap()
        .unwrap();
    assert_eq!((row.position, row.delivered, row.failures), (ids[2], 2, 0));
    assert_eq!(row.state, "active");
    assert!(row.last_error.is_none() && row.last_delivered_at.is_some());
}

#[test]
fn a_failing_receiver_gets_the_events_later_in_order() {
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receiver = Receiver::start(3);
    let (id, _) = subscribe(&db, &key, &receiver.url(), &["message.*"]);
    for m in 1..=4 {
        append(&db, "message.created", 1, Some(m), "shop", "{}");
    }
    let ids = event_ids(&db);
    let worker = Worker::new(db.tables.clone(), settings(), Some(key), "node-a".into());
    let mut conn = db.conn();

    let report = worker.step(&mut conn).unwrap();
    assert_eq!((report.delivered, report.failed), (0, 1));
    let row = store::get_webhook(&mut conn, &db.tables, id)
        .unwrap()
        .unwrap();
    assert_eq!(row.position, ids[0] - 1);
    assert_eq!(row.attempts, 1);
    assert_eq!(
        row.last_error.as_deref(),
        Some("the receiver answered HTTP 500")
    );
    assert!(row.next_attempt_at.is_some() && row.failing_since.is_some());

    step_until(&worker, &mut conn, || receiver.delivered_ids().len() == 4);
    // Every failed attempt was the first event again: nothing overtook it.
    let all: Vec<u64> = receiver.received().iter().map(Received::event_id).collect();
    assert_eq!(
        all,
        vec![ids[0], ids[0], ids[0], ids[0], ids[1], ids[2], ids[3]]
    );
    assert_eq!(receiver.delivered_ids(), ids);
    let row = store::get_webhook(&mut conn, &db.tables, id)
        .unwrap()
        .unwrap();
    assert_eq!((row.attempts, row.failures, row.delivered), (0, 3, 4));
    assert!(row.last_error.is_none() && row.failing_since.is_none());
    // What `/metrics` shows.
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    let s = &worker.stats;
    assert_eq!(
        (
            n(&s.delivered),
            n(&s.failed),
            n(&s.retries_scheduled),
            n(&s.webhook_backlog)
        ),
        (4, 3, 3, 0)
    );
}

#[test]
fn an_event_that_commits_late_is_delivered_before_the_ones_after_it() {
    use diesel::connection::SimpleConnection;
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receiver = Receiver::start(0);
    subscribe(&db, &key, &receiver.url(), &["*"]);
    append(&db, "message.created", 1, Some(1), "shop", "{}");
    // A write appends its event and has not committed yet when the next one commits.
    let mut other = db.conn();
    other
        .batch_execute(
            "START TRANSACTION; INSERT INTO `ps_threadgate_event` (type, id_customer_thread, \
             id_customer_message, id_shop, source, data, created_at) VALUES ('message.created', \
             1, 2, 1, 'shop', '{}', UTC_TIMESTAMP(6))",
        )
        .unwrap();
    append(&db, "message.created", 1, Some(3), "shop", "{}");
    // What is committed, read past the gap (readers of the log stop before it).
    let committed: Vec<u64> = threadgate::db::sql::Sql::new(
        "SELECT CAST(id AS CHAR) FROM `ps_threadgate_event` ORDER BY id",
    )
    .load(&mut db.conn())
    .unwrap()
    .iter()
    .map(|r| r.0[0].as_deref().unwrap().parse().unwrap())
    .collect();
    assert_eq!(committed.len(), 2);
    let (first, third) = (committed[0], committed[1]);
    assert_eq!(third, first + 2);
    assert_eq!(event_ids(&db), [first], "read_events stops before the gap");

    let worker = Worker::new(db.tables.clone(), settings(), Some(key), "node-a".into());
    let mut conn = db.conn();
    step_until(&worker, &mut conn, || !receiver.received().is_empty());
    // However often the worker looks, the event after the gap waits for it.
    for _ in 0..3 {
        assert_eq!(worker.step(&mut conn).unwrap().delivered, 0);
    }
    assert_eq!(receiver.delivered_ids(), [first]);

    other.batch_execute("COMMIT").unwrap();
    step_until(&worker, &mut conn, || receiver.received().len() >= 3);
    assert_eq!(worker.step(&mut conn).unwrap().delivered, 0);
    assert_eq!(receiver.delivered_ids(), [first, first + 1, third]);
}

#[test]
fn a_subscription_failing_past_its_retry_period_is_paused_with_the_reason() {
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receiver = Receiver::start(usize::MAX);
    let (id, _) = subscribe(&db, &key, &receiver.url(), &["*"]);
    append(&db, "thread.created", 1, None, "shop", "{}");
    let mut s = settings();
    s.delivery_retry_secs = 0;
    let worker = Worker::new(db.tables.clone(), s, Some(key), "node-a".into());
    let mut conn = db.conn();
    assert_eq!(worker.step(&mut conn).unwrap().failed, 1);
    let row = store::get_webhook(&mut conn, &db.tables, id)
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "paused");
    assert_eq!(
        row.state_reason.as_deref(),
        Some("deliveries failed for more than 0 s (last: the receiver answered HTTP 500)")
    );
    // Paused: nothing is tried any more, until it is resumed.
    assert_eq!(worker.step(&mut conn).unwrap(), Default::default());
    assert_eq!(receiver.received().len(), 1);
    assert!(store::set_webhook_state(&mut conn, &db.tables, id, true, "").unwrap());
    receiver.fail_first.store(0, Ordering::SeqCst);
    step_until(&worker, &mut conn, || receiver.delivered_ids().len() == 1);
}

#[test]
fn a_node_with_another_secret_key_fails_and_retries_and_one_without_a_key_stays_away() {
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receiver = Receiver::start(0);
    let (id, _) = subscribe(&db, &key, &receiver.url(), &["*"]);
    append(&db, "thread.created", 1, None, "shop", "{}");
    let mut conn = db.conn();
    let keyless = Worker::new(db.tables.clone(), settings(), None, "node-a".into());
    assert_eq!(keyless.step(&mut conn).unwrap(), Default::default());
    let wrong = Worker::new(
        db.tables.clone(),
        settings(),
        Some(SecretKey::generate()),
        "node-b".into(),
    );
    assert_eq!(wrong.step(&mut conn).unwrap().failed, 1);
    let row = store::get_webhook(&mut conn, &db.tables, id)
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "active");
    assert_eq!(
        row.last_error.as_deref(),
        Some("a stored signing secret could not be decrypted: it was stored with another secret key, or altered")
    );
    assert!(receiver.received().is_empty());
    let right = Worker::new(db.tables.clone(), settings(), Some(key), "node-c".into());
    step_until(&right, &mut conn, || receiver.delivered_ids().len() == 1);
}

#[test]
fn a_restart_mid_queue_loses_nothing_and_a_dead_nodes_lease_expires() {
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receiver = Receiver::start(0);
    let (id, _) = subscribe(&db, &key, &receiver.url(), &["message.created"]);
    for m in 1..=5 {
        append(&db, "message.created", 2, Some(m), "shop", "{}");
    }
    let ids = event_ids(&db);
    let mut s = settings();
    s.delivery_batch = 2;
    let mut conn = db.conn();
    {
        let first = Worker::new(
            db.tables.clone(),
            s.clone(),
            Some(key.clone()),
            "node-a".into(),
        );
        assert_eq!(first.step(&mut conn).unwrap().delivered, 2);
    }
    assert_eq!(receiver.delivered_ids(), ids[..2].to_vec());
    // A node that took the lease and died: nobody delivers until its lease expires.
    db.exec(&format!(
        "UPDATE `ps_threadgate_webhook` SET lease_owner = 'dead-node', \
         lease_until = UTC_TIMESTAMP(6) + INTERVAL 300000 MICROSECOND WHERE id_webhook = {id}"
    ));
    let restarted = Worker::new(db.tables.clone(), s, Some(key), "node-b".into());
    assert_eq!(restarted.step(&mut conn).unwrap().delivered, 0);
    step_until(&restarted, &mut conn, || {
        receiver.delivered_ids().len() == 5
    });
    assert_eq!(receiver.delivered_ids(), ids, "each event once, in order");
}

#[test]
fn two_nodes_deliver_each_event_once_per_subscription() {
    let db = TestDb::seeded("ps_");
    let key = SecretKey::generate();
    let receivers = [Receiver::start(0), Receiver::start(0)];
    for r in &receivers {
        subscribe(&db, &key, &r.url(), &["*"]);
    }
    for m in 1..=30 {
        append(&db, "message.created", 1 + m % 3, Some(m), "shop", "{}");
    }
    let ids = event_ids(&db);
    let mut s = settings();
    s.delivery_batch = 4;
    let nodes: Vec<_> = ["node-a", "node-b"]
        .into_iter()
        .map(|name| {
            let worker = Worker::new(db.tables.clone(), s.clone(), Some(key.clone()), name.into());
            let mut conn = db.conn();
            let done = receivers.iter().map(|r| r.got.clone()).collect::<Vec<_>>();
            std::thread::spawn(move || {
                let deadline = Instant::now() + Duration::from_secs(10);
                while done.iter().any(|g| g.lock().unwrap().len() < 30) && Instant::now() < deadline
                {
                    if !worker.step(&mut conn).unwrap().did_work() {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    for n in nodes {
        n.join().unwrap();
    }
    for r in &receivers {
        assert_eq!(r.delivered_ids(), ids, "each event once, in order");
    }
}

// --- the customer's e-mail ---

/// aiosmtpd on a loopback port, storing what it receives in a maildir.
struct SmtpServer {
    child: std::process::Child,
}

impl SmtpServer {
    fn start(port: u16, maildir: &std::path::Path) -> SmtpServer {
        let python = std::env::var("THREADGATE_TEST_SMTP_PYTHON").expect(
            "THREADGATE_TEST_SMTP_PYTHON is not set: run the tests with scripts/test, which installs aiosmtpd",
        );
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "aiosmtpd did not listen within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer { child }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The mails of `maildir`, oldest first: by the time in their file names (Python's Maildir
/// names them `<seconds>.M<microseconds>P<pid>Q<n>.<host>`, microseconds not zero-padded, so
/// the names alone do not sort by time).
fn mails(maildir: &std::path::Path) -> Vec<String> {
    let received = |name: &str| -> (u64, u64) {
        let mut parts = name.split('.');
        let secs = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let micros = parts
            .next()
            .and_then(|s| s.strip_prefix('M')?.split('P').next()?.parse().ok())
            .unwrap_or(0);
        (secs, micros)
    };
    let mut out: Vec<((u64, u64), String)> = std::fs::read_dir(maildir.join("new"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (received(&name), std::fs::read_to_string(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out.into_iter().map(|(_, m)| m).collect()
}

fn mail_settings(port: u16) -> DeliverySettings {
    let mut s = settings();
    s.reply_mail = true;
    s.smtp_host = Some("127.0.0.1".into());
    s.smtp_port = Some(port);
    s.smtp_encryption = Some("off".into());
    s.delivery_timeout_ms = 2_000;
    s
}

/// Posts an employee's reply to thread 1 (its event appended by the write's outbox); returns
/// its id.
fn reply(app: &TestApp, key: &str, text: &str, data: &str) -> u32 {
    reply_to(app, key, 1, text, data)
}

/// Posts an employee's reply to `thread` as `data` (the event's data) says: private or not,
/// with `notify_customer=0` when the customer is not to be notified. The write's outbox appends
/// its event. Returns its id.
fn reply_to(app: &TestApp, key: &str, thread: u32, text: &str, data: &str) -> u32 {
    let data: serde_json::Value = serde_json::from_str(data).unwrap();
    let private = data["private"].as_i64().unwrap_or(0);
    let query = if data["notify_customer"] == serde_json::json!(false) {
        "?notify_customer=0"
    } else {
        ""
    };
    let r = app.raw(
        &format!("POST /api/customer_messages{query} HTTP/1.1\r\nAuthorization: {}", basic(key)),
        format!("<prestashop><customer_message><id_customer_thread>{thread}</id_customer_thread><id_employee>1</id_employee><private>{private}</private><message>{text}</message></customer_message></prestashop>").as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.text();
    let start = body.find("<id><![CDATA[").unwrap() + "<id><![CDATA[".len();
    let id: u32 = body[start..start + body[start..].find(']').unwrap()]
        .parse()
        .unwrap();
    let event = threadgate::delivery::read_events(
        &mut app.db.conn(),
        &app.db.tables,
        0,
        10_000,
        settings().read.gap_wait(),
    )
    .unwrap()
    .pop()
    .unwrap();
    assert_eq!(
        (
            event.kind.as_str(),
            event.id_customer_message,
            event.source.as_str()
        ),
        ("message.created", Some(id), "api")
    );
    id
}

const NOTIFY: &str = r#"{"id_employee":1,"private":0,"notify_customer":true}"#;

#[test]
fn the_customer_gets_the_reply_e_mail_through_smtp() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let dir = tempdir();
    let port = free_port();
    let _smtp = SmtpServer::start(port, &dir);
    let worker = Worker::new(
        app.db.tables.clone(),
        mail_settings(port),
        None,
        "node-a".into(),
    );
    let mut conn = app.db.conn();

    reply(&app, &key, "Your parcel left today.", NOTIFY);
    // Not to the customer: a private note, an opted-out reply, a customer's own message.
    reply(
        &app,
        &key,
        "Note to self",
        r#"{"id_employee":1,"private":1,"notify_customer":true}"#,
    );
    reply(
        &app,
        &key,
        "Quiet",
        r#"{"id_employee":1,"private":0,"notify_customer":false}"#,
    );
    append(
        &app.db,
        "message.created",
        1,
        Some(1),
        "shop",
        r#"{"id_employee":0,"private":0}"#,
    );

    step_until(&worker, &mut conn, || !mails(&dir).is_empty());
    worker.step(&mut conn).unwrap();
    let got = mails(&dir);
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert!(m.contains("X-RcptTo: pub@prestashop.com"), "{m}");
    assert!(m.contains("X-MailFrom: support@example.com"), "{m}");
    assert!(
        m.contains("From: \"Customer service\" <support@example.com>")
            || m.contains("From: Customer service <support@example.com>"),
        "{m}"
    );
    assert!(m.contains("To: pub@prestashop.com"), "{m}");
    assert!(
        m.contains("Subject: An answer to your message is available #ct1 #tcaBcD1234eFgH"),
        "{m}"
    );
    assert!(m.contains("Content-Type: multipart/alternative;"), "{m}");
    assert!(m.lines().any(|l| l.starts_with("Message-ID: <")), "{m}");
    let (text, html) = parts(m);
    assert_eq!(
        text,
        "Hello John DOE,\n\nYour parcel left today.\n\nAnswers to this e-mail do not reach us.\n\
         To reply, please use this link: \
         http://localhost/index.php?controller=contact&id_customer_thread=1&token=aBcD1234eFgH\n\n-- \nDemo shop\n"
    );
    assert!(
        html.contains("<p><strong>Hello John DOE,</strong></p>\n<p>Your parcel left today.</p>"),
        "{html}"
    );
    assert!(html.contains("<a href=\"http://localhost/index.php?controller=contact&amp;id_customer_thread=1&amp;token=aBcD1234eFgH\">"), "{html}");
    assert!(
        html.contains("<p style=\"color: #777;\">Demo shop</p>"),
        "{html}"
    );
    let queue = store::all_mails(&mut conn, &app.db.tables).unwrap();
    assert_eq!(queue.len(), 1);
    assert_eq!(queue[0].state, "sent");
    assert_eq!(queue[0].recipient.as_deref(), Some("pub@prestashop.com"));

    // A thread in French (id_lang 2) gets the French e-mail, from the contact's French name.
    reply_to(&app, &key, 3, "Votre colis est parti.", NOTIFY);
    step_until(&worker, &mut conn, || mails(&dir).len() == 2);
    let m = &mails(&dir)[1];
    assert!(m.contains("X-RcptTo: marie@example.com"), "{m}");
    assert!(
        m.contains("From: \"Service client\" <support@example.com>"),
        "{m}"
    );
    assert_eq!(
        subject(m),
        "Une réponse à votre message est disponible #ct3 #tcZx9Yw8Vu7Ts6"
    );
    let (text, _) = parts(m);
    assert!(
        text.starts_with("Bonjour Marie Curie,\n\nVotre colis est parti.\n"),
        "{text}"
    );
    assert!(text.contains("Pour répondre, veuillez utiliser ce lien : http://localhost/index.php?controller=contact&id_customer_thread=3&token=Zx9Yw8Vu7Ts6"), "{text}");
}

#[test]
fn with_the_mail_server_down_the_api_answers_and_the_mail_arrives_later() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let dir = tempdir();
    let port = free_port();
    let worker = Worker::new(
        app.db.tables.clone(),
        mail_settings(port),
        None,
        "node-a".into(),
    );
    let mut conn = app.db.conn();

    reply(&app, &key, "Refund sent.", NOTIFY);
    let report = worker.step(&mut conn).unwrap();
    assert_eq!((report.mails_sent, report.mails_failed), (0, 1));
    let queue = store::all_mails(&mut conn, &app.db.tables).unwrap();
    assert_eq!((queue[0].state.as_str(), queue[0].attempts), ("pending", 1));
    assert!(
        queue[0]
            .last_error
            .as_deref()
            .unwrap()
            .starts_with(&format!("SMTP 127.0.0.1:{port}: ")),
        "{queue:?}"
    );

    let _smtp = SmtpServer::start(port, &dir);
    step_until(&worker, &mut conn, || !mails(&dir).is_empty());
    worker.step(&mut conn).unwrap();
    let got = mails(&dir);
    assert_eq!(got.len(), 1, "once, not once per attempt");
    assert!(got[0].contains("Refund sent."));
    let queue = store::all_mails(&mut conn, &app.db.tables).unwrap();
    assert_eq!((queue[0].state.as_str(), queue[0].attempts), ("sent", 2));
}

#[test]
fn mails_are_not_sent_for_replies_made_while_they_were_off() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let port = free_port();
    let mut off = mail_settings(port);
    off.reply_mail = false;
    let mut conn = app.db.conn();
    reply(&app, &key, "Before", NOTIFY);
    Worker::new(app.db.tables.clone(), off, None, "node-a".into())
        .step(&mut conn)
        .unwrap();
    let on = Worker::new(
        app.db.tables.clone(),
        mail_settings(port),
        None,
        "node-a".into(),
    );
    on.step(&mut conn).unwrap();
    assert!(store::all_mails(&mut conn, &app.db.tables)
        .unwrap()
        .is_empty());
}

/// The `Subject:` header, unfolded, its RFC 2047 `=?utf-8?b?...?=` words decoded.
fn subject(mail: &str) -> String {
    use base64::Engine as _;
    let start = mail.find("\nSubject: ").expect("a subject") + "\nSubject: ".len();
    let mut raw = String::new();
    for (i, line) in mail[start..].split('\n').enumerate() {
        if i > 0 && !line.starts_with(' ') {
            break;
        }
        raw.push_str(line);
    }
    raw.split(' ')
        .filter(|w| !w.is_empty())
        .map(|w| {
            match w
                .strip_prefix("=?utf-8?b?")
                .and_then(|w| w.strip_suffix("?="))
            {
                Some(b64) => String::from_utf8(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap(),
                )
                .unwrap(),
                None => w.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The decoded text/plain and text/html parts of a stored multipart/alternative e-mail.
fn parts(mail: &str) -> (String, String) {
    let boundary = mail
        .split("boundary=\"")
        .nth(1)
        .and_then(|b| b.split('"').next())
        .expect("a boundary");
    let mut text = None;
    let mut html = None;
    for part in mail.split(&format!("--{boundary}")).skip(1) {
        let Some((head, body)) = part.split_once("\n\n") else {
            continue;
        };
        let body = if head.contains("quoted-printable") {
            quoted_printable(body)
        } else {
            body.to_owned()
        };
        let body = body.strip_suffix('\n').unwrap_or(&body).to_owned();
        if head.contains("text/plain") {
            text = Some(body);
        } else if head.contains("text/html") {
            html = Some(body);
        }
    }
    (text.expect("a text part"), html.expect("an HTML part"))
}

fn quoted_printable(s: &str) -> String {
    let s = s.replace("=\r\n", "").replace("=\n", "");
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "threadgate-mail-{}-{}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    // aiosmtpd's Mailbox creates the maildir only where nothing exists yet.
    dir.join("maildir")
}

/// `threadgate webhooks ...` on `db`, with the secret key file `key_file`: (status, stdout,
/// stderr).
fn cli(db: &TestDb, key_file: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .arg("webhooks")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", &db.tables.prefix)
        .env("THREADGATE_SECRET_KEY_FILE", key_file)
        .env_remove("THREADGATE_SECRET_KEY")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_webhooks_commands_show_the_secret_once_and_store_it_encrypted() {
    let db = TestDb::seeded("ps_");
    append(&db, "thread.created", 1, None, "shop", "{}");
    let key_file = tempdir().with_file_name("secret.key");
    let receiver = Receiver::start(0);
    let url = receiver.url();

    let (ok, out, err) = cli(
        &db,
        &key_file,
        &[
            "add",
            "--url",
            &url,
            "--events",
            "message.created,thread.*",
            "--shop",
            "1",
        ],
    );
    assert!(ok, "{err}");
    let secret = out.trim_end().to_owned();
    assert_eq!(out, format!("{secret}\n"), "the secret is the only line");
    assert!(secret.starts_with("whsec_") && secret.len() == 70);
    assert_eq!(
        err,
        format!(
            "secret key file {} created: every node that serves needs it\n\
             webhook #1 added; its signing secret is shown once and stored encrypted\n",
            key_file.display()
        )
    );
    let key = SecretKey::read_file(&key_file).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let mut conn = db.conn();
    let row = store::get_webhook(&mut conn, &db.tables, 1)
        .unwrap()
        .unwrap();
    assert!(!row.secret.contains(&secret[6..]));
    assert_eq!(key.decrypt(&row.secret).unwrap(), secret);
    assert_eq!(row.events, ["message.created", "thread.*"]);
    assert_eq!(
        (row.shop, row.position),
        (Some(1), 1),
        "starts after the newest event"
    );

    let (ok, out, _) = cli(&db, &key_file, &["list", "--json"]);
    assert!(ok);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], 1);
    assert_eq!(list[0]["url"], url.as_str());
    assert_eq!(list[0]["state"], "active");
    assert_eq!(list[0]["position"], 1);
    assert!(!out.contains(&secret[6..]) && !out.contains(&row.secret));

    let (ok, out, err) = cli(&db, &key_file, &["test", "1"]);
    assert!(ok, "{err}");
    assert_eq!(out, format!("webhook #1: {url} answered HTTP 200\n"));
    let got = receiver.received();
    assert_eq!(got[0].header("X-Threadgate-Event-Type"), "webhook.test");
    verify(&secret, &got[0]);

    let (ok, out, _) = cli(&db, &key_file, &["pause", "1"]);
    assert!(ok);
    assert!(out.starts_with(&format!("#1  PAUSED  {url}\n")), "{out}");
    assert!(out.contains("    paused: paused by an operator\n"), "{out}");
    let (ok, out, _) = cli(&db, &key_file, &["replay", "1", "--from", "0", "--json"]);
    assert!(ok);
    let row: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (row["state"].as_str(), row["position"].as_u64()),
        (Some("active"), Some(0))
    );
    let (ok, _, err) = cli(
        &db,
        &key_file,
        &["add", "--url", "ftp://x", "--events", "*"],
    );
    assert!(!ok);
    assert!(err.contains("is not an http:// or https:// URL"), "{err}");
    let (ok, _, err) = cli(
        &db,
        &key_file,
        &["add", "--url", &url, "--events", "message.sent"],
    );
    assert!(!ok);
    assert!(err.contains("unknown event type \"message.sent\""), "{err}");
    let (ok, out, _) = cli(&db, &key_file, &["remove", "1"]);
    assert!(ok);
    assert_eq!(out, "webhook #1 removed\n");
    let (ok, _, err) = cli(&db, &key_file, &["remove", "1"]);
    assert!(!ok);
    assert!(err.contains("no webhook #1"), "{err}");
}

/// `threadgate serve` runs the delivery workers: a subscription added with the command gets an
/// event appended while the server runs, and the secret never shows in the log.
#[test]
fn serve_delivers_with_its_own_workers() {
    let db = TestDb::seeded("ps_");
    let key_file = tempdir().with_file_name("secret.key");
    let receiver = Receiver::start(0);
    let (ok, out, err) = cli(
        &db,
        &key_file,
        &["add", "--url", &receiver.url(), "--events", "*"],
    );
    assert!(ok, "{err}");
    let secret = out.trim_end().to_owned();
    let log = tempdir().with_file_name("serve.log");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", "ps_")
        .env("THREADGATE_BIND", "127.0.0.1:0")
        .env("THREADGATE_WORKERS", "1")
        .env("THREADGATE_POOL_SIZE", "1")
        .env("THREADGATE_SECRET_KEY_FILE", &key_file)
        .env("THREADGATE_DELIVERY_POLL_MS", "50")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("run threadgate serve");
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _child = Kill(child);
    append(&db, "message.created", 1, Some(1), "shop", "{}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.delivered_ids().is_empty() {
        assert!(Instant::now() < deadline, "no delivery within 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    verify(&secret, &receiver.received()[0]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = std::fs::read_to_string(&log).unwrap();
        if text.contains("webhook deliveries") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(text.contains("webhook deliveries"), "{text}");
    assert!(!text.contains(&secret[6..]), "the secret is logged");
}

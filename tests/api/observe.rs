//! What an operator sees: the access log, request ids, 401/429 lines, the start-up line, the
//! JSON log format and `/metrics` on its own port (docs/architecture.md, "Observability").

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use threadgate::auth::admin;

use crate::support::{capture_logs, http, serve_settings, Logs, TestApp, TestDb};

/// A request id nobody else uses.
fn fresh_id(tag: &str) -> String {
    format!("{tag}-{:016x}", rand_u64())
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    h.finish()
}

/// The access-log line of request `id`, polled every 50 ms for up to 5 s (a streamed
/// response is logged when its body ends, just after the client has read it).
fn access_line(logs: &Logs, id: &str) -> String {
    let needle = format!("request_id={id}");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let found = logs
            .text()
            .lines()
            .find(|l| l.contains("threadgate::access:") && l.contains(&needle))
            .map(str::to_owned);
        if let Some(l) = found {
            return l;
        }
        assert!(Instant::now() < deadline, "no access line for {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn only_key_id(db: &TestDb) -> u32 {
    let keys = admin::list(&mut db.conn(), &db.tables).expect("list keys");
    assert_eq!(keys.len(), 1);
    keys[0].id
}

#[test]
fn one_access_line_per_request_without_the_key() {
    let logs = capture_logs();
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let key_id = only_key_id(&app.db);
    let id = fresh_id("access");
    let r = app.raw(
        &format!(
            "GET /api/customer_threads/1?ws_key={key}&output_format=JSON HTTP/1.1\r\nX-Request-Id: {id}"
        ),
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Request-Id"), Some(id.as_str()));
    let line = access_line(&logs, &id);
    assert!(line.contains(" INFO "), "{line}");
    let expected = "request method=GET path=\"/api/customer_threads/1?output_format=JSON\" status=200 duration_ms=";
    assert!(line.contains(expected), "{line}");
    let tail = format!(
        " bytes={} key_id={key_id} client=127.0.0.1 request_id={id}",
        r.body.len()
    );
    assert!(line.contains(&tail), "{tail} not in {line}");
    assert!(!line.contains("error="), "{line}");
    // The key in the path form the PHP library uses, and in Basic auth: never logged.
    let id2 = fresh_id("access-path");
    let r = app.raw(
        &format!("GET /api/customer_threads&ws_key={key}&limit=1 HTTP/1.1\r\nX-Request-Id: {id2}"),
        b"",
    );
    assert_eq!(r.status, 200);
    let line = access_line(&logs, &id2);
    assert!(
        line.contains("path=\"/api/customer_threads&limit=1\" status=200"),
        "{line}"
    );
    // A bridge request names its key id too (authenticated by the same code).
    let id3 = fresh_id("access-m10");
    let r = app.raw(
        &format!(
            "GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {key}\r\nX-Request-Id: {id3}"
        ),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let line = access_line(&logs, &id3);
    assert!(
        line.contains("path=\"/api/inbox/threads/1\" status=200 duration_ms="),
        "{line}"
    );
    assert!(
        line.contains(&format!(
            " bytes={} key_id={key_id} client=127.0.0.1 request_id={id3}",
            r.body.len()
        )),
        "{line}"
    );
    let text = logs.text();
    assert!(!text.contains(&key), "the key is in the log");
    assert!(!text.to_lowercase().contains(&key.to_lowercase()[..20]));
}

#[test]
fn a_streamed_list_is_logged_when_its_body_ends() {
    let logs = capture_logs();
    let mut settings = serve_settings();
    settings.stream_chunk = 1;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let id = fresh_id("stream");
    let r = app.request(
        "GET",
        &key,
        "/api/customer_threads?display=full",
        &[&format!("X-Request-Id: {id}")],
    );
    assert_eq!(r.status, 200);
    assert!(r.chunked, "the list is streamed");
    assert_eq!(r.header("X-Request-Id"), Some(id.as_str()));
    let line = access_line(&logs, &id);
    assert!(
        line.contains(&format!(
            " bytes={} key_id={} client=127.0.0.1 request_id={id}",
            r.body.len(),
            only_key_id(&app.db)
        )),
        "{line}"
    );
    assert!(!line.contains("aborted"), "{line}");
}

#[test]
fn request_ids_are_echoed_or_generated_on_every_response() {
    let logs = capture_logs();
    let app = TestApp::spawn();
    // Sent and valid: echoed, on an error document too (no key: 401).
    let id = fresh_id("echo");
    let r = app.raw(
        &format!("GET /api/customer_threads HTTP/1.1\r\nX-Request-Id: {id}"),
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("X-Request-Id"), Some(id.as_str()));
    let line = access_line(&logs, &id);
    assert!(line.contains(" status=401 "), "{line}");
    assert!(line.contains(" error=\"16\""), "{line}");
    // Not sent, or not usable: a generated one (32 hex digits), different each time.
    let mut seen = Vec::new();
    for extra in [
        "",
        "\r\nX-Request-Id: two words",
        "\r\nX-Request-Id: caf\u{e9}",
    ] {
        let r = app.raw(&format!("GET /api/ HTTP/1.1{extra}"), b"");
        let generated = r.header("X-Request-Id").expect("a request id").to_owned();
        assert_eq!(generated.len(), 32, "{generated}");
        assert!(
            generated.bytes().all(|b| b.is_ascii_hexdigit()),
            "{generated}"
        );
        assert!(!seen.contains(&generated));
        seen.push(generated);
    }
    let long = "x".repeat(129);
    let r = app.raw(&format!("GET /api/ HTTP/1.1\r\nX-Request-Id: {long}"), b"");
    assert_eq!(r.header("X-Request-Id").unwrap().len(), 32);
    // Outside /api, and on a bridge's own error format.
    let r = app.raw("GET /nowhere HTTP/1.1\r\nX-Request-Id: other-1", b"");
    assert_eq!(r.header("X-Request-Id"), Some("other-1"));
    let r = app.raw(
        "GET /api/inbox/threads/1 HTTP/1.1\r\nX-Request-Id: bridge-1",
        b"",
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.header("X-Request-Id"), Some("bridge-1"));
}

#[test]
fn failed_authentications_and_429_are_logged_with_the_address() {
    let logs = capture_logs();
    let mut settings = serve_settings();
    settings.auth_failures_per_minute = 1;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let wrong = "WRONGWRONGWRONGWRONGWRONGWRONG12";
    let first = fresh_id("fail");
    let r = app.raw_from(
        "127.0.0.7",
        &format!(
            "GET /api/customer_threads HTTP/1.1\r\nAuthorization: {}\r\nX-Request-Id: {first}",
            http::basic(wrong)
        ),
        b"",
    );
    assert_eq!(r.status, 401);
    let line = access_line(&logs, &first);
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains(" status=401 "), "{line}");
    assert!(line.contains(" client=127.0.0.7 "), "{line}");
    assert!(line.contains(" error=\"20,21\""), "{line}");
    assert!(!line.contains("key_id="), "{line}");

    let second = fresh_id("throttled");
    let r = app.raw_from(
        "127.0.0.7",
        &format!(
            "GET /api/customer_threads HTTP/1.1\r\nAuthorization: {}\r\nX-Request-Id: {second}",
            http::basic(wrong)
        ),
        b"",
    );
    assert_eq!(r.status, 429);
    let line = access_line(&logs, &second);
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains(" status=429 "), "{line}");
    assert!(line.contains(" client=127.0.0.7 "), "{line}");
    assert!(line.contains(" error=\""), "{line}");
    assert!(!logs.text().contains(wrong), "the wrong key is in the log");
}

/// The value of the sample `series` (name and labels exactly as exposed), 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[test]
fn metrics_are_served_on_their_own_port_and_move_with_requests() {
    let app = TestApp::with_metrics(TestDb::seeded("ps_"), serve_settings());
    let key = app.db.full_key();
    let before = app.metrics();
    assert_eq!(before.status, 200);
    assert_eq!(
        before.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let before = before.text().to_owned();

    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    assert_eq!(app.get(&key, "/api/customer_threads/999999").status, 404);
    for _ in 0..2 {
        let r = app.raw(
            &format!(
                "GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {}",
                http::basic(&key)
            ),
            b"",
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    assert_eq!(
        app.get("WRONGWRONGWRONGWRONGWRONGWRONG12", "/api/customer_threads")
            .status,
        401
    );

    let after = app.metrics().text().to_owned();
    let delta = |series: &str| sample(&after, series) - sample(&before, series);
    let ws = "route=\"webservice\",method=\"GET\"";
    assert_eq!(
        delta(&format!(
            "threadgate_http_requests_total{{{ws},status=\"200\"}}"
        )),
        2.0
    );
    assert_eq!(
        delta(&format!(
            "threadgate_http_requests_total{{{ws},status=\"404\"}}"
        )),
        1.0
    );
    assert_eq!(
        delta(&format!(
            "threadgate_http_requests_total{{{ws},status=\"401\"}}"
        )),
        1.0
    );
    assert_eq!(
        delta("threadgate_http_requests_total{route=\"m10\",method=\"GET\",status=\"200\"}"),
        2.0
    );
    assert_eq!(
        delta("threadgate_http_request_duration_seconds_count{route=\"webservice\"}"),
        4.0
    );
    assert_eq!(
        delta("threadgate_http_request_duration_seconds_count{route=\"m10\"}"),
        2.0
    );
    // The key: verified once (a miss), then found in the cache by the four other requests.
    assert_eq!(delta("threadgate_key_cache_misses_total"), 2.0, "{after}");
    assert_eq!(delta("threadgate_key_cache_hits_total"), 4.0);
    assert_eq!(delta("threadgate_auth_failures_total"), 1.0);
    assert_eq!(delta("threadgate_auth_throttled_total"), 0.0);
    // M10 read once, then served from the bridge cache.
    assert_eq!(
        delta("threadgate_bridge_cache_misses_total{cache=\"m10\"}"),
        1.0
    );
    assert_eq!(
        delta("threadgate_bridge_cache_hits_total{cache=\"m10\"}"),
        1.0
    );
    assert!(delta("threadgate_db_statements_total") >= 4.0, "{after}");
    assert!(delta("threadgate_db_checkout_duration_seconds_count") >= 4.0);
    assert_eq!(sample(&after, "threadgate_db_pool_max_connections"), 2.0);
    assert!(sample(&after, "threadgate_db_pool_connections") >= 1.0);
    assert!(
        sample(&after, "threadgate_db_pool_idle_connections")
            <= sample(&after, "threadgate_db_pool_connections")
    );

    // A failing statement is a database error.
    let errors = sample(&after, "threadgate_db_errors_total");
    app.db
        .exec("RENAME TABLE ps_customer_thread TO ps_customer_thread_gone");
    assert_eq!(app.get(&key, "/api/customer_threads/2").status, 500);
    let later = app.metrics().text().to_owned();
    assert_eq!(sample(&later, "threadgate_db_errors_total") - errors, 1.0);
    assert_eq!(
        sample(
            &later,
            "threadgate_http_requests_total{route=\"webservice\",method=\"GET\",status=\"500\"}"
        ),
        1.0
    );
    // The metrics port serves nothing else.
    let r = http::send(app.metrics_port.unwrap(), "GET /api/ HTTP/1.1", b"");
    assert_eq!(r.status, 404);
}

#[test]
fn metrics_are_never_served_on_the_api_port() {
    assert_eq!(serve_settings().metrics_bind, None, "off by default");
    let app = TestApp::with_metrics(TestDb::seeded("ps_"), serve_settings());
    let key = app.db.full_key();
    for r in [
        app.raw("GET /metrics HTTP/1.1", b""),
        app.get(&key, "/metrics"),
    ] {
        assert_eq!(r.status, 404, "{}", r.text());
        assert!(!r.text().contains("threadgate_"), "{}", r.text());
    }
    // ... where it counts as `other`.
    let text = app.metrics().text().to_owned();
    assert_eq!(
        sample(
            &text,
            "threadgate_http_requests_total{route=\"other\",method=\"GET\",status=\"404\"}"
        ),
        2.0
    );
}

/// `threadgate serve` as an operator runs it, logging JSON: every stderr line is one JSON
/// object, the start-up line names the database without its password, and a request gets
/// its access line.
#[test]
fn the_json_log_format_writes_one_object_per_line() {
    let db = TestDb::seeded("ps_");
    db.exec("INSERT INTO ps_configuration (name, value, date_add, date_upd) VALUES ('PS_VERSION_DB', '8.1.7', NOW(), NOW())");
    let key = db.full_key();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", "ps_")
        .env("THREADGATE_LOG_FORMAT", "json")
        .env("THREADGATE_BIND", "127.0.0.1:0")
        .env("THREADGATE_WORKERS", "1")
        .env("THREADGATE_POOL_SIZE", "1")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run threadgate serve");
    let mut child = Stopped(child);
    let stderr = child.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if tx.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    let mut lines: Vec<String> = Vec::new();
    let mut next = || -> serde_json::Value {
        let line = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no more log lines after {lines:#?}"));
        assert!(
            !line.contains('\u{1b}'),
            "a colour code in a pipe: {line:?}"
        );
        assert!(!line.contains(&key), "the key is logged");
        lines.push(line.clone());
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
    };
    let mut port = None;
    let mut start = None;
    while port.is_none() || start.is_none() {
        let v = next();
        if v["message"] == "threadgate is serving" {
            start = Some(v.clone());
        }
        // actix-server's "starting service ... listening on: 127.0.0.1:PORT".
        if let Some(m) = v["message"].as_str() {
            if let Some(addr) = m.split("listening on: ").nth(1) {
                port = addr.trim().rsplit(':').next().unwrap().parse::<u16>().ok();
            }
        }
    }
    let start = start.unwrap();
    assert_eq!(start["level"], "INFO");
    assert_eq!(start["prefix"], "ps_");
    assert_eq!(start["key_source"], "own");
    assert_eq!(start["shops"], "1");
    assert_eq!(start["languages"], "1,2");
    assert_eq!(start["prestashop_version"], "8.1.7");
    assert_eq!(start["bind"], "127.0.0.1:0");
    assert_eq!(start["metrics"], "off");
    let database = start["database"].as_str().unwrap();
    assert_eq!(database, threadgate::db::schema::describe_url(&db.url));
    assert!(
        database.contains(&format!("database {}", db.name)),
        "{database}"
    );

    let r = http::send(
        port.unwrap(),
        &format!(
            "GET /api/customer_threads/1 HTTP/1.1\r\nAuthorization: {}\r\nX-Request-Id: json-1",
            http::basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 200);
    loop {
        let v = next();
        if v["target"] == "threadgate::access" {
            assert_eq!(v["level"], "INFO");
            assert_eq!(v["message"], "request");
            assert_eq!(v["request_id"], "json-1");
            assert_eq!(v["method"], "GET");
            assert_eq!(v["path"], "\"/api/customer_threads/1\"");
            assert_eq!(v["status"], 200);
            assert_eq!(v["bytes"], r.body.len() as u64);
            assert_eq!(v["client"], "127.0.0.1");
            assert!(v["key_id"].is_u64(), "{v}");
            assert!(v["duration_ms"].is_f64(), "{v}");
            break;
        }
    }
}

/// Kills the child process when the test ends, passed or failed.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

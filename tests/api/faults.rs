//! Database faults, readiness and shutdown (README, "Operating threadgate"): the tests that
//! stop, pause and restart a database run a MariaDB of their own (`support::own_mariadb`), so
//! the suite's shared server is never disturbed.

use std::io::Read;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection, RunQueryDsl};
use serde_json::{json, Value};

use crate::support::http::basic;
use crate::support::own_mariadb::OwnMariadb;
use crate::support::{
    capture_logs, free_port, serve_settings, xml_error, Response, TestApp, TestDb,
};
use threadgate::config::{DbSettings, ServeSettings};

const UNAVAILABLE: &str = "The database is unavailable, retry later";

fn xml_unavailable() -> String {
    xml_error(0, UNAVAILABLE)
}

/// 503, `Retry-After: 2` and the "database unavailable" document in XML.
fn assert_unavailable_xml(r: &Response) {
    assert_eq!(r.status, 503, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(r.header("Content-Type"), Some("text/xml;charset=UTF-8"));
    assert_eq!(r.text(), xml_unavailable());
}

/// Settings that give up on a database quickly, so an outage is answered within a second.
fn impatient() -> ServeSettings {
    let mut s = serve_settings();
    s.db_checkout_timeout_ms = 300;
    s.db_timeout_ms = 700;
    s
}

fn send(app: &TestApp, method: &str, key: &str, path: &str, body: &[u8]) -> Response {
    app.send(method, key, path, "", body)
}

const NEW_THREAD: &[u8] = b"<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status></customer_thread></prestashop>";

/// POSTs a thread; returns its id when answered 201 (any other answer must be a 503).
fn post_thread(app: &TestApp, key: &str) -> Option<String> {
    let r = send(app, "POST", key, "/api/customer_threads", NEW_THREAD);
    match r.status {
        201 => {
            let t = r.text();
            let start = t.find("<id><![CDATA[").expect("an id") + "<id><![CDATA[".len();
            Some(t[start..start + t[start..].find(']').unwrap()].to_owned())
        }
        503 => {
            assert_unavailable_xml(&r);
            None
        }
        s => panic!("POST answered {s}: {}", String::from_utf8_lossy(&r.body)),
    }
}

/// Polls `GET path` every 50 ms until it answers 200; every other answer must be a 503
/// document. Returns how long it took.
fn until_served(app: &TestApp, key: &str, path: &str, within: Duration) -> Duration {
    let start = Instant::now();
    loop {
        let r = app.get(key, path);
        match r.status {
            200 => return start.elapsed(),
            503 => assert_unavailable_xml(&r),
            s => panic!("{path} answered {s}: {}", String::from_utf8_lossy(&r.body)),
        }
        assert!(
            start.elapsed() < within,
            "{path} not served again within {within:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn readyz(app: &TestApp) -> (u16, Value) {
    let r = app.raw("GET /readyz HTTP/1.1", b"");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    (r.status, serde_json::from_slice(&r.body).expect("JSON"))
}

fn ready() -> Value {
    json!({"status": "ready", "checks": {"database": "ok", "shop_tables": "ok", "shop_configuration": "loaded"}})
}

/// Which of `ids` are threads in the database.
fn threads_found(db: &TestDb, ids: &[String]) -> usize {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    if ids.is_empty() {
        return 0;
    }
    let n: N = diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM ps_customer_thread WHERE id_customer_thread IN ({})",
        ids.join(",")
    ))
    .get_result(&mut db.conn())
    .unwrap();
    n.n as usize
}

#[test]
fn healthz_answers_200_without_a_key() {
    let app = TestApp::spawn();
    let r = app.raw("GET /healthz HTTP/1.1", b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.text(), r#"{"status":"up"}"#);
}

#[test]
fn readyz_answers_200_when_the_database_answers_and_the_shop_is_loaded() {
    let app = TestApp::spawn();
    assert_eq!(readyz(&app), (200, ready()));
}

#[test]
fn a_wrong_prefix_stays_not_ready_and_says_which_tables_are_missing() {
    let logs = capture_logs();
    let db = TestDb::seeded("ps_");
    let wrong = db.with_prefix("nope_");
    let app = TestApp::unready(db, &wrong, impatient(), true);
    let missing = "missing under the prefix \"nope_\": configuration, shop, lang, customer_thread, customer_message, threadgate_state, threadgate_data_generation, threadgate_event, threadgate_event_state; set THREADGATE_TABLE_PREFIX to the shop's prefix, or run `threadgate migrate`";
    assert_eq!(
        readyz(&app),
        (
            503,
            json!({"status": "not ready", "checks": {"database": "ok", "shop_tables": missing, "shop_configuration": "not loaded"}})
        )
    );
    let key = app.db.full_key();
    assert_unavailable_xml(&app.get(&key, "/api/customer_threads/1"));
    // The start-up wait says it once, however many times it retries.
    let line = format!("not ready: the shop's tables are {missing}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !logs.text().contains(&line) {
        assert!(Instant::now() < deadline, "no log line: {line}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(logs.text().matches(&line).count(), 1);
}

#[test]
fn a_connection_killed_during_a_read_is_answered_503_and_never_handed_out_again() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    // Hold the table so that a read (no transaction: diesel's own broken-transaction check
    // does not see it) waits, then kill the server's connection under it.
    let mut locker = app.db.conn();
    locker
        .batch_execute("LOCK TABLES ps_customer_thread WRITE")
        .unwrap();
    let port = app.port;
    let get_key = key.clone();
    let get = std::thread::spawn(move || {
        crate::support::http::send(
            port,
            &format!(
                "GET /api/customer_threads/1 HTTP/1.1\r\nAuthorization: {}",
                basic(&get_key)
            ),
            b"",
        )
    });
    let victim = waiting_connection(&app.db, "STATE LIKE 'Waiting for table%'");
    app.db
        .conn()
        .batch_execute(&format!("KILL {victim}"))
        .unwrap();
    assert_unavailable_xml(&get.join().unwrap());
    locker.batch_execute("UNLOCK TABLES").unwrap();
    // The pool holds two connections: had the killed one gone back, one of these would fail.
    for _ in 0..4 {
        assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    }
}

/// The id of another connection to `db` whose processlist row matches `condition` (polled
/// every 50 ms, 10 s at most).
fn waiting_connection(db: &TestDb, condition: &str) -> u64 {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found: Vec<Id> = diesel::sql_query(format!(
            "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE DB = '{}' AND ID <> CONNECTION_ID() AND {condition}",
            db.name
        ))
        .load(&mut db.conn())
        .unwrap();
        if let Some(f) = found.first() {
            return f.id as u64;
        }
        assert!(
            Instant::now() < deadline,
            "no request is waiting on the lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_database_restart_and_pause_are_answered_503_then_served_again_without_losing_a_write() {
    let logs = capture_logs();
    let mut server = OwnMariadb::install();
    server.start();
    let db = TestDb::seeded_on(&server, "ps_");
    let key = db.full_key();
    let mut settings = impatient();
    settings.bridge_cache_ms = 600_000;
    let app = TestApp::with(db, settings);
    let m10 = |id: u32| {
        app.raw(
            &format!("GET /api/inbox/threads/{id} HTTP/1.1\r\nAuthorization: {key}"),
            b"",
        )
    };
    let mut acked: Vec<String> = Vec::new();
    acked.extend(post_thread(&app, &key));
    assert_eq!(acked.len(), 1);
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    let m10_before = m10(1);
    assert_eq!(m10_before.status, 200);

    // --- the database stops ---
    server.stop();
    assert_unavailable_xml(&app.get(&key, "/api/customer_threads/1"));
    let r = app.get(
        &key,
        "/api/customer_threads?display=full&output_format=JSON",
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.text(),
        format!(r#"{{"errors":[{{"code":0,"message":"{UNAVAILABLE}"}}]}}"#)
    );
    assert_eq!(post_thread(&app, &key), None);
    // A verified key needs no statement: the root listing and the schemas are still served.
    assert_eq!(app.get(&key, "/api/").status, 200);
    assert_eq!(
        app.get(&key, "/api/customer_threads?schema=blank").status,
        200
    );
    assert_eq!(app.raw("GET /healthz HTTP/1.1", b"").status, 200);
    assert_eq!(
        readyz(&app),
        (
            503,
            json!({"status": "not ready", "checks": {"database": "unreachable", "shop_tables": "unknown", "shop_configuration": "loaded"}})
        )
    );
    // M10: a thread read before is served from the bridges' read cache; another is not.
    let r = m10(1);
    assert_eq!((r.status, &r.body), (200, &m10_before.body));
    let r = m10(2);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("2"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"status": 503, "message": UNAVAILABLE})
    );
    let r = app.raw(
        &format!("POST /communications/departments/2/customers/2/threads HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: application/json", basic(&key)),
        b"{}",
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("2"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["customerThreads"], json!([]));
    assert_eq!(body["errors"][0]["errorCode"], json!("SERVICE_UNAVAILABLE"));
    assert!(body["errors"][0]["errorDescription"]
        .as_str()
        .unwrap()
        .starts_with("The service is temporarily unavailable, retry later. Reference MessageID: "));

    // --- it starts again: served within 5 s, by itself ---
    server.start();
    until_served(
        &app,
        &key,
        "/api/customer_threads/1",
        Duration::from_secs(5),
    );
    acked.extend(post_thread(&app, &key));
    assert_eq!(acked.len(), 2);
    assert_eq!(readyz(&app), (200, ready()));

    // --- it freezes (SIGSTOP): nothing answers, requests get 503 instead of hanging ---
    server.pause();
    let r = app.get(&key, "/api/customer_threads/1");
    assert_unavailable_xml(&r);
    acked.extend(post_thread(&app, &key));
    server.resume();
    until_served(
        &app,
        &key,
        "/api/customer_threads/1",
        Duration::from_secs(5),
    );
    for _ in 0..3 {
        let id = post_thread(&app, &key);
        assert!(id.is_some(), "a write after the recovery was answered 503");
        acked.extend(id);
    }

    assert_eq!(threads_found(&app.db, &acked), acked.len(), "{acked:?}");
    let text = logs.text();
    assert!(text
        .contains("database unreachable: requests that need it are answered 503 until it is back"));
    assert!(text.contains("database reachable again after"));
}

#[test]
fn serve_starts_without_its_database_and_becomes_ready_when_it_arrives() {
    let logs = capture_logs();
    let mut server = OwnMariadb::install();
    let settings = DbSettings {
        database_url: server.url("late_shop"),
        table_prefix: "ps_".into(),
        pool_size: 2,
    };
    let placeholder = TestDb::seeded("ps_");
    let app = TestApp::unready(placeholder, &settings, impatient(), true);
    let any_key = "ABCDEFGHIJKLMNOPQRSTUVWXYZ123456";
    assert_unavailable_xml(&app.get(any_key, "/api/customer_threads/1"));
    assert_eq!(
        readyz(&app),
        (
            503,
            json!({"status": "not ready", "checks": {"database": "unreachable", "shop_tables": "unknown", "shop_configuration": "not loaded"}})
        )
    );
    assert_eq!(app.raw("GET /healthz HTTP/1.1", b"").status, 200);

    server.start();
    let url = server.create_database("late_shop");
    let mut conn = MysqlConnection::establish(&url).unwrap();
    threadgate::db::migrations::run(&mut conn, "ps_").unwrap();
    threadgate::seed::demo(&mut conn, &threadgate::db::Tables::new("ps_")).unwrap();
    let key = threadgate::auth::admin::create(
        &mut conn,
        &threadgate::db::Tables::new("ps_"),
        &threadgate::auth::admin::CreateKey {
            resources: vec!["customer_threads".into()],
            methods: vec![threadgate::resource::Method::Get],
            shops: vec![],
            description: "late".into(),
            key: None,
            active: true,
        },
        &threadgate::config::Argon2Settings::default(),
        "2024-01-01 00:00:00",
    )
    .unwrap()
    .1;
    // The start-up wait retries with a backoff capped at 5 s.
    let deadline = Instant::now() + Duration::from_secs(15);
    while readyz(&app).0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready 15 s after the database came"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(readyz(&app), (200, ready()));
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    let text = logs.text();
    assert!(text.contains("not ready: the database cannot be read yet; retrying in"));
    assert!(text.contains("database reachable and shop configuration loaded: ready"));
}

/// Connects to `port`, true when refused.
fn refused(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let db = TestDb::seeded("ps_");
    let key = db.full_key();
    let port = free_port();
    let log = std::env::temp_dir().join(format!(
        "threadgate-drain-{}.log",
        crate::support::unique_suffix()
    ));
    let mut child = Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_BIND", format!("127.0.0.1:{port}"))
        .env("THREADGATE_POOL_SIZE", "2")
        .env("THREADGATE_WORKERS", "1")
        .env("THREADGATE_SHUTDOWN_TIMEOUT", "20")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start threadgate serve");
    let get = |path: &str| {
        crate::support::http::send(
            port,
            &format!("GET {path} HTTP/1.1\r\nAuthorization: {}", basic(&key)),
            b"",
        )
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while refused(port) || get("/readyz").status != 200 {
        assert!(Instant::now() < deadline, "the server did not get ready");
        std::thread::sleep(Duration::from_millis(50));
    }

    let mut locker = db.conn();
    locker
        .batch_execute(
            "BEGIN; SELECT * FROM ps_customer_thread WHERE id_customer_thread = 1 FOR UPDATE;",
        )
        .unwrap();
    let put_key = key.clone();
    let put = std::thread::spawn(move || {
        crate::support::http::send(
            port,
            &format!("PUT /api/customer_threads HTTP/1.1\r\nAuthorization: {}", basic(&put_key)),
            b"<prestashop><customer_thread><id>1</id><id_lang>1</id_lang><id_contact>2</id_contact><token>drained</token></customer_thread></prestashop>",
        )
    });
    // The PUT waits on the row lock: in its locked read of the row it replaces (the event log's
    // `changed`, docs/events.md), or in its UPDATE with events off.
    waiting_connection(
        &db,
        "(INFO LIKE 'UPDATE %' OR INFO LIKE 'SELECT % FOR UPDATE') AND STATE <> ''",
    );
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !refused(port) {
        assert!(Instant::now() < deadline, "new connections still accepted");
        std::thread::sleep(Duration::from_millis(50));
    }
    locker.batch_execute("COMMIT").unwrap();
    let r = put.join().unwrap();
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut text = String::new();
    std::fs::File::open(&log)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    let _ = std::fs::remove_file(&log);
    assert!(status.success(), "{status}: {text}");
    assert!(
        text.contains("stopping: no new connections; in-flight requests get up to 20 s"),
        "{text}"
    );
    assert!(
        text.contains("stopped: 1 request(s) drained, 0 cut"),
        "{text}"
    );
    assert!(text.contains("database connections closed"), "{text}");
    let token: Vec<String> = {
        #[derive(diesel::QueryableByName)]
        struct T {
            #[diesel(sql_type = diesel::sql_types::Text)]
            token: String,
        }
        diesel::sql_query("SELECT token FROM ps_customer_thread WHERE id_customer_thread = 1")
            .load::<T>(&mut db.conn())
            .unwrap()
            .into_iter()
            .map(|t| t.token)
            .collect()
    };
    assert_eq!(token, ["drained"]);
}

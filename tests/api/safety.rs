//! Never harm the shop, and bounded work per request: `scripts/serve` on an existing database
//! writes nothing, `migrate` refuses a shop under another prefix, `keys import-prestashop`
//! mirrors the Back Office, a throttled address still gets in with a good key, `Host` headers
//! are checked, and request bodies are bounded in time and memory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use threadgate::auth::admin;
use threadgate::config::Argon2Settings;
use threadgate::db::migrations;
use threadgate::db::sql::Sql;
use threadgate::resource::Method;

use crate::keys::{shop_account, PS_KEY};
use crate::support::http::{basic, parse_response};
use crate::support::{
    capture_logs, demo_thread_list, free_port, serve_settings, xml_error, TestApp, TestDb,
};

const BIN: &str = env!("CARGO_BIN_EXE_threadgate");

/// Runs the threadgate binary on `db`; (exit code, stdout, stderr).
fn threadgate(db: &TestDb, prefix: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", prefix)
        .env("THREADGATE_ARGON2_MEMORY_KIB", "1024")
        .env("THREADGATE_ARGON2_ITERATIONS", "1")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("run threadgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every table of the database with every value of every row, as text: equal before and
/// after means nothing was written.
fn contents(db: &TestDb) -> String {
    let mut conn = db.conn();
    let mut q = Sql::new(
        "SELECT CAST(table_name AS CHAR), GROUP_CONCAT(CONCAT('CAST(`', column_name, '` AS CHAR)') ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = ",
    );
    q.bind_text(db.name.as_str())
        .push(" GROUP BY table_name ORDER BY table_name");
    let mut out = String::new();
    for t in q.load(&mut conn).unwrap() {
        let (table, cols) = (t.0[0].clone().unwrap(), t.0[1].clone().unwrap());
        out.push_str(&format!("== {table}\n"));
        let rows = Sql::new(format!(
            "SELECT CONCAT_WS('|', {cols}) FROM `{table}` ORDER BY 1"
        ))
        .load(&mut conn)
        .unwrap();
        for row in rows {
            out.push_str(row.0[0].as_deref().unwrap_or("NULL"));
            out.push('\n');
        }
    }
    out
}

// --- scripts/serve with DATABASE_URL ---

#[test]
fn scripts_serve_on_an_existing_database_writes_nothing_and_prints_the_commands() {
    let db = TestDb::seeded("ps_");
    let before = contents(&db);
    assert!(
        before.contains("== ps_customer_thread\n") && before.contains("== ps_threadgate_key\n")
    );
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/serve");
    let mut child = Command::new("bash")
        .arg(script)
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", "ps_")
        .env("THREADGATE_BIN", BIN)
        .env("THREADGATE_SKIP_DEPS", "1")
        .env("THREADGATE_BIND", format!("127.0.0.1:{port}"))
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run scripts/serve");

    // Up once `/api/` answers (401: no key was given).
    let deadline = Instant::now() + Duration::from_secs(60);
    let answered = loop {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /api/ HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut raw = Vec::new();
            if s.read_to_end(&mut raw).is_ok() && !raw.is_empty() {
                break parse_response(&raw).status;
            }
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break 0;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(answered, 401, "the server never answered: {stderr}");

    // A running server's event watcher keeps its marks in its own table (docs/events.md,
    // "Outside changes"): that is serving, not setting the database up.
    let marks = |c: &str| -> String {
        let mut out = String::new();
        let mut skip = false;
        for line in c.split_inclusive('\n') {
            if line.starts_with("== ") {
                skip = line == "== ps_threadgate_event_state\n";
                out.push_str(line);
            } else if !skip {
                out.push_str(line);
            }
        }
        out
    };
    assert_eq!(
        marks(&contents(&db)),
        marks(&before),
        "scripts/serve wrote to the database"
    );
    for line in [
        "The database in DATABASE_URL, served as it is (nothing is written to it)".to_owned(),
        "threadgate's key store is empty.".to_owned(),
        format!("  {BIN} keys import-prestashop\n"),
        format!("  {BIN} keys create --description 'my integration' --resource customer_threads --resource customer_messages --method GET,HEAD,POST,PUT,PATCH,DELETE\n"),
        format!("  curl -u KEY: 'http://127.0.0.1:{port}/api/'\n"),
    ] {
        assert!(stderr.contains(&line), "{line:?} missing from:\n{stderr}");
    }
    for never in ["threadgate migrate", "seed --demo", "Key: ", "Installing"] {
        assert!(!stderr.contains(never), "{never:?} in:\n{stderr}");
    }
}

#[test]
fn scripts_serve_says_how_to_migrate_when_threadgates_tables_are_missing() {
    let db = TestDb::empty("ps_");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/serve");
    let mut child = Command::new("bash")
        .arg(script)
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", "ps_")
        .env("THREADGATE_BIN", BIN)
        .env("THREADGATE_SKIP_DEPS", "1")
        .env("THREADGATE_BIND", "127.0.0.1:0")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // What `threadgate serve` then does without its tables (exit, or wait not ready) is not
    // this test's business: it stops the script once the server is being started.
    let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = {
        let mut pipe = child.stderr.take().unwrap();
        let stderr = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                stderr
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none()
        && !stderr.lock().unwrap().contains("==> threadgate serve")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    let stderr = stderr.lock().unwrap().clone();
    assert!(
        stderr.contains(&format!(
            "threadgate could not read its own tables (ps_threadgate_key, ...). If they are missing,\ncreate them (only threadgate's tables are added; no shop table is changed):\n  {BIN} migrate\n"
        )),
        "{stderr}"
    );
    assert_eq!(contents(&db), "", "still an empty database");
}

// --- migrate's prefix check ---

#[test]
fn migrate_refuses_a_database_whose_shop_has_another_prefix() {
    let db = TestDb::seeded("shop8_");
    let before = contents(&db);
    let (code, _, stderr) = threadgate(&db, "ps_", &["migrate"]);
    assert_eq!(code, 1);
    assert_eq!(
        stderr,
        "Error: refusing to migrate: this database holds a PrestaShop shop under the prefix 'shop8_' but no shop table under 'ps_'; migrating would create a second, empty shop schema next to it.\n\
         If the shop's prefix is 'shop8_', run again with THREADGATE_TABLE_PREFIX=shop8_ (or --table-prefix shop8_); migrate then only adds threadgate's own tables.\n\
         To create a new, empty shop schema under 'ps_' in this database anyway, run `threadgate migrate --create-shop-schema`.\n"
    );
    assert_eq!(contents(&db), before, "nothing created");

    // The right prefix migrates (nothing left to do); the flag creates the second schema.
    let (code, _, stderr) = threadgate(&db, "shop8_", &["migrate"]);
    assert_eq!((code, stderr.as_str()), (0, "0 migration(s) applied\n"));
    let (code, _, stderr) = threadgate(&db, "ps_", &["migrate", "--create-shop-schema"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            0,
            format!("{} migration(s) applied\n", migrations::count()).as_str()
        )
    );
    assert!(contents(&db).contains("== ps_customer_thread\n"));
}

#[test]
fn migrate_refuses_shop_tables_under_other_prefixes_only_and_migrates_an_empty_database() {
    let db = TestDb::empty("ps_");
    db.exec("CREATE TABLE `old_customer_thread` (`id_customer_thread` int)");
    let (code, _, stderr) = threadgate(&db, "ps_", &["migrate"]);
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("Error: refusing to migrate: this database holds some PrestaShop tables under the prefix 'old_' but no shop table under 'ps_';"),
        "{stderr}"
    );

    let fresh = TestDb::empty("ps_");
    let (code, _, stderr) = threadgate(&fresh, "ps_", &["migrate"]);
    assert_eq!(
        (code, stderr.as_str()),
        (
            0,
            format!("{} migration(s) applied\n", migrations::count()).as_str()
        )
    );
}

#[test]
fn a_database_url_that_fails_names_what_was_tried_and_never_the_password() {
    let out = Command::new(BIN)
        .args(["keys", "list"])
        .env("DATABASE_URL", "mysql://tg:pa55word@127.0.0.1:1/shop")
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.starts_with("Error: could not connect to the database (host 127.0.0.1, port 1, database shop, user tg); check DATABASE_URL (or --database-url)\n"),
        "{stderr}"
    );
    assert!(!stderr.contains("pa55word"), "{stderr}");
}

#[test]
fn an_address_in_use_names_the_address_and_the_setting() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let db = TestDb::seeded("ps_");
    let out = Command::new(BIN)
        .args(["serve", "--bind", &addr])
        .env("DATABASE_URL", &db.url)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("Error: address {addr} is already in use (another server listens there): choose another with --bind or THREADGATE_BIND, or stop that server\n")),
        "{stderr}"
    );
}

// --- keys import-prestashop mirrors the Back Office ---

#[test]
fn a_key_deleted_in_the_back_office_is_disabled_by_the_next_import_and_created_keys_stay() {
    let db = TestDb::seeded("ps_");
    shop_account(&db);
    let cost = Argon2Settings::default();
    admin::import_prestashop(&mut db.conn(), &db.tables, &cost, "2024-01-01 00:00:00").unwrap();
    let own = db.key(&["customer_threads"], &[Method::Get], &[]);
    let app = TestApp::with(db, serve_settings());
    assert_eq!(app.get(PS_KEY, "/api/customer_threads").status, 200);

    app.db.exec(
        "DELETE FROM `ps_webservice_permission` WHERE `id_webservice_account` = 3;
         DELETE FROM `ps_webservice_account_shop` WHERE `id_webservice_account` = 3;
         DELETE FROM `ps_webservice_account` WHERE `id_webservice_account` = 3;",
    );
    let (code, stdout, _) = threadgate(&app.db, "ps_", &["keys", "import-prestashop"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "PrestaShop account #4 skipped: its key is not 32 characters\n\
         PrestaShop account #3 is gone or unusable in the Back Office: key #1 disabled\n\
         0 imported, 0 updated, 1 skipped, 1 disabled; the imported keys stay valid for existing clients\n"
    );
    let r = app.get(PS_KEY, "/api/customer_threads");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n<error>\n<code><![CDATA[20]]></code>\n<message><![CDATA[Authentification key is not active]]></message>\n</error>\n<error>\n<code><![CDATA[21]]></code>\n<message><![CDATA[No permission for this authentication key]]></message>\n</error>\n</errors>\n</prestashop>\n"
    );
    assert_eq!(app.get(&own, "/api/customer_threads").status, 200);
    let keys = admin::list(&mut app.db.conn(), &app.db.tables).unwrap();
    let states: Vec<(u32, bool, Option<u32>)> = keys
        .iter()
        .map(|k| (k.id, k.active, k.imported_from))
        .collect();
    assert_eq!(states, [(1, false, Some(3)), (2, true, None)]);

    // Said once: a second run finds nothing more to disable.
    let (_, stdout, _) = threadgate(&app.db, "ps_", &["keys", "import-prestashop"]);
    assert!(stdout.ends_with("0 imported, 0 updated, 1 skipped, 0 disabled; the imported keys stay valid for existing clients\n"), "{stdout}");
}

// --- the failed-authentication limit never locks out a good key ---

fn get_from(app: &TestApp, from: &str, key: &str, path: &str) -> crate::support::Response {
    app.raw_from(
        from,
        &format!("GET {path} HTTP/1.1\r\nAuthorization: {}", basic(key)),
        b"",
    )
}

#[test]
fn a_good_key_from_a_throttled_address_is_served_and_a_wrong_one_gets_429() {
    let logs = capture_logs();
    let mut settings = serve_settings();
    // No cache hits at all: the good key gets through because it was verified before.
    settings.key_cache_ttl = 0;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let good = app.db.full_key();
    let never_used = app.db.full_key();
    let from = "127.0.0.77";
    assert_eq!(
        get_from(&app, from, &good, "/api/customer_threads").status,
        200
    );
    for i in 0..20 {
        let wrong = format!("{i:0>32}");
        assert_eq!(
            get_from(&app, from, &wrong, "/api/customer_threads").status,
            401
        );
    }
    let verifications = app.state.keys.verifications();
    let r = get_from(&app, from, &"W".repeat(32), "/api/customer_threads");
    assert_eq!(r.status, 429);
    assert_eq!(
        r.text(),
        xml_error(
            0,
            "Too many failed authentication attempts from this address, retry later"
        )
    );
    assert_eq!(app.state.keys.verifications(), verifications, "no look-up");

    let r = get_from(&app, from, &good, "/api/customer_threads");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.state.keys.verifications(), verifications + 1);
    // The bridges take the same path.
    let m10 = app.raw_from(
        from,
        &format!("GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {good}"),
        b"",
    );
    assert_eq!(m10.status, 200);
    // A key never seen by this server is a guess like any other from here.
    assert_eq!(
        get_from(&app, from, &never_used, "/api/customer_threads").status,
        429
    );
    assert_eq!(
        get_from(&app, "127.0.0.78", &never_used, "/api/").status,
        200
    );

    let text = logs.text();
    let warned: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("client address throttled") && l.contains("client=127.0.0.77"))
        .collect();
    assert_eq!(warned.len(), 1, "once per window: {warned:?}");
    assert!(warned[0].contains(" WARN "), "{}", warned[0]);
}

#[test]
fn a_key_revoked_after_it_was_vouched_for_is_refused_again_without_argon2() {
    let mut settings = serve_settings();
    settings.key_cache_ttl = 0;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let stale = app.db.full_key();
    let from = "127.0.0.79";
    assert_eq!(
        get_from(&app, from, &stale, "/api/customer_threads").status,
        200
    );
    let id = admin::list(&mut app.db.conn(), &app.db.tables).unwrap()[0].id;
    admin::set_active(
        &mut app.db.conn(),
        &app.db.tables,
        id,
        false,
        "2024-01-01 00:00:00",
    )
    .unwrap();
    app.refresh();
    for _ in 0..20 {
        get_from(&app, from, &"V".repeat(32), "/api/customer_threads");
    }
    // Vouched for: checked once more (argon2), found revoked: 429, and never again checked.
    let before = app.state.keys.verifications();
    assert_eq!(
        get_from(&app, from, &stale, "/api/customer_threads").status,
        429
    );
    assert_eq!(
        get_from(&app, from, &stale, "/api/customer_threads").status,
        429
    );
    assert_eq!(app.state.keys.verifications(), before + 1);
}

// --- Host and X-Forwarded-Host ---

#[test]
fn an_oversized_or_malformed_host_is_400_with_an_error_document() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let long = "h".repeat(64 * 1024);
    let r = app.raw(
        &format!(
            "GET /api/customer_threads?display=full HTTP/1.1\r\nHost: {long}\r\nAuthorization: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        xml_error(
            0,
            "Invalid Host header: expected host[:port] of at most 255 bytes"
        )
    );
    assert_eq!(r.header("Content-Type"), Some("text/xml;charset=UTF-8"));

    let r = app.raw(
        &format!(
            "GET /api/customer_threads?output_format=JSON HTTP/1.1\r\nX-Forwarded-Host: shop.test/<x>\r\nAuthorization: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        "{\"errors\":[{\"code\":0,\"message\":\"Invalid X-Forwarded-Host header: expected host[:port] of at most 255 bytes\"}]}"
    );
    let r = app.raw(
        &format!(
            "GET /api/ HTTP/1.1\r\nX-Forwarded-Host: {}\r\nAuthorization: {}",
            "a".repeat(8 * 1024),
            basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 400);

    // A valid one is used as before.
    let r = app.raw(
        &format!(
            "GET /api/customer_threads HTTP/1.1\r\nX-Forwarded-Host: shop.test:8443\r\nAuthorization: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), demo_thread_list("http://shop.test:8443/"));

    // The bridges, in their own formats.
    let m10 = app.raw(
        &format!(
            "GET /api/inbox/threads/1 HTTP/1.1\r\nHost: {}\r\nAuthorization: {key}",
            "h".repeat(300)
        ),
        b"",
    );
    assert_eq!(m10.status, 400);
    assert_eq!(
        m10.text(),
        "{\"status\":400,\"message\":\"Invalid Host or X-Forwarded-Host header\"}"
    );
    let list = app.raw(
        &format!(
            "POST /communications/departments/2/customers/2/threads HTTP/1.1\r\nX-Forwarded-Host: shop.test/<x>\r\nAuthorization: {}\r\nContent-Type: application/json",
            basic(&key)
        ),
        b"{}",
    );
    assert_eq!(list.status, 400);
    let v: serde_json::Value = serde_json::from_slice(&list.body).unwrap();
    assert_eq!(v["errors"][0]["errorCode"], "INVALID_REQUEST_DATA");
    let description = v["errors"][0]["errorDescription"].as_str().unwrap();
    assert_eq!(
        description,
        format!(
            "Incorrect data sent in request: the X-Forwarded-Host header is not a host[:port] of at most 255 bytes. Reference MessageID: {}",
            v["requestUUID"].as_str().unwrap()
        )
    );

    // The change feed passes the same gate, and answers in its own JSON.
    let feed = app.raw(
        &format!(
            "GET /threadgate/v1/changes HTTP/1.1\r\nX-Forwarded-Host: shop.test/<x>\r\nAuthorization: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(feed.status, 400);
    assert_eq!(feed.header("Content-Type"), Some("application/json"));
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&feed.body).unwrap(),
        serde_json::json!({"error": {
            "status": 400,
            "code": "bad_request",
            "message": "Invalid X-Forwarded-Host header: expected host[:port] of at most 255 bytes"
        }})
    );
}

// --- request bodies: time and memory ---

/// Writes `head` then one byte of body every 50 ms until the server answers and closes;
/// returns what it sent back and whether it closed the connection.
fn trickle(port: u16, head: &str) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s.write_all(head.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let _ = s.write_all(b"<");
        match s.read(&mut buf) {
            Ok(0) => return (raw, true),
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (raw, true),
        }
    }
    (raw, false)
}

#[test]
fn a_trickled_body_is_cut_with_408_and_the_connection_closed() {
    let mut settings = serve_settings();
    settings.body_timeout = 1;
    settings.body_secs_per_mib = 0;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let (raw, closed) = trickle(
        app.port,
        &format!(
            "POST /api/customer_threads HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nContent-Length: 100000\r\n\r\n",
            basic(&key)
        ),
    );
    assert!(closed, "the connection stays open");
    let r = parse_response(&raw);
    assert_eq!(r.status, 408);
    assert_eq!(r.header("Connection"), Some("close"));
    assert_eq!(
        r.text(),
        xml_error(
            127,
            "XML error : the request body did not arrive within 1 second"
        )
    );
    assert_eq!(app.state.bodies.reserved(), 0, "its memory is freed");

    // The thread list bridge, in its format.
    let (raw, closed) = trickle(
        app.port,
        &format!(
            "POST /communications/departments/0/customers/1/threads HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
            basic(&key)
        ),
    );
    assert!(closed);
    let r = parse_response(&raw);
    assert_eq!(r.status, 408);
    let doc: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(doc["errors"][0]["errorCode"], "REQUEST_TIMEOUT");
}

#[test]
fn a_body_announced_at_20_mib_reserves_only_what_arrived() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let mut s = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    s.write_all(
        format!(
            "POST /api/customer_threads HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nContent-Length: 20971520\r\n\r\n",
            basic(&key)
        )
        .as_bytes(),
    )
    .unwrap();
    s.write_all(&[b' '; 1000]).unwrap();
    let wait_for = |bytes: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while app.state.bodies.reserved() != bytes && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        app.state.bodies.reserved()
    };
    assert_eq!(wait_for(1000), 1000, "what arrived, not what was announced");
    drop(s);
    assert_eq!(wait_for(0), 0, "freed when the client goes away");
}

#[test]
fn bodies_beyond_the_memory_budget_get_503_with_an_error_document() {
    let mut settings = serve_settings();
    // No memory for a second body while one is being read.
    settings.body_memory_mib = 0;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let mut first = TcpStream::connect(("127.0.0.1", app.port)).unwrap();
    first
        .write_all(
            format!(
                "POST /api/customer_threads HTTP/1.1\r\nHost: example.com\r\nAuthorization: {}\r\nContent-Length: 1000\r\n\r\n<prestashop>",
                basic(&key)
            )
            .as_bytes(),
        )
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.state.bodies.reserved() != 12 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(app.state.bodies.reserved(), 12);

    let r = app.raw(
        &format!(
            "POST /api/customer_threads HTTP/1.1\r\nAuthorization: {}",
            basic(&key)
        ),
        b"<prestashop><customer_thread><id_lang>1</id_lang></customer_thread></prestashop>",
    );
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(
        r.text(),
        xml_error(
            0,
            "Too many request bodies are being received at once, retry later"
        )
    );
    drop(first);
}

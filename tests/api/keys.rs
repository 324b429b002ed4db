//! Key management, revocation at once, failed-authentication limits, the PrestaShop key source
//! and the security checks of the keys issue.

use threadgate::auth::admin;
use threadgate::auth::secret::{lookup_bucket, normalize};
use threadgate::config::{Argon2Settings, KeySource};
use threadgate::db::sql::Sql;
use threadgate::resource::Method;

use crate::support::{http::basic, serve_settings, Response, TestApp, TestDb};

const FIXTURE: &str = include_str!("../fixtures/prestashop8.sql");

/// The CREATE TABLE statements of the PrestaShop 8 fixture whose table (without prefix) is in
/// `only` (all of them for `None`).
pub(crate) fn fixture(only: Option<&[&str]>) -> String {
    FIXTURE
        .split(';')
        .filter(|stmt| {
            let Some(rest) = stmt.split("CREATE TABLE `ps_").nth(1) else {
                return false;
            };
            let name = &rest[..rest.find('`').unwrap()];
            only.is_none_or(|o| o.contains(&name))
        })
        .map(|s| format!("{};", &s[s.find("CREATE TABLE").unwrap()..]))
        .collect()
}

const WEBSERVICE_TABLES: [&str; 3] = [
    "webservice_account",
    "webservice_permission",
    "webservice_account_shop",
];

fn key_id(db: &TestDb) -> u32 {
    admin::list(&mut db.conn(), &db.tables)
        .unwrap()
        .last()
        .unwrap()
        .id
}

/// `keys revoke` (`false`) / `keys enable` (`true`), as the CLI runs them.
fn set_active(app: &TestApp, id: u32, active: bool) {
    admin::set_active(
        &mut app.db.conn(),
        &app.db.tables,
        id,
        active,
        "2024-01-01 00:00:00",
    )
    .unwrap();
}

fn codes(r: &Response) -> Vec<String> {
    r.text()
        .split("<code><![CDATA[")
        .skip(1)
        .map(|s| s[..s.find(']').unwrap()].to_owned())
        .collect()
}

fn put(app: &TestApp, key: &str, body: &str) -> Response {
    app.raw(
        &format!(
            "PUT /api/customer_threads HTTP/1.1\r\nAuthorization: {}",
            basic(key)
        ),
        body.as_bytes(),
    )
}

// --- revocation and changes at once ---

#[test]
fn a_revoked_key_is_refused_on_the_very_next_request_without_a_refresh() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let id = key_id(&app.db);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 200);
    assert_eq!(app.state.keys.len(), 1, "the verification is cached");

    set_active(&app, id, false);
    // No refresh: the request's own statement sees the new generation.
    let r = app.get(&key, "/api/customer_threads");
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(codes(&r), ["20", "21"]);
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 401);
    assert_eq!(app.get(&key, "/api/customer_threads/999").status, 401);

    set_active(&app, id, true);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
}

/// Requests that run no statement of their own learn of a key change from the key
/// generation poll: within `THREADGATE_KEY_POLL_MS`, with no snapshot refresh.
#[test]
fn a_revoked_key_is_refused_by_statement_free_routes_after_the_next_poll() {
    let mut settings = serve_settings();
    settings.key_poll_ms = 50;
    settings.config_refresh = 3600;
    let app = TestApp::with_background(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let id = key_id(&app.db);
    let m10 = |key: &str| {
        app.raw(
            &format!("GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {key}"),
            b"",
        )
    };
    assert_eq!(app.get(&key, "/api/").status, 200);
    assert_eq!(
        app.get(&key, "/api/customer_threads?schema=blank").status,
        200
    );
    assert_eq!(m10(&key).status, 200);
    assert_eq!(m10(&key).status, 200, "served from the bridge cache");

    set_active(&app, id, false);
    // Not a measurement: waits (at most 10 s each) for two polls to end, so that one of them
    // began after the change.
    let state = app.state.clone();
    actix_web::rt::System::new().block_on(async move {
        for _ in 0..2 {
            let polled = state.key_polled.notified();
            actix_web::rt::time::timeout(std::time::Duration::from_secs(10), polled)
                .await
                .expect("the poll never ran");
        }
    });
    let r = app.get(&key, "/api/");
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(codes(&r), ["20", "21"]);
    assert_eq!(
        app.get(&key, "/api/customer_threads?schema=blank").status,
        401
    );
    let r = m10(&key);
    assert_eq!(
        (r.status, r.text()),
        (401, r#"{"status":401,"message":"Invalid API key"}"#)
    );
}

#[test]
fn a_revoked_key_writes_nothing() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let id = key_id(&app.db);
    assert_eq!(app.get(&key, "/api/customer_threads/2").status, 200);
    set_active(&app, id, false);
    let r = put(
        &app,
        &key,
        "<prestashop><customer_thread><id>2</id><email>new@example.com</email></customer_thread></prestashop>",
    );
    assert_eq!(r.status, 401, "{}", r.text());
    let rows = Sql::new("SELECT email FROM `ps_customer_thread` WHERE id_customer_thread = 2")
        .load(&mut app.db.conn())
        .unwrap();
    assert_eq!(rows[0].0[0].as_deref(), Some("guest@example.com"));
    let delete = app.request("DELETE", &key, "/api/customer_threads/2", &[]);
    assert_eq!(delete.status, 401);
}

#[test]
fn a_denied_permission_applies_on_the_next_request() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let id = key_id(&app.db);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    admin::change_grants(
        &mut app.db.conn(),
        &app.db.tables,
        id,
        &admin::GrantChange {
            resources: vec!["customer_threads".into()],
            methods: vec![Method::Get],
            shops: vec![],
            add: false,
        },
        "2024-01-01 00:00:00",
    )
    .unwrap();
    let r = app.get(&key, "/api/customer_threads");
    assert_eq!(r.status, 405, "{}", r.text());
    assert_eq!(codes(&r), ["25"]);
    assert_eq!(app.get(&key, "/api/customer_messages").status, 200);
}

// --- failed-authentication limit ---

#[test]
fn a_hundred_wrong_keys_from_one_address_get_429_and_another_address_still_gets_in() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let before = app.state.keys.verifications();
    let mut statuses = Vec::new();
    let mut last = None;
    for i in 0..100 {
        let wrong = format!("{:0>32}", i);
        let r = app.raw_from(
            "127.0.0.1",
            &format!(
                "GET /api/customer_threads HTTP/1.1\r\nAuthorization: {}",
                basic(&wrong)
            ),
            b"",
        );
        statuses.push(r.status);
        last = Some(r);
    }
    assert!(statuses[..20].iter().all(|&s| s == 401), "{statuses:?}");
    assert!(statuses[20..].iter().all(|&s| s == 429), "{statuses:?}");
    let r = last.unwrap();
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n<error>\n<code><![CDATA[0]]></code>\n<message><![CDATA[Too many failed authentication attempts from this address, retry later]]></message>\n</error>\n</errors>\n</prestashop>\n"
    );
    assert_eq!(r.header("PSWS-Version"), None);
    assert_eq!(
        app.state.keys.verifications(),
        before,
        "no argon2 for wrong keys"
    );

    let ok = app.raw_from(
        "127.0.0.2",
        &format!(
            "GET /api/customer_threads HTTP/1.1\r\nAuthorization: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(ok.status, 200);
    // The bridges share the limit (a key never verified is refused; tests/api/safety.rs has
    // the good keys that still pass).
    let m10 = app.raw_from(
        "127.0.0.1",
        &format!(
            "GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {}",
            "Z".repeat(32)
        ),
        b"",
    );
    assert_eq!(m10.status, 429);
    assert!(m10.header("Retry-After").is_some());
}

#[test]
fn successful_requests_are_never_throttled() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for _ in 0..40 {
        let r = app.raw_from(
            "127.0.0.3",
            &format!(
                "GET /api/customer_threads HTTP/1.1\r\nAuthorization: {}",
                basic(&key)
            ),
            b"",
        );
        assert_eq!(r.status, 200);
    }
    assert!(app.state.limiter.is_empty());
}

// --- timing: how it was checked ---

/// A wrong key costs the same work whether it is random or shares 31 characters with a real
/// key: one indexed look-up of its 16-bit bucket, and no argon2 (the near miss hashes to
/// another bucket). So the two cannot be told apart by their timing; counted, not timed.
#[test]
fn a_near_miss_and_a_random_wrong_key_cost_the_same_no_argon2() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    app.refresh();
    let bucket = lookup_bucket(&normalize(&key));
    let near = ('A'..='Z')
        .chain('0'..='9')
        .map(|c| format!("{}{c}", &key[..31]))
        .find(|k| *k != key && lookup_bucket(k) != bucket)
        .unwrap();
    let random = ('A'..='Z')
        .map(|c| c.to_string().repeat(32))
        .find(|k| lookup_bucket(k) != bucket)
        .unwrap();
    let before = app.state.keys.verifications();
    for wrong in [&near, &random] {
        let r = app.get(wrong, "/api/customer_threads");
        assert_eq!(r.status, 401);
        assert_eq!(codes(&r), ["20", "21"]);
        assert!(!r.text().contains(wrong.as_str()));
    }
    assert_eq!(app.state.keys.verifications(), before);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    assert_eq!(app.state.keys.verifications(), before + 1);
}

// --- keys list, last use ---

#[test]
fn keys_list_shows_grants_and_times_and_never_the_key() {
    let app = TestApp::spawn();
    let key = app
        .db
        .key(&["customer_threads"], &[Method::Get, Method::Head], &[1]);
    let keys = admin::list(&mut app.db.conn(), &app.db.tables).unwrap();
    let k = &keys[0];
    assert!(k.active);
    assert_eq!(k.description, "test");
    assert_eq!(
        k.permissions,
        [
            ("customer_threads".to_string(), "GET".to_string()),
            ("customer_threads".to_string(), "HEAD".to_string())
        ]
    );
    assert_eq!(k.shops, [1]);
    assert_eq!(k.created, "2024-01-01 00:00:00");
    assert_eq!(k.last_used, None);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    app.refresh();
    let k = admin::list(&mut app.db.conn(), &app.db.tables)
        .unwrap()
        .remove(0);
    let used = k
        .last_used
        .clone()
        .expect("last use recorded by the refresh");
    let paris = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H")
        .to_string();
    assert!(used.starts_with(&paris), "{used} is in shop time");
    let json = serde_json::to_string(&k).unwrap();
    assert!(!json.to_uppercase().contains(&key.to_uppercase()));
    assert!(!json.contains("argon2"));
}

#[test]
fn the_keys_commands_work_end_to_end() {
    let db = TestDb::seeded("cli_");
    let run = |args: &[&str]| -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("THREADGATE_TABLE_PREFIX", "cli_")
            .env("THREADGATE_ARGON2_MEMORY_KIB", "1024")
            .env("THREADGATE_ARGON2_ITERATIONS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let created: serde_json::Value = serde_json::from_str(&run(&[
        "keys",
        "create",
        "--resource",
        "customer_threads",
        "--method",
        "GET,HEAD",
        "--description",
        "helpdesk",
        "--json",
    ]))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 32);
    let id = created["id"].as_u64().unwrap().to_string();
    run(&[
        "keys",
        "grant",
        &id,
        "--resource",
        "customer_messages",
        "--method",
        "GET",
    ]);
    run(&["keys", "revoke", &id]);
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["keys", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["active"], false);
    assert_eq!(listed[0]["description"], "helpdesk");
    assert_eq!(listed[0]["permissions"].as_array().unwrap().len(), 3);
    let text = run(&["keys", "list"]);
    assert!(
        text.contains("REVOKED") && text.contains("helpdesk"),
        "{text}"
    );
    assert!(!text.contains(&key) && !listed.to_string().contains(&key));
    run(&["keys", "enable", &id]);
    run(&[
        "keys",
        "deny",
        &id,
        "--resource",
        "customer_threads",
        "--method",
        "HEAD",
    ]);
    let listed: serde_json::Value =
        serde_json::from_str(&run(&["keys", "list", "--json"])).unwrap();
    assert_eq!(listed[0]["active"], true);
    assert_eq!(listed[0]["permissions"].as_array().unwrap().len(), 2);
}

// --- PrestaShop's own keys ---

pub(crate) const PS_KEY: &str = "UCCLLQ9N2ARSHWCXLT74KUKSSK34BFKX";

pub(crate) fn shop_account(db: &TestDb) {
    db.exec(&fixture(Some(&WEBSERVICE_TABLES)));
    db.exec(&format!(
        "INSERT INTO `ps_webservice_account` (`id_webservice_account`, `key`, `description`, `active`) VALUES (3, '{PS_KEY}', 'ERP', 1), (4, 'SHORT', 'broken', 1);
         INSERT INTO `ps_webservice_permission` (`resource`, `method`, `id_webservice_account`) VALUES
           ('customer_threads', 'GET', 3), ('customer_threads', 'PUT', 3), ('customer_messages', 'GET', 3);
         INSERT INTO `ps_webservice_account_shop` (`id_webservice_account`, `id_shop`) VALUES (3, 1);"
    ));
}

#[test]
fn the_prestashop_source_reads_the_shops_tables_as_prestashop_does() {
    let db = TestDb::seeded("ps_");
    shop_account(&db);
    let mut settings = serve_settings();
    settings.auth_source = KeySource::Prestashop;
    settings.prestashop_key_ttl = 0;
    let app = TestApp::with(db, settings);
    assert_eq!(app.get(PS_KEY, "/api/customer_threads").status, 200);
    assert_eq!(
        app.get(&PS_KEY.to_lowercase(), "/api/customer_threads")
            .status,
        200,
        "the _ci collation matches any case"
    );
    let r = app.request("HEAD", PS_KEY, "/api/customer_threads", &[]);
    assert_eq!(r.status, 405);
    let r = app.get(PS_KEY, "/api/customer_threads?id_shop=2");
    assert_eq!(r.status, 403);
    assert_eq!(codes(&r), ["132"]);

    // A Back Office change shows up once the (here zero) TTL has passed.
    app.db
        .exec("UPDATE `ps_webservice_account` SET `active` = 0 WHERE `id_webservice_account` = 3");
    let r = app.get(PS_KEY, "/api/customer_threads");
    assert_eq!(r.status, 401);
    assert_eq!(codes(&r), ["20", "21"]);
}

#[test]
fn import_prestashop_keeps_clients_keys_and_is_idempotent() {
    let db = TestDb::seeded("ps_");
    shop_account(&db);
    let cost = Argon2Settings::default();
    let report =
        admin::import_prestashop(&mut db.conn(), &db.tables, &cost, "2024-01-01 00:00:00").unwrap();
    assert_eq!(report.created.len(), 1);
    assert_eq!(report.skipped, [4]);
    let again =
        admin::import_prestashop(&mut db.conn(), &db.tables, &cost, "2024-01-01 00:00:00").unwrap();
    assert!(again.created.is_empty());
    assert_eq!(again.updated, report.created);
    let keys = admin::list(&mut db.conn(), &db.tables).unwrap();
    assert_eq!(keys.len(), 1, "no duplicate");
    assert_eq!(keys[0].imported_from, Some(3));
    assert_eq!(keys[0].shops, [1]);
    assert_eq!(keys[0].permissions.len(), 3);

    let app = TestApp::with(db, serve_settings());
    assert_eq!(app.get(PS_KEY, "/api/customer_threads").status, 200);
    // Deactivated in the Back Office, then imported again: the copy follows.
    app.db
        .exec("UPDATE `ps_webservice_account` SET `active` = 0 WHERE `id_webservice_account` = 3");
    admin::import_prestashop(
        &mut app.db.conn(),
        &app.db.tables,
        &cost,
        "2024-01-01 00:00:00",
    )
    .unwrap();
    assert_eq!(app.get(PS_KEY, "/api/customer_threads").status, 401);
}

// --- no key in plain text anywhere ---

/// Every value of every table of the database, as text.
fn dump(db: &TestDb) -> String {
    let mut conn = db.conn();
    let mut q = Sql::new(
        "SELECT table_name, GROUP_CONCAT(CONCAT('CAST(`', column_name, '` AS CHAR)')) FROM information_schema.columns WHERE table_schema = ",
    );
    q.bind_text(db.name.as_str()).push(" GROUP BY table_name");
    let mut out = String::new();
    for t in q.load(&mut conn).unwrap() {
        let (table, cols) = (t.0[0].clone().unwrap(), t.0[1].clone().unwrap());
        for row in Sql::new(format!("SELECT CONCAT_WS('|', {cols}) FROM `{table}`"))
            .load(&mut conn)
            .unwrap()
        {
            out.push_str(&table);
            out.push(':');
            out.push_str(row.0[0].as_deref().unwrap_or(""));
            out.push('\n');
        }
    }
    out
}

#[test]
fn no_key_in_plain_text_in_the_database_the_logs_or_error_bodies() {
    let logs = crate::support::capture_logs();
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let near = format!(
        "{}{}",
        &key[..31],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    let wrong = app.get(&near, "/api/customer_threads");
    assert_eq!(wrong.status, 401);
    let short = app.get(&key[..20], "/api/customer_threads");
    assert_eq!(short.status, 401);
    let m10 = app.raw(
        &format!("GET /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {near}"),
        b"",
    );
    assert_eq!(m10.status, 401);
    app.refresh();

    let needle = key.to_lowercase();
    let near_needle = near.to_lowercase();
    let dump = dump(&app.db).to_lowercase();
    assert!(dump.contains("$argon2id$"), "the dump holds the hashes");
    assert!(!dump.contains(&needle), "the key is in the database");
    let logged = logs.text().to_lowercase();
    assert!(!logged.contains(&needle) && !logged.contains(&near_needle));
    assert!(!logged.contains(&needle[..20]));
    for r in [&wrong, &short, &m10] {
        let body = r.text().to_lowercase();
        assert!(!body.contains(&near_needle) && !body.contains(&needle[..20]));
    }
}

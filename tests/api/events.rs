//! The event log (docs/events.md): the outbox of threadgate's writes, the watcher of outside
//! changes, and the change feed `GET /threadgate/v1/changes`, whose every answer is checked
//! against docs/openapi/changes.json.

use serde_json::{json, Value};
use threadgate::config::Switch;
use threadgate::db::events::Polled;
use threadgate::db::sql::Sql;
use threadgate::events;
use threadgate::resource::Method;

use crate::support::http::basic;
use crate::support::{serve_settings, Response, TestApp, TestDb};

const OPENAPI: &str = include_str!("../../docs/openapi/changes.json");
const FEED: &str = "/threadgate/v1/changes";

/// Validates a feed answer against the OpenAPI document (its schema for the status).
fn check_openapi(r: &Response) {
    let doc: Value = serde_json::from_str(OPENAPI).expect("docs/openapi/changes.json is JSON");
    let resp = &doc["paths"][FEED]["get"]["responses"][r.status.to_string()];
    assert!(!resp.is_null(), "status {} is not documented", r.status);
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "$ref": resp["content"]["application/json"]["schema"]["$ref"],
    });
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let body: Value = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{e}: {} {}", r.status, r.text()));
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?} in {body}");
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
}

fn feed(app: &TestApp, key: &str, query: &str) -> Response {
    let r = app.get(key, &format!("{FEED}{query}"));
    check_openapi(&r);
    r
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Every event after `cursor` (none: from the start), read page by page; and the last cursor.
fn all_events(app: &TestApp, key: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
    let mut out = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=1000&cursor={c}"),
            None => "?limit=1000".into(),
        };
        let r = feed(app, key, &q);
        assert_eq!(r.status, 200, "{}", r.text());
        let b = body(&r);
        out.extend(b["events"].as_array().unwrap().iter().cloned());
        cursor = Some(b["cursor"].as_str().unwrap().to_owned());
        if b["end_of_stream"] == json!(true) {
            return (out, cursor.unwrap());
        }
    }
}

/// The events without their ids and times (checked for shape by the OpenAPI schema).
fn bare(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            let mut e = e.clone();
            let o = e.as_object_mut().unwrap();
            o.remove("id");
            o.remove("created_at");
            e
        })
        .collect()
}

fn send(app: &TestApp, method: &str, key: &str, path: &str, body: &str) -> Response {
    app.send(method, key, path, "application/xml", body.as_bytes())
}

fn scalar(db: &TestDb, sql: &str) -> String {
    let sql = threadgate::db::migrations::apply_prefix(sql, &db.tables.prefix);
    Sql::new(sql).load(&mut db.conn()).unwrap()[0].0[0]
        .clone()
        .unwrap_or_default()
}

fn event_count(db: &TestDb) -> i64 {
    scalar(
        db,
        "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_threadgate_event`",
    )
    .parse()
    .unwrap()
}

fn key_id(db: &TestDb) -> u64 {
    scalar(
        db,
        "SELECT CAST(MAX(id_key) AS CHAR) FROM `ps_threadgate_key`",
    )
    .parse()
    .unwrap()
}

fn poll(app: &TestApp) -> Polled {
    poll_with(app, true)
}

/// A watcher poll, with the scan for changed threads (`scan_updates`) or not.
fn poll_with(app: &TestApp, scan_updates: bool) -> Polled {
    let state = app.state.clone();
    actix_web::rt::System::new()
        .block_on(async move { state.watch_events(scan_updates).await })
        .expect("watcher poll")
}

fn found(n: usize) -> Polled {
    Polled {
        appended: n,
        ..Polled::default()
    }
}

const NEW_THREAD: &str = "<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status></customer_thread></prestashop>";

#[test]
fn every_write_appends_exactly_its_events_in_its_transaction() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let k = key_id(&app.db);

    let r = send(&app, "POST", &key, "/api/customer_threads", NEW_THREAD);
    assert_eq!(r.status, 201, "{}", r.text());
    let t4 = scalar(
        &app.db,
        "SELECT CAST(date_upd AS CHAR) FROM `ps_customer_thread` WHERE id_customer_thread = 4",
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?notify_customer=0",
        "<prestashop><customer_message><id_customer_thread>4</id_customer_thread><id_employee>1</id_employee><message>On its way</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = app.raw(
        &format!("POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: application/xml\r\nX-Threadgate-Notify-Customer: 1", basic(&key)),
        b"<prestashop><customer_message><id_customer_thread>4</id_customer_thread><message>Note</message><private>1</private></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let r = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        "<prestashop><customer_thread><id>3</id><status>closed</status></customer_thread></prestashop>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let t3 = scalar(
        &app.db,
        "SELECT CAST(date_upd AS CHAR) FROM `ps_customer_thread` WHERE id_customer_thread = 3",
    );
    let r = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_messages",
        "<prestashop><customer_message><id>2</id><message>Edited</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.request("DELETE", &key, "/api/customer_threads/1", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let r = app.request("DELETE", &key, "/api/customer_messages/2", &[]);
    assert_eq!(r.status, 200, "{}", r.text());

    let (events, _) = all_events(&app, &key, None);
    let ids: Vec<u64> = events.iter().map(|e| e["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (1..=9).collect::<Vec<u64>>());
    let api = |t: &str, thread: u32, message: Option<u32>, data: Value| {
        json!({"type": t, "id_shop": 1, "id_customer_thread": thread, "id_customer_message": message,
               "source": "api", "id_key": k, "data": data})
    };
    assert_eq!(
        bare(&events),
        [
            api(
                "thread.created",
                4,
                None,
                json!({"status": "open", "date_upd": t4})
            ),
            api(
                "message.created",
                4,
                Some(4),
                json!({"id_employee": 1, "private": 0, "notify_customer": false})
            ),
            api(
                "message.created",
                4,
                Some(5),
                json!({"id_employee": 0, "private": 1, "notify_customer": true})
            ),
            api(
                "thread.updated",
                3,
                None,
                json!({"changed": ["status", "date_upd"], "status": "closed", "date_upd": t3})
            ),
            api(
                "message.updated",
                3,
                Some(2),
                json!({"changed": ["message", "date_upd"]})
            ),
            api("message.deleted", 1, Some(1), json!({})),
            api("message.deleted", 1, Some(3), json!({})),
            api("thread.deleted", 1, None, json!({})),
            api("message.deleted", 3, Some(2), json!({})),
        ]
    );
}

#[test]
fn a_failed_write_appends_no_event() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    // Validation (85), an unknown id (92), the second entity of two invalid, a missing id (87).
    let r = send(&app, "POST", &key, "/api/customer_threads",
        "<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_contact>2</id_contact><email>a@b.c</email><status>nope</status></customer_thread></prestashop>");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = send(&app, "PUT", &key, "/api/customer_threads",
        "<prestashop><customer_thread><id>999</id><id_lang>1</id_lang><id_contact>2</id_contact><email>a@b.c</email></customer_thread></prestashop>");
    assert_eq!(r.status, 404, "{}", r.text());
    let two = NEW_THREAD.replace(
        "</prestashop>",
        "<customer_thread><id_lang>1</id_lang><id_contact>2</id_contact><email>not an e-mail</email><token>x</token></customer_thread></prestashop>",
    );
    let r = send(&app, "POST", &key, "/api/customer_threads", &two);
    assert_eq!(r.status, 400, "{}", r.text());
    let r = app.request("DELETE", &key, "/api/customer_threads?id=[1,999]", &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(event_count(&app.db), 0);
    assert_eq!(
        scalar(
            &app.db,
            "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_thread`"
        ),
        "3"
    );
}

#[test]
fn with_events_off_writes_append_nothing() {
    let mut settings = serve_settings();
    settings.events = Switch::Off;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let r = send(&app, "POST", &key, "/api/customer_threads", NEW_THREAD);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(event_count(&app.db), 0);
}

/// A thread and its first message as PrestaShop's contact form writes them
/// (`ContactController::postProcess`: `CustomerThread::add`, then `CustomerMessage::add`), each
/// statement committed on its own.
fn front_office_message(db: &TestDb, now: &str) {
    db.exec(&format!(
        "INSERT INTO `ps_customer_thread` (id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, token, date_add, date_upd)
         VALUES (1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', 'Qw3Er4Ty5Ui6', '{now}', '{now}');
         INSERT INTO `ps_customer_message` (id_customer_thread, id_employee, message, ip_address, user_agent, date_add, date_upd, private, `read`)
         VALUES (LAST_INSERT_ID(), 0, 'Where is my parcel?', '2130706433', 'Mozilla/5.0', '{now}', '{now}', 0, 0);"
    ));
}

#[test]
fn the_watcher_logs_outside_changes_once_and_never_threadgate_writes() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let started = poll(&app);
    assert!(started.started, "{started:?}");
    assert_eq!(poll(&app), found(0), "the demo rows are not news");

    // threadgate's own writes are logged by their transactions, never again by the watcher.
    let r = send(&app, "POST", &key, "/api/customer_threads", NEW_THREAD);
    assert_eq!(r.status, 201, "{}", r.text());
    let r = send(&app, "POST", &key, "/api/customer_messages",
        "<prestashop><customer_message><id_customer_thread>4</id_customer_thread><message>Hello</message></customer_message></prestashop>");
    assert_eq!(r.status, 201, "{}", r.text());
    let r = send(&app, "PATCH", &key, "/api/customer_threads",
        "<prestashop><customer_thread><id>2</id><status>open</status></customer_thread></prestashop>");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(poll(&app), found(0));
    assert_eq!(event_count(&app.db), 3);

    // The shop's contact form: a thread and its message, logged once.
    let now = app.state.shop_now();
    front_office_message(&app.db, &now);
    assert_eq!(poll(&app), found(2));
    assert_eq!(poll(&app), found(0));
    // The Back Office closes thread 3.
    app.db.exec(&format!(
        "UPDATE `ps_customer_thread` SET status = 'closed', date_upd = '{now}' WHERE id_customer_thread = 3"
    ));
    assert_eq!(poll(&app), found(1));
    assert_eq!(poll(&app), found(0));

    let (events, _) = all_events(&app, &key, None);
    let shop = |t: &str, thread: u32, message: Option<u32>, data: Value| {
        json!({"type": t, "id_shop": 1, "id_customer_thread": thread, "id_customer_message": message,
               "source": "shop", "id_key": null, "data": data})
    };
    assert_eq!(
        bare(&events[3..]),
        [
            shop(
                "thread.created",
                5,
                None,
                json!({"status": "open", "date_upd": now})
            ),
            shop(
                "message.created",
                5,
                Some(5),
                json!({"id_employee": 0, "private": 0, "notify_customer": false})
            ),
            shop(
                "thread.updated",
                3,
                None,
                json!({"changed": ["date_upd"], "status": "closed", "date_upd": now})
            ),
        ]
    );

    // A second node on the same database shares the marks: nothing is logged twice.
    let other = TestApp::with(
        TestDb::attached(&app.db.name, &app.db.url, "ps_"),
        serve_settings(),
    );
    assert_eq!(poll(&other), found(0));
    front_office_message(&app.db, &now);
    assert_eq!(poll(&other), found(2));
    assert_eq!(poll(&app), found(0));
    assert_eq!(event_count(&app.db), 8);

    // Changed threads are found by the polls that scan for them (THREADGATE_EVENTS_UPDATES_MS).
    // A second after the API's PATCH of thread 2 (within its second it could not be told apart).
    let later = (chrono::NaiveDateTime::parse_from_str(&now, "%Y-%m-%d %H:%M:%S").unwrap()
        + chrono::Duration::seconds(1))
    .format("%Y-%m-%d %H:%M:%S")
    .to_string();
    app.db.exec(&format!(
        "UPDATE `ps_customer_thread` SET status = 'pending1', date_upd = '{later}' WHERE id_customer_thread = 2"
    ));
    assert_eq!(poll_with(&app, false), found(0));
    assert_eq!(poll_with(&app, true), found(1));
    assert_eq!(poll_with(&app, true), found(0));
}

/// More changed threads than one scan reads (`watch::BATCH`), all with one `date_upd`: the
/// scan is cut, the next goes on after the cut in the scan's order (`date_upd`, then the id
/// descending, `db::events::changed_threads_sql`), and each thread is logged exactly once.
#[test]
fn a_scan_cut_at_its_row_limit_goes_on_after_the_cut_and_logs_each_thread_once() {
    let app = TestApp::spawn();
    threadgate::seed::bulk(&mut app.db.conn(), &app.db.tables, 6_000, 0).unwrap();
    assert!(poll(&app).started);
    let total: i64 = scalar(
        &app.db,
        "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_thread`",
    )
    .parse()
    .unwrap();
    assert!(total > threadgate::events::watch::BATCH, "{total} threads");
    let now = app.state.shop_now();
    app.db.exec(&format!(
        "UPDATE `ps_customer_thread` SET date_upd = '{now}'"
    ));
    let batch = threadgate::events::watch::BATCH as usize;
    assert_eq!(poll(&app), found(batch), "the first scan is cut");
    assert_eq!(
        poll(&app),
        found(total as usize - batch),
        "the rest, after the cut"
    );
    assert_eq!(poll(&app), found(0), "nothing twice");
    let logged = |sql: &str| -> i64 { scalar(&app.db, sql).parse().unwrap() };
    assert_eq!(
        logged("SELECT CAST(COUNT(DISTINCT id_customer_thread) AS CHAR) FROM `ps_threadgate_event` WHERE `type` = 'thread.updated'"),
        total
    );
    assert_eq!(event_count(&app.db), total);
}

#[test]
fn a_row_whose_insert_commits_after_a_later_one_is_not_missed() {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn();
    poll(&app);
    let db = &app.db;
    let insert = |thread: u32| {
        threadgate::db::migrations::apply_prefix(&format!(
            "INSERT INTO `ps_customer_message` (id_customer_thread, id_employee, message, date_add, date_upd, private, `read`)
             VALUES ({thread}, 0, 'late', '2024-05-01 00:00:00', '2024-05-01 00:00:00', 0, 0)"
        ), &db.tables.prefix)
    };
    // Message 4 is inserted first but committed last.
    let mut slow = db.conn();
    slow.batch_execute(&format!("START TRANSACTION; {};", insert(2)))
        .unwrap();
    db.conn().batch_execute(&insert(3)).unwrap();
    assert_eq!(poll(&app), found(1));
    slow.batch_execute("COMMIT").unwrap();
    assert_eq!(poll(&app), found(1));
    assert_eq!(poll(&app), found(0));
    let key = db.full_key();
    let (events, _) = all_events(&app, &key, None);
    let messages: Vec<(u64, u64)> = events
        .iter()
        .map(|e| {
            (
                e["id_customer_message"].as_u64().unwrap(),
                e["id_customer_thread"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(messages, [(5, 3), (4, 2)]);
}

/// 10 000 events in one statement, as fast as the database takes them.
fn bulk_events(db: &TestDb, n: u32) {
    db.exec(&format!(
        "INSERT INTO `ps_threadgate_event` (`type`, id_customer_thread, id_customer_message, id_shop, source, id_key, data, created_at)
         SELECT IF(seq % 2 = 0, 'message.created', 'thread.updated'), 1 + seq % 3, IF(seq % 2 = 0, seq, NULL), 1, 'shop', NULL,
                IF(seq % 2 = 0, '{{\"id_employee\":0,\"notify_customer\":false,\"private\":0}}', NULL), UTC_TIMESTAMP(6)
         FROM seq_1_to_{n}"
    ));
}

#[test]
fn the_feed_pages_through_10000_events_without_gap_or_duplicate_across_a_restart() {
    let db = TestDb::seeded("ps_");
    let key = db.full_key();
    bulk_events(&db, 10_000);
    let app = TestApp::with(TestDb::attached(&db.name, &db.url, "ps_"), serve_settings());
    let mut seen: Vec<u64> = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..4 {
        let q = match &cursor {
            Some(c) => format!("?limit=999&cursor={c}"),
            None => "?limit=999".into(),
        };
        let b = body(&feed(&app, &key, &q));
        assert_eq!(b["end_of_stream"], json!(false));
        seen.extend(
            b["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_u64().unwrap()),
        );
        cursor = Some(b["cursor"].as_str().unwrap().to_owned());
    }
    drop(app);
    // Another server process on the same database goes on from the cursor.
    let app = TestApp::with(TestDb::attached(&db.name, &db.url, "ps_"), serve_settings());
    let (rest, last) = all_events(&app, &key, cursor.as_deref());
    seen.extend(rest.iter().map(|e| e["id"].as_u64().unwrap()));
    assert_eq!(seen, (1..=10_000).collect::<Vec<u64>>());
    // At the end: an empty page, the same cursor, end of stream.
    let r = feed(&app, &key, &format!("?cursor={last}"));
    assert_eq!(
        body(&r),
        json!({"events": [], "cursor": last, "end_of_stream": true})
    );
    assert_eq!(last, events::encode_cursor(10_000));
}

#[test]
fn a_cursor_older_than_the_oldest_kept_event_is_410() {
    let db = TestDb::seeded("ps_");
    let key = db.full_key();
    bulk_events(&db, 30);
    db.exec("UPDATE `ps_threadgate_event` SET created_at = UTC_TIMESTAMP(6) - INTERVAL 31 DAY WHERE id <= 20");
    let app = TestApp::with(TestDb::attached(&db.name, &db.url, "ps_"), serve_settings());
    let state = app.state.clone();
    let purged = actix_web::rt::System::new()
        .block_on(async move { state.purge_events().await })
        .unwrap();
    assert_eq!(purged, 20);
    let r = feed(&app, &key, &format!("?cursor={}", events::encode_cursor(5)));
    assert_eq!(r.status, 410);
    assert_eq!(
        body(&r),
        json!({"error": {"status": 410, "code": "cursor_expired",
            "message": "Events after this cursor were purged (they are kept 30 days; every event up to #20 is gone): read the feed again without a cursor and resynchronise"}})
    );
    // The purge's mark itself is fine, and no cursor starts at the oldest kept event.
    let r = feed(
        &app,
        &key,
        &format!("?cursor={}&limit=1", events::encode_cursor(20)),
    );
    assert_eq!(r.status, 200);
    assert_eq!(body(&r)["events"][0]["id"], json!(21));
    let r = feed(&app, &key, "?limit=1");
    assert_eq!(body(&r)["events"][0]["id"], json!(21));
}

#[test]
fn a_key_sees_only_the_events_of_its_resources_and_shops() {
    let db = TestDb::seeded("ps_");
    db.exec("INSERT INTO `ps_shop` (id_shop, id_shop_group, name, id_category, theme_name) VALUES (2, 1, 'Second', 2, 'classic')");
    db.exec(
        "INSERT INTO `ps_threadgate_event` (`type`, id_customer_thread, id_customer_message, id_shop, source, created_at) VALUES
         ('thread.created', 1, NULL, 1, 'shop', UTC_TIMESTAMP(6)),
         ('message.created', 1, 1, 1, 'shop', UTC_TIMESTAMP(6)),
         ('thread.created', 9, NULL, 2, 'shop', UTC_TIMESTAMP(6)),
         ('message.created', 9, 9, 2, 'shop', UTC_TIMESTAMP(6))",
    );
    let threads_shop1 = db.key(&["customer_threads"], &[Method::Get], &[1]);
    let messages_all = db.key(&["customer_messages"], &[Method::Get], &[1, 2]);
    let no_get = db.key(
        &["customer_threads", "customer_messages"],
        &[Method::Post],
        &[1, 2],
    );
    let app = TestApp::with(TestDb::attached(&db.name, &db.url, "ps_"), serve_settings());
    let ids = |key: &str| -> Vec<u64> {
        all_events(&app, key, None)
            .0
            .iter()
            .map(|e| e["id"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(ids(&threads_shop1), [1]);
    assert_eq!(ids(&messages_all), [2, 4]);
    // A key that sees nothing of a page still moves on past it.
    let b = body(&feed(&app, &threads_shop1, "?cursor=AQAAAAAAAAAB"));
    assert_eq!(
        b,
        json!({"events": [], "cursor": events::encode_cursor(4), "end_of_stream": true})
    );
    // The same through db::events::feed, as the delivery worker reads the log.
    let page = |after: u64, limit: u32, filter: &events::Filter| -> Vec<u64> {
        threadgate::db::events::feed(
            &mut db.conn(),
            &db.tables,
            Some(after),
            limit,
            filter,
            serve_settings().gap_wait(),
        )
        .unwrap()
        .events
        .iter()
        .map(|e| e.id)
        .collect()
    };
    assert_eq!(page(1, 2, &events::Filter::everything()), [2, 3]);
    let messages_shop2 = events::Filter {
        threads: false,
        messages: true,
        shops: Some(vec![2]),
    };
    assert_eq!(page(0, 10, &messages_shop2), [4]);
    let r = feed(&app, &no_get, "");
    assert_eq!(r.status, 403);
    assert_eq!(body(&r)["error"]["code"], json!("forbidden"));
}

#[test]
fn feed_errors_are_json_with_their_status() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.raw(&format!("GET {FEED} HTTP/1.1"), b"");
    check_openapi(&r);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"threadgate\"")
    );
    assert_eq!(body(&r)["error"]["code"], json!("unauthorized"));
    let r = app.raw(
        &format!("GET {FEED}?ws_key=NOTAKEYNOTAKEYNOTAKEYNOTAKEY1234 HTTP/1.1"),
        b"",
    );
    check_openapi(&r);
    assert_eq!(r.status, 401);
    let r = feed(&app, &key, "?cursor=nope");
    assert_eq!(r.status, 400);
    assert_eq!(body(&r)["error"]["code"], json!("invalid_cursor"));
    for limit in ["0", "1001", "x", "-1"] {
        let r = feed(&app, &key, &format!("?limit={limit}"));
        assert_eq!(r.status, 400, "limit={limit}");
        assert_eq!(
            body(&r),
            json!({"error": {"status": 400, "code": "invalid_limit", "message": "limit must be a whole number from 1 to 1000"}})
        );
    }
    let r = app.request("POST", &key, FEED, &[]);
    check_openapi(&r);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET"));
    // The key as ws_key works as on /api/.
    let r = app.raw(&format!("GET {FEED}?ws_key={key} HTTP/1.1"), b"");
    check_openapi(&r);
    assert_eq!(r.status, 200);
    assert_eq!(
        body(&r),
        json!({"events": [], "cursor": events::encode_cursor(0), "end_of_stream": true})
    );
}

#[test]
fn events_tail_prints_the_log() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = send(&app, "POST", &key, "/api/customer_threads", NEW_THREAD);
    assert_eq!(r.status, 201);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .args(["events", "tail", "--from", "start", "--json", "--once"])
        .env("DATABASE_URL", &app.db.url)
        .env("THREADGATE_TABLE_PREFIX", "ps_")
        .output()
        .expect("run threadgate events tail");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (events, _) = all_events(&app, &key, None);
    assert_eq!(lines, events);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .args([
            "events",
            "tail",
            "--from",
            &events::encode_cursor(0),
            "--once",
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .expect("run threadgate events tail");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("#1 "), "{text}");
    assert!(
        text.contains(" thread.created  shop=1 thread=4 source=api key="),
        "{text}"
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap().trim_end(),
        format!("cursor: {}", events::encode_cursor(1))
    );
}

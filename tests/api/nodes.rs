//! Several threadgate nodes on one database (docs/architecture.md, "Several nodes, one truth"):
//! a write through one node reaches the other nodes' bridge caches through the database's
//! data generation (write counters plus the event log's highest id), read by every node's key
//! poll.

use std::time::{Duration, Instant};

use serde_json::Value;
use threadgate::config::Switch;
use threadgate::db::shop::data_generation_sql;

use crate::support::http::basic;
use crate::support::{number, serve_settings, Response, TestApp, TestDb};

/// A second handle on the same database (the first one drops it).
fn same_database(db: &TestDb) -> TestDb {
    TestDb::attached(&db.name, &db.url, &db.tables.prefix)
}

/// The data generation as every node's key poll reads it.
fn data_generation(db: &TestDb) -> u64 {
    number(
        &mut db.conn(),
        &format!("SELECT {}", data_generation_sql(&db.tables)),
    )
}

/// The write counters alone (bumped by the writes that log no event).
fn write_counters(db: &TestDb) -> u64 {
    number(
        &mut db.conn(),
        &format!(
            "SELECT CAST(SUM(`writes`) AS CHAR) FROM `{}threadgate_data_generation`",
            db.tables.prefix
        ),
    )
}

fn m10_bodies(app: &TestApp, key: &str, thread: u32) -> Vec<String> {
    let r = app.raw(
        &format!(
            "GET /api/inbox/threads/{thread} HTTP/1.1\r\nAuthorization: {}",
            basic(key)
        ),
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let doc: Value = serde_json::from_slice(&r.body).unwrap();
    doc["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

fn post_message(app: &TestApp, key: &str, thread: u32, text: &str) -> Response {
    app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(key)
        ),
        format!(
            "<prestashop><customer_message><id_customer_thread>{thread}</id_customer_thread><message>{text}</message></customer_message></prestashop>"
        )
        .as_bytes(),
    )
}

/// Two nodes whose bridge cache outlives the test and whose key poll runs every 50 ms, without
/// the watcher (its log of an outside change would move the data generation too).
fn two_nodes() -> (TestApp, TestApp) {
    let mut settings = serve_settings();
    settings.bridge_cache_ms = 3_600_000;
    settings.key_poll_ms = 50;
    settings.events_watch_ms = 0;
    let db = TestDb::seeded("ps_");
    let twin = same_database(&db);
    (
        TestApp::with_background(db, settings.clone()),
        TestApp::with_background(twin, settings),
    )
}

/// Polls `f` every 50 ms until it holds or `limit` passes; returns whether it held.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_write_through_one_node_reaches_the_bridge_cache_of_the_other_within_the_key_poll() {
    let (a, b) = two_nodes();
    let key = a.db.full_key();
    let before = m10_bodies(&b, &key, 1);
    assert_eq!(
        before,
        ["Hello <b>world</b>\nline2", "Your order ships tomorrow."]
    );
    // A row written behind threadgate's back (as PrestaShop writes), with no watcher to log
    // it, moves no generation: node B keeps serving its cached read, past several key polls.
    a.db.exec(
        "INSERT INTO `ps_customer_message` (id_customer_thread, id_employee, message, date_add, date_upd, private, `read`) \
         VALUES (1, 1, 'behind the back', '2024-01-17 09:00:00', '2024-01-17 09:00:00', 0, 0)",
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(m10_bodies(&b, &key, 1), before, "still the cached read");

    let r = post_message(&a, &key, 1, "through node A");
    assert_eq!(r.status, 201, "{}", r.text());
    // Node B learns of the write from the database within its key poll (50 ms here; the
    // deadline only bounds a slow machine) and reads again: both new messages show.
    let mut seen = Vec::new();
    assert!(
        within(Duration::from_secs(5), || {
            seen = m10_bodies(&b, &key, 1);
            seen.len() == 4
        }),
        "node B still serves {seen:?}"
    );
    assert_eq!(
        seen,
        [
            "Hello <b>world</b>\nline2",
            "Your order ships tomorrow.",
            "behind the back",
            "through node A"
        ]
    );
    // And the other way round.
    let r = post_message(&b, &key, 1, "through node B");
    assert_eq!(r.status, 201, "{}", r.text());
    assert!(within(Duration::from_secs(5), || m10_bodies(&a, &key, 1)
        .last()
        .is_some_and(|m| m == "through node B")));
}

/// Writes through `app`: a message, two in one request, a refused one, a deletion and a
/// deletion of an unknown id; the data generation after each.
fn generations_through_writes(app: &TestApp) -> [u64; 6] {
    let key = app.db.full_key();
    let start = data_generation(&app.db);
    let r = post_message(app, &key, 1, "one");
    assert_eq!(r.status, 201, "{}", r.text());
    let one = data_generation(&app.db);
    // Two entities in one request: one transaction.
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(&key)
        ),
        b"<prestashop><customer_message><id_customer_thread>1</id_customer_thread><message>a</message></customer_message><customer_message><id_customer_thread>1</id_customer_thread><message>b</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let two = data_generation(&app.db);
    // Refused (validation, code 85): rolled back, the generation with it.
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(&key)
        ),
        b"<prestashop><customer_message><message>hi</message><private>2</private></customer_message></prestashop>",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let refused = data_generation(&app.db);
    let r = app.request("DELETE", &key, "/api/customer_messages/2", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    let deleted = data_generation(&app.db);
    let r = app.request("DELETE", &key, "/api/customer_messages/999", &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    [start, one, two, refused, deleted, data_generation(&app.db)]
}

#[test]
fn with_events_on_each_committed_write_moves_the_data_generation_by_its_events_and_a_refused_one_never(
) {
    let app = TestApp::spawn();
    let counters = write_counters(&app.db);
    let [start, one, two, refused, deleted, unknown] = generations_through_writes(&app);
    // The event log's highest id moves by the events appended: one, two, none, one, none.
    assert_eq!(
        [one, two, refused, deleted, unknown],
        [start + 1, start + 3, start + 3, start + 4, start + 4]
    );
    // The write counters are not touched: the append is the write's signal.
    assert_eq!(write_counters(&app.db), counters);
}

#[test]
fn with_events_off_each_committed_write_bumps_a_write_counter_once_and_a_refused_one_never() {
    let mut settings = serve_settings();
    settings.events = Switch::Off;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let counters = write_counters(&app.db);
    let [start, one, two, refused, deleted, unknown] = generations_through_writes(&app);
    assert_eq!(
        [one, two, refused, deleted, unknown],
        [start + 1, start + 2, start + 2, start + 3, start + 3]
    );
    assert_eq!(write_counters(&app.db), counters + 3);
}

// --- A read replica (docs/architecture.md, "A read replica") ---

/// A thread only the replica has (written there, never on the primary): a read that shows it
/// was served by the replica. Its id is far above what the primary's inserts reach.
const REPLICA_ONLY: u32 = 900_001;

fn replica_state(app: &TestApp) -> &'static str {
    app.state.replica.as_ref().unwrap().state().name()
}

/// `/readyz`: its status and its `checks.replica`.
fn ready_replica(app: &TestApp) -> (u16, Value) {
    let r = app.raw("GET /readyz HTTP/1.1", b"");
    let body: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(body["status"], "ready", "{body}");
    (r.status, body["checks"]["replica"].clone())
}

fn post_thread(app: &TestApp, key: &str, email: &str) -> String {
    let r = app.raw(
        &format!(
            "POST /api/customer_threads HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(key)
        ),
        format!(
            "<prestashop><customer_thread><id_shop>1</id_shop><id_lang>1</id_lang><id_contact>2</id_contact><token>tok</token><email>{email}</email><status>open</status></customer_thread></prestashop>"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let text = r.text();
    let start = text.find("<id><![CDATA[").unwrap() + "<id><![CDATA[".len();
    let end = start + text[start..].find(']').unwrap();
    text[start..end].to_owned()
}

fn status(app: &TestApp, key: &str, path: &str) -> u16 {
    app.get(key, path).status
}

#[test]
fn reads_go_to_the_replica_a_key_reads_its_own_writes_and_a_lagging_or_stopped_replica_hands_reads_to_the_primary(
) {
    let logs = crate::support::capture_logs();
    let mut pair = crate::support::replica::ReplicaPair::start();
    let name = format!("tgr_{}", std::process::id());
    let db = pair.demo_database(&name);
    let writer = db.full_key();
    let other = db.full_key();
    pair.sync();
    pair.replica.exec(
        &name,
        &format!(
            "INSERT INTO `ps_customer_thread` (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, token, date_add, date_upd) \
             VALUES ({REPLICA_ONLY}, 1, 1, 2, 2, 0, 0, 'open', 'replica@example.com', 'tok', '2024-05-01 00:00:00', '2024-05-01 00:00:00')"
        ),
    );

    let mut settings = serve_settings();
    settings.replica_url = Some(pair.replica.url(&name));
    settings.replica_wait_ms = 100;
    settings.replica_max_lag_ms = 3000;
    settings.replica_check_ms = 50;
    settings.key_poll_ms = 50;
    settings.bridge_cache_ms = 0;
    let app = TestApp::with_background(db, settings);
    assert!(
        within(Duration::from_secs(10), || replica_state(&app) == "serving"),
        "the replica never served: {:?}",
        app.state.replica.as_ref().unwrap().state()
    );

    assert_eq!(
        ready_replica(&app),
        (200, serde_json::json!({"state": "serving"}))
    );

    // Single GETs, lists and the bridges read the replica.
    let single = format!("/api/customer_threads/{REPLICA_ONLY}");
    assert_eq!(status(&app, &other, &single), 200);
    let r = app.get(
        &other,
        "/api/customer_threads?filter[email]=[replica@example.com]&display=[id]&output_format=JSON",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        r.text(),
        format!("{{\"customer_threads\":[{{\"id\":{REPLICA_ONLY}}}]}}")
    );
    let m10 = format!("/api/inbox/threads/{REPLICA_ONLY}");
    assert_eq!(status(&app, &other, &m10), 200);

    // The replica stops applying: the writer's next reads wait for its write (100 ms), then go
    // to the primary, which has it; another key still reads the replica, which has not.
    pair.replica.exec("mysql", "STOP SLAVE SQL_THREAD");
    let id = post_thread(&app, &writer, "writer@example.com");
    let written = format!("/api/customer_threads/{id}");
    assert_eq!(status(&app, &writer, &written), 200, "read-your-writes");
    assert_eq!(status(&app, &other, &written), 404, "the replica lacks it");
    assert_eq!(
        status(&app, &writer, &single),
        404,
        "the writer reads the primary"
    );
    assert_eq!(
        status(&app, &other, &single),
        200,
        "the other key the replica"
    );
    // The bridges serve every key from one cache: they wait for the node's last write.
    assert_eq!(
        status(&app, &other, &format!("/api/inbox/threads/{id}")),
        200
    );

    // Applying again: once the replica has the write, the writer reads the replica again.
    pair.replica.exec("mysql", "START SLAVE SQL_THREAD");
    assert!(within(Duration::from_secs(5), || status(
        &app, &writer, &single
    ) == 200));
    assert_eq!(status(&app, &writer, &written), 200);
    assert_eq!(status(&app, &other, &written), 200);

    // Lagging past THREADGATE_REPLICA_MAX_LAG_MS: every read goes to the primary, until the
    // replica catches up.
    pair.replica.exec("mysql", "STOP SLAVE SQL_THREAD");
    post_thread(&app, &writer, "lag@example.com");
    assert!(
        within(Duration::from_secs(10), || replica_state(&app) == "lagging"),
        "{:?}",
        app.state.replica.as_ref().unwrap().state()
    );
    assert_eq!(status(&app, &other, &single), 404, "on the primary");
    // Ready all the same (the primary serves the reads), and /readyz says how far behind.
    let (code, replica) = ready_replica(&app);
    assert_eq!((code, &replica["state"]), (200, &Value::from("lagging")));
    // Past 3000 ms as a duration; `lag_ms` is it in whole milliseconds.
    assert!(replica["lag_ms"].as_u64().unwrap() >= 3000, "{replica}");
    pair.replica.exec("mysql", "START SLAVE SQL_THREAD");
    assert!(within(Duration::from_secs(10), || replica_state(&app) == "serving"));
    assert_eq!(status(&app, &other, &single), 200, "on the replica again");

    // Stopped: no read fails, they go to the primary.
    pair.replica.stop();
    for _ in 0..5 {
        assert_eq!(status(&app, &other, "/api/customer_threads/1"), 200);
        assert_eq!(status(&app, &other, &single), 404, "on the primary");
    }
    assert!(within(Duration::from_secs(10), || replica_state(&app) == "down"));
    let (code, replica) = ready_replica(&app);
    assert_eq!((code, &replica["state"]), (200, &Value::from("down")));
    assert!(
        replica["reason"].as_str().is_some_and(|r| !r.is_empty()),
        "{replica}"
    );
    assert!(
        within(Duration::from_secs(5), || status(&app, &other, &m10) == 404),
        "the bridges too"
    );

    // Back: a fresh pool, and reads return to the replica.
    pair.replica.start();
    assert!(
        within(Duration::from_secs(20), || replica_state(&app) == "serving"),
        "{:?}",
        app.state.replica.as_ref().unwrap().state()
    );
    assert_eq!(status(&app, &other, &single), 200);

    // THREADGATE_REPLICA_SYNC=primary: a read waits for the primary's position at that moment,
    // so it sees a write made elsewhere (another node, or here SQL on the primary), which
    // `key` does not wait for.
    let mut primary_sync = serve_settings();
    primary_sync.replica_url = app.state.settings.replica_url.clone();
    primary_sync.replica_wait_ms = 100;
    primary_sync.replica_check_ms = 50;
    primary_sync.replica_sync = threadgate::db::replica::Sync::Primary;
    let strict = TestApp::with_background(same_database(&app.db), primary_sync);
    assert!(within(Duration::from_secs(10), || replica_state(&strict)
        == "serving"));
    assert_eq!(status(&strict, &other, &single), 200, "on the replica");
    pair.replica.exec("mysql", "STOP SLAVE SQL_THREAD");
    app.db.exec(
        "INSERT INTO `ps_customer_thread` (id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, token, date_add, date_upd) \
         VALUES (1, 1, 2, 2, 0, 0, 'open', 'elsewhere@example.com', 'tok', '2024-05-02 00:00:00', '2024-05-02 00:00:00')",
    );
    let elsewhere = "/api/customer_threads?filter[email]=[elsewhere@example.com]&display=[email]&output_format=JSON";
    let found = "{\"customer_threads\":[{\"email\":\"elsewhere@example.com\"}]}";
    assert_eq!(strict.get(&other, elsewhere).text(), found, "primary sync");
    assert_eq!(
        app.get(&other, elsewhere).text(),
        "[]",
        "key sync: the replica's view (PrestaShop's empty JSON list)"
    );
    pair.replica.exec("mysql", "START SLAVE SQL_THREAD");
    assert!(within(Duration::from_secs(5), || app
        .get(&other, elsewhere)
        .text()
        == found));
    drop(strict);

    // One line per incident: one lag, one outage, each ended once.
    let text = logs.text();
    let count = |needle: &str| text.matches(needle).count();
    assert_eq!(count("the read replica lags"), 1, "{text}");
    assert_eq!(count("the read replica is unreachable"), 1, "{text}");
    assert_eq!(count("the read replica serves reads again"), 2, "{text}");
}

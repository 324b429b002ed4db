//! Several threadgate nodes on one database (docs/architecture.md, "Several nodes, one truth"):
//! a write through one node reaches the other nodes' bridge caches through the database's
//! `data_generation`, read by every node's key poll.

use std::time::{Duration, Instant};

use serde_json::Value;
use threadgate::db::sql::Sql;
use threadgate::db::Tables;

use crate::support::http::basic;
use crate::support::{serve_settings, Response, TestApp, TestDb};

/// A second handle on the same database (both drop it; the second drop finds nothing).
fn same_database(db: &TestDb) -> TestDb {
    TestDb {
        name: db.name.clone(),
        url: db.url.clone(),
        tables: Tables::new(&db.tables.prefix),
    }
}

fn data_generation(db: &TestDb) -> u64 {
    let rows = Sql::new(format!(
        "SELECT CAST(data_generation AS CHAR) FROM `{}threadgate_state` WHERE id = 1",
        db.tables.prefix
    ))
    .load(&mut db.conn())
    .unwrap();
    rows[0].0[0].as_deref().unwrap().parse().unwrap()
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

/// Two nodes whose bridge cache outlives the test and whose key poll runs every 50 ms.
fn two_nodes() -> (TestApp, TestApp) {
    let mut settings = serve_settings();
    settings.bridge_cache_ms = 3_600_000;
    settings.key_poll_ms = 50;
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
    // A row written behind threadgate's back (as PrestaShop writes) bumps no generation: node
    // B keeps serving its cached read, well past several key polls.
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

#[test]
fn every_committed_write_bumps_the_data_generation_once_and_a_refused_one_never() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let start = data_generation(&app.db);

    let r = post_message(&app, &key, 1, "one");
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(data_generation(&app.db), start + 1);

    // Two entities in one request: one transaction, one bump.
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(&key)
        ),
        b"<prestashop><customer_message><id_customer_thread>1</id_customer_thread><message>a</message></customer_message><customer_message><id_customer_thread>1</id_customer_thread><message>b</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(data_generation(&app.db), start + 2);

    // Refused (validation, code 85): rolled back, the generation with it.
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: text/xml",
            basic(&key)
        ),
        b"<prestashop><customer_message><message>hi</message><private>2</private></customer_message></prestashop>",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(data_generation(&app.db), start + 2);

    let r = app.request("DELETE", &key, "/api/customer_messages/2", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(data_generation(&app.db), start + 3);
    let r = app.request("DELETE", &key, "/api/customer_messages/999", &[]);
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(data_generation(&app.db), start + 3);
}

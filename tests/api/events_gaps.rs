//! Readers of the event log never pass over an event that commits late (docs/events.md,
//! "Ordering"): appends take no lock, so an id may become visible after a higher one. A
//! second connection holds an appended event uncommitted (or rolls it back) while the API
//! commits the next one; the change feed stops before the gap until it fills, or until the
//! row after it is older than the gap wait. No test sleeps for the gap wait: an old row is
//! made by SQL, or the wait is set short and polled with a deadline.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::MysqlConnection;
use serde_json::{json, Value};
use threadgate::db::events as event_log;
use threadgate::events::{self, Filter};

use crate::support::http::basic;
use crate::support::{number, serve_settings, Response, TestApp, TestDb};

const FEED: &str = "/threadgate/v1/changes";

const NEW_THREAD: &str = "<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status></customer_thread></prestashop>";

fn post_thread(app: &TestApp, key: &str) {
    let r = app.raw(
        &format!(
            "POST /api/customer_threads HTTP/1.1\r\nAuthorization: {}\r\nContent-Type: application/xml",
            basic(key)
        ),
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
}

fn feed(app: &TestApp, key: &str, cursor: &str) -> Value {
    let r: Response = app.get(key, &format!("{FEED}?limit=1000&cursor={cursor}"));
    assert_eq!(r.status, 200, "{}", r.text());
    serde_json::from_slice(&r.body).unwrap()
}

fn ids(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_u64().unwrap())
        .collect()
}

fn max_id(db: &TestDb) -> u64 {
    number(
        &mut db.conn(),
        "SELECT CAST(COALESCE(MAX(id), 0) AS CHAR) FROM `ps_threadgate_event`",
    )
}

/// Opens a transaction on `conn` and appends one event in it, left uncommitted; its id.
fn append_uncommitted(conn: &mut MysqlConnection) -> u64 {
    conn.batch_execute(
        "START TRANSACTION; INSERT INTO `ps_threadgate_event` (`type`, id_customer_thread, \
         id_customer_message, id_shop, source, id_key, data, created_at) VALUES \
         ('thread.updated', 1, NULL, 1, 'shop', NULL, '{}', UTC_TIMESTAMP(6))",
    )
    .unwrap();
    number(conn, "SELECT CAST(LAST_INSERT_ID() AS CHAR)")
}

#[test]
fn a_gap_that_fills_is_waited_for_and_then_read_once() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let start = events::encode_cursor(max_id(&app.db));

    post_thread(&app, &key);
    let before = max_id(&app.db);
    let mut other = app.db.conn();
    let held = append_uncommitted(&mut other);
    assert_eq!(held, before + 1);
    post_thread(&app, &key);
    let after = max_id(&app.db);
    assert_eq!(after, held + 1, "the API's event got the next id");

    // The API's event is committed but the one before it is not: the feed stops before the
    // gap, says it is the end of the stream for now, and does so again and again.
    let want =
        json!({"events": [], "cursor": events::encode_cursor(before), "end_of_stream": true});
    let page = feed(&app, &key, &start);
    assert_eq!(ids(&page), [before]);
    assert_eq!(page["cursor"], json!(events::encode_cursor(before)));
    assert_eq!(page["end_of_stream"], json!(true));
    assert_eq!(feed(&app, &key, page["cursor"].as_str().unwrap()), want);
    assert_eq!(feed(&app, &key, page["cursor"].as_str().unwrap()), want);
    // A reader that starts at "now" (a new subscription, `events tail`) starts before the gap.
    let gap_wait = serve_settings().gap_wait();
    let mut conn = app.db.conn();
    assert_eq!(
        event_log::newest(&mut conn, &app.db.tables, gap_wait).unwrap(),
        before
    );

    // The held event commits: the next page has it, then the API's, each once.
    other.batch_execute("COMMIT").unwrap();
    let page = feed(&app, &key, page["cursor"].as_str().unwrap());
    assert_eq!(ids(&page), [held, after]);
    assert_eq!(page["events"][0]["type"], json!("thread.updated"));
    assert_eq!(page["events"][1]["type"], json!("thread.created"));
    assert_eq!(page["cursor"], json!(events::encode_cursor(after)));
    assert_eq!(page["end_of_stream"], json!(true));
    assert_eq!(
        feed(&app, &key, page["cursor"].as_str().unwrap()),
        json!({"events": [], "cursor": events::encode_cursor(after), "end_of_stream": true})
    );
    assert_eq!(
        event_log::newest(&mut conn, &app.db.tables, gap_wait).unwrap(),
        after
    );
}

#[test]
fn a_rolled_back_append_is_passed_once_the_row_after_it_is_older_than_the_gap_wait() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    post_thread(&app, &key);
    let before = max_id(&app.db);
    let cursor = events::encode_cursor(before);
    let mut other = app.db.conn();
    let burnt = append_uncommitted(&mut other);
    other.batch_execute("ROLLBACK").unwrap();
    post_thread(&app, &key);
    let after = max_id(&app.db);
    assert_eq!(after, burnt + 1, "the rolled-back append burnt its id");

    // The row after the gap is younger than the gap wait (10 s by default): held back.
    let want = json!({"events": [], "cursor": cursor, "end_of_stream": true});
    assert_eq!(feed(&app, &key, &cursor), want);
    // Once it is older (made so by SQL, instead of waiting), the gap is final.
    app.db.exec(&format!(
        "UPDATE `ps_threadgate_event` SET created_at = created_at - INTERVAL 11 SECOND WHERE id = {after}"
    ));
    let page = feed(&app, &key, &cursor);
    assert_eq!(ids(&page), [after]);
    assert_eq!(page["cursor"], json!(events::encode_cursor(after)));
    assert_eq!(page["end_of_stream"], json!(true));
}

#[test]
fn with_a_short_gap_wait_the_feed_passes_a_rolled_back_id_by_itself() {
    let mut settings = serve_settings();
    settings.delivery.read.events_gap_wait_ms = 300;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    post_thread(&app, &key);
    let before = max_id(&app.db);
    let cursor = events::encode_cursor(before);
    let mut other = app.db.conn();
    append_uncommitted(&mut other);
    other.batch_execute("ROLLBACK").unwrap();
    post_thread(&app, &key);
    let after = max_id(&app.db);

    // Polled every 50 ms up to a deadline: held back at first (unless this machine took
    // 300 ms between the write and the read), then served.
    let deadline = Instant::now() + Duration::from_secs(10);
    let page = loop {
        let page = feed(&app, &key, &cursor);
        if !ids(&page).is_empty() {
            break page;
        }
        assert_eq!(page["cursor"], json!(cursor), "no move past the gap");
        assert!(Instant::now() < deadline, "the gap was never passed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ids(&page), [after]);
    assert_eq!(page["end_of_stream"], json!(true));
}

#[test]
fn with_an_auto_increment_step_above_one_only_rows_older_than_the_gap_wait_are_read() {
    // Galera sets @@auto_increment_increment to the cluster's size: ids skip by design, so a
    // missing id proves nothing and every young row is held back.
    let db = TestDb::seeded("ps_");
    db.exec(
        "INSERT INTO `ps_threadgate_event` (`type`, id_customer_thread, id_shop, source, created_at) VALUES
         ('thread.created', 1, 1, 'shop', UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE),
         ('thread.created', 2, 1, 'shop', UTC_TIMESTAMP(6) - INTERVAL 1 MINUTE),
         ('thread.created', 3, 1, 'shop', UTC_TIMESTAMP(6))",
    );
    let first = max_id(&db) - 2;
    let wait = Duration::from_secs(10);
    let mut conn = db.conn();
    let everything = Filter::everything();
    let read = |conn: &mut MysqlConnection| {
        event_log::feed(conn, &db.tables, Some(first - 1), 100, &everything, wait).unwrap()
    };
    let page = read(&mut conn);
    assert_eq!(
        page.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first, first + 1, first + 2]
    );
    conn.batch_execute("SET SESSION auto_increment_increment = 2")
        .unwrap();
    let page = read(&mut conn);
    assert_eq!(
        page.events.iter().map(|e| e.id).collect::<Vec<_>>(),
        [first, first + 1]
    );
    assert_eq!((page.last_id, page.end_of_stream), (first + 1, true));
    let h = event_log::horizon(&mut conn, &db.tables, Some(first - 1), 100, wait).unwrap();
    assert_eq!(
        h,
        event_log::Horizon {
            after: first - 1,
            readable: first + 1,
            capped: false,
            purged_through: 0,
        }
    );
}

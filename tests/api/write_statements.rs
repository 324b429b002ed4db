//! How many statements each write costs the database (docs/architecture.md, "Writes"): counted
//! on a MariaDB primary of the test's own (`SHOW GLOBAL STATUS` deltas; nothing else talks to
//! it but its replica, which only streams its binary log), by a server with one pooled
//! connection and no background work, after one warm-up request of each kind (the key verified
//! and cached, the prepared statements kept), without and with a read replica. A regression
//! that adds a round trip to a write fails here.

use std::collections::BTreeMap;

use diesel::MysqlConnection;
use threadgate::db::sql::Sql;

use crate::support::{serve_settings, xml_error as error, Response, TestApp, TestDb};

/// `Questions` and every `Com_*` counter of the server.
fn snapshot(conn: &mut MysqlConnection) -> BTreeMap<String, i64> {
    Sql::new("SHOW GLOBAL STATUS WHERE Variable_name = 'Questions' OR Variable_name LIKE 'Com\\_%'")
        .load(conn)
        .unwrap()
        .into_iter()
        .filter_map(|r| Some((r.0[0].clone()?, r.0[1].as_deref()?.parse().ok()?)))
        .collect()
}

/// The counters that grew over `f`, less what the snapshots cost themselves (measured).
fn counted(conn: &mut MysqlConnection, f: impl FnOnce()) -> BTreeMap<String, i64> {
    let idle0 = snapshot(conn);
    let idle1 = snapshot(conn);
    f();
    let after = snapshot(conn);
    after
        .iter()
        .map(|(c, n)| {
            let own = idle1[c] - idle0[c];
            (c.clone(), n - idle1[c] - own)
        })
        .filter(|(_, n)| *n != 0)
        .collect()
}

fn send(app: &TestApp, method: &str, key: &str, path: &str, body: &str) -> Response {
    app.send(method, key, path, "application/xml", body.as_bytes())
}

const THREAD: &str = "<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status></customer_thread></prestashop>";
const MESSAGE: &str = "<prestashop><customer_message><id_customer_thread>2</id_customer_thread><message>Hello</message><private>0</private></customer_message></prestashop>";

fn put_thread(id: u32, status: &str) -> String {
    format!("<prestashop><customer_thread><id>{id}</id><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>{status}</status></customer_thread></prestashop>")
}

fn patch_thread(id: u32, order: u32) -> String {
    format!("<prestashop><customer_thread><id>{id}</id><id_order>{order}</id_order></customer_thread></prestashop>")
}

/// The statements of each write over three writes of each kind, after one warm-up request of
/// each (the key verified and cached, every statement prepared once); per write.
fn per_write(app: &TestApp, key: &str, admin: &mut MysqlConnection) -> BTreeMap<String, Counts> {
    type Write<'a> = (&'a str, &'a str, Box<dyn Fn(u32) -> String + 'a>, u16);
    let writes: [Write; 4] = [
        (
            "POST",
            "/api/customer_threads",
            Box::new(|_| THREAD.to_owned()),
            201,
        ),
        (
            "PUT",
            "/api/customer_threads",
            Box::new(|n| put_thread(1, if n % 2 == 0 { "closed" } else { "open" })),
            200,
        ),
        (
            "PATCH",
            "/api/customer_threads",
            Box::new(|n| patch_thread(1, n)),
            200,
        ),
        (
            "POST",
            "/api/customer_messages",
            Box::new(|_| MESSAGE.to_owned()),
            201,
        ),
    ];
    for (n, (method, path, body, status)) in writes.iter().enumerate() {
        let r = send(app, method, key, path, &body(n as u32 + 100));
        assert_eq!(r.status, *status, "{method} {path}: {}", r.text());
    }
    let mut seen = BTreeMap::new();
    for (n, (method, path, body, status)) in writes.iter().enumerate() {
        let per_write = counted(admin, || {
            for i in 0..3 {
                let r = send(app, method, key, path, &body(n as u32 * 10 + i));
                assert_eq!(r.status, *status, "{method} {path}: {}", r.text());
            }
        })
        .into_iter()
        .map(|(c, v)| {
            assert_eq!(v % 3, 0, "{method} {path}: {c} grew by {v} over 3 writes");
            (c, v / 3)
        })
        .collect::<BTreeMap<_, _>>();
        seen.insert(format!("{method} {path}"), per_write);
    }
    seen
}

type Counts = BTreeMap<String, i64>;

/// What every kind of write costs: `statements` kept prepared statements (one round trip
/// each), of which `selects` reads, and the event log's append (one `INSERT ... VALUES`, no
/// lock shared with other writers, counted in `statements`; it is also the write's signal to
/// the other nodes, so no write counter is bumped). A PUT or PATCH also reads the row it
/// replaces, locked, for its event's `changed` list: one statement and one read more.
fn want(statements: i64, selects: i64) -> BTreeMap<String, Counts> {
    let each = |write: &str| {
        let before = i64::from(write == "Com_update");
        [
            ("Questions", statements + before),
            ("Com_stmt_execute", statements + before),
            ("Com_begin", 1),
            (write, 1),
            ("Com_select", selects + before),
            // The append.
            ("Com_insert", 1),
            ("Com_commit", 1),
        ]
        .iter()
        .fold(Counts::new(), |mut m, (c, n)| {
            *m.entry(c.to_string()).or_default() += n;
            m
        })
    };
    [
        ("POST /api/customer_threads", each("Com_insert")),
        ("PUT /api/customer_threads", each("Com_update")),
        ("PATCH /api/customer_threads", each("Com_update")),
        ("POST /api/customer_messages", each("Com_insert")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[test]
fn each_write_costs_the_statements_its_guarantees_need_and_no_more() {
    // A primary with a replica of its own: the counters are the primary's.
    let pair = crate::support::replica::ReplicaPair::start();
    let name = format!("tgw_{}", std::process::id());
    let db = pair.demo_database(&name);
    let key = db.full_key();
    let mut db_settings = db.settings();
    db_settings.pool_size = 1;
    pair.sync();
    let mut admin = pair.primary.conn("mysql");

    // Without a replica: START TRANSACTION, the write, its read-back (with the key store's
    // generation), the event's append, COMMIT.
    let alone = TestApp::with_settings(
        TestDb::attached(&name, &db.url, "ps_"),
        &db_settings,
        serve_settings(),
    );
    assert_eq!(per_write(&alone, &key, &mut admin), want(5, 1));

    // A DELETE of a thread with two messages appends its three events (two message.deleted,
    // then thread.deleted) with one multi-row INSERT, and reads no lock before it.
    for thread in [900, 901] {
        pair.primary.exec(
            &name,
            &format!(
                "INSERT INTO `ps_customer_thread` (id_customer_thread, id_shop, id_lang, id_contact, id_customer, status, email, token, date_add, date_upd) \
                 VALUES ({thread}, 1, 1, 2, 2, 'open', 'pub@prestashop.com', 'tok', NOW(), NOW()); \
                 INSERT INTO `ps_customer_message` (id_customer_thread, id_employee, message, date_add, date_upd, private, `read`) \
                 VALUES ({thread}, 0, 'a', NOW(), NOW(), 0, 0), ({thread}, 0, 'b', NOW(), NOW(), 0, 0)"
            ),
        );
    }
    let delete = |thread: u32| {
        let r = send(
            &alone,
            "DELETE",
            &key,
            &format!("/api/customer_threads/{thread}"),
            "",
        );
        assert_eq!(r.status, 200, "{}", r.text());
    };
    delete(900);
    let counts = counted(&mut admin, || delete(901));
    // START TRANSACTION, the ids' check, the thread's messages (locked, for their events),
    // the two DELETEs, the append, COMMIT; the statements with an IN list are prepared and
    // closed each time.
    let want_delete: Counts = [
        ("Questions", 8),
        ("Com_stmt_execute", 8),
        ("Com_stmt_prepare", 4),
        ("Com_stmt_close", 4),
        ("Com_begin", 1),
        ("Com_select", 3),
        ("Com_delete", 2),
        ("Com_insert", 1),
        ("Com_commit", 1),
    ]
    .iter()
    .map(|(c, n)| (c.to_string(), *n))
    .collect();
    assert_eq!(counts, want_delete, "DELETE of a thread with two messages");
    drop(alone);

    // With a replica, the write's GTID is read after COMMIT on the same connection (the key's
    // reads on the replica wait for it): one more.
    let mut settings = serve_settings();
    settings.replica_url = Some(pair.replica.url(&name));
    let replicated = TestApp::with_settings(db, &db_settings, settings);
    assert_eq!(per_write(&replicated, &key, &mut admin), want(6, 2));
}

/// Without the existence check on the success path, a missing id is still answered before a
/// refused entity (PrestaShop looks every object up before validating any), and a PUT of
/// several entities of which one is missing writes none of them.
#[test]
fn a_missing_id_comes_before_a_refusal_and_a_partly_missing_put_writes_nothing() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let status_of = |id: u32| {
        let sql = format!(
            "SELECT CAST(status AS CHAR) FROM ps_customer_thread WHERE id_customer_thread = {id}"
        );
        Sql::new(sql).load(&mut app.db.conn()).unwrap()[0].0[0].clone()
    };
    let before = status_of(1);
    let bad_email = |id: u32| {
        format!("<prestashop><customer_thread><id>{id}</id><id_lang>1</id_lang><id_contact>2</id_contact><token>t</token><email>not-an-email</email></customer_thread></prestashop>")
    };
    for method in ["PUT", "PATCH"] {
        let r = send(&app, method, &key, "/api/customer_threads", &bad_email(999));
        assert_eq!(
            (r.status, r.text()),
            (404, error(92, "Invalid ID").as_str())
        );
        let r = send(&app, method, &key, "/api/customer_threads", &bad_email(1));
        assert_eq!(
            (r.status, r.text()),
            (
                400,
                error(
                    85,
                    "Validation error: \"Property CustomerThread-&gt;email is not valid\""
                )
                .as_str()
            )
        );
    }
    let flip = if before.as_deref() == Some("closed") {
        "open"
    } else {
        "closed"
    };
    let two = format!(
        "<prestashop>{}{}</prestashop>",
        put_thread(1, flip)
            .trim_start_matches("<prestashop>")
            .trim_end_matches("</prestashop>"),
        put_thread(999, flip)
            .trim_start_matches("<prestashop>")
            .trim_end_matches("</prestashop>"),
    );
    for method in ["PUT", "PATCH"] {
        let r = send(&app, method, &key, "/api/customer_threads", &two);
        assert_eq!(
            (r.status, r.text()),
            (404, error(92, "Invalid ID").as_str())
        );
        assert_eq!(status_of(1), before, "{method}: thread 1 was rolled back");
    }
    let r = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        &put_thread(1, flip),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(status_of(1).as_deref(), Some(flip));
}

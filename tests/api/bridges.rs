//! The bridges (bridges.md, decisions "Bridges"): Mirakl M10 and the myKaarma thread list on
//! the demo shop (Europe/Paris) plus fixtures written here. Bodies are compared as whole JSON
//! values, and every response of these tests is validated against docs/openapi-bridges.json.

use serde_json::{json, Value};
use threadgate::resource::Method;
use uuid::Uuid;

use crate::support::http::basic;
use threadgate::config::ServeSettings;

use crate::support::{serve_settings, Response, TestApp, TestDb};

const OPENAPI: &str = include_str!("../../docs/openapi-bridges.json");

/// Validates a response against the OpenAPI document: the schema of (path, method, status).
fn check_openapi(path: &str, method: &str, r: &Response) {
    let doc: Value = serde_json::from_str(OPENAPI).expect("docs/openapi-bridges.json is JSON");
    let op = &doc["paths"][path][method];
    let mut resp = op["responses"][r.status.to_string()].clone();
    assert!(
        !resp.is_null(),
        "{method} {path}: status {} is not documented",
        r.status
    );
    if let Some(reference) = resp["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/responses/");
        resp = doc["components"]["responses"][name].clone();
    }
    let schema_ref = resp["content"]["application/json"]["schema"].clone();
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "$ref": schema_ref["$ref"],
    });
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let body: Value = serde_json::from_slice(&r.body).expect("a JSON body");
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {}: {errors:?}\n{body}",
        r.status
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
}

const M10: &str = "/api/inbox/threads/{thread_id}";
const LIST: &str = "/communications/departments/{departmentUUID}/customers/{customerUUID}/threads";

fn m10_raw(app: &TestApp, path: &str, auth: Option<&str>) -> Response {
    let mut head = format!("GET {path} HTTP/1.1");
    if let Some(a) = auth {
        head.push_str(&format!("\r\nAuthorization: {a}"));
    }
    let r = app.raw(&head, b"");
    check_openapi(M10, "get", &r);
    r
}

/// Settings with the bridges' read cache off: every request reads, so a write made behind
/// threadgate's back (as PrestaShop makes them) is seen at once.
fn uncached() -> ServeSettings {
    let mut s = serve_settings();
    s.bridge_cache_ms = 0;
    s
}

/// Settings whose cache outlives any test: only threadgate's own writes refresh a read.
fn cached_for_an_hour() -> ServeSettings {
    let mut s = serve_settings();
    s.bridge_cache_ms = 3_600_000;
    s
}

fn m10(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let r = m10_raw(app, path, Some(key));
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

fn list_raw(app: &TestApp, path: &str, auth: Option<&str>, body: &str) -> Response {
    let mut head = format!("POST {path} HTTP/1.1\r\nContent-Type: application/json");
    if let Some(a) = auth {
        head.push_str(&format!("\r\nAuthorization: {a}"));
    }
    if body.is_empty() {
        head.push_str("\r\nContent-Length: 0");
    }
    let r = app.raw(&head, body.as_bytes());
    check_openapi(LIST, "post", &r);
    r
}

fn list(app: &TestApp, key: &str, path: &str, body: &str) -> (u16, Value) {
    let r = list_raw(app, path, Some(&basic(key)), body);
    (r.status, serde_json::from_slice(&r.body).unwrap())
}

const SHOP_1: &str = "24babf5c-45fd-596d-8561-2c3d3a5ec6f5";
const CONTACT_0: &str = "43a7f2da-1e65-5bf1-9abb-cbc125de62cf";
const CONTACT_2: &str = "7e05fc0d-219a-58cf-841b-337f49b0f467";
const CUSTOMER_2: &str = "68bf7871-8a9f-5f85-8f61-565c17732a17";
const EMPLOYEE_1: &str = "79670563-585e-52a1-a662-4a80102bcccb";
const EMPLOYEE_2: &str = "b515dc25-f95e-5d6e-92c4-55c3f26f5316";

fn shop() -> Value {
    json!({"display_name": "Demo shop", "id": "1", "type": "SHOP"})
}

fn john() -> Value {
    json!({"display_name": "John DOE", "id": "2", "type": "CUSTOMER"})
}

fn ada() -> Value {
    json!({"display_name": "Ada Admin", "organization_details": shop(), "type": "SHOP_USER"})
}

fn john_sender() -> Value {
    json!({"display_name": "John DOE", "type": "CUSTOMER_USER"})
}

fn thread_1_messages() -> Vec<Value> {
    vec![
        json!({"body": "Hello <b>world</b>\nline2", "date_created": "2024-01-15T09:00:00Z",
               "from": john_sender(), "id": "1", "to": [shop()]}),
        json!({"body": "Your order ships tomorrow.", "date_created": "2024-01-16T10:30:00Z",
               "from": ada(), "id": "3", "to": [john()]}),
    ]
}

// --- M10 ---

#[test]
fn m10_customer_thread_is_the_full_document() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let (status, body) = m10(&app, &key, "/api/inbox/threads/1");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "authorized_participants": [shop(), john()],
            "current_participants": [shop(), john()],
            "date_created": "2024-01-15T09:00:00Z",
            "date_updated": "2024-01-16T10:30:00Z",
            "entities": [{"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"}],
            "id": "1",
            "messages": thread_1_messages(),
            "metadata": {
                "last_message_date": "2024-01-16T10:30:00Z",
                "last_sender": ada(),
                "shop_reply_needed_since": null,
                "total_count": 2
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Customer service"}
        })
    );
    // Mirakl's key order (alphabetical) and the exact bytes of a message.
    let r = m10_raw(&app, "/api/inbox/threads/1", Some(&key));
    assert!(r.text().starts_with(
        "{\"authorized_participants\":[{\"display_name\":\"Demo shop\",\"id\":\"1\",\"type\":\"SHOP\"}"
    ));
    assert!(r.text().contains("{\"body\":\"Your order ships tomorrow.\",\"date_created\":\"2024-01-16T10:30:00Z\",\"from\":{\"display_name\":\"Ada Admin\",\"organization_details\":{\"display_name\":\"Demo shop\",\"id\":\"1\",\"type\":\"SHOP\"},\"type\":\"SHOP_USER\"},\"id\":\"3\",\"to\":[{\"display_name\":\"John DOE\",\"id\":\"2\",\"type\":\"CUSTOMER\"}]}"));
    // The same thread in the customer's own view: nothing private, so nothing changes.
    let (_, mine) = m10(&app, &key, "/api/inbox/threads/1?customer_id=2");
    assert_eq!(mine, body);
}

#[test]
fn m10_accepts_the_key_raw_as_bearer_and_as_basic_user() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for auth in [key.clone(), format!("Bearer {key}"), basic(&key)] {
        let r = m10_raw(&app, "/api/inbox/threads/1", Some(&auth));
        assert_eq!(r.status, 200, "{auth}");
    }
}

#[test]
fn m10_guest_thread_uses_the_email_and_a_closed_thread_answered_by_nobody_logs_the_shop() {
    // The thread is reopened below as PrestaShop would, behind threadgate's back.
    let app = TestApp::with(TestDb::seeded("ps_"), uncached());
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (2, NULL, 'Is the site down?', '2024-02-01 09:00:00', '2024-02-01 09:00:00', 0);",
    );
    let key = app.db.full_key();
    let guest =
        json!({"display_name": "guest@example.com", "id": "guest@example.com", "type": "CUSTOMER"});
    let expected = json!({
        "authorized_participants": [shop(), guest],
        "current_participants": [shop(), guest],
        "date_created": "2024-02-01T08:00:00Z",
        "date_updated": "2024-02-01T08:00:00Z",
        "entities": [],
        "id": "2",
        "messages": [{"body": "Is the site down?", "date_created": "2024-02-01T08:00:00Z",
                      "from": {"display_name": "guest@example.com", "type": "CUSTOMER_USER"},
                      "id": "4", "to": [shop()]}],
        "metadata": {
            "last_message_date": "2024-02-01T08:00:00Z",
            "last_sender": {"display_name": "guest@example.com", "type": "CUSTOMER_USER"},
            "shop_reply_needed_since": null,
            "total_count": 1
        },
        "no_store_reply_needed": [{"date": "2024-02-01T08:00:00Z", "user_type": "SHOP"}],
        "topic": {"type": "FREE_TEXT", "value": "Webmaster"}
    });
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/2"),
        (200, expected.clone())
    );
    // The guest's view, by e-mail in any case.
    assert_eq!(
        m10(
            &app,
            &key,
            "/api/inbox/threads/2?customer_id=GUEST%40example.com"
        ),
        (200, expected)
    );
    // Reopened by the customer: the shop owes an answer again.
    app.db
        .exec("UPDATE ps_customer_thread SET status = 'open', date_upd = '2024-02-03 10:00:00' WHERE id_customer_thread = 2;");
    let (_, open) = m10(&app, &key, "/api/inbox/threads/2");
    assert_eq!(open["no_store_reply_needed"], json!([]));
    assert_eq!(
        open["metadata"]["shop_reply_needed_since"],
        json!("2024-02-01T08:00:00Z")
    );
    assert_eq!(open["date_updated"], json!("2024-02-03T09:00:00Z"));
}

#[test]
fn m10_private_note_is_shown_to_the_shop_and_hidden_from_the_customer() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (10, 1, 1, 'Check the stock first', '2024-01-16 12:00:00', '2024-01-16 12:00:00', 1);",
    );
    let key = app.db.full_key();
    let note = json!({"body": "Check the stock first", "date_created": "2024-01-16T11:00:00Z",
                      "from": ada(), "id": "10", "to": [shop()]});
    let mut all_messages = thread_1_messages();
    all_messages.push(note);
    let base = |messages: Vec<Value>, updated: &str, last: &str, count: u32| {
        json!({
            "authorized_participants": [shop(), john()],
            "current_participants": [shop(), john()],
            "date_created": "2024-01-15T09:00:00Z",
            "date_updated": updated,
            "entities": [{"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"}],
            "id": "1",
            "messages": messages,
            "metadata": {
                "last_message_date": last,
                "last_sender": ada(),
                "shop_reply_needed_since": null,
                "total_count": count
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Customer service"}
        })
    };
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1"),
        (
            200,
            base(
                all_messages,
                "2024-01-16T11:00:00Z",
                "2024-01-16T11:00:00Z",
                3
            )
        )
    );
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1?customer_id=2"),
        (
            200,
            base(
                thread_1_messages(),
                "2024-01-16T10:30:00Z",
                "2024-01-16T10:30:00Z",
                2
            )
        )
    );
}

#[test]
fn m10_a_thread_with_only_a_note_has_no_customer_participant_in_either_view() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (30, 1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00');
         INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (30, 1, 'Call him back', '2024-05-01 10:00:00', '2024-05-01 10:00:00', 1);",
    );
    let key = app.db.full_key();
    let (_, all) = m10(&app, &key, "/api/inbox/threads/30");
    assert_eq!(all["current_participants"], json!([shop()]));
    let (_, mine) = m10(&app, &key, "/api/inbox/threads/30?customer_id=2");
    assert_eq!(mine["current_participants"], json!([]));
    assert_eq!(mine["messages"], json!([]));
    assert_eq!(
        mine["metadata"],
        json!({"last_message_date": "2024-05-01T08:00:00Z",
               "last_sender": {"display_name": "Demo shop", "organization_details": shop(), "type": "SHOP_USER"},
               "shop_reply_needed_since": null, "total_count": 0})
    );
}

#[test]
fn m10_attachment_order_and_product_entities_and_the_topic_in_the_thread_language() {
    let upload = std::env::temp_dir().join(format!("tg-upload-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&upload).unwrap();
    std::fs::write(upload.join("5f3a9c.pdf"), b"%PDF-").unwrap();
    let db = TestDb::seeded("ps_");
    db.exec(
        "UPDATE ps_customer_thread SET id_order = 5 WHERE id_customer_thread = 3;
         UPDATE ps_customer_message SET file_name = '5f3a9c.pdf' WHERE id_customer_message = 2;
         INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, file_name, date_add, date_upd, private) VALUES
           (11, 3, 0, 'Et la facture ?', 'missing.png', '2024-03-10 14:06:00', '2024-03-10 14:06:00', 0);",
    );
    let mut settings = serve_settings();
    settings.upload_dir = Some(upload.clone());
    let app = TestApp::with(db, settings);
    let key = app.db.full_key();
    let marie = json!({"display_name": "Marie Curie", "id": "3", "type": "CUSTOMER"});
    let marie_sender = json!({"display_name": "Marie Curie", "type": "CUSTOMER_USER"});
    let (status, body) = m10(&app, &key, "/api/inbox/threads/3?customer_id=3");
    std::fs::remove_dir_all(&upload).ok();
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "authorized_participants": [shop(), marie],
            "current_participants": [shop(), marie],
            "date_created": "2024-03-10T13:05:00Z",
            "date_updated": "2024-03-11T08:15:00Z",
            "entities": [
                {"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"},
                {"id": "1", "label": "T-shirt imprimé colibri", "type": "MMP_OFFER"}
            ],
            "id": "3",
            "messages": [
                {"attachments": [{"id": "2", "name": "5f3a9c.pdf", "size": 5}],
                 "body": "Bonjour, le t-shirt existe-t-il en XL ?", "date_created": "2024-03-10T13:05:00Z",
                 "from": marie_sender, "id": "2", "to": [shop()]},
                {"attachments": [{"id": "11", "name": "missing.png", "size": 0}],
                 "body": "Et la facture ?", "date_created": "2024-03-10T13:06:00Z",
                 "from": marie_sender, "id": "11", "to": [shop()]}
            ],
            "metadata": {
                "last_message_date": "2024-03-10T13:06:00Z",
                "last_sender": marie_sender,
                "shop_reply_needed_since": "2024-03-10T13:05:00Z",
                "total_count": 2
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Service client"}
        })
    );
}

#[test]
fn m10_order_page_thread_takes_the_order_reference_as_topic() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (31, 1, 1, 0, 2, 5, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00'),
           (32, 1, 1, 0, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00');",
    );
    let key = app.db.full_key();
    let (_, t) = m10(&app, &key, "/api/inbox/threads/31");
    assert_eq!(
        t["topic"],
        json!({"type": "FREE_TEXT", "value": "XKBKNABJK"})
    );
    let (_, t) = m10(&app, &key, "/api/inbox/threads/32");
    assert_eq!(t["topic"], json!({"type": "FREE_TEXT", "value": ""}));
    assert_eq!(t["entities"], json!([]));
}

#[test]
fn m10_dates_across_both_dst_boundaries_of_the_shop_zone() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (40, 1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-03-31 02:30:00', '2024-10-27 02:59:59');
         INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (41, 40, 0, 'spring', '2024-03-31 03:00:00', '2024-03-31 03:00:00', 0),
           (42, 40, 1, 'fall, first pass', '2024-10-27 02:30:00', '2024-10-27 02:30:00', 0),
           (43, 40, 0, 'fall, after', '2024-10-27 03:30:00', '2024-10-27 03:30:00', 0);",
    );
    let key = app.db.full_key();
    let (_, t) = m10(&app, &key, "/api/inbox/threads/40");
    // 02:30 does not exist in Paris on 2024-03-31: moved forward by the gap (01:30Z).
    assert_eq!(t["date_created"], json!("2024-03-31T01:30:00Z"));
    let dates: Vec<&Value> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["date_created"])
        .collect();
    // 02:30 happens twice on 2024-10-27: the earlier instant (CEST, 00:30Z); 03:30 is CET.
    assert_eq!(
        dates,
        [
            &json!("2024-03-31T01:00:00Z"),
            &json!("2024-10-27T00:30:00Z"),
            &json!("2024-10-27T02:30:00Z")
        ]
    );
    assert_eq!(t["date_updated"], json!("2024-10-27T02:30:00Z"));
    assert_eq!(
        t["metadata"]["shop_reply_needed_since"],
        json!("2024-10-27T02:30:00Z")
    );
}

#[test]
fn m10_error_statuses() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let messages_only = app.db.key(&["customer_messages"], &[Method::Get], &[]);
    let put_only = app.db.key(&["customer_threads"], &[Method::Put], &[]);
    let err = |status: u16, message: &str| (status, json!({"status": status, "message": message}));

    let r = m10_raw(&app, "/api/inbox/threads/1", None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"threadgate\"")
    );
    assert_eq!(
        m10(
            &app,
            "NOPE0000000000000000000000000000",
            "/api/inbox/threads/1"
        ),
        err(401, "Invalid API key")
    );
    assert_eq!(
        m10(&app, "short", "/api/inbox/threads/1"),
        err(401, "Invalid API key")
    );
    for k in [&messages_only, &put_only] {
        assert_eq!(
            m10(&app, k, "/api/inbox/threads/1"),
            err(403, "This API key may not read customer threads")
        );
    }
    for path in [
        "/api/inbox/threads/999",
        "/api/inbox/threads/0",
        "/api/inbox/threads/abc",
        "/api/inbox/threads/-1",
        "/api/inbox/threads/4294967296",
        "/api/inbox/threads/1?customer_id=3",
        "/api/inbox/threads/1?customer_id=pub%40prestashop.com",
        "/api/inbox/threads/2?customer_id=0",
    ] {
        assert_eq!(
            m10(&app, &key, path),
            err(404, "Thread not found"),
            "{path}"
        );
    }
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1?customer_id="),
        err(400, "customer_id must not be empty")
    );
    let r = app.raw(
        &format!("POST /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {key}\r\nContent-Length: 0"),
        b"",
    );
    check_openapi(M10, "get", &r);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"status": 405, "message": "Method not allowed"})
    );
}

#[test]
fn m10_and_the_list_answer_503_when_the_webservice_is_disabled() {
    let db = TestDb::seeded("ps_");
    db.exec("UPDATE ps_configuration SET value = '0' WHERE name = 'PS_WEBSERVICE';");
    let app = TestApp::with(db, serve_settings());
    let key = app.db.full_key();
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1"),
        (
            503,
            json!({"status": 503, "message": "The webservice is disabled"})
        )
    );
    let (status, body) = list(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    assert_eq!(status, 503);
    assert_eq!(body["errors"][0]["errorCode"], json!("SERVICE_UNAVAILABLE"));
}

// --- thread list ---

fn list_path(department: &str, customer: &str) -> String {
    format!("/communications/departments/{department}/customers/{customer}/threads")
}

/// Customer 2 in department 2 ("Customer service"): demo thread 1 plus 20, 21, 22; thread 23
/// is in department 1, 24 on the order page (department 0), 25 belongs to customer 3.
fn list_app() -> TestApp {
    list_app_with(serve_settings())
}

fn list_app_with(settings: ServeSettings) -> TestApp {
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    app.db.exec(
        "INSERT INTO ps_employee (id_employee, id_profile, id_lang, lastname, firstname, email, active) VALUES
           (2, 1, 1, 'Agent', 'Bob', 'bob@example.com', 1);
         INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (20, 1, 1, 2, 2, 0, 0, 'closed', 'pub@prestashop.com', '2024-02-01 09:00:00', '2024-02-02 09:00:00'),
           (21, 1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-03-01 12:00:00', '2024-03-01 12:00:00'),
           (22, 1, 1, 2, 2, 0, 0, 'pending2', 'pub@prestashop.com', '2024-01-20 08:00:00', '2024-01-21 09:00:00'),
           (23, 1, 1, 1, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-06-01 08:00:00', '2024-06-01 08:00:00'),
           (24, 1, 1, 0, 2, 5, 0, 'open', 'pub@prestashop.com', '2024-04-02 10:00:00', '2024-04-02 10:00:00'),
           (25, 1, 1, 2, 3, 0, 0, 'open', 'marie@example.com', '2024-06-01 08:00:00', '2024-06-01 08:00:00');
         INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (20, 20, 0, 'a', '2024-02-01 09:00:00', '2024-02-01 09:00:00', 0),
           (21, 20, 2, 'b', '2024-02-01 10:00:00', '2024-02-01 10:00:00', 0),
           (22, 20, 1, 'c', '2024-02-01 11:00:00', '2024-02-01 11:00:00', 0),
           (23, 20, 0, 'd', '2024-02-02 08:00:00', '2024-02-02 08:00:00', 0),
           (24, 21, 0, 'e', '2024-03-01 12:00:00', '2024-03-01 12:00:00', 0),
           (25, 21, 2, 'note', '2024-03-05 12:00:00', '2024-03-05 12:00:00', 1),
           (26, 22, 2, 'g', '2024-01-20 08:00:00', '2024-01-20 08:00:00', 0),
           (27, 22, 0, 'h', '2024-01-21 09:00:00', '2024-01-21 09:00:00', 0),
           (28, 24, 0, 'i', '2024-04-02 10:00:00', '2024-04-02 10:00:00', 0),
           (29, 23, 0, 'j', '2024-06-01 08:00:00', '2024-06-01 08:00:00', 0);",
    );
    app
}

fn summary(
    id: u32,
    closed: bool,
    department: &str,
    user: Option<&str>,
    last_message: &str,
    delegation: Option<i64>,
    waiting: bool,
) -> Value {
    json!({
        "id": id,
        "archived": false,
        "closed": closed,
        "dealerUuid": SHOP_1,
        "departmentUuid": department,
        "userUuid": user,
        "customerUuid": CUSTOMER_2,
        "lastMessageOn": last_message,
        "lastDelegationOn": delegation,
        "isWaitingForResponse": waiting
    })
}

fn t1() -> Value {
    summary(
        1,
        false,
        CONTACT_2,
        Some(EMPLOYEE_1),
        "2024-01-16T10:30:00.000Z",
        Some(1705401000000),
        false,
    )
}
fn t20() -> Value {
    summary(
        20,
        true,
        CONTACT_2,
        Some(EMPLOYEE_1),
        "2024-02-02T07:00:00.000Z",
        Some(1706781600000),
        false,
    )
}
fn t21() -> Value {
    summary(
        21,
        false,
        CONTACT_2,
        None,
        "2024-03-05T11:00:00.000Z",
        None,
        true,
    )
}
fn t22() -> Value {
    summary(
        22,
        false,
        CONTACT_2,
        Some(EMPLOYEE_2),
        "2024-01-21T08:00:00.000Z",
        Some(1705734000000),
        true,
    )
}

/// The threads of a successful list, after checking the envelope around them.
fn threads(app: &TestApp, key: &str, path: &str, body: &str) -> (Vec<Value>, Value) {
    let (status, v) = list(app, key, path, body);
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["errors"], json!([]));
    let rid = v["requestUUID"].as_str().unwrap();
    assert_eq!(Uuid::parse_str(rid).unwrap().get_version_num(), 4);
    (
        v["customerThreads"].as_array().unwrap().clone(),
        v["warnings"].clone(),
    )
}

#[test]
fn list_default_is_last_message_first_with_every_field() {
    let app = list_app();
    let key = app.db.full_key();
    let (status, v) = list(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    assert_eq!(status, 200);
    let rid = v["requestUUID"].as_str().unwrap().to_owned();
    assert_eq!(
        v,
        json!({
            "customerThreads": [t21(), t20(), t22(), t1()],
            "requestUUID": rid,
            "errors": [],
            "warnings": []
        })
    );
    // myKaarma's field order, byte for byte.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, CUSTOMER_2),
        Some(&basic(&key)),
        r#"{"maxResults":1,"isClosed":true}"#,
    );
    assert!(r.text().starts_with(&format!(
        "{{\"customerThreads\":[{{\"id\":20,\"archived\":false,\"closed\":true,\"dealerUuid\":\"{SHOP_1}\",\"departmentUuid\":\"{CONTACT_2}\",\"userUuid\":\"{EMPLOYEE_1}\",\"customerUuid\":\"{CUSTOMER_2}\",\"lastMessageOn\":\"2024-02-02T07:00:00.000Z\",\"lastDelegationOn\":1706781600000,\"isWaitingForResponse\":false}}],\"requestUUID\":\""
    )), "{}", r.text());
    assert!(r.text().ends_with("\",\"errors\":[],\"warnings\":[]}"));
}

#[test]
fn list_plain_decimals_work_for_department_customer_and_assignee() {
    let app = list_app();
    let key = app.db.full_key();
    let (a, _) = threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    let (b, _) = threads(&app, &key, &list_path("2", "2"), "{}");
    assert_eq!(a, b);
    let upper = list_path(&CONTACT_2.to_uppercase(), &format!("{{{CUSTOMER_2}}}"));
    assert_eq!(threads(&app, &key, &upper, "{}").0, a);
    let (c, _) = threads(
        &app,
        &key,
        &list_path("2", "2"),
        r#"{"assigneeUserUUID":"2"}"#,
    );
    assert_eq!(c, [t22()]);
}

#[test]
fn list_order_page_threads_are_department_zero() {
    let app = list_app();
    let key = app.db.full_key();
    let expected = summary(
        24,
        false,
        CONTACT_0,
        None,
        "2024-04-02T08:00:00.000Z",
        None,
        true,
    );
    for dept in [CONTACT_0, "0"] {
        let (t, _) = threads(&app, &key, &list_path(dept, CUSTOMER_2), "{}");
        assert_eq!(t, std::slice::from_ref(&expected), "{dept}");
    }
}

#[test]
fn list_sorting_by_either_key_in_either_direction_with_null_delegations_smallest() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let cases = [
        (
            r#"{"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"DESC"}"#,
            vec![t21(), t20(), t22(), t1()],
        ),
        (
            r#"{"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"ASC"}"#,
            vec![t1(), t22(), t20(), t21()],
        ),
        (
            r#"{"sortOrderKey":"LAST_DELEGATION_ON"}"#,
            vec![t20(), t22(), t1(), t21()],
        ),
        (
            r#"{"sortOrderKey":"LAST_DELEGATION_ON","sortOrder":"asc"}"#,
            vec![t21(), t1(), t22(), t20()],
        ),
        (r#"{"sortOrder":"asc","maxResults":2}"#, vec![t1(), t22()]),
    ];
    for (body, expected) in cases {
        let (t, w) = threads(&app, &key, &path, body);
        assert_eq!(t, expected, "{body}");
        assert_eq!(w, json!([]), "{body}");
    }
}

#[test]
fn list_ties_are_broken_by_id_in_the_same_direction() {
    let app = list_app();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (26, 1, 1, 2, 2, 0, 0, 'closed', 'pub@prestashop.com', '2024-03-05 12:00:00', '2024-03-05 12:00:00');",
    );
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let ids = |body: &str| -> Vec<u64> {
        threads(&app, &key, &path, body)
            .0
            .iter()
            .map(|t| t["id"].as_u64().unwrap())
            .collect()
    };
    // Thread 26 has no message: its lastMessageOn is its date_add, the same instant as 21's.
    assert_eq!(ids("{}"), [26, 21, 20, 22, 1]);
    assert_eq!(ids(r#"{"sortOrder":"ASC"}"#), [1, 22, 20, 21, 26]);
    // Two null delegations: by id.
    assert_eq!(
        ids(r#"{"sortOrderKey":"LAST_DELEGATION_ON","sortOrder":"ASC"}"#),
        [21, 26, 1, 22, 20]
    );
}

#[test]
fn list_filters_closed_archived_and_assignee() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let cases = [
        (r#"{"isClosed":true}"#, vec![t20()]),
        (r#"{"isClosed":false}"#, vec![t21(), t22(), t1()]),
        (r#"{"isArchived":true}"#, vec![]),
        (r#"{"isArchived":false}"#, vec![t21(), t20(), t22(), t1()]),
        (
            r#"{"isClosed":null,"isArchived":null,"assigneeUserUUID":null}"#,
            vec![t21(), t20(), t22(), t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_1}"}}"#),
            vec![t20(), t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_1}","isClosed":false}}"#),
            vec![t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_2}"}}"#),
            vec![t22()],
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(threads(&app, &key, &path, body).0, expected, "{body}");
    }
}

#[test]
fn list_a_known_customer_without_threads_in_the_department_is_an_empty_success() {
    let app = list_app();
    let key = app.db.full_key();
    let (t, _) = threads(&app, &key, &list_path("1", "3"), "{}");
    assert_eq!(t, Vec::<Value>::new());
}

#[test]
fn list_warnings_repair_the_input_and_the_call_succeeds() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let w = |code: &str, text: &str| json!({"warningCode": code, "warningDescription": text});
    let max = "Invalid maxResults. maxResults should be between 1 and 100. Used";
    let cases = [
        (
            r#"{"maxResults":0}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 20"))]),
            4,
        ),
        (
            r#"{"maxResults":-5}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 20"))]),
            4,
        ),
        (
            r#"{"maxResults":1000}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 100"))]),
            4,
        ),
        (
            r#"{"sortOrderKey":"CREATED_ON"}"#,
            json!([w("INVALID_SORT_ORDER_KEY", "Invalid sortOrderKey. sortOrderKey should be LAST_MESSAGE_ON or LAST_DELEGATION_ON. Used LAST_MESSAGE_ON")]),
            4,
        ),
        (
            r#"{"sortOrder":"UP","maxResults":0}"#,
            json!([
                w("INVALID_MAXRESULTS", &format!("{max} 20")),
                w("INVALID_SORT_ORDER", "Invalid sortOrder. sortOrder should be ASC or DESC. Used DESC")
            ]),
            4,
        ),
    ];
    for (body, warnings, n) in cases {
        let (t, got) = threads(&app, &key, &path, body);
        assert_eq!(got, warnings, "{body}");
        assert_eq!(t.len(), n, "{body}");
        assert_eq!(t[0], t21(), "{body}: defaults used");
    }
}

/// Checks an error envelope and returns (status, code, description without the suffix).
fn error_of(r: &Response) -> (u16, String, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let rid = v["requestUUID"].as_str().unwrap().to_owned();
    assert_eq!(Uuid::parse_str(&rid).unwrap().get_version_num(), 4);
    assert_eq!(v["customerThreads"], json!([]));
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    let uid = Uuid::parse_str(e["errorUID"].as_str().unwrap()).unwrap();
    assert_eq!(uid.get_version_num(), 4);
    assert_ne!(uid.to_string(), rid);
    let desc = e["errorDescription"].as_str().unwrap();
    let suffix = format!(" Reference MessageID: {rid}");
    assert!(desc.ends_with(&suffix), "{desc}");
    (
        r.status,
        e["errorCode"].as_str().unwrap().to_owned(),
        desc.trim_end_matches(&suffix).to_owned(),
    )
}

#[test]
fn list_authentication_errors_are_401_with_mykaarma_codes() {
    let app = list_app();
    let key = app.db.full_key();
    let messages_only = app.db.key(&["customer_messages"], &[Method::Get], &[]);
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let check = |auth: Option<&str>, code: &str, text: &str| {
        let r = list_raw(&app, &path, auth, "{}");
        assert_eq!(
            error_of(&r),
            (401, code.to_owned(), text.to_owned()),
            "{auth:?}"
        );
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Basic realm=\"communications\"")
        );
    };
    check(
        None,
        "CREDENTIALS_ARE_NULL",
        "Credentials are null, Authorization refused. Please contact Communications API support.",
    );
    let wrong = "Credentials are wrong, Authorization refused for provided credentials. Please contact Communications API support.";
    check(Some("Basic !!!"), "WRONG_CREDENTIAL", wrong);
    check(Some(&format!("Bearer {key}")), "WRONG_CREDENTIAL", wrong);
    check(
        Some(&basic("NOPE0000000000000000000000000000")),
        "WRONG_CREDENTIAL",
        wrong,
    );
    let denied =
        "Request is not authorized for the given department. Please contact Communications API support.";
    check(
        Some(&basic(&messages_only)),
        "NOT_AUTHORIZED_REQUEST",
        denied,
    );
}

#[test]
fn list_unknown_department_customer_user_and_bad_bodies_are_errors_in_order() {
    let app = list_app();
    let key = app.db.full_key();
    let auth = basic(&key);
    let denied =
        "Request is not authorized for the given department. Please contact Communications API support.";
    let customer_as_user = format!(r#"{{"assigneeUserUUID":"{CUSTOMER_2}"}}"#);
    let cases: Vec<(String, &str, (u16, &str, String))> = vec![
        // Unknown or malformed department: 401, as upstream, even with a bad body.
        (
            list_path(&Uuid::new_v4().to_string(), CUSTOMER_2),
            "{}",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        (
            list_path("99", CUSTOMER_2),
            "nope",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        (
            list_path("sales", CUSTOMER_2),
            "{}",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        // Unknown customer: 400, before the body is looked at.
        (
            list_path(CONTACT_2, "68bf7871-8a9f-5f85-8f61-565c17732a18"),
            "nope",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=68bf7871-8a9f-5f85-8f61-565c17732a18 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "999"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=999 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "0"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=0 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "john"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=john is invalid.".into(),
            ),
        ),
        // The body.
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is missing.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "{\"maxResults\":",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is not JSON.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "[1]",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is not a JSON object.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"maxResults":"ten"}"#,
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: maxResults must be an integer.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"isClosed":1}"#,
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: isClosed must be a boolean.".into(),
            ),
        ),
        // An assignee that is no employee.
        (
            list_path(CONTACT_2, CUSTOMER_2),
            &customer_as_user,
            (
                400,
                "INVALID_USER",
                format!("USER_UUID={CUSTOMER_2} is invalid."),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"assigneeUserUUID":"77"}"#,
            (400, "INVALID_USER", "USER_UUID=77 is invalid.".into()),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"assigneeUserUUID":""}"#,
            (400, "INVALID_USER", "USER_UUID= is invalid.".into()),
        ),
    ];
    for (path, body, (status, code, text)) in cases {
        let r = list_raw(&app, &path, Some(&auth), body);
        assert_eq!(
            error_of(&r),
            (status, code.to_owned(), text),
            "{path} {body}"
        );
    }
    // Warnings found before an error are kept in the error envelope.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, CUSTOMER_2),
        Some(&auth),
        r#"{"maxResults":0,"assigneeUserUUID":"77"}"#,
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["warnings"][0]["warningCode"], json!("INVALID_MAXRESULTS"));
}

#[test]
fn list_other_methods_are_405() {
    let app = list_app();
    let key = app.db.full_key();
    let r = app.raw(
        &format!(
            "GET {} HTTP/1.1\r\nAuthorization: {}",
            list_path(CONTACT_2, CUSTOMER_2),
            basic(&key)
        ),
        b"",
    );
    check_openapi(LIST, "post", &r);
    assert_eq!(r.header("Allow"), Some("POST"));
    assert_eq!(
        error_of(&r),
        (
            405,
            "METHOD_NOT_ALLOWED".into(),
            "Method not allowed, use POST.".into()
        )
    );
}

#[test]
fn list_a_new_customer_is_found_by_uuid_on_its_first_request() {
    let app = list_app();
    let key = app.db.full_key();
    // Warm the index, then add a customer.
    threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    app.db.exec(
        "INSERT INTO ps_customer (id_customer, id_shop_group, id_shop, id_lang, firstname, lastname, email, is_guest, active, deleted, date_add, date_upd) VALUES
           (40, 1, 1, 1, 'New', 'Comer', 'new@example.com', 0, 1, 0, '2024-06-01 08:00:00', '2024-06-01 08:00:00');",
    );
    let ns = Uuid::parse_str("d44e8d6f-f348-5ec4-a555-002e48605f29").unwrap();
    let uuid = Uuid::new_v5(&ns, b"customer:40").to_string();
    assert_eq!(
        threads(&app, &key, &list_path(CONTACT_2, &uuid), "{}").0,
        Vec::<Value>::new()
    );
}

#[test]
fn list_namespace_is_a_setting() {
    let db = TestDb::seeded("ps_");
    let ns = Uuid::new_v4();
    let mut settings = serve_settings();
    settings.bridge_uuid_namespace = ns;
    let app = TestApp::with(db, settings);
    let key = app.db.full_key();
    let customer = Uuid::new_v5(&ns, b"customer:2").to_string();
    let contact = Uuid::new_v5(&ns, b"contact:2").to_string();
    let (t, _) = threads(&app, &key, &list_path(&contact, &customer), "{}");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["customerUuid"], json!(customer));
    assert_eq!(
        t[0]["dealerUuid"],
        json!(Uuid::new_v5(&ns, b"shop:1").to_string())
    );
    // The default namespace's UUIDs mean nothing under another one.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, &customer),
        Some(&basic(&key)),
        "{}",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn waiting_for_response_matches_m10_shop_reply_needed_since() {
    let app = list_app();
    let key = app.db.full_key();
    let (t, _) = threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    for s in t {
        let id = s["id"].as_u64().unwrap();
        let (_, m) = m10(&app, &key, &format!("/api/inbox/threads/{id}"));
        assert_eq!(
            s["isWaitingForResponse"].as_bool().unwrap(),
            !m["metadata"]["shop_reply_needed_since"].is_null(),
            "thread {id}"
        );
    }
}

// --- the read cache (docs/bridges.md, "Read cache") ---

/// A webservice write with Basic `key:`.
fn ws(app: &TestApp, method: &str, key: &str, path: &str, body: &str) -> Response {
    app.raw(
        &format!("{method} {path} HTTP/1.1\r\nAuthorization: {}", basic(key)),
        body.as_bytes(),
    )
}

fn thread_of(list: &[Value], id: u64) -> &Value {
    list.iter()
        .find(|t| t["id"] == json!(id))
        .unwrap_or_else(|| panic!("thread {id} not listed: {list:?}"))
}

#[test]
fn cache_threadgate_writes_reach_both_bridges_at_once() {
    let app = list_app_with(cached_for_an_hour());
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let (_, before) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(before["metadata"]["total_count"], json!(2));
    assert_eq!(
        before["metadata"]["shop_reply_needed_since"],
        json!("2024-03-01T11:00:00Z")
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(t, vec![t21(), t20(), t22(), t1()]);

    // The shop answers thread 21 through the webservice: both bridges show it on the next read.
    let r = ws(
        &app,
        "POST",
        &key,
        "/api/customer_messages",
        "<prestashop><customer_message><id_customer_thread>21</id_customer_thread><id_employee>1</id_employee><message>On its way</message><private>0</private></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (_, after) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(after["metadata"]["total_count"], json!(3));
    assert_eq!(after["metadata"]["shop_reply_needed_since"], Value::Null);
    assert_eq!(after["metadata"]["last_sender"], ada());
    assert_eq!(after["messages"][2]["body"], json!("On its way"));
    let (t, _) = threads(&app, &key, &path, "{}");
    let t21_now = thread_of(&t, 21);
    assert_eq!(t21_now["isWaitingForResponse"], json!(false));
    assert_eq!(t21_now["userUuid"], json!(EMPLOYEE_1));
    // Written now, so its last message is the newest of the list.
    assert_eq!(t[0]["id"], json!(21));

    // Closing it through the webservice, then deleting the answer.
    let r = ws(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        "<prestashop><customer_thread><id>21</id><status>closed</status></customer_thread></prestashop>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (t, _) = threads(&app, &key, &path, r#"{"isClosed":true}"#);
    let closed: Vec<&Value> = t.iter().map(|t| &t["id"]).collect();
    assert_eq!(closed, [&json!(21), &json!(20)]);
    let answer = after["messages"][2]["id"].as_str().unwrap().to_owned();
    let r = ws(
        &app,
        "DELETE",
        &key,
        &format!("/api/customer_messages/{answer}"),
        "",
    );
    assert_eq!(r.status, 200);
    let (_, deleted) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(deleted["metadata"]["total_count"], json!(2));
    assert_eq!(deleted["messages"], before["messages"]);
}

#[test]
fn cache_a_write_behind_threadgates_back_is_seen_once_the_ttl_has_passed() {
    // Stale answers are only guaranteed before half the TTL (past it, one request renews the
    // entry); the caches' clock is moved past the TTL instead of waiting for it.
    let mut settings = serve_settings();
    settings.bridge_cache_ms = 4000;
    let app = list_app_with(settings);
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let (_, m10_before) = m10(&app, &key, "/api/inbox/threads/21");
    let (list_before, _) = threads(&app, &key, &path, "{}");
    // PrestaShop's back office answers thread 21 and closes it: no signal reaches threadgate.
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (21, 2, 'Sent from the back office', '2024-03-06 09:00:00', '2024-03-06 09:00:00', 0);
         UPDATE ps_customer_thread SET status = 'closed' WHERE id_customer_thread = 21;",
    );
    // Within the TTL both bridges may still answer what they read (the documented bound)...
    assert_eq!(m10(&app, &key, "/api/inbox/threads/21").1, m10_before);
    assert_eq!(threads(&app, &key, &path, "{}").0, list_before);
    // ...and once it has passed, the write is there.
    app.state
        .clock
        .advance(std::time::Duration::from_millis(4100));
    let (_, m10_after) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(m10_after["metadata"]["total_count"], json!(3));
    assert_eq!(
        m10_after["messages"][2]["body"],
        json!("Sent from the back office")
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(thread_of(&t, 21)["closed"], json!(true));
    assert_eq!(thread_of(&t, 21)["userUuid"], json!(EMPLOYEE_2));
}

#[test]
fn cache_with_ttl_zero_every_request_reads() {
    let app = list_app_with(uncached());
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/21").1["metadata"]["total_count"],
        json!(2)
    );
    threads(&app, &key, &path, "{}");
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (21, 2, 'Sent from the back office', '2024-03-06 09:00:00', '2024-03-06 09:00:00', 0);",
    );
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/21").1["metadata"]["total_count"],
        json!(3)
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(thread_of(&t, 21)["isWaitingForResponse"], json!(false));
}

#[test]
fn cache_a_read_cached_for_one_key_is_not_shown_to_a_key_of_another_shop() {
    let app = list_app_with(cached_for_an_hour());
    app.db.exec("INSERT INTO `ps_shop` (`id_shop`, `id_shop_group`, `name`, `id_category`, `theme_name`, `active`) VALUES (2, 1, 'Second', 2, 'classic', 1)");
    app.refresh();
    let all = app.db.full_key();
    let other = app.db.key(&["customer_threads"], &[Method::Get], &[2]);
    let path = list_path(CONTACT_2, CUSTOMER_2);
    // Read (and cached) with the key of shop 1 first, each time.
    assert_eq!(m10(&app, &all, "/api/inbox/threads/1").0, 200);
    assert_eq!(
        m10(&app, &other, "/api/inbox/threads/1"),
        (404, json!({"status": 404, "message": "Thread not found"}))
    );
    assert_eq!(m10(&app, &all, "/api/inbox/threads/1?customer_id=2").0, 200);
    assert_eq!(
        m10(&app, &other, "/api/inbox/threads/1?customer_id=2").0,
        404
    );
    assert_eq!(threads(&app, &all, &path, "{}").0.len(), 4);
    assert_eq!(threads(&app, &other, &path, "{}").0, Vec::<Value>::new());
    // The customer's view of a cached thread still hides what the customer may not see.
    let (_, shop_view) = m10(&app, &all, "/api/inbox/threads/21");
    assert_eq!(shop_view["metadata"]["total_count"], json!(2));
    let (_, customer_view) = m10(&app, &all, "/api/inbox/threads/21?customer_id=2");
    assert_eq!(customer_view["metadata"]["total_count"], json!(1));
    assert_eq!(
        m10(&app, &all, "/api/inbox/threads/21?customer_id=3").0,
        404
    );
}

#[test]
fn cache_pages_kept_with_a_read_answer_each_request_shape_as_a_fresh_read_does() {
    let cached = list_app_with(cached_for_an_hour());
    let fresh = list_app_with(uncached());
    let (kc, kf) = (cached.db.full_key(), fresh.db.full_key());
    let path = list_path(CONTACT_2, CUSTOMER_2);
    // More shapes than a read keeps pages for, asked twice, so kept and replaced pages are both
    // served; each must equal what a read from the database gives.
    let bodies = [
        "{}",
        r#"{"sortOrder":"ASC"}"#,
        r#"{"sortOrderKey":"LAST_DELEGATION_ON"}"#,
        r#"{"maxResults":2}"#,
        r#"{"isClosed":false}"#,
        &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_2}"}}"#),
        r#"{"maxResults":0}"#,
    ];
    for round in 0..2 {
        for body in bodies {
            let (got, got_warnings) = threads(&cached, &kc, &path, body);
            let (want, want_warnings) = threads(&fresh, &kf, &path, body);
            assert_eq!(
                (got, got_warnings),
                (want, want_warnings),
                "round {round}: {body}"
            );
        }
    }
}

// --- the OpenAPI document itself ---

/// Every `$ref` in the document points at something that exists, and every component schema
/// compiles as JSON Schema 2020-12 (what OpenAPI 3.1 schemas are).
#[test]
fn openapi_document_is_self_consistent() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} resolves");
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "$ref": format!("#/components/schemas/{name}"),
        });
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The check that every bridge response goes through does reject what the routes must not send.
#[test]
fn openapi_check_rejects_malformed_bodies() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let validator = |name: &str| {
        jsonschema::validator_for(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "$ref": format!("#/components/schemas/{name}"),
        }))
        .unwrap()
    };
    let thread_schema = validator("M10Thread");
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let (_, good) = m10(&app, &key, "/api/inbox/threads/1");
    assert!(thread_schema.is_valid(&good));
    let mut no_topic = good.clone();
    no_topic.as_object_mut().unwrap().remove("topic");
    assert!(!thread_schema.is_valid(&no_topic));
    let mut no_null = good.clone();
    no_null["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("shop_reply_needed_since");
    assert!(!thread_schema.is_valid(&no_null));
    let mut empty_attachments = good.clone();
    empty_attachments["messages"][0]["attachments"] = json!([]);
    assert!(!thread_schema.is_valid(&empty_attachments));
    let mut customer_with_org = good;
    customer_with_org["messages"][0]["from"]["organization_details"] = shop();
    assert!(!thread_schema.is_valid(&customer_with_org));
    let err = validator("ThreadListErrorResponse");
    assert!(!err.is_valid(&json!({"customerThreads": [], "requestUUID": Uuid::new_v4().to_string(),
        "errors": [{"errorCode": "INVALID_USER", "errorDescription": "x", "errorUID": Uuid::new_v4().to_string()}],
        "warnings": []})));
}

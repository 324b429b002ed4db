//! The bridges (docs/bridges.md, and its #decisions): Mirakl M10 and the myKaarma thread
//! list on the demo shop (Europe/Paris) plus fixtures written here. Bodies are compared as whole
//! JSON values, and every response of these tests is validated against docs/openapi-bridges.json.
//!
//! By subject: [`m10`] (Mirakl M10), [`thread_list`] (the myKaarma list), [`both`] (what the two
//! routes share), [`cache`] (the read cache) and [`openapi`] (the OpenAPI document itself). The
//! helpers and fixtures they share live here.

mod both;
mod cache;
mod m10;
mod openapi;
mod thread_list;

use serde_json::{json, Value};
use threadgate::resource::Method;
use uuid::Uuid;

use crate::support::http::basic;
use threadgate::config::ServeSettings;

use crate::support::{serve_settings, Response, TestApp, TestDb};

const OPENAPI: &str = include_str!("../../../docs/openapi-bridges.json");

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

// --- thread list fixtures ---

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

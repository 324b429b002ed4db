//! GET and HEAD of one resource: docs/prestashop/documents.md#single-resources,
//! docs/prestashop/documents.md#examples, docs/prestashop/documents.md#json, the path quirks
//! (docs/prestashop/requests.md#paths, W10), 304.

use sha1::{Digest, Sha1};

use crate::support::TestApp;

pub const THREAD_1: &str = golden!("customer_thread_1.xml");

const THREAD_2: &str = golden!("customer_thread_2.xml");

const MESSAGE_1: &str = golden!("customer_message_1.xml");

fn sha1_hex(b: &[u8]) -> String {
    hex::encode(Sha1::digest(b))
}

#[test]
fn thread_1_is_the_golden_document_with_prestashop_headers() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads/1");
    assert_eq!((r.status, r.reason.as_str()), (200, "OK"));
    assert_eq!(r.text(), THREAD_1);
    assert_eq!(r.header("Content-Type"), Some("text/xml;charset=UTF-8"));
    assert_eq!(r.header("X-Powered-By"), Some("PrestaShop Webservice"));
    assert_eq!(r.header("PSWS-Version"), Some("1.7.8.11"));
    assert_eq!(
        r.header("Content-Sha1"),
        Some(sha1_hex(THREAD_1.as_bytes()).as_str())
    );
    let access: u64 = r.header("Access-Time").unwrap().parse().unwrap();
    assert!(access > 1_700_000_000);
    let exec = r.header("Execution-Time").unwrap();
    assert!(
        exec.parse::<f64>().is_ok() && !exec.ends_with('0') || exec == "0",
        "{exec}"
    );
    crate::support::xsd::assert_valid("customer_thread.xsd", &r.body);
}

#[test]
fn guest_thread_without_messages_is_the_golden_document() {
    let app = TestApp::spawn();
    let r = app.get(&app.db.full_key(), "/api/customer_threads/2");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), THREAD_2);
    crate::support::xsd::assert_valid("customer_thread.xsd", &r.body);
}

#[test]
fn message_1_is_the_golden_document() {
    let app = TestApp::spawn();
    let r = app.get(&app.db.full_key(), "/api/customer_messages/1");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), MESSAGE_1);
    crate::support::xsd::assert_valid("customer_message.xsd", &r.body);
}

#[test]
fn json_single_objects_are_the_golden_documents() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let cases = [
        (
            "/api/customer_threads/1?output_format=JSON",
            golden!("customer_thread_1.json"),
        ),
        (
            "/api/customer_threads/2?output_format=JSON",
            golden!("customer_thread_2.json"),
        ),
        (
            "/api/customer_threads/1?output_format=JSON&display=full",
            golden!("customer_thread_1_display_full.json"),
        ),
        (
            "/api/customer_messages/1?output_format=JSON",
            golden!("customer_message_1.json"),
        ),
    ];
    for (path, body) in cases {
        let r = app.get(&key, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.text(), body, "{path}");
        assert_eq!(
            r.header("Content-Sha1"),
            Some(sha1_hex(body.as_bytes()).as_str())
        );
    }
}

#[test]
fn json_is_chosen_by_header_before_parameter() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.request(
        "GET",
        &key,
        "/api/customer_threads/2",
        &["Output-Format: JSON"],
    );
    assert!(r.text().starts_with("{\"customer_thread\":"));
    let r = app.request(
        "GET",
        &key,
        "/api/customer_threads/2?output_format=JSON",
        &["Io-Format: XML"],
    );
    assert!(r.text().starts_with("<?xml"));
    let r = app.get(&key, "/api/customer_threads/2?output_format=json");
    assert!(
        r.text().starts_with("<?xml"),
        "only the exact value JSON selects JSON"
    );
}

#[test]
fn unknown_ids_are_404_with_an_empty_body_and_no_content_type() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for path in [
        "/api/customer_threads/999",
        "/api/customer_threads/abc",
        "/api/customer_threads/0",
        "/api/customer_threads/-1",
        "/api/customer_messages/999?output_format=JSON",
    ] {
        let r = app.get(&key, path);
        assert_eq!((r.status, r.reason.as_str()), (404, "Not Found"), "{path}");
        assert!(r.body.is_empty(), "{path}");
        assert_eq!(r.header("Content-Type"), None, "{path}");
        assert_eq!(r.header("Content-Sha1"), None, "{path}");
        assert_eq!(r.header("X-Powered-By"), Some("PrestaShop Webservice"));
    }
}

#[test]
fn path_quirks_of_real_clients_work() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for path in [
        "//api/customer_threads/1",
        "/api/customer_threads/1abc",
        "/api/customer_threads/1/ignored",
        "/api/customer_threads/1&id_shop=1",
        "/api/customer_threads/1?id_shop=1",
    ] {
        let r = app.get(&key, path);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.text(), THREAD_1, "{path}");
    }
    // Parameters after `&` in the path are real parameters (W10).
    let r = app.get(&key, "/api/customer_threads/2&output_format=JSON");
    assert!(r.text().starts_with("{\"customer_thread\":"));
}

#[test]
fn head_sends_the_get_headers_without_a_body() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.request("HEAD", &key, "/api/customer_threads/1", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(
        r.header("Content-Sha1"),
        Some(sha1_hex(THREAD_1.as_bytes()).as_str())
    );
    assert_eq!(r.header("Content-Type"), Some("text/xml;charset=UTF-8"));
    let missing = app.request("HEAD", &key, "/api/customer_threads/999", &[]);
    assert_eq!(missing.status, 404);
}

#[test]
fn local_content_sha1_matching_the_body_gives_304() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let sha = sha1_hex(THREAD_1.as_bytes());
    let r = app.request(
        "GET",
        &key,
        "/api/customer_threads/1",
        &[&format!("Local-Content-Sha1: {sha}")],
    );
    assert_eq!((r.status, r.reason.as_str()), (304, "Not Modified"));
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Sha1"), Some(sha.as_str()));
    let stale = app.request(
        "GET",
        &key,
        "/api/customer_threads/1",
        &["Local-Content-Sha1: 0000"],
    );
    assert_eq!(stale.status, 200);
    assert_eq!(stale.text(), THREAD_1);
}

#[test]
fn display_on_a_single_resource() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads/1?display=minimum");
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<customer_thread id=\"1\" xlink:href=\"http://example.com/api/customer_threads/1\"/>\n</prestashop>\n"
    );
    let r = app.get(
        &key,
        "/api/customer_threads/2?display=[id,email,id_order]&output_format=JSON",
    );
    assert_eq!(
        r.text(),
        r#"{"customer_threads":[{"id":2,"id_order":"0","email":"guest@example.com"}]}"#
    );
    let r = app.get(
        &key,
        "/api/customer_threads/1?display=[id,customer_messages[id]]",
    );
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<customer_thread>\n\t<id><![CDATA[1]]></id>\n<associations>\n<customer_messages nodeType=\"customer_message\" api=\"customer_messages\">\n\t<customer_message xlink:href=\"http://example.com/api/customer_messages/1\">\n\t<id><![CDATA[1]]></id>\n\t</customer_message>\n\t<customer_message xlink:href=\"http://example.com/api/customer_messages/3\">\n\t<id><![CDATA[3]]></id>\n\t</customer_message>\n</customer_messages>\n</associations>\n</customer_thread>\n</prestashop>\n"
    );
    let r = app.get(&key, "/api/customer_threads/1?display=[foo]");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("<code><![CDATA[35]]></code>"));
}

#[test]
fn xlinks_follow_forwarded_host_and_the_ssl_setting() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.request(
        "GET",
        &key,
        "/api/customer_messages/1",
        &[
            "X-Forwarded-Host: shop.example.org",
            "X-Forwarded-Proto: https",
        ],
    );
    assert!(r
        .text()
        .contains("xlink:href=\"https://shop.example.org/api/customer_threads/1\""));
    app.db.exec("INSERT INTO `ps_configuration` (`name`, `value`, `date_add`, `date_upd`) VALUES ('PS_SSL_ENABLED', '1', NOW(), NOW())");
    app.refresh();
    let r = app.get(&key, "/api/customer_messages/1");
    assert!(r
        .text()
        .contains("xlink:href=\"https://example.com/api/customer_threads/1\""));
}

#[test]
fn values_with_cdata_terminators_stay_well_formed() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    app.db.exec(
        "UPDATE `ps_customer_message` SET `message` = 'a]]>b' WHERE `id_customer_message` = 1",
    );
    let r = app.get(&key, "/api/customer_messages/1");
    assert!(
        r.text()
            .contains("<message><![CDATA[a]]]]><![CDATA[>b]]></message>"),
        "{}",
        r.text()
    );
    crate::support::xsd::assert_valid("customer_message.xsd", &r.body);
}

#[test]
fn paths_outside_the_api_get_an_error_document() {
    let app = TestApp::spawn();
    let r = app.raw("GET /nothing-here HTTP/1.1", b"");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.text(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n<error>\n<code><![CDATA[0]]></code>\n<message><![CDATA[No route matches this request]]></message>\n</error>\n</errors>\n</prestashop>\n"
    );
}

//! JSON request bodies (threadgate's extension, docs/compatibility.md "JSON request bodies"):
//! the JSON twin of every write in writes.rs, with the same stored rows and exact answers.

use crate::support::XML_HEAD as HEAD;
use crate::support::{
    count, http::basic, paris_now_minute, row, xml_error, Response, TestApp, TestDb,
};

/// A request with a JSON body (`Content-Type: application/json`).
fn send(app: &TestApp, method: &str, key: &str, path: &str, body: &[u8]) -> Response {
    app.send(method, key, path, "application/json", body)
}

/// A JSON string as threadgate writes it (PHP's `json_encode`: `/` escaped).
fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap().replace('/', "\\/")
}

fn json_error(code: u32, message: &str) -> String {
    format!(
        r#"{{"errors":[{{"code":{code},"message":{}}}]}}"#,
        js(message)
    )
}

/// The string member `name` of the JSON answer's first entity (single or list shape).
fn member(doc: &str, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(doc).unwrap_or_else(|e| panic!("{e}: {doc}"));
    let (_, inner) = v.as_object().unwrap().iter().next().unwrap();
    let entity = if inner.is_array() { &inner[0] } else { inner };
    match &entity[name] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Null => String::new(),
        other => panic!("{name}: {other} in {doc}"),
    }
}

/// The answer's `date_add` (19 characters after `"date_add":"`).
fn date_add(doc: &str) -> String {
    let s = doc.find("\"date_add\":\"").unwrap() + 12;
    doc[s..s + 19].to_owned()
}

const NEW_THREAD: &str = r#"{"customer_thread":{"id_lang":"1","id_shop":"1","id_customer":"2","id_contact":"2","email":"pub@prestashop.com","token":"aBcD1234eFgH","status":"open"}}"#;

fn expected_new_thread(id: u32, date: &str) -> String {
    format!(
        r#"{{"customer_thread":{{"id":{id},"id_lang":"1","id_shop":"1","id_customer":"2","id_contact":"2","email":"pub@prestashop.com","token":"aBcD1234eFgH","status":"open","date_add":"{date}","date_upd":"{date}"}}}}"#
    )
}

#[test]
fn post_json_answers_201_with_the_row_as_stored_in_shop_time() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let before = paris_now_minute();
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(
        (r.status, r.reason.as_str()),
        (201, "Created"),
        "{}",
        r.text()
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let date = date_add(r.text());
    assert!(
        date.starts_with(&before) || date.starts_with(&paris_now_minute()),
        "{date} is not Paris time"
    );
    assert_eq!(r.text(), expected_new_thread(4, &date));
    let get = app.get(&key, "/api/customer_threads/4?output_format=JSON");
    assert_eq!(get.text(), r.text(), "the answer is what a GET returns");
    assert_eq!(
        row(&app.db, "SELECT CAST(`id_order` AS CHAR), CAST(`id_product` AS CHAR), `status`, `email`, `token` FROM `ps_customer_thread` WHERE `id_customer_thread` = 4"),
        [
            Some("0".into()),
            Some("0".into()),
            Some("open".into()),
            Some("pub@prestashop.com".into()),
            Some("aBcD1234eFgH".into())
        ]
    );
}

#[test]
fn a_json_body_is_answered_in_json_unless_a_format_is_asked() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(r.text(), expected_new_thread(4, &date_add(r.text())));
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=XML",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let xml = app.get(&key, "/api/customer_threads/5");
    assert_eq!(r.text(), xml.text(), "the XML document of the stored row");
    assert!(r.text().starts_with(HEAD));
    // A malformed JSON body gets the JSON error document.
    let r = send(&app, "POST", &key, "/api/customer_threads", b"{\"a\":");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        json_error(
            127,
            "JSON error : EOF while parsing a value at line 1 column 5\nJSON length : 5\nOriginal JSON : {\"a\":"
        )
    );
}

#[test]
fn json_bodies_are_also_chosen_by_the_io_format_when_they_start_with_a_brace() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let plain = |head: &str, path: &str, body: &[u8]| {
        app.raw(
            &format!(
                "POST {path} HTTP/1.1\r\nAuthorization: {}{head}",
                basic(&key)
            ),
            body,
        )
    };
    let r = plain(
        "",
        "/api/customer_threads?io_format=JSON",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(member(r.text(), "id"), "4");
    let r = plain(
        "\r\nIo-Format: JSON\r\nContent-Type: text/plain",
        "/api/customer_threads",
        format!("\n {NEW_THREAD}").as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(member(r.text(), "id"), "5");
    // An XML body stays XML, whatever the format or the Content-Type say.
    let xml = b"<prestashop><customer_thread><id_lang>1</id_lang><id_contact>1</id_contact><token>x</token></customer_thread></prestashop>";
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?io_format=JSON",
        xml,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(member(r.text(), "id"), "6");
    // Without Content-Type or a JSON format, a JSON body is (malformed) XML, as in PrestaShop.
    let r = plain("", "/api/customer_threads", b"{}");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text(),
        xml_error(
            127,
            "XML error : String could not be parsed as XML\nXML length : 2\nOriginal XML : {}"
        )
    );
    assert_eq!(count(&app.db, "customer_thread"), 6);
}

#[test]
fn a_display_parameter_answers_the_list_form_with_every_entity() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = r#"{"customer_threads":[{"id_lang":"1","id_shop":"1","id_customer":"2","id_contact":"2","email":"pub@prestashop.com","token":"aBcD1234eFgH","status":"open"},{"id_lang":1,"id_contact":1,"token":"t2"}]}"#;
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON&display=full",
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let d = date_add(r.text());
    assert_eq!(
        r.text(),
        format!(
            r#"{{"customer_threads":[{{"id":4,"id_lang":"1","id_shop":"1","id_customer":"2","id_order":"0","id_product":"0","id_contact":"2","email":"pub@prestashop.com","token":"aBcD1234eFgH","status":"open","date_add":"{d}","date_upd":"{d}"}},{{"id":5,"id_lang":"1","id_shop":"0","id_customer":"0","id_order":"0","id_product":"0","id_contact":"1","email":"","token":"t2","status":"","date_add":"{d}","date_upd":"{d}"}}]}}"#
        )
    );
    assert_eq!(count(&app.db, "customer_thread"), 5);
}

#[test]
fn a_round_trip_in_json_blank_schema_then_get_put_patch() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    // The plural blank schema (what ws-client's getBlank() reads), filled in and POSTed back.
    let blank = app
        .get(
            &key,
            "/api/customer_threads?schema=blank&output_format=JSON&display=full",
        )
        .text()
        .to_owned();
    assert_eq!(
        blank,
        r#"{"customer_threads":[{"id":"","id_lang":"","id_shop":"","id_customer":"","id_order":"","id_product":"","id_contact":"","email":"","token":"","status":"","date_add":"","date_upd":"","associations":{"customer_messages":[{"id":null}]}}]}"#
    );
    let filled = blank
        .replace(r#""id_lang":"""#, r#""id_lang":"1""#)
        .replace(r#""id_contact":"""#, r#""id_contact":"2""#)
        .replace(r#""email":"""#, r#""email":"new@example.com""#)
        .replace(r#""token":"""#, r#""token":"Tok3n""#)
        .replace(r#""status":"""#, r#""status":"open""#);
    let created = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        filled.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let d = date_add(created.text());
    assert_eq!(
        created.text(),
        format!(
            r#"{{"customer_thread":{{"id":4,"id_lang":"1","id_contact":"2","email":"new@example.com","token":"Tok3n","status":"open","date_add":"{d}","date_upd":"{d}"}}}}"#
        ),
        "POST without id_shop stores 0, which single-object JSON drops"
    );
    // The singular blank schema, with fields added to it, is accepted as well.
    let singular = app
        .get(
            &key,
            "/api/customer_threads?schema=blank&output_format=JSON",
        )
        .text()
        .to_owned();
    assert_eq!(
        singular,
        r#"{"customer_thread":{"associations":{"customer_messages":[{"id":null}]}}}"#
    );
    let filled = singular.replace(
        r#"{"customer_thread":{"#,
        r#"{"customer_thread":{"id_lang":"2","id_contact":"1","token":"s1ngular","#,
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        filled.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(member(r.text(), "id"), "5");
    // GET the JSON, edit it, PUT it to the collection URL (the id is a JSON number).
    let got = app
        .get(&key, "/api/customer_threads/4?output_format=JSON")
        .text()
        .to_owned();
    assert_eq!(got, created.text());
    let edited = got.replace(r#""status":"open""#, r#""status":"closed""#);
    let put = send(
        &app,
        "PUT",
        &key,
        "/api/customer_threads?output_format=JSON",
        edited.as_bytes(),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(member(put.text(), "status"), "closed");
    assert_eq!(date_add(put.text()), d, "PUT keeps date_add");
    let patch = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads?output_format=JSON",
        br#"{"customer_thread":{"id":4,"id_order":5}}"#,
    );
    assert_eq!(patch.status, 200, "{}", patch.text());
    assert_eq!(
        (
            member(patch.text(), "id_order"),
            member(patch.text(), "status"),
            member(patch.text(), "email")
        ),
        ("5".into(), "closed".into(), "new@example.com".into()),
        "PATCH leaves unsent fields alone (W15)"
    );
    assert_eq!(
        row(&app.db, "SELECT CAST(`id_order` AS CHAR), `status`, `token` FROM `ps_customer_thread` WHERE `id_customer_thread` = 4"),
        [Some("5".into()), Some("closed".into()), Some("Tok3n".into())]
    );
}

#[test]
fn a_filled_in_json_message_schema_is_accepted() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let blank = app
        .get(
            &key,
            "/api/customer_messages?schema=blank&output_format=JSON",
        )
        .text()
        .to_owned();
    assert_eq!(blank, r#"{"customer_message":[]}"#);
    // Sent as it is, it is an entity without fields: the required ones are missing.
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?output_format=JSON",
        blank.as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.text(), json_error(41, "parameter \"message\" required"));
    let filled = r#"{"customer_message":{"id_customer_thread":2,"message":"Where is my parcel?","ip_address":"2130706433","read":true}}"#;
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?output_format=JSON",
        filled.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let d = date_add(r.text());
    assert_eq!(
        r.text(),
        format!(
            r#"{{"customer_message":{{"id":4,"id_customer_thread":"2","ip_address":"2130706433","message":"Where is my parcel?","date_add":"{d}","date_upd":"{d}","read":"1"}}}}"#
        )
    );
    // The plural blank schema round-trips too.
    let plural = app
        .get(
            &key,
            "/api/customer_messages?schema=blank&output_format=JSON&display=full",
        )
        .text()
        .to_owned();
    let filled = plural
        .replace(r#""id_customer_thread":"""#, r#""id_customer_thread":"3""#)
        .replace(r#""message":"""#, r#""message":"Merci !""#);
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?output_format=JSON",
        filled.as_bytes(),
    );
    assert_eq!(r.status, 201, "{plural} -> {}", r.text());
    assert_eq!(
        row(&app.db, "SELECT CAST(`id_customer_thread` AS CHAR), `message`, CAST(`private` AS CHAR) FROM `ps_customer_message` WHERE `id_customer_message` = 5"),
        [Some("3".into()), Some("Merci !".into()), Some("0".into())]
    );
}

#[test]
fn put_replaces_omitted_optional_fields_and_patch_does_not() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let put = send(
        &app,
        "PUT",
        &key,
        "/api/customer_threads/999?output_format=JSON&display=full",
        br#"{"customer_thread":{"id":1,"id_lang":1,"id_contact":2,"token":"x"}}"#,
    );
    assert_eq!(
        put.status,
        200,
        "the body id wins over the URL id: {}",
        put.text()
    );
    let t = put.text();
    assert_eq!(
        (
            member(t, "id_customer"),
            member(t, "email"),
            member(t, "status")
        ),
        ("0".into(), "".into(), "".into())
    );
    assert_eq!(
        date_add(t),
        "2024-01-15 10:00:00",
        "an omitted date_add is kept (W23)"
    );
    let patch = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads?output_format=JSON",
        br#"{"customer_thread":{"id":"3","email":"marie@curie.fr"}}"#,
    );
    assert_eq!(patch.status, 200, "{}", patch.text());
    let t = patch.text();
    assert_eq!(
        (member(t, "email"), member(t, "status"), member(t, "token")),
        (
            "marie@curie.fr".into(),
            "pending1".into(),
            "Zx9Yw8Vu7Ts6".into()
        )
    );
    assert_ne!(
        member(t, "date_upd"),
        "2024-03-11 09:15:00",
        "date_upd is now"
    );
}

#[test]
fn several_entities_in_one_body_are_written_together() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    // Two members of the root (any name, as any child of the XML root), then the list form.
    let body = NEW_THREAD.replace(
        "}}",
        r#"},"other":{"id_lang":"2","id_contact":"1","token":"t2"}}"#,
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=XML",
        body.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.text().matches("<customer_thread>").count(), 2);
    let list = r#"{"customer_threads":[{"id_lang":"1","id_contact":"1","token":"a"},{"id_lang":"1","id_contact":"1","token":"b"},{"id_lang":"1","id_contact":"1","token":"c"}]}"#;
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=XML",
        list.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.text().matches("<customer_thread>").count(), 3);
    assert_eq!(count(&app.db, "customer_thread"), 8);
    assert_eq!(
        row(&app.db, "SELECT GROUP_CONCAT(`token` ORDER BY `id_customer_thread`) FROM `ps_customer_thread` WHERE `id_customer_thread` > 3"),
        [Some("aBcD1234eFgH,t2,a,b,c".into())]
    );
}

#[test]
fn messages_are_created_with_sanitised_html_and_sql_looking_text_verbatim() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = br#"{"customer_message":{"id_customer_thread":2,"message":"<p style=\"x\">' OR 1=1 -- & <b>bold<\/b><\/p>","ip_address":2130706433,"private":1}}"#;
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?output_format=JSON",
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        member(r.text(), "message"),
        "<p>' OR 1=1 -- &amp; <b>bold</b></p>"
    );
    assert_eq!(member(r.text(), "private"), "1");
    assert_eq!(
        row(&app.db, "SELECT `message`, CAST(`id_employee` AS CHAR), `ip_address` FROM `ps_customer_message` WHERE `id_customer_message` = 4"),
        [
            Some("<p>' OR 1=1 -- &amp; <b>bold</b></p>".into()),
            Some("0".into()),
            Some("2130706433".into())
        ]
    );
    let sql = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads?output_format=JSON",
        br#"{"customer_thread":{"id":2,"email":"a@b.co","token":"x'; DROP TABLE ps_customer_thread; --"}}"#,
    );
    assert_eq!(sql.status, 200, "{}", sql.text());
    assert_eq!(
        member(sql.text(), "token"),
        "x'; DROP TAB",
        "stored verbatim, cut to 12"
    );
    let eq = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads?output_format=JSON",
        br#"{"customer_thread":{"id":2,"token":"' OR 1=1 --"}}"#,
    );
    assert_eq!(eq.status, 400, "isGenericName refuses `=`");
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn token_longer_than_twelve_is_stored_cut_and_answered_as_stored() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        NEW_THREAD
            .replace("aBcD1234eFgH", "aBcD1234eFgHijkl")
            .as_bytes(),
    );
    assert_eq!(r.status, 201);
    assert_eq!(member(r.text(), "token"), "aBcD1234eFgH");
}

/// The JSON twin of writes.rs's table: each case's exact JSON error document, and nothing
/// written.
#[test]
fn bad_input_is_refused_with_its_code_and_writes_nothing() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let long_email = format!("{}@example.com", "a".repeat(244));
    let thread = |inner: &str| {
        format!(r#"{{"customer_thread":{{"id_lang":"1","id_contact":"1","token":"t"{inner}}}}}"#)
    };
    let malformed = r#"{"customer_thread":{"#;
    let cases: Vec<(&str, &str, String, u16, u32, String)> = vec![
        ("POST", "/api/customer_threads", malformed.into(), 500, 127, format!("JSON error : EOF while parsing an object at line 1 column 20\nJSON length : 20\nOriginal JSON : {malformed}")),
        ("POST", "/api/customer_threads", thread(r#","id":5"#), 400, 91, "id is forbidden when adding a new resource".into()),
        ("POST", "/api/customer_threads", thread(r#","id":"0""#), 400, 91, "id is forbidden when adding a new resource".into()),
        ("POST", "/api/customer_threads", r#"{"customer_thread":{"id_lang":"1"}}"#.into(), 400, 41, "parameter \"id_contact\" required".into()),
        ("POST", "/api/customer_threads", thread(&format!(r#","email":"{long_email}""#)), 400, 85, "Validation error: \"The length of property CustomerThread-&gt;email is currently 256 chars. It must be between 0 and 255 chars.\"".into()),
        ("POST", "/api/customer_threads", thread(r#","email":"not-an-email""#), 400, 85, "Validation error: \"Property CustomerThread-&gt;email is not valid\"".into()),
        ("POST", "/api/customer_threads", thread(r#","status":"archived""#), 400, 85, "Validation error: \"Property CustomerThread-&gt;status is not valid\"".into()),
        ("POST", "/api/customer_threads", thread(r#","id_shop":" 1 ""#), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_shop is not valid\"".into()),
        ("POST", "/api/customer_threads", thread(r#","id_shop":1.5"#), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_shop is not valid\"".into()),
        ("POST", "/api/customer_threads", thread(r#","date_add":"2024-02-30""#), 400, 85, "Validation error: \"Property CustomerThread-&gt;date_add is not valid\"".into()),
        ("POST", "/api/customer_threads", thread(r#","associations":{"foo":[]}"#), 400, 86, "The association \"foo\" does not exists".into()),
        ("POST", "/api/customer_messages", r#"{"customer_message":{"message":"<script>alert(1)<\/script>"}}"#.into(), 400, 85, "Validation error: \"Property CustomerMessage-&gt;message is not valid\"".into()),
        ("POST", "/api/customer_messages", r#"{"customer_message":{"message":"hi","private":2}}"#.into(), 400, 85, "Validation error: \"Property CustomerMessage-&gt;private is not valid\"".into()),
        ("PUT", "/api/customer_threads", thread(""), 400, 90, "id is required when modifying a resource".into()),
        ("PUT", "/api/customer_threads", r#"{"customer_threads":[{"id":1,"id_lang":"1","id_contact":"1"},{"id":"1"}]}"#.into(), 400, 89, "id is duplicate in request".into()),
        ("PUT", "/api/customer_threads", thread(r#","id":999"#), 404, 92, "Invalid ID".into()),
        ("PATCH", "/api/customer_threads", r#"{"customer_thread":{"id":1,"id_lang":"x"}}"#.into(), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_lang is not valid\"".into()),
        ("PATCH", "/api/customer_threads", r#"{"customer_thread":{"id":1,"id_lang":false}}"#.into(), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_lang is empty.\"".into()),
    ];
    let (threads, messages) = (
        count(&app.db, "customer_thread"),
        count(&app.db, "customer_message"),
    );
    let before = app
        .get(&key, "/api/customer_threads?display=full")
        .text()
        .to_owned();
    for (method, path, body, status, code, message) in &cases {
        let r = send(
            &app,
            method,
            &key,
            &format!("{path}?output_format=JSON"),
            body.as_bytes(),
        );
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.text());
        assert_eq!(
            r.text(),
            json_error(*code, message),
            "{method} {path} {body}"
        );
        // The same body with an XML answer: the same error, in XML.
        let r = send(
            &app,
            method,
            &key,
            &format!("{path}?output_format=XML"),
            body.as_bytes(),
        );
        assert_eq!(
            r.text(),
            xml_error(*code, message),
            "{method} {path} {body}"
        );
    }
    assert_eq!(count(&app.db, "customer_thread"), threads);
    assert_eq!(count(&app.db, "customer_message"), messages);
    assert_eq!(
        app.get(&key, "/api/customer_threads?display=full").text(),
        before
    );
}

#[test]
fn hostile_and_broken_json_bodies_are_refused_with_code_127() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let deep = format!(
        "{{\"customer_thread\":{}{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let many = format!("{{\"customer_threads\":[{}{{}}]}}", "{},".repeat(200_000));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "EOF while parsing a value at line 1 column 0"),
        (
            b"   ".to_vec(),
            "EOF while parsing a value at line 1 column 3",
        ),
        (
            b"null".to_vec(),
            "the document must be an object such as {\"customer_thread\":{...}}",
        ),
        (
            br#"{"customer_thread":{"token":"a\u0000b"}}"#.to_vec(),
            "the value of \"token\" holds U+0000, a character XML 1.0 does not allow",
        ),
        (
            b"{\"customer_thread\":{\"token\":\"\xff\xfe\"}}".to_vec(),
            "Invalid UTF-8 at byte offset 29: the body must be UTF-8",
        ),
        (
            br#"{"customer_thread":{"token":"\ud800"}}"#.to_vec(),
            "unexpected end of hex escape at line 1 column 36",
        ),
        (
            deep.into_bytes(),
            "recursion limit exceeded at line 1 column 146",
        ),
        (many.into_bytes(), "More than 200000 values in one body"),
    ];
    for (body, reason) in &cases {
        let r = send(
            &app,
            "POST",
            &key,
            "/api/customer_threads?output_format=JSON",
            body,
        );
        assert_eq!(r.status, 500, "{reason}: {}", r.text());
        let v: serde_json::Value = serde_json::from_str(r.text()).expect("a JSON error document");
        let message = v["errors"][0]["message"].as_str().unwrap();
        assert_eq!(v["errors"][0]["code"], 127);
        assert_eq!(
            message.split('\n').next().unwrap(),
            format!("JSON error : {reason}"),
            "{message}"
        );
        assert_eq!(
            message.split('\n').nth(1).unwrap(),
            format!("JSON length : {}", body.len())
        );
        assert!(r.body.len() < 4096, "no unbounded echo");
    }
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn json_bodies_over_the_limit_are_refused_before_they_are_read() {
    let mut settings = crate::support::serve_settings();
    settings.max_body_bytes = 1024;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let big = NEW_THREAD.replace("aBcD1234eFgH", &"x".repeat(2000));
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        big.as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(
        r.text(),
        json_error(
            127,
            "XML error : Request body too large: the limit is 1024 bytes"
        )
    );
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn a_json_message_of_4194304_characters_is_a_validation_error_not_a_crash() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = format!(
        r#"{{"customer_message":{{"message":"{}"}}}}"#,
        "m".repeat(4_194_304)
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages?output_format=JSON",
        body.as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        json_error(85, "Validation error: \"The length of property CustomerMessage-&gt;message is currently 4194304 chars. It must be between 0 and 4194303 chars.\"")
    );
}

#[test]
fn a_failing_statement_mid_request_rolls_the_json_body_back() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    app.db.exec("CREATE TRIGGER `fail_second` BEFORE INSERT ON `ps_customer_thread` FOR EACH ROW BEGIN IF NEW.`token` = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF; END");
    let body = r#"{"customer_threads":[{"id_lang":"1","id_contact":"1","token":"fine"},{"id_lang":"1","id_contact":"1","token":"boom"}]}"#;
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        body.as_bytes(),
    );
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), json_error(46, "Unable to save resource"));
    assert_eq!(
        count(&app.db, "customer_thread"),
        3,
        "the first entity was rolled back too"
    );
}

#[test]
fn two_concurrent_json_puts_leave_one_of_them_never_a_mix() {
    crate::writes::concurrent_puts_never_mix(send, |n| {
        format!(
            r#"{{"customer_thread":{{"id":1,"id_lang":1,"id_contact":{n},"email":"{n}@example.com","token":"tok{n}"}}}}"#
        )
    });
}

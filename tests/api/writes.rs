//! POST, PUT, PATCH, DELETE: docs/prestashop/writes.md, docs/compatibility.md W9, W12–W17, W22,
//! W23; every bad input of the write issue answers with its exact status and code, and writes
//! nothing.

use threadgate::resource::Method;

use crate::support::XML_HEAD as HEAD;
use crate::support::{count, paris_now_minute, row, xml_error as error, Response, TestApp, TestDb};

fn send(app: &TestApp, method: &str, key: &str, path: &str, body: &[u8]) -> Response {
    app.send(method, key, path, "application/x-www-form-urlencoded", body)
}

/// The value of the first `<name>` element of a document.
fn field<'a>(doc: &'a str, name: &str) -> &'a str {
    let start = [format!("<{name}>"), format!("<{name} ")]
        .iter()
        .filter_map(|open| doc.find(open.as_str()))
        .min()
        .unwrap_or_else(|| panic!("no <{name}> in {doc}"));
    let cdata = start + doc[start..].find("<![CDATA[").unwrap() + "<![CDATA[".len();
    &doc[cdata..cdata + doc[cdata..].find("]]>").unwrap()]
}

const NEW_THREAD: &str = "<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">
  <customer_thread>
    <id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact>
    <email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status>
  </customer_thread>
</prestashop>";

fn expected_new_thread(id: &str, date: &str) -> String {
    format!(
        "{HEAD}<customer_thread>
\t<id><![CDATA[{id}]]></id>
\t<id_lang xlink:href=\"http://example.com/api/languages/1\"><![CDATA[1]]></id_lang>
\t<id_shop xlink:href=\"http://example.com/api/shops/1\"><![CDATA[1]]></id_shop>
\t<id_customer xlink:href=\"http://example.com/api/customers/2\"><![CDATA[2]]></id_customer>
\t<id_order><![CDATA[0]]></id_order>
\t<id_product><![CDATA[0]]></id_product>
\t<id_contact><![CDATA[2]]></id_contact>
\t<email><![CDATA[pub@prestashop.com]]></email>
\t<token><![CDATA[aBcD1234eFgH]]></token>
\t<status><![CDATA[open]]></status>
\t<date_add><![CDATA[{date}]]></date_add>
\t<date_upd><![CDATA[{date}]]></date_upd>
<associations>
<customer_messages nodeType=\"customer_message\" api=\"customer_messages\"/>
</associations>
</customer_thread>
</prestashop>
"
    )
}

#[test]
fn post_answers_201_with_the_row_as_stored_in_shop_time() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let before = paris_now_minute();
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(
        (r.status, r.reason.as_str()),
        (201, "Created"),
        "{}",
        r.text()
    );
    let date = field(r.text(), "date_add").to_owned();
    assert!(
        date.starts_with(&before) || date.starts_with(&paris_now_minute()),
        "{date} is not Paris time"
    );
    assert_eq!(r.text(), expected_new_thread("4", &date));
    crate::support::xsd::assert_valid("customer_thread.xsd", &r.body);
    let get = app.get(&key, "/api/customer_threads/4");
    assert_eq!(
        get.text(),
        r.text(),
        "the answer is what a GET right after returns (W12)"
    );
    assert_eq!(
        row(&app.db, "SELECT CAST(`id_order` AS CHAR), CAST(`id_product` AS CHAR), `status` FROM `ps_customer_thread` WHERE `id_customer_thread` = 4"),
        [Some("0".into()), Some("0".into()), Some("open".into())],
        "omitted ids are stored as 0, not NULL"
    );
}

#[test]
fn post_in_json_answers_the_stored_row_in_json() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON",
        NEW_THREAD.as_bytes(),
    );
    assert_eq!(r.status, 201);
    let date = {
        let t = r.text();
        let s = t.find("\"date_add\":\"").unwrap() + 12;
        t[s..s + 19].to_owned()
    };
    assert_eq!(
        r.text(),
        format!(
            r#"{{"customer_thread":{{"id":4,"id_lang":"1","id_shop":"1","id_customer":"2","id_contact":"2","email":"pub@prestashop.com","token":"aBcD1234eFgH","status":"open","date_add":"{date}","date_upd":"{date}"}}}}"#
        )
    );
}

#[test]
fn a_display_parameter_answers_writes_in_the_plural_json_shape_with_every_entity() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = NEW_THREAD.replace(
        "</prestashop>",
        "<customer_thread><id_lang>1</id_lang><id_contact>1</id_contact><token>t2</token></customer_thread></prestashop>",
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads?output_format=JSON&display=full",
        body.as_bytes(),
    );
    assert_eq!(r.status, 201);
    let t = r.text();
    assert!(t.starts_with(r#"{"customer_threads":[{"id":4,"#), "{t}");
    assert!(
        t.contains(r#"},{"id":5,"#),
        "both entities, members kept: {t}"
    );
    assert!(t.contains(r#""id_order":"0""#));
}

#[test]
fn a_round_trip_as_real_clients_do_it() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    // GET schema=blank, fill it in, POST it.
    let blank = app
        .get(&key, "/api/customer_threads?schema=blank")
        .text()
        .to_owned();
    let filled = blank
        .replace("<id_lang><![CDATA[]]>", "<id_lang><![CDATA[1]]>")
        .replace("<id_contact><![CDATA[]]>", "<id_contact><![CDATA[2]]>")
        .replace("<email><![CDATA[]]>", "<email><![CDATA[new@example.com]]>")
        .replace("<token><![CDATA[]]>", "<token><![CDATA[Tok3n]]>")
        .replace("<status><![CDATA[]]>", "<status><![CDATA[open]]>");
    crate::support::xsd::assert_valid("customer_thread_request.xsd", filled.as_bytes());
    let created = send(
        &app,
        "POST",
        &key,
        "/api/customer_threads",
        filled.as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.text());
    let id = field(created.text(), "id").to_owned();
    assert_eq!(
        field(created.text(), "id_shop"),
        "0",
        "POST without id_shop stores 0 (docs/prestashop/writes.md#defaults)"
    );
    // GET, edit, PUT to the collection URL with the id in the body (associations echoed back).
    let got = app
        .get(&key, &format!("/api/customer_threads/{id}"))
        .text()
        .to_owned();
    let edited = got.replace("<status><![CDATA[open]]>", "<status><![CDATA[closed]]>");
    let put = send(
        &app,
        "PUT",
        &key,
        "/api/customer_threads",
        edited.as_bytes(),
    );
    assert_eq!(put.status, 200, "{}", put.text());
    assert_eq!(field(put.text(), "status"), "closed");
    assert_eq!(
        field(put.text(), "date_add"),
        field(&got, "date_add"),
        "PUT keeps date_add"
    );
    // PATCH one field.
    let patch = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        format!("<prestashop><customer_thread><id>{id}</id><id_order>5</id_order></customer_thread></prestashop>").as_bytes(),
    );
    assert_eq!(patch.status, 200, "{}", patch.text());
    assert_eq!(field(patch.text(), "id_order"), "5");
    assert_eq!(
        field(patch.text(), "status"),
        "closed",
        "PATCH leaves unsent fields alone (W15)"
    );
    assert_eq!(field(patch.text(), "email"), "new@example.com");
    // DELETE two ids at once; thread 1's messages go with it.
    let del = app.request(
        "DELETE",
        &key,
        &format!("/api/customer_threads?id=[1,{id}]"),
        &[],
    );
    assert_eq!((del.status, del.body.len()), (200, 0));
    assert_eq!(del.header("Content-Type"), None);
    assert_eq!(app.get(&key, "/api/customer_threads/1").status, 404);
    assert_eq!(
        app.get(&key, &format!("/api/customer_threads/{id}")).status,
        404
    );
    assert_eq!(
        app.get(&key, "/api/customer_messages/1").status,
        404,
        "messages of a deleted thread are deleted"
    );
    assert_eq!(app.get(&key, "/api/customer_messages/2").status, 200);
}

#[test]
fn a_filled_in_message_schema_validates_and_is_accepted() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let blank = app
        .get(&key, "/api/customer_messages?schema=blank")
        .text()
        .to_owned();
    let filled = blank
        .replace(
            "<id_customer_thread><![CDATA[]]>",
            "<id_customer_thread><![CDATA[2]]>",
        )
        .replace(
            "<message><![CDATA[]]>",
            "<message><![CDATA[Where is my parcel?]]>",
        )
        .replace(
            "<ip_address><![CDATA[]]>",
            "<ip_address><![CDATA[2130706433]]>",
        )
        .replace("<read><![CDATA[]]>", "<read><![CDATA[1]]>");
    crate::support::xsd::assert_valid("customer_message_request.xsd", filled.as_bytes());
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages",
        filled.as_bytes(),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    crate::support::xsd::assert_valid("customer_message.xsd", &r.body);
    assert_eq!(
        (
            field(r.text(), "id"),
            field(r.text(), "message"),
            field(r.text(), "read"),
            field(r.text(), "private")
        ),
        ("4", "Where is my parcel?", "1", "0")
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
        "/api/customer_threads/999",
        b"<prestashop><customer_thread><id>1</id><id_lang>1</id_lang><id_contact>2</id_contact><token>x</token></customer_thread></prestashop>",
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
            field(t, "id_customer"),
            field(t, "email"),
            field(t, "status")
        ),
        ("0", "", "")
    );
    assert_eq!(
        field(t, "date_add"),
        "2024-01-15 10:00:00",
        "an omitted date_add is kept (W23)"
    );
    let patch = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        b"<prestashop><customer_thread><id>3</id><email>marie@curie.fr</email></customer_thread></prestashop>",
    );
    assert_eq!(patch.status, 200, "{}", patch.text());
    let t = patch.text();
    assert_eq!(
        (field(t, "email"), field(t, "status"), field(t, "token")),
        ("marie@curie.fr", "pending1", "Zx9Yw8Vu7Ts6")
    );
    assert_ne!(
        field(t, "date_upd"),
        "2024-03-11 09:15:00",
        "date_upd is now"
    );
}

#[test]
fn several_entities_in_one_body_are_written_together() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = NEW_THREAD.replace("</prestashop>", "<other><id_lang>2</id_lang><id_contact>1</id_contact><token>t2</token></other></prestashop>");
    let r = send(&app, "POST", &key, "/api/customer_threads", body.as_bytes());
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.text().matches("<customer_thread>").count(), 2);
    assert_eq!(count(&app.db, "customer_thread"), 5);
}

#[test]
fn messages_are_created_with_sanitised_html_and_sql_looking_text_verbatim() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = b"<prestashop><customer_message><id_customer_thread>2</id_customer_thread><message><![CDATA[<p style=\"x\">' OR 1=1 -- & <b>bold</b></p>]]></message><ip_address>2130706433</ip_address><private>1</private></customer_message></prestashop>";
    let r = send(&app, "POST", &key, "/api/customer_messages", body);
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        field(r.text(), "message"),
        "<p>' OR 1=1 -- &amp; <b>bold</b></p>"
    );
    assert_eq!(field(r.text(), "private"), "1");
    assert_eq!(field(r.text(), "id_employee"), "0");
    let thread = app.get(&key, "/api/customer_threads/2");
    assert!(
        thread.text().contains("/api/customer_messages/4\""),
        "the thread lists its new message"
    );
    let sql = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        b"<prestashop><customer_thread><id>2</id><email>a@b.co</email><token>x'; DROP TABLE ps_customer_thread; --</token></customer_thread></prestashop>",
    );
    assert_eq!(sql.status, 200, "{}", sql.text());
    assert_eq!(
        field(sql.text(), "token"),
        "x'; DROP TAB",
        "stored verbatim, cut to 12"
    );
    let eq = send(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        b"<prestashop><customer_thread><id>2</id><token>' OR 1=1 --</token></customer_thread></prestashop>",
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
        "/api/customer_threads",
        NEW_THREAD
            .replace("aBcD1234eFgH", "aBcD1234eFgHijkl")
            .as_bytes(),
    );
    assert_eq!(r.status, 201);
    assert_eq!(field(r.text(), "token"), "aBcD1234eFgH");
}

/// Each case: method, path, body, expected status and whole error document; afterwards the
/// database must be unchanged.
#[test]
fn bad_input_is_refused_with_its_code_and_writes_nothing() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let long_email = format!("{}@example.com", "a".repeat(244));
    assert_eq!(long_email.len(), 256);
    let thread = |inner: &str| {
        format!("<prestashop><customer_thread><id_lang>1</id_lang><id_contact>1</id_contact><token>t</token>{inner}</customer_thread></prestashop>")
    };
    let cases: Vec<(&str, &str, String, u16, u32, String)> = vec![
        ("POST", "/api/customer_threads", "<prestashop><customer_thread>".into(), 500, 127, "XML error : String could not be parsed as XML\nXML length : 29\nOriginal XML : <prestashop><customer_thread>".into()),
        ("POST", "/api/customer_threads", thread("<id>5</id>"), 400, 91, "id is forbidden when adding a new resource".into()),
        ("POST", "/api/customer_threads", thread("<id>0</id>"), 400, 91, "id is forbidden when adding a new resource".into()),
        ("POST", "/api/customer_threads", "<prestashop><customer_thread><id_lang>1</id_lang></customer_thread></prestashop>".into(), 400, 41, "parameter \"id_contact\" required".into()),
        ("POST", "/api/customer_threads", thread(&format!("<email>{long_email}</email>")), 400, 85, "Validation error: \"The length of property CustomerThread-&gt;email is currently 256 chars. It must be between 0 and 255 chars.\"".into()),
        ("POST", "/api/customer_threads", thread("<email>not-an-email</email>"), 400, 85, "Validation error: \"Property CustomerThread-&gt;email is not valid\"".into()),
        ("POST", "/api/customer_threads", thread("<status>archived</status>"), 400, 85, "Validation error: \"Property CustomerThread-&gt;status is not valid\"".into()),
        ("POST", "/api/customer_threads", thread("<id_shop> 1 </id_shop>"), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_shop is not valid\"".into()),
        ("POST", "/api/customer_threads", thread("<date_add>2024-02-30</date_add>"), 400, 85, "Validation error: \"Property CustomerThread-&gt;date_add is not valid\"".into()),
        ("POST", "/api/customer_threads", thread("<associations><foo/></associations>"), 400, 86, "The association \"foo\" does not exists".into()),
        ("POST", "/api/customer_messages", "<prestashop><customer_message><message><![CDATA[<script>alert(1)</script>]]></message></customer_message></prestashop>".into(), 400, 85, "Validation error: \"Property CustomerMessage-&gt;message is not valid\"".into()),
        ("POST", "/api/customer_messages", "<prestashop><customer_message><message>hi</message><private>2</private></customer_message></prestashop>".into(), 400, 85, "Validation error: \"Property CustomerMessage-&gt;private is not valid\"".into()),
        ("PUT", "/api/customer_threads", thread(""), 400, 90, "id is required when modifying a resource".into()),
        ("PUT", "/api/customer_threads", format!("{}{}", thread("<id>1</id>").replace("</prestashop>", ""), "<customer_thread><id>1</id></customer_thread></prestashop>"), 400, 89, "id is duplicate in request".into()),
        ("PUT", "/api/customer_threads", thread("<id>999</id>"), 404, 92, "Invalid ID".into()),
        ("PATCH", "/api/customer_threads", "<prestashop><customer_thread><id>1</id><id_lang>x</id_lang></customer_thread></prestashop>".into(), 400, 85, "Validation error: \"Property CustomerThread-&gt;id_lang is not valid\"".into()),
        ("DELETE", "/api/customer_threads?id=[1,7,9]", String::new(), 404, 87, "Id(s) not exists: 7, 9".into()),
        ("DELETE", "/api/customer_threads", String::new(), 404, 87, "Id(s) not exists: 0".into()),
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
        let r = send(&app, method, &key, path, body.as_bytes());
        assert_eq!(r.status, *status, "{method} {path} {body}: {}", r.text());
        assert_eq!(r.text(), error(*code, message), "{method} {path} {body}");
    }
    assert_eq!(count(&app.db, "customer_thread"), threads);
    assert_eq!(count(&app.db, "customer_message"), messages);
    assert_eq!(
        app.get(&key, "/api/customer_threads?display=full").text(),
        before
    );
}

#[test]
fn hostile_and_broken_bodies_are_refused_with_code_127() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"xml=".to_vec(),
        b"   ".to_vec(),
        b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><prestashop><customer_thread><id_lang>&e;</id_lang></customer_thread></prestashop>".to_vec(),
        b"<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\"><!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]><prestashop><customer_thread><token>&c;</token></customer_thread></prestashop>".to_vec(),
        b"<prestashop><customer_thread><token>a\0b</token></customer_thread></prestashop>".to_vec(),
        b"<prestashop><customer_thread><token>\xff\xfe</token></customer_thread></prestashop>".to_vec(),
        b"<prestashop><customer_thread><token>&undefined;</token></customer_thread></prestashop>".to_vec(),
    ];
    for body in &bodies {
        let r = send(&app, "POST", &key, "/api/customer_threads", body);
        assert_eq!(
            r.status,
            500,
            "{:?}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert!(
            r.text().contains("<code><![CDATA[127]]></code>"),
            "{}",
            r.text()
        );
        assert!(!r.text().contains("root:"), "nothing was fetched");
        assert!(r.body.len() < 4096, "no unbounded echo");
    }
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn bodies_over_the_limit_are_refused_before_they_are_read() {
    let mut settings = crate::support::serve_settings();
    settings.max_body_bytes = 1024;
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let big = NEW_THREAD.replace("aBcD1234eFgH", &"x".repeat(2000));
    let r = send(&app, "POST", &key, "/api/customer_threads", big.as_bytes());
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(r.text().contains("<errors>"));
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn a_message_of_4194304_characters_is_a_validation_error_not_a_crash() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let body = format!(
        "<prestashop><customer_message><message>{}</message></customer_message></prestashop>",
        "m".repeat(4_194_304)
    );
    let r = send(
        &app,
        "POST",
        &key,
        "/api/customer_messages",
        body.as_bytes(),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.text(),
        error(85, "Validation error: \"The length of property CustomerMessage-&gt;message is currently 4194304 chars. It must be between 0 and 4194303 chars.\"")
    );
}

#[test]
fn ps_method_turns_a_get_into_a_delete_and_permissions_still_apply() {
    let app = TestApp::spawn();
    let read_only = app.db.key(&["customer_threads"], &[Method::Get], &[]);
    let r = app.get(&read_only, "/api/customer_threads/2?ps_method=DELETE");
    assert_eq!(r.status, 405);
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads/2?ps_method=DELETE");
    assert_eq!(r.status, 200);
    assert_eq!(app.get(&key, "/api/customer_threads/2").status, 404);
    let r = app.get(&key, "/api/customer_threads?id=[3|1]&ps_method=DELETE");
    assert_eq!(r.status, 200, "`|` separates ids too (W9)");
    assert_eq!(count(&app.db, "customer_thread"), 0);
}

#[test]
fn a_failing_statement_mid_request_rolls_everything_back() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    // The second insert of the request fails inside the database.
    app.db.exec("CREATE TRIGGER `fail_second` BEFORE INSERT ON `ps_customer_thread` FOR EACH ROW BEGIN IF NEW.`token` = 'boom' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF; END");
    let body = NEW_THREAD.replace("</prestashop>", "<customer_thread><id_lang>1</id_lang><id_contact>1</id_contact><token>boom</token></customer_thread></prestashop>");
    let r = send(&app, "POST", &key, "/api/customer_threads", body.as_bytes());
    assert_eq!(r.status, 500);
    assert_eq!(r.text(), error(46, "Unable to save resource"));
    assert!(
        !r.text().contains("injected"),
        "the database's text stays in the log"
    );
    assert_eq!(
        count(&app.db, "customer_thread"),
        3,
        "the first entity was rolled back too"
    );
    // A thread cascade whose thread delete fails keeps its messages.
    app.db.exec("CREATE TRIGGER `fail_delete` BEFORE DELETE ON `ps_customer_thread` FOR EACH ROW BEGIN IF OLD.`id_customer_thread` = 1 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected'; END IF; END");
    let r = app.request("DELETE", &key, "/api/customer_threads?id=[3,1]", &[]);
    assert_eq!(r.status, 500);
    assert_eq!(
        count(&app.db, "customer_message"),
        3,
        "no message of either thread was deleted"
    );
    assert_eq!(count(&app.db, "customer_thread"), 3);
}

#[test]
fn two_concurrent_puts_leave_one_of_them_never_a_mix() {
    concurrent_puts_never_mix(send, |n| {
        format!("<prestashop><customer_thread><id>1</id><id_lang>1</id_lang><id_contact>{n}</id_contact><email>{n}@example.com</email><token>tok{n}</token></customer_thread></prestashop>")
    });
}

/// Two PUTs of thread 1 at once, five times, each with `body(n)` (`n` is 1 or 2: contact `n`,
/// `n@example.com`, token `tok<n>`) sent by `send`: the row is one of them whole, never a mix.
pub(crate) fn concurrent_puts_never_mix(
    send: fn(&TestApp, &str, &str, &str, &[u8]) -> Response,
    body: fn(&str) -> String,
) {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let put = |n: &str| {
        send(
            &app,
            "PUT",
            &key,
            "/api/customer_threads",
            body(n).as_bytes(),
        )
    };
    for _ in 0..5 {
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| put("1"));
            let b = s.spawn(|| put("2"));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert_eq!((a.status, b.status), (200, 200));
        let stored = row(&app.db, "SELECT CAST(`id_contact` AS CHAR), `email`, `token` FROM `ps_customer_thread` WHERE `id_customer_thread` = 1");
        let n = stored[0].clone().unwrap();
        assert_eq!(
            stored,
            [
                Some(n.clone()),
                Some(format!("{n}@example.com")),
                Some(format!("tok{n}"))
            ]
        );
    }
}

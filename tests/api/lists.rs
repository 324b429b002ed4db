//! Collections: docs/prestashop/lists.md (display, filter, sort, limit), docs/prestashop/schemas.md
//! (schemas), docs/compatibility.md W6–W8, W11, and the chunked streaming of long lists.

use crate::support::XML_HEAD as HEAD;
use crate::support::{serve_settings, xml_error as error, xsd, Response, TestApp, TestDb};

fn ids(r: &Response) -> Vec<u32> {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    ids_of(r)
}

fn ids_of(r: &Response) -> Vec<u32> {
    r.text()
        .split("<customer_thread id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect()
}

#[test]
fn minimal_list_is_the_golden_document() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads?limit=2");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), golden!("customer_threads_minimal.xml"));
    xsd::assert_valid("customer_threads.xsd", &r.body);
    let json = app.get(&key, "/api/customer_threads?limit=2&output_format=JSON");
    assert_eq!(json.text(), golden!("customer_threads_minimal.json"));
}

#[test]
fn empty_lists_are_an_empty_element_in_xml_and_a_bare_array_in_json() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads?filter[id]=[999]");
    assert_eq!(r.text(), golden!("customer_threads_empty.xml"));
    xsd::assert_valid("customer_threads.xsd", &r.body);
    let json = app.get(
        &key,
        "/api/customer_threads?filter[id]=[999]&output_format=JSON",
    );
    assert_eq!(json.text(), "[]");
}

#[test]
fn display_fields_is_the_golden_document() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads?display=[email,id]&limit=2");
    assert_eq!(r.text(), golden!("customer_threads_id_email.xml"));
    xsd::assert_valid("customer_threads.xsd", &r.body);
    let json = app.get(
        &key,
        "/api/customer_threads?display=[id,email]&limit=2&output_format=JSON",
    );
    assert_eq!(json.text(), golden!("customer_threads_id_email.json"));
}

#[test]
fn display_full_list_in_json_keeps_falsy_members() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(
        &key,
        "/api/customer_threads?display=full&limit=2&output_format=JSON",
    );
    assert_eq!(r.text(), golden!("customer_threads_full.json"));
    let xml = app.get(&key, "/api/customer_threads?display=full");
    xsd::assert_valid("customer_threads.xsd", &xml.body);
    let first = crate::single::THREAD_1;
    let entity =
        &first[first.find("<customer_thread>").unwrap()..first.find("</prestashop>").unwrap()];
    assert!(
        xml.text().contains(entity),
        "full list entities equal the single documents"
    );
}

#[test]
fn every_filter_form_selects_the_right_rows() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let cases: &[(&str, &[u32])] = &[
        ("filter[id]=2", &[2]),
        ("filter[id]=[2]", &[2]),
        ("filter[id]=[1|3]", &[1, 3]),
        ("filter[id]=[3,2]", &[2, 3]),
        ("filter[id]=>[1]", &[2, 3]),
        ("filter[id]=<[3]", &[1, 2]),
        ("filter[id]=>=[2]", &[2, 3]),
        ("filter[id]=<=[2]", &[1, 2]),
        ("filter[id]=![2]", &[1, 3]),
        ("filter[id]=![1|2]", &[3]),
        ("filter[email]=[PUB@PRESTASHOP.COM]", &[1]),
        ("filter[email]=%[example]%", &[2, 3]),
        ("filter[email]=[guest]%", &[2]),
        ("filter[email]=%[.com]", &[1, 2, 3]),
        ("filter[email]=%25a%25", &[]),
        ("filter[status]=[open|pending1]", &[1, 3]),
        ("filter[id_customer]=[2]&filter[status]=[open]", &[1]),
        (
            "filter[date_add]=[2024-01-01,2024-02-01%2009:00:00]",
            &[1, 2],
        ),
        ("filter[date_upd]=>[2024-03-01]&date=1", &[3]),
        ("filter[token]=[<b>aBcD1234eFgH</b>]", &[1]),
        ("filter[sort]=[x]&filter[limit]=1", &[1, 2, 3]),
    ];
    for (query, expected) in cases {
        // Clients percent-encode `<` and `>`; a raw one is refused by the HTTP parser itself.
        let encoded = query.replace('>', "%3E").replace('<', "%3C");
        let r = app.get(&key, &format!("/api/customer_threads?{encoded}"));
        assert_eq!(r.status, 200, "{query}: {}", r.text());
        assert_eq!(ids_of(&r), *expected, "{query}");
    }
}

#[test]
fn filter_errors_have_prestashop_codes_and_texts() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let fields = "\"id\", \"id_lang\", \"id_shop\", \"id_customer\", \"id_order\", \"id_product\", \"id_contact\", \"email\", \"token\", \"status\", \"date_add\", \"date_upd\"";
    let cases = [
        ("filter[mail]=x", 32, format!("This filter does not exist. Did you mean: \"email\"? The full list is: {fields}")),
        ("filter[customer_messages]=1", 32, format!("This filter does not exist. Did you mean: \"customer_messages\"? The full list is: {fields}").replace("\"customer_messages\"?", "\"id_customer\"?")),
        ("filter[x][y]=1", 31, "There is no existing linked table for this resource".into()),
        ("filter[email]=", 33, "The filter \"email\" is malformed.".into()),
        ("filter[email][a][b]=1", 33, "The filter \"email\" is malformed.".into()),
        ("filter[id]=[1]x", 33, "The filter \"id\" is malformed.".into()),
    ];
    for (query, code, message) in cases {
        let r = app.get(&key, &format!("/api/customer_threads?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.text(), error(code, &message), "{query}");
    }
}

#[test]
fn display_sort_limit_and_schema_errors_have_prestashop_codes_and_texts() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let available = "id, id_lang, id_shop, id_customer, id_order, id_product, id_contact, email, token, status, date_add, date_upd";
    let cases = [
        ("display=[foo]", 35, format!("Unable to display this field \"foo\". However, these are available: {available}")),
        ("display=customer_messages[id]", 36, format!("The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'. These are available: {available}")),
        ("display=[id,customer_messages[foo]]", 35, format!("Unable to display this field \"customer_messages (details : array (\n  0 => 'foo',\n))\". However, these are available: {available}")),
        ("display=[customer_messages]", 35, format!("Unable to display this field \"customer_messages\". However, these are available: {available}")),
        ("display=id", 36, format!("The 'display' syntax is wrong. You can set 'full' or '[field_1,field_2,field_3,...]'. These are available: {available}")),
        ("sort=[id]", 37, "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)".into()),
        ("sort=[id_lang]", 37, "The \"sort\" value has to be formed as this example: \"field_ASC\" or '[field_1_DESC,field_2_ASC,field_3_ASC,...]' (\"field\" has to be an available field)".into()),
        ("sort=[foo_ASC]", 38, format!("Unable to filter by this field. However, these are available: {available}, for i18n fields:")),
        ("limit=1,2,3", 39, "The \"limit\" value has to be formed as this example: \"5,25\" or \"10\"".into()),
        ("schema=full", 28, "Please select a schema of type 'synopsis' to get the whole schema informations (which fields are required, which kind of content...) or 'blank' to get an empty schema to fill before using POST request".into()),
    ];
    for (query, code, message) in cases {
        let r = app.get(&key, &format!("/api/customer_threads?{query}"));
        assert_eq!(r.status, 400, "{query}");
        assert_eq!(r.text(), error(code, &message), "{query}");
        xsd::assert_valid("errors.xsd", &r.body);
    }
    let json = app.get(&key, "/api/customer_threads?limit=1,2,3&output_format=JSON");
    assert_eq!(
        json.text(),
        r#"{"errors":[{"code":39,"message":"The \"limit\" value has to be formed as this example: \"5,25\" or \"10\""}]}"#
    );
}

#[test]
fn sort_orders_rows_and_accepts_dates_without_date_1() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads")),
        [1, 2, 3],
        "default order is ascending id (W11)"
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?sort=[id_DESC]")),
        [3, 2, 1]
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?sort=id_desc")),
        [3, 2, 1]
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?sort=[date_upd_DESC]")),
        [3, 2, 1]
    );
    // ENUM columns sort by their index: open < closed < pending1.
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?sort=[status_DESC]")),
        [3, 2, 1]
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?sort=[id_lang_DESC,id_ASC]")),
        [3, 1, 2]
    );
}

#[test]
fn limit_takes_a_count_or_an_offset_and_a_count() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(ids(&app.get(&key, "/api/customer_threads?limit=2")), [1, 2]);
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?limit=1,2")),
        [2, 3]
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?limit=1,1&sort=[id_DESC]")),
        [2]
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?limit=-1")),
        Vec::<u32>::new()
    );
    assert_eq!(
        ids(&app.get(&key, "/api/customer_threads?limit=abc")),
        Vec::<u32>::new()
    );
}

#[test]
fn head_on_a_list_has_the_headers_and_no_body() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let get = app.get(&key, "/api/customer_threads");
    let head = app.request("HEAD", &key, "/api/customer_threads", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("Content-Sha1"), get.header("Content-Sha1"));
}

#[test]
fn long_lists_stream_in_chunks_with_the_same_body() {
    let db = TestDb::seeded("ps_");
    db.exec(
        "INSERT INTO `ps_customer_thread` (`id_shop`, `id_lang`, `id_contact`, `id_customer`, `status`, `email`, `token`, `date_add`, `date_upd`)
         SELECT 1, 1, 1, 2, 'open', CONCAT('bulk', seq, '@example.com'), 'tok', '2024-05-01 00:00:00', '2024-05-01 00:00:00' FROM seq_1_to_25",
    );
    let whole = TestApp::with(TestDb::seeded("ps_"), serve_settings());
    let mut settings = serve_settings();
    settings.stream_chunk = 4;
    let app = TestApp::with(db, settings);
    let key = app.db.full_key();
    for query in [
        "display=full",
        "display=full&sort=[email_DESC]",
        "limit=3,17",
        "display=[id,email]&output_format=JSON",
    ] {
        let r = app.get(&key, &format!("/api/customer_threads?{query}"));
        assert_eq!(r.status, 200);
        assert!(r.chunked, "{query}: streamed");
        assert_eq!(
            r.header("Content-Sha1"),
            None,
            "{query}: a streamed body has no Content-Sha1"
        );
        let t = r.text();
        let n = t.matches("<customer_thread>").count()
            + t.matches("<customer_thread id=").count()
            + t.matches("{\"id\":").count();
        let expected = if query.starts_with("limit") { 17 } else { 28 };
        assert_eq!(n, expected, "{query}");
    }
    let streamed = app.get(
        &key,
        "/api/customer_threads?display=full&filter[id]=[1|2|3]",
    );
    let buffered = whole.get(&whole.db.full_key(), "/api/customer_threads?display=full");
    assert_eq!(streamed.text(), buffered.text());
    xsd::assert_valid(
        "customer_threads.xsd",
        &app.get(&key, "/api/customer_threads?display=full").body,
    );
    let sorted = app.get(&key, "/api/customer_threads?sort=[email_DESC]");
    let got = ids(&sorted);
    let mut seen = got.clone();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 28, "no row lost or repeated across chunks");
}

#[test]
fn schemas_are_the_golden_documents() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let blank = app.get(&key, "/api/customer_threads?schema=blank");
    assert_eq!(blank.text(), golden!("schema_customer_threads_blank.xml"));
    let synopsis = app.get(&key, "/api/customer_threads?schema=synopsis");
    assert_eq!(
        synopsis.text(),
        golden!("schema_customer_threads_synopsis.xml")
    );
    let message = app.get(&key, "/api/customer_messages?schema=synopsis");
    assert_eq!(
        message.text(),
        golden!("schema_customer_messages_synopsis.xml")
    );
    for (path, body) in [
        (
            "/api/customer_threads?schema=blank&output_format=JSON",
            golden!("schema_customer_threads.json"),
        ),
        (
            "/api/customer_threads?schema=synopsis&output_format=JSON",
            golden!("schema_customer_threads.json"),
        ),
        (
            "/api/customer_messages?schema=blank&output_format=JSON",
            golden!("schema_customer_messages.json"),
        ),
    ] {
        assert_eq!(app.get(&key, path).text(), body, "{path}");
    }
    app.db
        .exec("DELETE FROM `ps_customer_message`; DELETE FROM `ps_customer_thread`");
    assert_eq!(
        app.get(&key, "/api/customer_threads?schema=blank").text(),
        blank.text(),
        "schemas need no rows"
    );
    // schema is ignored on a single resource.
    assert_eq!(
        app.get(&key, "/api/customer_messages/1?schema=blank")
            .status,
        404
    );
}

#[test]
fn message_lists_filter_on_their_own_fields() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_messages?filter[id_customer_thread]=[1]&display=[id,read]&output_format=JSON");
    assert_eq!(
        r.text(),
        r#"{"customer_messages":[{"id":1,"read":"1"},{"id":3,"read":"1"}]}"#
    );
    let r = app.get(&key, "/api/customer_messages?filter[read]=0");
    assert_eq!(
        r.text(),
        format!("{HEAD}<customer_messages>\n<customer_message id=\"2\" xlink:href=\"http://example.com/api/customer_messages/2\"/>\n</customer_messages>\n</prestashop>\n")
    );
    xsd::assert_valid("customer_messages.xsd", &r.body);
}

/// Rows with ties, NULLs, collation-equal strings (`a`, `A`, `a `) and every enum value, for
/// the lists in any order below.
const TIES: &str = "
INSERT INTO `ps_customer_thread` (`id_shop`, `id_lang`, `id_contact`, `id_customer`, `id_order`, `status`, `email`, `token`, `date_add`, `date_upd`)
  SELECT 1, 1, 1 + seq % 2, IF(seq % 5 = 0, NULL, seq % 3), IF(seq % 4 = 0, NULL, seq % 2),
         ELT(1 + seq % 4, 'open', 'closed', 'pending1', 'pending2'),
         ELT(1 + seq % 3, 'a@example.com', 'A@example.com', 'a@example.com '),
         IF(seq % 6 = 0, NULL, CONCAT('t', seq % 3)),
         TIMESTAMP('2024-05-01') + INTERVAL seq % 4 DAY, TIMESTAMP('2024-05-01') + INTERVAL seq % 3 HOUR
  FROM seq_1_to_40;
INSERT INTO `ps_customer_message` (`id_customer_thread`, `id_employee`, `message`, `user_agent`, `date_add`, `date_upd`, `private`, `read`)
  SELECT 1 + seq % 3, 0, ELT(1 + seq % 3, 'b', 'B', 'a'), IF(seq % 4 = 0, NULL, ELT(1 + seq % 2, 'UA', 'ua')),
         TIMESTAMP('2024-05-01') + INTERVAL seq % 2 DAY, TIMESTAMP('2024-05-01'), 0, 0
  FROM seq_1_to_30;
";

#[test]
fn long_lists_in_any_order_page_by_key_with_the_same_body_as_one_chunk() {
    let small = TestDb::seeded("ps_");
    small.exec(TIES);
    let big = TestDb::seeded("ps_");
    big.exec(TIES);
    let mut settings = serve_settings();
    settings.stream_chunk = 3;
    let chunked = TestApp::with(small, settings);
    let mut settings = serve_settings();
    settings.stream_chunk = 100_000;
    let whole = TestApp::with(big, settings);
    let (k1, k2) = (chunked.db.full_key(), whole.db.full_key());
    for query in [
        "customer_threads?display=full&sort=[date_upd_DESC]",
        "customer_threads?display=full&sort=[date_add_ASC]",
        "customer_threads?display=full&sort=[status_ASC,date_upd_DESC]",
        "customer_threads?display=[id,email,id_customer]&sort=[email_ASC,id_customer_DESC]",
        "customer_threads?sort=[id_customer_DESC,id_order_ASC]",
        "customer_threads?display=[id,token]&sort=[token_DESC,date_add_ASC]&output_format=JSON",
        "customer_threads?display=full&sort=[date_upd_ASC]&limit=4,23",
        "customer_threads?display=full&sort=[id_DESC,status_DESC]",
        "customer_threads?display=full&filter[id_contact]=[1]&sort=[date_upd_DESC,email_DESC]",
        "customer_messages?display=full&sort=[user_agent_ASC,date_add_DESC]",
        "customer_messages?display=full&sort=[message_ASC]",
    ] {
        let a = chunked.get(&k1, &format!("/api/{query}"));
        let b = whole.get(&k2, &format!("/api/{query}"));
        assert_eq!(a.status, 200, "{query}: {}", a.text());
        assert!(a.chunked, "{query}: streamed in chunks of 3");
        assert_eq!(a.text(), b.text(), "{query}");
    }
    // The tie-breaker decides within equal keys: ascending ids among the 'open' threads of one
    // day, whatever the chunk boundaries.
    let open = ids(&chunked.get(
        &k1,
        "/api/customer_threads?filter[status]=[open]&sort=[date_add_DESC]&limit=0,5",
    ));
    let mut again = ids(&whole.get(
        &k2,
        "/api/customer_threads?filter[status]=[open]&sort=[date_add_DESC]",
    ));
    again.truncate(5);
    assert_eq!(open, again);
    assert_eq!(open.len(), 5);
}

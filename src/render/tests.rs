//! Whole documents compared byte for byte with the golden documents of `tests/fixtures/golden/`
//! (ws_url `http://example.com/api/`), the examples of docs/prestashop/documents.md.

use super::*;
use crate::error::ApiError;
use crate::query::FieldSelection;
use crate::resource::customer_messages::CUSTOMER_MESSAGES;
use crate::resource::customer_threads::CUSTOMER_THREADS;
use quick_xml::events::Event;
use quick_xml::Reader;

const WS: &str = "http://example.com/api/";
const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n";

fn vals(v: &[Option<&str>]) -> Vec<Option<String>> {
    v.iter().map(|s| s.map(str::to_owned)).collect()
}

/// Thread 1 of docs/prestashop/documents.md#examples: two messages, id_product 0.
fn thread1() -> Entity {
    Entity {
        values: vals(&[
            Some("1"),
            Some("1"),
            Some("1"),
            Some("2"),
            Some("5"),
            Some("0"),
            Some("2"),
            Some("pub@prestashop.com"),
            Some("aBcD1234eFgH"),
            Some("open"),
            Some("2024-01-15 10:00:00"),
            Some("2024-01-16 11:30:00"),
        ]),
        associations: vec![vec!["1".into(), "3".into()]],
    }
}

/// Thread 2 of docs/prestashop/documents.md#examples: NULL id_customer, id_order 0, NULL token, no
/// messages.
fn thread2() -> Entity {
    Entity {
        values: vals(&[
            Some("2"),
            Some("1"),
            Some("1"),
            None,
            Some("0"),
            Some("0"),
            Some("1"),
            Some("guest@example.com"),
            None,
            Some("closed"),
            Some("2024-02-01 09:00:00"),
            Some("2024-02-01 09:00:00"),
        ]),
        associations: vec![vec![]],
    }
}

/// Message 1 of docs/prestashop/documents.md#examples (file_name NULL).
fn message1() -> Entity {
    Entity {
        values: vals(&[
            Some("1"),
            Some("0"),
            Some("1"),
            Some("2130706433"),
            Some("Hello <b>world</b>\nline2"),
            None,
            Some("Mozilla/5.0"),
            Some("0"),
            Some("2024-01-15 10:00:00"),
            Some("2024-01-15 10:00:00"),
            Some("1"),
        ]),
        associations: vec![],
    }
}

fn text(out: Vec<u8>) -> String {
    String::from_utf8(out).expect("UTF-8 body")
}

fn render_single(
    format: Format,
    res: &ResourceDef,
    display: &Display,
    e: &Entity,
    plural: bool,
) -> String {
    let mut out = Vec::new();
    single(&mut out, format, res, display, e, WS, plural);
    text(out)
}

fn render_list(format: Format, display: &Display, entities: &[Entity]) -> String {
    let mut out = Vec::new();
    let mut w = ListWriter::new(format, &CUSTOMER_THREADS, display, WS);
    w.begin(&mut out);
    for e in entities {
        w.entity(&mut out, e);
    }
    w.finish(&mut out);
    assert_eq!(w.count, entities.len() as u64);
    text(out)
}

fn fields(res: &ResourceDef, names: &[&str], associations: Vec<usize>) -> Display {
    Display::Fields(FieldSelection {
        fields: res.fields.iter().map(|f| names.contains(&f.name)).collect(),
        associations,
    })
}

/// The concatenated text of every `<tag>` element, read back with quick-xml.
fn read_back(doc: &str, tag: &str) -> Vec<String> {
    let mut reader = Reader::from_str(doc);
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(s) if s.name().as_ref() == tag.as_bytes() => current = Some(String::new()),
            Event::CData(c) => {
                if let Some(t) = current.as_mut() {
                    t.push_str(&c.decode().expect("UTF-8"));
                }
            }
            Event::End(e) if e.name().as_ref() == tag.as_bytes() => {
                found.extend(current.take());
            }
            Event::Eof => break,
            _ => {}
        }
    }
    found
}

/// A golden document of `tests/fixtures/golden/`, shared with the integration tests
/// (`tests/api`): the exact bytes a client receives.
macro_rules! golden {
    ($name:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/golden/",
            $name
        ))
    };
}

/// The entity of a single-entity document: what a `display=full` list holds for it.
fn entity_of(doc: &str) -> &str {
    doc.strip_prefix(HEAD)
        .and_then(|d| d.strip_suffix("</prestashop>\n"))
        .expect("a single-entity document")
}

/// The member of the plural list a single-entity JSON document with `display` holds.
fn list_member_of(doc: &str) -> &str {
    doc.strip_prefix("{\"customer_threads\":[")
        .and_then(|d| d.strip_suffix("]}"))
        .expect("a one-entity plural list")
}

// --- root listing (docs/prestashop/documents.md#root-listing) ---

fn root_entries() -> [RootEntry<'static>; 2] {
    [
        RootEntry {
            resource: &CUSTOMER_THREADS,
            methods: [true; 6],
        },
        RootEntry {
            resource: &CUSTOMER_MESSAGES,
            methods: [true, false, false, false, false, true],
        },
    ]
}

#[test]
fn root_listing_xml_is_the_golden_document() {
    let mut out = Vec::new();
    root(&mut out, Format::Xml, "My Shop & Co's", WS, &root_entries());
    let expected = golden!("api_root.xml");
    assert_eq!(text(out), expected);
}

#[test]
fn root_listing_json_is_the_bare_array_of_permitted_names_in_byte_order() {
    let mut out = Vec::new();
    root(&mut out, Format::Json, "x", WS, &root_entries());
    assert_eq!(text(out), golden!("api_root.json"));
}

#[test]
fn root_listing_leaves_out_resources_without_any_granted_method() {
    let entries = [
        RootEntry {
            resource: &CUSTOMER_MESSAGES,
            methods: [false; 6],
        },
        RootEntry {
            resource: &CUSTOMER_THREADS,
            methods: [true, false, false, false, false, false],
        },
    ];
    let mut out = Vec::new();
    root(&mut out, Format::Json, "x", WS, &entries);
    assert_eq!(text(out), r#"["customer_threads"]"#);
    let mut out = Vec::new();
    root(&mut out, Format::Xml, "x", WS, &entries);
    assert!(!text(out).contains("customer_messages"));
}

// --- lists (docs/prestashop/lists.md#minimal-list) ---

#[test]
fn minimal_list_xml_is_the_golden_document() {
    let expected = golden!("customer_threads_minimal.xml");
    assert_eq!(
        render_list(Format::Xml, &Display::Minimum, &[thread1(), thread2()]),
        expected
    );
}

#[test]
fn empty_list_xml_has_open_and_close_tags_on_separate_lines() {
    let expected = golden!("customer_threads_empty.xml");
    assert_eq!(render_list(Format::Xml, &Display::Minimum, &[]), expected);
}

#[test]
fn minimal_list_json_has_numeric_ids() {
    assert_eq!(
        render_list(Format::Json, &Display::Minimum, &[thread1(), thread2()]),
        golden!("customer_threads_minimal.json")
    );
}

#[test]
fn empty_list_json_is_the_bare_empty_array() {
    assert_eq!(render_list(Format::Json, &Display::Minimum, &[]), "[]");
    assert_eq!(render_list(Format::Json, &Display::Full, &[]), "[]");
}

// --- display (docs/prestashop/lists.md#display) ---

#[test]
fn display_fields_list_xml_renders_only_the_selected_fields_in_resource_order() {
    let display = fields(&CUSTOMER_THREADS, &["email", "id"], vec![]);
    let expected = golden!("customer_threads_id_email.xml");
    assert_eq!(
        render_list(Format::Xml, &display, &[thread1(), thread2()]),
        expected
    );
}

#[test]
fn display_fields_list_json_renders_only_the_selected_fields() {
    let display = fields(&CUSTOMER_THREADS, &["id", "email"], vec![]);
    assert_eq!(
        render_list(Format::Json, &display, &[thread1(), thread2()]),
        golden!("customer_threads_id_email.json")
    );
}

#[test]
fn display_with_an_association_sub_list_renders_the_item_ids_as_in_1_7() {
    let display = fields(&CUSTOMER_THREADS, &["id"], vec![0]);
    let expected = format!(
        "{HEAD}<customer_threads>
<customer_thread>
\t<id><![CDATA[1]]></id>
<associations>
<customer_messages nodeType=\"customer_message\" api=\"customer_messages\">
\t<customer_message xlink:href=\"http://example.com/api/customer_messages/1\">
\t<id><![CDATA[1]]></id>
\t</customer_message>
\t<customer_message xlink:href=\"http://example.com/api/customer_messages/3\">
\t<id><![CDATA[3]]></id>
\t</customer_message>
</customer_messages>
</associations>
</customer_thread>
<customer_thread>
\t<id><![CDATA[2]]></id>
<associations>
<customer_messages nodeType=\"customer_message\" api=\"customer_messages\"/>
</associations>
</customer_thread>
</customer_threads>
</prestashop>
"
    );
    assert_eq!(
        render_list(Format::Xml, &display, &[thread1(), thread2()]),
        expected
    );
    assert_eq!(
        render_list(Format::Json, &display, &[thread1(), thread2()]),
        r#"{"customer_threads":[{"id":1,"associations":{"customer_messages":[{"id":"1"},{"id":"3"}]}},{"id":2}]}"#
    );
}

#[test]
fn display_full_list_xml_holds_full_entities() {
    let expected = format!(
        "{HEAD}<customer_threads>\n{}{}</customer_threads>\n</prestashop>\n",
        entity_of(golden!("customer_thread_1.xml")),
        entity_of(golden!("customer_thread_2.xml"))
    );
    assert_eq!(
        render_list(Format::Xml, &Display::Full, &[thread1(), thread2()]),
        expected
    );
}

// --- single entities (docs/prestashop/documents.md#single-resources,
// docs/prestashop/documents.md#xml) ---

#[test]
fn single_thread_xml_is_the_golden_document() {
    assert_eq!(
        render_single(
            Format::Xml,
            &CUSTOMER_THREADS,
            &Display::Full,
            &thread1(),
            false
        ),
        golden!("customer_thread_1.xml")
    );
}

#[test]
fn thread_with_nulls_zeros_and_no_messages_xml_is_the_golden_document() {
    assert_eq!(
        render_single(
            Format::Xml,
            &CUSTOMER_THREADS,
            &Display::Full,
            &thread2(),
            false
        ),
        golden!("customer_thread_2.xml")
    );
}

#[test]
fn single_message_xml_is_the_golden_document() {
    let expected = golden!("customer_message_1.xml");
    assert_eq!(
        render_single(
            Format::Xml,
            &CUSTOMER_MESSAGES,
            &Display::Full,
            &message1(),
            false
        ),
        expected
    );
}

#[test]
fn single_with_display_minimum_is_the_self_closed_element() {
    assert_eq!(
        render_single(Format::Xml, &CUSTOMER_THREADS, &Display::Minimum, &thread1(), true),
        format!("{HEAD}<customer_thread id=\"1\" xlink:href=\"http://example.com/api/customer_threads/1\"/>\n</prestashop>\n")
    );
    assert_eq!(
        render_single(
            Format::Json,
            &CUSTOMER_THREADS,
            &Display::Minimum,
            &thread1(),
            true
        ),
        r#"{"customer_threads":[{"id":1}]}"#
    );
}

// --- JSON (docs/prestashop/documents.md#json) ---

#[test]
fn single_thread_json_drops_falsy_members() {
    assert_eq!(
        render_single(
            Format::Json,
            &CUSTOMER_THREADS,
            &Display::Full,
            &thread1(),
            false
        ),
        golden!("customer_thread_1.json")
    );
}

#[test]
fn single_thread_json_without_messages_drops_nulls_zeros_and_associations() {
    assert_eq!(
        render_single(
            Format::Json,
            &CUSTOMER_THREADS,
            &Display::Full,
            &thread2(),
            false
        ),
        golden!("customer_thread_2.json")
    );
}

#[test]
fn single_thread_json_with_a_display_parameter_takes_the_list_shape_and_keeps_zeros() {
    assert_eq!(
        render_single(
            Format::Json,
            &CUSTOMER_THREADS,
            &Display::Full,
            &thread1(),
            true
        ),
        golden!("customer_thread_1_display_full.json")
    );
}

#[test]
fn full_list_json_keeps_nulls_and_empty_id_fields() {
    let expected = golden!("customer_threads_full.json");
    assert!(
        expected.contains(list_member_of(golden!(
            "customer_thread_1_display_full.json"
        ))),
        "a list member equals the single entity with display=full"
    );
    assert_eq!(
        render_list(Format::Json, &Display::Full, &[thread1(), thread2()]),
        expected
    );
}

#[test]
fn single_message_json_escapes_slashes_and_newlines() {
    assert_eq!(
        render_single(
            Format::Json,
            &CUSTOMER_MESSAGES,
            &Display::Full,
            &message1(),
            false
        ),
        golden!("customer_message_1.json")
    );
}

#[test]
fn json_strings_are_escaped_like_php_json_encode_with_unescaped_unicode() {
    let mut out = Vec::new();
    json::string(
        &mut out,
        "a/b \"q\" \\ \u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f} é€😀 \u{2028}\u{2029}",
    );
    assert_eq!(
        text(out),
        "\"a\\/b \\\"q\\\" \\\\ \\b\\f\\n\\r\\t\\u0001\\u001f\u{7f} é€😀 \\u2028\\u2029\""
    );
}

#[test]
fn a_non_numeric_id_is_written_as_a_json_string() {
    let mut e = message1();
    e.values[0] = Some("x1".into());
    let body = render_list(Format::Json, &Display::Minimum, &[e]);
    assert_eq!(body, r#"{"customer_threads":[{"id":"x1"}]}"#);
}

// --- schemas (docs/prestashop/schemas.md) ---

fn render_schema(format: Format, res: &ResourceDef, kind: SchemaKind) -> String {
    let mut out = Vec::new();
    schema(&mut out, format, res, kind, false);
    text(out)
}

#[test]
fn blank_thread_schema_is_the_golden_document() {
    let expected = golden!("schema_customer_threads_blank.xml");
    assert_eq!(
        render_schema(Format::Xml, &CUSTOMER_THREADS, SchemaKind::Blank),
        expected
    );
}

#[test]
fn synopsis_thread_schema_is_the_golden_document() {
    let expected = golden!("schema_customer_threads_synopsis.xml");
    assert_eq!(
        render_schema(Format::Xml, &CUSTOMER_THREADS, SchemaKind::Synopsis),
        expected
    );
}

#[test]
fn synopsis_message_schema_is_the_golden_document() {
    let expected = golden!("schema_customer_messages_synopsis.xml");
    assert_eq!(
        render_schema(Format::Xml, &CUSTOMER_MESSAGES, SchemaKind::Synopsis),
        expected
    );
}

#[test]
fn blank_message_schema_has_id_first_and_no_attributes() {
    let expected = golden!("schema_customer_messages_blank.xml");
    assert_eq!(
        render_schema(Format::Xml, &CUSTOMER_MESSAGES, SchemaKind::Blank),
        expected
    );
}

#[test]
fn json_schemas_collapse_to_the_associations_or_an_empty_array() {
    for kind in [SchemaKind::Blank, SchemaKind::Synopsis] {
        assert_eq!(
            render_schema(Format::Json, &CUSTOMER_THREADS, kind),
            golden!("schema_customer_threads.json")
        );
        assert_eq!(
            render_schema(Format::Json, &CUSTOMER_MESSAGES, kind),
            golden!("schema_customer_messages.json")
        );
    }
}

// --- errors (docs/prestashop/errors.md#document) ---

const FILTER_MESSAGE: &str = "This filter does not exist. Did you mean: \"id\"? The full list is: \"id\", \"id_lang\", \"id_shop\", \"id_customer\", \"id_order\", \"id_product\", \"id_contact\", \"email\", \"token\", \"status\"";

#[test]
fn error_document_xml_has_no_indentation_and_cdata_values() {
    let mut out = Vec::new();
    errors(
        &mut out,
        Format::Xml,
        &ApiError::new(400, 32, FILTER_MESSAGE),
    );
    let expected = format!(
        "{HEAD}<errors>
<error>
<code><![CDATA[32]]></code>
<message><![CDATA[{FILTER_MESSAGE}]]></message>
</error>
</errors>
</prestashop>
"
    );
    assert_eq!(text(out), expected);
}

#[test]
fn error_document_json_has_a_numeric_code() {
    let mut out = Vec::new();
    let e = ApiError::key_not_active();
    errors(&mut out, Format::Json, &e);
    assert_eq!(
        text(out),
        r#"{"errors":[{"code":20,"message":"Authentification key is not active"},{"code":21,"message":"No permission for this authentication key"}]}"#
    );
    let mut out = Vec::new();
    errors(
        &mut out,
        Format::Json,
        &ApiError::new(400, 32, FILTER_MESSAGE),
    );
    assert_eq!(
        text(out),
        format!(
            "{{\"errors\":[{{\"code\":32,\"message\":\"{}\"}}]}}",
            FILTER_MESSAGE.replace('"', "\\\"")
        )
    );
}

#[test]
fn an_error_without_entries_renders_nothing() {
    for format in [Format::Xml, Format::Json] {
        let mut out = Vec::new();
        errors(&mut out, format, &ApiError::not_found_empty());
        assert!(out.is_empty());
    }
}

// --- W5, W20: well-formed whatever the value ---

#[test]
fn a_value_containing_the_cdata_end_is_split_into_sections_that_read_back_unchanged() {
    let mut e = message1();
    let message = "a]]>b ]]>]]> c]]";
    e.values[4] = Some(message.into());
    let body = render_single(Format::Xml, &CUSTOMER_MESSAGES, &Display::Full, &e, false);
    assert!(body.contains(
        "<message><![CDATA[a]]]]><![CDATA[>b ]]]]><![CDATA[>]]]]><![CDATA[> c]]]]></message>"
    ));
    assert_eq!(read_back(&body, "message"), [message]);
}

#[test]
fn w5_example_splits_as_documented() {
    let mut out = Vec::new();
    xml::cdata(&mut out, "a]]>b");
    assert_eq!(text(out), "<![CDATA[a]]]]><![CDATA[>b]]>");
}

#[test]
fn characters_forbidden_in_xml_are_replaced_so_the_document_parses() {
    let mut e = message1();
    e.values[4] = Some("a\u{0}b\u{1b}c\td\re\u{fffe}f\u{ffff}g\u{fffd}".into());
    let body = render_single(Format::Xml, &CUSTOMER_MESSAGES, &Display::Full, &e, false);
    assert!(body.contains(
        "<message><![CDATA[a\u{fffd}b\u{fffd}c\td\re\u{fffd}f\u{fffd}g\u{fffd}]]></message>"
    ));
    assert_eq!(
        read_back(&body, "message"),
        ["a\u{fffd}b\u{fffd}c\td\re\u{fffd}f\u{fffd}g\u{fffd}"]
    );
    // JSON can carry them: escaped, not replaced.
    let json = render_single(Format::Json, &CUSTOMER_MESSAGES, &Display::Full, &e, false);
    assert!(json.contains(r#""message":"a\u0000b\u001bc\td\re"#));
}

#[test]
fn error_messages_are_kept_well_formed_too() {
    let mut out = Vec::new();
    errors(&mut out, Format::Xml, &ApiError::new(400, 33, "x]]>y\u{7}"));
    let body = text(out);
    assert_eq!(read_back(&body, "message"), ["x]]>y\u{fffd}"]);
}

#[test]
fn attribute_values_are_escaped() {
    let mut e = thread1();
    e.values[1] = Some("1\"&<".into());
    let body = render_single(Format::Xml, &CUSTOMER_THREADS, &Display::Full, &e, false);
    assert!(body.contains(
        "<id_lang xlink:href=\"http://example.com/api/languages/1&quot;&amp;&lt;\"><![CDATA[1\"&<]]></id_lang>"
    ));
    read_back(&body, "id_lang");
}

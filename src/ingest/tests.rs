use super::*;
use crate::resource::customer_threads::CUSTOMER_THREADS;

fn fields(e: &EntityInput) -> Vec<(&str, &str)> {
    e.fields
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn one(body: &str) -> EntityInput {
    let mut entities = parse(body.as_bytes()).expect("body parses");
    assert_eq!(entities.len(), 1, "one entity");
    entities.remove(0)
}

/// The single (status, code, message) of a refusal.
fn refusal(body: &[u8]) -> (u16, u32, String) {
    let e = parse(body).expect_err("body is refused");
    assert_eq!(e.errors.len(), 1);
    (e.status, e.errors[0].code, e.errors[0].message.clone())
}

fn malformed(body: &str) -> (u16, u32, String) {
    (
        500,
        127,
        format!(
            "XML error : String could not be parsed as XML\nXML length : {}\nOriginal XML : {body}",
            body.len()
        ),
    )
}

const SPEC_EXAMPLE: &str = r#"<prestashop xmlns:xlink="http://www.w3.org/1999/xlink">
  <customer_thread>
    <id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact>
    <email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status>
  </customer_thread>
</prestashop>"#;

#[test]
fn the_spec_example_body_gives_one_thread_with_its_fields_in_order() {
    let e = one(SPEC_EXAMPLE);
    assert_eq!(e.element, "customer_thread");
    assert_eq!(
        fields(&e),
        [
            ("id_lang", "1"),
            ("id_shop", "1"),
            ("id_customer", "2"),
            ("id_contact", "2"),
            ("email", "pub@prestashop.com"),
            ("token", "aBcD1234eFgH"),
            ("status", "open"),
        ]
    );
    assert!(e.associations.is_empty());
    assert_eq!(e.id(), None);
}

#[test]
fn values_for_follows_the_resource_field_order_with_none_for_absent_fields() {
    let e = one(SPEC_EXAMPLE);
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        e.values_for(&CUSTOMER_THREADS),
        [
            None, // id
            s("1"),
            s("1"),
            s("2"),
            None, // id_order
            None, // id_product
            s("2"),
            s("pub@prestashop.com"),
            s("aBcD1234eFgH"),
            s("open"),
            None, // date_add
            None, // date_upd
        ]
    );
}

#[test]
fn the_xml_equals_prefix_is_stripped_without_url_decoding() {
    let e = one("xml=<p><t><email>a%40b+c</email></t></p>");
    assert_eq!(fields(&e), [("email", "a%40b+c")]);
}

#[test]
fn xml_equals_is_only_stripped_at_the_very_start() {
    assert_eq!(refusal(b" xml=<p/>"), malformed(" xml=<p/>"));
}

#[test]
fn every_child_of_the_root_is_an_entity_whatever_the_names() {
    let entities = parse(b"<anything><a><id>1</id></a><customer_message><id>2</id></customer_message><a/></anything>")
        .unwrap();
    let names: Vec<_> = entities.iter().map(|e| e.element.as_str()).collect();
    assert_eq!(names, ["a", "customer_message", "a"]);
    let ids: Vec<_> = entities.iter().map(EntityInput::id).collect();
    assert_eq!(ids, [Some("1"), Some("2"), None]);
}

#[test]
fn a_root_without_children_has_no_entities() {
    assert_eq!(parse(b"<prestashop/>").unwrap(), []);
    assert_eq!(parse(b"<prestashop>\n  text\n</prestashop>").unwrap(), []);
}

#[test]
fn cdata_and_plain_text_give_the_same_value_and_are_concatenated() {
    let e = one("<p><t><a><![CDATA[x<b>&amp;]]></a><b>x&lt;b&gt;&amp;amp;</b><c>1<![CDATA[2]]>3</c></t></p>");
    assert_eq!(
        fields(&e),
        [("a", "x<b>&amp;"), ("b", "x<b>&amp;"), ("c", "123")]
    );
}

#[test]
fn values_are_not_trimmed() {
    let e = one(
        "<p><t><id_lang> 1 </id_lang><message>\n\thello\n</message><e><![CDATA[ ]]></e></t></p>",
    );
    assert_eq!(
        fields(&e),
        [("id_lang", " 1 "), ("message", "\n\thello\n"), ("e", " ")]
    );
}

#[test]
fn an_empty_element_is_present_with_an_empty_value() {
    let e = one("<p><t><id></id><id_order/></t></p>");
    assert_eq!(e.value("id"), Some(""));
    assert_eq!(e.value("id_order"), Some(""));
    assert_eq!(e.value("id_product"), None);
    assert_eq!(e.id(), None, "an empty <id> is no id");
}

#[test]
fn an_id_of_spaces_or_zero_is_an_id() {
    assert_eq!(one("<p><t><id> </id></t></p>").id(), Some(" "));
    assert_eq!(one("<p><t><id>0</id></t></p>").id(), Some("0"));
}

#[test]
fn attributes_are_ignored() {
    let e = one(
        r#"<prestashop xmlns:xlink="http://www.w3.org/1999/xlink"><customer_thread id="9"><id_lang xlink:href="http://example.com/api/languages/1" notFilterable="true">1</id_lang></customer_thread></prestashop>"#,
    );
    assert_eq!(fields(&e), [("id_lang", "1")]);
    assert_eq!(e.id(), None);
}

#[test]
fn unknown_elements_are_kept_as_fields_and_values_for_ignores_them() {
    let e = one("<p><t><colour>red</colour><id_lang>1</id_lang></t></p>");
    assert_eq!(fields(&e), [("colour", "red"), ("id_lang", "1")]);
    let values = e.values_for(&CUSTOMER_THREADS);
    assert_eq!(values.iter().flatten().collect::<Vec<_>>(), ["1"]);
}

#[test]
fn a_repeated_field_keeps_its_first_value_as_simplexml_does() {
    let e = one("<p><t><email>first@x</email><email>second@x</email></t></p>");
    assert_eq!(e.value("email"), Some("first@x"));
    assert_eq!(
        fields(&e),
        [("email", "first@x"), ("email", "second@x")],
        "both are kept, in order"
    );
}

#[test]
fn a_field_value_is_its_own_text_without_the_text_of_nested_elements() {
    let e = one("<p><t><id_lang><x/>1</id_lang><email>a<b>ignored</b>c<!-- note -->d<?pi x?>e</email></t></p>");
    assert_eq!(fields(&e), [("id_lang", "1"), ("email", "acde")]);
}

#[test]
fn associations_are_collected_by_name_and_are_not_a_field() {
    let e = one("<p><customer_thread><id_lang>1</id_lang><associations><customer_messages><customer_message><id>5</id></customer_message></customer_messages><i18n/><foo>x</foo></associations><email>e</email></customer_thread></p>");
    assert_eq!(e.associations, ["customer_messages", "i18n", "foo"]);
    assert_eq!(fields(&e), [("id_lang", "1"), ("email", "e")]);
    assert_eq!(
        e.value("id"),
        None,
        "an association item's id is not the entity's"
    );
}

#[test]
fn only_the_first_associations_element_counts() {
    let e = one("<p><t><associations><a/></associations><associations><b/></associations></t></p>");
    assert_eq!(e.associations, ["a"]);
    assert!(e.fields.is_empty());
}

#[test]
fn an_associations_element_deeper_than_an_entity_child_is_not_collected() {
    let e = one("<p><t><x><associations><a/></associations></x></t></p>");
    assert!(e.associations.is_empty());
    assert_eq!(fields(&e), [("x", "")]);
}

#[test]
fn elements_in_a_declared_prefixed_namespace_are_invisible_as_in_simplexml() {
    let entities = parse(br#"<p xmlns:n="urn:x"><n:t><id>1</id></n:t><t xmlns:m="urn:y"><m:id_lang>1</m:id_lang><id_shop xmlns="urn:z">2</id_shop><associations><m:a/><b/></associations></t></p>"#)
        .unwrap();
    assert_eq!(entities.len(), 1);
    assert_eq!(fields(&entities[0]), [("id_shop", "2")]);
    assert_eq!(entities[0].associations, ["b"]);
}

#[test]
fn an_undeclared_prefix_keeps_the_element_under_its_full_name() {
    let e = one("<p><t><q:id_lang>1</q:id_lang></t></p>");
    assert_eq!(fields(&e), [("q:id_lang", "1")]);
    assert_eq!(e.value("id_lang"), None);
}

#[test]
fn predefined_entities_and_character_references_are_decoded() {
    let e = one("<p><t><m>&lt;&gt;&amp;&apos;&quot; caf&#233; caf&#xE9; &#x1F600;</m></t></p>");
    assert_eq!(e.value("m"), Some("<>&'\" café café 😀"));
}

#[test]
fn line_ends_are_normalised_as_libxml2_does_but_a_referenced_carriage_return_stays() {
    let e = one("<p><t><m>a\r\nb\rc&#13;\n</m><c><![CDATA[x\r\ny]]></c></t></p>");
    assert_eq!(e.value("m"), Some("a\nb\nc\r\n"));
    assert_eq!(e.value("c"), Some("x\ny"));
}

#[test]
fn a_declaration_comments_processing_instructions_and_a_byte_order_mark_are_accepted() {
    let e = one("\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c --><?php echo 1; ?>\n<p><!-- c --><t><id_lang>1</id_lang></t></p>\n<!-- after -->\n");
    assert_eq!(fields(&e), [("id_lang", "1")]);
}

#[test]
fn an_empty_body_is_error_127() {
    assert_eq!(refusal(b""), malformed(""));
}

#[test]
fn xml_equals_with_nothing_after_is_error_127_of_length_0() {
    assert_eq!(refusal(b"xml="), malformed(""));
}

#[test]
fn a_whitespace_only_body_is_error_127() {
    assert_eq!(refusal(b" \n\t "), malformed(" \n\t "));
}

#[test]
fn a_body_without_a_root_element_is_error_127() {
    for body in [
        "<?xml version=\"1.0\"?>",
        "<!-- only a comment -->",
        "just text",
    ] {
        assert_eq!(refusal(body.as_bytes()), malformed(body), "{body}");
    }
}

#[test]
fn malformed_xml_is_error_127_with_the_spec_message() {
    for body in [
        "<prestashop><customer_thread>",
        "<prestashop><customer_thread></prestashop>",
        "<a><b></a></b>",
        "</a>",
        "<a>x</a>trailing",
        "<a/><b/>",
        "text<a/>",
        "<a x=1/>",
        "<a x=\"1\" x=\"2\"/>",
        "<a x=\"<\"/>",
        "<1a/>",
        "< a/>",
        "<a>&</a>",
        "<a>&amp</a>",
        "<a>]]></a>",
        "<a><!-- a -- b --></a>",
        "<a><!-- a ---></a>",
        "<![CDATA[x]]><a/>",
        " <?xml version=\"1.0\"?><a/>",
        "<a/><?xml version=\"1.0\"?>",
        "<a><?XML x?></a>",
        "{\"customer_thread\":{\"id_lang\":\"1\"}}",
        "id_lang=1&id_shop=1",
    ] {
        assert_eq!(refusal(body.as_bytes()), malformed(body), "{body}");
    }
}

#[test]
fn mismatched_tags_are_error_127() {
    let body = "<prestashop><customer_thread><id_lang>1</id_shop></customer_thread></prestashop>";
    assert_eq!(refusal(body.as_bytes()), malformed(body));
}

#[test]
fn an_undefined_entity_reference_is_error_127() {
    let body = "<p><t><m>&eacute;&nbsp;</m></t></p>";
    assert_eq!(refusal(body.as_bytes()), malformed(body));
}

#[test]
fn character_references_to_characters_xml_forbids_are_error_127() {
    for body in [
        "<a>&#0;</a>",
        "<a>&#1;</a>",
        "<a>&#xD800;</a>",
        "<a>&#xFFFE;</a>",
        "<a>&#x110000;</a>",
        "<a>&#-1;</a>",
        "<a>&#x;</a>",
    ] {
        assert_eq!(refusal(body.as_bytes()), malformed(body), "{body}");
    }
}

#[test]
fn control_characters_other_than_tab_and_line_ends_are_error_127() {
    let body = "<a>\u{1}</a>";
    assert_eq!(refusal(body.as_bytes()), malformed(body));
}

fn dtd_refused(body: &str) -> (u16, u32, String) {
    (
        500,
        127,
        format!(
            "XML error : Document type declarations (<!DOCTYPE ...>) are not accepted\nXML length : {}\nOriginal XML : {body}",
            body.len()
        ),
    )
}

#[test]
fn a_doctype_is_refused_with_error_127() {
    let body = "<!DOCTYPE prestashop><prestashop><t><id_lang>1</id_lang></t></prestashop>";
    assert_eq!(refusal(body.as_bytes()), dtd_refused(body));
}

#[test]
fn an_external_entity_is_refused_and_never_fetched() {
    let body = "<!DOCTYPE p [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><p><t><message>&x;</message></t></p>";
    assert_eq!(refusal(body.as_bytes()), dtd_refused(body));
}

#[test]
fn an_entity_declaration_outside_a_doctype_is_error_127() {
    let body = "<p><!ENTITY x SYSTEM \"file:///etc/passwd\"><t><m>&x;</m></t></p>";
    assert_eq!(refusal(body.as_bytes()), malformed(body));
}

#[test]
fn a_billion_laughs_body_is_refused_without_expansion() {
    let mut body =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    body.push_str(" <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n");
    for i in 2..=9 {
        let prev = format!("&lol{};", i - 1);
        body.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", prev.repeat(10)));
    }
    body.push_str("]>\n<lolz><t><message>&lol9;</message></t></lolz>");
    let (status, code, message) = refusal(body.as_bytes());
    assert_eq!((status, code), (500, 127));
    assert_eq!(message, dtd_refused(&body).2);
    assert!(!message.contains("lollol"), "nothing expanded");
}

#[test]
fn an_unclosed_doctype_is_still_a_refused_dtd() {
    let body = "<!DOCTYPE p [<!ENTITY x \"y\">";
    assert_eq!(refusal(body.as_bytes()), dtd_refused(body));
}

#[test]
fn a_nul_byte_is_refused_with_error_127_naming_its_offset() {
    let (status, code, message) = refusal(b"<p><t><m>a\0b</m></t></p>");
    assert_eq!((status, code), (500, 127));
    // The message echoes the NUL; the renderer replaces it (W20), the message names it.
    assert_eq!(
        message,
        "XML error : NUL byte at offset 10: NUL is not allowed in XML\nXML length : 24\nOriginal XML : <p><t><m>a\0b</m></t></p>"
    );
}

#[test]
fn invalid_utf8_is_refused_with_error_127_naming_its_offset() {
    let body = b"<p><t><m>caf\xe9</m></t></p>"; // Latin-1 é
    let (status, code, message) = refusal(body);
    assert_eq!((status, code), (500, 127));
    assert_eq!(
        message,
        "XML error : Invalid UTF-8 at byte offset 12: the body must be UTF-8\nXML length : 25\nOriginal XML : <p><t><m>caf\u{FFFD}</m></t></p>"
    );
}

#[test]
fn offsets_and_lengths_count_from_after_the_xml_equals_prefix() {
    let (_, _, message) = refusal(b"xml=<a>\0</a>");
    assert_eq!(
        message,
        "XML error : NUL byte at offset 3: NUL is not allowed in XML\nXML length : 8\nOriginal XML : <a>\0</a>"
    );
}

#[test]
fn the_echoed_body_of_a_10_mb_malformed_body_is_bounded() {
    let mut body = b"<p><t><message>".to_vec();
    body.resize(10_000_000, b'x');
    let (status, code, message) = refusal(&body);
    assert_eq!((status, code), (500, 127));
    let expected = format!(
        "XML error : String could not be parsed as XML\nXML length : 10000000\nOriginal XML : <p><t><message>{}",
        "x".repeat(1024 - 15)
    );
    assert_eq!(message, expected);
}

#[test]
fn nesting_deeper_than_256_elements_is_error_127() {
    let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
    assert!(parse(ok.as_bytes()).is_ok());
    let deep = format!(
        "{}{}",
        "<a>".repeat(MAX_DEPTH + 1),
        "</a>".repeat(MAX_DEPTH + 1)
    );
    let (status, code, message) = refusal(deep.as_bytes());
    assert_eq!((status, code), (500, 127));
    assert!(message.starts_with(
        "XML error : String could not be parsed as XML\nXML length : 1799\nOriginal XML : <a><a>"
    ));
}

#[test]
fn more_than_max_elements_is_refused_with_its_own_reason() {
    let body = format!("<p>{}</p>", "<a/>".repeat(MAX_ELEMENTS));
    let (status, code, message) = refusal(body.as_bytes());
    assert_eq!((status, code), (500, 127));
    assert!(message.starts_with(&format!(
        "XML error : More than 100000 elements in one body\nXML length : {}\n",
        body.len()
    )));
    let fits = format!("<p>{}</p>", "<a/>".repeat(MAX_ELEMENTS - 1));
    assert_eq!(parse(fits.as_bytes()).unwrap().len(), MAX_ELEMENTS - 1);
}

#[test]
fn a_maximal_message_of_four_byte_characters_fits_the_default_limit() {
    let message_bytes = 4_194_303 * "😀".len();
    let envelope = SPEC_EXAMPLE.len() + "<message><![CDATA[]]></message>".len();
    assert!(check_size(message_bytes + envelope, DEFAULT_BODY_LIMIT).is_ok());
}

#[test]
fn check_size_refuses_only_above_the_limit() {
    assert!(check_size(10, 10).is_ok());
    let e = check_size(11, 10).unwrap_err();
    assert_eq!((e.status, e.errors[0].code), (413, 127));
    assert_eq!(
        e.errors[0].message,
        "XML error : Request body too large: the limit is 10 bytes"
    );
}

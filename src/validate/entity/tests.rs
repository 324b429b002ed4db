use super::*;
use crate::resource::customer_messages::CUSTOMER_MESSAGES;
use crate::resource::customer_threads::CUSTOMER_THREADS;

/// Values in field order from `(name, value)` pairs; every other field is absent.
fn values(res: &ResourceDef, pairs: &[(&str, &str)]) -> Vec<Option<String>> {
    let mut v = vec![None; res.fields.len()];
    for (name, value) in pairs {
        let i = res.field_index(name).expect("known field");
        v[i] = Some((*value).to_owned());
    }
    v
}

const THREAD: &[(&str, &str)] = &[
    ("id_lang", "1"),
    ("id_shop", "1"),
    ("id_customer", "2"),
    ("id_contact", "2"),
    ("email", "pub@prestashop.com"),
    ("token", "aBcD1234eFgH"),
    ("status", "open"),
];

/// The blank-schema example thread with some fields replaced or added.
fn thread_with(changes: &[(&str, &str)]) -> Vec<Option<String>> {
    let mut pairs: Vec<(&str, &str)> = THREAD
        .iter()
        .filter(|(n, _)| !changes.iter().any(|(c, _)| c == n))
        .copied()
        .collect();
    pairs.extend_from_slice(changes);
    values(&CUSTOMER_THREADS, &pairs)
}

fn thread_without(field: &str) -> Vec<Option<String>> {
    let mut v = values(&CUSTOMER_THREADS, THREAD);
    v[CUSTOMER_THREADS.field_index(field).unwrap()] = None;
    v
}

fn message(res: &ResourceDef, v: &[Option<String>], partial: bool) -> (u16, u32, String) {
    let e = check(res, v, partial).expect_err("a failure");
    assert_eq!(e.errors.len(), 1);
    (e.status, e.errors[0].code, e.errors[0].message.clone())
}

fn code85(text: &str) -> (u16, u32, String) {
    (400, 85, format!("Validation error: \"{text}\""))
}

#[test]
fn the_blank_schema_example_thread_passes() {
    assert_eq!(check(&CUSTOMER_THREADS, &thread_with(&[]), false), Ok(()));
}

#[test]
fn an_absent_required_field_is_code_41_with_its_name() {
    assert_eq!(
        message(&CUSTOMER_THREADS, &thread_without("token"), false),
        (400, 41, "parameter \"token\" required".to_owned())
    );
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &values(&CUSTOMER_MESSAGES, &[]), false),
        (400, 41, "parameter \"message\" required".to_owned())
    );
}

#[test]
fn the_first_absent_required_field_in_resource_order_is_reported() {
    let none = values(&CUSTOMER_THREADS, &[]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &none, false).2,
        "parameter \"id_lang\" required"
    );
    let only_lang = values(&CUSTOMER_THREADS, &[("id_lang", "1")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &only_lang, false).2,
        "parameter \"id_contact\" required"
    );
}

#[test]
fn code_41_comes_before_any_validation_error() {
    let v = values(&CUSTOMER_THREADS, &[("id_lang", "x"), ("id_contact", "1")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, false).2,
        "parameter \"token\" required"
    );
}

#[test]
fn patch_has_no_code_41_and_skips_absent_fields() {
    let v = values(&CUSTOMER_THREADS, &[("email", "new@example.com")]);
    assert_eq!(check(&CUSTOMER_THREADS, &v, true), Ok(()));
    assert_eq!(
        check(&CUSTOMER_MESSAGES, &values(&CUSTOMER_MESSAGES, &[]), true),
        Ok(())
    );
}

#[test]
fn patch_still_validates_the_sent_fields() {
    let v = values(&CUSTOMER_THREADS, &[("token", "")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, true),
        code85("Property CustomerThread-&gt;token is empty.")
    );
    let v = values(&CUSTOMER_THREADS, &[("email", "nope")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, true),
        code85("Property CustomerThread-&gt;email is not valid")
    );
}

#[test]
fn a_present_but_empty_required_field_is_empty() {
    assert_eq!(
        message(&CUSTOMER_THREADS, &thread_with(&[("token", "")]), false),
        code85("Property CustomerThread-&gt;token is empty.")
    );
    let v = values(&CUSTOMER_MESSAGES, &[("message", "")]);
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &v, false),
        code85("Property CustomerMessage-&gt;message is empty.")
    );
}

#[test]
fn zero_counts_as_present_for_a_required_field() {
    let v = thread_with(&[("id_lang", "0"), ("id_contact", "0"), ("token", "0")]);
    assert_eq!(check(&CUSTOMER_THREADS, &v, false), Ok(()));
}

#[test]
fn a_validator_failure_is_not_valid_without_a_final_period() {
    assert_eq!(
        message(
            &CUSTOMER_THREADS,
            &thread_with(&[("id_lang", "abc")]),
            false
        ),
        code85("Property CustomerThread-&gt;id_lang is not valid")
    );
    let v = values(&CUSTOMER_MESSAGES, &[("message", "<script>x</script>")]);
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &v, false),
        code85("Property CustomerMessage-&gt;message is not valid")
    );
}

#[test]
fn validation_runs_in_definition_order_not_resource_order() {
    // Resource order puts id_shop before id_contact; $definition order has id_contact first.
    let v = thread_with(&[("id_shop", "x"), ("id_contact", "")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, false),
        code85("Property CustomerThread-&gt;id_contact is empty.")
    );
    let v = thread_with(&[
        ("date_add", "never"),
        ("email", "nope"),
        ("id_product", "-1"),
    ]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, false),
        code85("Property CustomerThread-&gt;id_product is not valid")
    );
}

#[test]
fn zero_passes_every_validator_because_empty_values_are_not_validated() {
    let fields = [
        "id_shop",
        "id_customer",
        "id_order",
        "id_product",
        "email",
        "date_add",
        "date_upd",
    ];
    let changes: Vec<(&str, &str)> = fields.iter().map(|f| (*f, "0")).collect();
    assert_eq!(
        check(&CUSTOMER_THREADS, &thread_with(&changes), false),
        Ok(())
    );
    let v = values(
        &CUSTOMER_MESSAGES,
        &[
            ("id_employee", "0"),
            ("id_customer_thread", "0"),
            ("ip_address", "0"),
            ("message", "0"),
            ("file_name", "0"),
            ("user_agent", "0"),
            ("private", "0"),
            ("date_add", "0"),
            ("date_upd", "0"),
            ("read", "0"),
        ],
    );
    assert_eq!(check(&CUSTOMER_MESSAGES, &v, false), Ok(()));
}

#[test]
fn empty_optional_values_are_not_validated() {
    let v = thread_with(&[("email", ""), ("date_add", ""), ("id_order", "")]);
    assert_eq!(check(&CUSTOMER_THREADS, &v, false), Ok(()));
}

#[test]
fn a_256_character_email_gets_the_length_message() {
    let email = format!("{}@example.com", "a".repeat(256 - 12));
    assert_eq!(email.chars().count(), 256);
    assert_eq!(
        message(&CUSTOMER_THREADS, &thread_with(&[("email", &email)]), false),
        code85("The length of property CustomerThread-&gt;email is currently 256 chars. It must be between 0 and 255 chars.")
    );
}

#[test]
fn the_length_check_comes_before_the_validator() {
    let junk = "<".repeat(256);
    assert_eq!(
        message(&CUSTOMER_THREADS, &thread_with(&[("email", &junk)]), false).2,
        "Validation error: \"The length of property CustomerThread-&gt;email is currently 256 chars. It must be between 0 and 255 chars.\""
    );
}

#[test]
fn the_length_counts_characters_not_bytes() {
    let email = format!("a@{}.fr", "é".repeat(250));
    assert_eq!(email.chars().count(), 255);
    assert!(email.len() > 255);
    assert_ne!(
        check(&CUSTOMER_THREADS, &thread_with(&[("email", &email)]), false)
            .err()
            .map(|e| e.errors[0].message.contains("length")),
        Some(true)
    );
}

#[test]
fn a_4194304_character_message_gets_the_length_message() {
    let v = values(&CUSTOMER_MESSAGES, &[("message", &"a".repeat(4_194_304))]);
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &v, false),
        code85("The length of property CustomerMessage-&gt;message is currently 4194304 chars. It must be between 0 and 4194303 chars.")
    );
    let v = values(&CUSTOMER_MESSAGES, &[("message", &"a".repeat(4_194_303))]);
    assert_eq!(check(&CUSTOMER_MESSAGES, &v, false), Ok(()));
}

#[test]
fn html_entities_count_as_one_character() {
    // 16 entities are 16 characters for ip_address (size 15)...
    let v = values(
        &CUSTOMER_MESSAGES,
        &[("message", "hi"), ("ip_address", &"&amp;".repeat(16))],
    );
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &v, false),
        code85("The length of property CustomerMessage-&gt;ip_address is currently 16 chars. It must be between 0 and 15 chars.")
    );
    // ...and 15 fit, so the validator decides.
    let v = values(
        &CUSTOMER_MESSAGES,
        &[("message", "hi"), ("ip_address", &"&amp;".repeat(15))],
    );
    assert_eq!(
        message(&CUSTOMER_MESSAGES, &v, false),
        code85("Property CustomerMessage-&gt;ip_address is not valid")
    );
    let long = format!("{}&eacute;", "a".repeat(4_194_302));
    let v = values(&CUSTOMER_MESSAGES, &[("message", &long)]);
    assert_eq!(check(&CUSTOMER_MESSAGES, &v, false), Ok(()));
}

#[test]
fn a_status_outside_the_enum_is_not_valid() {
    for bad in ["unknown", "opened", "0", "pending3", "ópen"] {
        assert_eq!(
            message(&CUSTOMER_THREADS, &thread_with(&[("status", bad)]), false),
            code85("Property CustomerThread-&gt;status is not valid"),
            "{bad}"
        );
    }
}

#[test]
fn an_empty_or_absent_status_follows_prestashop() {
    assert_eq!(
        check(&CUSTOMER_THREADS, &thread_with(&[("status", "")]), false),
        Ok(())
    );
    assert_eq!(
        check(&CUSTOMER_THREADS, &thread_without("status"), false),
        Ok(())
    );
}

#[test]
fn every_status_is_valid_as_mysql_would_store_it() {
    for (sent, stored) in [
        ("open", "open"),
        ("closed", "closed"),
        ("pending1", "pending1"),
        ("pending2", "pending2"),
        ("Open", "open"),
        ("CLOSED", "closed"),
        ("open  ", "open"),
    ] {
        assert_eq!(status_value(sent), Some(stored));
        assert_eq!(
            check(&CUSTOMER_THREADS, &thread_with(&[("status", sent)]), false),
            Ok(())
        );
    }
    assert_eq!(status_value(" open"), None);
}

#[test]
fn a_long_token_is_not_an_error() {
    let v = thread_with(&[("token", "abcdefghijklmnopqrstuvwxyz")]);
    assert_eq!(check(&CUSTOMER_THREADS, &v, false), Ok(()));
}

#[test]
fn the_first_failure_wins() {
    let v = thread_with(&[("email", "nope"), ("token", "a<b"), ("status", "bad")]);
    assert_eq!(
        message(&CUSTOMER_THREADS, &v, false),
        code85("Property CustomerThread-&gt;email is not valid")
    );
}

#[test]
fn fields_without_validator_accept_anything() {
    let v = values(
        &CUSTOMER_MESSAGES,
        &[
            ("message", "hi"),
            ("id_customer_thread", "abc"),
            ("file_name", "<x>"),
            ("user_agent", "={}"),
        ],
    );
    assert_eq!(check(&CUSTOMER_MESSAGES, &v, false), Ok(()));
}

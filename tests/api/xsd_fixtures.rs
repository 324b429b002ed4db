//! The schemas in `xsd/` accept the example documents of docs/prestashop/ and reject broken ones.
//!
//! Each file in `tests/fixtures/xsd/` is named `<schema>.<case>.valid.xml` or
//! `<schema>.<case>.invalid.xml` and is checked against `xsd/<schema>.xsd`. The valid ones are
//! the documented examples (or built from the documented rules); the invalid ones break one rule
//! each.
//! No database needed.

use crate::support::xsd;

use std::fs;
use std::path::{Path, PathBuf};

/// Schemas that describe a whole document (entities.xsd and xlink.xsd are only included).
const DOCUMENT_SCHEMAS: &[&str] = &[
    "api",
    "customer_message",
    "customer_messages",
    "customer_thread",
    "customer_threads",
    "errors",
    "schema",
];

struct Fixture {
    path: PathBuf,
    schema: String,
    valid: bool,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/xsd");
    let mut out = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let valid = if name.ends_with(".invalid.xml") {
            false
        } else if name.ends_with(".valid.xml") {
            true
        } else {
            panic!("fixture {name} must end in .valid.xml or .invalid.xml");
        };
        let schema = name.split('.').next().unwrap().to_owned();
        assert!(
            DOCUMENT_SCHEMAS.contains(&schema.as_str()),
            "fixture {name} names no document schema"
        );
        out.push(Fixture {
            path,
            schema,
            valid,
        });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

fn check(fixture: &Fixture) -> Result<(), String> {
    let body = fs::read(&fixture.path).expect("fixture is readable");
    xsd::validate(&format!("{}.xsd", fixture.schema), &body)
}

#[test]
fn every_valid_fixture_passes_its_schema() {
    let failures: Vec<String> = fixtures()
        .iter()
        .filter(|f| f.valid)
        .filter_map(|f| {
            check(f)
                .err()
                .map(|report| format!("{}:\n{report}", f.path.display()))
        })
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_invalid_fixture_fails_its_schema() {
    let accepted: Vec<String> = fixtures()
        .iter()
        .filter(|f| !f.valid && check(f).is_ok())
        .map(|f| f.path.display().to_string())
        .collect();
    assert!(
        accepted.is_empty(),
        "accepted but should fail:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn every_document_schema_has_a_valid_and_an_invalid_fixture() {
    let all = fixtures();
    for schema in DOCUMENT_SCHEMAS {
        for valid in [true, false] {
            assert!(
                all.iter().any(|f| f.schema == *schema && f.valid == valid),
                "no {} fixture for xsd/{schema}.xsd",
                if valid { "valid" } else { "invalid" }
            );
        }
    }
}

#[test]
fn assert_valid_accepts_a_documented_example() {
    xsd::assert_valid(
        "customer_threads.xsd",
        b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
          <prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n\
          <customer_threads>\n\
          </customer_threads>\n\
          </prestashop>\n",
    );
}

#[test]
#[should_panic(expected = "Element 'id': This element is not expected")]
fn assert_valid_reports_xmllint_output_for_a_field_out_of_order() {
    xsd::assert_valid(
        "customer_thread.xsd",
        b"<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\
          <customer_thread><email><![CDATA[a@b.c]]></email><id><![CDATA[1]]></id></customer_thread>\
          </prestashop>",
    );
}

//! The official PHP library, `PSWebServiceLibrary.php` (docs/clients/README.md#php-library): its
//! requests replayed from `tests/fixtures/replay/php_library/`, its answers judged the way the
//! library judges them, for each library generation of the `PSWS-Version` matrix
//! (docs/clients/README.md#psws-version).

use super::{elements, libxml_parses, replay, Element};
use crate::support::{serve_settings, Response, TestApp, TestDb};

/// A generation of the library: the highest `PSWS-Version` it accepts, and whether it also reads
/// the header under its lower-case name (added 2024-06 for HTTP/2).
struct Lib {
    commit: &'static str,
    max: &'static str,
    reads_lowercase: bool,
}

const LIBS: [Lib; 4] = [
    Lib {
        commit: "2b586b2 (2019)",
        max: "1.7.99.99",
        reads_lowercase: false,
    },
    Lib {
        commit: "690e00c (2022-11)",
        max: "8.1.1",
        reads_lowercase: false,
    },
    Lib {
        commit: "791a5da (2024-06)",
        max: "8.1.7",
        reads_lowercase: true,
    },
    Lib {
        commit: "e1d41dd (2024-11)",
        max: "8.2.0",
        reads_lowercase: true,
    },
];

const MIN: &str = "1.4.0.0";

/// PHP's `version_compare` for dotted numbers.
fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<u64> { s.split('.').map(|p| p.parse().unwrap_or(0)).collect() };
    parts(a).cmp(&parts(b))
}

/// What `executeRequest` + `assertStatusCode` + `parseXML` do with an answer: `Ok` with the
/// version the library recorded (`getVersion()`) and the parsed document (none for DELETE and
/// HEAD), or `Err` with the exception the library throws.
fn accept(lib: &Lib, method: &str, r: &Response) -> Result<(String, Vec<Element>), String> {
    // Header lines split on ':' and kept only when they have exactly one colon; then an exact
    // array-key lookup: 'PSWS-Version', and from 2024-06 also 'psws-version'.
    let headers: Vec<(&str, &str)> = r
        .headers
        .iter()
        .filter(|(n, v)| !n.contains(':') && !v.contains(':'))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect();
    let find = |name: &str| headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    let mut version = "unknown".to_owned();
    let seen = find("PSWS-Version").or_else(|| {
        if lib.reads_lowercase {
            find("psws-version")
        } else {
            None
        }
    });
    if let Some(v) = seen {
        version = v.to_owned();
        if version_cmp(MIN, v).is_gt() || version_cmp(lib.max, v).is_lt() {
            return Err("This library is not compatible with this version of PrestaShop".into());
        }
    }
    if r.status != 200 && r.status != 201 {
        return Err(format!("HTTP status {}", r.status));
    }
    if method == "DELETE" || method == "HEAD" {
        return Ok((version, Vec::new()));
    }
    if r.body.is_empty() {
        return Err("HTTP response is empty".into());
    }
    libxml_parses(&r.body).map_err(|e| format!("HTTP XML response is not parsable: {e}"))?;
    Ok((version, elements(&r.body)))
}

/// Runs `accept` for every library generation and requires the same document from each.
fn accepted_by_all(method: &str, r: &Response) -> Vec<Element> {
    let mut doc = None;
    for lib in &LIBS {
        match accept(lib, method, r) {
            Ok((version, els)) => {
                let expected = if lib.reads_lowercase {
                    "1.7.8.11"
                } else {
                    "unknown"
                };
                assert_eq!(version, expected, "getVersion() of lib {}", lib.commit);
                doc = Some(els);
            }
            Err(e) => panic!(
                "lib {} rejects {method} ({}): {e}\n{}",
                lib.commit,
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
        }
    }
    doc.unwrap()
}

fn texts(doc: &[Element], path: &str) -> Vec<String> {
    doc.iter()
        .filter(|e| e.path == path)
        .map(|e| e.text.clone())
        .collect()
}

fn text(doc: &[Element], path: &str) -> String {
    let all = texts(doc, path);
    assert_eq!(all.len(), 1, "one {path} in {doc:?}");
    all[0].clone()
}

/// The `<code>` and `<message>` of the first error, as the pre-2024 libraries put them in the
/// exception text (`$response->children()->children()`).
fn first_error(r: &Response) -> (String, String) {
    libxml_parses(&r.body).expect("error document parses");
    let doc = elements(&r.body);
    (
        texts(&doc, "prestashop/errors/error/code")[0].clone(),
        texts(&doc, "prestashop/errors/error/message")[0].clone(),
    )
}

#[test]
fn php_library_reads_lists_filters_single_ids_and_the_blank_schema() {
    let app = TestApp::spawn();
    let key = app.db.full_key();

    let r = replay(&app, &key, "php_library/get_list", &[]);
    let doc = accepted_by_all("GET", &r);
    let ids: Vec<_> = doc
        .iter()
        .filter(|e| e.path == "prestashop/customer_threads/customer_thread")
        .map(|e| e.attr("id").unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(
        doc[2].attr("xlink:href"),
        Some(format!("http://127.0.0.1:{}/api/customer_threads/1", app.port).as_str())
    );

    let r = replay(&app, &key, "php_library/get_filtered", &[]);
    let doc = accepted_by_all("GET", &r);
    assert_eq!(
        texts(&doc, "prestashop/customer_threads/customer_thread/id"),
        ["3"]
    );
    assert_eq!(
        text(&doc, "prestashop/customer_threads/customer_thread/email"),
        "marie@example.com"
    );

    let r = replay(&app, &key, "php_library/get_by_date", &[]);
    let doc = accepted_by_all("GET", &r);
    assert_eq!(
        texts(&doc, "prestashop/customer_threads/customer_thread/date_upd"),
        ["2024-02-01 09:00:00", "2024-03-11 09:15:00"]
    );

    let r = replay(&app, &key, "php_library/get_one", &[]);
    let doc = accepted_by_all("GET", &r);
    assert_eq!(
        text(&doc, "prestashop/customer_thread/token"),
        "aBcD1234eFgH"
    );
    assert_eq!(
        texts(
            &doc,
            "prestashop/customer_thread/associations/customer_messages/customer_message/id"
        ),
        ["1", "3"]
    );

    let r = replay(&app, &key, "php_library/get_blank", &[]);
    let doc = accepted_by_all("GET", &r);
    assert_eq!(text(&doc, "prestashop/customer_thread/email"), "");

    let r = replay(&app, &key, "php_library/head_list", &[]);
    assert!(r.body.is_empty());
    accepted_by_all("HEAD", &r);
}

#[test]
fn php_library_writes_with_its_path_junk_form_content_type_and_xml_prefix() {
    let app = TestApp::spawn();
    let key = app.db.full_key();

    // add() with id_shop: POST //api/customer_threads&id_shop=1, raw XML labelled as a form.
    let r = replay(&app, &key, "php_library/add_with_id_shop", &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let doc = accepted_by_all("POST", &r);
    let id = text(&doc, "prestashop/customer_thread/id");
    assert_eq!(
        text(&doc, "prestashop/customer_thread/email"),
        "php+lib@example.com"
    );
    assert_eq!(text(&doc, "prestashop/customer_thread/id_order"), "5");

    // the pre-2016 'xml=' body
    let r = replay(
        &app,
        &key,
        "php_library/add_message_xml_prefix",
        &[("id", &id)],
    );
    let doc = accepted_by_all("POST", &r);
    let mid = text(&doc, "prestashop/customer_message/id");
    assert_eq!(
        text(&doc, "prestashop/customer_message/message"),
        "Thanks &amp; regards, 100% done",
        "stored as PrestaShop's purifier does: the bare & entity-encoded"
    );
    assert_eq!(
        text(&doc, "prestashop/customer_message/id_customer_thread"),
        id
    );

    // a literal empty Expect header
    let r = replay(
        &app,
        &key,
        "php_library/add_with_empty_expect",
        &[("id", &id)],
    );
    let doc = accepted_by_all("POST", &r);
    let mid2 = text(&doc, "prestashop/customer_message/id");

    // edit(): PUT //api/customer_threads/<id> with the round-tripped document
    let r = replay(
        &app,
        &key,
        "php_library/edit",
        &[("id", &id), ("mid", &mid)],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = accepted_by_all("PUT", &r);
    assert_eq!(text(&doc, "prestashop/customer_thread/status"), "closed");
    assert_eq!(
        text(&doc, "prestashop/customer_thread/date_add"),
        "2024-05-01 10:00:00"
    );
    assert_eq!(
        texts(
            &doc,
            "prestashop/customer_thread/associations/customer_messages/customer_message/id"
        ),
        [mid.clone(), mid2.clone()],
        "associations are read-only: both messages still belong to the thread"
    );

    // delete() with id_shop, then with an array of ids
    let r = replay(
        &app,
        &key,
        "php_library/delete_with_id_shop",
        &[("id", &mid2)],
    );
    assert_eq!(r.status, 200);
    accepted_by_all("DELETE", &r);
    let r = app.get(&key, &format!("/api/customer_messages/{mid2}"));
    assert_eq!(r.status, 404);

    let r = replay(
        &app,
        &key,
        "php_library/delete_many",
        &[("a", &id), ("b", "2")],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    accepted_by_all("DELETE", &r);
    for gone in [id.as_str(), "2"] {
        let r = app.get(&key, &format!("/api/customer_threads/{gone}"));
        assert_eq!(r.status, 404, "thread {gone}");
    }
    let r = app.get(&key, &format!("/api/customer_messages/{mid}"));
    assert_eq!(r.status, 404, "a thread's messages go with it");
}

#[test]
fn php_library_reports_errors_from_their_status_and_xml_body() {
    let app = TestApp::spawn();
    let key = app.db.full_key();

    let r = replay(&app, &key, "php_library/get_unknown", &[]);
    for lib in &LIBS {
        assert_eq!(
            accept(lib, "GET", &r).unwrap_err(),
            "HTTP status 404",
            "{}",
            lib.commit
        );
    }

    let r = replay(&app, &key, "php_library/add_invalid", &[]);
    assert_eq!(r.status, 400);
    assert_eq!(accept(&LIBS[3], "POST", &r).unwrap_err(), "HTTP status 400");
    let (code, message) = first_error(&r);
    assert_eq!(code, "85");
    assert!(message.contains("email"), "{message}");

    let r = replay(
        &app,
        "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        "php_library/get_list",
        &[],
    );
    assert_eq!(r.status, 401);
    // No PSWS-Version before the key is accepted (docs/compatibility.md W21): the library reports
    // the 401 instead of "not compatible".
    assert_eq!(accept(&LIBS[3], "GET", &r).unwrap_err(), "HTTP status 401");
    assert_eq!(first_error(&r).0, "20");
}

#[test]
fn php_library_version_gate_sees_the_configured_psws_version() {
    // Default 1.7.8.11 is inside every window (checked above through accepted_by_all). A shop
    // configured to announce 8.2.1 is refused by the libraries that read the header, exactly as
    // docs/clients/README.md#psws-version recorded against PrestaShop.
    let mut settings = serve_settings();
    settings.psws_version = "8.2.1".into();
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let r = replay(&app, &key, "php_library/get_list", &[]);
    assert_eq!(r.header("PSWS-Version"), Some("8.2.1"));
    for lib in &LIBS {
        let outcome = accept(lib, "GET", &r);
        if lib.reads_lowercase {
            assert_eq!(
                outcome.unwrap_err(),
                "This library is not compatible with this version of PrestaShop",
                "{}",
                lib.commit
            );
        } else {
            // threadgate's header name is lower-case on the wire (actix-http, as HTTP/2 always
            // is); the libraries from before 2024-06 only look up 'PSWS-Version' and skip the
            // check.
            assert_eq!(outcome.unwrap().0, "unknown", "{}", lib.commit);
        }
    }

    let mut settings = serve_settings();
    settings.psws_version = "none".into();
    let app = TestApp::with(TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let r = replay(&app, &key, "php_library/get_list", &[]);
    assert_eq!(r.header("PSWS-Version"), None);
    for lib in &LIBS {
        assert_eq!(
            accept(lib, "GET", &r).unwrap().0,
            "unknown",
            "{}",
            lib.commit
        );
    }
}

#[test]
fn version_compare_follows_php_for_dotted_numbers() {
    use std::cmp::Ordering::*;
    assert_eq!(version_cmp("1.7.8.11", "1.7.99.99"), Less);
    assert_eq!(version_cmp("8.2.1", "8.2.0"), Greater);
    assert_eq!(version_cmp("1.7.8.11", "8.1.1"), Less);
    assert_eq!(version_cmp("1.4.0.0", "1.7.8.11"), Less);
}

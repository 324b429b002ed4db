//! Airbyte `source-prestashop` 1.0.4 (docs/clients/README.md#airbyte): JSON through the
//! `Output-Format` request header, `display=full`, an incremental slice on `date_upd` with
//! `date=1`, the multi-key sort `[date_upd_ASC,id_ASC]`, and offset paging `limit=<offset>,50`
//! until a page has fewer than 50 records. Its record selector reads the top-level
//! `customer_threads` / `customer_messages` array (an empty page is PrestaShop's bare `[]`, which
//! yields no records).

use serde_json::Value;

use super::replay;
use crate::support::TestApp;

const PAGE: usize = 50;

/// Every record of one stream slice, page by page, as the connector reads them.
fn read_slice(app: &TestApp, key: &str, stream: &str, start: &str, end: &str) -> Vec<Value> {
    let fixture = match stream {
        "customer_threads" => "airbyte/threads_page",
        _ => "airbyte/messages_page",
    };
    let mut records = Vec::new();
    let mut offset = 0;
    loop {
        let off = offset.to_string();
        let r = replay(
            app,
            key,
            fixture,
            &[("start", start), ("end", end), ("offset", &off)],
        );
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.header("Content-Type")
                .unwrap()
                .starts_with("application/json"),
            "JSON asked for by the Output-Format header"
        );
        let json: Value = serde_json::from_slice(&r.body).expect("JSON body");
        let page = match &json {
            Value::Array(a) => {
                assert!(a.is_empty(), "only an empty list is a bare array");
                Vec::new()
            }
            Value::Object(o) => o[stream].as_array().expect("records array").clone(),
            other => panic!("unexpected JSON {other}"),
        };
        let n = page.len();
        records.extend(page);
        if n < PAGE {
            return records;
        }
        offset += PAGE;
    }
}

fn enc(date: &str) -> String {
    date.replace(' ', "+").replace(':', "%3A")
}

#[test]
fn airbyte_pages_through_every_row_once_in_cursor_order() {
    let app = TestApp::spawn();
    // 3 demo threads + 147 = 150: three full pages, then the empty `[]` page.
    threadgate::seed::bulk(&mut app.db.conn(), &app.db.tables, 147, 1).expect("bulk seed");
    let key = app.db.key(
        &["customer_threads", "customer_messages"],
        &[threadgate::resource::Method::Get],
        &[],
    );
    let (start, end) = (enc("2024-01-01 00:00:00"), enc("2024-12-31 23:59:59"));

    for stream in ["customer_threads", "customer_messages"] {
        let records = read_slice(&app, &key, stream, &start, &end);
        let ids: Vec<u64> = records.iter().map(|r| r["id"].as_u64().unwrap()).collect();
        let mut unique = ids.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{stream}: a row was repeated");
        assert_eq!(
            unique,
            (1..=150).collect::<Vec<_>>(),
            "{stream}: a row was lost"
        );
        let cursor: Vec<(String, u64)> = records
            .iter()
            .map(|r| {
                (
                    r["date_upd"].as_str().unwrap().to_owned(),
                    r["id"].as_u64().unwrap(),
                )
            })
            .collect();
        let mut sorted = cursor.clone();
        sorted.sort();
        assert_eq!(cursor, sorted, "{stream}: records in (date_upd, id) order");
        assert!(records.iter().all(|r| r.get("date_add").is_some()));
    }

    // a slice with nothing in it: one request, no records
    let none = read_slice(
        &app,
        &key,
        "customer_threads",
        &enc("2023-01-01 00:00:00"),
        &enc("2023-12-31 23:59:59"),
    );
    assert!(none.is_empty());

    // a narrower slice: its bounds are inclusive
    let some = read_slice(
        &app,
        &key,
        "customer_threads",
        &enc("2024-01-16 11:30:00"),
        &enc("2024-03-11 09:15:00"),
    );
    let ids: Vec<u64> = some.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, [1, 2, 3], "demo threads by date_upd, bounds included");
}

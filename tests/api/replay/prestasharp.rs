//! PrestaSharp (docs/clients/README.md#prestasharp, RestSharp 106 era): `?ws_key=` on every request
//! and no Authorization header, the trailing-slash id list, filters with `date=1`, multi-entity
//! POST and PUT to the collection URL. Acceptance: RestSharp's XML deserializer is registered for
//! `text/xml` only, and CheckResponse throws on 400/401/403/404/405/500/503/0.

use super::{elements, replay, Element};
use crate::support::{Response, TestApp};

fn accept(r: &Response) -> Vec<Element> {
    assert!(
        ![0, 400, 401, 403, 404, 405, 500, 503].contains(&r.status),
        "PrestaSharpException: status {}\n{}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    if r.body.is_empty() {
        return Vec::new();
    }
    let ct = r.header("Content-Type").unwrap_or("");
    assert!(
        ct.starts_with("text/xml"),
        "no deserializer for Content-Type {ct:?}"
    );
    elements(&r.body)
}

fn values(doc: &[Element], path: &str) -> Vec<String> {
    doc.iter()
        .filter(|e| e.path == path)
        .map(|e| e.text.clone())
        .collect()
}

const T: &str = "prestashop/customer_thread";

#[test]
fn prestasharp_reads_ids_entities_and_filtered_lists_with_ws_key() {
    let app = TestApp::spawn();
    let key = app.db.key(
        &["customer_threads", "customer_messages"],
        &[threadgate::resource::Method::Get],
        &[],
    );

    // GetIds(): the id attribute of every <customer_thread> (XDocument.Descendants)
    let doc = accept(&replay(&app, &key, "prestasharp/get_ids", &[]));
    let ids: Vec<i64> = doc
        .iter()
        .filter(|e| e.path.ends_with("/customer_thread"))
        .map(|e| e.attr("id").unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, [1, 2, 3]);

    let doc = accept(&replay(&app, &key, "prestasharp/get", &[("id", "3")]));
    assert_eq!(values(&doc, &format!("{T}/email")), ["marie@example.com"]);
    assert_eq!(values(&doc, &format!("{T}/id_lang")), ["2"]);

    let doc = accept(&replay(&app, &key, "prestasharp/get_by_filter", &[]));
    assert_eq!(
        values(&doc, "prestashop/customer_threads/customer_thread/id"),
        ["3", "1"]
    );
    assert_eq!(
        values(&doc, "prestashop/customer_threads/customer_thread/status"),
        ["pending1", "open"]
    );

    let doc = accept(&replay(&app, &key, "prestasharp/get_ids_by_filter", &[]));
    assert_eq!(
        values(&doc, "prestashop/customer_messages/customer_message/id"),
        ["1", "3"]
    );
}

#[test]
fn prestasharp_adds_and_updates_several_entities_per_request_and_deletes() {
    let app = TestApp::spawn();
    let key = app.db.full_key();

    // AddList: two entities in one POST
    let r = replay(&app, &key, "prestasharp/add_list", &[]);
    assert_eq!(r.status, 201, "{}", r.text());
    let doc = accept(&r);
    let ids = values(&doc, &format!("{T}/id"));
    assert_eq!(ids.len(), 2, "{}", r.text());
    assert_eq!(
        values(&doc, &format!("{T}/email")),
        ["sharp-one@example.com", "sharp-two@example.com"]
    );
    let (a, b) = (ids[0].clone(), ids[1].clone());
    let dates = |id: &str| {
        let doc = accept(&replay(&app, &key, "prestasharp/get", &[("id", id)]));
        (
            values(&doc, &format!("{T}/date_add"))[0].clone(),
            values(&doc, &format!("{T}/date_upd"))[0].clone(),
        )
    };
    let (da, ua) = dates(&a);
    let (db, ub) = dates(&b);

    // UpdateList: both, PUT to the collection URL
    let r = replay(
        &app,
        &key,
        "prestasharp/update_list",
        &[
            ("a", &a),
            ("b", &b),
            ("date_add_a", &da),
            ("date_upd_a", &ua),
            ("date_add_b", &db),
            ("date_upd_b", &ub),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    accept(&r);
    let doc = accept(&replay(&app, &key, "prestasharp/get", &[("id", &a)]));
    assert_eq!(values(&doc, &format!("{T}/status")), ["closed"]);
    let doc = accept(&replay(&app, &key, "prestasharp/get", &[("id", &b)]));
    assert_eq!(
        values(&doc, &format!("{T}/email")),
        ["sharp-two-renamed@example.com"]
    );
    assert_eq!(values(&doc, &format!("{T}/status")), ["pending1"]);
    assert_eq!(values(&doc, &format!("{T}/date_add")), [db]);

    // Update: one entity, PUT to the collection URL (the id UrlSegment is dropped)
    let r = replay(&app, &key, "prestasharp/update", &[("a", &a)]);
    assert_eq!(r.status, 200, "{}", r.text());
    let doc = accept(&r);
    assert_eq!(values(&doc, &format!("{T}/status")), ["pending2"]);

    // Delete
    let r = replay(&app, &key, "prestasharp/delete", &[("id", &a)]);
    assert_eq!(r.status, 200);
    accept(&r);
    let r = replay(&app, &key, "prestasharp/get", &[("id", &a)]);
    assert_eq!(r.status, 404, "PrestaSharp throws on the GET after Delete");
}

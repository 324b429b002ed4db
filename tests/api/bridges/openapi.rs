//! The OpenAPI document itself.

use super::*;

/// Every `$ref` in the document points at something that exists, and every component schema
/// compiles as JSON Schema 2020-12 (what OpenAPI 3.1 schemas are).
#[test]
fn openapi_document_is_self_consistent() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    assert_eq!(doc["openapi"], json!("3.1.0"));
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r);
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let pointer = r.strip_prefix('#').expect("local reference");
        assert!(doc.pointer(pointer).is_some(), "{r} resolves");
    }
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "$ref": format!("#/components/schemas/{name}"),
        });
        jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

/// The check that every bridge response goes through does reject what the routes must not send.
#[test]
fn openapi_check_rejects_malformed_bodies() {
    let doc: Value = serde_json::from_str(OPENAPI).unwrap();
    let validator = |name: &str| {
        jsonschema::validator_for(&json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": doc["components"],
            "$ref": format!("#/components/schemas/{name}"),
        }))
        .unwrap()
    };
    let thread_schema = validator("M10Thread");
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let (_, good) = m10(&app, &key, "/api/inbox/threads/1");
    assert!(thread_schema.is_valid(&good));
    let mut no_topic = good.clone();
    no_topic.as_object_mut().unwrap().remove("topic");
    assert!(!thread_schema.is_valid(&no_topic));
    let mut no_null = good.clone();
    no_null["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("shop_reply_needed_since");
    assert!(!thread_schema.is_valid(&no_null));
    let mut empty_attachments = good.clone();
    empty_attachments["messages"][0]["attachments"] = json!([]);
    assert!(!thread_schema.is_valid(&empty_attachments));
    let mut customer_with_org = good;
    customer_with_org["messages"][0]["from"]["organization_details"] = shop();
    assert!(!thread_schema.is_valid(&customer_with_org));
    let err = validator("ThreadListErrorResponse");
    assert!(!err.is_valid(&json!({"customerThreads": [], "requestUUID": Uuid::new_v4().to_string(),
        "errors": [{"errorCode": "INVALID_USER", "errorDescription": "x", "errorUID": Uuid::new_v4().to_string()}],
        "warnings": []})));
}

//! What the two bridge routes share: the webservice switch and the waiting rule.

use super::*;

#[test]
fn m10_and_the_list_answer_503_when_the_webservice_is_disabled() {
    let db = TestDb::seeded("ps_");
    db.exec("UPDATE ps_configuration SET value = '0' WHERE name = 'PS_WEBSERVICE';");
    let app = TestApp::with(db, serve_settings());
    let key = app.db.full_key();
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1"),
        (
            503,
            json!({"status": 503, "message": "The webservice is disabled"})
        )
    );
    let (status, body) = list(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    assert_eq!(status, 503);
    assert_eq!(body["errors"][0]["errorCode"], json!("SERVICE_UNAVAILABLE"));
}

#[test]
fn waiting_for_response_matches_m10_shop_reply_needed_since() {
    let app = list_app();
    let key = app.db.full_key();
    let (t, _) = threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    for s in t {
        let id = s["id"].as_u64().unwrap();
        let (_, m) = m10(&app, &key, &format!("/api/inbox/threads/{id}"));
        assert_eq!(
            s["isWaitingForResponse"].as_bool().unwrap(),
            !m["metadata"]["shop_reply_needed_since"].is_null(),
            "thread {id}"
        );
    }
}

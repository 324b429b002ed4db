//! The read cache (docs/bridges.md, "Read cache").

use super::*;

/// A webservice write with Basic `key:`.
fn ws(app: &TestApp, method: &str, key: &str, path: &str, body: &str) -> Response {
    app.raw(
        &format!("{method} {path} HTTP/1.1\r\nAuthorization: {}", basic(key)),
        body.as_bytes(),
    )
}

fn thread_of(list: &[Value], id: u64) -> &Value {
    list.iter()
        .find(|t| t["id"] == json!(id))
        .unwrap_or_else(|| panic!("thread {id} not listed: {list:?}"))
}

#[test]
fn cache_threadgate_writes_reach_both_bridges_at_once() {
    let app = list_app_with(cached_for_an_hour());
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let (_, before) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(before["metadata"]["total_count"], json!(2));
    assert_eq!(
        before["metadata"]["shop_reply_needed_since"],
        json!("2024-03-01T11:00:00Z")
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(t, vec![t21(), t20(), t22(), t1()]);

    // The shop answers thread 21 through the webservice: both bridges show it on the next read.
    let r = ws(
        &app,
        "POST",
        &key,
        "/api/customer_messages",
        "<prestashop><customer_message><id_customer_thread>21</id_customer_thread><id_employee>1</id_employee><message>On its way</message><private>0</private></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let (_, after) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(after["metadata"]["total_count"], json!(3));
    assert_eq!(after["metadata"]["shop_reply_needed_since"], Value::Null);
    assert_eq!(after["metadata"]["last_sender"], ada());
    assert_eq!(after["messages"][2]["body"], json!("On its way"));
    let (t, _) = threads(&app, &key, &path, "{}");
    let t21_now = thread_of(&t, 21);
    assert_eq!(t21_now["isWaitingForResponse"], json!(false));
    assert_eq!(t21_now["userUuid"], json!(EMPLOYEE_1));
    // Written now, so its last message is the newest of the list.
    assert_eq!(t[0]["id"], json!(21));

    // Closing it through the webservice, then deleting the answer.
    let r = ws(
        &app,
        "PATCH",
        &key,
        "/api/customer_threads",
        "<prestashop><customer_thread><id>21</id><status>closed</status></customer_thread></prestashop>",
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let (t, _) = threads(&app, &key, &path, r#"{"isClosed":true}"#);
    let closed: Vec<&Value> = t.iter().map(|t| &t["id"]).collect();
    assert_eq!(closed, [&json!(21), &json!(20)]);
    let answer = after["messages"][2]["id"].as_str().unwrap().to_owned();
    let r = ws(
        &app,
        "DELETE",
        &key,
        &format!("/api/customer_messages/{answer}"),
        "",
    );
    assert_eq!(r.status, 200);
    let (_, deleted) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(deleted["metadata"]["total_count"], json!(2));
    assert_eq!(deleted["messages"], before["messages"]);
}

#[test]
fn cache_a_write_behind_threadgates_back_is_seen_once_the_ttl_has_passed() {
    // Stale answers are only guaranteed before half the TTL (past it, one request renews the
    // entry); the caches' clock is moved past the TTL instead of waiting for it.
    let mut settings = serve_settings();
    settings.bridge_cache_ms = 4000;
    let app = list_app_with(settings);
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let (_, m10_before) = m10(&app, &key, "/api/inbox/threads/21");
    let (list_before, _) = threads(&app, &key, &path, "{}");
    // PrestaShop's back office answers thread 21 and closes it: no signal reaches threadgate.
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (21, 2, 'Sent from the back office', '2024-03-06 09:00:00', '2024-03-06 09:00:00', 0);
         UPDATE ps_customer_thread SET status = 'closed' WHERE id_customer_thread = 21;",
    );
    // Within the TTL both bridges may still answer what they read (the documented bound)...
    assert_eq!(m10(&app, &key, "/api/inbox/threads/21").1, m10_before);
    assert_eq!(threads(&app, &key, &path, "{}").0, list_before);
    // ...and once it has passed, the write is there.
    app.state
        .clock
        .advance(std::time::Duration::from_millis(4100));
    let (_, m10_after) = m10(&app, &key, "/api/inbox/threads/21");
    assert_eq!(m10_after["metadata"]["total_count"], json!(3));
    assert_eq!(
        m10_after["messages"][2]["body"],
        json!("Sent from the back office")
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(thread_of(&t, 21)["closed"], json!(true));
    assert_eq!(thread_of(&t, 21)["userUuid"], json!(EMPLOYEE_2));
}

#[test]
fn cache_with_ttl_zero_every_request_reads() {
    let app = list_app_with(uncached());
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/21").1["metadata"]["total_count"],
        json!(2)
    );
    threads(&app, &key, &path, "{}");
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (21, 2, 'Sent from the back office', '2024-03-06 09:00:00', '2024-03-06 09:00:00', 0);",
    );
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/21").1["metadata"]["total_count"],
        json!(3)
    );
    let (t, _) = threads(&app, &key, &path, "{}");
    assert_eq!(thread_of(&t, 21)["isWaitingForResponse"], json!(false));
}

#[test]
fn cache_a_read_cached_for_one_key_is_not_shown_to_a_key_of_another_shop() {
    let app = list_app_with(cached_for_an_hour());
    app.db.exec("INSERT INTO `ps_shop` (`id_shop`, `id_shop_group`, `name`, `id_category`, `theme_name`, `active`) VALUES (2, 1, 'Second', 2, 'classic', 1)");
    app.refresh();
    let all = app.db.full_key();
    let other = app.db.key(&["customer_threads"], &[Method::Get], &[2]);
    let path = list_path(CONTACT_2, CUSTOMER_2);
    // Read (and cached) with the key of shop 1 first, each time.
    assert_eq!(m10(&app, &all, "/api/inbox/threads/1").0, 200);
    assert_eq!(
        m10(&app, &other, "/api/inbox/threads/1"),
        (404, json!({"status": 404, "message": "Thread not found"}))
    );
    assert_eq!(m10(&app, &all, "/api/inbox/threads/1?customer_id=2").0, 200);
    assert_eq!(
        m10(&app, &other, "/api/inbox/threads/1?customer_id=2").0,
        404
    );
    assert_eq!(threads(&app, &all, &path, "{}").0.len(), 4);
    assert_eq!(threads(&app, &other, &path, "{}").0, Vec::<Value>::new());
    // The customer's view of a cached thread still hides what the customer may not see.
    let (_, shop_view) = m10(&app, &all, "/api/inbox/threads/21");
    assert_eq!(shop_view["metadata"]["total_count"], json!(2));
    let (_, customer_view) = m10(&app, &all, "/api/inbox/threads/21?customer_id=2");
    assert_eq!(customer_view["metadata"]["total_count"], json!(1));
    assert_eq!(
        m10(&app, &all, "/api/inbox/threads/21?customer_id=3").0,
        404
    );
}

#[test]
fn cache_pages_kept_with_a_read_answer_each_request_shape_as_a_fresh_read_does() {
    let cached = list_app_with(cached_for_an_hour());
    let fresh = list_app_with(uncached());
    let (kc, kf) = (cached.db.full_key(), fresh.db.full_key());
    let path = list_path(CONTACT_2, CUSTOMER_2);
    // More shapes than a read keeps pages for, asked twice, so kept and replaced pages are both
    // served; each must equal what a read from the database gives.
    let bodies = [
        "{}",
        r#"{"sortOrder":"ASC"}"#,
        r#"{"sortOrderKey":"LAST_DELEGATION_ON"}"#,
        r#"{"maxResults":2}"#,
        r#"{"isClosed":false}"#,
        &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_2}"}}"#),
        r#"{"maxResults":0}"#,
    ];
    for round in 0..2 {
        for body in bodies {
            let (got, got_warnings) = threads(&cached, &kc, &path, body);
            let (want, want_warnings) = threads(&fresh, &kf, &path, body);
            assert_eq!(
                (got, got_warnings),
                (want, want_warnings),
                "round {round}: {body}"
            );
        }
    }
}

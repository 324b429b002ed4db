//! Mirakl M10 "Retrieve a thread": the documents, the customer view, dates and errors.

use super::*;

#[test]
fn m10_customer_thread_is_the_full_document() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let (status, body) = m10(&app, &key, "/api/inbox/threads/1");
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "authorized_participants": [shop(), john()],
            "current_participants": [shop(), john()],
            "date_created": "2024-01-15T09:00:00Z",
            "date_updated": "2024-01-16T10:30:00Z",
            "entities": [{"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"}],
            "id": "1",
            "messages": thread_1_messages(),
            "metadata": {
                "last_message_date": "2024-01-16T10:30:00Z",
                "last_sender": ada(),
                "shop_reply_needed_since": null,
                "total_count": 2
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Customer service"}
        })
    );
    // Mirakl's key order (alphabetical), compact: the exact bytes of the document above.
    let r = m10_raw(&app, "/api/inbox/threads/1", Some(&key));
    assert_eq!(r.text(), serde_json::to_string(&body).unwrap());
    assert!(r.text().starts_with(
        "{\"authorized_participants\":[{\"display_name\":\"Demo shop\",\"id\":\"1\",\"type\":\"SHOP\"}"
    ));
    // The same thread in the customer's own view: nothing private, so nothing changes.
    let (_, mine) = m10(&app, &key, "/api/inbox/threads/1?customer_id=2");
    assert_eq!(mine, body);
}

#[test]
fn m10_accepts_the_key_raw_as_bearer_and_as_basic_user() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for auth in [key.clone(), format!("Bearer {key}"), basic(&key)] {
        let r = m10_raw(&app, "/api/inbox/threads/1", Some(&auth));
        assert_eq!(r.status, 200, "{auth}");
    }
}

#[test]
fn m10_guest_thread_uses_the_email_and_a_closed_thread_answered_by_nobody_logs_the_shop() {
    // The thread is reopened below as PrestaShop would, behind threadgate's back.
    let app = TestApp::with(TestDb::seeded("ps_"), uncached());
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (2, NULL, 'Is the site down?', '2024-02-01 09:00:00', '2024-02-01 09:00:00', 0);",
    );
    let key = app.db.full_key();
    let guest =
        json!({"display_name": "guest@example.com", "id": "guest@example.com", "type": "CUSTOMER"});
    let expected = json!({
        "authorized_participants": [shop(), guest],
        "current_participants": [shop(), guest],
        "date_created": "2024-02-01T08:00:00Z",
        "date_updated": "2024-02-01T08:00:00Z",
        "entities": [],
        "id": "2",
        "messages": [{"body": "Is the site down?", "date_created": "2024-02-01T08:00:00Z",
                      "from": {"display_name": "guest@example.com", "type": "CUSTOMER_USER"},
                      "id": "4", "to": [shop()]}],
        "metadata": {
            "last_message_date": "2024-02-01T08:00:00Z",
            "last_sender": {"display_name": "guest@example.com", "type": "CUSTOMER_USER"},
            "shop_reply_needed_since": null,
            "total_count": 1
        },
        "no_store_reply_needed": [{"date": "2024-02-01T08:00:00Z", "user_type": "SHOP"}],
        "topic": {"type": "FREE_TEXT", "value": "Webmaster"}
    });
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/2"),
        (200, expected.clone())
    );
    // The guest's view, by e-mail in any case.
    assert_eq!(
        m10(
            &app,
            &key,
            "/api/inbox/threads/2?customer_id=GUEST%40example.com"
        ),
        (200, expected)
    );
    // Reopened by the customer: the shop owes an answer again.
    app.db
        .exec("UPDATE ps_customer_thread SET status = 'open', date_upd = '2024-02-03 10:00:00' WHERE id_customer_thread = 2;");
    let (_, open) = m10(&app, &key, "/api/inbox/threads/2");
    assert_eq!(open["no_store_reply_needed"], json!([]));
    assert_eq!(
        open["metadata"]["shop_reply_needed_since"],
        json!("2024-02-01T08:00:00Z")
    );
    assert_eq!(open["date_updated"], json!("2024-02-03T09:00:00Z"));
}

#[test]
fn m10_private_note_is_shown_to_the_shop_and_hidden_from_the_customer() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (10, 1, 1, 'Check the stock first', '2024-01-16 12:00:00', '2024-01-16 12:00:00', 1);",
    );
    let key = app.db.full_key();
    let note = json!({"body": "Check the stock first", "date_created": "2024-01-16T11:00:00Z",
                      "from": ada(), "id": "10", "to": [shop()]});
    let mut all_messages = thread_1_messages();
    all_messages.push(note);
    let base = |messages: Vec<Value>, updated: &str, last: &str, count: u32| {
        json!({
            "authorized_participants": [shop(), john()],
            "current_participants": [shop(), john()],
            "date_created": "2024-01-15T09:00:00Z",
            "date_updated": updated,
            "entities": [{"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"}],
            "id": "1",
            "messages": messages,
            "metadata": {
                "last_message_date": last,
                "last_sender": ada(),
                "shop_reply_needed_since": null,
                "total_count": count
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Customer service"}
        })
    };
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1"),
        (
            200,
            base(
                all_messages,
                "2024-01-16T11:00:00Z",
                "2024-01-16T11:00:00Z",
                3
            )
        )
    );
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1?customer_id=2"),
        (
            200,
            base(
                thread_1_messages(),
                "2024-01-16T10:30:00Z",
                "2024-01-16T10:30:00Z",
                2
            )
        )
    );
}

#[test]
fn m10_a_thread_with_only_a_note_has_no_customer_participant_in_either_view() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (30, 1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00');
         INSERT INTO ps_customer_message (id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (30, 1, 'Call him back', '2024-05-01 10:00:00', '2024-05-01 10:00:00', 1);",
    );
    let key = app.db.full_key();
    let (_, all) = m10(&app, &key, "/api/inbox/threads/30");
    assert_eq!(all["current_participants"], json!([shop()]));
    let (_, mine) = m10(&app, &key, "/api/inbox/threads/30?customer_id=2");
    assert_eq!(mine["current_participants"], json!([]));
    assert_eq!(mine["messages"], json!([]));
    assert_eq!(
        mine["metadata"],
        json!({"last_message_date": "2024-05-01T08:00:00Z",
               "last_sender": {"display_name": "Demo shop", "organization_details": shop(), "type": "SHOP_USER"},
               "shop_reply_needed_since": null, "total_count": 0})
    );
}

#[test]
fn m10_attachment_order_and_product_entities_and_the_topic_in_the_thread_language() {
    let upload = std::env::temp_dir().join(format!("tg-upload-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&upload).unwrap();
    std::fs::write(upload.join("5f3a9c.pdf"), b"%PDF-").unwrap();
    let db = TestDb::seeded("ps_");
    db.exec(
        "UPDATE ps_customer_thread SET id_order = 5 WHERE id_customer_thread = 3;
         UPDATE ps_customer_message SET file_name = '5f3a9c.pdf' WHERE id_customer_message = 2;
         INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, file_name, date_add, date_upd, private) VALUES
           (11, 3, 0, 'Et la facture ?', 'missing.png', '2024-03-10 14:06:00', '2024-03-10 14:06:00', 0);",
    );
    let mut settings = serve_settings();
    settings.upload_dir = Some(upload.clone());
    let app = TestApp::with(db, settings);
    let key = app.db.full_key();
    let marie = json!({"display_name": "Marie Curie", "id": "3", "type": "CUSTOMER"});
    let marie_sender = json!({"display_name": "Marie Curie", "type": "CUSTOMER_USER"});
    let (status, body) = m10(&app, &key, "/api/inbox/threads/3?customer_id=3");
    std::fs::remove_dir_all(&upload).ok();
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({
            "authorized_participants": [shop(), marie],
            "current_participants": [shop(), marie],
            "date_created": "2024-03-10T13:05:00Z",
            "date_updated": "2024-03-11T08:15:00Z",
            "entities": [
                {"id": "5", "label": "XKBKNABJK", "type": "MMP_ORDER"},
                {"id": "1", "label": "T-shirt imprimé colibri", "type": "MMP_OFFER"}
            ],
            "id": "3",
            "messages": [
                {"attachments": [{"id": "2", "name": "5f3a9c.pdf", "size": 5}],
                 "body": "Bonjour, le t-shirt existe-t-il en XL ?", "date_created": "2024-03-10T13:05:00Z",
                 "from": marie_sender, "id": "2", "to": [shop()]},
                {"attachments": [{"id": "11", "name": "missing.png", "size": 0}],
                 "body": "Et la facture ?", "date_created": "2024-03-10T13:06:00Z",
                 "from": marie_sender, "id": "11", "to": [shop()]}
            ],
            "metadata": {
                "last_message_date": "2024-03-10T13:06:00Z",
                "last_sender": marie_sender,
                "shop_reply_needed_since": "2024-03-10T13:05:00Z",
                "total_count": 2
            },
            "no_store_reply_needed": [],
            "topic": {"type": "FREE_TEXT", "value": "Service client"}
        })
    );
}

#[test]
fn m10_order_page_thread_takes_the_order_reference_as_topic() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (31, 1, 1, 0, 2, 5, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00'),
           (32, 1, 1, 0, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-05-01 10:00:00', '2024-05-01 10:00:00');",
    );
    let key = app.db.full_key();
    let (_, t) = m10(&app, &key, "/api/inbox/threads/31");
    assert_eq!(
        t["topic"],
        json!({"type": "FREE_TEXT", "value": "XKBKNABJK"})
    );
    let (_, t) = m10(&app, &key, "/api/inbox/threads/32");
    assert_eq!(t["topic"], json!({"type": "FREE_TEXT", "value": ""}));
    assert_eq!(t["entities"], json!([]));
}

#[test]
fn m10_dates_across_both_dst_boundaries_of_the_shop_zone() {
    let app = TestApp::spawn();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (40, 1, 1, 2, 2, 0, 0, 'open', 'pub@prestashop.com', '2024-03-31 02:30:00', '2024-10-27 02:59:59');
         INSERT INTO ps_customer_message (id_customer_message, id_customer_thread, id_employee, message, date_add, date_upd, private) VALUES
           (41, 40, 0, 'spring', '2024-03-31 03:00:00', '2024-03-31 03:00:00', 0),
           (42, 40, 1, 'fall, first pass', '2024-10-27 02:30:00', '2024-10-27 02:30:00', 0),
           (43, 40, 0, 'fall, after', '2024-10-27 03:30:00', '2024-10-27 03:30:00', 0);",
    );
    let key = app.db.full_key();
    let (_, t) = m10(&app, &key, "/api/inbox/threads/40");
    // 02:30 does not exist in Paris on 2024-03-31: moved forward by the gap (01:30Z).
    assert_eq!(t["date_created"], json!("2024-03-31T01:30:00Z"));
    let dates: Vec<&Value> = t["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["date_created"])
        .collect();
    // 02:30 happens twice on 2024-10-27: the earlier instant (CEST, 00:30Z); 03:30 is CET.
    assert_eq!(
        dates,
        [
            &json!("2024-03-31T01:00:00Z"),
            &json!("2024-10-27T00:30:00Z"),
            &json!("2024-10-27T02:30:00Z")
        ]
    );
    assert_eq!(t["date_updated"], json!("2024-10-27T02:30:00Z"));
    assert_eq!(
        t["metadata"]["shop_reply_needed_since"],
        json!("2024-10-27T02:30:00Z")
    );
}

#[test]
fn m10_error_statuses() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let messages_only = app.db.key(&["customer_messages"], &[Method::Get], &[]);
    let put_only = app.db.key(&["customer_threads"], &[Method::Put], &[]);
    let err = |status: u16, message: &str| (status, json!({"status": status, "message": message}));

    let r = m10_raw(&app, "/api/inbox/threads/1", None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("WWW-Authenticate"),
        Some("Basic realm=\"threadgate\"")
    );
    assert_eq!(
        m10(
            &app,
            "NOPE0000000000000000000000000000",
            "/api/inbox/threads/1"
        ),
        err(401, "Invalid API key")
    );
    assert_eq!(
        m10(&app, "short", "/api/inbox/threads/1"),
        err(401, "Invalid API key")
    );
    for k in [&messages_only, &put_only] {
        assert_eq!(
            m10(&app, k, "/api/inbox/threads/1"),
            err(403, "This API key may not read customer threads")
        );
    }
    for path in [
        "/api/inbox/threads/999",
        "/api/inbox/threads/0",
        "/api/inbox/threads/abc",
        "/api/inbox/threads/-1",
        "/api/inbox/threads/4294967296",
        "/api/inbox/threads/1?customer_id=3",
        "/api/inbox/threads/1?customer_id=pub%40prestashop.com",
        "/api/inbox/threads/2?customer_id=0",
    ] {
        assert_eq!(
            m10(&app, &key, path),
            err(404, "Thread not found"),
            "{path}"
        );
    }
    assert_eq!(
        m10(&app, &key, "/api/inbox/threads/1?customer_id="),
        err(400, "customer_id must not be empty")
    );
    let r = app.raw(
        &format!("POST /api/inbox/threads/1 HTTP/1.1\r\nAuthorization: {key}\r\nContent-Length: 0"),
        b"",
    );
    check_openapi(M10, "get", &r);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("GET, HEAD"));
    assert_eq!(
        serde_json::from_slice::<Value>(&r.body).unwrap(),
        json!({"status": 405, "message": "Method not allowed"})
    );
}

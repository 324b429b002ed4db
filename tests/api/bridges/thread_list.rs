//! The myKaarma thread list: ids, sorting, filters, warnings and errors.

use super::*;

#[test]
fn list_default_is_last_message_first_with_every_field() {
    let app = list_app();
    let key = app.db.full_key();
    let (status, v) = list(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    assert_eq!(status, 200);
    let rid = v["requestUUID"].as_str().unwrap().to_owned();
    assert_eq!(
        v,
        json!({
            "customerThreads": [t21(), t20(), t22(), t1()],
            "requestUUID": rid,
            "errors": [],
            "warnings": []
        })
    );
    // myKaarma's field order, byte for byte.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, CUSTOMER_2),
        Some(&basic(&key)),
        r#"{"maxResults":1,"isClosed":true}"#,
    );
    assert!(r.text().starts_with(&format!(
        "{{\"customerThreads\":[{{\"id\":20,\"archived\":false,\"closed\":true,\"dealerUuid\":\"{SHOP_1}\",\"departmentUuid\":\"{CONTACT_2}\",\"userUuid\":\"{EMPLOYEE_1}\",\"customerUuid\":\"{CUSTOMER_2}\",\"lastMessageOn\":\"2024-02-02T07:00:00.000Z\",\"lastDelegationOn\":1706781600000,\"isWaitingForResponse\":false}}],\"requestUUID\":\""
    )), "{}", r.text());
    assert!(r.text().ends_with("\",\"errors\":[],\"warnings\":[]}"));
}

#[test]
fn list_plain_decimals_work_for_department_customer_and_assignee() {
    let app = list_app();
    let key = app.db.full_key();
    let (a, _) = threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    let (b, _) = threads(&app, &key, &list_path("2", "2"), "{}");
    assert_eq!(a, b);
    let upper = list_path(&CONTACT_2.to_uppercase(), &format!("{{{CUSTOMER_2}}}"));
    assert_eq!(threads(&app, &key, &upper, "{}").0, a);
    let (c, _) = threads(
        &app,
        &key,
        &list_path("2", "2"),
        r#"{"assigneeUserUUID":"2"}"#,
    );
    assert_eq!(c, [t22()]);
}

#[test]
fn list_order_page_threads_are_department_zero() {
    let app = list_app();
    let key = app.db.full_key();
    let expected = summary(
        24,
        false,
        CONTACT_0,
        None,
        "2024-04-02T08:00:00.000Z",
        None,
        true,
    );
    for dept in [CONTACT_0, "0"] {
        let (t, _) = threads(&app, &key, &list_path(dept, CUSTOMER_2), "{}");
        assert_eq!(t, std::slice::from_ref(&expected), "{dept}");
    }
}

#[test]
fn list_sorting_by_either_key_in_either_direction_with_null_delegations_smallest() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let cases = [
        (
            r#"{"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"DESC"}"#,
            vec![t21(), t20(), t22(), t1()],
        ),
        (
            r#"{"sortOrderKey":"LAST_MESSAGE_ON","sortOrder":"ASC"}"#,
            vec![t1(), t22(), t20(), t21()],
        ),
        (
            r#"{"sortOrderKey":"LAST_DELEGATION_ON"}"#,
            vec![t20(), t22(), t1(), t21()],
        ),
        (
            r#"{"sortOrderKey":"LAST_DELEGATION_ON","sortOrder":"asc"}"#,
            vec![t21(), t1(), t22(), t20()],
        ),
        (r#"{"sortOrder":"asc","maxResults":2}"#, vec![t1(), t22()]),
    ];
    for (body, expected) in cases {
        let (t, w) = threads(&app, &key, &path, body);
        assert_eq!(t, expected, "{body}");
        assert_eq!(w, json!([]), "{body}");
    }
}

#[test]
fn list_ties_are_broken_by_id_in_the_same_direction() {
    let app = list_app();
    app.db.exec(
        "INSERT INTO ps_customer_thread (id_customer_thread, id_shop, id_lang, id_contact, id_customer, id_order, id_product, status, email, date_add, date_upd) VALUES
           (26, 1, 1, 2, 2, 0, 0, 'closed', 'pub@prestashop.com', '2024-03-05 12:00:00', '2024-03-05 12:00:00');",
    );
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let ids = |body: &str| -> Vec<u64> {
        threads(&app, &key, &path, body)
            .0
            .iter()
            .map(|t| t["id"].as_u64().unwrap())
            .collect()
    };
    // Thread 26 has no message: its lastMessageOn is its date_add, the same instant as 21's.
    assert_eq!(ids("{}"), [26, 21, 20, 22, 1]);
    assert_eq!(ids(r#"{"sortOrder":"ASC"}"#), [1, 22, 20, 21, 26]);
    // Two null delegations: by id.
    assert_eq!(
        ids(r#"{"sortOrderKey":"LAST_DELEGATION_ON","sortOrder":"ASC"}"#),
        [21, 26, 1, 22, 20]
    );
}

#[test]
fn list_filters_closed_archived_and_assignee() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let cases = [
        (r#"{"isClosed":true}"#, vec![t20()]),
        (r#"{"isClosed":false}"#, vec![t21(), t22(), t1()]),
        (r#"{"isArchived":true}"#, vec![]),
        (r#"{"isArchived":false}"#, vec![t21(), t20(), t22(), t1()]),
        (
            r#"{"isClosed":null,"isArchived":null,"assigneeUserUUID":null}"#,
            vec![t21(), t20(), t22(), t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_1}"}}"#),
            vec![t20(), t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_1}","isClosed":false}}"#),
            vec![t1()],
        ),
        (
            &format!(r#"{{"assigneeUserUUID":"{EMPLOYEE_2}"}}"#),
            vec![t22()],
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(threads(&app, &key, &path, body).0, expected, "{body}");
    }
}

#[test]
fn list_a_known_customer_without_threads_in_the_department_is_an_empty_success() {
    let app = list_app();
    let key = app.db.full_key();
    let (t, _) = threads(&app, &key, &list_path("1", "3"), "{}");
    assert_eq!(t, Vec::<Value>::new());
}

#[test]
fn list_warnings_repair_the_input_and_the_call_succeeds() {
    let app = list_app();
    let key = app.db.full_key();
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let w = |code: &str, text: &str| json!({"warningCode": code, "warningDescription": text});
    let max = "Invalid maxResults. maxResults should be between 1 and 100. Used";
    let cases = [
        (
            r#"{"maxResults":0}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 20"))]),
            4,
        ),
        (
            r#"{"maxResults":-5}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 20"))]),
            4,
        ),
        (
            r#"{"maxResults":1000}"#,
            json!([w("INVALID_MAXRESULTS", &format!("{max} 100"))]),
            4,
        ),
        (
            r#"{"sortOrderKey":"CREATED_ON"}"#,
            json!([w("INVALID_SORT_ORDER_KEY", "Invalid sortOrderKey. sortOrderKey should be LAST_MESSAGE_ON or LAST_DELEGATION_ON. Used LAST_MESSAGE_ON")]),
            4,
        ),
        (
            r#"{"sortOrder":"UP","maxResults":0}"#,
            json!([
                w("INVALID_MAXRESULTS", &format!("{max} 20")),
                w("INVALID_SORT_ORDER", "Invalid sortOrder. sortOrder should be ASC or DESC. Used DESC")
            ]),
            4,
        ),
    ];
    for (body, warnings, n) in cases {
        let (t, got) = threads(&app, &key, &path, body);
        assert_eq!(got, warnings, "{body}");
        assert_eq!(t.len(), n, "{body}");
        assert_eq!(t[0], t21(), "{body}: defaults used");
    }
}

/// Checks an error envelope and returns (status, code, description without the suffix).
fn error_of(r: &Response) -> (u16, String, String) {
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    let rid = v["requestUUID"].as_str().unwrap().to_owned();
    assert_eq!(Uuid::parse_str(&rid).unwrap().get_version_num(), 4);
    assert_eq!(v["customerThreads"], json!([]));
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    let e = &errors[0];
    let uid = Uuid::parse_str(e["errorUID"].as_str().unwrap()).unwrap();
    assert_eq!(uid.get_version_num(), 4);
    assert_ne!(uid.to_string(), rid);
    let desc = e["errorDescription"].as_str().unwrap();
    let suffix = format!(" Reference MessageID: {rid}");
    assert!(desc.ends_with(&suffix), "{desc}");
    (
        r.status,
        e["errorCode"].as_str().unwrap().to_owned(),
        desc.trim_end_matches(&suffix).to_owned(),
    )
}

#[test]
fn list_authentication_errors_are_401_with_mykaarma_codes() {
    let app = list_app();
    let key = app.db.full_key();
    let messages_only = app.db.key(&["customer_messages"], &[Method::Get], &[]);
    let path = list_path(CONTACT_2, CUSTOMER_2);
    let check = |auth: Option<&str>, code: &str, text: &str| {
        let r = list_raw(&app, &path, auth, "{}");
        assert_eq!(
            error_of(&r),
            (401, code.to_owned(), text.to_owned()),
            "{auth:?}"
        );
        assert_eq!(
            r.header("WWW-Authenticate"),
            Some("Basic realm=\"communications\"")
        );
    };
    check(
        None,
        "CREDENTIALS_ARE_NULL",
        "Credentials are null, Authorization refused. Please contact Communications API support.",
    );
    let wrong = "Credentials are wrong, Authorization refused for provided credentials. Please contact Communications API support.";
    check(Some("Basic !!!"), "WRONG_CREDENTIAL", wrong);
    check(Some(&format!("Bearer {key}")), "WRONG_CREDENTIAL", wrong);
    check(
        Some(&basic("NOPE0000000000000000000000000000")),
        "WRONG_CREDENTIAL",
        wrong,
    );
    let denied =
        "Request is not authorized for the given department. Please contact Communications API support.";
    check(
        Some(&basic(&messages_only)),
        "NOT_AUTHORIZED_REQUEST",
        denied,
    );
}

#[test]
fn list_unknown_department_customer_user_and_bad_bodies_are_errors_in_order() {
    let app = list_app();
    let key = app.db.full_key();
    let auth = basic(&key);
    let denied =
        "Request is not authorized for the given department. Please contact Communications API support.";
    let customer_as_user = format!(r#"{{"assigneeUserUUID":"{CUSTOMER_2}"}}"#);
    let cases: Vec<(String, &str, (u16, &str, String))> = vec![
        // Unknown or malformed department: 401, as upstream, even with a bad body.
        (
            list_path(&Uuid::new_v4().to_string(), CUSTOMER_2),
            "{}",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        (
            list_path("99", CUSTOMER_2),
            "nope",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        (
            list_path("sales", CUSTOMER_2),
            "{}",
            (401, "NOT_AUTHORIZED_REQUEST", denied.into()),
        ),
        // Unknown customer: 400, before the body is looked at.
        (
            list_path(CONTACT_2, "68bf7871-8a9f-5f85-8f61-565c17732a18"),
            "nope",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=68bf7871-8a9f-5f85-8f61-565c17732a18 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "999"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=999 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "0"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=0 is invalid.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, "john"),
            "{}",
            (
                400,
                "INVALID_CUSTOMER",
                "CUSTOMER_UUID=john is invalid.".into(),
            ),
        ),
        // The body.
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is missing.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "{\"maxResults\":",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is not JSON.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            "[1]",
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: the body is not a JSON object.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"maxResults":"ten"}"#,
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: maxResults must be an integer.".into(),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"isClosed":1}"#,
            (
                400,
                "INVALID_REQUEST_DATA",
                "Incorrect data sent in request: isClosed must be a boolean.".into(),
            ),
        ),
        // An assignee that is no employee.
        (
            list_path(CONTACT_2, CUSTOMER_2),
            &customer_as_user,
            (
                400,
                "INVALID_USER",
                format!("USER_UUID={CUSTOMER_2} is invalid."),
            ),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"assigneeUserUUID":"77"}"#,
            (400, "INVALID_USER", "USER_UUID=77 is invalid.".into()),
        ),
        (
            list_path(CONTACT_2, CUSTOMER_2),
            r#"{"assigneeUserUUID":""}"#,
            (400, "INVALID_USER", "USER_UUID= is invalid.".into()),
        ),
    ];
    for (path, body, (status, code, text)) in cases {
        let r = list_raw(&app, &path, Some(&auth), body);
        assert_eq!(
            error_of(&r),
            (status, code.to_owned(), text),
            "{path} {body}"
        );
    }
    // Warnings found before an error are kept in the error envelope.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, CUSTOMER_2),
        Some(&auth),
        r#"{"maxResults":0,"assigneeUserUUID":"77"}"#,
    );
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["warnings"][0]["warningCode"], json!("INVALID_MAXRESULTS"));
}

#[test]
fn list_other_methods_are_405() {
    let app = list_app();
    let key = app.db.full_key();
    let r = app.raw(
        &format!(
            "GET {} HTTP/1.1\r\nAuthorization: {}",
            list_path(CONTACT_2, CUSTOMER_2),
            basic(&key)
        ),
        b"",
    );
    check_openapi(LIST, "post", &r);
    assert_eq!(r.header("Allow"), Some("POST"));
    assert_eq!(
        error_of(&r),
        (
            405,
            "METHOD_NOT_ALLOWED".into(),
            "Method not allowed, use POST.".into()
        )
    );
}

#[test]
fn list_a_new_customer_is_found_by_uuid_on_its_first_request() {
    let app = list_app();
    let key = app.db.full_key();
    // Warm the index, then add a customer.
    threads(&app, &key, &list_path(CONTACT_2, CUSTOMER_2), "{}");
    app.db.exec(
        "INSERT INTO ps_customer (id_customer, id_shop_group, id_shop, id_lang, firstname, lastname, email, is_guest, active, deleted, date_add, date_upd) VALUES
           (40, 1, 1, 1, 'New', 'Comer', 'new@example.com', 0, 1, 0, '2024-06-01 08:00:00', '2024-06-01 08:00:00');",
    );
    let ns = Uuid::parse_str("d44e8d6f-f348-5ec4-a555-002e48605f29").unwrap();
    let uuid = Uuid::new_v5(&ns, b"customer:40").to_string();
    assert_eq!(
        threads(&app, &key, &list_path(CONTACT_2, &uuid), "{}").0,
        Vec::<Value>::new()
    );
}

#[test]
fn list_namespace_is_a_setting() {
    let db = TestDb::seeded("ps_");
    let ns = Uuid::new_v4();
    let mut settings = serve_settings();
    settings.bridge_uuid_namespace = ns;
    let app = TestApp::with(db, settings);
    let key = app.db.full_key();
    let customer = Uuid::new_v5(&ns, b"customer:2").to_string();
    let contact = Uuid::new_v5(&ns, b"contact:2").to_string();
    let (t, _) = threads(&app, &key, &list_path(&contact, &customer), "{}");
    assert_eq!(t.len(), 1);
    assert_eq!(t[0]["customerUuid"], json!(customer));
    assert_eq!(
        t[0]["dealerUuid"],
        json!(Uuid::new_v5(&ns, b"shop:1").to_string())
    );
    // The default namespace's UUIDs mean nothing under another one.
    let r = list_raw(
        &app,
        &list_path(CONTACT_2, &customer),
        Some(&basic(&key)),
        "{}",
    );
    assert_eq!(r.status, 401);
}

//! Every authentication and permission outcome (docs/prestashop/authentication.md,
//! docs/compatibility.md W2, W18, W21, W26).

use threadgate::resource::Method;

use crate::support::{http::basic, xml_errors, Response, TestApp};

const REALM: &str = "Basic realm=\"Welcome to PrestaShop Webservice, please enter the authentication key as the login. No password required.\"";

fn assert_error(r: &Response, status: u16, entries: &[(u32, &str)], www_authenticate: bool) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.text(), xml_errors(entries));
    assert_eq!(r.header("Content-Type"), Some("text/xml;charset=UTF-8"));
    assert_eq!(r.header("X-Powered-By"), Some("PrestaShop Webservice"));
    assert_eq!(
        r.header("Content-Sha1"),
        None,
        "error documents carry no Content-Sha1"
    );
    assert_eq!(
        r.header("WWW-Authenticate"),
        www_authenticate.then_some(REALM)
    );
}

#[test]
fn request_without_any_key_is_401_code_16_with_www_authenticate_and_no_psws_version() {
    let app = TestApp::spawn();
    let r = app.raw("GET /api/customer_threads HTTP/1.1", b"");
    assert_error(
        &r,
        401,
        &[(
            16,
            "Please enter the authentication key as the login. No password required",
        )],
        true,
    );
    assert_eq!(r.header("PSWS-Version"), None);
}

#[test]
fn ws_key_parameter_authenticates() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.raw(
        &format!("GET /api/customer_threads?ws_key={key} HTTP/1.1"),
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("PSWS-Version"), Some("1.7.8.11"));
}

#[test]
fn basic_with_and_without_the_colon_authenticates() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    use base64::Engine;
    let bare = base64::engine::general_purpose::STANDARD.encode(&key);
    let with_password = base64::engine::general_purpose::STANDARD.encode(format!("{key}:whatever"));
    for v in [bare, with_password] {
        let r = app.raw(
            &format!("GET /api/customer_threads HTTP/1.1\r\nAuthorization: Basic {v}"),
            b"",
        );
        assert_eq!(r.status, 200);
    }
}

#[test]
fn basic_wins_over_ws_key() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let wrong = "A".repeat(32);
    let r = app.raw(
        &format!(
            "GET /api/customer_threads?ws_key={key} HTTP/1.1\r\nAuthorization: {}",
            basic(&wrong)
        ),
        b"",
    );
    assert_error(
        &r,
        401,
        &[
            (20, "Authentification key is not active"),
            (21, "No permission for this authentication key"),
        ],
        true,
    );
}

#[test]
fn empty_key_is_401_code_17() {
    let app = TestApp::spawn();
    for head in [
        "GET /api/customer_threads?ws_key= HTTP/1.1".to_owned(),
        "GET /api/customer_threads HTTP/1.1\r\nAuthorization: Basic Og==".to_owned(),
        "GET /api/customer_threads?ws_key=%20%20 HTTP/1.1".to_owned(),
    ] {
        assert_error(
            &app.raw(&head, b""),
            401,
            &[(17, "Authentication key is empty")],
            true,
        );
    }
}

#[test]
fn key_of_the_wrong_length_is_401_code_18() {
    let app = TestApp::spawn();
    let r = app.get("SHORTKEY", "/api/customer_threads");
    assert_error(&r, 401, &[(18, "Invalid authentication key format")], true);
    assert_eq!(r.header("PSWS-Version"), None);
}

#[test]
fn unknown_key_is_401_codes_20_and_21_in_xml_and_json() {
    let app = TestApp::spawn();
    let unknown = "UCCLLQ9N2ARSHWCXLT74KUKSSK34BFKX";
    assert_error(
        &app.get(unknown, "/api/customer_threads"),
        401,
        &[
            (20, "Authentification key is not active"),
            (21, "No permission for this authentication key"),
        ],
        true,
    );
    let r = app.get(unknown, "/api/customer_threads?output_format=JSON");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    assert_eq!(
        r.text(),
        r#"{"errors":[{"code":20,"message":"Authentification key is not active"},{"code":21,"message":"No permission for this authentication key"}]}"#
    );
}

#[test]
fn inactive_key_is_401_codes_20_and_21() {
    let app = TestApp::spawn();
    let key = app.db.key_with(threadgate::auth::admin::CreateKey {
        resources: vec!["customer_threads".into()],
        methods: vec![Method::Get],
        active: false,
        ..Default::default()
    });
    assert_error(
        &app.get(&key, "/api/customer_threads"),
        401,
        &[
            (20, "Authentification key is not active"),
            (21, "No permission for this authentication key"),
        ],
        true,
    );
}

#[test]
fn active_key_without_any_permission_is_401_code_21() {
    let app = TestApp::spawn();
    let key = app.db.key(&[], &[], &[]);
    assert_error(
        &app.get(&key, "/api/customer_threads"),
        401,
        &[(21, "No permission for this authentication key")],
        true,
    );
}

#[test]
fn keys_match_case_insensitively_and_trimmed() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(
        app.get(&key.to_ascii_lowercase(), "/api/customer_threads")
            .status,
        200
    );
    let r = app.raw(
        &format!("GET /api/customer_threads?ws_key=%20{key}%20 HTTP/1.1"),
        b"",
    );
    assert_eq!(r.status, 200);
}

#[test]
fn authorization_forwarded_under_another_header_name_authenticates() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    for name in ["X-Authorization", "HTTP_AUTHORIZATION"] {
        let r = app.raw(
            &format!(
                "GET /api/customer_threads HTTP/1.1\r\n{name}: {}",
                basic(&key)
            ),
            b"",
        );
        assert_eq!(r.status, 200, "{name}");
    }
    let r = app.raw(
        &format!(
            "GET /api/customer_threads HTTP/1.1\r\nX-Other: {}",
            basic(&key)
        ),
        b"",
    );
    assert_eq!(r.status, 401, "only configured header names are read");
}

#[test]
fn resource_without_permission_rows_is_401_code_26_without_www_authenticate() {
    let app = TestApp::spawn();
    let key = app.db.key(&["customer_threads"], &[Method::Get], &[]);
    let r = app.get(&key, "/api/customer_messages");
    assert_error(
        &r,
        401,
        &[(
            26,
            "Resource of type \"customer_messages\" is not allowed with this authentication key",
        )],
        false,
    );
    assert_eq!(
        r.header("PSWS-Version"),
        Some("1.7.8.11"),
        "sent once the key is accepted"
    );
}

#[test]
fn unknown_resource_is_400_code_27_with_did_you_mean() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_thread");
    assert_eq!(r.status, 400);
    let msg = "Resource of type \"customer_thread\" does not exists. Did you mean: \"customer_threads\"? The full list is: \"addresses\", \"attachments\", \"carriers\", \"cart_rules\", \"carts\", \"categories\", \"combinations\", \"configurations\", \"contacts\", \"content_management_system\", \"countries\", \"currencies\", \"customer_messages\", \"customer_threads\", \"customers\", \"customizations\", \"deliveries\", \"employees\", \"groups\", \"guests\", \"image_types\", \"images\", \"languages\", \"manufacturers\", \"messages\", \"order_carriers\", \"order_cart_rules\", \"order_details\", \"order_histories\", \"order_invoices\", \"order_payments\", \"order_slip\", \"order_states\", \"orders\", \"price_ranges\", \"product_customization_fields\", \"product_feature_values\", \"product_features\", \"product_option_values\", \"product_options\", \"product_suppliers\", \"products\", \"search\", \"shop_groups\", \"shop_urls\", \"shops\", \"specific_price_rules\", \"specific_prices\", \"states\", \"stock_availables\", \"stock_movement_reasons\", \"stock_movements\", \"stocks\", \"stores\", \"suppliers\", \"supply_order_details\", \"supply_order_histories\", \"supply_order_receipt_histories\", \"supply_order_states\", \"supply_orders\", \"tags\", \"tax_rule_groups\", \"tax_rules\", \"taxes\", \"translated_configurations\", \"warehouse_product_locations\", \"warehouses\", \"weight_ranges\", \"zones\"";
    assert_error(&r, 400, &[(27, msg)], false);
    // Resource names are case-sensitive.
    assert_eq!(app.get(&key, "/api/Customer_threads").status, 400);
}

#[test]
fn method_not_granted_is_405_code_25() {
    let app = TestApp::spawn();
    let key = app.db.key(&["customer_threads"], &[Method::Get], &[]);
    let head = app.request("HEAD", &key, "/api/customer_threads", &[]);
    assert_eq!(head.status, 405, "GET does not grant HEAD");
    assert!(head.body.is_empty());
    let r = app.request("DELETE", &key, "/api/customer_threads/1", &[]);
    assert_error(
        &r,
        405,
        &[(25, "Method DELETE is not allowed for the resource customer_threads with this authentication key")],
        false,
    );
}

#[test]
fn ps_method_is_verbatim_and_case_sensitive() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_error(
        &app.get(&key, "/api/customer_threads/1?ps_method=put"),
        405,
        &[(23, "Method put is not valid")],
        false,
    );
    assert_error(
        &app.request("OPTIONS", &key, "/api/customer_threads", &[]),
        405,
        &[(23, "Method OPTIONS is not valid")],
        false,
    );
    let head = app.get(&key, "/api/customer_threads/1?ps_method=HEAD");
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "ps_method=HEAD answers like HEAD");
}

#[test]
fn shop_restrictions_give_403_code_132_and_bad_shop_ids_404_code_999() {
    let app = TestApp::spawn();
    app.db.exec("INSERT INTO `ps_shop` (`id_shop`, `id_shop_group`, `name`, `id_category`, `theme_name`, `active`) VALUES (2, 2, 'Second', 2, 'classic', 1), (3, 3, 'Closed', 2, 'classic', 0)");
    app.refresh();
    let key = app.db.key(&["customer_threads"], &[Method::Get], &[1]);
    assert_eq!(app.get(&key, "/api/customer_threads?id_shop=1").status, 200);
    assert_eq!(
        app.get(&key, "/api/customer_threads?id_shop=all").status,
        200
    );
    assert_eq!(
        app.get(&key, "/api/customer_threads?id_shop_group=1")
            .status,
        200
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?id_shop=2"),
        403,
        &[(132, "No permission for this key on this shop")],
        false,
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?id_shop_group=2"),
        403,
        &[(132, "No permission for this key on this shop")],
        false,
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?id_shop=abc"),
        404,
        &[(999, "This shop id does not exist")],
        false,
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?id_shop_group=3"),
        500,
        &[(999, "This shop group doesn't have shops")],
        false,
    );
}

#[test]
fn disabled_webservice_is_503_code_22_without_psws_version() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    app.db
        .exec("UPDATE `ps_configuration` SET `value` = '0' WHERE `name` = 'PS_WEBSERVICE'");
    app.refresh();
    let r = app.get(&key, "/api/customer_threads");
    assert_error(
        &r,
        503,
        &[(22, "The PrestaShop webservice is disabled. Please activate it in the PrestaShop Back Office")],
        false,
    );
    assert_eq!(r.header("PSWS-Version"), None);
}

#[test]
fn language_parameter_is_validated_with_codes_78_to_81() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(
        app.get(&key, "/api/customer_threads?language=1").status,
        200
    );
    assert_eq!(
        app.get(&key, "/api/customer_threads?language=[1|2]").status,
        200
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?language=abc"),
        400,
        &[
            (79, "language value is wrong"),
            (81, "language is not available"),
        ],
        false,
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?language=[1,2,3]"),
        400,
        &[
            (
                78,
                "A range value for a language must contains only 2 values",
            ),
            (81, "language is not available"),
        ],
        false,
    );
    assert_error(
        &app.get(&key, "/api/customer_threads?language=9"),
        400,
        &[(81, "language is not available")],
        false,
    );
}

#[test]
fn psws_version_is_configurable_and_can_be_omitted() {
    let mut settings = crate::support::serve_settings();
    settings.psws_version = "none".into();
    let app = TestApp::with(crate::support::TestDb::seeded("ps_"), settings);
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("PSWS-Version"), None);
}

#[test]
fn a_verified_key_is_served_from_the_cache_until_the_key_store_changes() {
    let app = TestApp::spawn();
    let key = app.db.full_key();
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    assert_eq!(app.state.keys.len(), 1, "the verification is cached");
    // With the stored hash gone, only the cache can still accept the key: no look-up, no argon2.
    app.db
        .exec("UPDATE `ps_threadgate_key` SET `hash` = 'gone'");
    assert_eq!(app.get(&key, "/api/customer_threads").status, 200);
    // A key change bumps the generation; the next refresh empties the cache at once.
    app.db
        .exec("UPDATE `ps_threadgate_state` SET `key_generation` = `key_generation` + 1");
    app.refresh();
    assert_eq!(app.state.keys.len(), 0);
    assert_eq!(app.get(&key, "/api/customer_threads").status, 401);
}

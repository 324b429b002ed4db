//! `GET /api/`: docs/prestashop/documents.md#root-listing and docs/compatibility.md W4.

use threadgate::resource::Method;

use crate::support::{xsd, TestApp};

#[test]
fn root_listing_is_the_golden_document() {
    let app = TestApp::spawn();
    app.db.exec(
        "UPDATE `ps_configuration` SET `value` = 'My Shop & Co''s' WHERE `name` = 'PS_SHOP_NAME'",
    );
    app.refresh();
    let key = app.db.key_with(threadgate::auth::admin::CreateKey {
        resources: vec!["customer_threads".into()],
        methods: Method::ALL.to_vec(),
        active: true,
        ..Default::default()
    });
    // Add GET and HEAD on customer_messages to the same key.
    app.db.exec("INSERT INTO `ps_threadgate_key_permission` (`id_key`, `resource`, `method`) SELECT MAX(`id_key`), 'customer_messages', 'GET' FROM `ps_threadgate_key`; INSERT INTO `ps_threadgate_key_permission` (`id_key`, `resource`, `method`) SELECT MAX(`id_key`), 'customer_messages', 'HEAD' FROM `ps_threadgate_key`");
    let r = app.get(&key, "/api/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), golden!("api_root.xml"));
    xsd::assert_valid("api.xsd", &r.body);
    assert_eq!(
        app.get(&key, "/api").text(),
        r.text(),
        "/api and /api/ are the same"
    );
}

#[test]
fn root_listing_in_json_is_the_array_of_permitted_names() {
    let app = TestApp::spawn();
    let both = app.db.full_key();
    assert_eq!(
        app.get(&both, "/api/?output_format=JSON").text(),
        golden!("api_root.json")
    );
    let one = app.db.key(&["customer_threads"], &[Method::Get], &[]);
    assert_eq!(
        app.get(&one, "/api/?output_format=JSON").text(),
        r#"["customer_threads"]"#
    );
    let xml = app.get(&one, "/api/");
    assert!(
        !xml.text().contains("customer_messages"),
        "only permitted resources are listed"
    );
}

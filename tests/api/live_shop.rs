//! Live-shop safety: a database built from PrestaShop 8's own DDL (every column and index of
//! the tables threadgate touches, tests/fixtures/prestashop8.sql) under a custom prefix.
//! `migrate` creates only threadgate's tables and leaves every shop table exactly as it was;
//! the shop's keys are imported; the API reads and writes; written rows look like PrestaShop's.

use std::collections::BTreeMap;

use threadgate::auth::admin;
use threadgate::config::Argon2Settings;
use threadgate::db::migrations;
use threadgate::db::sql::Sql;

use crate::keys::fixture;
use crate::support::{http::basic, serve_settings, TestApp, TestDb};

const PREFIX: &str = "shop8_";
const KEY: &str = "ZQ4C9JRP2MXV7T1LHWB8KD5NFY3GS6EA";

/// Rows as PrestaShop 8's installer and Back Office write them.
const SHOP: &str = "
INSERT INTO `ps_shop_group` VALUES (1, 'Default', '', 0, 0, 0, 1, 0);
INSERT INTO `ps_shop` VALUES (1, 1, 'Maison Test', '', 2, 'classic', 1, 0);
INSERT INTO `ps_shop_url` VALUES (1, 1, 'maison.test', 'maison.test', '/', '', 1, 1);
INSERT INTO `ps_lang` VALUES (1, 'English (English)', 1, 'en', 'en-us', 'en-US', 'm/d/Y', 'm/d/Y H:i:s', 0);
INSERT INTO `ps_configuration` (`id_shop_group`, `id_shop`, `name`, `value`, `date_add`, `date_upd`) VALUES
  (NULL, NULL, 'PS_SHOP_NAME', 'Maison Test', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (NULL, NULL, 'PS_TIMEZONE', 'America/New_York', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (NULL, NULL, 'PS_SSL_ENABLED', '1', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (NULL, NULL, 'PS_WEBSERVICE', '1', '2024-01-01 00:00:00', '2024-01-01 00:00:00'),
  (NULL, NULL, 'PS_SHOP_DEFAULT', '1', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
INSERT INTO `ps_contact` VALUES (1, 'support@example.com', 1, 0);
INSERT INTO `ps_contact_lang` VALUES (1, 1, 'Customer service', '');
INSERT INTO `ps_customer` (`id_customer`, `id_gender`, `id_lang`, `firstname`, `lastname`, `email`, `passwd`, `date_add`, `date_upd`)
  VALUES (1, 1, 1, 'John', 'DOE', 'pub@prestashop.com', '$2y$10$x', '2024-01-01 00:00:00', '2024-01-01 00:00:00');
INSERT INTO `ps_customer_thread` VALUES (1, 1, 1, 1, 1, 0, 0, 'open', 'pub@prestashop.com', 'aBcD1234eFgH', '2024-01-15 10:00:00', '2024-01-15 10:00:00');
INSERT INTO `ps_customer_message` VALUES (1, 1, 0, 'Hello', '', '2130706433', 'Mozilla/5.0', '2024-01-15 10:00:00', '2024-01-15 10:00:00', 0, 0);
INSERT INTO `ps_webservice_account` (`id_webservice_account`, `key`, `description`, `active`) VALUES (1, 'ZQ4C9JRP2MXV7T1LHWB8KD5NFY3GS6EA', 'Helpdesk', 1);
INSERT INTO `ps_webservice_permission` (`resource`, `method`, `id_webservice_account`) VALUES
  ('customer_threads', 'GET', 1), ('customer_messages', 'GET', 1), ('customer_messages', 'POST', 1);
INSERT INTO `ps_webservice_account_shop` VALUES (1, 1);
";

/// `SHOW CREATE TABLE` of every table of the database.
fn schema(db: &TestDb) -> BTreeMap<String, String> {
    let mut conn = db.conn();
    let mut q = Sql::new("SELECT table_name FROM information_schema.tables WHERE table_schema = ");
    q.bind_text(db.name.as_str());
    let mut out = BTreeMap::new();
    for t in q.load(&mut conn).unwrap() {
        let name = t.0[0].clone().unwrap();
        let ddl = Sql::new(format!("SHOW CREATE TABLE `{name}`"))
            .load(&mut conn)
            .unwrap()
            .remove(0)
            .0[1]
            .clone()
            .unwrap();
        out.insert(name, ddl);
    }
    out
}

#[test]
fn migrate_on_a_prestashop_8_database_changes_no_shop_table_and_the_api_works() {
    let db = TestDb::empty(PREFIX);
    db.exec(&fixture(None));
    db.exec(SHOP);
    let before = schema(&db);
    assert_eq!(before.len(), 16);

    let applied = migrations::run(&mut db.conn(), PREFIX).unwrap();
    assert_eq!(applied.len(), migrations::count());
    let after = schema(&db);
    for (table, ddl) in &before {
        assert_eq!(&after[table], ddl, "migrate changed {table}");
    }
    let created: Vec<&String> = after.keys().filter(|t| !before.contains_key(*t)).collect();
    assert_eq!(
        created,
        [
            "__diesel_schema_migrations",
            "shop8_threadgate_data_generation",
            "shop8_threadgate_key",
            "shop8_threadgate_key_permission",
            "shop8_threadgate_key_shop",
            "shop8_threadgate_state"
        ]
    );
    assert!(migrations::run(&mut db.conn(), PREFIX).unwrap().is_empty());

    admin::import_prestashop(
        &mut db.conn(),
        &db.tables,
        &Argon2Settings::default(),
        "2024-01-01 00:00:00",
    )
    .unwrap();
    let app = TestApp::with(db, serve_settings());

    // Shop configuration: PS_SHOP_NAME, PS_SSL_ENABLED.
    let root = app.get(KEY, "/api/");
    assert_eq!(root.status, 200);
    assert!(
        root.text().contains("shopName=\"Maison Test\""),
        "{}",
        root.text()
    );
    let thread = app.get(KEY, "/api/customer_threads/1");
    assert_eq!(thread.status, 200, "{}", thread.text());
    assert!(thread
        .text()
        .contains("xlink:href=\"https://example.com/api/customers/1\""));

    // A write, stored as PrestaShop stores it: shop time, 0 and '' rather than NULL.
    let r = app.raw(
        &format!(
            "POST /api/customer_messages HTTP/1.1\r\nAuthorization: {}",
            basic(KEY)
        ),
        b"<prestashop><customer_message><id_customer_thread>1</id_customer_thread><message>Thanks</message></customer_message></prestashop>",
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let row = Sql::new(format!(
        "SELECT CAST(id_employee AS CHAR), file_name, ip_address, user_agent, CAST(date_add AS CHAR), CAST(date_upd AS CHAR), CAST(private AS CHAR), CAST(`read` AS CHAR) FROM `{PREFIX}customer_message` WHERE id_customer_message = 2"
    ))
    .load(&mut app.db.conn())
    .unwrap()
    .remove(0)
    .0;
    assert!(row.iter().all(Option::is_some), "no NULL: {row:?}");
    assert_eq!(row[0].as_deref(), Some("0"));
    let ny = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .format("%Y-%m-%d %H")
        .to_string();
    assert!(
        row[4].as_deref().unwrap().starts_with(&ny),
        "{row:?} in shop time"
    );
    assert_eq!(row[4], row[5]);

    // PS_WEBSERVICE switched off in the Back Office.
    app.db
        .exec("UPDATE `ps_configuration` SET `value` = '0' WHERE `name` = 'PS_WEBSERVICE'");
    app.refresh();
    let r = app.get(KEY, "/api/customer_threads");
    assert_eq!(r.status, 503);
    assert!(r.text().contains("<![CDATA[22]]>"));
}

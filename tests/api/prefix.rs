//! A non-default table prefix, and migrations that never touch an existing shop table.

use threadgate::db::migrations;
use threadgate::db::sql::Sql;

use crate::support::{serve_settings, TestApp, TestDb};

fn show_create(db: &TestDb, table: &str) -> String {
    let rows = Sql::new(format!("SHOW CREATE TABLE `{table}`"))
        .load(&mut db.conn())
        .unwrap();
    rows[0].0[1].clone().unwrap()
}

fn table_names(db: &TestDb) -> Vec<String> {
    let mut names: Vec<String> = Sql::new("SHOW TABLES")
        .load(&mut db.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.0[0].clone().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn a_non_default_prefix_serves_the_same_documents() {
    let app = TestApp::with(TestDb::seeded("shop2_"), serve_settings());
    let names = table_names(&app.db);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("shop2_") || n == "__diesel_schema_migrations"),
        "{names:?}"
    );
    assert!(names.contains(&"shop2_customer_thread".to_owned()));
    let key = app.db.full_key();
    let r = app.get(&key, "/api/customer_threads/1");
    assert_eq!(r.text(), crate::single::THREAD_1);
}

#[test]
fn migrating_twice_or_over_existing_tables_changes_nothing() {
    let db = TestDb::empty("ps_");
    // A shop table that already exists, with an extra column and index of the shop's own.
    db.exec("CREATE TABLE `ps_customer_thread` (`id_customer_thread` int(11) unsigned NOT NULL AUTO_INCREMENT, `id_shop` int(11) unsigned NOT NULL DEFAULT '1', `id_lang` int(10) unsigned NOT NULL, `id_contact` int(10) unsigned NOT NULL, `id_customer` int(10) unsigned DEFAULT NULL, `id_order` int(10) unsigned DEFAULT NULL, `id_product` int(10) unsigned DEFAULT NULL, `status` enum('open','closed','pending1','pending2') NOT NULL DEFAULT 'open', `email` varchar(255) NOT NULL, `token` varchar(12) DEFAULT NULL, `date_add` datetime NOT NULL, `date_upd` datetime NOT NULL, `custom` int DEFAULT 7, PRIMARY KEY (`id_customer_thread`), KEY `custom_idx` (`custom`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4");
    let before = show_create(&db, "ps_customer_thread");
    let mut conn = db.conn();
    assert_eq!(
        migrations::run(&mut conn, "ps_").unwrap().len(),
        migrations::count()
    );
    assert_eq!(show_create(&db, "ps_customer_thread"), before);
    let tables_after_first = table_names(&db);
    let creates: Vec<String> = tables_after_first
        .iter()
        .filter(|t| t.starts_with("ps_"))
        .map(|t| show_create(&db, t))
        .collect();
    assert!(
        migrations::run(&mut conn, "ps_").unwrap().is_empty(),
        "nothing pending the second time"
    );
    assert_eq!(table_names(&db), tables_after_first);
    let again: Vec<String> = tables_after_first
        .iter()
        .filter(|t| t.starts_with("ps_"))
        .map(|t| show_create(&db, t))
        .collect();
    assert_eq!(again, creates);
    // A second prefix in the same database gets its own tables.
    assert_eq!(
        migrations::run(&mut conn, "other_").unwrap().len(),
        migrations::count()
    );
    assert!(table_names(&db).contains(&"other_threadgate_key".to_owned()));
}

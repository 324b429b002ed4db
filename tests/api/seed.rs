//! The benchmark seeder adds exactly what it is asked for, above the existing rows.

use threadgate::seed;

use crate::support::{number, TestDb};

fn count(db: &TestDb, sql: &str) -> i64 {
    let sql = threadgate::db::migrations::apply_prefix(sql, &db.tables.prefix);
    number(&mut db.conn(), &sql) as i64
}

#[test]
fn bulk_seeding_adds_n_threads_with_m_messages_each_after_the_demo_rows() {
    let db = TestDb::seeded("ps_");
    // New ids start far above the demo rows (a gap before the batch).
    db.exec("ALTER TABLE `ps_customer_thread` AUTO_INCREMENT = 1000");
    seed::bulk(&mut db.conn(), &db.tables, 250, 2).unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_thread`"
        ),
        253
    );
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_message`"
        ),
        3 + 500
    );
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_thread` t WHERE t.`id_customer_thread` > 3 AND (SELECT COUNT(*) FROM `ps_customer_message` m WHERE m.`id_customer_thread` = t.`id_customer_thread`) = 2"
        ),
        250,
        "every new thread has exactly its two messages"
    );
}

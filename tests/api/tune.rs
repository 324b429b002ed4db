//! `threadgate tune` (docs/tuning.md): the report on a shop without threadgate's indexes, the
//! indexes `--apply` adds online and `--revert` drops, PrestaShop's indexes untouched, and the
//! indexes of the tables a fresh `migrate` creates.

use std::process::Command;

use threadgate::db::migrations;
use threadgate::db::sql::Sql;
use threadgate::db::tune::INDEXES;

use crate::keys::fixture;
use crate::support::TestDb;

const PREFIX: &str = "shop8_";

/// Every index of the database's tables: "table index seq column collation", sorted.
fn statistics(db: &TestDb) -> Vec<String> {
    let mut q = Sql::new(
        "SELECT CONCAT_WS(' ', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, IFNULL(COLLATION, '-')) \
         FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ",
    );
    q.bind_text(db.name.as_str())
        .push(" ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX");
    q.load(&mut db.conn())
        .unwrap()
        .into_iter()
        .map(|r| r.0[0].clone().unwrap())
        .collect()
}

/// `threadgate tune ARGS`: stdout; the command must succeed.
fn tune(db: &TestDb, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_threadgate"))
        .arg("tune")
        .args(args)
        .env("DATABASE_URL", &db.url)
        .env("THREADGATE_TABLE_PREFIX", &db.tables.prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tune {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The lines of `text` from the one starting with `first`, `n` of them.
fn lines_from(text: &str, first: &str, n: usize) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(first))
        .unwrap_or_else(|| panic!("no line {first:?} in:\n{text}"));
    lines[at..(at + n).min(lines.len())]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// The rows a shape's EXPLAIN line estimates, masked (estimates depend on InnoDB's sampling).
fn masked(lines: Vec<String>) -> Vec<String> {
    lines
        .into_iter()
        .map(|l| match (l.find(", rows "), l.find(", Extra")) {
            (Some(a), Some(b)) => format!("{}, rows N{}", &l[..a], &l[b..]),
            _ => l,
        })
        .collect()
}

/// The index lines of a report, one per index, in [`INDEXES`] order, without sizes.
fn index_states(report: &str) -> Vec<String> {
    lines_from(report, "  threadgate_customer_upd ", INDEXES.len())
        .into_iter()
        .map(|l| match l.rfind(", ") {
            Some(i) if l.ends_with(" MiB") => l[..i].to_owned(),
            _ => l,
        })
        .collect()
}

/// A PrestaShop 8 shop (its own DDL) migrated by threadgate, with 3 000 threads of 300
/// customers and a message each, and fresh statistics.
fn shop() -> TestDb {
    let db = TestDb::empty(PREFIX);
    db.exec(&fixture(None));
    migrations::run(&mut db.conn(), PREFIX).unwrap();
    db.exec(
        "INSERT INTO `ps_customer_thread` (`id_shop`, `id_lang`, `id_contact`, `id_customer`, `id_order`, `id_product`, `status`, `email`, `token`, `date_add`, `date_upd`)
           SELECT 1, 1, 1 + seq % 4, 1 + seq % 300, 0, 0, ELT(1 + seq % 4, 'open', 'closed', 'pending1', 'pending2'),
                  CONCAT('customer', seq % 300, '@example.com'), 'tok', TIMESTAMP('2024-01-01') + INTERVAL seq MINUTE,
                  TIMESTAMP('2024-01-01') + INTERVAL seq % 500 MINUTE
           FROM seq_1_to_3000;
         INSERT INTO `ps_customer_message` (`id_customer_thread`, `id_employee`, `message`, `date_add`, `date_upd`)
           SELECT `id_customer_thread`, 0, 'Hello', `date_add`, `date_add` FROM `ps_customer_thread`;
         ANALYZE TABLE `ps_customer_thread`, `ps_customer_message`;",
    );
    db
}

#[test]
fn tune_reports_adds_and_drops_only_its_own_indexes_on_a_shop() {
    let db = shop();
    let shop_indexes = statistics(&db);
    assert!(
        !shop_indexes.iter().any(|l| l.contains(" threadgate_")),
        "migrate added no index to a shop's table: {shop_indexes:?}"
    );

    let report = tune(&db, &[]);
    assert_eq!(
        index_states(&report),
        [
            "  threadgate_customer_upd on shop8_customer_thread (`id_customer`, `date_upd` DESC): missing",
            "  threadgate_contact_upd on shop8_customer_thread (`id_contact`, `date_upd` DESC): missing",
            "  threadgate_status_upd on shop8_customer_thread (`status`, `date_upd` DESC): missing",
            "  threadgate_email_upd on shop8_customer_thread (`email`, `date_upd` DESC): missing",
            "  threadgate_upd on shop8_customer_thread (`date_upd` DESC): missing",
            "  threadgate_thread_add on shop8_customer_message (`id_customer_thread`, `date_add`): missing",
        ]
    );
    assert_eq!(
        masked(lines_from(&report, "  threads by id_customer, newest first", 2)),
        [
            "  threads by id_customer, newest first (a list page): NOT served (wants threadgate_customer_upd)",
            "    main: type ref, key id_customer, rows N, Extra: Using where; Using filesort",
        ]
    );
    assert_eq!(
        masked(lines_from(&report, "  bridge M10", 2)),
        [
            "  bridge M10: a thread's messages, oldest first: NOT served (wants threadgate_thread_add)",
            "    m: type ref, key id_customer_thread, rows N, Extra: Using where; Using filesort",
        ]
    );
    assert!(report.ends_with("6 index(es) missing: `threadgate tune --apply` adds them online\n"));

    // A shop owner's own index, which no threadgate command may touch.
    db.exec("ALTER TABLE `ps_customer_thread` ADD INDEX `owner_upd` (`date_upd`)");
    let with_owner = statistics(&db);

    let applied = tune(&db, &["--apply"]);
    assert!(applied.starts_with(
        "ran: ALTER TABLE `shop8_customer_thread` ADD INDEX `threadgate_customer_upd` (`id_customer`, `date_upd` DESC), ALGORITHM=INPLACE, LOCK=NONE\n"
    ), "{applied}");
    assert_eq!(applied.matches("ran: ").count(), INDEXES.len());
    let mut expected = with_owner.clone();
    for def in INDEXES {
        for (n, (column, desc)) in def.columns.iter().enumerate() {
            expected.push(format!(
                "{PREFIX}{} {} {} {column} {}",
                def.table,
                def.name,
                n + 1,
                if *desc { "D" } else { "A" }
            ));
        }
    }
    expected.sort();
    let mut after = statistics(&db);
    after.sort();
    assert_eq!(after, expected, "exactly threadgate's indexes were added");
    assert!(index_states(&applied)
        .iter()
        .all(|l| l.ends_with(": present")));
    assert_eq!(
        masked(lines_from(&applied, "  threads by id_customer, newest first", 2)),
        [
            "  threads by id_customer, newest first (a list page): served (wants threadgate_customer_upd)",
            "    main: type ref, key threadgate_customer_upd, rows N, Extra: Using where; Using index",
        ]
    );
    assert_eq!(
        masked(lines_from(&applied, "  bridge M10", 2)),
        [
            "  bridge M10: a thread's messages, oldest first: served (wants threadgate_thread_add)",
            "    m: type ref, key threadgate_thread_add, rows N, Extra: Using where",
        ]
    );
    for shape in [
        "  threads by id_contact, newest first: served",
        "  threads by status, newest first: served",
        "  threads by email, newest first: served",
        "  all threads, newest first (a later chunk, by key): served",
        "  messages by id_customer_thread, oldest first: served",
        "  event watcher: threads changed since its mark, oldest first: served",
    ] {
        assert!(applied.contains(shape), "{shape}:\n{applied}");
    }
    assert!(
        !tune(&db, &["--apply"]).contains("ran: "),
        "a second --apply has nothing to do"
    );

    let json: serde_json::Value = serde_json::from_str(&tune(&db, &["--json"])).unwrap();
    assert_eq!(json["prefix"], PREFIX);
    assert_eq!(json["indexes"][0]["state"], "present");
    assert_eq!(json["shapes"][0]["served"], true);
    assert_eq!(
        json["shapes"][0]["explain"][0]["key"],
        "threadgate_customer_upd"
    );

    let reverted = tune(&db, &["--revert"]);
    assert_eq!(reverted.matches("ran: ").count(), INDEXES.len());
    assert!(reverted.contains(
        "ran: ALTER TABLE `shop8_customer_message` DROP INDEX `threadgate_thread_add`, ALGORITHM=INPLACE, LOCK=NONE\n"
    ));
    assert_eq!(
        statistics(&db),
        with_owner,
        "exactly threadgate's indexes were dropped; PrestaShop's and the owner's stay"
    );
    assert!(index_states(&reverted)
        .iter()
        .all(|l| l.ends_with(": missing")));
}

#[test]
fn a_fresh_migrate_creates_the_indexes_with_the_tables() {
    let db = TestDb::seeded("ps_");
    let stats = statistics(&db);
    for def in INDEXES {
        assert!(
            stats.iter().any(|l| l.starts_with(&format!(
                "ps_{} {} 1 {} ",
                def.table, def.name, def.columns[0].0
            ))),
            "{} missing: {stats:?}",
            def.name
        );
    }
    let report = tune(&db, &["--apply"]);
    assert!(!report.contains("ran: "), "nothing to add:\n{report}");
    assert!(index_states(&report)
        .iter()
        .all(|l| l.starts_with("  threadgate_") && l.ends_with(": present")));
}

#[test]
fn tune_under_a_prefix_without_a_shop_changes_nothing_and_says_why() {
    let db = TestDb::seeded("ps_");
    let before = statistics(&db);
    for args in [&[][..], &["--apply"][..]] {
        let out = Command::new(env!("CARGO_BIN_EXE_threadgate"))
            .arg("tune")
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("THREADGATE_TABLE_PREFIX", "shop9_")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(
            String::from_utf8_lossy(&out.stderr)
                .contains("no table shop9_customer_thread: check THREADGATE_TABLE_PREFIX"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(statistics(&db), before);
}

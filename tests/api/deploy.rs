//! The least-privilege database account of docs/deploy.md: an account made by
//! `deploy/mariadb/grants.sql` (after an administrator migrated the database and created the
//! keys) serves the whole API, reads and writes of both resources and both bridges, exactly as
//! an all-powerful account does; and it lacks the rights it must not have.

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};

use threadgate::auth::admin::CreateKey;
use threadgate::config::KeySource;
use threadgate::resource::Method;

use crate::support::{http::basic, serve_settings, Response, TestApp, TestDb};

const GRANTS: &str = include_str!("../../deploy/mariadb/grants.sql");
const PASSWORD: &str = "s3cret-for-the-test";

/// A MariaDB account made by `deploy/mariadb/grants.sql` for one test database; dropped at the
/// end of the test (accounts are server-wide, databases are not).
struct ServiceAccount {
    user: String,
    admin_url: String,
}

impl ServiceAccount {
    fn create(db: &TestDb) -> ServiceAccount {
        ServiceAccount::create_from(db, GRANTS)
    }

    /// With the grants the file leaves commented for `THREADGATE_AUTH_SOURCE=prestashop`.
    fn create_for_the_prestashop_source(db: &TestDb) -> ServiceAccount {
        ServiceAccount::create_from(db, &GRANTS.replace("-- GRANT ", "GRANT "))
    }

    fn create_from(db: &TestDb, grants: &str) -> ServiceAccount {
        let user = format!("svc_{}", db.name);
        let sql = grants
            .replace("`shop`.", &format!("`{}`.", db.name))
            .replace("'threadgate'@'localhost'", &format!("'{user}'@'localhost'"))
            .replace("'change-me'", &format!("'{PASSWORD}'"));
        let statements: Vec<&str> = sql
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect();
        let mut admin = db.conn();
        admin
            .batch_execute(&statements.join("\n"))
            .expect("grants.sql runs");
        ServiceAccount {
            user,
            admin_url: db.url.clone(),
        }
    }

    /// `db_url` with this account's credentials instead of the administrator's.
    fn url(&self, db_url: &str) -> String {
        let start = db_url.find("://").expect("a URL") + 3;
        let at = start + db_url[start..].find('@').expect("a user in the URL");
        format!(
            "{}{}:{}{}",
            &db_url[..start],
            self.user,
            PASSWORD,
            &db_url[at..]
        )
    }
}

impl Drop for ServiceAccount {
    fn drop(&mut self) {
        if let Ok(mut admin) = MysqlConnection::establish(&self.admin_url) {
            let _ =
                admin.batch_execute(&format!("DROP USER IF EXISTS '{}'@'localhost'", self.user));
        }
    }
}

/// The fixed key both servers know, so the same requests can go to both.
const KEY: &str = "DEPLOYTESTKEY0000000000000000001";

fn seeded_with_key() -> TestDb {
    let db = TestDb::seeded("ps_");
    db.key_with(CreateKey {
        resources: vec!["customer_threads".into(), "customer_messages".into()],
        methods: Method::ALL.to_vec(),
        shops: vec![],
        description: "deploy test".into(),
        key: Some(KEY.into()),
        active: true,
    });
    db
}

/// Times written by the servers (shop time "now") differ between two servers by a second at
/// most, and the thread list bridge's `requestUUID` is new on every answer; every other byte
/// must be equal. Dates of the demo data (before 2025) stay.
fn mask_now(body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(body).into_owned();
    const REQUEST_ID: &str = "\"requestUUID\":\"";
    if let Some(at) = text.find(REQUEST_ID) {
        let start = at + REQUEST_ID.len();
        let end = start + text[start..].find('"').unwrap_or(0);
        text.replace_range(start..end, "<uuid>");
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let candidate = &b[i..(i + 19).min(b.len())];
        let is_date = candidate.len() == 19
            && candidate.iter().enumerate().all(|(j, c)| match j {
                4 | 7 => *c == b'-',
                10 => *c == b' ' || *c == b'T',
                13 | 16 => *c == b':',
                _ => c.is_ascii_digit(),
            });
        if is_date && &text[i..i + 4] >= "2025" {
            out.push_str("<now>");
            i += 19;
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

const THREAD: &str = "<prestashop><customer_thread><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>open</status></customer_thread></prestashop>";
const THREAD_PUT: &str = "<prestashop><customer_thread><id>4</id><id_lang>1</id_lang><id_shop>1</id_shop><id_customer>2</id_customer><id_contact>2</id_contact><email>pub@prestashop.com</email><token>aBcD1234eFgH</token><status>closed</status></customer_thread></prestashop>";
const THREAD_PATCH: &str =
    "<prestashop><customer_thread><id>4</id><id_order>5</id_order></customer_thread></prestashop>";
const MESSAGE: &str = "<prestashop><customer_message><id_customer_thread>4</id_customer_thread><message>Where is my parcel?</message><private>0</private></customer_message></prestashop>";
const MESSAGE_PUT: &str = "<prestashop><customer_message><id>4</id><id_customer_thread>4</id_customer_thread><message>Where is my parcel, please?</message><private>0</private></customer_message></prestashop>";
const MESSAGE_PATCH: &str =
    "<prestashop><customer_message><id>4</id><read>1</read></customer_message></prestashop>";
const LIST_BODY: &str = "{\"page_size\": 10}";

/// (method, path, body, expected status): every kind of request a client makes, in an order
/// where the writes build on each other.
fn script() -> Vec<(&'static str, String, &'static str, u16)> {
    let list = "/communications/departments/0/customers/2/threads";
    vec![
        ("GET", "/api/".into(), "", 200),
        ("GET", "/api/customer_threads".into(), "", 200),
        (
            "GET",
            "/api/customer_threads?display=full&filter[status]=[open|closed]&sort=[id_DESC]".into(),
            "",
            200,
        ),
        ("GET", "/api/customer_threads/1".into(), "", 200),
        ("HEAD", "/api/customer_threads/1".into(), "", 200),
        (
            "GET",
            "/api/customer_messages?display=full&limit=0,2".into(),
            "",
            200,
        ),
        (
            "GET",
            "/api/customer_messages/1?output_format=JSON".into(),
            "",
            200,
        ),
        (
            "GET",
            "/api/customer_threads?schema=synopsis".into(),
            "",
            200,
        ),
        ("GET", "/api/inbox/threads/1".into(), "", 200),
        ("POST", list.into(), LIST_BODY, 200),
        ("POST", "/api/customer_threads".into(), THREAD, 201),
        ("PUT", "/api/customer_threads/4".into(), THREAD_PUT, 200),
        ("PATCH", "/api/customer_threads".into(), THREAD_PATCH, 200),
        ("POST", "/api/customer_messages".into(), MESSAGE, 201),
        ("PUT", "/api/customer_messages/4".into(), MESSAGE_PUT, 200),
        ("PATCH", "/api/customer_messages".into(), MESSAGE_PATCH, 200),
        ("GET", "/api/inbox/threads/4".into(), "", 200),
        ("POST", list.into(), LIST_BODY, 200),
        ("GET", "/api/customer_threads/4".into(), "", 200),
        ("DELETE", "/api/customer_messages/4".into(), "", 200),
        ("DELETE", "/api/customer_threads?id=[2,4]".into(), "", 200),
        ("GET", "/api/customer_threads".into(), "", 200),
        ("GET", "/api/customer_messages".into(), "", 200),
    ]
}

fn send(app: &TestApp, method: &str, path: &str, body: &str) -> Response {
    let mut head = format!("{method} {path} HTTP/1.1\r\nAuthorization: {}", basic(KEY));
    if path.starts_with("/communications/") {
        head.push_str("\r\nContent-Type: application/json");
    }
    app.raw(&head, body.as_bytes())
}

#[test]
fn the_least_privilege_account_serves_the_whole_api_as_an_admin_account_does() {
    // Reference: a server on the administrator's account.
    let reference = TestApp::with(seeded_with_key(), serve_settings());
    // The same shop served through the account of deploy/mariadb/grants.sql.
    let mut db = seeded_with_key();
    let account = ServiceAccount::create(&db);
    let admin_url = db.url.clone();
    db.url = account.url(&admin_url);
    let app = TestApp::with(db, serve_settings());

    for (method, path, body, status) in script() {
        let want = send(&reference, method, &path, body);
        let got = send(&app, method, &path, body);
        assert_eq!(
            want.status,
            status,
            "{method} {path} on the admin account: {}",
            String::from_utf8_lossy(&want.body)
        );
        assert_eq!(
            (got.status, mask_now(&got.body)),
            (want.status, mask_now(&want.body)),
            "{method} {path}: the service account answers as the admin account"
        );
    }
    assert_eq!(
        send(&app, "GET", "/api/customer_threads/4", "").status,
        404,
        "the DELETE went through"
    );

    // The background refresh re-reads the shop and writes when the key was last used.
    app.refresh();
    let mut admin = MysqlConnection::establish(&admin_url).unwrap();
    let used = threadgate::db::sql::Sql::new(
        "SELECT CAST(COUNT(*) AS CHAR) FROM `ps_threadgate_key` WHERE `last_used` IS NOT NULL",
    )
    .load(&mut admin)
    .unwrap();
    assert_eq!(
        used[0].0[0].as_deref(),
        Some("1"),
        "last_used was written through the service account"
    );
}

#[test]
fn the_least_privilege_account_cannot_change_the_schema_or_other_data() {
    let db = seeded_with_key();
    let account = ServiceAccount::create(&db);
    let mut svc = MysqlConnection::establish(&account.url(&db.url)).expect("the account connects");
    svc.batch_execute("SELECT COUNT(*) FROM `ps_customer_thread`")
        .expect("it may read threads");
    let refused = [
        "DROP TABLE `ps_customer_thread`",
        "ALTER TABLE `ps_customer_thread` ADD COLUMN `x` int",
        "CREATE TABLE `ps_threadgate_x` (`id` int)",
        "TRUNCATE TABLE `ps_customer_message`",
        "DELETE FROM `ps_customer`",
        "UPDATE `ps_configuration` SET `value` = '0' WHERE `name` = 'PS_WEBSERVICE'",
        "INSERT INTO `ps_threadgate_key_permission` (`id_key`, `resource`, `method`) VALUES (1, 'customers', 'GET')",
        "UPDATE `ps_threadgate_key` SET `active` = 1",
        "UPDATE `ps_threadgate_state` SET `key_generation` = 0",
        "DELETE FROM `ps_threadgate_key`",
        "SELECT COUNT(*) FROM `mysql`.`user`",
        "GRANT SELECT ON `ps_customer` TO CURRENT_USER",
    ];
    for sql in refused {
        let err = svc
            .batch_execute(sql)
            .expect_err(&format!("{sql} must be refused"));
        let text = err.to_string();
        assert!(
            text.contains("denied"),
            "{sql} is refused for lack of rights, not for another reason: {text}"
        );
    }
    let threads =
        threadgate::db::sql::Sql::new("SELECT CAST(COUNT(*) AS CHAR) FROM `ps_customer_thread`")
            .load(&mut db.conn())
            .unwrap();
    assert_eq!(threads[0].0[0].as_deref(), Some("3"), "nothing was dropped");
}

/// A shop whose webservice key lives in its own tables (PrestaShop's schema), for the
/// `prestashop` key source.
fn shop_with_webservice_key() -> TestDb {
    let db = TestDb::seeded("ps_");
    db.exec(&crate::keys::fixture(Some(&[
        "webservice_account",
        "webservice_permission",
        "webservice_account_shop",
    ])));
    db.exec(&format!(
        "INSERT INTO `ps_webservice_account` (`id_webservice_account`, `key`, `description`, `active`) VALUES (1, '{KEY}', 'ERP', 1);
         INSERT INTO `ps_webservice_permission` (`resource`, `method`, `id_webservice_account`) VALUES ('customer_threads', 'GET', 1);
         INSERT INTO `ps_webservice_account_shop` (`id_webservice_account`, `id_shop`) VALUES (1, 1);"
    ));
    db
}

fn prestashop_source() -> threadgate::config::ServeSettings {
    let mut settings = serve_settings();
    settings.auth_source = KeySource::Prestashop;
    settings
}

#[test]
fn with_the_prestashop_key_source_the_account_needs_the_three_optional_grants() {
    let reference = TestApp::with(shop_with_webservice_key(), prestashop_source());
    let want = send(&reference, "GET", "/api/customer_threads/1", "");
    assert_eq!(want.status, 200, "{}", want.text());

    let mut db = shop_with_webservice_key();
    let account = ServiceAccount::create_for_the_prestashop_source(&db);
    db.url = account.url(&db.url);
    let app = TestApp::with(db, prestashop_source());
    let got = send(&app, "GET", "/api/customer_threads/1", "");
    assert_eq!((got.status, got.text()), (want.status, want.text()));
}

#[test]
fn without_the_optional_grants_the_prestashop_key_source_is_refused_by_the_database() {
    let mut db = shop_with_webservice_key();
    let account = ServiceAccount::create(&db);
    db.url = account.url(&db.url);
    let app = TestApp::with(db, prestashop_source());
    let got = send(&app, "GET", "/api/customer_threads/1", "");
    assert_eq!(
        (got.status, got.text()),
        (
            500,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n<errors>\n<error>\n<code><![CDATA[0]]></code>\n<message><![CDATA[Internal error]]></message>\n</error>\n</errors>\n</prestashop>\n"
        ),
        "the key look-up is denied (the cause goes to the log only)"
    );
}

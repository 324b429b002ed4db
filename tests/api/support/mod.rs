//! Test support: one database per test on the throwaway MariaDB that `scripts/test` starts, a
//! real threadgate server on a random loopback port, and a raw HTTP/1.1 client so tests see
//! the exact status line, headers and body.

#![allow(dead_code)]

pub mod http;
pub mod replica;

pub mod own_mariadb;
#[path = "../../support/xsd.rs"]
pub mod xsd;

use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::web;
use clap::Parser;
use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};

use threadgate::auth::admin::{self, CreateKey};
use threadgate::config::{Argon2Settings, DbSettings, ServeSettings};
use threadgate::db::{migrations, Tables};
use threadgate::resource::Method;
use threadgate::seed;
use threadgate::startup;
use threadgate::state::AppState;

pub use http::Response;

/// The server URL `scripts/test` exports (its database part is ignored).
fn server_url() -> String {
    std::env::var("THREADGATE_TEST_DATABASE_URL").expect(
        "THREADGATE_TEST_DATABASE_URL is not set: run the tests with scripts/test, which starts a throwaway MariaDB",
    )
}

/// `mysql://user@host/<db>?params` for another database name.
fn url_for(db: &str) -> String {
    let url = server_url();
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b.to_owned(), format!("?{q}")),
        None => (url.clone(), String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..]
        .find('/')
        .map_or(base.len(), |i| scheme_end + i);
    format!("{}/{}{}", &base[..host_end], db, query)
}

/// A database of its own, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub tables: Tables,
    /// On the suite's shared server (dropped at the end); a fault test's own server goes
    /// away with its datadir.
    shared: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    /// An empty database.
    pub fn empty(prefix: &str) -> TestDb {
        let name = format!(
            "tg_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        let mut admin =
            MysqlConnection::establish(&url_for("mysql")).expect("connect to the test server");
        admin
            .batch_execute(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            ))
            .expect("create the test database");
        TestDb {
            url: url_for(&name),
            name,
            tables: Tables::new(prefix),
            shared: true,
        }
    }

    /// A migrated database with the demo shop on a fault test's own server.
    pub fn seeded_on(server: &own_mariadb::OwnMariadb, prefix: &str) -> TestDb {
        let name = format!("tg_own_{}", unique_suffix());
        let db = TestDb {
            url: server.create_database(&name),
            name,
            tables: Tables::new(prefix),
            shared: false,
        };
        let mut conn = db.conn();
        migrations::run(&mut conn, prefix).expect("migrate");
        seed::demo(&mut conn, &db.tables).expect("seed");
        db
    }

    /// A handle on an existing database that is not dropped with it (a second handle on a
    /// database, or one on a test's own server).
    pub fn attached(name: &str, url: &str, prefix: &str) -> TestDb {
        TestDb {
            name: name.to_owned(),
            url: url.to_owned(),
            tables: Tables::new(prefix),
            shared: false,
        }
    }

    /// The database of `db` seen under another prefix (its tables are not there).
    pub fn with_prefix(&self, prefix: &str) -> DbSettings {
        DbSettings {
            table_prefix: prefix.to_owned(),
            ..self.settings()
        }
    }

    /// A migrated database with the demo shop.
    pub fn seeded(prefix: &str) -> TestDb {
        let db = TestDb::empty(prefix);
        let mut conn = db.conn();
        migrations::run(&mut conn, prefix).expect("migrate");
        seed::demo(&mut conn, &db.tables).expect("seed");
        db
    }

    pub fn conn(&self) -> MysqlConnection {
        MysqlConnection::establish(&self.url).expect("connect to the test database")
    }

    /// Runs SQL written with the `ps_` prefix against this database's prefix.
    pub fn exec(&self, sql: &str) {
        self.conn()
            .batch_execute(&migrations::apply_prefix(sql, &self.tables.prefix))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn settings(&self) -> DbSettings {
        DbSettings {
            database_url: self.url.clone(),
            table_prefix: self.tables.prefix.clone(),
            pool_size: 2,
        }
    }

    /// Creates a key with these grants; returns the key.
    pub fn key(&self, resources: &[&str], methods: &[Method], shops: &[u32]) -> String {
        self.key_with(CreateKey {
            resources: resources.iter().map(|s| s.to_string()).collect(),
            methods: methods.to_vec(),
            shops: shops.to_vec(),
            description: "test".into(),
            key: None,
            active: true,
        })
    }

    pub fn key_with(&self, req: CreateKey) -> String {
        admin::create(
            &mut self.conn(),
            &self.tables,
            &req,
            &Argon2Settings::default(),
            "2024-01-01 00:00:00",
        )
        .expect("create key")
        .1
    }

    /// A key with every method on both resources.
    pub fn full_key(&self) -> String {
        self.key(
            &["customer_threads", "customer_messages"],
            &Method::ALL,
            &[],
        )
    }
}

/// A suffix no other test of this process uses.
/// A new directory path for a test's own MariaDB: on tmpfs (`/dev/shm`) when there is one,
/// named `<name>-<pid>-<unique suffix>`. Not created.
pub fn scratch_dir(name: &str) -> std::path::PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("{name}-{}-{}", std::process::id(), unique_suffix()))
}

pub fn unique_suffix() -> String {
    format!(
        "{}_{}",
        COUNTER.fetch_add(1, Ordering::Relaxed),
        rand_suffix()
    )
}

fn rand_suffix() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(COUNTER.load(Ordering::Relaxed));
    (h.finish() % 1_000_000) as u32
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.shared {
            return;
        }
        if let Ok(mut admin) = MysqlConnection::establish(&url_for("mysql")) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS `{}`", self.name));
        }
    }
}

/// Default serve settings, as `threadgate serve` would have them with no flags.
pub fn serve_settings() -> ServeSettings {
    #[derive(Parser)]
    struct Args {
        #[command(flatten)]
        serve: ServeSettings,
    }
    Args::parse_from(["test"]).serve
}

/// A running server on its own database.
pub struct TestApp {
    pub db: TestDb,
    pub port: u16,
    pub state: web::Data<AppState>,
    /// The port of `GET /metrics` ([`TestApp::with_metrics`]).
    pub metrics_port: Option<u16>,
    handle: actix_web::dev::ServerHandle,
    metrics_handle: Option<actix_web::dev::ServerHandle>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    /// The demo shop with the `ps_` prefix and default settings.
    pub fn spawn() -> TestApp {
        TestApp::with(TestDb::seeded("ps_"), serve_settings())
    }

    /// A server without its background work: tests refresh by hand ([`TestApp::refresh`]).
    pub fn with(db: TestDb, settings: ServeSettings) -> TestApp {
        TestApp::start(db, settings, false, false)
    }

    /// [`TestApp::with`] plus the metrics endpoint on a port of its own (what
    /// `THREADGATE_METRICS_BIND` starts).
    pub fn with_metrics(db: TestDb, settings: ServeSettings) -> TestApp {
        TestApp::start(db, settings, false, true)
    }

    /// A server with the background work `threadgate serve` runs (snapshot refresh, key
    /// generation poll), on the settings' intervals.
    pub fn with_background(db: TestDb, settings: ServeSettings) -> TestApp {
        TestApp::start(db, settings, true, false)
    }

    /// [`TestApp::with`] on other database settings (a pool of one, for instance).
    pub fn with_settings(db: TestDb, db_settings: &DbSettings, settings: ServeSettings) -> TestApp {
        TestApp::serve(db, db_settings, settings, false, true, false)
    }

    fn start(db: TestDb, settings: ServeSettings, background: bool, metrics: bool) -> TestApp {
        let db_settings = db.settings();
        TestApp::serve(db, &db_settings, settings, background, true, metrics)
    }

    /// A server that has not read the shop configuration yet (the database is down, or its
    /// tables are not under `db_settings`' prefix); with `background`, it waits for the
    /// database as `threadgate serve` does.
    pub fn unready(
        db: TestDb,
        db_settings: &DbSettings,
        settings: ServeSettings,
        background: bool,
    ) -> TestApp {
        TestApp::serve(db, db_settings, settings, background, false, false)
    }

    fn serve(
        db: TestDb,
        db_settings: &DbSettings,
        settings: ServeSettings,
        background: bool,
        load: bool,
        metrics: bool,
    ) -> TestApp {
        let state = web::Data::new(AppState::new(db_settings, settings).expect("state"));
        if load {
            let s = state.clone();
            actix_web::rt::System::new()
                .block_on(async move { s.refresh().await })
                .expect("read the shop configuration");
        }
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let metrics_listener =
            metrics.then(|| TcpListener::bind("127.0.0.1:0").expect("bind the metrics port"));
        let metrics_port = metrics_listener
            .as_ref()
            .map(|l| l.local_addr().unwrap().port());
        let (tx, rx) = std::sync::mpsc::channel();
        let (metrics_tx, metrics_rx) = std::sync::mpsc::channel();
        let s = state.clone();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let background = background.then(|| startup::spawn_background(s.clone()));
                if let Some(l) = metrics_listener {
                    let m = s.clone();
                    let server =
                        actix_web::HttpServer::new(move || startup::metrics_app(m.clone()))
                            .workers(1)
                            .disable_signals()
                            .listen(l)
                            .expect("listen")
                            .run();
                    metrics_tx.send(server.handle()).unwrap();
                    actix_web::rt::spawn(server);
                }
                let server = startup::server(vec![listener], s, Some(1))
                    .expect("listen")
                    .disable_signals()
                    .run();
                tx.send(server.handle()).unwrap();
                server.await.unwrap();
                if let Some(b) = background {
                    b.stop().await;
                }
            })
        });
        let handle = rx.recv().expect("server started");
        let metrics_handle = metrics_port.map(|_| metrics_rx.recv().expect("metrics started"));
        TestApp {
            db,
            port,
            state,
            metrics_port,
            handle,
            metrics_handle,
            thread: Some(thread),
        }
    }

    /// `GET /metrics` on the metrics port.
    pub fn metrics(&self) -> Response {
        let port = self
            .metrics_port
            .expect("a server started with TestApp::with_metrics");
        http::send(port, "GET /metrics HTTP/1.1", b"")
    }

    /// Re-reads the shop snapshot now (what the background refresh does every few seconds).
    pub fn refresh(&self) {
        let state = self.state.clone();
        actix_web::rt::System::new()
            .block_on(async move { state.refresh().await })
            .expect("refresh");
    }

    /// Sends a raw request: `head` is the request line plus header lines without the final
    /// blank line; `Host: example.com` and `Connection: close` are added when missing.
    pub fn raw(&self, head: &str, body: &[u8]) -> Response {
        http::send(self.port, head, body)
    }

    /// [`TestApp::raw`] from another local address (e.g. `127.0.0.2`).
    pub fn raw_from(&self, local: &str, head: &str, body: &[u8]) -> Response {
        http::send_from(local.parse().expect("an IP address"), self.port, head, body)
    }

    /// `method` on `path` with Basic auth `key:` and `body`, typed `content_type` (none when
    /// empty).
    pub fn send(
        &self,
        method: &str,
        key: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: {}",
            http::basic(key)
        );
        if !content_type.is_empty() {
            head.push_str("\r\nContent-Type: ");
            head.push_str(content_type);
        }
        self.raw(&head, body)
    }

    /// GET with Basic auth `key:`.
    pub fn get(&self, key: &str, path: &str) -> Response {
        self.raw(
            &format!("GET {path} HTTP/1.1\r\nAuthorization: {}", http::basic(key)),
            b"",
        )
    }

    pub fn request(&self, method: &str, key: &str, path: &str, extra_headers: &[&str]) -> Response {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nAuthorization: {}",
            http::basic(key)
        );
        for h in extra_headers {
            head.push_str("\r\n");
            head.push_str(h);
        }
        self.raw(&head, b"")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let metrics = self.metrics_handle.clone();
        let _ = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                if let Some(m) = metrics {
                    m.stop(false).await;
                }
                handle.stop(false).await;
            });
        })
        .join();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Everything threadgate logs (at debug level and above) from here on, by every test of this
/// binary: tests look for their own random keys in it.
pub struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[derive(Clone)]
struct LogWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static LOGS: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
    std::sync::OnceLock::new();

/// Installs (once) a subscriber that keeps threadgate's logs in memory.
pub fn capture_logs() -> Logs {
    let buf = LOGS.get_or_init(|| {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = LogWriter(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "threadgate=trace,actix_web=debug",
            ))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .try_init();
        buf
    });
    Logs(buf.clone())
}

/// The start of every XML document threadgate answers.
pub const XML_HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<prestashop xmlns:xlink=\"http://www.w3.org/1999/xlink\">\n";

/// PrestaShop's XML error document with one error.
pub fn xml_error(code: u32, message: &str) -> String {
    xml_errors(&[(code, message)])
}

/// PrestaShop's XML error document with these errors, in order.
pub fn xml_errors(entries: &[(u32, &str)]) -> String {
    let mut s = format!("{XML_HEAD}<errors>\n");
    for (code, message) in entries {
        s.push_str(&format!(
            "<error>\n<code><![CDATA[{code}]]></code>\n<message><![CDATA[{message}]]></message>\n</error>\n"
        ));
    }
    s.push_str("</errors>\n</prestashop>\n");
    s
}

/// The rows of `table` (without the prefix) in `db`.
pub fn count(db: &TestDb, table: &str) -> i64 {
    let sql = format!(
        "SELECT CAST(COUNT(*) AS CHAR) FROM `{}{}`",
        db.tables.prefix, table
    );
    number(&mut db.conn(), &sql) as i64
}

/// The first column of the first row of `sql` on `conn`, a whole number (`CAST(... AS CHAR)`).
pub fn number(conn: &mut MysqlConnection, sql: &str) -> u64 {
    threadgate::db::sql::Sql::new(sql.to_owned())
        .load(conn)
        .unwrap()[0]
        .0[0]
        .as_deref()
        .unwrap()
        .parse()
        .unwrap()
}

/// The first row of `sql` (written with the `ps_` prefix) in `db`.
pub fn row(db: &TestDb, sql: &str) -> Vec<Option<String>> {
    let sql = migrations::apply_prefix(sql, &db.tables.prefix);
    threadgate::db::sql::Sql::new(sql)
        .load(&mut db.conn())
        .unwrap()
        .remove(0)
        .0
}

/// "Now" in the demo shop's time zone (Europe/Paris), to the minute.
pub fn paris_now_minute() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Paris)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A loopback port free at the time of the call.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET /api/customer_threads` of the demo shop (`seed::demo`: threads 1 to 3), linked under
/// `base` (`http://host/` and the shop's base URI).
pub fn demo_thread_list(base: &str) -> String {
    let items: String = (1..=3)
        .map(|id| {
            format!(
                "<customer_thread id=\"{id}\" xlink:href=\"{base}api/customer_threads/{id}\"/>\n"
            )
        })
        .collect();
    format!("{XML_HEAD}<customer_threads>\n{items}</customer_threads>\n</prestashop>\n")
}

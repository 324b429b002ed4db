//! A MariaDB primary and a GTID replica of their own, on a tmpfs datadir each, for the replica
//! routing tests (the suite's shared server cannot be stopped or replicated). Both are stopped
//! and their datadirs deleted when the [`ReplicaPair`] is dropped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};
use threadgate::db::sql::Sql;

use super::free_port;
use super::own_mariadb::program;

/// One private `mariadbd`.
pub struct Server {
    pub socket: PathBuf,
    pub port: u16,
    datadir: PathBuf,
    args: Vec<String>,
    child: Option<Child>,
}

impl Server {
    fn new(dir: &Path, name: &str, extra: &[&str]) -> Server {
        let datadir = dir.join(name);
        let socket = dir.join(format!("{name}.sock"));
        let port = free_port();
        let mut args = vec![
            "--no-defaults".to_owned(),
            format!("--datadir={}", datadir.display()),
            format!("--socket={}", socket.display()),
            format!("--pid-file={}/mariadbd.pid", datadir.display()),
            format!("--log-error={}/mariadbd.err", datadir.display()),
            "--skip-name-resolve".into(),
            "--bind-address=127.0.0.1".into(),
            format!("--port={port}"),
            "--innodb-buffer-pool-size=16M".into(),
            "--innodb-log-file-size=8M".into(),
            "--innodb-flush-log-at-trx-commit=2".into(),
            "--character-set-server=utf8mb4".into(),
            "--collation-server=utf8mb4_general_ci".into(),
            "--gtid-strict-mode=1".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        // mariadbd refuses to run as root unless told to.
        args.push("--user=root".into());
        Server {
            socket,
            port,
            datadir,
            args,
            child: None,
        }
    }

    /// Starts the server and waits (up to 60 s) until it answers.
    pub fn start(&mut self) {
        let child = Command::new(program("mariadbd"))
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while MysqlConnection::establish(&self.url("mysql")).is_err() {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let log =
                    std::fs::read_to_string(self.datadir.join("mariadbd.err")).unwrap_or_default();
                panic!("mariadbd exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "mariadbd did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A clean shutdown (SHUTDOWN, then the process is reaped).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(mut c) = MysqlConnection::establish(&self.url("mysql")) {
            let _ = c.batch_execute("SHUTDOWN");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `mysql://root@localhost/<db>?unix_socket=...` (the socket path has no character to
    /// encode: it is made of the test's pid and counters).
    pub fn url(&self, db: &str) -> String {
        format!(
            "mysql://root@localhost/{db}?unix_socket={}",
            self.socket.display()
        )
    }

    pub fn conn(&self, db: &str) -> MysqlConnection {
        MysqlConnection::establish(&self.url(db)).expect("connect")
    }

    pub fn exec(&self, db: &str, sql: &str) {
        self.conn(db)
            .batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn value(&self, db: &str, sql: &str) -> Option<String> {
        Sql::new(sql)
            .load(&mut self.conn(db))
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .first()
            .and_then(|r| r.0[0].clone())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A primary (binary log on) and a replica following it with `master_use_gtid=slave_pos`.
pub struct ReplicaPair {
    pub primary: Server,
    pub replica: Server,
    dir: PathBuf,
}

impl ReplicaPair {
    pub fn start() -> ReplicaPair {
        let dir = super::scratch_dir("tg-repl");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut primary = Server::new(
            &dir,
            "primary",
            &[
                "--server-id=1",
                "--log-bin=primary-bin",
                "--binlog-format=ROW",
            ],
        );
        let mut replica = Server::new(&dir, "replica", &["--server-id=2", "--skip-log-bin"]);
        // One install, copied: both start from the same empty system tables.
        let out = Command::new(program("mariadb-install-db"))
            .args([
                "--no-defaults",
                &format!("--datadir={}", primary.datadir.display()),
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=8M",
            ])
            .output()
            .expect("mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&primary.datadir)
            .arg(&replica.datadir)
            .status()
            .unwrap();
        assert!(copied.success());
        primary.start();
        replica.start();
        replica.exec(
            "mysql",
            &format!(
                "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
                 MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE",
                primary.port
            ),
        );
        ReplicaPair {
            primary,
            replica,
            dir,
        }
    }

    /// A database `name` on the primary, migrated (`ps_`) and seeded with the demo shop.
    pub fn demo_database(&self, name: &str) -> super::TestDb {
        self.primary.exec(
            "mysql",
            &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"),
        );
        let db = super::TestDb::attached(name, &self.primary.url(name), "ps_");
        threadgate::db::migrations::run(&mut db.conn(), "ps_").unwrap();
        threadgate::seed::demo(&mut db.conn(), &db.tables).unwrap();
        db
    }

    /// Waits (up to 30 s) until the replica has applied everything the primary has written.
    pub fn sync(&self) {
        let pos = self
            .primary
            .value("mysql", "SELECT @@gtid_binlog_pos")
            .unwrap_or_default();
        let waited = self.replica.value(
            "mysql",
            &format!("SELECT CAST(MASTER_GTID_WAIT('{pos}', 30) AS CHAR)"),
        );
        assert_eq!(waited.as_deref(), Some("0"), "the replica did not catch up");
    }
}

impl Drop for ReplicaPair {
    fn drop(&mut self) {
        self.replica.stop();
        self.primary.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

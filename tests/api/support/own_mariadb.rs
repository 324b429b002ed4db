//! A MariaDB of a test's own, for the fault tests: a fresh datadir on tmpfs, a unix socket in
//! it (no TCP port another process could take between a stop and a start), started, stopped,
//! paused (SIGSTOP) and resumed under a running server without touching the suite's shared
//! server. The flags are the ones `scripts/lib.sh` `start_mariadb`
//! uses, with a small buffer pool and redo log (a test database holds a few rows).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::{Connection, MysqlConnection};

pub struct OwnMariadb {
    dir: PathBuf,
    child: Option<Child>,
}

/// Debian keeps mariadbd in /usr/sbin, which a non-root PATH may lack.
pub fn program(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

impl OwnMariadb {
    /// A new datadir and a free port; the server is not started.
    pub fn install() -> OwnMariadb {
        let dir = super::scratch_dir("threadgate-fault");
        // A temporary directory of its own: the server's default, /tmp, is shared with every
        // other process of the machine (a clean-up there broke an install mid-way).
        std::fs::create_dir_all(dir.join("tmp")).expect("create the datadir's parent");
        let out = Command::new(program("mariadb-install-db"))
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--tmpdir={}", dir.join("tmp").display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=4M",
                "--innodb-buffer-pool-size=16M",
            ])
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        OwnMariadb { dir, child: None }
    }

    /// `mysql://root@localhost/<db>?unix_socket=<its socket>`. A socket of its own, not a TCP
    /// port: a port picked free can be taken by another process while the server is stopped,
    /// and the restart would then find (and the test talk to) someone else's server.
    pub fn url(&self, db: &str) -> String {
        format!(
            "mysql://root@localhost/{db}?unix_socket={}",
            self.dir.join("mysqld.sock").display()
        )
    }

    /// Starts the server and waits until it answers (polling every 50 ms, 60 s at most).
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "already started");
        let data = self.dir.join("data");
        let mut cmd = Command::new(program("mariadbd"));
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", self.dir.join("tmp").display()))
            .arg(format!(
                "--socket={}",
                self.dir.join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                self.dir.join("mariadbd.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                self.dir.join("mariadbd.err").display()
            ))
            .args([
                "--skip-networking",
                "--skip-log-bin",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
                "--innodb-log-file-size=4M",
                "--innodb-flush-log-at-trx-commit=2",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
            ]);
        if is_root() {
            cmd.arg("--user=root");
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start mariadbd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while MysqlConnection::establish(&self.url("mysql")).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(self.dir.join("mariadbd.err")).unwrap_or_default();
                panic!("mariadbd exited ({status}):\n{log}");
            }
            assert!(Instant::now() < deadline, "mariadbd did not answer in 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the server (SIGTERM: a clean shutdown) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "-CONT");
            signal(child.id(), "-TERM");
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open and nothing answers.
    pub fn pause(&self) {
        signal(self.child.as_ref().expect("started").id(), "-STOP");
    }

    pub fn resume(&self) {
        signal(self.child.as_ref().expect("started").id(), "-CONT");
    }

    /// A new database on this server; returns its URL.
    pub fn create_database(&self, name: &str) -> String {
        MysqlConnection::establish(&self.url("mysql"))
            .expect("connect")
            .batch_execute(&format!(
                "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"
            ))
            .expect("create database");
        self.url(name)
    }
}

impl Drop for OwnMariadb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), "-CONT");
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

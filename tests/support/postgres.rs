//! A real PostgreSQL for tests: initdb and pg_ctl in a temporary folder, listening on a free
//! loopback port with SCRAM authentication over TCP and trust on its private unix socket. When
//! the tests run as root (as CI does) the server runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

pub const SUPERUSER: &str = "postgres";
pub const SUPERUSER_PASSWORD: &str = "pg-test-superuser-pw-7d1f";

pub struct Postgres {
    pub dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    max_connections: u32,
}

/// The server's connection limit for every test but the load test.
const MAX_CONNECTIONS: u32 = 60;

/// The newest installed server's bin folder.
pub fn bin_dir() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian package `postgresql`)")
        .map(|e| e.unwrap().path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
    });
    dirs.pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

impl Postgres {
    pub fn start() -> Postgres {
        Postgres::start_with_max_connections(MAX_CONNECTIONS)
    }

    /// A server that accepts `max_connections` clients (the load test opens hundreds).
    pub fn start_with_max_connections(max_connections: u32) -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("guard-pg-")
            .tempdir()
            .unwrap();
        if super::is_root() {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(dir.path()));
        }
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
        if super::is_root() {
            run(Command::new("chown").arg("postgres").arg(&pwfile));
        }
        let port = super::free_port();
        let pg = Postgres {
            dir,
            port,
            bin,
            max_connections,
        };
        pg.as_server(&pg.bin.join("initdb"))
            .args([
                "-U",
                SUPERUSER,
                "-A",
                "scram-sha-256",
                "--auth-local=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ])
            .arg("--pwfile")
            .arg(&pwfile)
            .arg("-D")
            .arg(&data)
            .status_ok();
        pg.start_again();
        pg
    }

    fn server_options(&self) -> String {
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections={}",
            self.port,
            self.dir.path().display(),
            self.max_connections
        )
    }

    fn as_server(&self, program: &Path) -> Command {
        if super::is_root() {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        }
    }

    /// Runs SQL as the superuser over the unix socket and returns psql's unaligned output.
    pub fn sql(&self, sql: &str) -> String {
        self.sql_in("postgres", sql)
    }

    /// `sql` in another database.
    pub fn sql_in(&self, database: &str, sql: &str) -> String {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.dir.path())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                SUPERUSER,
                "-d",
                database,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server at once; `start_again` brings it back on the same port.
    pub fn stop(&self) {
        self.as_server(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .status_ok();
    }

    /// Starts the server (again, after `stop`) on its port, with its settings.
    pub fn start_again(&self) {
        let opts = self.server_options();
        self.as_server(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "start"])
            .status_ok();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self
            .as_server(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

trait StatusOk {
    fn status_ok(&mut self);
}

impl StatusOk for Command {
    fn status_ok(&mut self) {
        let out = self.output().unwrap();
        assert!(
            out.status.success(),
            "{:?} failed: {}{}",
            self,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run(cmd: &mut Command) {
    cmd.status_ok();
}

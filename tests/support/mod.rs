//! Shared fixtures for the integration tests: the real guard binary with a private data folder,
//! a real PostgreSQL server in a temporary folder on a free loopback port, and a real OpenBao
//! dev server beside it.
#![allow(dead_code)]

pub mod bao;
pub mod fixture;
pub mod postgres;
pub mod term;
pub mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A private GUARD_HOME and a way to run guard with it.
pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Self {
        Home {
            dir: tempfile::Builder::new()
                .prefix("guard-home-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `guard` with GUARD_HOME set and no configuration picked up from the caller.
    pub fn guard(&self) -> Command {
        let mut cmd = Command::new(bin());
        cmd.env("GUARD_HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env_remove("GUARD_CONFIG")
            .current_dir(self.path());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.guard().args(args).output().unwrap()
    }

    /// `guard -q -c <config> -- sh -c <script>` with stdin closed, and `secret` (a variable name
    /// and value) in guard's own environment, where the configuration reads a credential from.
    pub fn run_script(&self, config: &Path, script: &str, secret: (&str, &str)) -> Output {
        self.guard()
            .args(["-q", "-c"])
            .arg(config)
            .args(["--", "sh", "-c", script])
            .env(secret.0, secret.1)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// The records of the newest session's transcript.
    pub fn last_records(&self) -> Vec<serde_json::Value> {
        records_in(&self.last_session())
    }

    /// The folder of the only (or newest) session.
    pub fn last_session(&self) -> PathBuf {
        let mut ids: Vec<_> = std::fs::read_dir(self.path().join("sessions"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        ids.sort();
        ids.pop().expect("a session folder")
    }
}

/// The records of the transcript in a session folder (none if it has no transcript); every line
/// must parse.
pub fn records_in(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("transcript.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every transcript line parses"))
        .collect()
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_guard"))
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no side effects.
    unsafe { libc::geteuid() == 0 }
}

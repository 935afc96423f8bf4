//! `guard init` asks in a real terminal (driven through tmux), writes a configuration that
//! `guard doctor` accepts, and refuses to hang without a terminal.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::postgres::{Postgres, SUPERUSER_PASSWORD};
use support::{Home, stderr};

struct Tmux(std::path::PathBuf);

impl Tmux {
    fn send(&self, keys: &[&str]) {
        std::thread::sleep(Duration::from_millis(300));
        let status = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .arg("send-keys")
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .args(["capture-pane", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.0)
            .arg("kill-server")
            .output();
    }
}

#[test]
fn init_in_a_terminal_writes_a_config_doctor_accepts() {
    let pg = Postgres::start();
    let home = Home::new();
    let tmux = Tmux(home.path().join("tmux.sock"));
    let run = format!(
        "cd {} && env -u VAULT_ADDR -u BAO_ADDR GUARD_HOME={} {} init; echo INIT-EXIT=$?; sleep 60",
        home.path().display(),
        home.path().display(),
        support::bin().display()
    );
    let started = Command::new("tmux")
        .arg("-S")
        .arg(&tmux.0)
        .args([
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "100",
            "-y",
            "30",
            "sh",
            "-c",
            &run,
        ])
        .status()
        .expect("tmux is installed");
    assert!(started.success());
    tmux.send(&["Enter"]); // no broker
    tmux.send(&["Enter"]); // a PostgreSQL database
    tmux.send(&["Enter"]); // name: shop
    tmux.send(&[&pg.addr(), "Enter"]);
    tmux.send(&["postgres", "Enter"]);
    tmux.send(&["Down", "Down", "Down", "Enter"]); // tls: disable
    tmux.send(&["postgres", "Enter"]);
    tmux.send(&["Enter"]); // SHOP_PASSWORD
    tmux.send(&["Enter"]); // SHOP_DATABASE_URL
    tmux.send(&["Down", "Down", "Enter"]); // done
    let deadline = Instant::now() + Duration::from_secs(10);
    while !tmux.screen().contains("INIT-EXIT=") {
        assert!(
            Instant::now() < deadline,
            "init did not finish:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(tmux.screen().contains("INIT-EXIT=0"), "{}", tmux.screen());
    let config = std::fs::read_to_string(home.path().join("guard.toml")).unwrap();
    assert!(
        config.contains("password_env = \"SHOP_PASSWORD\""),
        "{config}"
    );
    let doctor = home
        .guard()
        .args(["doctor"])
        .env("SHOP_PASSWORD", SUPERUSER_PASSWORD)
        .env_remove("VAULT_ADDR")
        .env_remove("BAO_ADDR")
        .output()
        .unwrap();
    assert!(
        doctor.status.success(),
        "doctor: {}{}",
        support::stdout(&doctor),
        stderr(&doctor)
    );
}

#[test]
fn init_without_a_terminal_refuses_with_a_hint() {
    let home = Home::new();
    let out = home
        .guard()
        .arg("init")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("needs a terminal"));
    assert!(stderr(&out).contains("hint: "));
}

//! `guard init` asks in a real terminal (driven through tmux), writes a configuration that
//! `guard doctor` accepts, and refuses to hang without a terminal.

mod support;

use std::time::Duration;

use support::postgres::{Postgres, SUPERUSER_PASSWORD};
use support::tmux::Tmux;
use support::{Home, stderr};

#[test]
fn init_in_a_terminal_writes_a_config_doctor_accepts() {
    let pg = Postgres::start();
    let home = Home::new();
    let line = format!(
        "unset VAULT_ADDR BAO_ADDR; {}",
        Tmux::guard_line(&home, "init")
    );
    let tmux = Tmux::run(&home, (100, 30), &line);
    keys(&tmux, &["Enter"]); // no broker
    keys(&tmux, &["Enter"]); // a PostgreSQL database
    keys(&tmux, &["Enter"]); // name: shop
    keys(&tmux, &[&pg.addr(), "Enter"]);
    keys(&tmux, &["postgres", "Enter"]);
    keys(&tmux, &["Down", "Down", "Down", "Enter"]); // tls: disable
    keys(&tmux, &["postgres", "Enter"]);
    keys(&tmux, &["Enter"]); // SHOP_PASSWORD
    keys(&tmux, &["Enter"]); // SHOP_DATABASE_URL
    keys(&tmux, &["Down", "Down", "Enter"]); // done
    let screen = tmux.expect("GUARD-EXIT=");
    assert!(screen.contains("GUARD-EXIT=0"), "{screen}");
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

/// Presses keys one prompt at a time: each answer waits for its question to be drawn.
fn keys(tmux: &Tmux, keys: &[&str]) {
    std::thread::sleep(Duration::from_millis(300));
    tmux.keys(keys);
}

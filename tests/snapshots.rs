//! What guard prints about a session, pinned: a session with fixed ids and times (written by the
//! test) rendered by `show`, `export --format markdown` and `export --format json`.

mod support;

use support::{Home, fixture, stdout};

#[test]
fn show_of_a_recorded_session() {
    let home = Home::new();
    fixture::write_session(home.path());
    let out = home.run(&["show", "last"]);
    assert!(out.status.success());
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn markdown_export_of_a_recorded_session() {
    let home = Home::new();
    fixture::write_session(home.path());
    let out = home.run(&["export", "20261127T0615"]);
    assert!(out.status.success(), "a unique prefix resolves");
    insta::assert_snapshot!(stdout(&out));
}

#[test]
fn json_export_of_a_recorded_session() {
    let home = Home::new();
    fixture::write_session(home.path());
    let out = home.run(&["export", "last", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["records"].as_array().unwrap().len(), 15);
    insta::assert_snapshot!(stdout(&out));
}

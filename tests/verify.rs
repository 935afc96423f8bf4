//! `guard verify` passes an intact session and names the first problem in an altered one.

mod support;

use std::path::{Path, PathBuf};

use support::{Home, stderr};

fn recorded(home: &Home) -> PathBuf {
    let script = "for i in 1 2 3; do echo line $i; done";
    assert!(home.run(&["-q", "--", "sh", "-c", script]).status.success());
    home.last_session()
}

fn verify(home: &Home) -> (i32, String) {
    let out = home.run(&["verify", "last"]);
    (out.status.code().unwrap(), stderr(&out))
}

fn edit(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn an_intact_session_verifies() {
    let home = Home::new();
    recorded(&home);
    let out = home.run(&["verify", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(support::stdout(&out).contains("intact"));
}

#[test]
fn one_edited_byte_fails() {
    let home = Home::new();
    let dir = recorded(&home);
    edit(&dir.join("transcript.jsonl"), |b| {
        // The `cwd` of the first record: still valid JSON, different bytes.
        let at = b.windows(6).position(|w| w == b"\"cwd\":").unwrap() + 8;
        b[at] ^= 0x01;
    });
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("line 2"), "{err}");
}

#[test]
fn a_removed_line_fails() {
    let home = Home::new();
    let dir = recorded(&home);
    // Add a record in the middle first so there is a line to take out that is not the end.
    let path = dir.join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    std::fs::write(&path, format!("{}\n", lines[1])).unwrap();
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("line 1"), "{err}");
}

#[test]
fn a_truncated_transcript_fails() {
    let home = Home::new();
    let dir = recorded(&home);
    edit(&dir.join("transcript.jsonl"), |b| b.truncate(b.len() - 20));
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("incomplete"), "{err}");
}

#[test]
fn a_dropped_last_record_fails() {
    let home = Home::new();
    let dir = recorded(&home);
    edit(&dir.join("transcript.jsonl"), |b| {
        let cut = b[..b.len() - 1].iter().rposition(|&c| c == b'\n').unwrap() + 1;
        b.truncate(cut);
    });
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("no session_end"), "{err}");
}

#[test]
fn an_altered_recording_fails() {
    let home = Home::new();
    let dir = recorded(&home);
    edit(&dir.join("session.cast"), |b| {
        let at = b.windows(6).position(|w| w == b"line 2").unwrap();
        b[at + 5] = b'9';
    });
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("session.cast"), "{err}");
}

#[test]
fn sessions_resolve_by_prefix_and_refuse_unknown_ones() {
    let home = Home::new();
    let dir = recorded(&home);
    let id = dir.file_name().unwrap().to_str().unwrap().to_string();
    assert!(home.run(&["verify", &id[..12]]).status.success());
    assert!(home.run(&["verify", &id]).status.success());
    let out = home.run(&["verify", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no session matches `nope`"));
    assert!(stderr(&out).contains("hint: "));
}

#[test]
fn an_edited_decision_fails() {
    let home = Home::new();
    let dir = support::fixture::write_session(home.path());
    let path = dir.join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen("\"decision\":\"deny\"", "\"decision\":\"allow\"", 1),
    )
    .unwrap();
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(
        err.contains("transcript.jsonl line 7") && err.contains("altered"),
        "{err}"
    );
}

#[test]
fn a_swapped_pair_of_records_fails() {
    let home = Home::new();
    let dir = support::fixture::write_session(home.path());
    let path = dir.join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(3, 4);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn a_truncated_cast_fails() {
    let home = Home::new();
    let dir = support::fixture::write_session(home.path());
    edit(&dir.join("session.cast"), |b| b.truncate(b.len() - 7));
    let (code, err) = verify(&home);
    assert_eq!(code, 1);
    assert!(
        err.contains("session.cast") && err.contains("truncated"),
        "{err}"
    );
}

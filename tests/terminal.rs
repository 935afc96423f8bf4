//! guard runs a command under a pseudo-terminal, relays it both ways, passes its exit code on,
//! restores the terminal on every way out, and leaves a recording and a verifiable transcript.

mod support;

use std::process::Stdio;
use std::time::Duration;

use support::term::Term;
use support::{Home, stderr, stdout};

fn transcript(home: &Home) -> Vec<serde_json::Value> {
    home.last_records()
}

#[test]
fn the_child_sees_a_terminal_of_guards_size() {
    let home = Home::new();
    let mut term = Term::spawn(
        &home,
        &[
            "-q",
            "--",
            "sh",
            "-c",
            "stty size; test -t 0 && test -t 1 && echo IS-A-TTY",
        ],
        (100, 30),
        &[],
    );
    assert_eq!(term.wait(), 0);
    let screen = term.output();
    assert!(screen.contains("30 100"), "{screen}");
    assert!(screen.contains("IS-A-TTY"), "{screen}");
}

#[test]
fn a_resize_reaches_the_child_and_the_recording() {
    let home = Home::new();
    let script = "stty size; echo READY; read line; stty size";
    let mut term = Term::spawn(&home, &["-q", "--", "sh", "-c", script], (80, 24), &[]);
    term.expect("READY");
    term.resize(132, 43);
    std::thread::sleep(Duration::from_millis(300));
    term.send(b"\r");
    assert_eq!(term.wait(), 0);
    assert!(term.output().contains("43 132"), "{}", term.output());
    let cast = std::fs::read_to_string(home.last_session().join("session.cast")).unwrap();
    assert!(cast.contains(r#""r", "132x43""#), "{cast}");
}

#[test]
fn raw_mode_while_running_and_restored_after() {
    let home = Home::new();
    let mut term = Term::spawn(
        &home,
        &["-q", "--", "sh", "-c", "echo READY; read x"],
        (80, 24),
        &[],
    );
    term.expect("READY");
    assert_eq!(
        term.lflag() & (libc::ICANON | libc::ECHO),
        0,
        "guard's terminal is raw while the child runs"
    );
    term.send(b"\r");
    assert_eq!(term.wait(), 0);
    assert_ne!(term.lflag() & libc::ICANON, 0, "canonical mode is back");
    assert_ne!(term.lflag() & libc::ECHO, 0, "echo is back");
}

#[test]
fn exit_codes_are_the_childs() {
    let home = Home::new();
    let code = |args: &[&str]| home.run(args).status.code().unwrap();
    assert_eq!(code(&["-q", "--", "true"]), 0);
    assert_eq!(code(&["-q", "--", "sh", "-c", "exit 3"]), 3);
    assert_eq!(code(&["-q", "--", "sh", "-c", "kill -TERM $$"]), 128 + 15);
    assert_eq!(code(&["-q", "--", "no-such-command-here"]), 127);
    assert_eq!(code(&["run", "-q", "--", "sh", "-c", "exit 4"]), 4);
}

#[test]
fn not_found_and_not_executable_say_so() {
    let home = Home::new();
    let out = home.run(&["-q", "--", "no-such-command-here"]);
    assert_eq!(out.status.code(), Some(127));
    assert!(
        stderr(&out).starts_with("guard: command not found: no-such-command-here\nhint: "),
        "{}",
        stderr(&out)
    );
    let file = home.path().join("data.txt");
    std::fs::write(&file, "not a program").unwrap();
    let out = home.run(&["-q", "--", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(126));
    assert!(stderr(&out).contains("cannot execute"), "{}", stderr(&out));
}

#[test]
fn a_usage_error_exits_2() {
    let home = Home::new();
    assert_eq!(home.run(&[]).status.code(), Some(2));
    assert_eq!(
        home.run(&["--no-such-flag", "--", "true"]).status.code(),
        Some(2)
    );
    assert_eq!(
        home.run(&["--approval-timeout", "soon", "--", "true"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn piped_stdin_is_relayed_and_its_end_reaches_the_child() {
    let home = Home::new();
    let mut child = home
        .guard()
        .args(["-q", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"first line\nsecond line")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    // No echo without a terminal: each line comes back once.
    assert_eq!(
        stdout(&out).replace("\r\n", "\n"),
        "first line\nsecond line"
    );
}

#[test]
fn a_child_reading_dev_null_sees_end_of_file() {
    let home = Home::new();
    let out = home
        .guard()
        .args(["-q", "--", "sh", "-c", "read x || echo EOF-SEEN"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("EOF-SEEN"));
}

#[test]
fn multibyte_output_survives_in_the_terminal_and_the_cast() {
    let home = Home::new();
    // Enough text that reads split it at arbitrary bytes.
    let line = "naïve café — 日本語テキスト — 🎉🚀 ".repeat(40);
    let script = format!("for i in $(seq 1 200); do printf '%s\\n' '{line}'; done");
    let out = home.run(&["-q", "--", "sh", "-c", &script]);
    assert_eq!(out.status.code(), Some(0));
    let printed = stdout(&out);
    assert!(!printed.contains('\u{FFFD}'));
    assert_eq!(printed.matches("🎉🚀").count(), 200 * 40);
    let cast = home.last_session().join("session.cast");
    let played = support::term::run_in_pty("asciinema", &["cat", cast.to_str().unwrap()]);
    assert_eq!(played.matches("🎉🚀").count(), 200 * 40);
    assert!(!played.contains('\u{FFFD}'));
}

#[test]
fn asciinema_plays_back_what_the_child_printed() {
    let home = Home::new();
    let out = home.run(&[
        "-q",
        "-n",
        "demo-run",
        "--",
        "sh",
        "-c",
        "echo hello from the child; printf 'bye\\n'",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let cast = home.last_session().join("session.cast");
    let played = support::term::run_in_pty("asciinema", &["cat", cast.to_str().unwrap()]);
    assert_eq!(played.replace("\r\n", "\n"), "hello from the child\nbye\n");
    let header: serde_json::Value = serde_json::from_str(
        std::fs::read_to_string(&cast)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["version"], 2);
    assert_eq!(header["title"], "demo-run");
}

#[test]
fn keystrokes_are_recorded_only_when_asked() {
    let home = Home::new();
    for (flag, recorded) in [(None, false), (Some("--record-input"), true)] {
        let mut args = vec!["-q"];
        args.extend(flag);
        args.extend(["--", "sh", "-c", "echo READY; read secret; echo done"]);
        let mut term = Term::spawn(&home, &args, (80, 24), &[]);
        term.expect("READY");
        term.send(b"typed-words\r");
        assert_eq!(term.wait(), 0);
        let cast = std::fs::read_to_string(home.last_session().join("session.cast")).unwrap();
        assert_eq!(cast.contains(r#""i", "typed-words"#), recorded, "{cast}");
        std::fs::remove_dir_all(home.last_session()).unwrap();
    }
}

#[test]
fn no_cast_writes_only_the_transcript() {
    let home = Home::new();
    let out = home.run(&["-q", "--no-cast", "--", "echo", "hi"]);
    assert_eq!(out.status.code(), Some(0));
    let dir = home.last_session();
    assert!(!dir.join("session.cast").exists());
    assert!(home.run(&["verify", "last"]).status.success());
}

#[test]
fn credentials_never_reach_the_child_or_the_records() {
    let home = Home::new();
    let secrets = [
        ("GITHUB_TOKEN", "ghp-value-aaaaaaaaaaaa"),
        ("DB_PASSWORD", "db-password-value-bbbb"),
        ("MY_SECRET_KEY", "my-secret-value-cccc"),
        ("STRIPE_API_KEY", "stripe-value-dddd"),
        ("PGPASSWORD", "pgpassword-value-eeee"),
        ("VAULT_TOKEN", "vault-token-value-ffff"),
        ("GUARD_BROKER_TOKEN", "broker-token-value-gggg"),
        ("AWS_SECRET_ACCESS_KEY", "aws-secret-value-hhhh"),
        ("SHOP_URL", "postgres://app:url-password-iiii@db/shop"),
        ("TMUX", "/tmp/tmux-0/default-jjjj,1,0"),
        ("STY", "12345.pts-0.host-kkkk"),
        ("ZELLIJ_SESSION_NAME", "zellij-llll"),
        ("SSH_AUTH_SOCK", "/tmp/ssh-agent-mmmm"),
    ];
    let mut cmd = home.guard();
    cmd.args(["-q", "--", "env"])
        .env("ANTHROPIC_API_KEY", "model-key-stays");
    for (k, v) in secrets {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let env = stdout(&out);
    assert!(
        env.contains("ANTHROPIC_API_KEY=model-key-stays"),
        "the agent's own key stays"
    );
    assert!(env.contains("GUARD_SESSION_ID="));
    for (name, value) in secrets {
        assert!(!env.contains(value), "{name} reached the child");
    }
    let dir = home.last_session();
    for file in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        for (name, value) in secrets {
            assert!(!text.contains(value), "{name}'s value is in a session file");
        }
    }
    let start = &transcript(&home)[0];
    let removed: Vec<&str> = start["env_removed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (name, _) in secrets {
        assert!(
            removed.contains(&name),
            "{name} is listed as removed: {removed:?}"
        );
    }
}

#[test]
fn session_files_are_private_and_complete() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let out = home.run(&["-q", "-n", "label", "--", "sh", "-c", "exit 5"]);
    assert_eq!(out.status.code(), Some(5));
    let dir = home.last_session();
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for name in ["session.json", "session.cast", "transcript.jsonl"] {
        let mode = std::fs::metadata(dir.join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("session.json")).unwrap()).unwrap();
    assert_eq!(meta["exit_code"], 5);
    assert_eq!(meta["name"], "label");
    let id = dir.file_name().unwrap().to_str().unwrap();
    assert_eq!(meta["id"], id);
    assert!(
        id.len() == 23 && id.as_bytes()[8] == b'T' && id.as_bytes()[15] == b'Z',
        "{id}"
    );
    let records = transcript(&home);
    assert_eq!(records[0]["type"], "session_start");
    assert_eq!(records.last().unwrap()["type"], "session_end");
    assert_eq!(records.last().unwrap()["exit_code"], 5);
    assert_eq!(meta["transcript_sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn sigterm_ends_the_child_restores_the_terminal_and_seals_the_records() {
    let home = Home::new();
    let pidfile = home.path().join("child.pid");
    let script = format!(
        "echo $$ > {}; echo READY; exec sleep 100",
        pidfile.display()
    );
    let mut term = Term::spawn(&home, &["-q", "--", "sh", "-c", &script], (80, 24), &[]);
    term.expect("READY");
    let child: i32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the guard process this test started.
    unsafe { libc::kill(term.pid(), libc::SIGTERM) };
    assert_eq!(term.wait(), 128 + 15);
    // SAFETY: signal 0 only checks whether the process still exists.
    assert_ne!(unsafe { libc::kill(child, 0) }, 0, "the child is gone");
    assert_ne!(term.lflag() & libc::ICANON, 0, "the terminal is restored");
    let verify = home.run(&["verify", "last"]);
    assert!(verify.status.success(), "{}", stderr(&verify));
    let end = transcript(&home).pop().unwrap();
    assert_eq!(end["stopped_by_signal"], libc::SIGTERM);
}

#[test]
fn sighup_ends_a_child_that_ignores_sigterm() {
    let home = Home::new();
    let script = "trap '' TERM; echo READY; while :; do sleep 1; done";
    let mut term = Term::spawn(&home, &["-q", "--", "sh", "-c", script], (80, 24), &[]);
    term.expect("READY");
    // SAFETY: signalling the guard process this test started.
    unsafe { libc::kill(term.pid(), libc::SIGHUP) };
    let code = term.wait();
    assert!(
        code == 128 + libc::SIGHUP || code == 128 + libc::SIGKILL,
        "exit {code}"
    );
    assert_ne!(term.lflag() & libc::ICANON, 0);
    assert!(home.run(&["verify", "last"]).status.success());
}

#[test]
fn a_child_killed_from_outside_gives_128_plus_the_signal() {
    let home = Home::new();
    let out = home.run(&["-q", "--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(out.status.code(), Some(128 + 9));
    assert!(home.run(&["verify", "last"]).status.success());
}

#[test]
fn sessions_lists_newest_first() {
    let home = Home::new();
    home.run(&["-q", "-n", "first", "--", "true"]);
    std::thread::sleep(Duration::from_millis(1100));
    home.run(&["-q", "-n", "second", "--", "true"]);
    let out = home.run(&["sessions", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "second");
    assert_eq!(list[1]["name"], "first");
    let table = stdout(&home.run(&["sessions"]));
    assert!(
        table.find("second").unwrap() < table.find("first").unwrap(),
        "{table}"
    );
}

#[test]
fn sigint_to_guard_reaches_the_child_and_guard_ends_with_it() {
    let home = Home::new();
    let mut term = Term::spawn(
        &home,
        &["-q", "--", "sh", "-c", "echo READY; exec sleep 100"],
        (80, 24),
        &[],
    );
    term.expect("READY");
    // SAFETY: signalling the guard process this test started.
    unsafe { libc::kill(term.pid(), libc::SIGINT) };
    assert_eq!(term.wait(), 128 + libc::SIGINT);
    assert_ne!(term.lflag() & libc::ICANON, 0, "the terminal is restored");
    assert!(home.run(&["verify", "last"]).status.success());
}

#[test]
fn the_recording_and_the_transcript_hold_no_value_the_masker_masks() {
    let home = Home::new();
    let script = "echo 'contact bob@example.com card 4111 1111 1111 1111'; echo 'ssn 123-45-6789'";
    let out = home.run(&["-q", "--", "sh", "-c", script]);
    assert!(
        stdout(&out).contains("bob@example.com"),
        "the human's own screen is not touched"
    );
    let dir = home.last_session();
    let cast = std::fs::read_to_string(dir.join("session.cast")).unwrap();
    assert!(
        cast.contains("b***@example.com") && cast.contains("**** **** **** 1111"),
        "{cast}"
    );
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for raw in ["bob@example.com", "4111 1111 1111 1111", "123-45-6789"] {
            assert!(!text.contains(raw), "{raw} is in a session file");
        }
    }
    assert!(home.run(&["verify", "last"]).status.success());
}

//! guard inside a real terminal multiplexer, as a person runs it: tmux types, resizes and reads
//! the screen. Also proves the child cannot reach the human's tmux.

mod support;

use std::path::Path;
use std::time::Duration;

use support::tmux::Tmux;

/// Runs `guard -q -- <command>` in an 80x24 window.
fn start(home: &support::Home, command: &str) -> Tmux {
    Tmux::run(
        home,
        (80, 24),
        &Tmux::guard_line(home, &format!("-q -- {command}")),
    )
}

fn script(path: &Path, text: &str) -> String {
    std::fs::write(path, text).unwrap();
    format!("sh {}", path.display())
}

#[test]
fn a_tmux_resize_reaches_the_child() {
    let home = support::Home::new();
    let run = script(
        &home.path().join("size.sh"),
        "stty size; echo READY; read x; echo \"now $(stty size)\"\n",
    );
    let tmux = start(&home, &run);
    tmux.expect("READY");
    tmux.cmd(&["resize-window", "-x", "120", "-y", "40"]);
    std::thread::sleep(Duration::from_millis(300));
    tmux.cmd(&["send-keys", "Enter"]);
    let screen = tmux.expect("GUARD-EXIT=0");
    assert!(screen.contains("24 80"), "{screen}");
    assert!(screen.contains("now 40 120"), "{screen}");
}

#[test]
fn the_child_cannot_see_the_humans_tmux() {
    let home = support::Home::new();
    let run = script(
        &home.path().join("env.sh"),
        "echo \"tmux=[$TMUX] pane=[$TMUX_PANE]\"\n",
    );
    let tmux = start(&home, &run);
    let screen = tmux.expect("GUARD-EXIT=0");
    assert!(screen.contains("tmux=[] pane=[]"), "{screen}");
}

#[test]
fn typed_keys_reach_the_child_and_the_prompt_comes_back() {
    let home = support::Home::new();
    let tmux = start(&home, "sh");
    std::thread::sleep(Duration::from_millis(300));
    tmux.cmd(&["send-keys", "echo typed-$((6*7))", "Enter"]);
    tmux.expect("typed-42");
    tmux.cmd(&["send-keys", "exit 7", "Enter"]);
    tmux.expect("GUARD-EXIT=7");
}

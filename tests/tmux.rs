//! guard inside a real terminal multiplexer, as a person runs it: tmux types, resizes and reads
//! the screen. Also proves the child cannot reach the human's tmux.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(home: &support::Home, command: &str) -> Tmux {
        let socket = home.path().join("tmux.sock");
        let tmux = Tmux { socket };
        let shell = format!(
            "GUARD_HOME={} {} -q -- {command}; echo GUARD-EXIT=$?; sleep 30",
            home.path().display(),
            support::bin().display()
        );
        tmux.cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            &shell,
        ]);
        tmux
    }

    fn cmd(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux is installed");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p"])
    }

    fn expect(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {needle:?}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
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
    let tmux = Tmux::start(&home, &run);
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
    let tmux = Tmux::start(&home, &run);
    let screen = tmux.expect("GUARD-EXIT=0");
    assert!(screen.contains("tmux=[] pane=[]"), "{screen}");
}

#[test]
fn typed_keys_reach_the_child_and_the_prompt_comes_back() {
    let home = support::Home::new();
    let tmux = Tmux::start(&home, "sh");
    std::thread::sleep(Duration::from_millis(300));
    tmux.cmd(&["send-keys", "echo typed-$((6*7))", "Enter"]);
    tmux.expect("typed-42");
    tmux.cmd(&["send-keys", "exit 7", "Enter"]);
    tmux.expect("GUARD-EXIT=7");
}

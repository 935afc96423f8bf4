//! guard in a real terminal multiplexer, as a person runs it: tmux starts it in a detached
//! window of a chosen size, types into it and reads the screen back.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

pub struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    /// Runs `sh -c line` in a detached `cols`x`rows` window on a server of its own.
    pub fn run(home: &super::Home, size: (u16, u16), line: &str) -> Tmux {
        let tmux = Tmux {
            socket: home.path().join("tmux.sock"),
        };
        let (cols, rows) = (size.0.to_string(), size.1.to_string());
        tmux.cmd(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &cols,
            "-y",
            &rows,
            "sh",
            "-c",
            line,
        ]);
        tmux
    }

    /// A line that runs guard with GUARD_HOME set in `home` and then prints `GUARD-EXIT=<code>`.
    pub fn guard_line(home: &super::Home, args: &str) -> String {
        format!(
            "cd {home} && GUARD_HOME={home} {bin} {args}; echo GUARD-EXIT=$?; sleep 60",
            home = home.path().display(),
            bin = super::bin().display()
        )
    }

    pub fn cmd(&self, args: &[&str]) -> String {
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

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p"])
    }

    /// Presses keys by tmux's names (`Enter`, `Down`, `y`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Types text literally.
    pub fn send(&self, text: &str) {
        self.cmd(&["send-keys", "-l", text]);
    }

    /// Waits until `done` holds for the screen; panics with the screen after 15 s.
    pub fn wait(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let screen = self.screen();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn expect(&self, needle: &str) -> String {
        self.wait(needle, |s| s.contains(needle))
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

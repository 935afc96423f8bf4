//! guard under a real pseudo-terminal opened by the test, as a human's terminal would run it:
//! the test types into it, resizes it, reads the screen bytes and checks its terminal modes.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};

pub struct Term {
    pub master: Box<dyn MasterPty + Send>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Term {
    /// Starts `guard <args>` with the home's environment under a `cols`x`rows` terminal.
    pub fn spawn(
        home: &super::Home,
        args: &[&str],
        size: (u16, u16),
        env: &[(&str, &str)],
    ) -> Term {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows: size.1,
                cols: size.0,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(super::bin());
        cmd.args(args);
        cmd.cwd(home.path());
        cmd.env("GUARD_HOME", home.path());
        cmd.env("XDG_CONFIG_HOME", home.path().join("config"));
        cmd.env_remove("GUARD_CONFIG");
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Term {
            master: pair.master,
            writer,
            child,
            output,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.process_id().unwrap() as i32
    }

    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Waits until the screen bytes contain `needle`; panics with what was seen after 10 s.
    pub fn expect(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.output().contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("timed out waiting for {needle:?}; saw:\n{}", self.output());
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).unwrap();
        self.writer.flush().unwrap();
    }

    pub fn resize(&self, cols: u16, rows: u16) {
        self.master
            .resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
    }

    /// guard's exit code (the child's, 128+N for a signal), waiting at most 15 s.
    pub fn wait(&mut self) -> i32 {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.exit_code() as i32;
            }
            assert!(
                Instant::now() < deadline,
                "guard did not exit; screen:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The terminal's local modes as guard left them (or set them).
    pub fn lflag(&self) -> libc::tcflag_t {
        let fd = self.master.as_raw_fd().unwrap();
        // SAFETY: tcgetattr fills a termios we own, from a descriptor we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut t), 0);
            t.c_lflag
        }
    }
}

/// Runs `program args` under a fresh pseudo-terminal (for tools such as `asciinema cat` that
/// insist on one) and returns everything it printed once it exits.
pub fn run_in_pty(program: &str, args: &[&str]) -> String {
    let pair = native_pty_system()
        .openpty(PtySize {
            rows: 50,
            cols: 200,
            pixel_width: 0,
            pixel_height: 0,
        })
        .unwrap();
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    let mut child = pair.slave.spawn_command(cmd).unwrap();
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader().unwrap();
    let collector = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = reader.read_to_end(&mut out);
        out
    });
    let status = child.wait().unwrap();
    drop(pair.master);
    let out = String::from_utf8_lossy(&collector.join().unwrap()).into_owned();
    assert!(status.success(), "{program} failed: {out}");
    out
}

impl Drop for Term {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

//! Load on one session's PostgreSQL gateway: 200 pgbench clients at once for a minute through a
//! single guard, with no client error, and no file descriptor or thread of guard's left behind
//! once they have all disconnected.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::postgres::{Postgres, SUPERUSER, SUPERUSER_PASSWORD};

const CLIENTS: u32 = 200;
const SECONDS: u64 = 60;
/// The clients, guard's own side connections and the superuser's, with room to spare.
const MAX_CONNECTIONS: u32 = 250;
/// How long guard may take to give back what the load used. Tokio ends an idle blocking-pool
/// thread (upstream SCRAM key derivation runs on them) after 10 s.
const SETTLE: Duration = Duration::from_secs(20);

/// What a leak would grow: guard's open descriptors and its threads.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Held {
    fds: usize,
    tasks: usize,
}

fn held(pid: u32) -> Held {
    // guard makes itself non-dumpable, so only root may list its descriptors; CI runs as root.
    let count = |what: &str| {
        std::fs::read_dir(format!("/proc/{pid}/{what}"))
            .unwrap_or_else(|e| panic!("/proc/{pid}/{what}: {e} (this test runs as root)"))
            .count()
    };
    Held {
        fds: count("fd"),
        tasks: count("task"),
    }
}

/// Waits for `path` to exist; panics with `what` after `timeout`.
fn wait_for_file(path: &Path, timeout: Duration, what: &str) {
    let deadline = Instant::now() + timeout;
    while !path.exists() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Polls until guard holds no more than `baseline`; returns what it held last.
fn settle(pid: u32, baseline: Held) -> Held {
    let deadline = Instant::now() + SETTLE;
    loop {
        let now = held(pid);
        if (now.fds <= baseline.fds && now.tasks <= baseline.tasks) || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The command guard runs: tells the test guard's pid (its parent), warms up with one client
/// (the first connection sets up what the session keeps, such as the masker's side connection),
/// then runs the load between the test's signals.
fn child_script(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "echo $PPID > {d}/guard.pid
         pgbench -n -S -c 1 -t 50 \"$BENCH_DATABASE_URL\" > {d}/warm.log 2>&1 || exit 3
         touch {d}/warm; while [ ! -e {d}/go ]; do sleep 0.1; done
         pgbench -n -S -c {CLIENTS} -j 2 -T {SECONDS} \"$BENCH_DATABASE_URL\" > {d}/load.log 2>&1
         echo $? > {d}/load.rc
         touch {d}/loaded; while [ ! -e {d}/done ]; do sleep 0.1; done"
    )
}

fn prepare(pg: &Postgres, home: &support::Home) -> PathBuf {
    pg.sql("create database bench");
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "1", "-h"])
        .arg(pg.dir.path())
        .args(["-p", &pg.port.to_string(), "-U", SUPERUSER, "bench"])
        .output()
        .expect("pgbench is installed (Debian package postgresql)");
    assert!(init.status.success(), "{}", support::stderr(&init));
    let config = home.path().join("guard.toml");
    let text = format!(
        "[[target]]\nname = \"bench\"\nkind = \"postgres\"\nupstream = \"{}\"\n\
         database = \"bench\"\ntls = \"disable\"\n\
         credentials = {{ username = \"{SUPERUSER}\", password_env = \"BENCH_PW\" }}\n",
        pg.addr()
    );
    std::fs::write(&config, text).unwrap();
    config
}

/// guard running the child script; on drop (a failed assertion too) the script is let through
/// to its end and guard is killed if it is still there.
struct Session {
    guard: Child,
    dir: PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::write(self.dir.join("go"), "");
        let _ = std::fs::write(self.dir.join("done"), "");
        let _ = self.guard.kill();
        let _ = self.guard.wait();
    }
}

fn assert_load_ran(dir: &Path) {
    let log = std::fs::read_to_string(dir.join("load.log")).unwrap();
    eprintln!("{log}");
    let rc = std::fs::read_to_string(dir.join("load.rc")).unwrap();
    assert_eq!(rc.trim(), "0", "pgbench failed:\n{log}");
    assert!(
        log.contains(&format!("number of clients: {CLIENTS}")),
        "{log}"
    );
    assert!(!log.to_lowercase().contains("abort"), "{log}");
    // PostgreSQL 15's pgbench counts failed transactions; older ones stop at the first error.
    assert!(
        !log.lines()
            .any(|l| l.starts_with("number of failed transactions: ")
                && !l.starts_with("number of failed transactions: 0 ")),
        "pgbench reports failures:\n{log}"
    );
}

#[test]
fn two_hundred_clients_for_a_minute_leave_no_error_and_no_descriptor_or_thread_behind() {
    let pg = Postgres::start_with_max_connections(MAX_CONNECTIONS);
    let home = support::Home::new();
    let config = prepare(&pg, &home);
    let dir = home.path();
    let guard = home
        .guard()
        .args(["-q", "-c"])
        .arg(&config)
        .args(["--", "sh", "-c", &child_script(dir)])
        .env("BENCH_PW", SUPERUSER_PASSWORD)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut session = Session {
        guard,
        dir: dir.to_path_buf(),
    };
    wait_for_file(&dir.join("warm"), Duration::from_secs(60), "the warm-up");
    let pid: u32 = std::fs::read_to_string(dir.join("guard.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, session.guard.id(), "the command's parent is guard");
    let before = held(pid);
    let started = Instant::now();
    std::fs::write(dir.join("go"), "").unwrap();
    // Halfway through, every client holds a connection to guard and guard one upstream.
    std::thread::sleep(Duration::from_secs(SECONDS / 2));
    let during = held(pid);
    let load = Duration::from_secs(SECONDS + 60);
    wait_for_file(&dir.join("loaded"), load, "the load to end");
    let ran = started.elapsed();
    let after = settle(pid, before);
    std::fs::write(dir.join("done"), "").unwrap();
    let status = session.guard.wait().unwrap();
    eprintln!(
        "{CLIENTS} clients for {ran:?}: guard held {before:?} before, {during:?} during, \
         {after:?} after"
    );
    assert_load_ran(dir);
    assert!(
        during.fds >= before.fds + 2 * CLIENTS as usize,
        "guard held {during:?} during the load: were the clients connected at once?"
    );
    assert!(status.success(), "guard exited {status:?}");
    assert!(
        after.fds <= before.fds && after.tasks <= before.tasks,
        "guard held {before:?} before the load and still {after:?} {SETTLE:?} after it"
    );
}

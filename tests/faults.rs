//! Faults, with real parts: the broker stopping mid-session, guard killed outright, the command
//! crashing, clients that break off or flood one connection, and a full disk under the session
//! folder. Whatever happens, nothing guard forwarded goes unrecorded and nothing it cannot record
//! is let through; a session that could not finish says so, and leases end.
//!
//! Covered elsewhere: the upstream server restarting, a transcript that cannot be written
//! (RLIMIT_FSIZE) and malformed input (tests/postgres.rs).

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::bao::Bao;
use support::postgres::Postgres;
use support::{Home, records_in, stderr, stdout};

/// The real password of the static upstream role.
const APP_PASSWORD: &str = "app-fault-pw-93c1e7d2a8";

/// A private GUARD_HOME and a PostgreSQL, with an OpenBao managing roles in it when asked.
struct Setup {
    home: Home,
    pg: Postgres,
    bao: Option<Bao>,
    /// Files the command and the test signal each other with.
    flags: tempfile::TempDir,
}

impl Setup {
    /// A target `shop` with a dynamic role leased from OpenBao at `path`.
    fn leased(path: &str) -> Setup {
        let pg = Postgres::start();
        let bao = Bao::start();
        bao.enable_database(&pg);
        let setup = Setup::with(pg, Some(bao));
        setup.config(&format!(
            "database = \"postgres\"\ncredentials = {{ broker = \"{path}\" }}\n"
        ));
        setup
    }

    /// A target `shop` (database `shop`, owned by `app`) with a static password.
    fn fixed() -> Setup {
        let pg = Postgres::start();
        pg.sql(&format!("create role app login password '{APP_PASSWORD}'"));
        pg.sql("create database shop owner app");
        let setup = Setup::with(pg, None);
        setup.config(
            "database = \"shop\"\ncredentials = { username = \"app\", password_env = \"SHOP_PW\" }\n\
             [[rule]]\nclass = [\"read\", \"write\", \"ddl\"]\naction = \"allow\"\n",
        );
        setup
    }

    fn with(pg: Postgres, bao: Option<Bao>) -> Setup {
        Setup {
            home: Home::new(),
            pg,
            bao,
            flags: tempfile::Builder::new()
                .prefix("guard-flags-")
                .tempdir()
                .unwrap(),
        }
    }

    fn bao(&self) -> &Bao {
        self.bao.as_ref().expect("a broker")
    }

    fn config(&self, rest: &str) {
        let broker = self.bao.as_ref().map_or(String::new(), |bao| {
            format!(
                "[broker]\nkind = \"openbao\"\naddress = \"{}\"\n\n",
                bao.address()
            )
        });
        let text = format!(
            "{broker}[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"{}\"\n\
             tls = \"disable\"\n{rest}",
            self.pg.addr()
        );
        std::fs::write(self.home.path().join("guard.toml"), text).unwrap();
    }

    /// guard with this home, the broker's root token, the static password, and nothing of the
    /// caller's broker or proxy settings.
    fn guard(&self) -> Command {
        let mut cmd = self.home.guard();
        for name in [
            "GUARD_BROKER_TOKEN",
            "VAULT_TOKEN",
            "BAO_TOKEN",
            "VAULT_ADDR",
            "BAO_ADDR",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
            "ALL_PROXY",
        ] {
            cmd.env_remove(name);
        }
        if let Some(bao) = &self.bao {
            cmd.env("GUARD_BROKER_TOKEN", &bao.root_token);
        }
        cmd.env("GUARD_KEYRING", "none")
            .env("SHOP_PW", APP_PASSWORD)
            .env("PYTHONUNBUFFERED", "1")
            .env("FLAGS", self.flags.path())
            .stdin(Stdio::null());
        cmd
    }

    /// `guard -c guard.toml -- sh -c <script>`, running.
    fn spawn(&self, script: &str) -> Child {
        self.guard()
            .args(["-c", "guard.toml", "--", "sh", "-c", script])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn flag(&self, name: &str) -> PathBuf {
        self.flags.path().join(name)
    }

    fn raise(&self, name: &str) {
        std::fs::write(self.flag(name), "").unwrap();
    }

    fn records(&self) -> Vec<Value> {
        records_in(&self.home.last_session())
    }

    fn dynamic_roles(&self) -> String {
        self.pg
            .sql("select string_agg(rolname, ',') from pg_roles where rolname like 'v-%'")
    }
}

fn of<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

fn credentials<'a>(records: &'a [Value], action: &str) -> Vec<&'a Value> {
    of(records, "credential")
        .into_iter()
        .filter(|r| r["action"] == action)
        .collect()
}

/// Polls until `ready` holds, or panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for guard to end, at most `limit`; kills it and panics if it does not.
fn finish(mut child: Child, limit: Duration) -> Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "guard hung; stdout:\n{}\nstderr:\n{}",
                stdout(&out),
                stderr(&out)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn client_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
        .display()
        .to_string()
}

/// The line of the command's output that starts with `label `, without the label.
fn answer(out: &Output, label: &str) -> String {
    let text = stdout(out);
    text.lines()
        .find_map(|l| l.trim_end().strip_prefix(&format!("{label} ")))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("no `{label}` in:\n{text}\nstderr:\n{}", stderr(out)))
}

#[test]
fn a_broker_that_stops_mid_session_ends_new_logins_clearly_and_the_session_still_ends() {
    // 8 s leases: renewed at about 5.3 s, so the first renewal after the stop fails.
    let mut setup = Setup::leased("database/creds/short");
    let child = setup.spawn(&format!(
        "python3 {} \"$FLAGS\"",
        client_script("broker_outage.py")
    ));
    wait_until("the held connection", Duration::from_secs(30), || {
        setup.flag("started").exists()
    });
    let issued = credentials(&setup.records(), "issued")[0].clone();
    let lease_id = issued["lease_id"].as_str().unwrap().to_string();
    // The lease runs from before the issue record, so it has ended by this time.
    let lease_end = Instant::now() + Duration::from_secs(issued["ttl_s"].as_u64().unwrap());
    let stopped = Instant::now();
    drop(setup.bao.take());

    wait_until("a failed renewal", Duration::from_secs(15), || {
        !credentials(&setup.records(), "failed").is_empty()
    });
    let detected = stopped.elapsed();
    setup.raise("renewal-failed");
    std::thread::sleep(
        lease_end.saturating_duration_since(Instant::now()) + Duration::from_secs(1),
    );
    setup.raise("lease-ended");
    let out = finish(child, Duration::from_secs(40));
    eprintln!("renewal failure recorded {detected:?} after the broker stopped");

    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(answer(&out, "held-before"), "ok 1");
    assert_eq!(answer(&out, "held-after-failure"), "ok 2");
    assert_eq!(answer(&out, "new-after-failure"), "ok 1");
    let refused = answer(&out, "new-after-end");
    assert!(
        refused.starts_with("error ")
            && refused.contains("guard: target `shop`: the credentials could not be renewed"),
        "{refused}"
    );
    assert!(refused.contains("HINT:"), "{refused}");
    let cut = answer(&out, "held-after-end");
    assert!(
        cut.starts_with("error 57P01") && cut.contains("guard:"),
        "{cut}"
    );
    assert_outage_recorded_and_told(&setup, &out, &lease_id);
}

/// An HTTP target's leased credential ends with its lease, as a PostgreSQL connection does: once
/// the broker could not renew it, requests are refused with a 503 that says why, and none goes
/// upstream with the ended credential.
#[test]
fn an_http_target_refuses_requests_once_its_lease_ended_unrenewed() {
    let pg = Postgres::start();
    let bao = Bao::start();
    bao.enable_database(&pg);
    let up = upstream::Upstream::start();
    let config = format!(
        "[broker]\nkind = \"openbao\"\naddress = \"{}\"\n\n[[target]]\nname = \"api\"\n\
         kind = \"http\"\nupstream = \"http://127.0.0.1:{}\"\n\
         credentials = {{ broker = \"database/creds/short\" }}\n",
        bao.address(),
        up.port
    );
    let mut setup = Setup::with(pg, Some(bao));
    std::fs::write(setup.home.path().join("guard.toml"), config).unwrap();
    let child = setup.spawn(
        r#"curl -s "$API_URL/whoami"; echo; touch "$FLAGS/started"
           while [ ! -e "$FLAGS/lease-ended" ]; do sleep 0.1; done
           curl -s -w ' %{http_code}' "$API_URL/whoami"; echo"#,
    );
    wait_until("the first request", Duration::from_secs(30), || {
        setup.flag("started").exists()
    });
    let issued = credentials(&setup.records(), "issued")[0].clone();
    let lease_end = Instant::now() + Duration::from_secs(issued["ttl_s"].as_u64().unwrap());
    drop(setup.bao.take());
    std::thread::sleep(
        lease_end.saturating_duration_since(Instant::now()) + Duration::from_secs(1),
    );
    setup.raise("lease-ended");
    let out = finish(child, Duration::from_secs(40));

    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], r#"{"you_sent":"Bearer [redacted]"}"#, "{text}");
    assert!(lines[1].ends_with(" 503"), "{text}");
    assert!(
        lines[1].contains("guard: target `api`: the credentials could not be renewed")
            && lines[1].contains("hint:"),
        "{text}"
    );
    assert_eq!(
        up.seen().len(),
        1,
        "a request went upstream after the lease ended"
    );
    let records = setup.records();
    let refused = of(&records, "result")
        .into_iter()
        .filter(|r| r["status"] == 503)
        .count();
    assert_eq!(refused, 1, "{records:#?}");
}

/// The failed renewal is a `credential` record of the lease and the human was told; the lease
/// had ended by the session's end, so guard did not try to revoke it; the session sealed
/// normally.
fn assert_outage_recorded_and_told(setup: &Setup, out: &Output, lease_id: &str) {
    let records = setup.records();
    let failed = credentials(&records, "failed");
    let renewal = failed[0];
    assert_eq!(renewal["lease_id"], lease_id, "{renewal}");
    assert!(
        renewal["error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach the broker")),
        "{renewal}"
    );
    assert!(credentials(&records, "revoked").is_empty(), "{records:#?}");
    let err = stderr(out);
    assert!(
        err.contains("guard: cannot renew the credentials of `shop`"),
        "{err}"
    );
    assert!(!err.contains("could not revoke"), "{err}");
    let out = setup.home.run(&["verify", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn guard_killed_outright_leaves_an_intact_transcript_without_an_end_and_the_lease_expires() {
    let setup = Setup::leased("database/creds/short");
    let mut child = setup.spawn(
        "psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select 40 + 2' && touch \"$FLAGS/started\"; sleep 60",
    );
    wait_until("the query", Duration::from_secs(30), || {
        setup.flag("started").exists()
    });
    let lease_id = credentials(&setup.records(), "issued")[0]["lease_id"]
        .as_str()
        .unwrap()
        .to_string();
    // While guard runs, its session is unfinished but not broken.
    let err = stderr(&setup.home.run(&["verify", "last"]));
    assert!(err.contains("the session is still running"), "{err}");
    assert_eq!(newest_session(&setup.home)["records"], "running");
    // SAFETY: kill only sends a signal to the guard this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    child.wait().unwrap();
    let dir = setup.home.last_session();
    assert_reads_as_unfinished(&setup.home, &dir);

    // Nobody revoked the lease: the broker ends it, and drops the role, at its TTL.
    let bao = setup.bao();
    assert!(bao.lease(&lease_id).is_some(), "the lease outlived guard");
    wait_until("the lease to expire", Duration::from_secs(30), || {
        bao.lease(&lease_id).is_none() && setup.dynamic_roles().is_empty()
    });

    // Tampering reads differently from an unfinished session.
    let path = dir.join("transcript.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("40 + 2", "40 + 3", 1)).unwrap();
    let err = stderr(&setup.home.run(&["verify", "last"]));
    assert!(err.contains("a line was altered"), "{err}");
    assert!(err.contains("do not trust them"), "{err}");
    assert!(!err.contains("guard stopped before"), "{err}");
}

/// `guard sessions --json`'s newest row.
fn newest_session(home: &Home) -> Value {
    let out = home.run(&["sessions", "--json"]);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows[0].clone()
}

/// Every record of a session whose guard died is whole and chained, only the end is missing,
/// and `verify` and `sessions` say so without calling it tampered.
fn assert_reads_as_unfinished(home: &Home, dir: &Path) {
    let id = dir.file_name().unwrap().to_str().unwrap().to_string();
    let records = records_in(dir);
    assert!(of(&records, "session_end").is_empty());
    assert_eq!(of(&records, "query").len(), 1, "{records:#?}");
    let out = home.run(&["verify", &id]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no session_end record"), "{err}");
    assert!(err.contains("guard stopped before"), "{err}");
    assert!(
        err.contains(&format!("the {} records it has are intact", records.len())),
        "{err}"
    );
    assert!(err.contains("hint: nothing recorded was altered"), "{err}");
    assert!(!err.contains("do not trust"), "{err}");

    let out = home.run(&["sessions"]);
    let row = stdout(&out)
        .lines()
        .find(|l| l.starts_with(&id))
        .map(str::to_string)
        .unwrap_or_else(|| panic!("{}", stdout(&out)));
    assert!(row.contains("no end"), "{row}");
    let row = newest_session(home);
    assert_eq!(row["verified"], false);
    assert_eq!(row["ended"], false);
    assert_eq!(row["records"], "no end");
}

#[test]
fn a_command_that_crashes_gets_128_plus_its_signal_and_a_sealed_session() {
    let setup = Setup::leased("database/creds/ro");
    for (script, code) in [("kill -SEGV $$", 139), ("kill -ABRT $$", 134)] {
        std::fs::remove_dir_all(setup.home.path().join("sessions")).ok();
        let out = finish(
            setup.spawn(&format!(
                "psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select 1' >/dev/null; {script}"
            )),
            Duration::from_secs(30),
        );
        assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
        let records = setup.records();
        let end = of(&records, "session_end");
        assert_eq!(end.len(), 1, "{records:#?}");
        assert_eq!(end[0]["exit_code"], code);
        let lease_id = credentials(&records, "issued")[0]["lease_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(credentials(&records, "revoked").len(), 1, "{records:#?}");
        assert!(setup.bao().lease(&lease_id).is_none(), "lease still live");
        assert_eq!(setup.dynamic_roles(), "");
        let out = setup.home.run(&["verify", "last"]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
}

#[test]
fn clients_that_break_off_and_ten_thousand_tiny_queries_leave_nothing_behind() {
    let setup = Setup::fixed();
    let child = setup.spawn(&format!(
        "python3 {} \"$FLAGS\"",
        client_script("broken_clients.py")
    ));
    // guard is not dumpable, so only root may count its descriptors.
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", child.id()))
            .ok()
            .map(|d| d.count())
    };
    let mut counted = Vec::new();
    for point in ["baseline", "after"] {
        wait_until(point, Duration::from_secs(120), || {
            setup.flag(point).exists()
        });
        counted.push(fds());
        setup.raise(&format!("{point}-seen"));
    }
    let out = finish(child, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for (label, expected) in [
        ("held-before", "1"),
        ("broken-off", "80"),
        ("past-64MiB", "54000"),
        ("startup-past-64MiB", "08P01"),
        ("psql-rows", "10000"),
        ("pipeline-sum", "49995000"),
        ("held-after", "2"),
        ("other-backends", "0"),
    ] {
        assert_eq!(answer(&out, label), expected, "{label}");
    }
    eprintln!(
        "10,000 queries: psql {} s, pipelined {} s; guard's descriptors {counted:?}",
        answer(&out, "psql-seconds"),
        answer(&out, "pipeline-seconds")
    );
    if let [Some(before), Some(after)] = counted[..] {
        assert!(after <= before + 4, "descriptors: {before} then {after}");
    } else {
        eprintln!("not root: guard's descriptors were not counted");
    }

    assert_all_recorded(&setup.records());
    let out = setup.home.run(&["verify", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Each of the 10,000 statements of both kinds has its `query` and `result` records, and every
/// connection opened, however it broke off, was closed.
fn assert_all_recorded(records: &[Value]) {
    let queries = of(records, "query");
    for sql in ["select 1;", "select $1::int"] {
        let n = queries.iter().filter(|q| q["sql"] == sql).count();
        assert_eq!(n, 10_000, "`{sql}` recorded {n} times");
    }
    let results: std::collections::HashSet<String> = of(records, "result")
        .iter()
        .map(|r| r["id"].to_string())
        .collect();
    assert!(
        queries
            .iter()
            .all(|q| results.contains(&q["id"].to_string())),
        "a query without its result"
    );
    let connections = of(records, "connection");
    let opened = connections.iter().filter(|c| c["action"] == "open").count();
    let closed = connections
        .iter()
        .filter(|c| c["action"] == "close")
        .count();
    assert!(opened >= 40, "{opened} connections opened");
    assert_eq!(opened, closed, "every connection opened was closed");
}

/// A small tmpfs mounted for one test, unmounted however the test ends.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: PathBuf, size: &str) -> Tmpfs {
        std::fs::create_dir_all(&at).unwrap();
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .status()
            .unwrap();
        assert!(status.success(), "mount -t tmpfs failed as root");
        Tmpfs(at)
    }

    /// Writes a file until the filesystem refuses more.
    fn fill(&self) {
        use std::io::Write;
        let mut file = std::fs::File::create(self.0.join("filler")).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            if let Err(e) = file.write_all(&chunk).and_then(|()| file.sync_all()) {
                assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
                return;
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount").arg(&self.0).status();
        if !unmounted.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

#[test]
fn a_full_disk_under_the_session_folder_refuses_what_cannot_be_recorded() {
    if !support::is_root() {
        eprintln!("skipped: mounting a small tmpfs as the session folder's disk needs root");
        return;
    }
    let setup = Setup::fixed();
    setup.pg.sql_in(
        "shop",
        "create table t (n int, note text); alter table t owner to app",
    );
    let disk = Tmpfs::mount(setup.home.path().join("disk"), "1m");
    let child = setup
        .guard()
        .env("GUARD_HOME", &disk.0)
        .args(["-c", "guard.toml", "--", "sh", "-c"])
        .arg(format!(
            "python3 {} \"$FLAGS\"",
            client_script("disk_full.py")
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the first insert", Duration::from_secs(30), || {
        setup.flag("ready").exists()
    });
    disk.fill();
    setup.raise("full");
    let out = finish(child, Duration::from_secs(30));

    let not_run = "error 58030 guard: cannot record the statement, so it was not run:";
    let large = answer(&out, "large");
    assert!(
        large.starts_with(not_run) && large.contains("No space left on device"),
        "{large}"
    );
    assert!(answer(&out, "small").starts_with(not_run));
    assert!(answer(&out, "held-read").starts_with(not_run));
    let new = answer(&out, "new-connection");
    assert!(
        new.contains("guard: cannot record the connection, so it was refused"),
        "{new}"
    );
    // Nothing ran that was not recorded: the table is as the last recorded statement left it.
    assert_eq!(setup.pg.sql_in("shop", "select count(*) from t"), "1");
    assert_told_once(&out);
    assert_ends_at_the_last_whole_record(&setup, &disk.0);
}

/// guard's stderr says once why it refuses, and what to do.
fn assert_told_once(out: &Output) {
    let err = stderr(out);
    let told: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("guard: cannot write the transcript in "))
        .collect();
    assert_eq!(told.len(), 1, "{err}");
    assert!(
        told[0].contains("No space left on device") && told[0].contains("hint: free space"),
        "{err}"
    );
}

/// The transcript on the full disk stops at its last whole record (every line parses), the one
/// insert that ran is in it, and `verify` says it has no end rather than that it is broken.
fn assert_ends_at_the_last_whole_record(setup: &Setup, home: &Path) {
    let sessions = home.join("sessions");
    let dir = std::fs::read_dir(&sessions)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let records = records_in(&dir);
    let inserts: Vec<&Value> = of(&records, "query")
        .into_iter()
        .filter(|q| q["sql"].as_str().is_some_and(|s| s.starts_with("insert")))
        .collect();
    assert_eq!(inserts.len(), 1, "{inserts:#?}");
    let verify = setup
        .home
        .guard()
        .env("GUARD_HOME", home)
        .args(["verify", "last"])
        .output()
        .unwrap();
    assert!(
        stderr(&verify).contains("the session")
            && stderr(&verify).contains("records it has are intact"),
        "{}",
        stderr(&verify)
    );
}

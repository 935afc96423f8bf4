//! The PostgreSQL gateway, end to end: the real guard binary between real clients (psql,
//! pgbench, psycopg, a hand-written wire client) and a real PostgreSQL server.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::postgres::Postgres;

/// The real password of the upstream role; it must never appear anywhere guard writes.
const APP_PASSWORD: &str = "app-real-pw-5f2c9e71b04d";

/// A server with an `app` role owning database `shop`, a private GUARD_HOME and a guard.toml.
struct Gateway {
    pg: Postgres,
    home: support::Home,
    config: PathBuf,
}

impl Gateway {
    fn new() -> Gateway {
        Self::with_tls("prefer")
    }

    fn with_tls(tls: &str) -> Gateway {
        require_clients();
        let pg = Postgres::start();
        pg.sql(&format!("create role app login password '{APP_PASSWORD}'"));
        pg.sql("create database shop owner app");
        let home = support::Home::new();
        let config = home.path().join("guard.toml");
        let gateway = Gateway { pg, home, config };
        gateway.write_config(&gateway.pg.addr(), tls);
        gateway
    }

    fn write_config(&self, upstream: &str, tls: &str) {
        let text = format!(
            "[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"{upstream}\"\n\
             database = \"shop\"\ntls = \"{tls}\"\n\
             credentials = {{ username = \"app\", password_env = \"SHOP_PW\" }}\n\
             # The gateway's mechanics, not the policy (tests/postgres_policy.rs), are tested here.\n\
             [[rule]]\nclass = [\"read\", \"write\", \"ddl\", \"admin\", \"dangerous\", \"unknown\"]\n\
             action = \"allow\"\n"
        );
        std::fs::write(&self.config, text).unwrap();
    }

    /// `guard -q -c guard.toml -- sh -c <script>`, stdin closed, the real password in
    /// guard's own environment only.
    fn run(&self, script: &str) -> Output {
        self.home
            .run_script(&self.config, script, ("SHOP_PW", APP_PASSWORD))
    }

    fn transcript(&self) -> Vec<Value> {
        self.home.last_records()
    }

    fn verify_last(&self) {
        let out = self.home.run(&["verify", "last"]);
        assert!(out.status.success(), "verify: {}", support::stdout(&out));
    }
}

/// The clients these tests drive; missing ones fail the test with what to install.
fn require_clients() {
    for (tool, package) in [
        ("psql", "postgresql-client"),
        ("pgbench", "postgresql-contrib (Debian: postgresql)"),
    ] {
        let found = Command::new(tool).arg("--version").output().is_ok();
        assert!(
            found,
            "`{tool}` is missing: install the Debian package {package}"
        );
    }
    let psycopg = Command::new("python3")
        .args(["-c", "import psycopg"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        psycopg,
        "Python psycopg 3 is missing: install it with `pip install 'psycopg[binary]'`"
    );
}

fn client_script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(name)
        .display()
        .to_string()
}

/// The child's output as lines, without the PTY's carriage returns.
fn lines(out: &Output) -> Vec<String> {
    support::stdout(out)
        .lines()
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

fn records<'a>(transcript: &'a [Value], kind: &str) -> Vec<&'a Value> {
    transcript.iter().filter(|r| r["type"] == kind).collect()
}

fn assert_ran(out: &Output) {
    assert!(
        out.status.success(),
        "guard exited {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        support::stdout(out),
        support::stderr(out)
    );
}

#[test]
fn psql_runs_statements_batches_and_copy_both_ways_and_all_is_recorded() {
    let gw = Gateway::new();
    let data = gw.home.path().join("in.csv");
    std::fs::write(&data, "1,apple\n2,pear\n3,plum\n").unwrap();
    let copied_out = gw.home.path().join("out.csv");
    let out = gw.run(&format!(
        "psql -X -q -A -t \"$SHOP_DATABASE_URL\" -v ON_ERROR_STOP=1 \
         -c 'create table fruit (id int, name text)' \
         -c \"\\copy fruit from '{}' csv\" \
         -c 'select 1 as one; select count(*) from fruit' \
         -c \"\\copy (select name from fruit order by id) to '{}' csv\"",
        data.display(),
        copied_out.display()
    ));
    assert_ran(&out);
    assert_eq!(lines(&out), ["1", "3"], "{}", support::stdout(&out));
    assert_eq!(
        std::fs::read_to_string(&copied_out).unwrap(),
        "apple\npear\nplum\n"
    );

    let transcript = gw.transcript();
    let connections = records(&transcript, "connection");
    assert_eq!(connections.len(), 2, "{connections:?}");
    assert_eq!(connections[0]["action"], "open");
    assert_eq!(connections[0]["target"], "shop");
    assert!(
        connections[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(connections[1]["action"], "close");
    let queries = records(&transcript, "query");
    let sql: Vec<&str> = queries.iter().map(|q| q["sql"].as_str().unwrap()).collect();
    assert_eq!(sql[0], "create table fruit (id int, name text)");
    assert!(
        sql[1].contains("fruit") && sql[1].contains("FROM STDIN"),
        "{sql:?}"
    );
    assert!(sql[3].contains("TO STDOUT"), "{sql:?}");
    assert_eq!(sql[2], "select 1 as one; select count(*) from fruit");
    assert!(queries.iter().all(|q| q["decision"] == "allow"
        && q["class"].is_string()
        && q["rule"].as_str().is_some_and(|r| r.starts_with("rule 1:"))
        && q["conn"] == connections[0]["conn"]));
    let results = records(&transcript, "result");
    assert_eq!(results.len(), queries.len());
    let rows: Vec<u64> = results
        .iter()
        .map(|r| r["rows"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [0, 3, 2, 3]);
    assert!(
        results
            .iter()
            .all(|r| r["error"].is_null() && r["masked"]["count"] == 0)
    );
    // Every query record comes before its result.
    for (q, r) in queries.iter().zip(&results) {
        assert_eq!(q["id"], r["id"]);
        assert!(q["seq"].as_u64() < r["seq"].as_u64());
    }
    gw.verify_last();
}

#[test]
fn pgbench_with_16_clients_select_only_and_writes() {
    let gw = Gateway::new();
    let out = gw.run(
        "pgbench -i -q -s 1 \"$SHOP_DATABASE_URL\" >/dev/null 2>&1 && echo INIT-OK && \
         pgbench -n -S -c 16 -j 2 -t 300 \"$SHOP_DATABASE_URL\" && \
         pgbench -n -c 4 -j 2 -t 100 -M prepared \"$SHOP_DATABASE_URL\"",
    );
    assert_ran(&out);
    let text = support::stdout(&out);
    assert!(text.contains("INIT-OK"), "{text}");
    assert!(text.contains("number of clients: 16"), "{text}");
    // A count of transactions rather than a duration: a busy machine slows the run, it cannot
    // leave it with nothing done.
    assert!(
        text.contains("number of transactions actually processed: 4800/4800"),
        "{text}"
    );
    assert_eq!(
        text.matches("number of failed transactions: 0 (0.000%)")
            .count(),
        2,
        "{text}"
    );
    let transcript = gw.transcript();
    let opens = records(&transcript, "connection")
        .iter()
        .filter(|c| c["action"] == "open")
        .count();
    assert!(opens >= 1 + 1 + 16 + 4, "{opens} connections");
    let errors = records(&transcript, "result")
        .iter()
        .filter(|r| !r["error"].is_null())
        .count();
    assert_eq!(errors, 0);
    gw.verify_last();
}

#[test]
fn psycopg_extended_protocol_binary_pipeline_cursor_copy_notify_and_cancel() {
    let gw = Gateway::new();
    let out = gw.run(&format!("python3 {}", client_script("psycopg_features.py")));
    assert_ran(&out);
    let got = lines(&out);
    for expected in [
        "binary (42, 'x', b'\\x00\\x01')",
        "pipeline 20",
        "server-side 20",
        "copy-out [('0', 'item 0'), ('1', 'item 1'), ('2', 'item 2')]",
        "copy-in 2",
        "copy-error 22P02",
        "pipeline-error 22012",
        "after-pipeline-error 0",
        "error 22012",
        "after-error still usable",
        "notify guard_channel hello",
        "after-cancel 7",
        "done",
    ] {
        assert!(
            got.iter().any(|l| l == expected),
            "no `{expected}` in {got:?}"
        );
    }
    // The cancel really cancelled, and quickly.
    let cancel = got.iter().find(|l| l.starts_with("cancel ")).unwrap();
    let parts: Vec<&str> = cancel.split(' ').collect();
    assert_eq!(parts[1], "57014", "{cancel}");
    assert!(parts[2].parse::<f64>().unwrap() < 2.0, "{cancel}");

    let transcript = gw.transcript();
    let queries = records(&transcript, "query");
    // Extended protocol: the text comes from Parse, tied to the Execute that ran it.
    let inserts = queries
        .iter()
        .filter(|q| q["sql"] == "insert into items values ($1, $2)")
        .count();
    assert_eq!(inserts, 20);
    // The statement after the failed one in the pipeline was skipped, and recorded so.
    let skipped = queries
        .iter()
        .find(|q| q["sql"] == "insert into items values (51, 'skipped')")
        .unwrap();
    let skipped_result = records(&transcript, "result")
        .into_iter()
        .find(|r| r["id"] == skipped["id"])
        .unwrap();
    assert_eq!(skipped_result["error"]["sqlstate"], "22012");
    let sleep = queries
        .iter()
        .find(|q| q["sql"] == "select pg_sleep(10)")
        .unwrap();
    let result = records(&transcript, "result")
        .into_iter()
        .find(|r| r["id"] == sleep["id"])
        .unwrap();
    assert_eq!(result["error"]["sqlstate"], "57014");
    gw.verify_last();
}

#[test]
fn a_wrong_session_secret_is_refused_with_28p01() {
    let gw = Gateway::new();
    let out = gw.run(&format!(
        r#"psql -X "$(echo "$SHOP_DATABASE_URL" | sed 's/:[0-9a-f]*@/:wrong-secret@/')" -c 'select 1'
           python3 {} wrong-secret"#,
        client_script("raw_protocol.py")
    ));
    let text = support::stdout(&out);
    assert!(
        text.contains("password authentication failed for user \"guard\""),
        "{text}"
    );
    // libpq does not hand the SQLSTATE of a failed login to psql or psycopg; the wire does.
    assert!(
        lines(&out).iter().any(|l| l == "wrong-secret 28P01"),
        "{text}"
    );
}

#[test]
fn the_real_password_reaches_no_child_variable_file_or_output() {
    let gw = Gateway::new();
    // The statements spell out both secrets, so the transcript has something to redact. The
    // real one comes from a file, so that it is not on guard's command line.
    let sql = gw.home.path().join("secrets.sql");
    std::fs::write(&sql, format!("select length('{APP_PASSWORD}');\n")).unwrap();
    let out = gw.run(&format!(
        r#"env; S=$(echo "$SHOP_DATABASE_URL" | sed 's/.*guard:\([0-9a-f]*\)@.*/\1/')
           psql -X -A -t "$SHOP_DATABASE_URL" -c "select 'leak:' || current_user" \
             -f {} -c "select length('$S')""#,
        sql.display()
    ));
    assert_ran(&out);
    let text = support::stdout(&out);
    assert!(text.contains("leak:app"), "{text}");
    let url = text
        .lines()
        .find_map(|l| l.trim_end().strip_prefix("SHOP_DATABASE_URL="))
        .expect("the child has SHOP_DATABASE_URL")
        .to_string();
    let secret = url
        .split("guard:")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .unwrap();
    assert_eq!(secret.len(), 48, "{url}");
    assert!(url.ends_with("/shop"), "{url}");
    // The child's environment: no SHOP_PW, no real password anywhere.
    assert!(!text.contains("SHOP_PW="), "{text}");
    let env_part: String = text.lines().take_while(|l| !l.contains("leak:")).collect();
    assert!(!env_part.contains(APP_PASSWORD));
    assert!(!support::stderr(&out).contains(APP_PASSWORD));
    assert!(!support::stderr(&out).contains(secret));
    for entry in std::fs::read_dir(gw.home.last_session()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let content = String::from_utf8_lossy(&bytes);
        // The statements that spelled both out were recorded, redacted.
        if path.ends_with("transcript.jsonl") {
            assert!(content.contains("[redacted]"), "{content}");
            assert!(
                content.contains("\"env_removed\":[\"SHOP_PW\"]"),
                "{content}"
            );
        }
        // The cast holds the agent's screen, where psql echoed nothing secret but the URL
        // printed by `env`; that is the one place the session secret may be.
        assert!(
            !content.contains(APP_PASSWORD),
            "{} holds the password",
            path.display()
        );
        if !path.ends_with("session.cast") {
            assert!(
                !content.contains(secret),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

#[test]
fn the_upstream_restarting_mid_session_errors_then_new_connections_work() {
    let gw = Gateway::new();
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    let script = format!(
        "psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select 1' ; touch {ready}; \
         psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select pg_sleep(30)' > {first} 2>&1; \
         touch {failed}; while [ ! -e {back} ]; do sleep 0.1; done; \
         psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select 40 + 2'",
        ready = at("ready").display(),
        first = at("first").display(),
        failed = at("failed").display(),
        back = at("back").display(),
    );
    let guard = {
        let mut cmd = gw.home.guard();
        cmd.arg("-q")
            .arg("-c")
            .arg(&gw.config)
            .args(["--", "sh", "-c", &script]);
        cmd.env("SHOP_PW", APP_PASSWORD).stdin(Stdio::null());
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    wait_for(|| at("ready").exists(), "the first query");
    wait_for(
        || {
            gw.pg
                .sql("select count(*) from pg_stat_activity where query = 'select pg_sleep(30)'")
                == "1"
        },
        "the long query to start",
    );
    gw.pg.stop();
    wait_for(|| at("failed").exists(), "the long query to fail");
    gw.pg.start_again();
    std::fs::write(at("back"), "").unwrap();
    let out = guard.wait_with_output().unwrap();
    assert_ran(&out);
    let first = std::fs::read_to_string(at("first")).unwrap();
    assert!(
        first.contains("terminating connection") || first.contains("guard: the connection"),
        "{first}"
    );
    assert!(
        lines(&out).iter().any(|l| l == "42"),
        "{}",
        support::stdout(&out)
    );
    let stderr = support::stderr(&out);
    assert!(stderr.contains("hint:"), "{stderr}");
    assert!(stderr.lines().count() <= 3, "{stderr}");
    let transcript = gw.transcript();
    let lost = records(&transcript, "result")
        .into_iter()
        .filter(|r| !r["error"].is_null())
        .count();
    assert_eq!(lost, 1);
    gw.verify_last();
}

#[test]
fn an_unreachable_upstream_stops_the_session_with_125_and_a_hint() {
    let gw = Gateway::new();
    gw.write_config(&format!("127.0.0.1:{}", support::free_port()), "prefer");
    let out = gw.run("echo SHOULD-NOT-RUN");
    assert_eq!(out.status.code(), Some(125));
    assert!(!support::stdout(&out).contains("SHOULD-NOT-RUN"));
    let stderr = support::stderr(&out);
    assert!(
        stderr.starts_with("guard: target `shop`: cannot connect"),
        "{stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
    assert!(!stderr.contains(APP_PASSWORD));
}

#[test]
fn bad_input_gets_an_error_and_guard_keeps_serving() {
    let gw = Gateway::new();
    let out = gw.run(&format!(
        "python3 {} && psql -X -A -t \"$SHOP_DATABASE_URL\" -c 'select 99'",
        client_script("raw_protocol.py")
    ));
    assert_ran(&out);
    let got = lines(&out);
    for expected in [
        "garbage 08P01",
        "direct-tls closed",
        "old-protocol 0A000",
        "unknown-type 08P01",
        "oversized 54000",
        "bad-length 08P01",
        "wrong-secret 28P01",
        "others-fine 42",
        "vanished-query-running 0",
        "done",
        "99",
    ] {
        assert!(
            got.iter().any(|l| l == expected),
            "no `{expected}` in {got:?}"
        );
    }
}

#[test]
fn tls_modes_against_a_server_with_ssl() {
    let gw = Gateway::with_tls("require");
    enable_ssl(&gw.pg);
    let check = "psql -X -A -t \"$SHOP_DATABASE_URL\" \
                 -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()'";
    for (mode, expected) in [("require", "t"), ("prefer", "t"), ("disable", "f")] {
        gw.write_config(&gw.pg.addr(), mode);
        let out = gw.run(check);
        assert_ran(&out);
        assert_eq!(lines(&out), [expected], "tls = {mode}");
    }
    // A self-signed certificate is not trusted by the system's roots.
    gw.write_config(&gw.pg.addr(), "verify-full");
    let out = gw.run(check);
    assert_eq!(out.status.code(), Some(125), "{}", support::stderr(&out));
    assert!(
        support::stderr(&out).contains("TLS with"),
        "{}",
        support::stderr(&out)
    );
}

#[test]
fn a_transcript_that_cannot_be_written_stops_statements_from_running() {
    let gw = Gateway::new();
    let statements: String = (1..=40)
        .map(|i| format!(" -c 'insert into t values ({i})'"))
        .collect();
    // RLIMIT_FSIZE makes writes past 8 KiB fail (EFBIG) as a full disk would; the signal it
    // would raise is ignored so that the write returns the error instead.
    let script = format!(
        "trap '' XFSZ; ulimit -f 16; exec {} -q -c {} -- \
         sh -c \"psql -X -A -t \\\"\\$SHOP_DATABASE_URL\\\" -c 'create table t (n int)'{}\"",
        support::bin().display(),
        gw.config.display(),
        statements.replace('"', "\\\""),
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("GUARD_HOME", gw.home.path())
        .env("SHOP_PW", APP_PASSWORD)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = support::stdout(&out);
    assert!(
        text.contains("guard: cannot record the statement"),
        "{text}"
    );
    let transcript_text =
        std::fs::read_to_string(gw.home.last_session().join("transcript.jsonl")).unwrap();
    let recorded = transcript_text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["type"] == "query")
        .filter(|r| r["sql"].as_str().is_some_and(|s| s.starts_with("insert")))
        .count();
    let ran: usize = gw
        .pg
        .sql_in("shop", "select count(*) from t")
        .parse()
        .unwrap_or_else(|_| panic!("no table t: {text}"));
    assert!(recorded < 40, "{recorded} recorded");
    assert_eq!(ran, recorded, "statements that ran must all be recorded");
}

fn wait_for(mut done: impl FnMut() -> bool, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Turns on SSL with a fresh self-signed certificate and reloads the server.
fn enable_ssl(pg: &Postgres) {
    let data = pg.dir.path().join("data");
    let status = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-newkey", "rsa:2048", "-keyout"])
        .arg(data.join("server.key"))
        .arg("-out")
        .arg(data.join("server.crt"))
        .stderr(Stdio::null())
        .status()
        .expect("`openssl` is missing: install the Debian package openssl");
    assert!(status.success());
    if support::is_root() {
        for file in ["server.key", "server.crt"] {
            let ok = Command::new("chown")
                .arg("postgres:postgres")
                .arg(data.join(file))
                .status()
                .unwrap();
            assert!(ok.success());
        }
    }
    pg.sql("alter system set ssl = on");
    pg.sql("select pg_reload_conf()");
    std::thread::sleep(Duration::from_millis(500));
}

//! The credential broker, proven through guard itself against a real OpenBao dev server whose
//! database secrets engine manages roles in a real PostgreSQL: leases are issued for a session,
//! renewed or replaced while it runs, and revoked (the role dropped) however it ends; failures
//! stop guard before the command starts; no secret reaches the command, the records or the
//! screen; and `login`, `logout` and `doctor` do what they say.
//!
//! The sessions run with the real gateways in front of the targets, so a leased user is also
//! the one the upstream sees.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::bao::{Bao, random_hex};
use support::postgres::Postgres;
use support::{Home, stderr, stdout};

/// A private GUARD_HOME, a PostgreSQL and an OpenBao managing roles in it.
struct Setup {
    home: Home,
    pg: Postgres,
    bao: Bao,
}

impl Setup {
    fn new() -> Setup {
        let pg = Postgres::start();
        let bao = Bao::start();
        bao.enable_database(&pg);
        Setup {
            home: Home::new(),
            pg,
            bao,
        }
    }

    /// Writes guard.toml with this broker and `targets` (TOML).
    fn config(&self, targets: &str) {
        let text = format!(
            "[broker]\nkind = \"openbao\"\naddress = \"{}\"\n\n{targets}",
            self.bao.address()
        );
        std::fs::write(self.home.path().join("guard.toml"), text).unwrap();
    }

    /// A postgres target at the test server with these credentials (an inline table).
    fn pg_target(&self, name: &str, credentials: &str) -> String {
        format!(
            "[[target]]\nname = \"{name}\"\nkind = \"postgres\"\nupstream = \"{}\"\ndatabase = \"postgres\"\ntls = \"disable\"\ncredentials = {credentials}\n\n",
            self.pg.addr()
        )
    }

    /// guard with the root token in GUARD_BROKER_TOKEN and nothing else from the caller's
    /// broker settings.
    fn guard(&self) -> Command {
        let mut cmd = guard_in(&self.home);
        cmd.env("GUARD_BROKER_TOKEN", &self.bao.root_token);
        cmd
    }

    fn run(&self, script: &str) -> Output {
        self.guard()
            .args(["-c", "guard.toml", "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn spawn(&self, script: &str) -> Child {
        self.guard()
            .args(["-c", "guard.toml", "--", "sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn dynamic_roles(&self) -> Vec<String> {
        let out = self
            .pg
            .sql("select rolname from pg_roles where rolname like 'v-%' order by 1");
        out.lines().map(str::to_string).collect()
    }

    fn file(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }
}

/// guard with a private home, no keyring and no broker settings inherited from the caller.
fn guard_in(home: &Home) -> Command {
    let mut cmd = home.guard();
    for name in [
        "GUARD_BROKER_TOKEN",
        "VAULT_TOKEN",
        "BAO_TOKEN",
        "VAULT_ADDR",
        "BAO_ADDR",
        "VAULT_NAMESPACE",
        "BAO_NAMESPACE",
        "VAULT_CACERT",
        "BAO_CACERT",
    ] {
        cmd.env_remove(name);
    }
    // guard sets proxies for its command; its own broker client must never go through one,
    // so every test runs with proxies that lead nowhere.
    for proxy in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        cmd.env(proxy, "http://127.0.0.1:9");
    }
    cmd.env("GUARD_KEYRING", "none");
    cmd
}

/// The newest session's transcript records.
fn records(home: &Home) -> Vec<Value> {
    let path = home.last_session().join("transcript.jsonl");
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn credential_records(home: &Home) -> Vec<Value> {
    records(home)
        .into_iter()
        .filter(|r| r["type"] == "credential")
        .collect()
}

fn with_action<'a>(records: &'a [Value], action: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["action"] == action).collect()
}

/// Polls until `ready` holds, or panics after `limit`.
fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill only sends a signal to the process we spawned.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

/// Runs a session whose command signals it has started, then waits for guard to end;
/// `during` runs while the command runs. Returns guard's output and the issued lease id.
fn session_with_lease(
    setup: &Setup,
    script: &str,
    during: impl FnOnce(&Child),
) -> (Output, String) {
    let started = setup.file("started");
    let _ = std::fs::remove_file(&started);
    let child = setup.spawn(&format!("touch started; {script}"));
    wait_until("the command to start", Duration::from_secs(20), || {
        started.exists()
    });
    let issued = credential_records(&setup.home);
    let lease_id = with_action(&issued, "issued")[0]["lease_id"]
        .as_str()
        .unwrap()
        .to_string();
    during(&child);
    (child.wait_with_output().unwrap(), lease_id)
}

fn assert_revoked(setup: &Setup, lease_id: &str) {
    assert!(
        setup.bao.lease(lease_id).is_none(),
        "lease {lease_id} still live"
    );
    assert_eq!(
        setup.dynamic_roles(),
        Vec::<String>::new(),
        "roles left behind"
    );
    let revoked = credential_records(&setup.home);
    let revoked = with_action(&revoked, "revoked");
    assert!(
        revoked.iter().any(|r| r["lease_id"] == lease_id),
        "no `revoked` record for {lease_id}"
    );
}

#[test]
fn a_lease_lives_for_the_session_and_is_revoked_after_a_normal_exit() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let whoami = "psql \"$SHOP_DATABASE_URL\" -Atc 'select current_user' > whoami.txt; sleep 1";
    let (out, lease_id) = session_with_lease(&setup, whoami, |_| {
        let roles = setup.dynamic_roles();
        assert_eq!(roles.len(), 1, "one role during the session: {roles:?}");
        let lease = setup.bao.lease(&lease_id_of(&setup)).expect("a live lease");
        assert!(lease["ttl"].as_u64().unwrap() > 0);
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let upstream_user = std::fs::read_to_string(setup.file("whoami.txt")).unwrap();
    assert!(
        upstream_user.starts_with("v-"),
        "the upstream sees the leased role: {upstream_user}"
    );
    let issued = credential_records(&setup.home);
    let first = &issued[0];
    assert_eq!(first["target"], "shop");
    assert_eq!(first["source"], "openbao");
    assert_eq!(first["action"], "issued");
    assert_eq!(first["ttl_s"], 60);
    assert_revoked(&setup, &lease_id);
}

fn lease_id_of(setup: &Setup) -> String {
    let records = credential_records(&setup.home);
    with_action(&records, "issued")[0]["lease_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn signals_to_guard_end_the_session_and_revoke_the_lease() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    for (sig, code) in [
        (libc::SIGTERM, 143),
        (libc::SIGHUP, 129),
        (libc::SIGINT, 130),
    ] {
        // One session at a time, each in its own folder.
        std::fs::remove_dir_all(setup.home.path().join("sessions")).ok();
        let (out, lease_id) = session_with_lease(&setup, "sleep 30", |child| signal(child, sig));
        assert_eq!(
            out.status.code(),
            Some(code),
            "signal {sig}: {}",
            stderr(&out)
        );
        assert_revoked(&setup, &lease_id);
    }
}

#[test]
fn a_killed_command_still_has_its_lease_revoked() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let (out, lease_id) = session_with_lease(&setup, "sleep 0.5; kill -9 $$", |_| {});
    assert_eq!(out.status.code(), Some(137), "{}", stderr(&out));
    assert_revoked(&setup, &lease_id);
}

#[test]
fn a_failure_after_leasing_revokes_what_was_issued_and_the_command_never_runs() {
    let setup = Setup::new();
    let targets = setup.pg_target("shop", "{ broker = \"database/creds/ro\" }")
        + &setup.pg_target("orders", "{ broker = \"database/creds/no-such-role\" }");
    setup.config(&targets);
    let out = setup.run("touch ran");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("guard: target `orders`: nothing at `database/creds/no-such-role`"),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("bao list database/roles"),
        "{err}"
    );
    assert!(!setup.file("ran").exists(), "the command ran");
    let lease_id = lease_id_of(&setup);
    assert_revoked(&setup, &lease_id);
    let records = credential_records(&setup.home);
    let failed = with_action(&records, "failed");
    assert_eq!(failed[0]["target"], "orders");
}

#[test]
fn a_short_lease_is_renewed_while_the_session_runs() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/short\" }"));
    let (out, lease_id) = session_with_lease(&setup, "sleep 20", |_| {
        std::thread::sleep(Duration::from_secs(18));
        let lease_id = lease_id_of(&setup);
        let lease = setup
            .bao
            .lease(&lease_id)
            .expect("the lease is live after 18 s");
        assert!(lease["ttl"].as_u64().unwrap() > 0, "{lease}");
    });
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = credential_records(&setup.home);
    let renewed = with_action(&records, "renewed");
    // 8 s leases renewed every ~5.3 s over 20 s.
    assert!(renewed.len() >= 3, "{records:#?}");
    assert!(
        renewed
            .iter()
            .all(|r| r["lease_id"] == lease_id && r["ttl_s"] == 8)
    );
    assert_eq!(with_action(&records, "issued").len(), 1, "{records:#?}");
    assert_revoked(&setup, &lease_id);
}

#[test]
fn a_lease_at_its_max_ttl_is_replaced_by_new_credentials() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/capped\" }"));
    let (out, first) = session_with_lease(&setup, "sleep 13", |_| {});
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = credential_records(&setup.home);
    let issued = with_action(&records, "issued");
    // 4 s leases with a 9 s max TTL: renewed, then capped, then replaced before they end.
    assert!(issued.len() >= 2, "{records:#?}");
    assert_ne!(issued[0]["lease_id"], issued[1]["lease_id"]);
    assert!(!with_action(&records, "renewed").is_empty(), "{records:#?}");
    assert!(with_action(&records, "failed").is_empty(), "{records:#?}");
    let last = issued.last().unwrap()["lease_id"].as_str().unwrap();
    assert_revoked(&setup, last);
    assert!(setup.bao.lease(&first).is_none());
}

#[test]
fn an_unreachable_broker_stops_guard_before_the_command() {
    let home = Home::new();
    let port = support::free_port();
    let config = format!(
        "[broker]\nkind = \"vault\"\naddress = \"http://127.0.0.1:{port}\"\n\n[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"127.0.0.1:1\"\ncredentials = {{ broker = \"database/creds/ro\" }}\n"
    );
    std::fs::write(home.path().join("guard.toml"), config).unwrap();
    let out = guard_in(&home)
        .env("VAULT_TOKEN", "some-token-value")
        .args(["-c", "guard.toml", "--", "touch", "ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "guard: cannot reach the broker at http://127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(err.contains("hint: check [broker] address"), "{err}");
    assert!(!home.path().join("ran").exists(), "the command ran");
    assert!(!err.contains("some-token-value"));
}

#[test]
fn a_bad_token_stops_guard_before_the_command_and_says_where_it_came_from() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let out = setup
        .guard()
        .env("GUARD_BROKER_TOKEN", "not-a-real-token-42")
        .args(["-c", "guard.toml", "--", "touch", "ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("refused the token from GUARD_BROKER_TOKEN"),
        "{err}"
    );
    assert!(
        err.contains("hint: ") && err.contains("guard login"),
        "{err}"
    );
    assert!(!err.contains("not-a-real-token-42"), "{err}");
    assert!(!setup.file("ran").exists(), "the command ran");
    assert_eq!(setup.dynamic_roles(), Vec::<String>::new());
}

#[test]
fn a_token_without_permission_is_refused_and_a_short_lived_one_is_warned_about() {
    let setup = Setup::new();
    setup.bao.policy(
        "agent-ro",
        "path \"database/creds/ro\" { capabilities = [\"read\"] }",
    );
    let token = setup.bao.token(&["agent-ro"], "10m");
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/short\" }"));
    let run = |command: &str| {
        setup
            .guard()
            .env("GUARD_BROKER_TOKEN", &token)
            .args(["-c", "guard.toml", "--", "sh", "-c", command])
            .output()
            .unwrap()
    };
    let out = run("touch ran");
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("permission denied on `database/creds/short`"),
        "{err}"
    );
    assert!(
        err.contains("hint: the token's policies do not allow `database/creds/short`"),
        "{err}"
    );
    assert!(!setup.file("ran").exists(), "the command ran");

    // Readable, but the token may not revoke: guard says so before the command starts.
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let out = run("true");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("guard: warning: the broker token expires in "),
        "{err}"
    );
    assert!(err.contains("leases it makes end with it"), "{err}");
    assert!(err.contains("may not revoke its leases"), "{err}");
    assert!(
        err.contains("guard: could not revoke the credentials of `shop`"),
        "{err}"
    );
    let records = credential_records(&setup.home);
    assert_eq!(with_action(&records, "failed").len(), 1, "{records:#?}");

    // A policy scoped to this role's leases is enough.
    setup.bao.policy(
        "agent-ro",
        "path \"database/creds/ro\" { capabilities = [\"read\"] }\n\
         path \"sys/leases/revoke/database/creds/ro/*\" { capabilities = [\"update\"] }",
    );
    std::fs::remove_dir_all(setup.home.path().join("sessions")).unwrap();
    let out = run("true");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("revoke"), "{}", stderr(&out));
    let lease_id = lease_id_of(&setup);
    assert!(setup.bao.lease(&lease_id).is_none());
}

#[test]
fn no_secret_reaches_the_command_the_session_files_or_guards_output() {
    let setup = Setup::new();
    let kv_value = format!("kv-billing-{}", random_hex(8));
    let static_pw = format!("static-pw-{}", random_hex(8));
    setup.bao.ok(
        "POST",
        "secret/data/billing",
        json!({"data": {"token": kv_value}}),
    );
    // A static role: the broker rotates an existing user's password and hands it out, no lease.
    setup
        .pg
        .sql("create role app_static login password 'initial-pw'");
    // The static credential's user, which guard's gateway logs in as before the command starts.
    setup
        .pg
        .sql(&format!("create role app login password '{static_pw}'"));
    setup.bao.ok(
        "POST",
        "database/static-roles/app",
        json!({"db_name": "pg", "username": "app_static", "rotation_period": "1h"}),
    );
    let targets = setup.pg_target("shop", "{ broker = \"database/creds/ro\" }")
        + &setup.pg_target("reports", "{ broker = \"database/static-creds/app\" }")
        + &setup.pg_target(
            "legacy",
            "{ username = \"app\", password_env = \"LEGACY_PW\" }",
        )
        + "[[target]]\nname = \"billing\"\nkind = \"http\"\nupstream = \"http://127.0.0.1:9\"\ncredentials = { broker = \"secret/data/billing\", field = \"token\" }\n";
    setup.config(&targets);
    let out = setup
        .guard()
        .env("LEGACY_PW", &static_pw)
        .env("VAULT_TOKEN", &setup.bao.root_token)
        .args(["-c", "guard.toml", "--", "sh", "-c", "env > child-env.txt"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let leased = leased_passwords(&setup.bao);
    assert_eq!(
        leased.len(),
        2,
        "one dynamic and one static password handed out"
    );
    let mut secrets = vec![setup.bao.root_token.clone(), kv_value, static_pw];
    secrets.extend(leased);
    let mut places = vec![
        (
            "the command's environment".to_string(),
            std::fs::read_to_string(setup.file("child-env.txt")).unwrap(),
        ),
        ("guard's output".to_string(), stdout(&out) + &stderr(&out)),
    ];
    for entry in std::fs::read_dir(setup.home.last_session()).unwrap() {
        let path = entry.unwrap().path();
        places.push((
            path.display().to_string(),
            String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned(),
        ));
    }
    for (place, text) in &places {
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "a secret is in {place}");
        }
    }
    let child_env = &places[0].1;
    assert!(!child_env.contains("LEGACY_PW="), "{child_env}");
    let start = &records(&setup.home)[0];
    let removed = start["env_removed"].as_array().unwrap();
    for name in ["LEGACY_PW", "GUARD_BROKER_TOKEN", "VAULT_TOKEN"] {
        assert!(
            removed.contains(&json!(name)),
            "{name} not listed in {removed:?}"
        );
    }
    let records = credential_records(&setup.home);
    let sources: Vec<(&str, &str)> = records
        .iter()
        .filter(|r| r["action"] == "issued")
        .map(|r| (r["target"].as_str().unwrap(), r["source"].as_str().unwrap()))
        .collect();
    assert_eq!(
        sources,
        [
            ("shop", "openbao"),
            ("reports", "openbao"),
            ("legacy", "static"),
            ("billing", "openbao")
        ]
    );
    let reports = records.iter().find(|r| r["target"] == "reports").unwrap();
    assert_eq!(reports["lease_id"], Value::Null, "{reports}");
    assert!(reports["ttl_s"].as_u64().unwrap() > 3000, "{reports}");
}

/// The database passwords the broker handed out, from its raw audit log.
fn leased_passwords(bao: &Bao) -> Vec<String> {
    bao.audit_log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| {
            let path = &e["request"]["path"];
            e["type"] == "response"
                && (path == "database/creds/ro" || path == "database/static-creds/app")
        })
        .filter_map(|e| {
            e["response"]["data"]["password"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

#[test]
fn login_stores_the_token_per_address_and_logout_removes_it() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let with_file_keyring = || {
        let mut cmd = guard_in(&setup.home);
        cmd.env("GUARD_KEYRING", "file");
        cmd
    };
    let mut login = with_file_keyring()
        .args(["login", "-c", "guard.toml"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    writeln!(login.stdin.take().unwrap(), "{}", setup.bao.root_token).unwrap();
    let out = login.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stdout(&out) + &stderr(&out);
    assert!(
        said.contains(&format!(
            "token for {} stored in the token file",
            setup.bao.address()
        )),
        "{said}"
    );
    assert!(!said.contains(&setup.bao.root_token));
    let file = setup.home.path().join("broker-tokens.json");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A session finds the token in the keyring with no variable set.
    let out = with_file_keyring()
        .args(["-c", "guard.toml", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        with_action(&credential_records(&setup.home), "issued").len(),
        1
    );

    let out = with_file_keyring()
        .args(["logout", "-c", "guard.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !std::fs::read_to_string(&file)
            .unwrap()
            .contains(&setup.bao.root_token)
    );
    let out = with_file_keyring()
        .args(["-c", "guard.toml", "--", "touch", "ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("hint: run `guard login`"),
        "{}",
        stderr(&out)
    );
    assert!(!setup.file("ran").exists());
}

#[test]
fn login_refuses_a_bad_token_and_a_disabled_keyring() {
    let setup = Setup::new();
    let login = |keyring: &str, token: &str| {
        let mut child = guard_in(&setup.home)
            .env("GUARD_KEYRING", keyring)
            .args(["login", "--address", &setup.bao.address()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = write!(child.stdin.take().unwrap(), "{token}");
        child.wait_with_output().unwrap()
    };
    let out = login("file", "wrong-token");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("refused this token"),
        "{}",
        stderr(&out)
    );
    assert!(!setup.home.path().join("broker-tokens.json").exists());
    let out = login("none", &setup.bao.root_token);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("hint: unset GUARD_KEYRING"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn doctor_reports_a_healthy_setup_without_leasing() {
    let setup = Setup::new();
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let out = setup
        .guard()
        .args(["doctor", "-c", "guard.toml"])
        .output()
        .unwrap();
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{report}{}", stderr(&out));
    assert!(report.contains("ok    config: guard.toml"), "{report}");
    assert!(
        report.contains("ok    token: from GUARD_BROKER_TOKEN, does not expire, policies: root"),
        "{report}"
    );
    assert!(
        report.contains("ok    target shop credentials: `database/creds/ro` is readable"),
        "{report}"
    );
    assert!(
        report.contains(&format!(
            "ok    target shop upstream: {} is reachable",
            setup.pg.addr()
        )),
        "{report}"
    );
    assert!(!report.contains(&setup.bao.root_token));
    assert_eq!(
        setup.dynamic_roles(),
        Vec::<String>::new(),
        "doctor leased something"
    );
}

#[test]
fn doctor_fails_on_a_path_it_may_not_read_or_revoke_and_on_a_closed_upstream() {
    let setup = Setup::new();
    setup.bao.policy(
        "agent-ro",
        "path \"database/creds/ro\" { capabilities = [\"read\"] }",
    );
    let token = setup.bao.token(&["agent-ro"], "1h");
    let closed = support::free_port();
    let targets = setup.pg_target("shop", "{ broker = \"database/creds/short\" }")
        + &format!(
            "[[target]]\nname = \"down\"\nkind = \"postgres\"\nupstream = \"127.0.0.1:{closed}\"\n"
        );
    setup.config(&targets);
    let out = setup
        .guard()
        .env("GUARD_BROKER_TOKEN", &token)
        .args(["doctor", "-c", "guard.toml"])
        .output()
        .unwrap();
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report
            .contains("FAIL  target shop credentials: permission denied on `database/creds/short`"),
        "{report}"
    );
    assert!(
        report.contains(&format!("FAIL  target down upstream: 127.0.0.1:{closed}")),
        "{report}"
    );
    assert!(report.contains("policies: agent-ro, default"), "{report}");
    assert!(!report.contains(&token));

    // Readable but not revocable is a failure too: leases would outlive the session.
    setup.config(&setup.pg_target("shop", "{ broker = \"database/creds/ro\" }"));
    let out = setup
        .guard()
        .env("GUARD_BROKER_TOKEN", &token)
        .args(["doctor", "-c", "guard.toml"])
        .output()
        .unwrap();
    let report = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("ok    target shop credentials: `database/creds/ro` is readable (read)"),
        "{report}"
    );
    assert!(
        report.contains("FAIL  target shop credentials: the token may not revoke leases"),
        "{report}"
    );
}

#[test]
fn the_brokers_own_ca_and_a_namespace_are_honoured() {
    let bao = Bao::start_tls();
    let value = format!("kv-ns-{}", random_hex(8));
    bao.cli(&["namespace", "create", "team"]);
    bao.cli(&["secrets", "enable", "-ns=team", "-path=kv", "kv-v2"]);
    bao.cli(&[
        "kv",
        "put",
        "-ns=team",
        "-mount=kv",
        "billing",
        &format!("token={value}"),
    ]);
    let home = Home::new();
    let config = format!(
        "[broker]\nkind = \"openbao\"\naddress = \"{}\"\n\n[[target]]\nname = \"billing\"\nkind = \"http\"\nupstream = \"http://127.0.0.1:9\"\ncredentials = {{ broker = \"kv/data/billing\", field = \"token\" }}\n",
        bao.address()
    );
    std::fs::write(home.path().join("guard.toml"), config).unwrap();
    let run = |env: &[(&str, &str)]| {
        let mut cmd = guard_in(&home);
        cmd.env("GUARD_BROKER_TOKEN", &bao.root_token);
        for (name, value) in env {
            cmd.env(name, value);
        }
        cmd.args(["-c", "guard.toml", "--", "true"])
            .output()
            .unwrap()
    };
    let ca = bao.ca_cert().display().to_string();

    let out = run(&[("BAO_CACERT", &ca), ("BAO_NAMESPACE", "team")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let records = credential_records(&home);
    assert_eq!(records[0]["action"], "issued", "{records:#?}");
    assert_eq!(records[0]["lease_id"], Value::Null);
    let transcript = std::fs::read_to_string(home.last_session().join("transcript.jsonl")).unwrap();
    assert!(!transcript.contains(&value));

    let out = run(&[("BAO_NAMESPACE", "team")]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("cannot reach the broker"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("certificate"), "{}", stderr(&out));

    let out = run(&[("VAULT_CACERT", &ca)]);
    assert_eq!(out.status.code(), Some(125));
    assert!(
        stderr(&out).contains("nothing at `kv/data/billing`"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_slow_broker_shows_progress_and_a_signal_stops_guard_before_the_command() {
    // A broker that accepts connections and never answers.
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let home = Home::new();
    let config = format!(
        "[broker]\nkind = \"openbao\"\naddress = \"http://{}\"\n\n[[target]]\nname = \"shop\"\nkind = \"postgres\"\nupstream = \"127.0.0.1:1\"\ncredentials = {{ broker = \"database/creds/ro\" }}\n",
        hung.local_addr().unwrap()
    );
    std::fs::write(home.path().join("guard.toml"), config).unwrap();
    let mut child = guard_in(&home)
        .env("GUARD_BROKER_TOKEN", "some-token-value")
        .args(["-c", "guard.toml", "--", "touch", "ran"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    std::io::BufRead::read_line(&mut err, &mut first).unwrap();
    assert!(
        first.starts_with("guard: checking the broker token at http://127.0.0.1:"),
        "{first}"
    );
    signal(&child, libc::SIGTERM);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
    assert_eq!(status.code(), Some(143), "{rest}");
    assert!(
        rest.contains("guard: interrupted by SIGTERM before the command started"),
        "{rest}"
    );
    assert!(!home.path().join("ran").exists(), "the command ran");
}

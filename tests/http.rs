//! HTTP targets and egress, end to end: the real guard binary runs `sh -c 'curl ...'` against a
//! real HTTP service on loopback. guard's stdin is not a terminal here, so the approver is `deny`
//! and every `ask` is refused, as it is for an agent run without a human.

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use std::path::Path;

use serde_json::Value;
use support::{Home, stderr, stdout};
use upstream::Upstream;

/// The credential guard injects; the agent must never see it.
const SECRET: &str = "sk-live-7Qm2x9Vb4Lp8Rt6Yw3Zc";

struct Run {
    out: String,
    code: Option<i32>,
    err: String,
}

fn run(home: &Home, config: &str, script: &str, env: &[(&str, &str)]) -> Run {
    std::fs::write(home.path().join("guard.toml"), config).unwrap();
    let mut cmd = home.guard();
    cmd.env("SHOP_CREDENTIAL", SECRET);
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        cmd.env_remove(name);
    }
    cmd.envs(env.iter().copied());
    cmd.args(["-q", "-c", "guard.toml", "--", "sh", "-c", script]);
    let out = cmd.output().unwrap();
    Run {
        out: stdout(&out).replace("\r\n", "\n"),
        code: out.status.code(),
        err: stderr(&out),
    }
}

fn shop(port: u16, extra: &str) -> String {
    format!(
        r#"[[target]]
name = "shop"
kind = "http"
upstream = "http://127.0.0.1:{port}"
credentials = {{ value_env = "SHOP_CREDENTIAL" }}
inject = {{ header = "Authorization", value = "Bearer {{secret}}" }}
{extra}"#
    )
}

fn records(home: &Home) -> Vec<Value> {
    let text = std::fs::read_to_string(home.last_session().join("transcript.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["type"] == kind).collect()
}

/// The `result` record of the request with this id.
fn result_of<'a>(records: &'a [Value], id: &Value) -> &'a Value {
    records
        .iter()
        .find(|r| r["type"] == "result" && &r["id"] == id)
        .unwrap_or_else(|| panic!("no result for {id}"))
}

fn assert_verifies(home: &Home) {
    let out = home.run(&["verify", "last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn assert_secret_in_no_file(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the secret",
            path.display()
        );
    }
}

#[test]
fn a_read_reaches_the_upstream_with_guards_credential_and_not_the_agents() {
    let up = Upstream::start();
    let home = Home::new();
    let script = r#"
        echo "url=$SHOP_URL"
        curl -s -H 'Authorization: Bearer agent-own' -H 'Cookie: sid=agent' "$SHOP_URL/customers?limit=2"; echo
        curl -s "$SHOP_URL/whoami"; echo
        curl -s "$SHOP_URL/whoami.txt"
        env
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.out.contains("url=http://127.0.0.1:"), "{}", r.out);
    // The session masks what comes back: the email's shape stays, the address does not.
    assert!(r.out.contains(r#""email":"a***@example.com""#), "{}", r.out);
    assert!(!r.out.contains("ada@example.com"), "{}", r.out);

    let seen = up.seen();
    let get = seen.iter().find(|s| s.path == "/customers").unwrap();
    assert_eq!(
        get.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(get.header("cookie"), None);
    assert_eq!(
        get.header("host"),
        Some(format!("127.0.0.1:{}", up.port).as_str())
    );
    assert_eq!(get.header("accept-encoding"), Some("identity"));

    // An upstream that echoes the credential does not hand it to the agent.
    assert!(
        r.out.contains(r#"{"you_sent":"Bearer [redacted]"}"#),
        "{}",
        r.out
    );
    assert!(r.out.contains("you sent: Bearer [redacted]"), "{}", r.out);
    assert!(!r.out.contains(SECRET));
    assert!(
        !r.out.contains("SHOP_CREDENTIAL="),
        "the child holds the credential's variable"
    );

    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert_eq!(http.len(), 3);
    let first = http[0];
    assert_eq!(first["target"], "shop");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["path"], "/customers");
    assert_eq!(first["query"], "limit=2");
    assert_eq!(first["class"], "read");
    assert_eq!(first["decision"], "allow");
    assert_eq!(first["rule"], "default: read allow");
    let result = result_of(&recs, &first["id"]);
    assert_eq!(result["status"], 200);
    assert!(result["duration_ms"].is_u64());
    assert!(result["error"].is_null());
    assert_eq!(result["masked"]["kinds"]["email"], 2, "{result}");
    assert_eq!(
        result_of(&recs, &http[1]["id"])["masked"]["kinds"]["secret"],
        1
    );
    // The http record comes before its result.
    assert!(first["seq"].as_u64() < result["seq"].as_u64());
    assert_secret_in_no_file(&home.last_session());
    assert_verifies(&home);
}

#[test]
fn writes_are_refused_with_403_and_never_reach_the_upstream() {
    let up = Upstream::start();
    let home = Home::new();
    let script = r#"
        curl -s -X POST -H 'content-type: application/json' -d '{"name":"x"}' -w ' %{http_code}\n' "$SHOP_URL/customers"
        curl -s -X DELETE -w ' %{http_code}\n' "$SHOP_URL/customers/1"
        curl -s -X PATCH -w ' %{http_code}\n' "$SHOP_URL/customers/1"
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.out
            .contains(r#"{"error":"guard: rejected: POST /customers is a write request"#),
        "{}",
        r.out
    );
    assert_eq!(r.out.matches(" 403\n").count(), 3, "{}", r.out);
    assert!(up.seen().is_empty(), "the upstream saw {:?}", up.seen());

    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert_eq!(http.len(), 3);
    for h in &http {
        assert_eq!(h["decision"], "rejected");
        assert_eq!(h["class"], "write");
        assert_eq!(result_of(&recs, &h["id"])["status"], 403);
    }
    let approvals = of_type(&recs, "approval");
    assert_eq!(approvals.len(), 3);
    assert_eq!(approvals[0]["via"], "deny");
    assert_eq!(approvals[0]["id"], http[0]["id"]);
    assert_verifies(&home);
}

#[test]
fn a_50_mib_chunked_body_streams_through_without_being_held() {
    let up = Upstream::start();
    let home = Home::new();
    // The child's parent is guard: its peak resident memory is read when the body is through.
    let script = r#"
        start=$(date +%s%N)
        n=$(curl -s "$SHOP_URL/big" | wc -c)
        end=$(date +%s%N)
        echo "bytes=$n ms=$(( (end - start) / 1000000 ))"
        grep VmHWM /proc/$PPID/status
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.out.contains(&format!("bytes={}", upstream::BIG)),
        "{}",
        r.out
    );
    let hwm_kb: u64 = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {}", r.out));
    eprintln!(
        "guard streamed 50 MiB: {} peak RSS {} KiB",
        r.out
            .lines()
            .find(|l| l.starts_with("bytes="))
            .unwrap_or(""),
        hwm_kb
    );
    assert!(hwm_kb < 40 * 1024, "guard peaked at {hwm_kb} KiB");
    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert_eq!(result_of(&recs, &http[0]["id"])["status"], 200);
    assert_verifies(&home);
}

#[test]
fn sse_events_arrive_one_by_one_while_the_stream_is_open() {
    let up = Upstream::start();
    let home = Home::new();
    // The upstream sends each next event only after the client acknowledged the last one.
    let script = r#"
        curl -sN "$SHOP_URL/events" | while read -r line; do
            case "$line" in data:*) echo "got $line"; curl -s "$SHOP_URL/ack" >/dev/null;; esac
        done
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    for i in 1..=3 {
        assert!(
            r.out.contains(&format!("got data: event {i}\n")),
            "{}",
            r.out
        );
    }
    assert!(!r.out.contains("stalled"), "{}", r.out);
    assert_verifies(&home);
}

#[test]
fn a_hanging_upstream_gets_504_a_resetting_one_502_and_guard_keeps_serving() {
    let up = Upstream::start();
    let reset = upstream::resetting();
    let home = Home::new();
    let extra = format!(
        "[[target]]\nname = \"broken\"\nkind = \"http\"\nupstream = \"http://127.0.0.1:{reset}\"\n"
    );
    let script = r#"
        start=$(date +%s)
        curl -s -w ' %{http_code}\n' "$SHOP_URL/hang"
        echo "took=$(( $(date +%s) - start ))"
        curl -s -w ' %{http_code}\n' "$BROKEN_URL/anything"
        curl -s -o /dev/null -w 'after %{http_code}\n' "$SHOP_URL/customers"
    "#;
    let env = [("GUARD_HTTP_RESPONSE_TIMEOUT_MS", "1000")];
    let r = run(&home, &shop(up.port, &extra), script, &env);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.out
            .contains(r#"{"error":"guard: the upstream did not answer within 1 s"} 504"#),
        "{}",
        r.out
    );
    let took: u64 = r
        .out
        .split("took=")
        .nth(1)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(took < 5, "the timeout took {took} s");
    let broken = r
        .out
        .lines()
        .find(|l| l.ends_with(" 502"))
        .unwrap_or_else(|| panic!("{}", r.out));
    assert!(
        broken.starts_with(r#"{"error":"guard: the upstream failed"#),
        "{broken}"
    );
    assert!(r.out.contains("after 200"), "{}", r.out);
    let recs = records(&home);
    let http = of_type(&recs, "http");
    let hang = result_of(&recs, &http[0]["id"]);
    assert_eq!(hang["status"], 504);
    assert!(hang["error"].as_str().unwrap().contains("did not answer"));
    assert_eq!(result_of(&recs, &http[1]["id"])["status"], 502);
    assert_verifies(&home);
}

#[test]
fn bad_requests_get_clear_answers_and_guard_keeps_serving() {
    let up = Upstream::start();
    let home = Home::new();
    let script = r#"
        big=$(head -c 60000 /dev/zero | tr '\0' a)
        curl -s -o /dev/null -w 'oversized %{http_code}\n' -H "X-A: $big" -H "X-B: $big" -H "X-C: $big" "$SHOP_URL/customers"
        curl -s -w ' %{http_code}\n' -H 'Connection: Upgrade' -H 'Upgrade: websocket' "$SHOP_URL/socket"
        curl -s -w ' %{http_code}\n' "$SHOP_URL/gzip"
        bash -c 'port=${SHOP_URL##*:}; exec 3<>"/dev/tcp/127.0.0.1/${port%%/*}"; printf "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n" >&3; head -n 1 <&3'
        curl -s -o /dev/null -w 'after %{http_code}\n' "$SHOP_URL/customers"
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.out.contains("oversized 431"), "{}", r.out);
    assert!(
        r.out.contains(r#"{"error":"guard: denied by rule `built-in: protocol upgrades and CONNECT are refused`: GET /socket"} 403"#),
        "{}",
        r.out
    );
    assert!(
        r.out.contains(r#"{"error":"guard: the upstream sent a gzip-encoded body, which guard cannot mask"} 502"#),
        "{}",
        r.out
    );
    assert!(r.out.contains("HTTP/1.1 400 Bad Request"), "{}", r.out);
    assert!(r.out.contains("after 200"), "{}", r.out);
    assert!(!up.seen().iter().any(|s| s.path == "/socket"));
    assert_verifies(&home);
}

/// The child's proxy variables, as the egress test's script prints them.
fn assert_proxy_variables(out: &str) {
    let proxy = out.lines().find_map(|l| l.strip_prefix("proxy=")).unwrap();
    let urls: Vec<&str> = proxy.split(' ').collect();
    assert_eq!(urls.len(), 4);
    assert!(
        urls.iter()
            .all(|u| *u == urls[0] && u.starts_with("http://127.0.0.1:")),
        "{proxy}"
    );
    let no_proxy = out
        .lines()
        .find_map(|l| l.strip_prefix("no_proxy="))
        .unwrap();
    assert!(
        no_proxy.starts_with("localhost,127.0.0.1,::1,127.0.0.1:"),
        "{no_proxy}"
    );
    assert!(no_proxy.ends_with(" node=1"), "{no_proxy}");
}

#[test]
fn egress_tunnels_allowed_hosts_untouched_and_refuses_the_rest() {
    let up = Upstream::start();
    let home = Home::new();
    let config = shop(
        up.port,
        "[egress]\nmode = \"enforce\"\nallow = [\"127.0.0.1\"]\n",
    );
    let script = format!(
        r#"
        echo "proxy=$HTTPS_PROXY $HTTP_PROXY $https_proxy $http_proxy"
        echo "no_proxy=$NO_PROXY|$no_proxy node=$NODE_USE_ENV_PROXY"
        curl -s --noproxy '' -p -x "$HTTPS_PROXY" "http://127.0.0.1:{port}/customers"; echo
        curl -s --noproxy '' -p -x "$HTTPS_PROXY" -o /dev/null -w 'connect %{{http_connect}}\n' "http://blocked.invalid/"
        curl -s --noproxy '' -x "$HTTP_PROXY" -w ' %{{http_code}}\n' "http://blocked.invalid/x"
        curl -s --noproxy '' -x "$HTTP_PROXY" -w ' %{{http_code}}\n' "http://127.0.0.1:{port}/customers"
        "#,
        port = up.port
    );
    let r = run(&home, &config, &script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert_proxy_variables(&r.out);
    assert_eq!(
        r.out.matches(r#""email":"ada@example.com""#).count(),
        2,
        "{}",
        r.out
    );
    assert!(r.out.contains("connect 403"), "{}", r.out);
    assert!(
        r.out.contains(r#"{"error":"guard: egress to blocked.invalid:80 is not allowed (egress mode enforce: not in the allowlist)"} 403"#),
        "{}",
        r.out
    );
    // Tunnelled and proxied traffic is the agent's own: nothing is injected into it.
    assert!(
        up.seen()
            .iter()
            .all(|s| s.header("authorization").is_none())
    );

    let recs = records(&home);
    let egress = of_type(&recs, "egress");
    assert_eq!(egress.len(), 4, "{egress:?}");
    assert_eq!(egress[0]["host"], "127.0.0.1");
    assert_eq!(egress[0]["port"], up.port);
    assert_eq!(egress[0]["decision"], "allow");
    assert_eq!(egress[0]["rule"], "allowlist: 127.0.0.1");
    assert_eq!(egress[1]["host"], "blocked.invalid");
    assert_eq!(egress[1]["port"], 80);
    assert_eq!(egress[1]["decision"], "deny");
    assert_verifies(&home);
}

#[test]
fn egress_log_lets_unlisted_hosts_through_and_ask_without_an_approver_refuses() {
    let up = Upstream::start();
    let script = format!(
        r#"curl -s --noproxy '' -p -x "$HTTPS_PROXY" -w ' connect %{{http_connect}}\n' "http://localhost:{}/customers""#,
        up.port
    );
    let home = Home::new();
    let r = run(
        &home,
        &shop(up.port, "[egress]\nmode = \"log\"\n"),
        &script,
        &[],
    );
    assert!(r.out.contains(r#""email":"ada@example.com""#), "{}", r.out);
    let recs = records(&home);
    let egress = of_type(&recs, "egress");
    assert_eq!(egress[0]["host"], "localhost");
    assert_eq!(egress[0]["decision"], "allow");
    assert_eq!(egress[0]["rule"], "egress mode log: not in the allowlist");
    assert_verifies(&home);

    // No [egress] section: mode ask with the default allowlist, and nobody to ask.
    let home = Home::new();
    let r = run(&home, &shop(up.port, ""), &script, &[]);
    assert!(r.out.contains("connect 403"), "{}", r.out);
    let recs = records(&home);
    let egress = of_type(&recs, "egress");
    assert_eq!(egress[0]["decision"], "rejected");
    let approval = of_type(&recs, "approval");
    assert_eq!(approval[0]["id"], egress[0]["id"]);
    assert_verifies(&home);
}

#[test]
fn egress_off_sets_no_proxy_variables() {
    let home = Home::new();
    let config = "[egress]\nmode = \"off\"\n";
    let script =
        r#"echo "proxy=[${HTTPS_PROXY:-}${HTTP_PROXY:-}${https_proxy:-}${NODE_USE_ENV_PROXY:-}]""#;
    let r = run(&home, config, script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.out.contains("proxy=[]"), "{}", r.out);
    assert!(of_type(&records(&home), "egress").is_empty());
}

#[test]
fn a_missing_credential_stops_the_session_before_the_child_starts() {
    let home = Home::new();
    std::fs::write(home.path().join("guard.toml"), shop(9, "")).unwrap();
    let out = home
        .guard()
        .env_remove("SHOP_CREDENTIAL")
        .args(["-q", "-c", "guard.toml", "--", "sh", "-c", "echo ran"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = stderr(&out);
    assert!(
        err.contains("guard: target `shop`: SHOP_CREDENTIAL is not set in guard's environment"),
        "{err}"
    );
    assert!(err.contains("hint: export SHOP_CREDENTIAL"), "{err}");
    assert!(!stdout(&out).contains("ran"));
}

/// A certificate for `localhost` and 127.0.0.1, made with the openssl command line tool.
fn certificate(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        // A self-signed leaf, trusted directly: webpki refuses a CA certificate as a server's.
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    (cert, key)
}

#[test]
fn https_upstreams_speak_http2_and_trust_the_ca_in_ssl_cert_file() {
    let home = Home::new();
    let (cert, key) = certificate(home.path());
    let up = Upstream::start_tls(&cert, &key);
    let config = shop(up.port, "").replace("http://127.0.0.1", "https://localhost");
    let script = r#"curl -s -w ' %{http_code}\n' "$SHOP_URL/customers""#;
    let r = run(
        &home,
        &config,
        script,
        &[("SSL_CERT_FILE", cert.to_str().unwrap())],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(r.out.contains(r#""email":"a***@example.com""#), "{}", r.out);
    let seen = up.seen();
    assert_eq!(seen[0].version, "HTTP/2.0");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_verifies(&home);

    // With the system's roots alone guard does not trust the upstream, and says so (or, on a
    // machine with no CA bundle at all, refuses to start).
    let other = Home::new();
    let r = run(&other, &config, script, &[]);
    if r.code == Some(125) {
        assert!(
            r.err.contains("no trusted CA certificates found"),
            "{}",
            r.err
        );
    } else {
        assert!(r.out.contains("invalid peer certificate"), "{}", r.out);
        assert!(r.out.contains(" 502"), "{}", r.out);
    }
    assert_eq!(up.seen().len(), 1, "an untrusted upstream got a request");
}

/// Answers each request guard holds, as a human at another terminal would: reads the one-time
/// code from guard's stderr and runs `guard approve`. `allow` says which request ids to allow.
fn answer_requests(home: &Home, err: std::process::ChildStderr, allow: &[&str]) -> Vec<String> {
    use std::io::BufRead;
    let mut answered = Vec::new();
    for line in std::io::BufReader::new(err).lines() {
        let line = line.unwrap();
        let Some(rest) = line.split("guard approve ").nth(1) else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (id, code) = (words[0], words[3]);
        let verdict = if allow.contains(&id) {
            "--allow"
        } else {
            "--deny"
        };
        let out = home.run(&["approve", id, verdict, "--code", code]);
        assert!(out.status.success(), "{}", stderr(&out));
        answered.push(format!("{id} {verdict}"));
    }
    answered
}

#[test]
fn an_approved_write_goes_through_and_a_denied_one_does_not() {
    let up = Upstream::start();
    let home = Home::new();
    std::fs::write(home.path().join("guard.toml"), shop(up.port, "")).unwrap();
    let script = format!(
        r#"
        curl -s -X DELETE -w ' %{{http_code}}\n' "$SHOP_URL/customers/1"
        curl -s -X POST -w ' %{{http_code}}\n' "$SHOP_URL/customers"
        curl -s --noproxy '' -p -x "$HTTPS_PROXY" -o /dev/null -w 'connect %{{http_connect}}\n' "http://localhost:{}/"
        "#,
        up.port
    );
    let mut child = home
        .guard()
        .env("SHOP_CREDENTIAL", SECRET)
        .args(["-q", "-c", "guard.toml", "--approver", "socket", "--"])
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let answered = answer_requests(&home, child.stderr.take().unwrap(), &["h1", "e1"]);
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out).replace("\r\n", "\n");
    assert_eq!(answered, ["h1 --allow", "h2 --deny", "e1 --allow"]);
    // Nothing to mask: the upstream's body goes through byte for byte.
    assert!(text.contains(r#"{"changed": true} 200"#), "{text}");
    assert!(
        text.contains(r#"{"error":"guard: rejected: POST /customers"#),
        "{text}"
    );
    assert!(text.contains("connect 200"), "{text}");
    let seen = up.seen();
    assert!(
        seen.iter()
            .any(|s| s.method == "DELETE" && s.path == "/customers/1")
    );
    assert!(!seen.iter().any(|s| s.method == "POST"));

    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert_eq!(http[0]["decision"], "approved");
    assert_eq!(http[1]["decision"], "rejected");
    assert_eq!(of_type(&recs, "egress")[0]["decision"], "approved");
    let approvals = of_type(&recs, "approval");
    assert!(
        approvals.iter().all(|a| a["via"] == "socket"),
        "{approvals:?}"
    );
    assert_verifies(&home);
}

#[test]
fn a_request_without_the_sessions_url_is_refused() {
    let up = Upstream::start();
    let home = Home::new();
    // The same listener, reached without the secret path the child was given: what any other
    // local process would try.
    let script = r#"
        base=$(printf %s "$SHOP_URL" | sed -E 's#^(http://[^/]+)/.*#\1#')
        curl -s -w ' %{http_code}\n' "$base/customers"
        curl -s -w ' %{http_code}\n' "$base/wrong-secret/customers"
        curl -s -o /dev/null -w '%{http_code}\n' "$SHOP_URL/customers"
    "#;
    let r = run(&home, &shop(up.port, ""), script, &[]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert_eq!(r.out.matches(" 403\n").count(), 2, "{}", r.out);
    assert!(r.out.ends_with("200\n"), "{}", r.out);
    assert_eq!(
        up.seen().len(),
        1,
        "only the request with the secret arrived"
    );
    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert_eq!(http[0]["decision"], "deny");
    assert_eq!(http[0]["path"], "/customers");
    assert_eq!(
        http[2]["path"], "/customers",
        "the secret is not in the record"
    );
    assert_verifies(&home);
}

#[test]
fn rules_from_the_configuration_decide_requests() {
    let up = Upstream::start();
    let home = Home::new();
    let rules = r#"
[[rule]]
target = "shop"
match = "^POST /customers$"
action = "allow"

[[rule]]
class = ["read"]
match = "^GET /config"
action = "deny"
"#;
    let script = r#"
        curl -s -o /dev/null -w 'post %{http_code}\n' -X POST -d '{}' "$SHOP_URL/customers"
        curl -s -o /dev/null -w 'config %{http_code}\n' "$SHOP_URL/config"
        curl -s -o /dev/null -w 'delete %{http_code}\n' -X DELETE "$SHOP_URL/customers/1"
    "#;
    let r = run(&home, &shop(up.port, rules), script, &[]);
    assert!(
        r.out.contains("post 20"),
        "a rule allows this write: {}",
        r.out
    );
    assert!(
        r.out.contains("config 403"),
        "a rule denies this read: {}",
        r.out
    );
    assert!(
        r.out.contains("delete 403"),
        "the default still asks, and nobody answers: {}",
        r.out
    );
    let recs = records(&home);
    let http = of_type(&recs, "http");
    assert!(
        http[0]["rule"].as_str().unwrap().contains("rule 1"),
        "{}",
        http[0]
    );
    assert_eq!(http[1]["decision"], "deny");

    let bad = run(
        &home,
        &shop(up.port, "[[rule]]\nmatch = \"(\"\naction = \"allow\"\n"),
        "true",
        &[],
    );
    assert_eq!(bad.code, Some(125), "{}", bad.err);
    assert!(bad.err.contains("[[rule]] 1"), "{}", bad.err);
}

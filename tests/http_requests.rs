//! A real HTTP client library through guard's HTTP target: Python `requests` against the test
//! upstream on loopback. Reads come back masked and still parse as JSON; writes are refused with
//! a 403 whose JSON body says why, and never reach the upstream.

mod support;
#[path = "support/upstream.rs"]
mod upstream;

use serde_json::Value;
use support::{Home, stderr, stdout};
use upstream::Upstream;

const SECRET: &str = "sk-live-7Qm2x9Vb4Lp8Rt6Yw3Zc";

/// The JSON that follows `prefix ` on its line of the client's output.
fn json_line(out: &str, prefix: &str) -> Value {
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in {out}"));
    serde_json::from_str(line.trim()).unwrap()
}

#[test]
fn python_requests_reads_masked_json_and_is_refused_a_write() {
    let up = Upstream::start();
    let home = Home::new();
    let config = format!(
        r#"[[target]]
name = "shop"
kind = "http"
upstream = "http://127.0.0.1:{}"
credentials = {{ value_env = "SHOP_CREDENTIAL" }}
inject = {{ header = "Authorization", value = "Bearer {{secret}}" }}
"#,
        up.port
    );
    std::fs::write(home.path().join("guard.toml"), config).unwrap();
    let client = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/requests_shop.py"
    );
    let mut cmd = home.guard();
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
    let out = cmd
        .env("SHOP_CREDENTIAL", SECRET)
        .args(["-q", "-c", "guard.toml", "--", "python3", client])
        .output()
        .unwrap();
    let text = stdout(&out).replace("\r\n", "\n");
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));

    assert!(text.contains("get 200 application/json"), "{text}");
    // requests decoded the masked body: the shape of each email stays, the address does not.
    let customers = json_line(&text, "get-json ");
    assert_eq!(customers[0]["email"], "a***@example.com");
    assert_eq!(customers[1]["email"], "a***@example.com");
    assert_eq!(customers[0]["name"], "Ada Lovelace");
    assert!(!text.contains("ada@example.com"), "{text}");

    assert!(text.contains("post 403 application/json"), "{text}");
    let refusal = json_line(&text, "post-json ");
    let error = refusal["error"].as_str().unwrap();
    assert!(
        error.starts_with("guard: rejected: POST /customers is a write request"),
        "{error}"
    );
    assert!(!text.contains(SECRET));

    let seen = up.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].method, "GET");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
}

//! A real coding agent under guard: Claude Code (`claude -p`) with an egress allowlist that holds
//! only loopback. Its API host is not allowed, so the proxy refuses the CONNECT before it resolves
//! the name: the agent's first request never leaves the machine, and the transcript says which
//! host it tried. The API key is a dummy; nothing could use it even if a request got out.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Home, stderr};

#[test]
fn claude_code_is_refused_its_api_host_and_nothing_leaves_the_machine() {
    // tests/run.sh installs it; failing (not skipping) keeps a missing agent from passing quietly.
    let installed = Command::new("claude").arg("--version").output();
    assert!(
        installed.is_ok_and(|o| o.status.success()),
        "`claude` is not installed: npm install -g @anthropic-ai/claude-code"
    );
    let home = Home::new();
    // Claude Code's own HOME: onboarding done, so `-p` goes straight to the API.
    let agent_home = tempfile::Builder::new()
        .prefix("guard-agent-home-")
        .tempdir()
        .unwrap();
    std::fs::write(
        agent_home.path().join(".claude.json"),
        r#"{"hasCompletedOnboarding": true}"#,
    )
    .unwrap();
    std::fs::write(
        home.path().join("guard.toml"),
        "[egress]\nmode = \"enforce\"\nallow = [\"127.0.0.1\"]\n",
    )
    .unwrap();

    let mut cmd = home.guard();
    for name in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
        "NO_PROXY",
        "no_proxy",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "CLAUDE_CODE_USE_BEDROCK",
        "CLAUDE_CODE_USE_VERTEX",
    ] {
        cmd.env_remove(name);
    }
    // `claude -p` retries a refused API call for about a minute; the first refusals come within a
    // second, so 20 s is plenty and `timeout` (the child's own) ends it.
    let out = cmd
        .env("HOME", agent_home.path())
        .env("ANTHROPIC_API_KEY", "sk-ant-dummy-not-a-real-key")
        .args([
            "-q",
            "-c",
            "guard.toml",
            "--",
            "sh",
            "-c",
            "timeout 20 claude -p hi; echo \"claude exited $?\"",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("claude exited"), "{text}\n{}", stderr(&out));

    let transcript = std::fs::read_to_string(home.last_session().join("transcript.jsonl")).unwrap();
    let egress: Vec<Value> = transcript
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "egress")
        .collect();
    assert!(!egress.is_empty(), "no egress record: {transcript}");
    let api = egress
        .iter()
        .find(|r| r["host"] == "api.anthropic.com")
        .unwrap_or_else(|| panic!("no egress record for api.anthropic.com: {egress:?}"));
    assert_eq!(api["port"], 443);
    assert_eq!(api["decision"], "deny");
    assert_eq!(api["rule"], "egress mode enforce: not in the allowlist");
    // Every connection the agent asked for was refused: none was let out, to any host.
    for r in &egress {
        assert_eq!(r["decision"], "deny", "{r}");
    }
    let verify = home.run(&["verify", "last"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
}

//! The egress proxy: an HTTP proxy on loopback that the child gets as `HTTP_PROXY`/`HTTPS_PROXY`.
//! It decides each destination by host (the CONNECT target, or the host of a plain request's
//! absolute URI; never a `Host` header the client chose), tunnels what is allowed untouched (no
//! interception, no CA), and records every decision as an `egress` record.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio::sync::watch;

use super::body::{Body, BoxError, empty};
use super::error::{ProxyError, refusal};
use super::headers;
use super::server::Listener;
use super::upstream::{self, HttpClient, Timeouts};
use crate::approval::{Approver, Ask, Decision};
use crate::config::{Egress, EgressMode};
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

/// Allowed when `[egress] allow` is absent: what `claude`, `codex` and `gemini` need to reach
/// their model, sign in and refresh tokens, so `guard -- claude` works with `mode = "ask"` and
/// asks only about the rest. Wildcards are used only for domains a model vendor owns outright;
/// shared clouds are listed host by host (`*.googleapis.com` would also allow any Cloud Storage
/// bucket, a way out for data). Third-party telemetry (Sentry, Datadog, Segment, Statsig's own
/// domains) is left out on purpose: multi-tenant collectors take data from anyone, and the agents
/// work without them.
pub const DEFAULT_ALLOW: &[&str] = &[
    // Claude Code: the API, OAuth token exchange, and Anthropic's feature flags
    // (statsig.anthropic.com) are all on anthropic.com; subscription sign-in is on claude.ai and
    // claude.com.
    "api.anthropic.com",
    "statsig.anthropic.com",
    "*.anthropic.com",
    "claude.ai",
    "*.claude.ai",
    "claude.com",
    "*.claude.com",
    // Codex: the API and sign-in (api.openai.com, auth.openai.com); with a ChatGPT plan the model
    // is reached at chatgpt.com/backend-api.
    "api.openai.com",
    "*.openai.com",
    "chatgpt.com",
    // Gemini CLI: the Gemini API (API key), Code Assist (sign in with Google), token refresh.
    "generativelanguage.googleapis.com",
    "cloudcode-pa.googleapis.com",
    "oauth2.googleapis.com",
];

/// Host patterns: `*.example.com` matches any name under example.com but not example.com itself;
/// anything else (a name, an IP literal, `localhost`) matches exactly, ignoring case.
#[derive(Debug, Clone)]
pub struct Allowlist {
    patterns: Vec<String>,
}

impl Allowlist {
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Self {
        Allowlist {
            patterns: patterns.iter().map(|p| normalize(p.as_ref())).collect(),
        }
    }

    /// The first pattern that allows `host`.
    pub fn matching(&self, host: &str) -> Option<&str> {
        let host = normalize(host);
        self.patterns
            .iter()
            .find(|p| matches(p, &host))
            .map(String::as_str)
    }
}

fn matches(pattern: &str, host: &str) -> bool {
    match pattern.strip_prefix("*.") {
        Some(suffix) => host
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.len() > 1 && rest.ends_with('.')),
        None => pattern == host,
    }
}

/// `[::1]` and `::1`, `Example.COM.` and `example.com` are the same host.
fn normalize(host: &str) -> String {
    let host = host.trim();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// The running egress proxy.
pub struct EgressProxy {
    listener: Listener,
    tunnels: watch::Sender<bool>,
}

impl EgressProxy {
    /// Stops the proxy and closes open tunnels.
    pub fn shutdown(self, runtime: &Runtime) {
        let _ = self.tunnels.send(true);
        self.listener.shutdown(runtime);
    }
}

/// Starts the egress proxy and points the child's proxy variables at it; with `mode = "off"`,
/// starts nothing and sets nothing. `own` are guard's other listeners, which the child reaches
/// directly (`NO_PROXY`).
pub fn start(
    runtime: &Runtime,
    egress: &Egress,
    transcript: &Transcript,
    approver: &Approver,
    child_env: &mut ChildEnv,
    own: &[SocketAddr],
) -> Result<Option<EgressProxy>, StartError> {
    if egress.mode == EgressMode::Off {
        return Ok(None);
    }
    let fail = |message: String| StartError {
        code: 125,
        message: format!("egress proxy: {message}"),
        hint: Some("set [egress] mode = \"off\" to run without it".into()),
    };
    let timeouts = Timeouts::from_env();
    let allow = match &egress.allow {
        Some(list) => Allowlist::new(list),
        None => Allowlist::new(DEFAULT_ALLOW),
    };
    let (tunnels, stopped) = watch::channel(false);
    let proxy = Arc::new(Proxy {
        mode: egress.mode,
        allow,
        transcript: transcript.clone(),
        approver: approver.clone(),
        client: upstream::client(timeouts, false).map_err(fail)?,
        timeouts,
        ids: AtomicU64::new(0),
        stopped,
    });
    let handler: super::server::Handler = Arc::new(move |request| {
        let proxy = proxy.clone();
        Box::pin(async move { proxy.handle(request).await })
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = Listener::bind(runtime, addr, handler, true).map_err(|e| fail(e.to_string()))?;
    set_proxy_env(child_env, listener.addr, own);
    Ok(Some(EgressProxy { listener, tunnels }))
}

fn set_proxy_env(child_env: &mut ChildEnv, addr: SocketAddr, own: &[SocketAddr]) {
    let url = format!("http://{addr}");
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        child_env.set(name, url.as_str());
    }
    let mut bypass = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    bypass.extend(own.iter().map(|a| a.to_string()));
    let bypass = bypass.join(",");
    child_env.set("NO_PROXY", bypass.as_str());
    child_env.set("no_proxy", bypass.as_str());
    // Node's built-in fetch ignores the proxy variables unless this is set (Node 22.21+, 24+).
    child_env.set("NODE_USE_ENV_PROXY", "1");
}

struct Proxy {
    mode: EgressMode,
    allow: Allowlist,
    transcript: Transcript,
    approver: Approver,
    client: HttpClient,
    timeouts: Timeouts,
    ids: AtomicU64,
    stopped: watch::Receiver<bool>,
}

struct Ruling {
    decision: &'static str,
    rule: String,
    allowed: bool,
}

impl Proxy {
    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let (host, port) = match destination(&request) {
            Ok(d) => d,
            Err(message) => return refusal(StatusCode::BAD_REQUEST, &message),
        };
        let id = format!("e{}", self.ids.fetch_add(1, Ordering::Relaxed) + 1);
        let ruling = self.rule(&id, request.method(), &host, port).await;
        let record = json!({"id": id, "host": host, "port": port, "decision": ruling.decision, "rule": ruling.rule});
        if self.transcript.append("egress", record).is_err() {
            return ProxyError::CannotRecord.response();
        }
        if !ruling.allowed {
            let message = format!("egress to {host}:{port} is not allowed ({})", ruling.rule);
            return refusal(StatusCode::FORBIDDEN, &message);
        }
        if request.method() == Method::CONNECT {
            self.tunnel(request, &host, port).await
        } else {
            self.forward(request).await
        }
    }

    async fn rule(&self, id: &str, method: &Method, host: &str, port: u16) -> Ruling {
        if let Some(pattern) = self.allow.matching(host) {
            return ruling("allow", format!("allowlist: {pattern}"), true);
        }
        match self.mode {
            EgressMode::Log => ruling(
                "allow",
                "egress mode log: not in the allowlist".into(),
                true,
            ),
            EgressMode::Enforce | EgressMode::Off => {
                self.approver
                    .mark(&format!("denied egress to {host}:{port} ({id})"));
                ruling(
                    "deny",
                    "egress mode enforce: not in the allowlist".into(),
                    false,
                )
            }
            EgressMode::Ask => {
                let ask = Ask {
                    id: id.to_string(),
                    target: "egress".into(),
                    class: "egress".into(),
                    text: format!("{method} {host}:{port}"),
                    rule: "egress mode ask: not in the allowlist".into(),
                    // `a` allows this host, on any port, for the rest of the session.
                    shape: Some(host.to_string()),
                };
                let reply = self.approver.ask(ask).await;
                let allowed = reply.decision == Decision::Approved;
                ruling(reply.decision.as_str(), "egress mode ask".into(), allowed)
            }
        }
    }

    /// CONNECT (RFC 9110 §9.3.6): connect first, so a failure is still an HTTP answer, then
    /// answer 2xx and relay bytes both ways until either side closes or the session ends.
    async fn tunnel(&self, request: Request<Incoming>, host: &str, port: u16) -> Response<Body> {
        let connect = TcpStream::connect((host, port));
        let mut server = match tokio::time::timeout(self.timeouts.connect, connect).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => return ProxyError::Connect(format!("{host}:{port}: {e}")).response(),
            Err(_) => return ProxyError::Timeout(self.timeouts.connect.as_secs()).response(),
        };
        let mut stopped = self.stopped.clone();
        tokio::spawn(async move {
            let Ok(upgraded) = hyper::upgrade::on(request).await else {
                return;
            };
            let mut client = TokioIo::new(upgraded);
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                _ = stopped.changed() => {}
            }
        });
        Response::new(empty())
    }

    /// A plain-HTTP request in absolute form, forwarded as it is but for hop-by-hop fields.
    async fn forward(&self, request: Request<Incoming>) -> Response<Body> {
        let (mut parts, body) = request.into_parts();
        headers::strip_hop_by_hop(&mut parts.headers);
        parts.version = Version::HTTP_11;
        let request = Request::from_parts(parts, body);
        match upstream::send(&self.client, request, self.timeouts).await {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                headers::strip_hop_by_hop(&mut parts.headers);
                let body = body.map_err(|e| Box::new(e) as BoxError).boxed_unsync();
                Response::from_parts(parts, body)
            }
            Err(e) => e.response(),
        }
    }
}

fn ruling(decision: &'static str, rule: String, allowed: bool) -> Ruling {
    Ruling {
        decision,
        rule,
        allowed,
    }
}

/// The host and port a proxy request is for: the CONNECT target (authority-form, RFC 9112
/// §3.2.3), or the absolute URI of a plain request (RFC 9112 §3.2.2).
fn destination(request: &Request<Incoming>) -> Result<(String, u16), String> {
    let uri = request.uri();
    if request.method() == Method::CONNECT {
        let authority = uri.authority().ok_or("CONNECT needs host:port")?;
        let port = authority.port_u16().ok_or("CONNECT needs host:port")?;
        return Ok((normalize(authority.host()), port));
    }
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(authority)) => Ok((
            normalize(authority.host()),
            authority.port_u16().unwrap_or(80),
        )),
        (Some(_), Some(_)) => {
            Err("only http:// URLs are proxied as requests; https goes through CONNECT".into())
        }
        _ => Err(
            "this is guard's egress proxy: send CONNECT host:port or an absolute http:// URL"
                .into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_match_subdomains_only() {
        let list = Allowlist::new(&[
            "*.npmjs.org",
            "api.anthropic.com",
            "127.0.0.1",
            "::1",
            "localhost",
        ]);
        assert_eq!(list.matching("registry.npmjs.org"), Some("*.npmjs.org"));
        assert_eq!(list.matching("a.b.npmjs.org"), Some("*.npmjs.org"));
        assert_eq!(list.matching("npmjs.org"), None);
        assert_eq!(list.matching("evilnpmjs.org"), None);
        assert_eq!(
            list.matching("API.Anthropic.com."),
            Some("api.anthropic.com")
        );
        assert_eq!(list.matching("api.anthropic.com.evil.com"), None);
        assert_eq!(list.matching("127.0.0.1"), Some("127.0.0.1"));
        assert_eq!(list.matching("127.0.0.2"), None);
        assert_eq!(list.matching("[::1]"), Some("::1"));
        assert_eq!(list.matching("localhost"), Some("localhost"));
    }

    #[test]
    fn the_default_list_lets_the_agents_reach_their_models_only() {
        let list = Allowlist::new(DEFAULT_ALLOW);
        for host in [
            "api.anthropic.com",
            "statsig.anthropic.com",
            "api.openai.com",
            "auth.openai.com",
            "chatgpt.com",
            "generativelanguage.googleapis.com",
            "cloudcode-pa.googleapis.com",
        ] {
            assert!(list.matching(host).is_some(), "{host}");
        }
        for host in [
            "storage.googleapis.com",
            "sentry.io",
            "example.com",
            "pastebin.com",
        ] {
            assert!(list.matching(host).is_none(), "{host}");
        }
    }

    #[test]
    fn proxy_variables_name_the_proxy_and_bypass_loopback() {
        let mut env = ChildEnv {
            vars: Vec::new(),
            removed: Vec::new(),
        };
        let own = [SocketAddr::from(([127, 0, 0, 1], 4000))];
        set_proxy_env(&mut env, SocketAddr::from(([127, 0, 0, 1], 3128)), &own);
        let get = |k: &str| {
            env.vars
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(get("HTTPS_PROXY").unwrap(), "http://127.0.0.1:3128");
        assert_eq!(get("http_proxy").unwrap(), "http://127.0.0.1:3128");
        assert_eq!(
            get("NO_PROXY").unwrap(),
            "localhost,127.0.0.1,::1,127.0.0.1:4000"
        );
        assert_eq!(get("NODE_USE_ENV_PROXY").unwrap(), "1");
    }
}

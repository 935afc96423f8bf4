//! HTTP targets and egress: a reverse proxy on loopback for each `kind = "http"` target (the
//! child gets its URL; guard holds the credential, decides, records and masks), and the egress
//! proxy the child gets as `HTTP_PROXY`/`HTTPS_PROXY` (`egress.rs`).
//!
//! Records: each request leaves an `http` record (`id`, `target`, `method`, `path`, `class`,
//! `decision`, `rule`, and the masked `query` when there is one) written before anything goes
//! upstream, then a `result` record with the same `id` holding `status`, `masked`, `duration_ms`
//! and `error`, written when the response body has been sent. The SPEC lists those three on the
//! `http` record itself; the transcript is append-only and the `http` line must exist before the
//! request leaves, so they follow in `result`, as they do for `query` records.

pub mod body;
pub mod egress;
pub mod error;
pub mod headers;
pub mod mask;
pub mod policy;
pub mod reverse;
pub mod server;
pub mod upstream;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use hyper::header::HeaderName;
use tokio::runtime::Runtime;

use crate::approval::Approver;
use crate::config::{Config, Credentials, Target, TargetKind};
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

pub use egress::EgressProxy;
pub use mask::{BodyMasker, NoMask, StreamMasker};
pub use reverse::SecretSource;

use reverse::{Injection, Reverse};
use server::Listener;
use upstream::{Timeouts, Upstream};

/// What HTTP targets are built with; other parts of guard replace the defaults.
pub struct Parts {
    pub policy: Arc<crate::policy::Policy>,
    pub masker: Arc<dyn BodyMasker>,
    /// Credential sources by target name (e.g. broker leases). A target not listed here uses
    /// its static `credentials = { value_env = "..." }`.
    pub secrets: HashMap<String, SecretSource>,
}

impl Default for Parts {
    fn default() -> Self {
        Parts {
            policy: Arc::new(crate::policy::Policy::default()),
            masker: Arc::new(NoMask),
            secrets: HashMap::new(),
        }
    }
}

/// The running reverse proxies of a session.
#[derive(Default)]
pub struct HttpGateways {
    listeners: Vec<(String, Listener)>,
}

impl HttpGateways {
    /// The loopback addresses of the proxies (for the child's `NO_PROXY`).
    pub fn addresses(&self) -> Vec<SocketAddr> {
        self.listeners.iter().map(|(_, l)| l.addr).collect()
    }

    /// Stops accepting and closes open connections.
    pub fn shutdown(self, runtime: &Runtime) {
        for (_, listener) in self.listeners {
            listener.shutdown(runtime);
        }
    }
}

/// Starts a reverse proxy for every `kind = "http"` target and sets each target's variable in
/// the child's environment to `http://127.0.0.1:<port>`.
pub fn start_with(
    runtime: &Runtime,
    config: &Config,
    transcript: &Transcript,
    approver: &Approver,
    child_env: &mut ChildEnv,
    mut parts: Parts,
) -> Result<HttpGateways, StartError> {
    let targets: Vec<&Target> = config
        .targets
        .iter()
        .filter(|t| t.kind == TargetKind::Http)
        .collect();
    let mut gateways = HttpGateways::default();
    if targets.is_empty() {
        return Ok(gateways);
    }
    let timeouts = Timeouts::from_env();
    let (upstreams, client) = connect_plan(&targets, timeouts)?;
    let ids = Arc::new(AtomicU64::new(0));
    for (target, upstream) in targets.into_iter().zip(upstreams) {
        let secret = parts.secrets.remove(&target.name);
        let inject = injection(target, secret, transcript, child_env)?;
        let path_secret = crate::secret::session_secret();
        transcript.redact(&path_secret);
        let reverse = Arc::new(Reverse {
            target: target.name.clone(),
            upstream,
            client: client.clone(),
            timeouts,
            policy: parts.policy.clone(),
            masker: parts.masker.clone(),
            inject,
            transcript: transcript.clone(),
            approver: approver.clone(),
            ids: ids.clone(),
            path_secret: format!("/{}", path_secret.as_str()),
        });
        let listener =
            Listener::bind(runtime, target.listen, reverse.handler(), false).map_err(|e| {
                target_error(target, format!("cannot listen on {}: {e}", target.listen))
            })?;
        child_env.set(
            &target.env,
            format!("http://{}/{}", listener.addr, path_secret.as_str()),
        );
        gateways.listeners.push((target.name.clone(), listener));
    }
    Ok(gateways)
}

/// Each target's upstream, and the one client that reaches them all.
fn connect_plan(
    targets: &[&Target],
    timeouts: Timeouts,
) -> Result<(Vec<Upstream>, upstream::HttpClient), StartError> {
    let mut upstreams = Vec::new();
    for target in targets {
        let upstream = Upstream::parse(&target.upstream)
            .map_err(|m| target_error(target, format!("upstream {m}")))?;
        upstreams.push(upstream);
    }
    let needs_tls = upstreams.iter().any(Upstream::is_tls);
    let client = upstream::client(timeouts, needs_tls).map_err(|m| StartError {
        code: 125,
        message: format!("HTTPS upstreams: {m}"),
        hint: Some("install the system CA bundle, or point SSL_CERT_FILE at a PEM bundle".into()),
    })?;
    Ok((upstreams, client))
}

/// The header a target injects and where its secret comes from. Without `inject`, a credential
/// goes in `Authorization: Bearer {secret}`, the common case.
fn injection(
    target: &Target,
    source: Option<SecretSource>,
    transcript: &Transcript,
    child_env: &mut ChildEnv,
) -> Result<Option<Injection>, StartError> {
    let source = match (source, &target.credentials) {
        (Some(source), _) => source,
        (None, None) => return Ok(None),
        (None, Some(Credentials::StaticValue { value_env })) => {
            let secret = static_secret(target, value_env, child_env)?;
            transcript.redact(&secret);
            Arc::new(move || Ok(secret.clone()))
        }
        (None, Some(_)) => {
            return Err(target_error(
                target,
                "its credentials come from the broker, which this build cannot reach".into(),
            ));
        }
    };
    let (header, template) = match &target.inject {
        Some(inject) => (inject.header.as_str(), inject.value.clone()),
        None => ("authorization", "Bearer {secret}".to_string()),
    };
    let header = HeaderName::from_bytes(header.as_bytes())
        .map_err(|_| target_error(target, format!("inject: `{header}` is not a header name")))?;
    Ok(Some(Injection {
        header,
        template,
        secret: source,
    }))
}

/// Reads a static secret from guard's environment and takes the variable out of the child's,
/// whatever its name: the agent must never hold the credential guard injects for it.
fn static_secret(
    target: &Target,
    name: &str,
    child_env: &mut ChildEnv,
) -> Result<String, StartError> {
    child_env.vars.retain(|(k, _)| k != name);
    if !child_env.removed.iter().any(|r| r == name) {
        child_env.removed.push(name.to_string());
    }
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(value),
        _ => Err(StartError {
            code: 125,
            message: format!(
                "target `{}`: {name} is not set in guard's environment",
                target.name
            ),
            hint: Some(format!("export {name} before starting guard")),
        }),
    }
}

fn target_error(target: &Target, message: String) -> StartError {
    StartError {
        code: 125,
        message: format!("target `{}`: {message}", target.name),
        hint: None,
    }
}

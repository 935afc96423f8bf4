//! The PostgreSQL gateway of one `kind = "postgres"` target: a loopback listener that speaks the
//! v3 wire protocol to the child's clients, authenticates them with the session secret, and
//! serves each from its own upstream connection logged in with the real credential.
//!
//! Files, one concern each: `frame` (codec), `message` (the few messages decoded or built),
//! `startup` (client handshake), `scram` (server-side SCRAM), `upstream` and `tls` (the real
//! server), `frontend`/`backend`/`relay` (the message-by-message relay), `statement` (records
//! and response matching), `cancel` (cancel keys), `connection` (one client's life).

mod backend;
mod cancel;
mod commit;
mod connection;
mod enforce;
pub mod frame;
mod frontend;
mod mask;
pub mod message;
mod relay;
mod scram;
mod startup;
mod statement;
mod status;
mod tls;
mod upstream;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, watch};

pub use commit::Commit;

use crate::approval::Approver;
use crate::broker::CredentialHandle;
use crate::config::Target;
use crate::mask::Masker;
use crate::policy::Policy;
use crate::record::transcript::Transcript;
use crate::secret::{random, session_secret};
use crate::session::StartError;
use crate::session::env::ChildEnv;

use cancel::CancelMap;
use statement::Ctx;
use upstream::UpstreamConfig;

/// The user name clients log in to guard with; the upstream user is the credential's.
const LOCAL_USER: &str = "guard";
/// How long the start-up check of the upstream may take before the session gives up.
const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Everything the connections of one target share.
pub struct Shared {
    target: Arc<str>,
    database: String,
    upstream: UpstreamConfig,
    verifier: scram::Verifier,
    cancels: Arc<CancelMap>,
    transcript: Transcript,
    ids: Arc<AtomicU64>,
    conns: Arc<AtomicU64>,
    /// How query records reach the file: one committer for every target's connections.
    commit: Commit,
    /// The session's rules: what each statement's class leads to.
    policy: Arc<Policy>,
    /// Who is asked when the policy says `ask`.
    approver: Approver,
    /// What masks result values before the client sees them.
    masker: Masker,
}

/// Session-wide counters and signals, shared by every gateway.
pub struct Common<'a> {
    pub transcript: &'a Transcript,
    pub ids: Arc<AtomicU64>,
    pub conns: Arc<AtomicU64>,
    /// The group commit of every target's query records (they share one event loop).
    pub commit: Commit,
    pub shutdown: watch::Receiver<bool>,
    /// Held by every task; the session waits until all are dropped.
    pub alive: mpsc::Sender<()>,
    /// The target's credential (static, or leased and kept fresh by the broker).
    pub credential: Option<CredentialHandle>,
    pub policy: Arc<Policy>,
    pub approver: Approver,
    pub masker: Masker,
}

/// Starts the gateway of one postgres target: reads its credential, checks the upstream
/// accepts it, listens, and puts the target's URL (with the session secret) in `env`.
pub fn start(
    runtime: &Runtime,
    io: &Handle,
    target: &Target,
    common: Common<'_>,
    env: &mut ChildEnv,
) -> Result<(), StartError> {
    let Some(credential) = common.credential.clone() else {
        return Err(fail(
            target,
            "no credentials configured".into(),
            "add credentials = { broker = \"<mount>/creds/<role>\" } or { username = \"...\", password_env = \"VAR\" }",
        ));
    };
    let secret = session_secret();
    common.transcript.redact(&secret);
    let upstream = upstream_config(target, credential)?;
    probe(runtime, target, &upstream)?;
    let (listener, local) = listen(target)?;
    let mut salt = [0u8; 16];
    random(&mut salt);
    let shared = Arc::new(Shared {
        target: target.name.as_str().into(),
        database: upstream.database.clone(),
        verifier: scram::Verifier::new(secret.as_bytes(), &salt, scram::ITERATIONS),
        upstream,
        cancels: Arc::new(CancelMap::default()),
        transcript: common.transcript.clone(),
        ids: common.ids,
        conns: common.conns,
        commit: common.commit,
        policy: common.policy,
        approver: common.approver,
        masker: common.masker,
    });
    let url = format!(
        "postgres://{LOCAL_USER}:{}@{local}/{}",
        secret.as_str(),
        percent_encode(&shared.database)
    );
    env.set(&target.env, url);
    io.spawn(async move {
        if let Ok(listener) = TcpListener::from_std(listener) {
            accept_loop(shared, listener, common.shutdown, common.alive).await;
        }
    });
    Ok(())
}

/// Binds the target's loopback listener (config validation made sure it is loopback).
fn listen(target: &Target) -> Result<(std::net::TcpListener, SocketAddr), StartError> {
    let bound = std::net::TcpListener::bind(target.listen)
        .and_then(|l| l.set_nonblocking(true).map(|()| l))
        .and_then(|l| l.local_addr().map(|addr| (l, addr)));
    bound.map_err(|e| {
        fail(
            target,
            format!("cannot listen on {}: {e}", target.listen),
            "choose another `listen` address, or leave it out for a free port",
        )
    })
}

/// Accepts clients until the session shuts down; each gets its own task.
async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.wait_for(|stop| *stop) => return,
        };
        match accepted {
            Ok((socket, peer)) => {
                let (shared, stop, alive) = (shared.clone(), shutdown.clone(), alive.clone());
                tokio::spawn(async move {
                    connection::serve(shared, socket, peer, stop).await;
                    drop(alive);
                });
            }
            // Out of file descriptors and the like: pause rather than spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

impl Shared {
    fn context(&self) -> Ctx {
        Ctx {
            target: self.target.clone(),
            conn: self.conns.fetch_add(1, Ordering::Relaxed) + 1,
            transcript: self.transcript.clone(),
            ids: self.ids.clone(),
            commit: self.commit.clone(),
        }
    }

    /// One line on guard's stderr, which is the human's terminal: short, and not repeated.
    fn alert(&self, message: &str, hint: &str) {
        super::alert(&format!("{message}; hint: {hint}"));
    }
}

fn upstream_config(
    target: &Target,
    credential: CredentialHandle,
) -> Result<UpstreamConfig, StartError> {
    let username = credential.current().username;
    let (host, address) = split_upstream(&target.upstream);
    let tls_config = tls::client_config(target.tls).map_err(|e| {
        fail(
            target,
            e,
            "use tls = \"require\" or install the system's CA certificates",
        )
    })?;
    Ok(UpstreamConfig {
        address,
        host,
        // libpq's rule: the database defaults to the user name.
        database: target.database.clone().unwrap_or(username),
        credential,
        tls: target.tls,
        tls_config,
    })
}

/// `host:port`, `host` (port 5432), `[v6]:port`: the host (for TLS names) and a connectable
/// address.
fn split_upstream(upstream: &str) -> (String, String) {
    let upstream = upstream.trim();
    if let Some(rest) = upstream.strip_prefix('[')
        && let Some((host, tail)) = rest.split_once(']')
    {
        let port = tail.strip_prefix(':').unwrap_or("5432");
        return (host.to_string(), format!("[{host}]:{port}"));
    }
    match upstream.rsplit_once(':') {
        Some((host, _port)) if !host.contains(':') => (host.to_string(), upstream.to_string()),
        // A bare IPv6 address has colons but no port.
        _ if upstream.contains(':') => (upstream.to_string(), format!("[{upstream}]:5432")),
        _ => (upstream.to_string(), format!("{upstream}:5432")),
    }
}

/// Logs in upstream once before the child starts, so a wrong password or a server that is down
/// stops the session with exit 125 instead of surprising the agent later.
fn probe(runtime: &Runtime, target: &Target, config: &UpstreamConfig) -> Result<(), StartError> {
    let params = [("application_name".to_string(), "guard".to_string())];
    let attempt = runtime.block_on(async {
        let login = upstream::connect(config, &params);
        let mut upstream = tokio::time::timeout(PROBE_TIMEOUT, login)
            .await
            .map_err(|_| upstream::UpstreamError::Timeout(config.address.clone()))??;
        use tokio::io::AsyncWriteExt;
        let _ = upstream.stream.write_all(b"X\0\0\0\x04").await;
        Ok::<_, upstream::UpstreamError>(())
    });
    attempt.map_err(|e| fail(target, e.to_string(), e.hint()))
}

fn fail(target: &Target, message: String, hint: &str) -> StartError {
    StartError {
        code: 125,
        message: format!("target `{}`: {message}", target.name),
        hint: (!hint.is_empty()).then(|| hint.to_string()),
    }
}

/// Escapes a database name for the path of a URL (RFC 3986 unreserved characters pass).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_addresses_get_a_default_port() {
        assert_eq!(
            split_upstream("db.internal:6432"),
            ("db.internal".into(), "db.internal:6432".into())
        );
        assert_eq!(
            split_upstream("db.internal"),
            ("db.internal".into(), "db.internal:5432".into())
        );
        assert_eq!(split_upstream("[::1]:7"), ("::1".into(), "[::1]:7".into()));
        assert_eq!(split_upstream("::1"), ("::1".into(), "[::1]:5432".into()));
    }

    #[test]
    fn database_names_are_escaped_for_urls() {
        assert_eq!(percent_encode("shop"), "shop");
        assert_eq!(percent_encode("my db/x"), "my%20db%2Fx");
    }
}

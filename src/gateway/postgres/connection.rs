//! One client connection from accept to close: startup and authentication with the session
//! secret, the upstream login, the greeting the client sees, the relay, and the records.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::Shared;
use super::cancel::UpstreamKey;
use super::enforce::Guard;
use super::mask::Catalog;
use super::message::{self, sqlstate};
use super::relay::{self, Ends};
use super::startup::{self, HandshakeError, Opening};
use super::statement::Ctx;
use super::upstream;

/// How long a client has to start up and authenticate (the server's `authentication_timeout`).
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// Startup parameters that would change who the session acts as, which no statement policy
/// would see; the client must use SQL (and meet the policy) instead.
const REFUSED_PARAMS: &[&str] = &["role", "session_authorization", "replication"];

/// Serves one accepted client connection to its end. Never panics on what the client sends.
pub async fn serve(
    shared: Arc<Shared>,
    mut socket: TcpStream,
    peer: SocketAddr,
    shutdown: watch::Receiver<bool>,
) {
    let _ = socket.set_nodelay(true);
    let mut buf = BytesMut::with_capacity(1024);
    let opening = tokio::time::timeout(STARTUP_TIMEOUT, startup::open(&mut socket, &mut buf)).await;
    let params = match opening {
        Ok(Ok(Opening::Session(params))) => params,
        Ok(Ok(Opening::Cancel { pid, key })) => return shared.cancel(pid, &key).await,
        Ok(Err(e)) => return refuse(&mut socket, e).await,
        Err(_) => return,
    };
    let ctx = Arc::new(shared.context());
    let client = peer.to_string();
    // Fail closed: a connection the transcript cannot show is not served.
    if let Err(e) = ctx.record_connection("open", &client, None) {
        let message = format!("guard: cannot record the connection, so it was refused: {e}");
        return refuse(
            &mut socket,
            HandshakeError::fatal(sqlstate::IO_ERROR, message),
        )
        .await;
    }
    let error = session(&shared, &ctx, socket, buf, params, shutdown).await;
    // Too late to refuse anything: a failure is the transcript's, reported when it happened.
    let _ = ctx.record_connection("close", &client, error.as_deref());
}

/// Tells the client why, when it can understand it, and closes.
async fn refuse(socket: &mut TcpStream, error: HandshakeError) {
    if let HandshakeError::Fatal { sqlstate, message } = &error {
        let _ = socket
            .write_all(&message::error_response("FATAL", sqlstate, message))
            .await;
    }
    let _ = socket.shutdown().await;
}

/// Authenticates, connects upstream and relays; returns what went wrong, if anything.
async fn session(
    shared: &Shared,
    ctx: &Arc<Ctx>,
    mut socket: TcpStream,
    mut buf: BytesMut,
    params: Vec<(String, String)>,
    shutdown: watch::Receiver<bool>,
) -> Option<String> {
    let login = tokio::time::timeout(
        STARTUP_TIMEOUT,
        login(shared, &mut socket, &mut buf, params),
    );
    let params = match login.await {
        Ok(Ok(params)) => params,
        Ok(Err(e)) => {
            let why = e.to_string();
            refuse(&mut socket, e).await;
            return Some(why);
        }
        Err(_) => return Some("the client did not finish logging in".into()),
    };
    let upstream = match upstream::connect(&shared.upstream, &params).await {
        Ok(upstream) => upstream,
        Err(e) => {
            let message = format!("guard: target `{}`: {e}", shared.target);
            shared.alert(&message, e.hint());
            let code = match e {
                upstream::UpstreamError::Refused(_) | upstream::UpstreamError::Expired(_) => {
                    sqlstate::CONNECTION_REJECTED
                }
                _ => sqlstate::CANNOT_CONNECT,
            };
            let answer = message::error_with_hint("FATAL", code, &message, Some(e.hint()));
            let _ = socket.write_all(&answer).await;
            let _ = socket.shutdown().await;
            return Some(message);
        }
    };
    relay_session(shared, ctx, socket, buf, upstream, shutdown).await
}

/// Checks the startup parameters and the session secret; returns the parameters to pass on.
async fn login(
    shared: &Shared,
    socket: &mut TcpStream,
    buf: &mut BytesMut,
    params: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, HandshakeError> {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let user = get("user").ok_or_else(|| {
        HandshakeError::fatal(
            sqlstate::INVALID_AUTHORIZATION,
            "no PostgreSQL user name specified in startup packet",
        )
    })?;
    startup::authenticate(socket, buf, &shared.verifier, &user).await?;
    // libpq's rule: the database defaults to the user name.
    let database = get("database").unwrap_or_else(|| user.clone());
    if database != shared.database {
        return Err(HandshakeError::fatal(
            sqlstate::INVALID_CATALOG_NAME,
            format!(
                "guard: target `{}` serves database \"{}\", not \"{database}\"",
                shared.target, shared.database
            ),
        ));
    }
    if let Some((name, _)) = params
        .iter()
        .find(|(k, _)| REFUSED_PARAMS.contains(&k.as_str()))
    {
        return Err(HandshakeError::fatal(
            sqlstate::INSUFFICIENT_PRIVILEGE,
            format!("guard: the startup parameter `{name}` is not allowed through guard"),
        ));
    }
    Ok(params
        .into_iter()
        .filter(|(k, _)| k != "user" && k != "database")
        .collect())
}

/// Greets the client as the server would after login, then relays.
async fn relay_session(
    shared: &Shared,
    ctx: &Arc<Ctx>,
    mut socket: TcpStream,
    buf: BytesMut,
    upstream: upstream::Upstream,
    shutdown: watch::Receiver<bool>,
) -> Option<String> {
    let upstream_key = upstream
        .key
        .clone()
        .map(|(pid, key)| UpstreamKey { pid, key });
    let registration = upstream_key.clone().map(|k| shared.cancels.register(k));
    let mut greeting = BytesMut::new();
    greeting.extend_from_slice(&message::authentication(0, &[]));
    for frame in &upstream.greeting {
        greeting.extend_from_slice(frame);
    }
    if let Some(reg) = &registration {
        let key = i32::from_be_bytes(reg.key);
        greeting.extend_from_slice(&message::backend_key_data(reg.pid, key));
    }
    greeting.extend_from_slice(&message::ready_for_query(upstream.status));
    if let Err(e) = socket.write_all(&greeting).await {
        return Some(format!("the client went away during startup: {e}"));
    }
    let (client_read, client_write) = socket.into_split();
    let (upstream_read, upstream_write) = upstream.stream.split();
    let ends = Ends {
        client_read: Box::new(client_read),
        client_write: Box::new(client_write),
        client_buf: buf,
        upstream_read,
        upstream_write,
        upstream_buf: upstream.buf,
    };
    let guard = Guard {
        policy: shared.policy.clone(),
        approver: shared.approver.clone(),
        masker: shared.masker.clone(),
    };
    let masking = (shared.masker.clone(), Catalog::new(shared.upstream.clone()));
    let lease = upstream.lease;
    let outcome = relay::run(
        ctx.clone(),
        guard,
        ends,
        (upstream.status, lease),
        shutdown,
        masking,
    )
    .await;
    drop(registration);
    if let (true, Some(key)) = (outcome.cancel_upstream, upstream_key) {
        let _ = upstream::cancel(&shared.upstream, key.pid, &key.key).await;
    }
    if outcome.upstream_failed
        && let Some(why) = &outcome.error
    {
        let message = format!("guard: target `{}`: {why}", shared.target);
        shared.alert(&message, "check the upstream server's log");
    }
    outcome.error
}

impl Shared {
    /// Forwards a client's CancelRequest to the server process it maps to. The client gets no
    /// reply either way, as from the server (which also never says whether a key matched).
    async fn cancel(&self, pid: i32, key: &Bytes) {
        if let Some(upstream) = self.cancels.lookup(pid, key) {
            let _ = upstream::cancel(&self.upstream, upstream.pid, &upstream.key).await;
        }
    }
}

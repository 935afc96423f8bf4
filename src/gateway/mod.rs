//! The listeners guard opens for each target on loopback, and their lifecycle: started before the
//! child (their addresses go into its environment), stopped when the session ends.

pub mod http;
pub mod postgres;

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, watch};

use secrecy::ExposeSecret;

use crate::approval::Approver;
use crate::broker::CredentialHandle;
use crate::config::{Config, TargetKind};
use crate::mask::Masker;
use crate::policy::Policy;
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

/// How long shutdown waits for open connections to close and write their records.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The longest a result record waits in memory before it is written (see
/// `Transcript::append_members_later`).
const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The running gateways of a session.
pub struct Gateways {
    shutdown: watch::Sender<bool>,
    /// The thread that serves every PostgreSQL connection; `None` without such targets.
    thread: Option<std::thread::JoinHandle<()>>,
    http: Option<http::HttpGateways>,
    egress: Option<http::EgressProxy>,
}

/// What every gateway shares: the records, who approves, and the rules.
pub struct Shared<'a> {
    pub transcript: &'a Transcript,
    pub approver: &'a Approver,
    pub policy: &'a Arc<Policy>,
    /// Each target's credential by target name, static or leased.
    pub credentials: &'a HashMap<String, CredentialHandle>,
    pub masker: &'a Masker,
}

/// Starts a gateway per configured target and the egress proxy, and sets their variables in the
/// child's environment. A target guard cannot serve stops the session before the child starts,
/// with whatever had started stopped again.
pub fn start(
    runtime: &Runtime,
    config: &Config,
    shared: Shared,
    env: &mut ChildEnv,
) -> Result<Gateways, StartError> {
    let (shutdown, stop) = watch::channel(false);
    let mut gateways = Gateways {
        shutdown,
        thread: None,
        http: None,
        egress: None,
    };
    match start_all(&mut gateways, runtime, config, &shared, stop, env) {
        Ok(()) => Ok(gateways),
        Err(e) => {
            gateways.shutdown(runtime);
            Err(e)
        }
    }
}

fn start_all(
    gateways: &mut Gateways,
    runtime: &Runtime,
    config: &Config,
    shared: &Shared,
    stop: watch::Receiver<bool>,
    env: &mut ChildEnv,
) -> Result<(), StartError> {
    start_postgres(gateways, runtime, config, shared, stop, env)?;
    // HTTP targets before egress: the egress proxy lists their addresses in the child's NO_PROXY.
    let secrets = shared
        .credentials
        .iter()
        .map(|(name, handle)| {
            let handle = handle.clone();
            // Each request checks the lease out: once it has ended unrenewed, requests are
            // refused rather than sent with a credential the broker no longer stands behind.
            let source: http::SecretSource = Arc::new(move || match handle.checkout() {
                Ok((credential, _)) => Ok(credential.password.expose_secret().to_string()),
                Err(expired) => Err(expired.to_string()),
            });
            (name.clone(), source)
        })
        .collect();
    let parts = http::Parts {
        policy: shared.policy.clone(),
        masker: Arc::new(shared.masker.clone()),
        secrets,
    };
    let http = http::start_with(
        runtime,
        config,
        shared.transcript,
        shared.approver,
        env,
        parts,
    )?;
    let own = http.addresses();
    gateways.http = Some(http);
    gateways.egress = http::egress::start(
        runtime,
        &config.egress,
        shared.transcript,
        shared.approver,
        env,
        &own,
    )?;
    Ok(())
}

/// PostgreSQL connections are served on a thread of their own with a single-threaded runtime,
/// as PgBouncer serves them from one event loop: relaying is a ping-pong of small messages, and
/// handing each wake-up between worker threads cost more than the relaying itself. `runtime`
/// (the session's) is used only for the start-up checks.
fn start_postgres(
    gateways: &mut Gateways,
    runtime: &Runtime,
    config: &Config,
    shared: &Shared,
    stop: watch::Receiver<bool>,
    env: &mut ChildEnv,
) -> Result<(), StartError> {
    let transcript = shared.transcript;
    let targets: Vec<_> = config
        .targets
        .iter()
        .filter(|t| t.kind == TargetKind::Postgres)
        .collect();
    if targets.is_empty() {
        return Ok(());
    }
    let (alive_tx, alive) = mpsc::channel(1);
    let (io, thread) = serving_thread(stop.clone(), alive, transcript.clone())?;
    gateways.thread = Some(thread);
    let ids = Arc::new(AtomicU64::new(0));
    let conns = Arc::new(AtomicU64::new(0));
    let commit = postgres::Commit::grouped(transcript.clone(), &io);
    for target in targets {
        let common = postgres::Common {
            transcript,
            ids: ids.clone(),
            conns: conns.clone(),
            commit: commit.clone(),
            shutdown: stop.clone(),
            alive: alive_tx.clone(),
            credential: shared.credentials.get(&target.name).cloned(),
            policy: shared.policy.clone(),
            approver: shared.approver.clone(),
            masker: shared.masker.clone(),
        };
        postgres::start(runtime, &io, target, common, env)?;
    }
    Ok(())
}

/// Starts the thread that runs every connection until shutdown, then waits (a little) for
/// them to close, so each writes its `connection` close record.
fn serving_thread(
    mut stop: watch::Receiver<bool>,
    mut alive: mpsc::Receiver<()>,
    transcript: Transcript,
) -> Result<(Handle, std::thread::JoinHandle<()>), StartError> {
    let failed = |e: std::io::Error| StartError {
        code: 125,
        message: format!("cannot start the gateway thread: {e}"),
        hint: None,
    };
    let io = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(failed)?;
    let handle = io.handle().clone();
    let thread = std::thread::Builder::new()
        .name("guard-gateway".into())
        .spawn(move || {
            io.block_on(async move {
                let mut tick = tokio::time::interval(FLUSH_EVERY);
                loop {
                    tokio::select! {
                        _ = tick.tick() => { let _ = transcript.flush(); }
                        _ = stop.wait_for(|stop| *stop) => break,
                    }
                }
                // Every task holds a sender; `recv` returns `None` once the last has finished.
                let _ = tokio::time::timeout(SHUTDOWN_GRACE, alive.recv()).await;
                let _ = transcript.flush();
            });
        })
        .map_err(failed)?;
    Ok((handle, thread))
}

impl Gateways {
    /// Stops accepting connections and closes the ones still open, giving them a moment to
    /// tell their clients and write their `connection` close records.
    pub fn shutdown(self, runtime: &Runtime) {
        if let Some(egress) = self.egress {
            egress.shutdown(runtime);
        }
        if let Some(http) = self.http {
            http.shutdown(runtime);
        }
        let _ = self.shutdown.send(true);
        if let Some(thread) = self.thread {
            let _ = thread.join();
        }
    }
}

/// Writes one line to guard's stderr while the child runs: stderr is the human's terminal, so
/// the same line is not repeated within a few seconds, and on a terminal `\r\n` ends it because
/// the terminal may be in raw mode.
pub fn alert(line: &str) {
    static LAST: Mutex<Option<(String, Instant)>> = Mutex::new(None);
    const QUIET: Duration = Duration::from_secs(5);
    let mut last = LAST.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((previous, at)) = last.as_ref()
        && previous == line
        && at.elapsed() < QUIET
    {
        return;
    }
    *last = Some((line.to_string(), Instant::now()));
    let end = if crate::terminal::tty::is_tty(2) {
        "\r\n"
    } else {
        "\n"
    };
    let _ = std::io::stderr().write_all(format!("{line}{end}").as_bytes());
}

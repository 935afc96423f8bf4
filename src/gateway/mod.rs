//! The listeners guard opens for each target on loopback, and their lifecycle: started before the
//! child (their addresses go into its environment), stopped when the session ends.

pub mod postgres;

use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, Runtime};
use tokio::sync::{mpsc, watch};

use crate::config::{Config, TargetKind};
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
    /// The thread that serves every connection; `None` without targets.
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Starts a gateway per configured target and sets each target's variable in the child's
/// environment. A target guard cannot serve stops the session before the child starts.
///
/// Connections are served on a thread of their own with a single-threaded runtime, as
/// PgBouncer serves them from one event loop: relaying is a ping-pong of small messages, and
/// handing each wake-up between worker threads cost more than the relaying itself. `runtime`
/// (the session's) is used only for the start-up checks.
pub fn start(
    runtime: &Runtime,
    config: &Config,
    transcript: &Transcript,
    env: &mut ChildEnv,
) -> Result<Gateways, StartError> {
    if let Some(target) = config.targets.iter().find(|t| t.kind == TargetKind::Http) {
        return Err(StartError {
            code: 125,
            message: format!(
                "target `{}`: this build of guard cannot serve {:?} targets",
                target.name, target.kind
            ),
            hint: Some("remove the [[target]] from the configuration".into()),
        });
    }
    let (shutdown, stop) = watch::channel(false);
    if config.targets.is_empty() {
        return Ok(Gateways {
            shutdown,
            thread: None,
        });
    }
    let (alive_tx, alive) = mpsc::channel(1);
    let (io, thread) = serving_thread(stop.clone(), alive, transcript.clone())?;
    let gateways = Gateways {
        shutdown,
        thread: Some(thread),
    };
    let ids = Arc::new(AtomicU64::new(0));
    let conns = Arc::new(AtomicU64::new(0));
    for target in &config.targets {
        let common = postgres::Common {
            transcript,
            ids: ids.clone(),
            conns: conns.clone(),
            shutdown: stop.clone(),
            alive: alive_tx.clone(),
        };
        if let Err(e) = postgres::start(runtime, &io, target, common, env) {
            drop(alive_tx);
            gateways.shutdown();
            return Err(e);
        }
    }
    Ok(gateways)
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
    pub fn shutdown(self) {
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

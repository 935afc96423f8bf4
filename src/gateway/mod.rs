//! The listeners guard opens for each target on loopback, and their lifecycle: started before the
//! child (their addresses go into its environment), stopped when the session ends.

pub mod postgres;

use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio::sync::{mpsc, watch};

use crate::config::{Config, TargetKind};
use crate::record::transcript::Transcript;
use crate::session::StartError;
use crate::session::env::ChildEnv;

/// How long shutdown waits for open connections to close and write their records.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// The running gateways of a session.
pub struct Gateways {
    shutdown: watch::Sender<bool>,
    alive: mpsc::Receiver<()>,
}

/// Starts a gateway per configured target and sets each target's variable in the child's
/// environment. A target guard cannot serve stops the session before the child starts.
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
    let (alive_tx, alive) = mpsc::channel(1);
    let ids = Arc::new(AtomicU64::new(0));
    let conns = Arc::new(AtomicU64::new(0));
    let gateways = Gateways { shutdown, alive };
    for target in &config.targets {
        let common = postgres::Common {
            transcript,
            ids: ids.clone(),
            conns: conns.clone(),
            shutdown: stop.clone(),
            alive: alive_tx.clone(),
        };
        if let Err(e) = postgres::start(runtime, target, common, env) {
            drop(alive_tx);
            gateways.shutdown(runtime);
            return Err(e);
        }
    }
    Ok(gateways)
}

impl Gateways {
    /// Stops accepting connections and closes the ones still open, giving them a moment to
    /// tell their clients and write their `connection` close records.
    pub fn shutdown(self, runtime: &Runtime) {
        let Gateways {
            shutdown,
            mut alive,
        } = self;
        let _ = shutdown.send(true);
        // Every task holds a sender; `recv` returns `None` once the last one has finished.
        runtime.block_on(async {
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, alive.recv()).await;
        });
    }
}

/// Writes one line to guard's stderr while the child runs: stderr is the human's terminal, so
/// the same line is not repeated within a few seconds, and `\r\n` ends it because the terminal
/// may be in raw mode.
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
    let _ = std::io::stderr().write_all(format!("{line}\r\n").as_bytes());
}

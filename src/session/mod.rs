//! One run of `guard -- <command>`: open the session folder and transcript, build the child's
//! environment, start the child under the terminal relay, and seal the records when it ends.

pub mod env;
pub mod folder;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::config::Config;
use crate::gateway;
use crate::record::cast::{CastHeader, CastWriter};
use crate::record::clock::Utc;
use crate::record::sha256_hex;
use crate::record::transcript::Transcript;
use crate::terminal::{pty, relay, tty};

/// What the user asked for, already validated.
pub struct Options {
    pub argv: Vec<OsString>,
    pub name: Option<String>,
    pub record_input: bool,
    pub no_cast: bool,
    pub quiet: bool,
}

/// A session failed before its command could start (exit 125), or the command could not be
/// started (126, 127).
#[derive(Debug)]
pub struct StartError {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

/// The open records of a running session.
struct Records {
    id: String,
    dir: PathBuf,
    transcript: Transcript,
    meta: Value,
    started: Instant,
}

pub fn run(opts: Options, config: Config) -> Result<i32, StartError> {
    harden_process();
    let interactive = tty::is_tty(0);
    let cwd = std::env::current_dir()
        .map_err(|e| start_error(125, format!("no working directory: {e}"), None))?;
    let mut child_env = env::scrub(std::env::vars_os(), &config.env);
    child_env.remove_credential_sources(&config.targets);
    let records = open_records(&opts, &config, &cwd, &child_env.removed)?;
    child_env.set("GUARD_SESSION_ID", records.id.as_str());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| start_error(125, format!("cannot start the runtime: {e}"), None))?;
    let gateways = match gateway::start(&runtime, &config, &records.transcript, &mut child_env) {
        Ok(gateways) => gateways,
        Err(e) => {
            records.seal(125, None, None);
            return Err(e);
        }
    };

    let size = tty::size();
    let spec = pty::Spec {
        argv: &opts.argv,
        env: &child_env.vars,
        cwd: &cwd,
        size,
        echo: interactive,
    };
    let cast = open_cast(&opts, &records, size)?;
    let child = match pty::spawn(&spec) {
        Ok(child) => child,
        Err(e) => {
            let code = e.exit_code();
            let cast_sha = finish_cast(cast, &records);
            gateways.shutdown();
            records.seal(code, None, cast_sha);
            return Err(start_error(code, e.to_string(), Some(spawn_hint(code))));
        }
    };
    if !opts.quiet {
        eprintln!(
            "guard: session {} recording to {}",
            records.id,
            records.dir.display()
        );
    }
    let outcome = relay_child(&runtime, child, cast, &opts, interactive, size)?;
    gateways.shutdown();
    // Threads blocked on stdin must not hold the process open.
    runtime.shutdown_background();
    let cast_sha = finish_cast(outcome.cast, &records);
    if let Some(e) = &outcome.cast_error {
        eprintln!("guard: the recording stopped early: {e}");
    }
    let code = outcome.exit_code;
    let id = records.id.clone();
    records.seal(code, outcome.stopped_by, cast_sha);
    if !opts.quiet {
        eprintln!("guard: session {id} ended (exit {code}); review it with `guard verify {id}`");
    }
    Ok(code)
}

fn relay_child(
    runtime: &tokio::runtime::Runtime,
    child: pty::Child,
    cast: Option<CastWriter>,
    opts: &Options,
    interactive: bool,
    size: (u16, u16),
) -> Result<relay::Outcome, StartError> {
    let raw = if interactive {
        Some(tty::RawMode::enter().map_err(|e| {
            start_error(
                125,
                format!("cannot put the terminal in raw mode: {e}"),
                None,
            )
        })?)
    } else {
        None
    };
    let relay = relay::Relay {
        pid: child.pid,
        master: child.master,
        cast,
        record_input: opts.record_input,
        interactive,
        size,
    };
    let outcome = runtime.block_on(relay.run(child.reader, child.writer));
    drop(raw);
    Ok(outcome)
}

fn open_records(
    opts: &Options,
    config: &Config,
    cwd: &std::path::Path,
    removed: &[String],
) -> Result<Records, StartError> {
    let now = SystemTime::now();
    let start = Utc::from_system(now);
    let id = folder::new_id(start);
    let dir = folder::create_session_dir(&id).map_err(|e| {
        start_error(
            125,
            format!("cannot create the session folder: {e}"),
            Some("set GUARD_HOME to a writable folder".into()),
        )
    })?;
    let transcript = Transcript::create(&dir.join("transcript.jsonl"))
        .map_err(|e| start_error(125, format!("cannot create the transcript: {e}"), None))?;
    let command: Vec<String> = opts
        .argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let targets: Vec<Value> = config
        .targets
        .iter()
        .map(|t| target_summary(t, config))
        .collect();
    transcript
        .append(
            "session_start",
            json!({
                "id": id, "name": opts.name, "command": command, "cwd": cwd.to_string_lossy(),
                "guard_version": env!("CARGO_PKG_VERSION"), "config_sha256": config.sha256,
                "targets": targets, "env_removed": removed,
            }),
        )
        .map_err(|e| start_error(125, format!("cannot write the transcript: {e}"), None))?;
    let meta = json!({
        "id": id, "name": opts.name, "command": command, "cwd": cwd.to_string_lossy(),
        "start": start.rfc3339(), "end": null, "exit_code": null,
        "guard_version": env!("CARGO_PKG_VERSION"), "config_sha256": config.sha256,
        "config": config.source.as_ref().map(|p| p.to_string_lossy().into_owned()),
        "targets": targets, "cast": !opts.no_cast, "transcript_sha256": null,
    });
    folder::write_metadata(&dir, &meta)
        .map_err(|e| start_error(125, format!("cannot write session.json: {e}"), None))?;
    Ok(Records {
        id,
        dir,
        transcript,
        meta,
        started: Instant::now(),
    })
}

/// A target as `session_start` lists it: never a credential, only where it comes from.
fn target_summary(target: &crate::config::Target, config: &Config) -> Value {
    use crate::config::{BrokerKind, Credentials};
    let source = match &target.credentials {
        Some(Credentials::Broker { .. }) => match config.broker.as_ref().map(|b| b.kind) {
            Some(BrokerKind::Vault) => Some("vault"),
            _ => Some("openbao"),
        },
        Some(_) => Some("static"),
        None => None,
    };
    json!({
        "name": target.name, "kind": format!("{:?}", target.kind).to_lowercase(),
        "listen": target.listen.to_string(), "upstream": target.upstream, "credentials": source,
    })
}

fn open_cast(
    opts: &Options,
    records: &Records,
    size: (u16, u16),
) -> Result<Option<CastWriter>, StartError> {
    if opts.no_cast {
        return Ok(None);
    }
    let command = opts
        .argv
        .iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ");
    let term = std::env::var("TERM").ok();
    let shell = std::env::var("SHELL").ok();
    let header = CastHeader {
        cols: size.0,
        rows: size.1,
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        command: &command,
        title: opts.name.as_deref(),
        term: term.as_deref(),
        shell: shell.as_deref(),
    };
    CastWriter::create(&records.dir.join("session.cast"), &header)
        .map(Some)
        .map_err(|e| {
            start_error(
                125,
                format!("cannot create the recording: {e}"),
                Some("use --no-cast to run without one".into()),
            )
        })
}

/// Flushes the recording and returns its digest, which `session_end` seals.
fn finish_cast(cast: Option<CastWriter>, records: &Records) -> Option<String> {
    cast?.finish().ok()?;
    let bytes = std::fs::read(records.dir.join("session.cast")).ok()?;
    Some(sha256_hex(&bytes))
}

impl Records {
    /// Writes `session_end` and the final `session.json`; a failure is reported, not fatal:
    /// the child has already run, and `guard verify` will say the session is incomplete.
    fn seal(mut self, exit_code: i32, stopped_by: Option<i32>, cast_sha256: Option<String>) {
        let duration_ms = self.started.elapsed().as_millis() as u64;
        let mut end = json!({"exit_code": exit_code, "duration_ms": duration_ms, "counts": self.transcript.counts()});
        if let Some(sig) = stopped_by {
            end["stopped_by_signal"] = json!(sig);
        }
        if let Some(sha) = &cast_sha256 {
            end["cast_sha256"] = json!(sha);
        }
        if let Err(e) = self.transcript.append("session_end", end) {
            eprintln!("guard: cannot write the end of the transcript: {e}");
        }
        self.meta["end"] = json!(Utc::now().rfc3339());
        self.meta["exit_code"] = json!(exit_code);
        self.meta["duration_ms"] = json!(duration_ms);
        self.meta["transcript_sha256"] = json!(self.transcript.head());
        self.meta["cast_sha256"] = json!(cast_sha256);
        if let Err(e) = folder::write_metadata(&self.dir, &self.meta) {
            eprintln!("guard: cannot write session.json: {e}");
        }
    }
}

/// guard holds credentials in memory; the child runs as the same user, so make this process
/// non-dumpable: no ptrace attach, no /proc/<pid>/mem or environ for the child to read.
fn harden_process() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_DUMPABLE takes plain integers.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

fn spawn_hint(code: i32) -> String {
    if code == 127 {
        "check the command's spelling, or give its full path".into()
    } else {
        "check that the file is an executable program and that you may run it".into()
    }
}

fn start_error(code: i32, message: String, hint: Option<String>) -> StartError {
    StartError {
        code,
        message,
        hint,
    }
}

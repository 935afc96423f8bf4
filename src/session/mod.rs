//! One run of `guard -- <command>`: open the session folder and transcript, build the child's
//! environment, start the child under the terminal relay, and seal the records when it ends.

pub mod env;
pub mod folder;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::approval::{self, Approver, ToTerminal};
use crate::broker::{self, CredentialHandle, Leases};
use crate::config::Config;
use crate::gateway;
use crate::mask::Masker;
use crate::policy::Policy;
use crate::record::cast::{CastHeader, CastWriter};
use crate::record::clock::Utc;
use crate::record::recorder::Recorder;
use crate::record::transcript::Transcript;
use crate::terminal::screen::Shadow;
use crate::terminal::{pty, relay, tty};

/// What the user asked for, already validated.
pub struct Options {
    pub argv: Vec<OsString>,
    pub approver: approval::Mode,
    pub approval_timeout: std::time::Duration,
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
    /// The session's masker: the recording is masked as it is written.
    masker: Masker,
}

pub fn run(mut opts: Options, config: Config) -> Result<i32, StartError> {
    harden_process();
    let masker = Masker::new(&config.mask).map_err(|e| {
        start_error(
            125,
            format!("[mask]: {e}"),
            Some("fix the [mask] section; `guard mask test` tries it out".into()),
        )
    })?;
    let policy = Arc::new(Policy::from_config(&config).map_err(|e| {
        let file = config
            .source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        start_error(
            125,
            format!("{file}: {e}"),
            Some("fix the rule; `guard policy explain` tries one out".into()),
        )
    })?);
    let interactive = tty::is_tty(0);
    let cwd = std::env::current_dir()
        .map_err(|e| start_error(125, format!("no working directory: {e}"), None))?;
    let mut child_env = env::scrub(std::env::vars_os(), &config.env);
    for name in broker::credential_vars(&config) {
        child_env.remove(name);
    }
    let records = open_records(&opts, &config, &cwd, &child_env.removed, &masker)?;
    child_env.set("GUARD_SESSION_ID", records.id.as_str());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| start_error(125, format!("cannot start the runtime: {e}"), None))?;
    let leases = Leases::new(records.transcript.clone());
    // Handed to the gateways; kept until the leases are revoked, after they stop.
    let credentials = match lease_credentials(&runtime, &config, &records, &leases, opts.quiet) {
        Ok(credentials) => credentials,
        Err(e) => return Err(abandon(&runtime, None, &leases, records, e, None)),
    };
    // Whatever the detectors say, a credential guard holds is never shown to the agent.
    for handle in credentials.values() {
        masker.add_secret(handle.current().password.expose_secret());
    }
    let (approver, control, asks_here) = match start_approver(&mut opts, &runtime, &records) {
        Ok(started) => started,
        Err(e) => return Err(abandon(&runtime, None, &leases, records, e, None)),
    };
    let shared = gateway::Shared {
        transcript: &records.transcript,
        approver: &approver,
        policy: &policy,
        credentials: &credentials,
        masker: &masker,
    };
    let gateways = match gateway::start(&runtime, &config, shared, &mut child_env) {
        Ok(gateways) => gateways,
        Err(e) => return Err(abandon(&runtime, None, &leases, records, e, None)),
    };
    let Started { child, cast, size } =
        match start_child(&opts, &records, &child_env, &cwd, interactive) {
            Ok(started) => started,
            Err((e, cast_sha)) => {
                return Err(abandon(
                    &runtime,
                    Some(gateways),
                    &leases,
                    records,
                    e,
                    cast_sha,
                ));
            }
        };
    if !opts.quiet {
        eprintln!(
            "guard: session {} recording to {}",
            records.id,
            records.dir.display()
        );
    }
    let shadow = asks_here.then(|| Shadow::new(size.0, size.1));
    let outcome = relay_child(
        &runtime,
        child,
        cast,
        &opts,
        interactive,
        size,
        (control, shadow),
    );
    gateways.shutdown(&runtime);
    let _ = std::fs::remove_file(records.dir.join("approve.sock"));
    // The relay returns on every way the child ends, signals to guard included (it ends the
    // child then): this is the one place the leases are revoked after a run.
    runtime.block_on(leases.revoke_all());
    drop(credentials);
    // Threads blocked on stdin must not hold the process open.
    runtime.shutdown_background();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => {
            records.seal(e.code, None, None);
            return Err(e);
        }
    };
    Ok(finish(outcome, records, opts.quiet))
}

/// Where approval requests go: the approver, the relay's end of its channel, and whether the
/// relay must keep a model of the screen to ask in this terminal. With `--approver socket` the
/// socket is served from the session folder from now on.
fn start_approver(
    opts: &mut Options,
    runtime: &tokio::runtime::Runtime,
    records: &Records,
) -> Result<
    (
        Approver,
        tokio::sync::mpsc::UnboundedReceiver<ToTerminal>,
        bool,
    ),
    StartError,
> {
    if let approval::Mode::Socket(pending) = &opts.approver {
        let _entered = runtime.enter();
        let path = records.dir.join("approve.sock");
        approval::socket::serve(&path, pending.clone())
            .map_err(|e| start_error(125, format!("cannot open the approval socket: {e}"), None))?;
    }
    let (to_terminal, control) = tokio::sync::mpsc::unbounded_channel();
    let asks_here = matches!(opts.approver, approval::Mode::Tty);
    let approver = Approver::new(
        std::mem::replace(&mut opts.approver, approval::Mode::Deny),
        opts.approval_timeout,
        records.transcript.clone(),
        Some(to_terminal),
    );
    Ok((approver, control, asks_here))
}

/// A command started under its PTY, with its recording.
struct Started {
    child: pty::Child,
    cast: Option<Recorder>,
    size: (u16, u16),
}

/// Opens the recording and starts the command under a PTY; on failure, the error and the
/// digest of the (empty) recording to seal with.
fn start_child(
    opts: &Options,
    records: &Records,
    child_env: &env::ChildEnv,
    cwd: &std::path::Path,
    interactive: bool,
) -> Result<Started, (StartError, Option<String>)> {
    let size = tty::size();
    let spec = pty::Spec {
        argv: &opts.argv,
        env: &child_env.vars,
        cwd,
        size,
        echo: interactive,
    };
    let cast = open_cast(opts, records, size).map_err(|e| (e, None))?;
    match pty::spawn(&spec) {
        Ok(child) => Ok(Started { child, cast, size }),
        Err(e) => {
            let code = e.exit_code();
            let cast_sha = finish_cast(cast);
            Err((
                start_error(code, e.to_string(), Some(spawn_hint(code))),
                cast_sha,
            ))
        }
    }
}

/// Seals the records of a session whose command ran and returns its exit code.
fn finish(outcome: relay::Outcome, records: Records, quiet: bool) -> i32 {
    let cast_sha = finish_cast(outcome.cast);
    let code = outcome.exit_code;
    let id = records.id.clone();
    records.seal(code, outcome.stopped_by, cast_sha);
    if !quiet {
        eprintln!("guard: session {id} ended (exit {code}); review it with `guard verify {id}`");
    }
    code
}

/// Ends a session that failed before its command ran, after credentials may have been leased:
/// the gateways stop, every lease is revoked, the records are sealed; returns the error.
fn abandon(
    runtime: &tokio::runtime::Runtime,
    gateways: Option<gateway::Gateways>,
    leases: &Leases,
    records: Records,
    error: StartError,
    cast_sha256: Option<String>,
) -> StartError {
    if let Some(gateways) = gateways {
        gateways.shutdown(runtime);
    }
    runtime.block_on(leases.revoke_all());
    records.seal(error.code, None, cast_sha256);
    error
}

/// A credential handle for every target that has credentials. Leases issued before a failure
/// stay in `leases` for the caller to revoke. SIGINT, SIGTERM or SIGHUP while waiting for the
/// broker stop the session before the child starts (exit 128+N) rather than leave leases behind.
fn lease_credentials(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
    records: &Records,
    leases: &Leases,
    quiet: bool,
) -> Result<HashMap<String, CredentialHandle>, StartError> {
    let progress = |what: &str| {
        if !quiet {
            eprintln!("guard: {what}...");
        }
    };
    let env = broker::process_env;
    let acquired = runtime.block_on(async {
        let acquire = broker::acquire(config, &records.transcript, leases, &env, &progress);
        tokio::select! {
            acquired = acquire => Ok(acquired),
            signal = interrupted() => Err(signal),
        }
    });
    let acquired = match acquired {
        Ok(acquired) => acquired,
        Err(signal) => {
            let name = match signal {
                libc::SIGINT => "SIGINT",
                libc::SIGTERM => "SIGTERM",
                _ => "SIGHUP",
            };
            let message = format!("interrupted by {name} before the command started");
            return Err(start_error(128 + signal, message, None));
        }
    };
    let acquired = acquired.map_err(|e| {
        let hint = e.error.hint();
        start_error(125, e.to_string(), Some(hint))
    })?;
    for warning in &acquired.warnings {
        eprintln!("guard: warning: {warning}");
    }
    Ok(acquired.handles)
}

/// The first of SIGINT, SIGTERM and SIGHUP; pending forever when none can be watched.
async fn interrupted() -> i32 {
    use tokio::signal::unix::{Signal, SignalKind, signal};
    async fn next(signal: Option<&mut Signal>) {
        match signal {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending().await,
        }
    }
    let watch = |sig: i32| signal(SignalKind::from_raw(sig)).ok();
    let (mut int, mut term, mut hup) = (
        watch(libc::SIGINT),
        watch(libc::SIGTERM),
        watch(libc::SIGHUP),
    );
    tokio::select! {
        _ = next(int.as_mut()) => libc::SIGINT,
        _ = next(term.as_mut()) => libc::SIGTERM,
        _ = next(hup.as_mut()) => libc::SIGHUP,
    }
}

fn relay_child(
    runtime: &tokio::runtime::Runtime,
    child: pty::Child,
    cast: Option<Recorder>,
    opts: &Options,
    interactive: bool,
    size: (u16, u16),
    (control, shadow): (
        tokio::sync::mpsc::UnboundedReceiver<approval::ToTerminal>,
        Option<Shadow>,
    ),
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
        control: Some(control),
        shadow,
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
    masker: &Masker,
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
    transcript.set_masker(masker.clone());
    tell_when_unwritable(&transcript, &dir);
    // The command line can carry what the masker masks (`psql -c "... 'bob@example.com'"`).
    let command: Vec<String> = opts
        .argv
        .iter()
        .map(|a| masker.mask_text(&a.to_string_lossy()).text.into_owned())
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
        masker: masker.clone(),
    })
}

/// Fail closed from the first failed write on (a full disk, a lost mount): the gateways refuse
/// what they cannot record, and the human hears it once, on guard's own stderr.
fn tell_when_unwritable(transcript: &Transcript, dir: &std::path::Path) {
    let folder = dir.display().to_string();
    transcript.on_failure(Box::new(move |e| {
        crate::gateway::alert(&format!(
            "guard: cannot write the transcript in {folder}: {e}; from now on guard refuses \
             every statement, request and connection, since it cannot record them; hint: free \
             space on that disk, then end this session and start a new one"
        ));
    }));
}

/// A target as `session_start` lists it: never a credential, only where it comes from.
fn target_summary(target: &crate::config::Target, config: &Config) -> Value {
    let source = broker::describe(target.credentials.as_ref(), config.broker.as_ref());
    json!({
        "name": target.name, "kind": format!("{:?}", target.kind).to_lowercase(),
        "listen": target.listen.to_string(), "upstream": target.upstream, "credentials": source,
    })
}

fn open_cast(
    opts: &Options,
    records: &Records,
    size: (u16, u16),
) -> Result<Option<Recorder>, StartError> {
    if opts.no_cast {
        return Ok(None);
    }
    let command = opts
        .argv
        .iter()
        .map(|a| {
            records
                .masker
                .mask_text(&a.to_string_lossy())
                .text
                .into_owned()
        })
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
    CastWriter::create(
        &records.dir.join("session.cast"),
        &header,
        Some(&records.masker),
    )
    .and_then(Recorder::start)
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
fn finish_cast(cast: Option<Recorder>) -> Option<String> {
    match cast?.finish() {
        Ok(digest) => Some(digest),
        Err(e) => {
            eprintln!("guard: the recording could not be completed: {e}");
            None
        }
    }
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

//! One file per subcommand, each turning its CLI arguments into calls on the core, and the one
//! error type at the CLI edge: what went wrong, what to do, and the exit code.

pub mod approve;
pub mod completions;
pub mod demo;
pub mod doctor;
pub mod export;
pub mod init;
pub mod login;
pub mod logout;
pub mod man;
pub mod mask;
pub mod policy;
pub mod replay;
pub mod run;
pub mod sessions;
pub mod show;
pub mod verify;

use crate::cli::{Cli, Command};

/// An error as the user sees it: `guard: <message>` and, where it helps, `hint: <hint>`.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
    pub hint: Option<String>,
}

impl CliError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CliError {
            code,
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Runs the parsed command line and returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        None => run::cmd_run(cli.run),
        Some(Command::Run(args)) => run::cmd_run(args),
        Some(Command::Sessions(args)) => sessions::cmd_sessions(args),
        Some(Command::Show(args)) => show::cmd_show(args),
        Some(Command::Export(args)) => export::cmd_export(args),
        Some(Command::Verify(args)) => verify::cmd_verify(args),
        Some(Command::Replay(args)) => replay::cmd_replay(args),
        Some(Command::Login(args)) => login::cmd_login(args),
        Some(Command::Logout(args)) => logout::cmd_logout(args),
        Some(Command::Doctor(args)) => doctor::cmd_doctor(args),
        Some(Command::Init(args)) => init::cmd_init(args),
        Some(Command::Demo(args)) => demo::cmd_demo(args),
        Some(Command::Policy(args)) => policy::cmd_policy(args),
        Some(Command::Completions(args)) => completions::cmd_completions(args),
        Some(Command::Man(args)) => man::cmd_man(args),
        Some(Command::Approve(args)) => approve::cmd_approve(args),
        Some(Command::Mask(args)) => mask::cmd_mask(args),
    }
}

/// Resolves a `<SESSION>` argument, with the error a user can act on.
pub fn resolve_session(which: &str) -> Result<(String, std::path::PathBuf), CliError> {
    use crate::session::folder::{ResolveError, resolve};
    resolve(which).map_err(|e| {
        let hint = match &e {
            ResolveError::Ambiguous(..) => "give more characters of the id",
            ResolveError::NotFound(_) => "`guard sessions` lists the recorded sessions",
            ResolveError::NoSessions(_) => "run a command under guard first, e.g. `guard -- bash`",
            ResolveError::Io(_) => "check GUARD_HOME and the folder's permissions",
        };
        CliError::new(1, e.to_string()).hint(hint)
    })
}

/// The broker `login` and `logout` talk about: `--address`, else the configuration's
/// `[broker]`, else VAULT_ADDR / BAO_ADDR.
pub fn broker_settings(
    address: Option<&str>,
    config: Option<&std::path::Path>,
) -> Result<crate::broker::Settings, CliError> {
    let config = crate::config::load(config).map_err(|e| {
        CliError::new(1, e.to_string()).hint("fix the configuration, or give --address")
    })?;
    crate::broker::Settings::resolve(address, config.broker.as_ref(), &crate::broker::process_env)
        .ok_or_else(|| {
            let e = crate::broker::BrokerError::NoAddress;
            CliError::new(1, e.to_string())
                .hint("give --address, add [broker] to the configuration, or set VAULT_ADDR")
        })
}

pub fn keyring_error(e: crate::broker::keyring::KeyringError) -> CliError {
    let hint = e.hint();
    CliError::new(1, e.to_string()).hint(hint)
}

/// A small runtime for commands that talk to the broker outside a session.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(1, format!("cannot start the runtime: {e}")))
}

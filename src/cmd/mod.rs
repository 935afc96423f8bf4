//! One file per subcommand, each turning its CLI arguments into calls on the core, and the one
//! error type at the CLI edge: what went wrong, what to do, and the exit code.

pub mod approve;
pub mod completions;
pub mod export;
pub mod man;
pub mod mask;
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

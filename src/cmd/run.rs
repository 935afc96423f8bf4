//! `guard [OPTIONS] -- <COMMAND>` and `guard run`: load the configuration and run a session.

use crate::approval;
use crate::cli::{Approver, RunArgs};
use crate::cmd::CliError;
use crate::session;
use crate::terminal::tty;

pub fn cmd_run(args: RunArgs) -> Result<i32, CliError> {
    let config = crate::config::load(args.config.as_deref()).map_err(|e| {
        CliError::new(125, e.to_string())
            .hint("fix the configuration; `man guard` describes every key")
    })?;
    let opts = session::Options {
        approver: approver_mode(args.approver)?,
        approval_timeout: args.approval_timeout,
        argv: args.command,
        name: args.name,
        record_input: args.record_input,
        no_cast: args.no_cast,
        quiet: args.quiet,
    };
    session::run(opts, config).map_err(|e| CliError {
        code: e.code,
        message: e.message,
        hint: e.hint,
    })
}

/// SPEC: the terminal when guard's stdin and stdout are terminals, otherwise nobody (deny).
pub fn approver_mode(asked: Option<Approver>) -> Result<approval::Mode, CliError> {
    let has_terminal = tty::is_tty(0) && tty::is_tty(1);
    match asked {
        Some(Approver::Tty) if !has_terminal => Err(CliError::new(
            125,
            "--approver tty needs a terminal on stdin and stdout",
        )
        .hint("run guard in a terminal, or use --approver deny")),
        Some(Approver::Tty) => Ok(approval::Mode::Tty),
        Some(Approver::Socket) => Ok(approval::Mode::Socket(Default::default())),
        Some(Approver::Deny) => Ok(approval::Mode::Deny),
        None if has_terminal => Ok(approval::Mode::Tty),
        None => Ok(approval::Mode::Deny),
    }
}

//! `guard [OPTIONS] -- <COMMAND>` and `guard run`: load the configuration and run a session.

use crate::cli::{Approver, RunArgs};
use crate::cmd::CliError;
use crate::session;

pub fn cmd_run(args: RunArgs) -> Result<i32, CliError> {
    let config = crate::config::load(args.config.as_deref()).map_err(|e| {
        CliError::new(125, e.to_string())
            .hint("fix the configuration; `man guard` describes every key")
    })?;
    if args.approver == Some(Approver::Tty) && !crate::terminal::tty::is_tty(0) {
        return Err(
            CliError::new(125, "--approver tty needs a terminal on stdin")
                .hint("use --approver socket to approve from another terminal, or deny"),
        );
    }
    let opts = session::Options {
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

//! `guard show <SESSION>`: the human summary of one session.

use crate::cli::ShowArgs;
use crate::cmd::{CliError, resolve_session};
use crate::review::{Session, show};
use crate::terminal::tty;

pub fn cmd_show(args: ShowArgs) -> Result<i32, CliError> {
    let (id, dir) = resolve_session(&args.session)?;
    let session = Session::load(id, dir);
    let color = tty::is_tty(1) && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    print!("{}", show::render(&session, &show::Style { color }));
    Ok(0)
}

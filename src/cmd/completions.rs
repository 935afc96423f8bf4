//! `guard completions <shell>`: a completion script on stdout, generated from the CLI.

use crate::cli::CompletionsArgs;
use crate::cmd::CliError;

pub fn cmd_completions(args: CompletionsArgs) -> Result<i32, CliError> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut crate::cli::command(), "guard", &mut out);
    Ok(0)
}

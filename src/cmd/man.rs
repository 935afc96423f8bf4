//! `guard man [--dir DIR]`: man pages generated from the CLI, to stdout or one file per command.

use std::io::Write;

use crate::cli::ManArgs;
use crate::cmd::CliError;

pub fn cmd_man(args: ManArgs) -> Result<i32, CliError> {
    let cmd = crate::cli::command();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .and_then(|_| clap_mangen::generate_to(cmd, &dir))
                .map_err(|e| {
                    CliError::new(
                        1,
                        format!("cannot write man pages to {}: {e}", dir.display()),
                    )
                })?;
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .and_then(|_| std::io::stdout().write_all(&page))
                .map_err(|e| CliError::new(1, format!("cannot write the man page: {e}")))?;
        }
    }
    Ok(0)
}

//! `guard replay <SESSION> [--speed X] [--idle-limit SECS]`.

use crate::cli::ReplayArgs;
use crate::cmd::{CliError, resolve_session};
use crate::review::replay::{Pace, replay};

pub fn cmd_replay(args: ReplayArgs) -> Result<i32, CliError> {
    let (id, dir) = resolve_session(&args.session)?;
    let cast = dir.join("session.cast");
    if !cast.exists() {
        return Err(CliError::new(1, format!("session {id} has no recording"))
            .hint("it was run with --no-cast; `guard show` summarises its transcript"));
    }
    let pace = Pace {
        speed: args.speed,
        idle_limit: args.idle_limit,
    };
    replay(&cast, &pace).map_err(|e| CliError::new(1, format!("cannot replay {id}: {e}")))?;
    Ok(0)
}

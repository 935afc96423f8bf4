//! `guard verify <SESSION>`: recompute the transcript chain and check the session's files;
//! exit 0 when intact, 1 with the first problem named.

use crate::cli::VerifyArgs;
use crate::cmd::{CliError, resolve_session};
use crate::record::verify::{Unfinished, verify_session};

pub fn cmd_verify(args: VerifyArgs) -> Result<i32, CliError> {
    let (id, dir) = resolve_session(&args.session)?;
    let verdict = verify_session(&dir);
    if verdict.intact() {
        println!(
            "{id}: intact ({} records, transcript sha256 {})",
            verdict.records,
            verdict.head.unwrap_or_default()
        );
        return Ok(0);
    }
    for problem in &verdict.problems {
        eprintln!("guard: {id}: {problem}");
    }
    let hint = match verdict.unfinished {
        Some(Unfinished::Running) => "run `guard verify` again once the session has ended",
        Some(Unfinished::Stopped) => {
            "nothing recorded was altered, but what happened after the last record is unknown; \
             leases the session held end with their TTL"
        }
        None => "the session's records were altered, removed or are incomplete; do not trust them",
    };
    eprintln!("hint: {hint}");
    Ok(1)
}

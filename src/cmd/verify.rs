//! `guard verify <SESSION>`: recompute the transcript chain and check the session's files;
//! exit 0 when intact, 1 with the first problem named.

use crate::cli::VerifyArgs;
use crate::cmd::{CliError, resolve_session};
use crate::record::verify::verify_session;

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
    eprintln!(
        "hint: the session's records were altered, removed or are incomplete; do not trust them"
    );
    Ok(1)
}

//! `guard mask test [--json]`: mask standard input with the configured `[mask]` rules and print
//! it, so a user can see what the agent would see before a session relies on the rules.

use std::io::{BufRead, Write};

use serde_json::{Value, json};

use crate::cli::{MaskArgs, MaskCommand, MaskTestArgs};
use crate::cmd::CliError;
use crate::mask::{MaskCounts, Masker};

pub fn cmd_mask(args: MaskArgs) -> Result<i32, CliError> {
    match args.command {
        MaskCommand::Test(args) => cmd_mask_test(args),
    }
}

fn cmd_mask_test(args: MaskTestArgs) -> Result<i32, CliError> {
    let config = crate::config::load(args.config.as_deref()).map_err(|e| {
        CliError::new(1, e.to_string())
            .hint("fix the configuration; `man guard` describes every key")
    })?;
    let masker = Masker::new(&config.mask).map_err(|e| CliError::new(1, e.to_string()))?;
    let stdin = std::io::stdin().lock();
    let stdout = std::io::stdout().lock();
    if args.json {
        let mut text = Vec::new();
        let counts = mask_lines(&masker, stdin, &mut text).map_err(io_error)?;
        let doc = json!({"text": String::from_utf8_lossy(&text), "masked": counts.to_json()});
        let mut out = stdout;
        writeln!(out, "{doc}").map_err(io_error)?;
    } else {
        mask_lines(&masker, stdin, stdout).map_err(io_error)?;
    }
    Ok(0)
}

/// Masks `input` line by line as it arrives: JSON lines as documents, the text between them
/// as one stream (a key block spans lines), writing each line's result as soon as it is final.
fn mask_lines(
    masker: &Masker,
    mut input: impl BufRead,
    mut out: impl Write,
) -> std::io::Result<MaskCounts> {
    let mut counts = MaskCounts::default();
    let mut stream = masker.stream();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        match json_line(&line) {
            Some(mut doc) => {
                out.write_all(&stream.finish())?;
                counts.merge(stream.counts());
                stream = masker.stream();
                counts.merge(&masker.mask_json(&mut doc));
                let ending = &line[line.trim_ascii_end().len()..];
                write!(out, "{doc}")?;
                out.write_all(ending)?;
            }
            None => out.write_all(&stream.push(&line))?,
        }
        out.flush()?;
    }
    out.write_all(&stream.finish())?;
    counts.merge(stream.counts());
    out.flush()?;
    Ok(counts)
}

/// A line that is a JSON object or array (not a bare string or number, which is text).
fn json_line(line: &[u8]) -> Option<Value> {
    let trimmed = line.trim_ascii();
    if !matches!(trimmed.first(), Some(b'{' | b'[')) {
        return None;
    }
    serde_json::from_slice(trimmed).ok()
}

fn io_error(e: std::io::Error) -> CliError {
    CliError::new(
        1,
        format!("cannot copy standard input to standard output: {e}"),
    )
}

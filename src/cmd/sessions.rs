//! `guard sessions [--json]`: recorded sessions, newest first, with what the agent ran against
//! the targets (by decision) and whether each session's records verify.

use serde_json::{Value, json};

use crate::cli::SessionsArgs;
use crate::cmd::CliError;
use crate::record::verify::Unfinished;
use crate::review::{Session, human_duration};
use crate::session::folder;

pub fn cmd_sessions(args: SessionsArgs) -> Result<i32, CliError> {
    let ids = folder::list_ids().map_err(|e| {
        CliError::new(1, format!("cannot read the sessions folder: {e}"))
            .hint("check GUARD_HOME and the folder's permissions")
    })?;
    let root = folder::sessions_dir().map_err(|e| CliError::new(1, e.to_string()))?;
    let rows: Vec<Value> = ids
        .into_iter()
        .map(|id| summary(&Session::load(id.clone(), root.join(&id))))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        return Ok(0);
    }
    if rows.is_empty() {
        eprintln!("guard: no recorded sessions in {}", root.display());
        return Ok(0);
    }
    println!(
        "{:<24} {:<12} {:<19} {:>8} {:>4} {:<20} {:<8} COMMAND",
        "ID", "NAME", "START", "DURATION", "EXIT", "STATEMENTS", "VERIFIED"
    );
    for row in &rows {
        println!(
            "{:<24} {:<12} {:<19} {:>8} {:>4} {:<20} {:<8} {}",
            row["id"].as_str().unwrap_or(""),
            clip(row["name"].as_str().unwrap_or("-"), 12),
            row["start"].as_str().unwrap_or("").get(..19).unwrap_or(""),
            row["duration_ms"]
                .as_u64()
                .map(human_duration)
                .unwrap_or_else(|| "-".into()),
            row["exit_code"]
                .as_i64()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            decisions(&row["decisions"]),
            verified(row),
            clip(row["command"].as_str().unwrap_or(""), 40),
        );
    }
    Ok(0)
}

fn summary(s: &Session) -> Value {
    json!({
        "id": s.id,
        "name": s.meta["name"],
        "command": s.command(),
        "start": s.meta["start"],
        "end": s.meta["end"],
        "duration_ms": s.meta["duration_ms"],
        "exit_code": s.meta["exit_code"],
        "decisions": s.decisions(),
        "verified": s.verdict.intact(),
        "ended": s.of_type("session_end").next().is_some(),
        "records": records_state(s),
    })
}

/// `yes`, `NO`, or for records intact up to a missing end: `running` or `no end`.
fn verified(row: &Value) -> &str {
    match row["records"].as_str() {
        Some("intact") => "yes",
        Some("broken") | None => "NO",
        Some(other) => other,
    }
}

/// What `verify` found: `intact`, `broken`, or an intact chain without its end.
fn records_state(s: &Session) -> &'static str {
    match s.verdict.unfinished {
        _ if s.verdict.intact() => "intact",
        Some(Unfinished::Running) => "running",
        Some(Unfinished::Stopped) => "no end",
        None => "broken",
    }
}

/// `allow 12 deny 1`, or `-` when nothing was run against a target.
fn decisions(counts: &Value) -> String {
    let parts: Vec<String> = counts
        .as_object()
        .into_iter()
        .flatten()
        .map(|(d, n)| format!("{d} {n}"))
        .collect();
    if parts.is_empty() {
        "-".into()
    } else {
        parts.join(" ")
    }
}

fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width - 1).collect();
    out.push('…');
    out
}

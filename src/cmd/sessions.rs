//! `guard sessions [--json]`: recorded sessions, newest first.

use serde_json::{Value, json};

use crate::cli::SessionsArgs;
use crate::cmd::CliError;
use crate::session::folder;

pub fn cmd_sessions(args: SessionsArgs) -> Result<i32, CliError> {
    let ids = folder::list_ids().map_err(|e| {
        CliError::new(1, format!("cannot read the sessions folder: {e}"))
            .hint("check GUARD_HOME and the folder's permissions")
    })?;
    let root = folder::sessions_dir().map_err(|e| CliError::new(1, e.to_string()))?;
    let rows: Vec<Value> = ids
        .iter()
        .map(|id| summary(id, folder::read_metadata(&root.join(id))))
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
        "{:<24} {:<12} {:<20} {:>9} {:>5}  COMMAND",
        "ID", "NAME", "START", "DURATION", "EXIT"
    );
    for row in &rows {
        println!(
            "{:<24} {:<12} {:<20} {:>9} {:>5}  {}",
            row["id"].as_str().unwrap_or(""),
            clip(row["name"].as_str().unwrap_or("-"), 12),
            row["start"].as_str().unwrap_or("").get(..19).unwrap_or(""),
            row["duration_ms"]
                .as_u64()
                .map(duration)
                .unwrap_or_else(|| "running".into()),
            row["exit_code"]
                .as_i64()
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into()),
            row["command"].as_str().unwrap_or(""),
        );
    }
    Ok(0)
}

fn summary(id: &str, meta: Option<Value>) -> Value {
    let meta = meta.unwrap_or(Value::Null);
    let command = meta["command"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    json!({
        "id": id,
        "name": meta["name"],
        "command": command,
        "start": meta["start"],
        "end": meta["end"],
        "duration_ms": meta["duration_ms"],
        "exit_code": meta["exit_code"],
    })
}

fn duration(ms: u64) -> String {
    match ms {
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        ms => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
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

//! Reading a recorded session back for people: the summary `guard show` prints, the reports
//! `guard export` writes (Markdown for a pull request, JSON for tools, one self-contained HTML
//! page with the terminal recording), and `guard replay`.

pub mod export;
pub mod html;
pub mod replay;
pub mod show;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::record::verify::{Verdict, verify_session};

/// A session as read from its folder, with the verdict of `guard verify`.
pub struct Session {
    pub id: String,
    pub dir: PathBuf,
    pub meta: Value,
    pub records: Vec<Value>,
    pub verdict: Verdict,
}

/// A statement or request joined with what came of it.
pub struct Activity<'a> {
    pub record: &'a Value,
    pub result: Option<&'a Value>,
    pub approval: Option<&'a Value>,
}

impl Session {
    /// Reads a session; records that do not parse are skipped here (`verdict` says why).
    pub fn load(id: String, dir: PathBuf) -> Session {
        let meta = crate::session::folder::read_metadata(&dir).unwrap_or(Value::Null);
        let records = std::fs::read_to_string(dir.join("transcript.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let verdict = verify_session(&dir);
        Session {
            id,
            dir,
            meta,
            records,
            verdict,
        }
    }

    pub fn of_type<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["type"] == kind)
    }

    /// Every `query` and `http` record in order, with its result and approval.
    pub fn activity(&self) -> Vec<Activity<'_>> {
        let results = self.by_id("result");
        let approvals = self.by_id("approval");
        self.records
            .iter()
            .filter(|r| r["type"] == "query" || r["type"] == "http")
            .map(|record| {
                let id = record["id"].as_str().unwrap_or_default();
                Activity {
                    record,
                    result: if record["type"] == "http" {
                        Some(record)
                    } else {
                        results.get(id).copied()
                    },
                    approval: approvals.get(id).copied(),
                }
            })
            .collect()
    }

    fn by_id(&self, kind: &'static str) -> BTreeMap<String, &Value> {
        self.of_type(kind)
            .filter_map(|r| Some((r["id"].as_str()?.to_string(), r)))
            .collect()
    }

    /// Masked values by kind, over every result and response.
    pub fn masked(&self) -> BTreeMap<String, u64> {
        let mut kinds = BTreeMap::new();
        for r in self
            .records
            .iter()
            .filter(|r| r["type"] == "result" || r["type"] == "http")
        {
            if let Some(map) = r["masked"]["kinds"].as_object() {
                for (kind, n) in map {
                    *kinds.entry(kind.clone()).or_default() += n.as_u64().unwrap_or(0);
                }
            }
        }
        kinds
    }

    /// Statements and requests by decision.
    pub fn decisions(&self) -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        for a in self.activity() {
            let decision = a.record["decision"]
                .as_str()
                .unwrap_or("unknown")
                .to_string();
            *counts.entry(decision).or_default() += 1;
        }
        counts
    }

    pub fn command(&self) -> String {
        self.meta["command"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    }

    pub fn duration(&self) -> String {
        self.meta["duration_ms"]
            .as_u64()
            .map(human_duration)
            .unwrap_or_else(|| "unfinished".into())
    }
}

pub fn human_duration(ms: u64) -> String {
    match ms {
        ms if ms < 60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{}m{:02}s", ms / 60_000, ms / 1000 % 60),
        ms => format!("{}h{:02}m", ms / 3_600_000, ms / 60_000 % 60),
    }
}

/// `{"count": 3, "kinds": {"email": 2, "ssn": 1}}` as `email 2, ssn 1`.
pub fn masked_text(masked: &Value) -> String {
    match masked["kinds"].as_object() {
        Some(kinds) if !kinds.is_empty() => kinds
            .iter()
            .map(|(k, v)| format!("{k} {}", v.as_u64().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// The statement or request line of an activity record.
pub fn statement(record: &Value) -> String {
    if record["type"] == "http" {
        format!(
            "{} {}",
            record["method"].as_str().unwrap_or(""),
            record["path"].as_str().unwrap_or("")
        )
    } else {
        record["sql"].as_str().unwrap_or("").to_string()
    }
}

/// The time of day of a record's `ts` (`06:15:30`).
pub fn clock(record: &Value) -> &str {
    record["ts"]
        .as_str()
        .and_then(|ts| ts.get(11..19))
        .unwrap_or("")
}

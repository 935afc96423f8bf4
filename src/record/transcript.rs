//! The transcript writer: one JSON object a line, each carrying the SHA-256 of the line before it,
//! written and flushed to the kernel as each event happens, so a crash loses nothing recorded.
//!
//! One `Transcript` is shared (cheaply cloned) by every part of a session; appends are serialised
//! by one lock, so `seq` and `prev` always form a single chain. An append that fails poisons the
//! writer: a hole in the chain could not be verified, and callers must refuse to forward what they
//! cannot record (fail closed).

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use super::clock::Utc;
use super::sha256_hex;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Clone)]
pub struct Transcript {
    chain: Arc<Mutex<Chain>>,
}

struct Chain {
    file: File,
    next_seq: u64,
    prev: String,
    poisoned: bool,
    by_type: BTreeMap<String, u64>,
    by_decision: BTreeMap<String, u64>,
    secrets: Vec<String>,
}

impl Transcript {
    /// Creates a new transcript file (mode 0600); an existing file is never appended to.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        Ok(Transcript {
            chain: Arc::new(Mutex::new(Chain {
                file,
                next_seq: 0,
                prev: GENESIS.to_string(),
                poisoned: false,
                by_type: BTreeMap::new(),
                by_decision: BTreeMap::new(),
                secrets: Vec::new(),
            })),
        })
    }

    /// Registers a credential guard holds: it is replaced by `[redacted]` in every later record.
    pub fn redact(&self, secret: &str) {
        // Short values would redact ordinary words; guard's own secrets are long and random.
        if secret.len() < 6 {
            return;
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"').to_string();
        self.lock().secrets.push(escaped);
    }

    /// Appends one record of type `kind` with the given fields (an object) and returns its `seq`.
    pub fn append(&self, kind: &str, fields: Value) -> io::Result<u64> {
        let mut chain = self.lock();
        if chain.poisoned {
            return Err(io::Error::other(
                "the transcript could not be written earlier",
            ));
        }
        let seq = chain.next_seq;
        let mut line = String::with_capacity(256);
        line.push_str(&format!(
            "{{\"seq\":{seq},\"ts\":\"{}\",\"type\":{},\"prev\":\"{}\"",
            Utc::now().rfc3339(),
            Value::from(kind),
            chain.prev
        ));
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        if let Some(Value::String(decision)) = fields.get("decision") {
            *chain.by_decision.entry(decision.clone()).or_default() += 1;
        }
        for (key, value) in &fields {
            line.push(',');
            line.push_str(&Value::from(key.as_str()).to_string());
            line.push(':');
            line.push_str(&value.to_string());
        }
        line.push('}');
        for secret in &chain.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "[redacted]");
            }
        }
        let mut bytes = line.into_bytes();
        let digest = sha256_hex(&bytes);
        bytes.push(b'\n');
        // One write per record: a reader never sees half a line from us unless we die mid-write.
        if let Err(e) = chain.file.write_all(&bytes) {
            chain.poisoned = true;
            return Err(e);
        }
        chain.prev = digest;
        chain.next_seq += 1;
        *chain.by_type.entry(kind.to_string()).or_default() += 1;
        Ok(seq)
    }

    /// The SHA-256 of the last record written: the digest that seals the chain so far.
    pub fn head(&self) -> String {
        self.lock().prev.clone()
    }

    /// Records written so far, by type and by decision, for `session_end`.
    pub fn counts(&self) -> Value {
        let chain = self.lock();
        serde_json::json!({ "by_type": chain.by_type, "by_decision": chain.by_decision })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Chain> {
        // A panic while holding the lock leaves the chain consistent (the write is one call).
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_chain_by_hash_of_the_previous_line() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.append("session_start", json!({"command": ["true"]}))
            .unwrap();
        t.append("query", json!({"sql": "select 1", "decision": "allow"}))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let first: Value = serde_json::from_str(lines[0]).unwrap();
        let second: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(first["prev"], GENESIS);
        assert_eq!(first["seq"], 0);
        assert_eq!(second["prev"], sha256_hex(lines[0].as_bytes()));
        assert_eq!(t.head(), sha256_hex(lines[1].as_bytes()));
        assert_eq!(t.counts()["by_decision"]["allow"], 1);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn registered_secrets_never_reach_the_file() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.redact("hunter2-secret\"quoted");
        t.append(
            "query",
            json!({"sql": "alter user x password 'hunter2-secret\"quoted'"}),
        )
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("[redacted]"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempdir() -> std::path::PathBuf {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).unwrap();
        let dir = std::env::temp_dir().join(format!("guard-test-{}", super::super::hex(&bytes)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

//! A recorded session written by the test itself, with fixed ids and times, so what guard prints
//! about it can be compared with snapshots.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub const ID: &str = "20261127T061530Z-3f9a2c";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `records` (objects without seq/ts/prev) as a hash-chained transcript, one second apart.
pub fn write_transcript(path: &Path, records: &[Value]) -> String {
    let mut prev = "0".repeat(64);
    let mut text = String::new();
    for (i, record) in records.iter().enumerate() {
        let mut line = format!(
            "{{\"seq\":{i},\"ts\":\"2026-11-27T06:15:{:02}.000Z\",\"type\":{},\"prev\":\"{prev}\"",
            30 + i,
            record["type"]
        );
        for (k, v) in record.as_object().unwrap() {
            if k != "type" {
                line.push_str(&format!(",{}:{}", Value::from(k.as_str()), v));
            }
        }
        line.push('}');
        prev = hex(&Sha256::digest(line.as_bytes()));
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
    prev
}

/// A finished session with statements of every outcome, a lease, masking and a refused egress.
pub fn write_session(home: &Path) -> PathBuf {
    let dir = home.join("sessions").join(ID);
    std::fs::create_dir_all(&dir).unwrap();
    let cast = "{\"version\":2,\"width\":60,\"height\":6,\"timestamp\":1795760130,\"command\":\"claude\"}\n\
                [0.5, \"o\", \"shop=> select * from customers;\\r\\n\"]\n\
                [2.0, \"m\", \"rejected write on shop (q-1-3)\"]\n\
                [3.0, \"o\", \"bye\\r\\n\"]\n";
    std::fs::write(dir.join("session.cast"), cast).unwrap();
    let cast_sha = hex(&Sha256::digest(cast.as_bytes()));
    let long_sql = format!(
        "update customers set note = 'x' where id in ({})",
        (1..40)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let records = vec![
        json!({"type": "session_start", "command": ["claude"], "cwd": "/home/dev/shop", "guard_version": "0.1.0",
               "config_sha256": "ab", "targets": [{"name": "shop", "kind": "postgres", "listen": "127.0.0.1:6432", "upstream": "db.internal:5432"}],
               "env_removed": ["GITHUB_TOKEN"]}),
        json!({"type": "credential", "target": "shop", "source": "openbao", "action": "issued", "lease_id": "database/creds/ro/abc", "ttl_s": 3600}),
        json!({"type": "connection", "target": "shop", "conn": 1, "action": "open", "client": "127.0.0.1:50000"}),
        json!({"type": "query", "id": "q-1-1", "target": "shop", "conn": 1, "sql": "select name, email from customers", "class": "read", "decision": "allow", "rule": null}),
        json!({"type": "result", "id": "q-1-1", "rows": 3, "masked": {"count": 3, "kinds": {"email": 3}}, "duration_ms": 2, "error": null}),
        json!({"type": "query", "id": "q-1-2", "target": "shop", "conn": 1, "sql": "drop table customers", "class": "dangerous", "decision": "deny", "rule": "default: dangerous is denied"}),
        json!({"type": "query", "id": "q-1-3", "target": "shop", "conn": 1, "sql": "delete from orders where id = 7 | 1", "class": "write", "decision": "rejected", "rule": "default: write asks"}),
        json!({"type": "approval", "id": "q-1-3", "decision": "rejected", "scope": "once", "via": "tty", "wait_ms": 4200}),
        json!({"type": "query", "id": "q-1-4", "target": "shop", "conn": 1, "sql": long_sql, "class": "write", "decision": "approved", "rule": "rule 1: class write on shop"}),
        json!({"type": "approval", "id": "q-1-4", "decision": "approved", "scope": "once", "via": "tty", "wait_ms": 1800}),
        json!({"type": "result", "id": "q-1-4", "rows": 39, "masked": {"count": 0, "kinds": {}}, "duration_ms": 5, "error": null}),
        json!({"type": "egress", "host": "evil.example", "port": 443, "decision": "deny"}),
        json!({"type": "connection", "target": "shop", "conn": 1, "action": "close", "client": "127.0.0.1:50000"}),
        json!({"type": "credential", "target": "shop", "source": "openbao", "action": "revoked", "lease_id": "database/creds/ro/abc", "ttl_s": null}),
        json!({"type": "session_end", "exit_code": 0, "duration_ms": 14000, "counts": {}, "cast_sha256": cast_sha}),
    ];
    let head = write_transcript(&dir.join("transcript.jsonl"), &records);
    let meta = json!({"id": ID, "name": "fix invoices", "command": ["claude"], "cwd": "/home/dev/shop",
                      "start": "2026-11-27T06:15:30.000Z", "end": "2026-11-27T06:15:44.000Z", "exit_code": 0,
                      "duration_ms": 14000, "guard_version": "0.1.0", "config_sha256": "ab",
                      "targets": [], "cast": true, "transcript_sha256": head, "cast_sha256": cast_sha});
    std::fs::write(
        dir.join("session.json"),
        serde_json::to_string_pretty(&meta).unwrap(),
    )
    .unwrap();
    dir
}

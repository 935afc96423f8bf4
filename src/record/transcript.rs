//! The transcript writer: one JSON object a line, each carrying the SHA-256 of the line before it,
//! in the kernel's hands before guard acts on what it records, so a crash loses nothing recorded.
//!
//! One `Transcript` is shared (cheaply cloned) by every part of a session; appends are serialised
//! by one lock, so `seq` and `prev` always form a single chain. An append that fails poisons the
//! writer: a hole in the chain could not be verified, and callers must refuse to forward what they
//! cannot record (fail closed).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::clock::Utc;
#[cfg(test)]
use super::sha256_hex;
use super::sha256_hex_bytes;

/// Fields that hold guard's own names, ids, classes and digests, never data: left unmasked.
const STRUCTURAL: &[&str] = &[
    "id",
    "name",
    "target",
    "conn",
    "class",
    "decision",
    "rule",
    "scope",
    "via",
    "action",
    "source",
    "lease_id",
    "cast_sha256",
    "config_sha256",
    "guard_version",
    "kind",
    "listen",
    "env_removed",
    "targets",
    "method",
    "host",
    "credentials",
];

fn mask_strings(masker: &crate::mask::Masker, value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(masked) = masker.mask_text(text).text {
                *text = masked;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_strings(masker, v)),
        Value::Object(map) => map.values_mut().for_each(|v| mask_strings(masker, v)),
        _ => {}
    }
}

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn genesis() -> [u8; 64] {
    let mut prev = [0; 64];
    prev.copy_from_slice(GENESIS.as_bytes());
    prev
}

/// What to do when the transcript first cannot be written.
pub type FailureHook = Box<dyn FnOnce(&io::Error) + Send>;

#[derive(Clone)]
pub struct Transcript {
    chain: Arc<Mutex<Chain>>,
}

struct Chain {
    file: File,
    /// Bytes of whole lines in the file: where a failed write is cut back to.
    written: u64,
    next_seq: u64,
    /// The SHA-256 (lowercase hex) of the last line chained.
    prev: [u8; 64],
    /// Why a write failed; every later append fails with it.
    poisoned: Option<String>,
    /// Told once, when the first write fails (the session tells the human).
    on_failure: Option<FailureHook>,
    by_type: BTreeMap<String, u64>,
    by_decision: BTreeMap<String, u64>,
    /// Registered credentials as they appear inside JSON strings, with a prepared searcher each.
    secrets: Vec<memchr::memmem::Finder<'static>>,
    /// Whole lines chained but not yet written (see `append_members_later`).
    pending: Vec<u8>,
    /// Records with a `seq` below this are in the file.
    written_seqs: u64,
    /// Writes made, for the tests of group commit.
    writes: u64,
    /// Masks the free-text fields of records built from values (commands, paths, messages).
    masker: Option<crate::mask::Masker>,
}

impl Transcript {
    /// Creates a new transcript file (mode 0600); an existing file is never appended to. The
    /// file stays locked while this process lives, so `guard verify` can tell a session that is
    /// still running from one whose guard died before writing its end.
    pub fn create(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        // SAFETY: flock on the descriptor just opened. Without the lock (a filesystem that has
        // none) verify only loses the running/stopped distinction.
        unsafe {
            libc::flock(
                std::os::fd::AsRawFd::as_raw_fd(&file),
                libc::LOCK_EX | libc::LOCK_NB,
            );
        }
        Ok(Transcript {
            chain: Arc::new(Mutex::new(Chain {
                file,
                written: 0,
                next_seq: 0,
                prev: genesis(),
                poisoned: None,
                on_failure: None,
                by_type: BTreeMap::new(),
                by_decision: BTreeMap::new(),
                secrets: Vec::new(),
                pending: Vec::with_capacity(4096),
                written_seqs: 0,
                writes: 0,
                masker: None,
            })),
        })
    }

    /// Registers a credential guard holds: it is replaced by `[redacted]` in every later record,
    /// and hidden by the session's masker once one is set (see `set_masker`).
    pub fn redact(&self, secret: &str) {
        // Short values would redact ordinary words; guard's own secrets are long and random.
        if secret.len() < 6 {
            return;
        }
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let escaped = escaped.trim_matches('"').as_bytes().to_vec();
        let finder = memchr::memmem::Finder::new(&escaped).into_owned();
        let mut chain = self.lock();
        chain.secrets.push(finder);
        // The session's masker shares its secrets with everything the agent sees, so a
        // credential issued mid-session (a replaced lease) is hidden there as well.
        if let Some(masker) = &chain.masker {
            masker.add_secret(secret);
        }
    }

    /// From now on, string fields of records appended as values are masked, except the ones
    /// that name guard's own things (ids, classes, digests): SPEC, no session file holds a value
    /// the masker would mask.
    pub fn set_masker(&self, masker: crate::mask::Masker) {
        self.lock().masker = Some(masker);
    }

    /// Runs `hook` when a write first fails, from then on refused (see the module docs).
    pub fn on_failure(&self, hook: FailureHook) {
        self.lock().on_failure = Some(hook);
    }

    /// Appends one record of type `kind` with the given fields (an object) and returns its `seq`.
    /// The record, and any chained by `append_members_later` before it, reach the file (the kernel)
    /// before this returns.
    pub fn append(&self, kind: &str, mut fields: Value) -> io::Result<u64> {
        let mut chain = self.lock();
        if let (Some(masker), Value::Object(map)) = (&chain.masker, &mut fields) {
            for (key, value) in map.iter_mut() {
                if !STRUCTURAL.contains(&key.as_str()) {
                    mask_strings(masker, value);
                }
            }
        }
        let seq = chain.chain(kind, fields)?;
        chain.write_pending()?;
        Ok(seq)
    }

    /// Chains a record now (its `seq`, `ts` and place are fixed; fields already written as JSON
    /// object members, `"a":1,"b":"x"`, so no `Value` is built per statement) but leaves the
    /// write to the next `append`, `flush` or `write_through`, so that one write carries several
    /// records. A caller that must not go on before the record
    /// is in the file (a statement about to go upstream) waits with `write_through`; for records
    /// nothing waits on, such as a statement's result, it makes sure `flush` runs soon.
    pub fn append_members_later(
        &self,
        kind: &str,
        decision: Option<&str>,
        members: &[u8],
    ) -> io::Result<u64> {
        self.lock().chain_members(kind, decision, members)
    }

    /// Makes sure record `seq` is in the file: writes everything chained and waiting, unless a
    /// write since it was chained (anyone's) already carried it. An error means it is not in
    /// the file and never will be (the transcript is poisoned).
    pub fn write_through(&self, seq: u64) -> io::Result<()> {
        let mut chain = self.lock();
        if seq < chain.written_seqs {
            return Ok(());
        }
        chain.write_pending()
    }

    /// Whether record `seq` is in the file; an error once it never will be (poisoned).
    pub fn is_written(&self, seq: u64) -> io::Result<bool> {
        let chain = self.lock();
        if seq < chain.written_seqs {
            return Ok(true);
        }
        chain.check_poisoned().map(|()| false)
    }

    /// Writes records chained by `append_members_later` that are still waiting.
    pub fn flush(&self) -> io::Result<()> {
        self.lock().write_pending()
    }

    /// The SHA-256 of the last record written: the digest that seals the chain so far.
    pub fn head(&self) -> String {
        String::from_utf8_lossy(&self.lock().prev).into_owned()
    }

    /// How many writes the records so far took.
    #[cfg(test)]
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }

    /// From now on every write fails, as on a full disk.
    #[cfg(test)]
    pub fn fail_writes_for_tests(&self) {
        self.lock().file = File::options().write(true).open("/dev/full").unwrap();
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

impl Chain {
    /// Builds the next line, links it to the chain and queues it for writing.
    fn chain(&mut self, kind: &str, fields: Value) -> io::Result<u64> {
        let Value::Object(map) = &fields else {
            return self.chain_members(kind, None, b"");
        };
        let decision = match map.get("decision") {
            Some(Value::String(decision)) => Some(decision.as_str()),
            _ => None,
        };
        let mut members = Vec::with_capacity(256);
        for (key, value) in map {
            if !members.is_empty() {
                members.push(b',');
            }
            serde_json::to_writer(&mut members, key).map_err(io::Error::other)?;
            members.push(b':');
            serde_json::to_writer(&mut members, value).map_err(io::Error::other)?;
        }
        self.chain_members(kind, decision, &members)
    }

    /// Builds the next line around `members` (JSON object members, `"a":1,"b":"x"`), links it
    /// to the chain and queues it for writing.
    fn chain_members(
        &mut self,
        kind: &str,
        decision: Option<&str>,
        members: &[u8],
    ) -> io::Result<u64> {
        self.check_poisoned()?;
        let seq = self.next_seq;
        let members = self.redacted(members);
        // The line is built where it will be written from: no copy of its own.
        let start = self.pending.len();
        let line = &mut self.pending;
        let _ = write!(line, "{{\"seq\":{seq},\"ts\":\"");
        Utc::now().write_rfc3339(line);
        line.extend_from_slice(b"\",\"type\":");
        // Writing a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *line, kind);
        line.extend_from_slice(b",\"prev\":\"");
        line.extend_from_slice(&self.prev);
        line.push(b'"');
        if !members.is_empty() {
            line.push(b',');
            line.extend_from_slice(&members);
        }
        line.push(b'}');
        self.prev = sha256_hex_bytes(&line[start..]);
        line.push(b'\n');
        self.next_seq += 1;
        count(&mut self.by_type, kind);
        if let Some(decision) = decision {
            count(&mut self.by_decision, decision);
        }
        Ok(seq)
    }

    /// The members with each registered secret inside a JSON string replaced by `[redacted]`.
    /// The header (`seq`, `ts`, `type`, `prev`) is guard's own and never touched, and neither is
    /// a match that does not start a character of a string: in a number (`"rows":123456`) or
    /// inside an escape (`\n` then `nopass...`) it is not the secret, and replacing it would
    /// break the line's JSON, which then no longer verifies. Nor is one inside a digest guard
    /// computed (`redactable`): a hash holds no credential, and a changed one breaks its seal.
    fn redacted<'a>(&self, members: &'a [u8]) -> Cow<'a, [u8]> {
        let mut text = Cow::Borrowed(members);
        for secret in &self.secrets {
            if secret.find(&text).is_none() {
                continue;
            }
            let starts = redactable(&text);
            let mut out = Vec::with_capacity(text.len());
            let (mut kept, mut from) = (0, 0);
            while let Some(at) = secret.find(&text[from..]).map(|i| from + i) {
                if starts[at] {
                    out.extend_from_slice(&text[kept..at]);
                    out.extend_from_slice(b"[redacted]");
                    kept = at + secret.needle().len();
                    from = kept;
                } else {
                    from = at + 1;
                }
            }
            out.extend_from_slice(&text[kept..]);
            text = Cow::Owned(out);
        }
        text
    }

    /// One write for everything queued: a reader never sees half a line from us unless we die
    /// mid-write. A failed write poisons the chain: a hole in it could not be verified. What a
    /// failed write left (a full disk takes part of it) is cut off, so the file still ends with
    /// a whole, chained line.
    fn write_pending(&mut self) -> io::Result<()> {
        self.check_poisoned()?;
        if self.pending.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(&self.pending);
        self.writes += 1;
        let len = self.pending.len() as u64;
        self.pending.clear();
        match &result {
            Ok(()) => {
                self.written += len;
                self.written_seqs = self.next_seq;
            }
            Err(e) => {
                self.poisoned = Some(e.to_string());
                let _ = self.file.set_len(self.written);
                if let Some(hook) = self.on_failure.take() {
                    hook(e);
                }
            }
        }
        result
    }

    fn check_poisoned(&self) -> io::Result<()> {
        match &self.poisoned {
            Some(why) => Err(io::Error::other(format!(
                "the transcript could not be written earlier ({why})"
            ))),
            None => Ok(()),
        }
    }
}

/// For each byte of JSON text (a record's members), whether a registered secret may be
/// replaced from there: where a character of a string's content starts (an escape counts as one
/// character, at its backslash), since a secret escaped as JSON is in a string exactly where it
/// matches from such a byte; but nowhere in a digest guard computed (`DIGESTS`), a member of
/// the record itself (not of an object inside it) with a digest's shape, so no other string can
/// pass for one.
fn redactable(json: &[u8]) -> Vec<bool> {
    let mut starts = vec![false; json.len()];
    let (mut i, mut depth, mut in_string) = (0, 0usize, false);
    while let Some(&b) = json.get(i) {
        let step = match (in_string, b) {
            (false, b'"') => match digest_value(json, i).filter(|_| depth == 0) {
                // Past the digest and its closing quote.
                Some(value) => value.end + 1 - i,
                None => {
                    in_string = true;
                    1
                }
            },
            (true, b'"') => {
                in_string = false;
                1
            }
            (true, b'\\') if json.get(i + 1) == Some(&b'u') => 6,
            (true, b'\\') => 2,
            (false, b'{' | b'[') => {
                depth += 1;
                1
            }
            (false, b'}' | b']') => {
                depth = depth.saturating_sub(1);
                1
            }
            _ => 1,
        };
        starts[i] = in_string && b != b'"';
        i += step;
    }
    starts
}

/// Fields whose value is a SHA-256 guard computed of one of its own files: `session_end`
/// seals the recording with `cast_sha256`, which `verify` compares with the file's.
const DIGESTS: [&[u8]; 2] = [b"\"cast_sha256\":\"", b"\"config_sha256\":\""];

/// The digest after a `DIGESTS` key starting at `at`, and its closing quote.
fn digest_value(json: &[u8], at: usize) -> Option<std::ops::Range<usize>> {
    let rest = &json[at..];
    let key = DIGESTS.iter().find(|key| rest.starts_with(key))?;
    let value = at + key.len()..at + key.len() + 64;
    let digits = json.get(value.clone())?;
    let hex = digits
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (hex && json.get(value.end) == Some(&b'"')).then_some(value)
}

fn count(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
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
    fn later_records_are_written_with_the_next_one_or_a_flush() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.append("query", json!({"id": 1})).unwrap();
        assert_eq!(
            t.append_members_later("result", None, br#""id":1"#)
                .unwrap(),
            1
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
        t.append("query", json!({"id": 2})).unwrap();
        t.append_members_later("result", None, br#""id":2"#)
            .unwrap();
        t.flush().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let types: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap()["type"].to_string())
            .collect();
        assert_eq!(
            types,
            ["\"query\"", "\"result\"", "\"query\"", "\"result\""]
        );
        let lines: Vec<&str> = text.lines().collect();
        let last: Value = serde_json::from_str(lines[3]).unwrap();
        assert_eq!(last["prev"], sha256_hex(lines[2].as_bytes()));
        assert_eq!(t.head(), sha256_hex(lines[3].as_bytes()));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn members_make_the_same_line_as_values() {
        let dir = tempdir();
        let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
        let (ta, tb) = (
            Transcript::create(&a).unwrap(),
            Transcript::create(&b).unwrap(),
        );
        ta.append(
            "query",
            json!({"id": 1, "sql": "select \"x\"", "decision": "allow"}),
        )
        .unwrap();
        let seq = tb
            .append_members_later(
                "query",
                Some("allow"),
                br#""id":1,"sql":"select \"x\"","decision":"allow""#,
            )
            .unwrap();
        tb.write_through(seq).unwrap();
        let strip = |p: &Path| {
            let text = std::fs::read_to_string(p).unwrap();
            let mut v: Value = serde_json::from_str(text.trim()).unwrap();
            v["ts"] = Value::Null;
            v
        };
        assert_eq!(strip(&a), strip(&b));
        assert_eq!(ta.counts(), tb.counts());
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

    /// A credential issued mid-session (a replaced lease) is registered through `redact`; the
    /// agent's view must hide it as well as the files do.
    #[test]
    fn a_secret_registered_later_is_hidden_by_the_session_masker_too() {
        let dir = tempdir();
        let t = Transcript::create(&dir.join("t.jsonl")).unwrap();
        let masker = crate::mask::Masker::new(&crate::mask::MaskConfig::default()).unwrap();
        t.set_masker(masker.clone());
        t.redact("second-lease-password-7f3a");
        let shown = masker.mask_text("the row says second-lease-password-7f3a");
        assert!(!shown.text.contains("7f3a"), "{}", shown.text);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_secret_that_matches_the_header_leaves_the_chain_verifiable() {
        // The first record's `prev` is 64 zeros, and `seq` and `ts` are digits.
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.redact("0000000000");
        t.redact("123456");
        t.append("query", json!({"sql": "pin 123456", "rows": 123456}))
            .unwrap();
        t.append("session_end", json!({})).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let chain = crate::record::verify::check_chain(&bytes).unwrap();
        assert_eq!(chain.records[0]["prev"], GENESIS);
        assert_eq!(chain.records[0]["sql"], "pin [redacted]");
        assert_eq!(chain.records[0]["rows"], 123456);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Found by the `verify` fuzz target: a registered secret that happens to be part of the
    /// recording's digest was redacted inside `cast_sha256`, and the genuine session then no
    /// longer verified. The same secret elsewhere in the record is still redacted.
    #[test]
    fn a_secret_inside_a_digest_leaves_the_seal_whole() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        let digest = sha256_hex(b"a recording");
        let config = sha256_hex(b"a config");
        t.redact(&digest[7..20]);
        t.redact(&config[40..]);
        let note = format!("{} and {}", &digest[7..20], &config[40..]);
        t.append(
            "session_start",
            json!({ "config_sha256": config, "note": note }),
        )
        .unwrap();
        // Only a digest guard wrote: not the same key inside a field, nor a value of another
        // shape.
        let inner = json!({ "cast_sha256": digest, "x": [{ "config_sha256": config }] });
        t.append(
            "http",
            json!({ "inner": inner, "cast_sha256": &digest[7..20] }),
        )
        .unwrap();
        t.append("session_end", json!({ "cast_sha256": digest }))
            .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let chain = crate::record::verify::check_chain(&bytes).unwrap();
        assert_eq!(chain.records[0]["config_sha256"], config);
        assert_eq!(chain.records[0]["note"], "[redacted] and [redacted]");
        assert_eq!(chain.records[2]["cast_sha256"], digest);
        let http = &chain.records[1];
        assert_eq!(http["cast_sha256"], "[redacted]");
        let redacted = |d: &str, r: std::ops::Range<usize>| d.replace(&d[r], "[redacted]");
        assert_eq!(http["inner"]["cast_sha256"], redacted(&digest, 7..20));
        assert_eq!(
            http["inner"]["x"][0]["config_sha256"],
            redacted(&config, 40..64)
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_secret_that_matches_inside_an_escape_is_not_the_secret() {
        // "\nopass1234" holds a newline and "opass1234", not the secret "nopass1234".
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.redact("nopass1234");
        t.append("query", json!({"a": "x\nopass1234", "b": "nopass1234"}))
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let record: Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(record["a"], "x\nopass1234");
        assert_eq!(record["b"], "[redacted]");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Group commit: records chained by several callers go in one write, made by whichever
    /// caller asks first; the others find theirs already in the file.
    #[test]
    fn one_write_through_carries_every_record_chained_before_it() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        let a = t.append_members_later("query", Some("allow"), br#""id":1"#);
        let b = t.append_members_later("query", Some("allow"), br#""id":2"#);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
        t.write_through(b).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        // Nothing is waiting now: a's turn writes nothing (a write would fail on this file).
        t.fail_writes_for_tests();
        t.write_through(a).unwrap();
        assert_eq!(t.counts()["by_decision"]["allow"], 2);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Fail closed: a record whose shared write failed is not in the file, so every caller
    /// waiting on it hears so, not only the one that made the write.
    #[test]
    fn a_failed_shared_write_fails_every_record_it_carried() {
        let dir = tempdir();
        let path = dir.join("t.jsonl");
        let t = Transcript::create(&path).unwrap();
        t.append("session_start", json!({})).unwrap();
        let a = t.append_members_later("query", None, br#""id":1"#).unwrap();
        let b = t.append_members_later("query", None, br#""id":2"#).unwrap();
        t.fail_writes_for_tests();
        assert!(t.write_through(a).is_err());
        assert!(t.write_through(b).is_err());
        assert!(t.append_members_later("query", None, b"").is_err());
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

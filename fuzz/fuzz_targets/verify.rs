//! Fuzzes the session verifier. With any bytes for `transcript.jsonl` and `session.cast` it
//! never panics, and when it says a session is intact, the files really are: every line
//! parses, `seq` counts from 0, each `prev` is the SHA-256 of the line before, the last record
//! is `session_end`, `session.json` names the last line's digest, and the recording is a whole
//! asciicast v2 file with the digest `session_end` sealed.
//!
//! Input: a mode byte. Even: the rest is two files, cut where the next two bytes say. Odd: the
//! rest writes a genuine session with guard's own transcript and cast writers, which must
//! verify; then one byte of it is changed, removed or added (where the next bytes say), and
//! it must no longer verify.
//!
//!     cargo +nightly fuzz run verify

#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use guard_fuzz::mask::{MaskConfig, Masker};
use guard_fuzz::record::cast::{CastHeader, CastWriter};
use guard_fuzz::record::sha256_hex;
use guard_fuzz::record::transcript::{GENESIS, Transcript};
use guard_fuzz::record::verify::{check_chain, verify_session};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let dir = Folder::new();
    if mode % 2 == 0 {
        raw(&dir.0, rest);
    } else {
        genuine_then_tampered(&dir.0, mode, rest);
    }
});

/// A session folder of its own for one input, removed after it.
struct Folder(PathBuf);

impl Folder {
    fn new() -> Folder {
        let dir = guard_fuzz::scratch::path();
        std::fs::create_dir_all(&dir).expect("a temporary folder");
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn raw(dir: &Path, rest: &[u8]) {
    let [a, b, files @ ..] = rest else {
        return;
    };
    let cut = usize::from(u16::from_le_bytes([*a, *b])).min(files.len());
    let (transcript, cast) = files.split_at(cut);
    // session.json names the chain's head, so a session gets past that check to the cast.
    let head = match check_chain(transcript) {
        Ok(chain) => {
            assert_eq!(
                recompute(transcript),
                Some(chain.head.clone()),
                "check_chain accepted a broken chain"
            );
            chain.head
        }
        Err(broken) => {
            assert!(broken.line >= 1);
            "none".to_string()
        }
    };
    write(dir, transcript, cast, &head);
    let verdict = verify_session(dir);
    if verdict.intact() {
        assert_eq!(
            recompute(transcript),
            Some(head),
            "an intact session with a broken chain"
        );
        check_sealed(transcript, cast);
    }
}

fn write(dir: &Path, transcript: &[u8], cast: &[u8], head: &str) {
    std::fs::write(dir.join("transcript.jsonl"), transcript).expect("write");
    std::fs::write(dir.join("session.cast"), cast).expect("write");
    let meta = json!({ "transcript_sha256": head }).to_string();
    std::fs::write(dir.join("session.json"), meta).expect("write");
}

/// The chain, recomputed from the rules of the transcript format alone: the digest of the
/// last line, or `None` if any rule is broken.
fn recompute(bytes: &[u8]) -> Option<String> {
    let body = bytes.strip_suffix(b"\n")?;
    let mut prev = GENESIS.to_string();
    let lines: Vec<&[u8]> = body.split(|&b| b == b'\n').collect();
    for (i, line) in lines.iter().enumerate() {
        let record: serde_json::Map<String, Value> = serde_json::from_slice(line).ok()?;
        let kind = record.get("type")?.as_str()?;
        let ok = record.get("seq")?.as_u64()? == i as u64
            && record.get("prev")?.as_str()? == prev
            && record.get("ts")?.is_string()
            && (kind != "session_end" || i + 1 == lines.len());
        if !ok {
            return None;
        }
        prev = sha256_hex(line);
    }
    Some(prev)
}

/// The last record is `session_end`, and the cast it seals (if any) is that very file, a
/// header and whole events in time order.
fn check_sealed(transcript: &[u8], cast: &[u8]) {
    let last = transcript[..transcript.len() - 1]
        .rsplit(|&b| b == b'\n')
        .next()
        .unwrap_or_default();
    let end: Value = serde_json::from_slice(last).expect("the last line parses");
    assert_eq!(end["type"], "session_end");
    let Some(sealed) = end["cast_sha256"].as_str() else {
        return;
    };
    assert_eq!(
        sealed,
        sha256_hex(cast),
        "intact with a different recording"
    );
    let text = cast
        .strip_suffix(b"\n")
        .expect("the cast ends with a newline");
    let mut lines = text.split(|&b| b == b'\n');
    let header: Value = serde_json::from_slice(lines.next().unwrap_or_default()).expect("a header");
    assert_eq!(header["version"], 2);
    let mut last = 0.0;
    for line in lines {
        let (t, _, _): (f64, String, String) = serde_json::from_slice(line).expect("an event");
        assert!(t >= last, "events out of order");
        last = t;
    }
}

/// Record types the genuine session cycles through.
const KINDS: [&str; 5] = ["query", "result", "http", "connection", "approval"];

/// Input after the mode: what to change (1 byte), where (2), the byte to use (1), a secret's
/// length (1) and the secret, then the session's content: pieces cut at NUL, alternately a
/// record's text and output for the recording.
fn genuine_then_tampered(dir: &Path, mode: u8, rest: &[u8]) {
    let [what, p0, p1, byte, secret_len, rest @ ..] = rest else {
        return;
    };
    let (secret, content) = rest.split_at(usize::from(*secret_len % 32).min(rest.len()));
    let masker = (mode & 2 != 0).then(masker);
    let transcript = Transcript::create(&dir.join("transcript.jsonl")).expect("create");
    if let Some(m) = &masker {
        transcript.set_masker(m.clone());
    }
    // Credentials guard holds: letters and digits, as guard's own secrets and leased passwords.
    let secret = String::from_utf8_lossy(secret);
    if secret.bytes().all(|b| b.is_ascii_alphanumeric()) {
        transcript.redact(&secret);
    }
    let header = CastHeader {
        cols: 80,
        rows: 24,
        timestamp: 0,
        command: "sh",
        title: None,
        term: None,
        shell: None,
    };
    let cast_path = dir.join("session.cast");
    let mut cast = CastWriter::create(
        &cast_path,
        &header,
        masker.as_ref().filter(|_| mode & 4 != 0),
    )
    .expect("cast");
    for (i, piece) in content.split(|&b| b == 0).enumerate() {
        if i % 2 == 1 {
            cast.output(std::time::Instant::now(), piece)
                .expect("cast output");
            continue;
        }
        let text = String::from_utf8_lossy(piece);
        let fields = json!({ "id": i, "sql": text, "rows": piece.len() });
        transcript
            .append(KINDS[(i / 2) % KINDS.len()], fields)
            .expect("append");
    }
    let digest = cast.finish().expect("cast finish");
    transcript
        .append("session_end", json!({ "cast_sha256": digest }))
        .expect("append");
    let meta = json!({ "transcript_sha256": transcript.head() }).to_string();
    std::fs::write(dir.join("session.json"), meta).expect("write");
    let verdict = verify_session(dir);
    assert!(
        verdict.intact(),
        "a genuine session does not verify: {:?}",
        verdict.problems
    );
    let position = usize::from(u16::from_le_bytes([*p0, *p1]));
    if tamper(dir, *what, position, *byte) {
        let verdict = verify_session(dir);
        assert!(
            !verdict.intact(),
            "a tampered session verifies (change {what} at {position})"
        );
    }
}

/// Changes one file of the session; false when the change would leave it as it was.
fn tamper(dir: &Path, what: u8, position: usize, byte: u8) -> bool {
    let file = if what % 2 == 0 {
        "transcript.jsonl"
    } else {
        "session.cast"
    };
    let path = dir.join(file);
    let Ok(mut bytes) = std::fs::read(&path) else {
        return false;
    };
    let before = bytes.clone();
    let at = position % (bytes.len() + 1);
    match (what / 2) % 4 {
        0 if at < bytes.len() => bytes[at] ^= byte.max(1),
        1 if at < bytes.len() => {
            bytes.remove(at);
        }
        2 => bytes.insert(at, byte),
        _ => bytes.truncate(at),
    }
    if bytes == before {
        return false;
    }
    std::fs::write(&path, &bytes).expect("write");
    true
}

/// One masker for every input (building one compiles its detectors).
fn masker() -> Masker {
    static MASKER: OnceLock<Masker> = OnceLock::new();
    MASKER
        .get_or_init(|| Masker::new(&MaskConfig::default()).expect("masker"))
        .clone()
}

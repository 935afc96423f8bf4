//! Reading a session back and proving it intact: recompute the transcript's hash chain, check
//! that the session ended, that `session.json` names the final digest, and that the cast is the
//! one whose digest the `session_end` record sealed.

use std::path::Path;

use serde_json::Value;

use super::sha256_hex;
use super::transcript::GENESIS;

/// An intact chain, as read.
#[derive(Debug)]
pub struct Chain {
    pub records: Vec<Value>,
    /// SHA-256 of the last line: what `session.json` must name.
    pub head: String,
}

/// The first thing wrong with a transcript; `line` counts from 1.
#[derive(Debug, PartialEq, Eq)]
pub struct Broken {
    pub line: usize,
    pub reason: String,
}

/// Recomputes the chain over the exact bytes of a transcript.
pub fn check_chain(bytes: &[u8]) -> Result<Chain, Broken> {
    let broken = |line, reason: &str| Broken {
        line,
        reason: reason.to_string(),
    };
    if bytes.is_empty() {
        return Err(broken(1, "the transcript is empty"));
    }
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    // A complete file ends with a newline, which leaves one empty piece at the end.
    let tail = lines.pop().unwrap_or_default();
    if !tail.is_empty() {
        return Err(broken(
            lines.len() + 1,
            "the line is incomplete: the file was truncated or guard stopped mid-write",
        ));
    }
    let mut prev = GENESIS.to_string();
    let mut records = Vec::with_capacity(lines.len());
    let mut ended = false;
    for (i, line) in lines.iter().enumerate() {
        let n = i + 1;
        if ended {
            return Err(broken(n, "a record follows session_end"));
        }
        let record: Value = serde_json::from_slice(line)
            .map_err(|_| broken(n, "the line is not valid JSON (altered or corrupted)"))?;
        if record.get("seq").and_then(Value::as_u64) != Some(i as u64) {
            return Err(broken(
                n,
                &format!("seq should be {i}: a record was removed, added or reordered"),
            ));
        }
        if record.get("prev").and_then(Value::as_str) != Some(prev.as_str()) {
            let what = if i == 0 {
                "prev of the first record is not 64 zeros".to_string()
            } else {
                format!("prev does not match the SHA-256 of line {i}: a line was altered")
            };
            return Err(broken(n, &what));
        }
        let kind = record.get("type").and_then(Value::as_str);
        if kind.is_none() || record.get("ts").and_then(Value::as_str).is_none() {
            return Err(broken(n, "the record has no type or ts"));
        }
        ended = kind == Some("session_end");
        prev = sha256_hex(line);
        records.push(record);
    }
    Ok(Chain {
        records,
        head: prev,
    })
}

/// The verdict on a whole session folder.
#[derive(Debug)]
pub struct Verdict {
    pub records: usize,
    pub head: Option<String>,
    pub problems: Vec<String>,
    /// Set when the one problem is that the session has no end yet, not that anything in it
    /// was altered: its records are whole and chained up to the last.
    pub unfinished: Option<Unfinished>,
}

/// Why an intact transcript has no `session_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfinished {
    /// The guard that writes it still holds it (see `Transcript::create`).
    Running,
    /// Nobody holds it: guard was killed, the machine stopped, or the end could not be written.
    Stopped,
}

impl Verdict {
    pub fn intact(&self) -> bool {
        self.problems.is_empty()
    }
}

pub fn verify_session(dir: &Path) -> Verdict {
    let mut verdict = Verdict {
        records: 0,
        head: None,
        problems: Vec::new(),
        unfinished: None,
    };
    let chain = match std::fs::read(dir.join("transcript.jsonl")) {
        Ok(bytes) => match check_chain(&bytes) {
            Ok(chain) => chain,
            Err(b) => {
                verdict
                    .problems
                    .push(format!("transcript.jsonl line {}: {}", b.line, b.reason));
                return verdict;
            }
        },
        Err(e) => {
            verdict
                .problems
                .push(format!("transcript.jsonl cannot be read: {e}"));
            return verdict;
        }
    };
    verdict.records = chain.records.len();
    verdict.head = Some(chain.head.clone());
    let end = chain.records.last().filter(|r| r["type"] == "session_end");
    let Some(end) = end else {
        no_end(dir, &mut verdict);
        return verdict;
    };
    check_metadata(dir, &chain.head, &mut verdict.problems);
    check_cast(dir, end, &mut verdict.problems);
    verdict
}

/// A transcript without `session_end`: unfinished when `session.json` names no final digest
/// (guard writes it only with the end), else records were removed from the end.
fn no_end(dir: &Path, verdict: &mut Verdict) {
    let sealed = std::fs::read(dir.join("session.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .is_some_and(|m| m["transcript_sha256"].is_string());
    let n = verdict.records;
    let problem = if sealed {
        "transcript.jsonl has no session_end record, but session.json says the session ended: \
         records were removed from the end"
            .to_string()
    } else if still_written(&dir.join("transcript.jsonl")) {
        verdict.unfinished = Some(Unfinished::Running);
        format!(
            "transcript.jsonl has no session_end record yet: the session is still running \
             (the {n} records so far are intact)"
        )
    } else {
        verdict.unfinished = Some(Unfinished::Stopped);
        format!(
            "transcript.jsonl has no session_end record: guard stopped before it could end the \
             session (it was killed, its machine stopped, or it could not write); the {n} records \
             it has are intact"
        )
    };
    verdict.problems.push(problem);
}

/// Whether a running guard holds the transcript's lock (taken by `Transcript::create`; the
/// kernel drops it when that process ends, however it ends).
fn still_written(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // SAFETY: flock on a descriptor we own; the lock (if we get it) goes with the file.
    let got = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    got != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EWOULDBLOCK)
}

fn check_metadata(dir: &Path, head: &str, problems: &mut Vec<String>) {
    let meta: Option<Value> = std::fs::read(dir.join("session.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    match meta.as_ref().and_then(|m| m["transcript_sha256"].as_str()) {
        Some(digest) if digest == head => {}
        Some(_) => problems.push(
            "session.json names a different final digest than the transcript: \
             records were added or removed at the end"
                .into(),
        ),
        None => problems.push("session.json is missing, unreadable or has no final digest".into()),
    }
}

fn check_cast(dir: &Path, end: &Value, problems: &mut Vec<String>) {
    let Some(sealed) = end["cast_sha256"].as_str() else {
        return; // recorded with --no-cast
    };
    let path = dir.join("session.cast");
    if let Err(problem) = check_cast_shape(&path) {
        problems.push(problem);
        return;
    }
    match file_sha256(&path) {
        Ok(digest) if digest == sealed => {}
        Ok(_) => {
            problems.push("session.cast differs from the recording the transcript sealed".into())
        }
        Err(e) => problems.push(format!("session.cast cannot be read: {e}")),
    }
}

/// The cast is a header line and whole events, in time order, ending with a newline.
fn check_cast_shape(path: &Path) -> Result<(), String> {
    use std::io::BufRead;
    let file =
        std::fs::File::open(path).map_err(|e| format!("session.cast cannot be read: {e}"))?;
    let mut last = 0.0f64;
    for (i, line) in std::io::BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| format!("session.cast cannot be read: {e}"))?;
        let n = i + 1;
        if i == 0 {
            let header: Option<Value> = serde_json::from_slice(&line).ok();
            if header.as_ref().and_then(|h| h["version"].as_u64()) != Some(2) {
                return Err("session.cast line 1: not an asciicast v2 header".into());
            }
            continue;
        }
        let Ok((t, _, _)) = serde_json::from_slice::<(f64, String, String)>(&line) else {
            return Err(format!(
                "session.cast line {n}: not a whole event (truncated or altered)"
            ));
        };
        if t < last {
            return Err(format!(
                "session.cast line {n}: time goes backwards (events reordered)"
            ));
        }
        last = t;
    }
    if !ends_with_newline(path) {
        return Err("session.cast does not end with a whole line: it was truncated".into());
    }
    Ok(())
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let mut last = [0u8; 1];
    file.seek(SeekFrom::End(-1)).is_ok() && file.read_exact(&mut last).is_ok() && last[0] == b'\n'
}

/// Hashes a file in pieces: a recording can be far larger than is worth holding in memory.
fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match file.read(&mut buf)? {
            0 => return Ok(super::hex(&hasher.finalize())),
            n => hasher.update(&buf[..n]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_of(n: usize) -> Vec<u8> {
        let mut prev = GENESIS.to_string();
        let mut out = Vec::new();
        for i in 0..n {
            let kind = if i + 1 == n { "session_end" } else { "query" };
            let line = format!(
                r#"{{"seq":{i},"ts":"2026-11-27T06:15:30.000Z","type":"{kind}","prev":"{prev}"}}"#
            );
            prev = sha256_hex(line.as_bytes());
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn an_intact_chain_verifies() {
        let bytes = chain_of(4);
        let chain = check_chain(&bytes).unwrap();
        assert_eq!(chain.records.len(), 4);
    }

    #[test]
    fn one_edited_byte_is_found() {
        let mut bytes = chain_of(4);
        // The year in line 2's timestamp: the record still parses, only its hash changes.
        let line2 = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        let at = line2
            + bytes[line2..]
                .windows(4)
                .position(|w| w == b"2026")
                .unwrap();
        bytes[at + 3] = b'7';
        let err = check_chain(&bytes).unwrap_err();
        assert_eq!(err.line, 3, "{}", err.reason);
        assert!(err.reason.contains("line 2"), "{}", err.reason);
    }

    #[test]
    fn a_removed_line_is_found() {
        let bytes = chain_of(4);
        let text = String::from_utf8(bytes).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.remove(1);
        let joined = lines.join("\n") + "\n";
        let err = check_chain(joined.as_bytes()).unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.reason.contains("seq"), "{}", err.reason);
    }

    #[test]
    fn a_truncated_file_is_found() {
        let bytes = chain_of(3);
        let err = check_chain(&bytes[..bytes.len() - 10]).unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.reason.contains("incomplete"));
    }

    #[test]
    fn garbage_never_panics() {
        for input in [
            &b""[..],
            b"\n",
            b"{}\n",
            b"[1]\n",
            b"\xff\xfe\n",
            b"{\"seq\":0}\n",
        ] {
            assert!(check_chain(input).is_err());
        }
    }
}

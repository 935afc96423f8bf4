//! The asciicast v2 writer (https://docs.asciinema.org/manual/asciicast/v2/): a JSON header line,
//! then `[seconds, code, data]` events: `o` output, `i` input, `r` resize, `m` marker.
//!
//! Each event is flushed as it is written so a crash leaves a playable file. Terminal output
//! arrives in arbitrary chunks that can split a UTF-8 sequence; a carry buffer per stream keeps
//! the tail of an incomplete sequence for the next chunk, and truly invalid bytes become U+FFFD.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::Instant;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::mask::{MaskStream, Masker, swar};

/// What the header says about the recording.
pub struct CastHeader<'a> {
    pub cols: u16,
    pub rows: u16,
    pub timestamp: u64,
    pub command: &'a str,
    pub title: Option<&'a str>,
    pub term: Option<&'a str>,
    pub shell: Option<&'a str>,
}

pub struct CastWriter {
    out: Hashing,
    /// The event being written, kept to reuse its allocation.
    line: Vec<u8>,
    start: Instant,
    output: Utf8Carry,
    input: Utf8Carry,
    /// What the masker would mask never reaches the file (SPEC, Session files); one stream per
    /// direction so a value split across reads is still caught.
    masks: Option<(MaskStream, MaskStream)>,
    masker: Option<Masker>,
    /// Bytes went into a mask stream since the last `idle`.
    held: bool,
}

impl CastWriter {
    /// Creates the file (mode 0600) and writes the header.
    pub fn create(path: &Path, header: &CastHeader, masker: Option<&Masker>) -> io::Result<Self> {
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        let mut writer = CastWriter {
            out: Hashing::new(file),
            line: Vec::new(),
            start: Instant::now(),
            output: Utf8Carry::default(),
            input: Utf8Carry::default(),
            masks: masker.map(|m| (m.stream(), m.stream())),
            masker: masker.cloned(),
            held: false,
        };
        let mut head = json!({
            "version": 2,
            "width": header.cols,
            "height": header.rows,
            "timestamp": header.timestamp,
            "command": header.command,
            "env": { "TERM": header.term, "SHELL": header.shell },
        });
        if let Some(title) = header.title {
            head["title"] = Value::from(title);
        }
        writer.out.write_all(format!("{head}\n").as_bytes())?;
        Ok(writer)
    }

    /// Terminal output read at `at`.
    pub fn output(&mut self, at: Instant, bytes: &[u8]) -> io::Result<()> {
        self.chunk(at, bytes, false)
    }

    /// Keystrokes read at `at`.
    pub fn input(&mut self, at: Instant, bytes: &[u8]) -> io::Result<()> {
        self.chunk(at, bytes, true)
    }

    /// A chunk of one direction: through its mask stream, if any, then its UTF-8 carry.
    fn chunk(&mut self, at: Instant, bytes: &[u8], input: bool) -> io::Result<()> {
        let masked = self
            .masks
            .as_mut()
            .map(|(out, keys)| if input { keys } else { out }.push(bytes));
        self.held |= masked.is_some();
        let carry = if input {
            &mut self.input
        } else {
            &mut self.output
        };
        let text = carry.decode(masked.as_deref().unwrap_or(bytes));
        self.event(at, if input { "i" } else { "o" }, &text)
    }

    /// Whether output is held in a mask stream, waiting for what follows it.
    pub fn holding(&self) -> bool {
        self.held
    }

    /// The terminal went quiet: write what the mask streams hold, masked as it stands, so the
    /// recording keeps the screen's timing (a prompt is not held until the next output). A
    /// value split across this pause and the next output is the price; the pause is the
    /// child's, which rarely stops mid-value.
    pub fn idle(&mut self) -> io::Result<()> {
        self.held = false;
        let (Some((out, input)), Some(masker)) = (self.masks.as_mut(), self.masker.as_ref()) else {
            return Ok(());
        };
        let held_out = out.finish();
        let held_in = input.finish();
        *out = masker.stream();
        *input = masker.stream();
        let now = Instant::now();
        let text = self.output.decode(&held_out);
        self.event(now, "o", &text)?;
        let text = self.input.decode(&held_in);
        self.event(now, "i", &text)
    }

    pub fn resize(&mut self, at: Instant, cols: u16, rows: u16) -> io::Result<()> {
        self.event(at, "r", &format!("{cols}x{rows}"))
    }

    pub fn marker(&mut self, at: Instant, label: &str) -> io::Result<()> {
        self.event(at, "m", label)
    }

    /// Writes what the carry buffers still hold, flushes, and returns the SHA-256 of every
    /// byte of the file, which the transcript's `session_end` seals.
    pub fn finish(mut self) -> io::Result<String> {
        let now = Instant::now();
        if let Some((mut out, mut input)) = self.masks.take() {
            let (held_out, held_in) = (out.finish(), input.finish());
            let held = self.output.decode(&held_out);
            self.event(now, "o", &held)?;
            let held = self.input.decode(&held_in);
            self.event(now, "i", &held)?;
        }
        let rest = self.output.flush();
        self.event(now, "o", &rest)?;
        let rest = self.input.flush();
        self.event(now, "i", &rest)?;
        Ok(super::hex(&self.out.hasher.finalize()))
    }

    fn event(&mut self, at: Instant, code: &str, data: &str) -> io::Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let secs = at.saturating_duration_since(self.start).as_secs_f64();
        // One write an event: the relay's chunks are large, and an event is on disk (and in the
        // digest) as soon as it is written.
        let line = &mut self.line;
        line.clear();
        write!(line, "[{secs:.6}, \"{code}\", ")?;
        write_json_string(line, data);
        line.extend_from_slice(b"]\n");
        self.out.write_all(line)
    }
}

/// Writes `text` as a JSON string, byte for byte as `serde_json` writes it (RFC 8259: `"` and
/// `\` escaped, control characters as `\n` or `\u001b`, nothing else), finding the bytes to
/// escape eight at a time, every one of a word from the one load: all of a session's output goes
/// through here, and terminal text has two to escape a line (CR LF).
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    // Room for a line's two escapes every forty bytes.
    out.reserve(bytes.len() + bytes.len() / 20 + 2);
    out.push(b'"');
    // `bytes[copied..]` is not in `out` yet.
    let mut copied = 0;
    let mut at = 0;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        let mut escapes = escapes(word);
        while escapes != 0 {
            let i = at + escapes.trailing_zeros() as usize / 8;
            out.extend_from_slice(&bytes[copied..i]);
            escape(out, bytes[i]);
            copied = i + 1;
            escapes &= escapes - 1;
        }
        at += 8;
    }
    for (i, &b) in bytes.iter().enumerate().skip(at) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[copied..i]);
            escape(out, b);
            copied = i + 1;
        }
    }
    out.extend_from_slice(&bytes[copied..]);
    out.push(b'"');
}

/// The high bit of each byte of `word` that JSON escapes: a quote, a backslash or a control
/// character.
fn escapes(word: u64) -> u64 {
    swar::in_range(word, 0, 0x1f) | swar::equal(word, b'"') | swar::equal(word, b'\\')
}

/// Appends the escape of one byte `escapes` found.
fn escape(out: &mut Vec<u8>, b: u8) {
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        b'\t' => b't',
        b'\n' => b'n',
        0x0c => b'f',
        b'\r' => b'r',
        _ => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let hex = [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]];
            out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex[0], hex[1]]);
            return;
        }
    };
    out.extend_from_slice(&[b'\\', short]);
}

/// The file, hashed as it is written, so sealing the recording never reads it back.
struct Hashing {
    file: File,
    hasher: Sha256,
}

impl Hashing {
    fn new(file: File) -> Self {
        Hashing {
            file,
            hasher: Sha256::new(),
        }
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Turns a byte stream into text chunk by chunk without breaking multi-byte sequences.
#[derive(Default)]
pub struct Utf8Carry {
    pending: Vec<u8>,
}

impl Utf8Carry {
    pub fn decode<'a>(&mut self, bytes: &'a [u8]) -> Cow<'a, str> {
        // Most chunks: whole UTF-8, nothing carried, nothing to copy.
        if self.pending.is_empty()
            && let Ok(text) = std::str::from_utf8(bytes)
        {
            return Cow::Borrowed(text);
        }
        let joined;
        let mut rest: &[u8] = if self.pending.is_empty() {
            bytes
        } else {
            let mut v = std::mem::take(&mut self.pending);
            v.extend_from_slice(bytes);
            joined = v;
            &joined
        };
        let mut text = String::with_capacity(rest.len());
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    return Cow::Owned(text);
                }
                Err(e) => {
                    let (valid, tail) = rest.split_at(e.valid_up_to());
                    // The prefix up to valid_up_to() is UTF-8 by the error's own contract.
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(bad) => {
                            text.push('\u{FFFD}');
                            rest = &tail[bad..];
                        }
                        None => {
                            self.pending = tail.to_vec();
                            return Cow::Owned(text);
                        }
                    }
                }
            }
        }
    }

    /// What is left when the stream ends: an incomplete sequence is invalid by then.
    pub fn flush(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_sequences_come_out_whole() {
        let text = "naïve — 日本語 🎉";
        let bytes = text.as_bytes();
        for cut in 0..bytes.len() {
            let mut carry = Utf8Carry::default();
            let mut out = carry.decode(&bytes[..cut]).into_owned();
            out.push_str(&carry.decode(&bytes[cut..]));
            out.push_str(&carry.flush());
            assert_eq!(out, text, "cut at {cut}");
        }
    }

    #[test]
    fn byte_by_byte_is_whole_too() {
        let text = "é🎉x";
        let mut carry = Utf8Carry::default();
        let out: String = text
            .bytes()
            .map(|b| carry.decode(&[b]).into_owned())
            .collect();
        assert_eq!(out, text);
    }

    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut texts: Vec<String> = (0u8..0x80).map(|b| format!("ab{}cd", b as char)).collect();
        texts.push("naïve — 日本語 🎉 \"quoted\" C:\\path\r\n\t\u{7f}\u{1b}[0m".into());
        texts.push(String::new());
        let alphabet = [' ', '-', '"', '\\', '\n', '\x01', 'é', 'x'];
        let long: String = (0..300).map(|i| alphabet[i % 8]).collect();
        for cut in 0..40 {
            texts.push(long.chars().skip(cut).collect());
        }
        for text in texts {
            let mut ours = Vec::new();
            write_json_string(&mut ours, &text);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                serde_json::to_string(&text).unwrap()
            );
        }
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut carry = Utf8Carry::default();
        assert_eq!(carry.decode(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(carry.decode(b"\xe6\x97"), "");
        assert_eq!(carry.flush(), "\u{FFFD}");
    }
}

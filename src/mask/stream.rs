//! Masking a byte stream that arrives in chunks (HTTP bodies, SSE, terminal output), so that a
//! value split across chunks is still caught. The stream emits only the bytes no future chunk
//! can change: it holds back the longest match any rule or registered secret can make, any
//! value that runs into the end of what has arrived (a token, a quoted password, a key block
//! still open), and whole characters. Its output is the same as masking everything at once.

use super::engine::{Carry, find_bytes};
use super::{MaskCounts, Masker, redact_again};

/// A value still open after this many held-back bytes is emitted masked as far as it goes,
/// and its continuation is swallowed as it arrives: memory stays bounded whatever the input.
const MAX_HOLD: usize = 64 * 1024;

/// Bytes kept before the next search so that `\b` and friends see what precedes it.
const CONTEXT: usize = 4;

/// Created by `Masker::stream`. `push` each chunk and write out what it returns; `finish`
/// at the end of the stream returns the rest.
pub struct MaskStream {
    masker: Masker,
    buf: Vec<u8>,
    /// `buf[..start]` was emitted already and is kept as context only.
    start: usize,
    counts: MaskCounts,
    /// A value that was emitted (masked) before it ended: its continuation is dropped.
    carry: Option<Carry>,
    /// The last bytes swallowed inside a key block, to find an `-----END` split across chunks.
    pem_tail: Vec<u8>,
}

impl MaskStream {
    pub(super) fn new(masker: Masker) -> MaskStream {
        MaskStream {
            masker,
            buf: Vec::new(),
            start: 0,
            counts: MaskCounts::default(),
            carry: None,
            pem_tail: Vec::new(),
        }
    }

    /// Takes the next chunk; returns the masked bytes that are final so far (often fewer than
    /// were pushed, sometimes none).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let chunk = self.swallow(chunk);
        self.buf.extend_from_slice(chunk);
        let secrets = self.masker.inner.secrets.current();
        let hold = self.masker.hold_len(&secrets);
        let len = self.buf.len();
        if len - self.start <= hold {
            return Vec::new();
        }
        let (hits, pending) = self.masker.scan(&self.buf, self.start, false, &secrets);
        let mut cut = len - hold;
        if let Some(open) = pending {
            cut = cut.min(open);
        }
        let straddling = hits.iter().filter(|h| h.whole.end > cut);
        if let Some(first) = straddling.map(|h| h.whole.start).min() {
            cut = cut.min(first);
        }
        let cut = char_start(&self.buf, cut, self.start);
        if cut <= self.start {
            if len - self.start <= MAX_HOLD {
                return Vec::new();
            }
            return self.force();
        }
        let mut out = Vec::new();
        let range = self.start..cut;
        self.masker
            .render(&self.buf, range, &hits, &mut out, &mut self.counts);
        self.keep_from(cut);
        redact_again(&secrets, out, &mut self.counts)
    }

    /// Ends the stream: everything still held, masked.
    pub fn finish(&mut self) -> Vec<u8> {
        let secrets = self.masker.inner.secrets.current();
        let (hits, _) = self.masker.scan(&self.buf, self.start, true, &secrets);
        let mut out = Vec::new();
        let range = self.start..self.buf.len();
        self.masker
            .render(&self.buf, range, &hits, &mut out, &mut self.counts);
        self.buf.clear();
        self.start = 0;
        self.carry = None;
        self.pem_tail.clear();
        redact_again(&secrets, out, &mut self.counts)
    }

    /// What was masked so far.
    pub fn counts(&self) -> &MaskCounts {
        &self.counts
    }

    /// A value has stayed open for `MAX_HOLD` bytes: emit everything, the open value masked to
    /// where it has got, and drop its continuation from the next chunks.
    fn force(&mut self) -> Vec<u8> {
        let secrets = self.masker.inner.secrets.current();
        let len = self.buf.len();
        let (hits, _) = self.masker.scan(&self.buf, self.start, true, &secrets);
        let mut out = Vec::new();
        self.masker.render(
            &self.buf,
            self.start..len,
            &hits,
            &mut out,
            &mut self.counts,
        );
        self.carry = hits
            .last()
            .filter(|h| h.mask.end >= len)
            .and_then(|h| h.carry);
        self.keep_from(len);
        redact_again(&secrets, out, &mut self.counts)
    }

    fn keep_from(&mut self, cut: usize) {
        let keep = cut.saturating_sub(CONTEXT);
        self.buf.drain(..keep);
        self.start = cut - keep;
    }

    /// Drops the start of `chunk` that continues a value emitted by `force`.
    fn swallow<'c>(&mut self, chunk: &'c [u8]) -> &'c [u8] {
        let Some(carry) = self.carry else {
            return chunk;
        };
        let used = match carry {
            Carry::While(inside) => chunk.iter().take_while(|&&b| inside(b)).count(),
            Carry::Until(quote) => quoted_len(chunk, quote),
            Carry::Pem => self.pem_len(chunk),
        };
        if used < chunk.len() {
            self.carry = None;
            self.pem_tail.clear();
        }
        &chunk[used..]
    }

    /// How much of `chunk` is still inside a key block; its `-----END` line is kept.
    fn pem_len(&mut self, chunk: &[u8]) -> usize {
        let mut joined = std::mem::take(&mut self.pem_tail);
        let before = joined.len();
        joined.extend_from_slice(chunk);
        match find_bytes(&joined, b"-----END") {
            Some(at) => at.saturating_sub(before),
            None => {
                self.pem_tail = joined[joined.len().saturating_sub(7)..].to_vec();
                chunk.len()
            }
        }
    }
}

/// The bytes of a quoted value left to drop: up to its closing quote or the end of the line.
fn quoted_len(chunk: &[u8], quote: u8) -> usize {
    let mut at = 0;
    while let Some(&b) = chunk.get(at) {
        if b == quote || b == b'\n' || b == b'\r' {
            return at;
        }
        at += if b == b'\\' { 2 } else { 1 };
    }
    chunk.len()
}

/// Moves `cut` back to the start of a UTF-8 character, not below `floor`.
fn char_start(buf: &[u8], mut cut: usize, floor: usize) -> usize {
    for _ in 0..3 {
        if cut > floor && buf.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
            cut -= 1;
        }
    }
    cut
}

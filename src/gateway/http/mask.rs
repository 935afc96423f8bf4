//! The seam between HTTP bodies and the masker: what a masker must do for a JSON document and for
//! a text stream, a no-op default until the real masker is plugged in, and the one masking guard
//! always does itself: the credentials it injects never come back to the agent, even when an
//! upstream echoes request headers into its answer.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// How many values were masked, by kind (`{"count": N, "kinds": {"email": 2}}` in `result`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub count: u64,
    pub kinds: BTreeMap<String, u64>,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.count += other.count;
        for (kind, n) in &other.kinds {
            *self.kinds.entry(kind.clone()).or_default() += n;
        }
    }

    fn one(&mut self, kind: &str) {
        self.count += 1;
        *self.kinds.entry(kind.to_string()).or_default() += 1;
    }

    pub fn to_json(&self) -> Value {
        json!({"count": self.count, "kinds": self.kinds})
    }
}

/// Masks response bodies. One masker serves every target and every request.
pub trait BodyMasker: Send + Sync {
    /// Masks a whole JSON document in place, by key and by value, at any depth.
    fn mask_json(&self, value: &mut Value) -> Counts;
    /// A masker for one text body, fed chunk by chunk as it arrives.
    fn text_stream(&self) -> Box<dyn StreamMasker>;
}

/// Masks one text body chunk by chunk without holding it whole.
///
/// `push` may hold back the end of a chunk that could be the start of a value split across two
/// chunks, but nothing more: SSE events and long polls reach the agent only when they are pushed
/// out, so bytes that cannot begin a match must be returned at once.
pub trait StreamMasker: Send {
    /// Bytes ready to send for this chunk.
    fn push(&mut self, chunk: &[u8]) -> (Vec<u8>, Counts);
    /// Whatever was held back, at the end of the body.
    fn finish(&mut self) -> (Vec<u8>, Counts);
}

/// The session's masker, for response bodies: JSON by key and by value, text as a stream.
impl BodyMasker for crate::mask::Masker {
    fn mask_json(&self, value: &mut Value) -> Counts {
        counts(&crate::mask::Masker::mask_json(self, value))
    }

    fn text_stream(&self) -> Box<dyn StreamMasker> {
        Box::new(LineStream {
            masker: self.clone(),
            held: Vec::new(),
        })
    }
}

/// A text body masked line by line as lines complete: no value the masker finds spans a line
/// break except a private key block, which is held until its END line. So each complete run of
/// lines masks exactly as the whole body would, and line-based streams (server-sent events,
/// NDJSON, long polls) go out as they arrive instead of waiting for a window to fill.
struct LineStream {
    masker: crate::mask::Masker,
    held: Vec<u8>,
}

/// A line longer than this is masked in pieces of this size, so memory stays bounded.
const MAX_LINE: usize = 1024 * 1024;

impl LineStream {
    fn mask(&self, bytes: &[u8]) -> (Vec<u8>, Counts) {
        let masked = self.masker.mask_bytes(bytes);
        (masked.text.into_owned(), counts(&masked.counts))
    }

    /// Where the text that is final ends: after the last line break outside a key block.
    fn boundary(&self) -> Option<usize> {
        let end = self.held.iter().rposition(|&b| b == b'\n')? + 1;
        let text = &self.held[..end];
        let open = count(text, b"-----BEGIN") > count(text, b"-----END");
        (!open).then_some(end)
    }
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

impl StreamMasker for LineStream {
    fn push(&mut self, chunk: &[u8]) -> (Vec<u8>, Counts) {
        self.held.extend_from_slice(chunk);
        let cut = match self.boundary() {
            Some(cut) => cut,
            None if self.held.len() > MAX_LINE => self.held.len(),
            None => return (Vec::new(), Counts::default()),
        };
        let ready: Vec<u8> = self.held.drain(..cut).collect();
        self.mask(&ready)
    }

    fn finish(&mut self) -> (Vec<u8>, Counts) {
        let rest = std::mem::take(&mut self.held);
        self.mask(&rest)
    }
}

fn counts(masked: &crate::mask::MaskCounts) -> Counts {
    Counts {
        count: u64::from(masked.count),
        kinds: masked
            .kinds
            .iter()
            .map(|(k, n)| (k.to_string(), u64::from(*n)))
            .collect(),
    }
}

/// Masks nothing.
pub struct NoMask;

impl BodyMasker for NoMask {
    fn mask_json(&self, _value: &mut Value) -> Counts {
        Counts::default()
    }

    fn text_stream(&self) -> Box<dyn StreamMasker> {
        Box::new(Passthrough)
    }
}

struct Passthrough;

impl StreamMasker for Passthrough {
    fn push(&mut self, chunk: &[u8]) -> (Vec<u8>, Counts) {
        (chunk.to_vec(), Counts::default())
    }

    fn finish(&mut self) -> (Vec<u8>, Counts) {
        (Vec::new(), Counts::default())
    }
}

const REDACTED: &str = "[redacted]";

/// Exact values guard knows to be credentials (the injected secret and header value).
#[derive(Clone, Default)]
pub struct KnownSecrets {
    values: Vec<String>,
}

impl KnownSecrets {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        // Longest first, so a header value is replaced whole before the secret inside it.
        let mut values: Vec<String> = values.into_iter().filter(|v| v.len() >= 6).collect();
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        KnownSecrets { values }
    }

    /// Replaces every known secret in the document's strings and keys.
    pub fn scrub_json(&self, value: &mut Value) -> Counts {
        let mut counts = Counts::default();
        if !self.values.is_empty() {
            self.walk(value, &mut counts);
        }
        counts
    }

    fn walk(&self, value: &mut Value, counts: &mut Counts) {
        match value {
            Value::String(s) => self.scrub_string(s, counts),
            Value::Array(items) => items.iter_mut().for_each(|v| self.walk(v, counts)),
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (mut key, mut v) in entries {
                    self.scrub_string(&mut key, counts);
                    self.walk(&mut v, counts);
                    map.insert(key, v);
                }
            }
            _ => {}
        }
    }

    fn scrub_string(&self, s: &mut String, counts: &mut Counts) {
        for secret in &self.values {
            let n = s.matches(secret.as_str()).count();
            if n > 0 {
                *s = s.replace(secret.as_str(), REDACTED);
                (0..n).for_each(|_| counts.one("credential"));
            }
        }
    }

    /// A stream masker that runs `inner` first, then removes known secrets from its output.
    pub fn wrap(&self, inner: Box<dyn StreamMasker>) -> Box<dyn StreamMasker> {
        if self.values.is_empty() {
            return inner;
        }
        Box::new(ScrubStream {
            inner,
            secrets: self.values.iter().map(|s| s.as_bytes().to_vec()).collect(),
            carry: Vec::new(),
        })
    }
}

struct ScrubStream {
    inner: Box<dyn StreamMasker>,
    secrets: Vec<Vec<u8>>,
    /// The end of the last output that could be the start of a secret.
    carry: Vec<u8>,
}

impl ScrubStream {
    fn scrub(&mut self, bytes: Vec<u8>, last: bool) -> (Vec<u8>, Counts) {
        let mut buf = std::mem::take(&mut self.carry);
        buf.extend_from_slice(&bytes);
        let mut counts = Counts::default();
        for secret in &self.secrets {
            if find(&buf, secret).is_some() {
                buf = replace_all(&buf, secret, REDACTED.as_bytes(), &mut counts);
            }
        }
        if !last {
            let hold = self.held_prefix(&buf);
            self.carry = buf.split_off(buf.len() - hold);
        }
        (buf, counts)
    }

    /// The length of the longest end of `buf` that is a proper prefix of a secret.
    fn held_prefix(&self, buf: &[u8]) -> usize {
        self.secrets
            .iter()
            .filter_map(|s| (1..s.len()).rev().find(|&k| buf.ends_with(&s[..k])))
            .max()
            .unwrap_or(0)
    }
}

impl StreamMasker for ScrubStream {
    fn push(&mut self, chunk: &[u8]) -> (Vec<u8>, Counts) {
        let (bytes, mut counts) = self.inner.push(chunk);
        let (out, scrubbed) = self.scrub(bytes, false);
        counts.add(&scrubbed);
        (out, counts)
    }

    fn finish(&mut self) -> (Vec<u8>, Counts) {
        let (bytes, mut counts) = self.inner.finish();
        let (out, scrubbed) = self.scrub(bytes, true);
        counts.add(&scrubbed);
        (out, counts)
    }
}

fn replace_all(haystack: &[u8], needle: &[u8], with: &[u8], counts: &mut Counts) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = find(rest, needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        counts.one("credential");
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    let first = *needle.first()?;
    let mut from = 0;
    while let Some(p) = haystack[from..].iter().position(|&b| b == first) {
        let at = from + p;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Masks one short text (a query string) with a fresh stream masker.
pub fn mask_text(masker: &dyn BodyMasker, text: &str) -> String {
    let mut stream = masker.text_stream();
    let (mut out, _) = stream.push(text.as_bytes());
    out.extend(stream.finish().0);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &mut dyn StreamMasker, chunks: &[&str]) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        let mut count = 0;
        for chunk in chunks {
            let (bytes, c) = stream.push(chunk.as_bytes());
            out.push(String::from_utf8(bytes).unwrap());
            count += c.count;
        }
        let (bytes, c) = stream.finish();
        out.push(String::from_utf8(bytes).unwrap());
        (out, count + c.count)
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_caught() {
        let known = KnownSecrets::new(["s3cr3t-token".to_string()]);
        let mut stream = known.wrap(NoMask.text_stream());
        let (out, count) = run(stream.as_mut(), &["auth: s3cr", "3t-token\n", "end"]);
        assert_eq!(out.concat(), "auth: [redacted]\nend");
        assert_eq!(count, 1);
        // Only a possible start of the secret is held back, never a whole chunk.
        assert_eq!(out[0], "auth: ");
    }

    #[test]
    fn bytes_that_cannot_start_a_secret_are_not_held() {
        let known = KnownSecrets::new(["s3cr3t-token".to_string()]);
        let mut stream = known.wrap(NoMask.text_stream());
        let (bytes, _) = stream.push(b"data: event 1\n\n");
        assert_eq!(bytes, b"data: event 1\n\n");
    }

    #[test]
    fn every_occurrence_is_found_after_a_false_start() {
        let mut counts = Counts::default();
        let out = replace_all(b"aaab-x-aab", b"aab", b"[r]", &mut counts);
        assert_eq!(out, b"a[r]-x-[r]");
        assert_eq!(counts.count, 2);
        assert_eq!(find(b"abc", b"cd"), None);
    }

    #[test]
    fn json_strings_and_keys_lose_the_secret() {
        let known = KnownSecrets::new(["Bearer s3cr3t-token".into(), "s3cr3t-token".into()]);
        let mut v = json!({"headers": {"authorization": "Bearer s3cr3t-token"}, "s3cr3t-token": [1, "x s3cr3t-token"]});
        let counts = known.scrub_json(&mut v);
        assert_eq!(counts.count, 3);
        let text = v.to_string();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert_eq!(v["headers"]["authorization"], "[redacted]");
    }
}

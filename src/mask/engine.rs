//! The detector engine: every enabled rule compiled into one multi-pattern regex (a single
//! pass reports which rule matched where), behind a prefilter that returns at once when a text
//! holds none of the rules' keywords, digit runs or IBAN starts. Validators run only on the
//! candidates the regex reports.

use std::ops::Range;

use aho_corasick::AhoCorasick;
use regex_automata::util::captures::Captures;
use regex_automata::util::syntax;
use regex_automata::{Input, meta};

use super::Kind;
use super::rules::{Candidate, Extend, RULES, Rule, value_char};

/// A value to mask.
#[derive(Clone, Debug)]
pub struct Hit {
    /// Everything the match covered, context included (a key, a label): a stream must not cut
    /// through it.
    pub whole: Range<usize>,
    /// The bytes to replace.
    pub mask: Range<usize>,
    pub kind: Kind,
    /// How the value continues if more bytes arrive right after it.
    pub carry: Option<Carry>,
}

/// How a value that reached the end of a stream's buffer goes on in the next chunk.
#[derive(Clone, Copy, Debug)]
pub enum Carry {
    While(fn(u8) -> bool),
    Until(u8),
    Pem,
}

pub struct Engine {
    regex: Option<meta::Regex>,
    /// The rule of each pattern id.
    rules: Vec<&'static Rule>,
    keywords: Option<AhoCorasick>,
    /// The shortest digit run that can be a numeric value (0: no numeric rule).
    digits: usize,
    iban: bool,
    /// The longest text any pattern can match.
    pub max_len: usize,
}

impl Engine {
    pub fn new(kinds: &[Kind]) -> Result<Engine, String> {
        let rules: Vec<&'static Rule> = RULES.iter().filter(|r| kinds.contains(&r.kind)).collect();
        // ASCII semantics on raw bytes: `\b` and classes never need Unicode tables (which would
        // push the search off the lazy DFA), and invalid UTF-8 is just bytes.
        let config = syntax::Config::new().unicode(false).utf8(false);
        let mut hirs = Vec::with_capacity(rules.len());
        let mut max_len = 0;
        for rule in &rules {
            let hir = syntax::parse_with(rule.pattern, &config)
                .map_err(|e| format!("detector {}: {e}", rule.kind.name()))?;
            let len = hir.properties().maximum_len().ok_or_else(|| {
                format!("detector {}: the pattern is unbounded", rule.kind.name())
            })?;
            max_len = max_len.max(len);
            hirs.push(hir);
        }
        let regex = if hirs.is_empty() {
            None
        } else {
            let built = meta::Builder::new()
                .configure(meta::Config::new().utf8_empty(false))
                .build_many_from_hir(&hirs)
                .map_err(|e| format!("detectors: {e}"))?;
            Some(built)
        };
        let mut words: Vec<&str> = rules
            .iter()
            .flat_map(|r| r.keywords.iter().copied())
            .collect();
        words.sort_unstable();
        words.dedup();
        let keywords = if words.is_empty() {
            None
        } else {
            let built = AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&words)
                .map_err(|e| format!("detector keywords: {e}"))?;
            Some(built)
        };
        Ok(Engine {
            regex,
            keywords,
            digits: rules
                .iter()
                .filter(|r| r.digits > 0)
                .map(|r| r.digits)
                .min()
                .unwrap_or(0),
            iban: rules.iter().any(|r| r.iban),
            rules,
            max_len,
        })
    }

    /// Whether any rule could match in `hay`: the almost-free exit for ordinary text.
    pub fn triggered(&self, hay: &[u8]) -> bool {
        if self.keywords.as_ref().is_some_and(|ac| ac.is_match(hay)) {
            return true;
        }
        (self.digits > 0 || self.iban) && numeric_start(hay, self.digits, self.iban)
    }

    /// Appends the confirmed values in `hay[from..]` to `hits`, in order. `at_end`: nothing
    /// follows `hay`. When it is false and a value runs into the end of `hay` before it can be
    /// confirmed, the search stops and returns where that value starts: a stream must hold
    /// from there.
    pub fn find(
        &self,
        hay: &[u8],
        from: usize,
        at_end: bool,
        hits: &mut Vec<Hit>,
    ) -> Option<usize> {
        let regex = self.regex.as_ref()?;
        if from >= hay.len() || !self.triggered(&hay[from..]) {
            return None;
        }
        let mut caps = regex.create_captures();
        let mut at = from;
        while at < hay.len() {
            regex.search_captures(&Input::new(hay).span(at..hay.len()), &mut caps);
            let Some(m) = caps.get_match() else { break };
            let Some(&rule) = self.rules.get(m.pattern().as_usize()) else {
                break;
            };
            let (candidate, carry) = candidate(hay, &caps, rule);
            let open = !at_end && carry.is_some() && candidate.value.end >= hay.len();
            match (rule.check)(hay, &candidate) {
                Some(mask) if !mask.is_empty() && mask.end <= hay.len() => {
                    let mask = snap(hay, mask);
                    let whole =
                        candidate.whole.start.min(mask.start)..candidate.whole.end.max(mask.end);
                    at = whole.end.max(m.start() + 1);
                    let carry = if mask.end >= hay.len() { carry } else { None };
                    hits.push(Hit {
                        whole,
                        mask,
                        kind: rule.kind,
                        carry,
                    });
                }
                _ if open => return Some(m.start()),
                _ => at = m.start() + 1,
            }
        }
        None
    }
}

/// The candidate of a match: its value group (or the whole match) extended per the rule.
fn candidate(hay: &[u8], caps: &Captures, rule: &Rule) -> (Candidate, Option<Carry>) {
    let whole = caps.get_match().map_or(0..0, |m| m.range());
    let group = |name: &str| caps.get_group_by_name(name).map(|s| s.range());
    let value = group("v").unwrap_or_else(|| whole.clone());
    let key = group("k");
    let (value, carry) = extend(hay, value, &whole, rule.extend);
    let whole = whole.start..whole.end.max(value.end);
    (Candidate { whole, value, key }, carry)
}

fn extend(
    hay: &[u8],
    value: Range<usize>,
    whole: &Range<usize>,
    how: Extend,
) -> (Range<usize>, Option<Carry>) {
    let run = |from: usize, pred: fn(u8) -> bool| {
        from + hay
            .get(from..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| pred(b))
            .count()
    };
    match how {
        Extend::None => (value, None),
        Extend::While(pred) => (value.start..run(value.end, pred), Some(Carry::While(pred))),
        Extend::Value => match hay.get(value.start) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let start = value.start + 1;
                (start..quoted_end(hay, start, q), Some(Carry::Until(q)))
            }
            _ => (
                value.start..run(value.start, value_char),
                Some(Carry::While(value_char)),
            ),
        },
        Extend::Pem => (value.start..pem_end(hay, whole.end), Some(Carry::Pem)),
    }
}

/// The closing quote (not escaped by a backslash) or the end of the line.
fn quoted_end(hay: &[u8], mut at: usize, quote: u8) -> usize {
    while let Some(&b) = hay.get(at) {
        if b == quote || b == b'\n' || b == b'\r' {
            return at;
        }
        at += if b == b'\\' { 2 } else { 1 };
    }
    hay.len()
}

/// The end of the `-----END ...-----` line after a key's header; the end of the text when the
/// block is cut short, so that a truncated key is still masked to its last byte.
fn pem_end(hay: &[u8], from: usize) -> usize {
    let rest = hay.get(from..).unwrap_or_default();
    let Some(end) = find_bytes(rest, b"-----END") else {
        return hay.len();
    };
    let after = end + 8;
    match find_bytes(rest.get(after..).unwrap_or_default(), b"-----") {
        Some(close) => from + after + close + 5,
        None => hay.len(),
    }
}

pub fn find_bytes(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Widens a span to whole UTF-8 characters, so that masking a `str` leaves a `str`.
fn snap(hay: &[u8], span: Range<usize>) -> Range<usize> {
    let continuation = |i: usize| hay.get(i).is_some_and(|b| b & 0xC0 == 0x80);
    let (mut start, mut end) = (span.start, span.end);
    for _ in 0..3 {
        if start > 0 && continuation(start) {
            start -= 1;
        }
        if continuation(end) {
            end += 1;
        }
    }
    start..end
}

/// A run of `digits` digits (spaces, dashes, dots, parentheses and `+` between them allowed),
/// or two capitals and two digits (the start of an IBAN).
fn numeric_start(hay: &[u8], digits: usize, iban: bool) -> bool {
    let mut run = 0usize;
    for (i, &b) in hay.iter().enumerate() {
        if b.is_ascii_digit() {
            run += 1;
            if digits > 0 && run >= digits {
                return true;
            }
            if iban
                && i >= 3
                && hay[i - 1].is_ascii_digit()
                && hay[i - 2].is_ascii_uppercase()
                && hay[i - 3].is_ascii_uppercase()
            {
                return true;
            }
        } else if !matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+') {
            run = 0;
        }
    }
    false
}

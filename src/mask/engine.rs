//! The detector engine: every enabled rule compiled into one multi-pattern regex (a single
//! pass reports which rule matched where), behind a prefilter that returns at once when a text
//! holds none of the rules' keywords, digit runs or IBAN starts. Validators run only on the
//! candidates the regex reports.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex_automata::Input;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_syntax::hir::Hir;

use super::Kind;
use super::rules::{Candidate, Extend, Numeric, RULES, Rule, locate, value_char};

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
    /// Which numeric triggers the enabled rules need.
    numeric: NumericNeeds,
    /// The longest text any pattern can match.
    pub max_len: usize,
}

#[derive(Default)]
struct NumericNeeds {
    card: bool,
    ssn: bool,
    phone: bool,
    iban: bool,
}

impl Engine {
    pub fn new(kinds: &[Kind]) -> Result<Engine, String> {
        let rules: Vec<&'static Rule> = RULES.iter().filter(|r| kinds.contains(&r.kind)).collect();
        let (hirs, max_len) = parse_all(&rules)?;
        let regex = if hirs.is_empty() {
            None
        } else {
            // Only the bounds of a match are asked for: `Locate` reads the value off them.
            // The lazy DFA's default cache (2 MiB) thrashes on text such as base64, where the
            // bounded repetitions of many detectors stay live at once: it rebuilt states for
            // every few bytes (1 MB/s). A larger cache keeps the states it has built.
            let config = meta::Config::new()
                .utf8_empty(false)
                .which_captures(WhichCaptures::Implicit)
                .hybrid_cache_capacity(32 * 1024 * 1024);
            let built = meta::Builder::new()
                .configure(config)
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
                .kind(Some(AhoCorasickKind::DFA))
                .build(&words)
                .map_err(|e| format!("detector keywords: {e}"))?;
            Some(built)
        };
        let needs = |n: Numeric| rules.iter().any(|r| r.numeric == n);
        let numeric = NumericNeeds {
            card: needs(Numeric::Card),
            ssn: needs(Numeric::DashedSsn),
            phone: needs(Numeric::Phone),
            iban: needs(Numeric::Iban),
        };
        Ok(Engine {
            regex,
            rules,
            keywords,
            numeric,
            max_len,
        })
    }

    /// Whether any rule could match in `hay`: the almost-free exit for ordinary text. Every
    /// rule's trigger lies inside its matches, so a text without one has no match.
    pub fn triggered(&self, hay: &[u8]) -> bool {
        if self.keywords.as_ref().is_some_and(|ac| ac.is_match(hay)) {
            return true;
        }
        self.numeric.found_in(hay)
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
        let mut at = from;
        while at < hay.len() {
            let Some(m) = regex.search(&Input::new(hay).span(at..hay.len())) else {
                break;
            };
            let Some(&rule) = self.rules.get(m.pattern().as_usize()) else {
                break;
            };
            let (candidate, carry) = candidate(hay, m.range(), rule);
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

/// Parses every rule's pattern with ASCII semantics on raw bytes (`\b` and classes never need
/// Unicode tables, which would push the search off the lazy DFA, and invalid UTF-8 is just
/// bytes), and finds the longest match any of them can make.
fn parse_all(rules: &[&'static Rule]) -> Result<(Vec<Hir>, usize), String> {
    let config = syntax::Config::new().unicode(false).utf8(false);
    let mut hirs = Vec::with_capacity(rules.len());
    let mut max_len = 0;
    for rule in rules {
        let hir = syntax::parse_with(rule.pattern, &config)
            .map_err(|e| format!("detector {}: {e}", rule.kind.name()))?;
        let len = hir
            .properties()
            .maximum_len()
            .ok_or_else(|| format!("detector {}: the pattern is unbounded", rule.kind.name()))?;
        max_len = max_len.max(len);
        hirs.push(hir);
    }
    Ok((hirs, max_len))
}

/// The candidate of a match: its value (located in the match) extended per the rule.
fn candidate(hay: &[u8], whole: Range<usize>, rule: &Rule) -> (Candidate, Option<Carry>) {
    let (key, value) = locate(hay, &whole, rule.locate);
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

impl NumericNeeds {
    /// One pass over the bytes, counting digit runs the way each numeric rule writes them.
    /// Eight bytes with a letter and no digit end every run: those are skipped a word at a
    /// time, which is most of ordinary text.
    fn found_in(&self, hay: &[u8]) -> bool {
        if !(self.card || self.ssn || self.phone || self.iban) {
            return false;
        }
        let mut runs = Runs::default();
        let mut at = 0;
        while at < hay.len() {
            if let Some(word) = hay.get(at..at + 8) {
                let word = u64::from_le_bytes(word.try_into().unwrap_or_default());
                if swar::digits(word) == 0 && swar::letters(word) != 0 {
                    runs = Runs::default();
                    at += 8;
                    continue;
                }
            }
            let end = (at + 8).min(hay.len());
            for i in at..end {
                if runs.step(self, hay, i) {
                    return true;
                }
            }
            at = end;
        }
        false
    }
}

/// Digit runs as each numeric rule allows them to be written.
#[derive(Default)]
struct Runs {
    /// Digits and dashes (an SSN).
    dashed: usize,
    /// Digits with spaces or dashes between groups (a card).
    grouped: usize,
    /// Digits with phone punctuation.
    phone: usize,
}

impl Runs {
    /// Counts `hay[i]`; true once a run is long enough for a rule that needs it.
    fn step(&mut self, needs: &NumericNeeds, hay: &[u8], i: usize) -> bool {
        let b = hay[i];
        if b.is_ascii_digit() {
            self.dashed += 1;
            self.grouped += 1;
            self.phone += 1;
            let iban_start = i >= 3
                && hay[i - 1].is_ascii_digit()
                && hay[i - 2].is_ascii_uppercase()
                && hay[i - 3].is_ascii_uppercase();
            return (needs.ssn && self.dashed >= 9)
                || (needs.card && self.grouped >= 13)
                || (needs.phone && self.phone >= 8)
                || (needs.iban && iban_start);
        }
        if b != b'-' {
            self.dashed = 0;
        }
        if b != b'-' && b != b' ' {
            self.grouped = 0;
        }
        if !matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'+') {
            self.phone = 0;
        }
        false
    }
}

/// Byte-class tests on eight bytes at once: the high bit of each byte of the result is set
/// where the byte is in the class.
mod swar {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const fn splat(b: u8) -> u64 {
        u64::from_le_bytes([b; 8])
    }

    /// Bytes in `lo..=hi` (ASCII only): adding `0x80 - lo` sets the high bit at `>= lo`,
    /// adding `0x7f - hi` at `> hi`; clearing the high bits first keeps carries in their byte.
    fn in_range(word: u64, lo: u8, hi: u8) -> u64 {
        let low = word & LOW7;
        let at_least = low + splat(0x80 - lo);
        let above = low + splat(0x7f - hi);
        at_least & !above & !word & HIGH
    }

    pub fn digits(word: u64) -> u64 {
        in_range(word, b'0', b'9')
    }

    pub fn letters(word: u64) -> u64 {
        in_range(word | splat(0x20), b'a', b'z')
    }
}

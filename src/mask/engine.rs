//! The detector engine: every enabled rule compiled into one multi-pattern regex (a single
//! pass reports which rule matched where), run only where the prefilter finds a rule's keyword,
//! digit run or IBAN start near enough to match. Validators run only on the candidates the
//! regex reports.

use std::cell::RefCell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};

use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::syntax;
use regex_automata::{Input, Match};
use regex_syntax::hir::Hir;

use super::Kind;
use super::prefilter::Prefilter;
use super::rules::{Candidate, Extend, RULES, Rule, locate, value_char};

/// Texts up to this long (most result cells) are searched whole, but for those without a
/// letter: the regex reads them in less time than finding their triggers would take.
const TINY: usize = 64;

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
    /// Tells this engine's regex apart from others' in `CACHE`.
    id: u64,
    /// The rule of each pattern id.
    rules: Vec<&'static Rule>,
    prefilter: Prefilter,
    /// The longest text any pattern can match.
    pub max_len: usize,
}

impl Engine {
    pub fn new(kinds: &[Kind]) -> Result<Engine, String> {
        let rules: Vec<&'static Rule> = RULES.iter().filter(|r| kinds.contains(&r.kind)).collect();
        let (hirs, max_lens) = parse_all(&rules)?;
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
        static IDS: AtomicU64 = AtomicU64::new(0);
        Ok(Engine {
            regex,
            id: IDS.fetch_add(1, Ordering::Relaxed),
            prefilter: Prefilter::new(&rules, &max_lens)?,
            rules,
            max_len: max_lens.iter().copied().max().unwrap_or(0),
        })
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
        let rest = hay.get(from..).filter(|r| !r.is_empty())?;
        if rest.len() <= TINY {
            // No trigger means no match to confirm or to hold for, whether or not more follows
            // (a stream holds back a match's length of text anyway).
            if self.prefilter.surely_clean(rest) {
                return None;
            }
            return self
                .find_in(regex, hay, from..hay.len(), at_end, hits)
                .err();
        }
        let mut at = from;
        for window in self.prefilter.windows(hay, from) {
            if window.end <= at {
                continue;
            }
            match self.find_in(regex, hay, at.max(window.start)..window.end, at_end, hits) {
                Ok(next) => at = next,
                Err(open) => return Some(open),
            }
        }
        None
    }

    /// `find` without the prefilter: the regex reads all of `hay[from..]`.
    #[cfg(test)]
    pub fn find_unfiltered(
        &self,
        hay: &[u8],
        from: usize,
        at_end: bool,
        hits: &mut Vec<Hit>,
    ) -> Option<usize> {
        let regex = self.regex.as_ref()?;
        self.find_in(regex, hay, from..hay.len(), at_end, hits)
            .err()
    }

    #[cfg(test)]
    pub fn has(&self, kind: Kind) -> bool {
        self.rules.iter().any(|r| r.kind == kind)
    }

    #[cfg(test)]
    pub fn windows(&self, hay: &[u8], from: usize) -> Vec<Range<usize>> {
        self.prefilter.windows(hay, from)
    }

    /// `find` for the matches that start in `span`, all of which end in it too (the whole
    /// text, or a prefilter window). `Ok`: where the search goes on from; `Err`: where a value
    /// starts that runs into the end of the text, from which a stream must hold.
    fn find_in(
        &self,
        regex: &meta::Regex,
        hay: &[u8],
        span: Range<usize>,
        at_end: bool,
        hits: &mut Vec<Hit>,
    ) -> Result<usize, usize> {
        let mut at = span.start;
        while at < span.end {
            let Some(m) = self.search(regex, &Input::new(hay).span(at..span.end)) else {
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
                _ if open => return Err(m.start()),
                _ => at = m.start() + 1,
            }
        }
        Ok(at.max(span.end))
    }
}

/// How many engines' caches a thread keeps: a session has one engine, tests and the fuzzer a
/// few, used in turn (building a cache costs some thirty times a short search).
const CACHES: usize = 4;

thread_local! {
    /// The lazy DFA's caches of the engines this thread searched with last, the latest first.
    /// The regex's own pool of caches serves the first thread that searched without a lock,
    /// and takes a lock twice a search on any other: a session masks on several (the
    /// gateway's, the recorder's), and a result cell is searched in less time than the locks
    /// take.
    static CACHE: RefCell<Vec<(u64, meta::Cache)>> = const { RefCell::new(Vec::new()) };
}

impl Engine {
    fn search(&self, regex: &meta::Regex, input: &Input) -> Option<Match> {
        CACHE.with(|caches| {
            let Ok(mut caches) = caches.try_borrow_mut() else {
                return regex.search(input);
            };
            match caches.iter().position(|(id, _)| *id == self.id) {
                Some(0) => {}
                Some(at) => caches[..=at].rotate_right(1),
                None => {
                    caches.truncate(CACHES - 1);
                    caches.insert(0, (self.id, regex.create_cache()));
                }
            }
            regex.search_with(&mut caches[0].1, input)
        })
    }
}

/// Parses every rule's pattern with ASCII semantics on raw bytes (`\b` and classes never need
/// Unicode tables, which would push the search off the lazy DFA, and invalid UTF-8 is just
/// bytes), and finds the longest match each of them can make.
fn parse_all(rules: &[&'static Rule]) -> Result<(Vec<Hir>, Vec<usize>), String> {
    let config = syntax::Config::new().unicode(false).utf8(false);
    let mut hirs = Vec::with_capacity(rules.len());
    let mut max_lens = Vec::with_capacity(rules.len());
    for rule in rules {
        let hir = syntax::parse_with(rule.pattern, &config)
            .map_err(|e| format!("detector {}: {e}", rule.kind.name()))?;
        let len = hir
            .properties()
            .maximum_len()
            .ok_or_else(|| format!("detector {}: the pattern is unbounded", rule.kind.name()))?;
        max_lens.push(len);
        hirs.push(hir);
    }
    Ok((hirs, max_lens))
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

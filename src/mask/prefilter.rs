//! Where in a text a detector can match. Every match of a rule contains one of the rule's
//! keywords or the digits it needs (`rules::Rule`), and is no longer than its pattern allows, so
//! the regex only needs to read the text within that reach of a trigger. Finding the triggers
//! is a few vectorised searches (keywords in a lower-cased copy, one-byte keywords with memchr)
//! and a scan of digits eight bytes at a time: several times faster than the lazy DFA that runs
//! the patterns. Source code and logs hold a keyword or a number every few hundred bytes, and
//! the DFA then reads a fraction of them instead of all. A keyword of the assignment rule counts
//! only where an operator follows it (`Follow`): code names tokens and secrets far more often
//! than it assigns them.

use std::ops::Range;

use aho_corasick::{AhoCorasick, AhoCorasickKind, Input, Span, packed};

use super::rules::{Locate, Numeric, Rule};
use super::swar;

/// Text is scanned for triggers in blocks of this many bytes (a multiple of eight: digits are
/// counted a word at a time).
const STEP: usize = 4096;

/// A block's lower-cased copy reaches this far into the next block, so that a keyword that
/// starts in the block is found whole. No keyword is longer.
const OVERLAP: usize = 64;

/// A block with this many triggers is dense: the windows around them would cover it all, so it
/// and the next `SKIP` blocks are searched whole rather than scanned (text dense with values
/// pays for the scan and gains nothing from it).
const DENSE: usize = 64;
const SKIP: usize = 3;

/// Byte classes for `surely_clean`: a digit (the value counts them), a letter, the first byte
/// of a keyword without a letter.
const DIGIT: u8 = 1;
const LETTER: u8 = 2;
const LETTERLESS: u8 = 4;

/// The triggers of a set of rules, and how far from a trigger a match can reach.
pub struct Prefilter {
    /// Keywords of four bytes or more, lower-cased: the searcher compares four-byte prefixes,
    /// which few places in ordinary text share with a keyword.
    long: Option<Needles>,
    /// Keywords of two or three bytes (`aws`, `://`, `eyJ`), searched apart so that their
    /// shorter prefixes do not weaken the search for the long ones.
    short: Option<Needles>,
    /// One-byte keywords (`@`), in both cases.
    bytes: Vec<u8>,
    /// The keywords without a letter (`@`, `://`).
    letterless: Vec<Vec<u8>>,
    /// What each byte is to `surely_clean`.
    classes: [u8; 256],
    numbers: Numbers,
    /// The longest match of a rule with a keyword of each kind, and of a rule with a numeric
    /// trigger: how far a window reaches on either side of a trigger of that kind.
    reach: Reach,
}

#[derive(Default)]
struct Reach {
    long: usize,
    short: usize,
    bytes: usize,
    numbers: usize,
}

impl Reach {
    fn max(&self) -> usize {
        self.long.max(self.short).max(self.bytes).max(self.numbers)
    }
}

/// Keywords, and what must follow each for its rule to match there.
struct Needles {
    search: Search,
    /// By keyword, in the order the searcher numbers them.
    follow: Vec<Follow>,
}

enum Search {
    /// Teddy (SSSE3, AVX2 or NEON).
    Packed(packed::Searcher),
    /// Where Teddy is not available.
    Automaton(AhoCorasick),
}

impl Needles {
    fn new(words: &[(String, Follow)]) -> Result<Option<Needles>, String> {
        if words.is_empty() {
            return Ok(None);
        }
        let follow = words.iter().map(|(_, f)| *f).collect();
        let words = words.iter().map(|(w, _)| w);
        if let Some(searcher) = packed::Config::new()
            .builder()
            .extend(words.clone())
            .build()
        {
            let search = Search::Packed(searcher);
            return Ok(Some(Needles { search, follow }));
        }
        AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::DFA))
            .build(words)
            .map(|ac| {
                Some(Needles {
                    search: Search::Automaton(ac),
                    follow,
                })
            })
            .map_err(|e| format!("detector keywords: {e}"))
    }

    /// Where each keyword found in `hay` that its rule could match at starts and ends, in
    /// order. A keyword that overlaps one found before it may be skipped: its window is inside
    /// that one's (see `windows`). One its rule cannot match at is passed over by a byte, not
    /// by its length, so a keyword that overlaps it is still found.
    fn each(&self, hay: &[u8], mut found: impl FnMut(Range<usize>)) {
        let mut at = 0;
        while let Some((id, range)) = self.find(hay, at) {
            if self.follow[id].allows(&hay[range.end..]) {
                at = range.end;
                found(range);
            } else {
                at = range.start + 1;
            }
        }
    }

    /// The first keyword in `hay[at..]`, by number.
    fn find(&self, hay: &[u8], at: usize) -> Option<(usize, Range<usize>)> {
        let span = Span::from(at..hay.len());
        match &self.search {
            Search::Packed(s) => s
                .find_in(hay, span)
                .map(|m| (m.pattern().as_usize(), m.range())),
            Search::Automaton(ac) => ac
                .find(Input::new(hay).span(span))
                .map(|m| (m.pattern().as_usize(), m.range())),
        }
    }
}

/// What must follow a keyword for its rule to match there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Follow {
    Anything,
    /// The generic assignment rule (rules.rs) matches only where its keyword ends the key:
    /// `(?:[_-]?key)?["']?[ \t]{0,8}(?:=|:|=>)` comes next (the `key` for `secret_key`,
    /// `signing-key`). Source code names a token or a secret far more often than it assigns
    /// one: most of those keywords have no window now.
    Assignment,
}

impl Follow {
    /// Whether the text after a keyword (lower-cased) can be the rest of its rule's match.
    /// Text that ends first may go on in a way that can: true.
    fn allows(self, rest: &[u8]) -> bool {
        match self {
            Follow::Anything => true,
            Follow::Assignment => operator_follows(rest) || key_then_operator(rest),
        }
    }
}

/// `[_-]?key` and then `operator_follows`.
fn key_then_operator(rest: &[u8]) -> bool {
    let rest = rest
        .strip_prefix(b"_")
        .or_else(|| rest.strip_prefix(b"-"))
        .unwrap_or(rest);
    let n = rest.len().min(3);
    rest[..n] == b"key"[..n] && (n < 3 || operator_follows(&rest[3..]))
}

/// `["']?[ \t]{0,8}` and then `=` or `:`.
fn operator_follows(rest: &[u8]) -> bool {
    let rest = match rest {
        [b'"' | b'\'', more @ ..] => more,
        _ => rest,
    };
    let blanks = rest
        .iter()
        .take(9)
        .take_while(|b| matches!(b, b' ' | b'\t'))
        .count();
    blanks <= 8 && rest.get(blanks).is_none_or(|b| matches!(b, b'=' | b':'))
}

impl Prefilter {
    /// `max_len[i]`: the longest match of `rules[i]`.
    pub fn new(rules: &[&'static Rule], max_len: &[usize]) -> Result<Prefilter, String> {
        let mut words: [Vec<(String, Follow)>; 3] = Default::default();
        let mut reach = Reach::default();
        for (rule, &len) in rules.iter().zip(max_len) {
            let follow = match rule.locate {
                Locate::Assignment => Follow::Assignment,
                _ => Follow::Anything,
            };
            for word in rule.keywords {
                let (list, reach) = match word.len() {
                    1 => (&mut words[0], &mut reach.bytes),
                    2 | 3 => (&mut words[1], &mut reach.short),
                    4..=OVERLAP => (&mut words[2], &mut reach.long),
                    _ => return Err(format!("detector {}: keyword `{word}`", rule.kind.name())),
                };
                list.push((word.to_ascii_lowercase(), follow));
                *reach = (*reach).max(len);
            }
            if rule.numeric != Numeric::None {
                reach.numbers = reach.numbers.max(len);
            }
        }
        let [bytes, short, long] = words.map(|mut list| {
            list.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            // A keyword of two rules needs only what the laxer of them needs.
            list.dedup_by(|later, kept| {
                let same = later.0 == kept.0;
                if same && later.1 != kept.1 {
                    kept.1 = Follow::Anything;
                }
                same
            });
            list
        });
        let letterless: Vec<Vec<u8>> = [&bytes, &short, &long]
            .into_iter()
            .flatten()
            .filter(|(w, _)| !w.bytes().any(|b| b.is_ascii_alphabetic()))
            .map(|(w, _)| w.clone().into_bytes())
            .collect();
        let mut bytes: Vec<u8> = bytes
            .iter()
            .flat_map(|(w, _)| [w.as_bytes()[0], w.as_bytes()[0].to_ascii_uppercase()])
            .collect();
        bytes.sort_unstable();
        bytes.dedup();
        Ok(Prefilter {
            long: Needles::new(&long)?,
            short: Needles::new(&short)?,
            bytes,
            classes: classes(&letterless),
            letterless,
            numbers: Numbers::new(rules),
            reach,
        })
    }

    /// For a short text without a letter (a number, a date, an amount, as most result cells
    /// are): true when it surely holds no trigger. Only the keywords without a letter and the
    /// digit runs can be in such a text (an IBAN starts with capitals), and looking for those
    /// costs less than running the regex over it. False for any text with a letter.
    pub fn surely_clean(&self, hay: &[u8]) -> bool {
        let (mut seen, mut digits) = (0u8, 0u32);
        for &b in hay {
            let class = self.classes[usize::from(b)];
            if class & LETTER != 0 {
                return false;
            }
            seen |= class;
            digits += u32::from(class & DIGIT);
        }
        let holds = |word: &Vec<u8>| hay.windows(word.len()).any(|w| w == word.as_slice());
        if seen & LETTERLESS != 0 && self.letterless.iter().any(holds) {
            return false;
        }
        if digits < self.numbers.fewest_digits() {
            return true;
        }
        let mut hot = false;
        self.numbers
            .hot(hay, 0..hay.len(), &mut Carry::default(), |_| hot = true);
        !hot
    }

    /// The spans of `hay[from..]` that can hold a match, in order and apart: every match that
    /// starts at `from` or later lies wholly inside one of them.
    ///
    /// Each trigger contributes the span within its reach on both sides, and overlapping spans
    /// are joined: a match contains a byte of a trigger and is no longer than the reach, so it
    /// lies in that trigger's span, and so in the joined span that holds it. A keyword skipped
    /// because it overlaps one found first shares a byte with it, and the same reach (the
    /// keywords of one searcher share it), so its span lies inside the other's. A block
    /// searched whole rather than scanned contributes itself, widened by the longest reach on
    /// both sides: every match with a trigger inside it lies there.
    pub fn windows(&self, hay: &[u8], from: usize) -> Vec<Range<usize>> {
        let text = hay.get(from..).unwrap_or_default();
        let mut scan = Scan {
            text,
            lists: Default::default(),
            carry: Carry::default(),
            unscanned: None,
        };
        let mut lower = Vec::with_capacity(text.len().min(STEP + OVERLAP));
        let mut skip = 0;
        for start in (0..text.len()).step_by(STEP) {
            let block = start..(start + STEP).min(text.len());
            if skip > 0 {
                skip -= 1;
                scan.skip(block);
                continue;
            }
            scan.end_skip(self.reach.max());
            if !self.scan(&mut scan, block.clone(), &mut lower) {
                // Dense: this block is searched whole too.
                scan.skip(block);
                skip = SKIP;
            }
        }
        scan.end_skip(self.reach.max());
        let mut windows = merge(scan.lists);
        for window in &mut windows {
            *window = from + window.start..from + window.end;
        }
        windows
    }

    /// Adds the windows of the triggers in `block` of `scan.text`. False, part way, when the
    /// block turns out dense.
    fn scan(&self, scan: &mut Scan, block: Range<usize>, lower: &mut Vec<u8>) -> bool {
        let text = scan.text;
        let [long, short, bytes, numbers, _] = &mut scan.lists;
        let span = |at: Range<usize>, reach: usize| {
            at.start.saturating_sub(reach)..(at.end + reach).min(text.len())
        };
        let mut found = 0;
        // A keyword that starts in the overlap is the next block's (found there whole), unless
        // this block is the last.
        let copy = &text[block.start..(block.start + STEP + OVERLAP).min(text.len())];
        lower.clear();
        lower.extend(copy.iter().map(u8::to_ascii_lowercase));
        let last = block.end == text.len();
        for (needles, list, reach) in [
            (&self.long, long, self.reach.long),
            (&self.short, short, self.reach.short),
        ] {
            let Some(needles) = needles else { continue };
            needles.each(lower.as_slice(), |at| {
                if last || at.start < STEP {
                    found += 1;
                    join(
                        list,
                        span(block.start + at.start..block.start + at.end, reach),
                    );
                }
            });
        }
        for at in self.byte_positions(&text[block.clone()]) {
            found += 1;
            let at = block.start + at;
            join(bytes, span(at..at + 1, self.reach.bytes));
        }
        // Counting digits is the slowest part: dense text is spared it.
        if found >= DENSE {
            return false;
        }
        self.numbers.hot(text, block, &mut scan.carry, |at| {
            found += 1;
            join(numbers, span(at, self.reach.numbers));
        });
        found < DENSE
    }

    fn byte_positions<'h>(&self, hay: &'h [u8]) -> Box<dyn Iterator<Item = usize> + 'h> {
        match self.bytes[..] {
            [] => Box::new(std::iter::empty()),
            [a] => Box::new(memchr::memchr_iter(a, hay)),
            [a, b] => Box::new(memchr::memchr2_iter(a, b, hay)),
            [a, b, c] => Box::new(memchr::memchr3_iter(a, b, c, hay)),
            _ => {
                let bytes = self.bytes.clone();
                Box::new(
                    hay.iter()
                        .enumerate()
                        .filter(move |(_, b)| bytes.contains(b))
                        .map(|(i, _)| i),
                )
            }
        }
    }
}

/// The windows found so far in `text`, by kind of trigger (the last list: blocks searched
/// whole), each list in order.
struct Scan<'t> {
    text: &'t [u8],
    lists: [Vec<Range<usize>>; 5],
    carry: Carry,
    /// Blocks searched whole since the last scanned one.
    unscanned: Option<Range<usize>>,
}

impl Scan<'_> {
    fn skip(&mut self, block: Range<usize>) {
        let start = self.unscanned.as_ref().map_or(block.start, |u| u.start);
        self.unscanned = Some(start..block.end);
    }

    /// Adds the window of the blocks searched whole, if any. Digit runs are counted afresh
    /// after them: a match that starts before them lies in that window.
    fn end_skip(&mut self, reach: usize) {
        let Some(blocks) = self.unscanned.take() else {
            return;
        };
        let window = blocks.start.saturating_sub(reach)..(blocks.end + reach).min(self.text.len());
        join(&mut self.lists[4], window);
        self.carry = Carry::default();
    }
}

/// Each byte's class for `surely_clean`.
fn classes(letterless: &[Vec<u8>]) -> [u8; 256] {
    let mut classes = [0u8; 256];
    for b in 0..=255u8 {
        classes[usize::from(b)] = match b {
            b'0'..=b'9' => DIGIT,
            b'a'..=b'z' | b'A'..=b'Z' => LETTER,
            _ if letterless.iter().any(|w| w[0] == b) => LETTERLESS,
            _ => 0,
        };
    }
    classes
}

/// Appends `span` to spans in order of their starts, joining it with the last when they touch.
fn join(spans: &mut Vec<Range<usize>>, span: Range<usize>) {
    match spans.last_mut() {
        Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
        _ => spans.push(span),
    }
}

/// Lists of spans, each in order of their starts, merged into one with touching spans joined.
fn merge<const N: usize>(mut lists: [Vec<Range<usize>>; N]) -> Vec<Range<usize>> {
    let mut next = [0usize; N];
    let mut out = Vec::new();
    loop {
        let head = (0..N)
            .filter(|&i| next[i] < lists[i].len())
            .min_by_key(|&i| lists[i][next[i]].start);
        let Some(i) = head else {
            return out;
        };
        join(&mut out, std::mem::take(&mut lists[i][next[i]]));
        next[i] += 1;
    }
}

/// The digits each numeric rule's run needs (rules.rs): an SSN has 9, the shortest card 13,
/// the shortest phone number 8.
const SSN_DIGITS: u32 = 9;
const CARD_DIGITS: u32 = 13;
const PHONE_DIGITS: u32 = 8;

/// The numeric triggers: digit runs as each numeric rule writes them, and IBAN starts.
#[derive(Default)]
struct Numbers {
    /// Digits with dashes (an SSN).
    dashed: bool,
    /// Digits with spaces or dashes between groups (a card).
    grouped: bool,
    /// Digits with phone punctuation.
    phone: bool,
    /// Two capitals and two digits.
    iban: bool,
}

/// Digits so far in each kind of run.
#[derive(Clone, Copy, Default)]
struct Carry {
    dashed: u32,
    grouped: u32,
    phone: u32,
}

impl Numbers {
    /// The fewest digits of a run any enabled rule takes.
    fn fewest_digits(&self) -> u32 {
        [
            (self.phone, PHONE_DIGITS),
            (self.dashed, SSN_DIGITS),
            (self.grouped, CARD_DIGITS),
        ]
        .into_iter()
        .filter(|&(on, _)| on)
        .map(|(_, digits)| digits)
        .min()
        .unwrap_or(u32::MAX)
    }

    fn new(rules: &[&'static Rule]) -> Numbers {
        let needs = |n: Numeric| rules.iter().any(|r| r.numeric == n);
        Numbers {
            dashed: needs(Numeric::DashedSsn),
            grouped: needs(Numeric::Card),
            phone: needs(Numeric::Phone),
            iban: needs(Numeric::Iban),
        }
    }

    /// Calls `found`, in order, with each word (eight bytes) of `text[block]` that holds a digit
    /// at least the one a rule needs in its run, or the last byte of an IBAN start: every
    /// numeric match contains a byte of such a word, and so lies within its reach of it.
    /// `carry`: the runs that reach `block` from before it.
    ///
    /// A word without a digit ends every run: a numeric match holds no more than two bytes in
    /// a row that are not digits (`) `, `+1 (`), so none spans such a word, and its digits all
    /// count in the run after it.
    fn hot(
        &self,
        text: &[u8],
        block: Range<usize>,
        carry: &mut Carry,
        mut found: impl FnMut(Range<usize>),
    ) {
        if !(self.dashed || self.grouped || self.phone || self.iban) {
            return;
        }
        let mut before = word_at(text, block.start.wrapping_sub(8));
        for at in block.step_by(8) {
            let word = word_at(text, at);
            let digits = swar::digits(word);
            let hot = if digits == 0 {
                *carry = Carry::default();
                false
            } else {
                self.word_is_hot(word, digits, carry, before)
            };
            before = word;
            if hot {
                found(at..(at + 8).min(text.len()));
            }
        }
    }

    /// Counts a word with digits into the runs; `before`: the word before it.
    #[inline(always)]
    fn word_is_hot(&self, word: u64, digits: u64, carry: &mut Carry, before: u64) -> bool {
        let dashed = digits | swar::equal(word, b'-');
        let grouped = dashed | swar::equal(word, b' ');
        let mut hot = self.dashed && run_step(&mut carry.dashed, digits, dashed, SSN_DIGITS);
        hot |= self.grouped && run_step(&mut carry.grouped, digits, grouped, CARD_DIGITS);
        if self.phone {
            let phone = grouped | swar::phone_punctuation(word);
            hot |= run_step(&mut carry.phone, digits, phone, PHONE_DIGITS);
        }
        hot || self.iban && swar::iban_start(before, word)
    }
}

/// The eight bytes of `text` at `at`, padded with NULs past its end (a NUL ends every run);
/// nothing before its start.
#[inline(always)]
fn word_at(text: &[u8], at: usize) -> u64 {
    if let Some(Ok(word)) = at
        .checked_add(8)
        .and_then(|end| text.get(at..end))
        .map(<[u8; 8]>::try_from)
    {
        return u64::from_le_bytes(word);
    }
    let mut word = [0u8; 8];
    if let Some(bytes) = text.get(at..) {
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
    }
    u64::from_le_bytes(word)
}

/// Counts one word into a run: `carry` digits so far, `inside` the bytes a run may hold. True
/// when a digit of this word is at least the `need`th of its run.
#[inline(always)]
fn run_step(carry: &mut u32, digits: u64, inside: u64, need: u32) -> bool {
    let breaks = !inside & swar::HIGH;
    if breaks == 0 {
        *carry += digits.count_ones();
        return *carry >= need;
    }
    // Digits before the first byte that breaks the run count to the run before it; a run that
    // starts after the last goes on into the next word. Runs between two breaks in the word
    // hold six digits at most, fewer than any rule needs.
    let head = digits & (breaks & breaks.wrapping_neg()).wrapping_sub(1);
    let hot = head != 0 && *carry + head.count_ones() >= need;
    let last = 1u64 << (63 - breaks.leading_zeros());
    *carry = (digits & !(last | (last - 1))).count_ones();
    hot
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where Teddy is not available the automaton finds the same keywords.
    #[test]
    fn both_keyword_searchers_find_the_same() {
        let words: Vec<(String, Follow)> = ["password", "secret", "token", "api_key", "-----begin"]
            .map(|w| (w.to_string(), Follow::Anything))
            .to_vec();
        let packed = Needles::new(&words).unwrap().unwrap();
        let automaton = Needles {
            search: Search::Automaton(AhoCorasick::new(words.iter().map(|w| &w.0)).unwrap()),
            follow: vec![Follow::Anything; words.len()],
        };
        let text =
            b"the token: x; db_password=secret -----begin api_key tokentoken passwor".repeat(9);
        let spans = |n: &Needles| {
            let mut found = Vec::new();
            n.each(&text, |at| found.push(at));
            found
        };
        assert_eq!(spans(&packed).len(), 9 * 7);
        assert_eq!(spans(&packed), spans(&automaton));
    }

    #[test]
    fn an_assignment_keyword_must_be_followed_by_an_operator_or_the_end() {
        let allows = |rest: &str| Follow::Assignment.allows(rest.as_bytes());
        for rest in [
            " = x",
            "=x",
            ": x",
            "=> x",
            "\"= x",
            "'\t: x",
            "_key = x",
            "-key: x",
            "key=x",
            "        = x",
            "",
            " ",
            "_",
            "_ke",
            "key",
            "\"",
        ] {
            assert!(allows(rest), "{rest:?}");
        }
        for rest in [
            "s = x",
            ".len()",
            " is",
            "         = x",
            "_keys = x",
            "-kex",
            "\"\"= x",
            "(x)",
        ] {
            assert!(!allows(rest), "{rest:?}");
        }
        assert!(Follow::Anything.allows(b"s = x"));
    }
}

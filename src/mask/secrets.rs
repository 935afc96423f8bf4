//! Credentials guard itself knows (leased passwords, broker tokens, injected header values),
//! registered at run time and redacted from everything masked afterwards, whatever the
//! detectors and the style (SPEC, Session files: no session file ever holds one).

use std::ops::Range;
use std::sync::{Arc, RwLock};

use aho_corasick::{AhoCorasick, MatchKind};
use memchr::memmem;

/// Shorter values would redact ordinary text (and are no secret anyway).
pub const MIN_SECRET_LEN: usize = 4;

/// The registered values, shared by every clone of a `Masker`.
#[derive(Default)]
pub struct Secrets {
    current: RwLock<Arc<SecretSet>>,
}

/// One immutable generation of the registered values and their matcher; a registration builds
/// the next one, so a masking call in progress keeps the set it started with.
#[derive(Default)]
pub struct SecretSet {
    values: Vec<Vec<u8>>,
    matcher: Option<Matcher>,
    pub max_len: usize,
    /// A text shorter than the shortest value holds none: most result cells are.
    min_len: usize,
}

/// A session registers a credential or two (the leased password, the gateway's own): a
/// substring search for each finds them in a result cell in less time than an automaton for
/// many takes to start.
enum Matcher {
    Few(Vec<memmem::Finder<'static>>),
    Many(AhoCorasick),
}

/// Up to this many values are searched one by one.
const FEW: usize = 4;

impl Secrets {
    /// Registers `secret`; false when it is too short to redact safely.
    pub fn add(&self, secret: &[u8]) -> bool {
        if secret.len() < MIN_SECRET_LEN {
            return false;
        }
        let mut guard = self.current.write().unwrap_or_else(|e| e.into_inner());
        if guard.values.iter().any(|v| v == secret) {
            return true;
        }
        let mut values = guard.values.clone();
        values.push(secret.to_vec());
        let matcher = if values.len() <= FEW {
            let finders = values.iter().map(|v| memmem::Finder::new(v).into_owned());
            Ok(Matcher::Few(finders.collect()))
        } else {
            // Leftmost-longest: where one secret is a prefix of another, the longer one goes.
            AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&values)
                .map(Matcher::Many)
        };
        match matcher {
            Ok(matcher) => {
                let max_len = values.iter().map(Vec::len).max().unwrap_or(0);
                let min_len = values.iter().map(Vec::len).min().unwrap_or(0);
                *guard = Arc::new(SecretSet {
                    values,
                    matcher: Some(matcher),
                    max_len,
                    min_len,
                });
                true
            }
            Err(_) => false,
        }
    }

    pub fn current(&self) -> Arc<SecretSet> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl SecretSet {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The occurrences in `hay[from..]`, in order, not overlapping.
    pub fn find(&self, hay: &[u8], from: usize) -> Vec<Range<usize>> {
        let Some(matcher) = &self.matcher else {
            return Vec::new();
        };
        let Some(rest) = hay.get(from..).filter(|r| r.len() >= self.min_len) else {
            return Vec::new();
        };
        let found = match matcher {
            Matcher::Few(finders) => leftmost_longest(finders, rest),
            Matcher::Many(ac) => ac.find_iter(rest).map(|m| m.range()).collect(),
        };
        found
            .into_iter()
            .map(|r| from + r.start..from + r.end)
            .collect()
    }
}

/// The occurrences of the finders' needles in `hay` as the automaton reports them: from the
/// leftmost, the longest of those that start there, then on from its end.
fn leftmost_longest(finders: &[memmem::Finder<'static>], hay: &[u8]) -> Vec<Range<usize>> {
    // Where each needle occurs next; `None` once it occurs no more.
    let mut next = [None; FEW];
    for (finder, next) in finders.iter().zip(&mut next) {
        *next = finder.find(hay);
    }
    let mut found = Vec::new();
    loop {
        let best = finders
            .iter()
            .zip(next)
            .filter_map(|(finder, n)| Some((n?, finder.needle().len())))
            .min_by_key(|&(n, len)| (n, std::cmp::Reverse(len)));
        let Some((start, len)) = best else {
            return found;
        };
        found.push(start..start + len);
        let at = start + len;
        for (finder, next) in finders.iter().zip(&mut next) {
            if next.is_some_and(|n| n < at) {
                *next = finder.find(&hay[at..]).map(|n| at + n);
            }
        }
    }
}

impl Drop for SecretSet {
    /// Our copies do not outlive the set (the matcher's own tables are beyond reach).
    fn drop(&mut self) {
        for value in &mut self.values {
            value.fill(0);
            std::hint::black_box(&value);
        }
    }
}

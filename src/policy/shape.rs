//! The shape of a SQL text (its text with each plain literal replaced by a placeholder) and a
//! cache of classifications by shape, so that `WHERE aid = 17` costs a parse once and
//! `WHERE aid = 18` a scan of its bytes.
//!
//! Two texts of one shape differ only inside literals, and only in literals whose value cannot
//! change how the rest of the text is read (SQL's lexical rules, PostgreSQL docs 4.1). That
//! makes their parse trees the same but for those constants, so a classification that read no
//! constant (see `walk::literals_read`) holds for both. Whatever the scan is not sure of (a
//! comment, an escape string, a dollar quote, a number with an exponent) has no shape and is
//! classified from scratch: the cache may miss, it must never answer for a different tree.

use std::sync::Arc;

use super::recent::Recent;
use super::sql::{Classification, SqlSession};

/// Shapes remembered per connection (per generation); a miss costs one classification.
const SHAPES: usize = 256;

/// Longer texts are classified every time rather than kept (256 bulk INSERTs of a megabyte
/// each would otherwise stay in memory); their parse dwarfs a lookup anyway.
pub const LONGEST: usize = 8192;

/// Placeholders in a shape. SQL text cannot hold NUL (PostgreSQL reads it as a C string), so
/// none can be mistaken for the text around it.
const STRING: &str = "\0s";
const INTEGER: &str = "\0i";
const DECIMAL: &str = "\0d";

/// The text's shape, or `None` when the scan cannot be sure how PostgreSQL reads it.
pub fn shape(sql: &str) -> Option<String> {
    let b = sql.as_bytes();
    let mut key = String::with_capacity(sql.len());
    let (mut i, mut kept) = (0, 0);
    while i < b.len() {
        let (end, placeholder) = match b[i] {
            0 => return None,
            b'\'' => (string_end(b, i)?, STRING),
            b'"' => (quoted_identifier_end(b, i)?, ""),
            b'0'..=b'9' if token_starts(b, i) => number(b, i)?,
            // `--` and `/*` open comments, which may hide quotes; `$` at the start of a token
            // opens a dollar quote unless a parameter number follows (`$1`).
            b'-' if b.get(i + 1) == Some(&b'-') => return None,
            b'/' if b.get(i + 1) == Some(&b'*') => return None,
            b'$' if token_starts(b, i) && !b.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                return None;
            }
            _ => (i + 1, ""),
        };
        if !placeholder.is_empty() {
            key.push_str(&sql[kept..i]);
            key.push_str(placeholder);
            kept = end;
        }
        i = end;
    }
    key.push_str(&sql[kept..]);
    Some(key)
}

/// Bytes that continue an identifier or keyword (PostgreSQL's `ident_cont`, with every
/// non-ASCII byte counting as a letter as the server's lexer counts it).
fn identifier_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
}

/// Whether a token may start at `i`: not in the middle of a name (`t1`), a parameter (`$12`)
/// or a number (`1.5`).
fn token_starts(b: &[u8], i: usize) -> bool {
    i == 0 || !(identifier_byte(b[i - 1]) || b[i - 1] == b'.')
}

/// The end of a plain string constant `'...'` starting at `i`. Prefixed forms (`E'..'`,
/// `B'..'`, `X'..'`, `N'..'`, `U&'..'`) and any backslash have no shape: their reading
/// depends on escapes and, for a backslash, on the server's `standard_conforming_strings`.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && (identifier_byte(b[i - 1]) || b[i - 1] == b'&') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            b'\\' | 0 => return None,
            b'\'' if b.get(j + 1) == Some(&b'\'') => j += 2,
            b'\'' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// The end of a quoted identifier `"..."` (`""` is a quote inside it); kept as it is.
fn quoted_identifier_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        match *b.get(j)? {
            0 => return None,
            b'"' if b.get(j + 1) == Some(&b'"') => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// A number starting at `i`: its end and placeholder. Only `123` (up to nine digits, so it is
/// always an int4 `Integer`; a longer one may become a `Float`) and `1.5` have a placeholder;
/// a number in parentheses of its own is kept as written, since a type modifier's value can
/// change the type (`float(24)` is real, `float(25)` double precision). Any other form (an
/// exponent, `1.`, `1_000`, `0x1f`, trailing letters) has no shape.
fn number(b: &[u8], i: usize) -> Option<(usize, &'static str)> {
    let digits = |from: usize| from + b[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut end = digits(i);
    let mut placeholder = if end - i <= 9 { INTEGER } else { "" };
    if b.get(end) == Some(&b'.') {
        let fraction = digits(end + 1);
        if fraction == end + 1 {
            return None;
        }
        (end, placeholder) = (fraction, DECIMAL);
    }
    if b.get(end).is_some_and(|&c| identifier_byte(c) || c == b'.') {
        return None;
    }
    if alone_in_parentheses(b, i, end) {
        placeholder = "";
    }
    Some((end, placeholder))
}

fn alone_in_parentheses(b: &[u8], start: usize, end: usize) -> bool {
    let before = b[..start].iter().rev().find(|c| !c.is_ascii_whitespace());
    let after = b[end..].iter().find(|c| !c.is_ascii_whitespace());
    before == Some(&b'(') && after == Some(&b')')
}

/// Classifications of one connection's texts by shape, for those whose finding holds for
/// their whole shape (`Classification::shareable`).
#[derive(Debug)]
pub struct ShapeCache {
    // Shared so that a hit clones a pointer out of the cache, not the classification.
    shapes: Recent<String, Arc<Classification>>,
}

impl Default for ShapeCache {
    fn default() -> Self {
        ShapeCache {
            shapes: Recent::new(SHAPES),
        }
    }
}

impl ShapeCache {
    /// Classifies `sql` as `session` would, from a text of the same shape when one was seen.
    // The gateway notes where its answer came from; the tests, the fuzz target and the cost
    // example use this.
    #[allow(dead_code)]
    pub fn classify(&mut self, session: &SqlSession, sql: &str) -> Classification {
        self.classify_noting_shape(session, sql).0
    }

    /// `classify`, and whether the answer came from a text of the same shape (so it was cheap
    /// to get, and is not worth remembering by its exact text).
    pub fn classify_noting_shape(
        &mut self,
        session: &SqlSession,
        sql: &str,
    ) -> (Classification, bool) {
        let Some(key) = (sql.len() <= LONGEST).then(|| shape(sql)).flatten() else {
            return (session.classify(sql), false);
        };
        if let Some(known) = self.shapes.get(&key) {
            return (known.reshaped(sql), true);
        }
        let classification = session.classify(sql);
        if classification.shareable().is_some() {
            self.shapes.insert(key, Arc::new(classification.clone()));
        }
        (classification, false)
    }
}

#[cfg(test)]
#[path = "shape_tests.rs"]
mod tests;

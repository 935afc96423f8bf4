//! SQL classification with the real PostgreSQL grammar (pg_query): one text in, its class, a
//! reason a human can read, and one line per statement of a batch out; plus the per-connection
//! memory of prepared statements that `EXECUTE` and the extended protocol's `Bind` refer to.

use std::collections::HashMap;

use super::Class;
use super::walk::{self, Effect, Finding};

/// What guard concluded about one SQL text: a single statement or a batch of them (a simple
/// Query message may carry several, separated by `;`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classification {
    /// The worst class of any statement.
    pub class: Class,
    /// Why, for the worst statement: e.g. "DELETE without WHERE on customers".
    pub reason: String,
    /// Each statement of the text, in order; empty for an empty text and for one that does not
    /// parse.
    pub statements: Vec<Statement>,
    text: String,
}

/// One statement of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// The statement's own text, without the separating `;`.
    pub text: String,
    pub class: Class,
    pub reason: String,
    effect: Option<Effect>,
    /// Whether the finding holds for every statement of the same shape: a kind whose class
    /// its structure decides, classified without reading any literal, with no effect on the
    /// session (see `policy::shape`).
    shareable: bool,
    /// Where the statement sits in the text, as pg_query reports it (before trimming).
    span: std::ops::Range<usize>,
}

// `fingerprint` and `shape` serve the gateway's "allow this shape for the session" answers.
#[allow(dead_code)]
impl Classification {
    /// The pg_query fingerprint of the text: the same for statements that differ only in
    /// their constants (`WHERE id = 1` and `WHERE id = 2`), so a human can allow a statement's
    /// shape for the rest of a session. `None` when the text does not parse.
    pub fn fingerprint(&self) -> Option<String> {
        pg_query::fingerprint(&self.text, 0, 0).ok().map(|f| f.hex)
    }

    /// The key to remember an "allow this shape for the session" answer under: the class and
    /// the fingerprint. The class is part of the key because constants can change it while the
    /// fingerprint stays the same: `DELETE FROM t WHERE 1 = 2` is a write, `WHERE 1 = 1` is
    /// dangerous, and both fingerprint alike.
    pub fn shape(&self) -> Option<String> {
        self.fingerprint().map(|f| format!("{}:{f}", self.class))
    }

    /// The text that was classified.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether running the text prepares or deallocates statements (see `SqlSession::apply`).
    pub fn changes_prepared(&self) -> bool {
        self.statements.iter().any(|s| s.effect.is_some())
    }

    /// The one statement of a text whose finding holds for any text of the same shape;
    /// `None` for a batch, or when a literal or the session decided.
    pub(super) fn shareable(&self) -> Option<&Statement> {
        match self.statements.as_slice() {
            [only] if only.shareable => Some(only),
            _ => None,
        }
    }

    /// The classification of `sql`, a text of the same shape as this one's: the same
    /// statement, which ends as far from the end of the text (what follows it holds no literal).
    pub(super) fn reshaped(&self, sql: &str) -> Classification {
        let statements = self
            .statements
            .iter()
            .map(|s| {
                let after = self.text.len().saturating_sub(s.span.end);
                let span = s.span.start..sql.len().saturating_sub(after);
                Statement {
                    text: sql.get(span.clone()).unwrap_or(sql).trim().to_string(),
                    span,
                    ..s.clone()
                }
            })
            .collect();
        Classification {
            class: self.class,
            reason: self.reason.clone(),
            statements,
            text: sql.to_string(),
        }
    }

    /// What guard concludes about something it cannot see the SQL of: `unknown`.
    pub fn unseen(what: &str, reason: String) -> Classification {
        Classification {
            class: Class::Unknown,
            reason,
            statements: Vec::new(),
            text: what.to_string(),
        }
    }
}

/// Classifies SQL with no memory of a connection: `EXECUTE name` is `unknown` unless the same
/// text prepared `name` first.
pub fn classify(sql: &str) -> Classification {
    SqlSession::default().classify(sql)
}

/// The state of one client connection that classification depends on: the statements prepared
/// on it by name. SQL-level `PREPARE` and the extended protocol's named `Parse` share one
/// namespace in the server (both end in `StorePreparedStatement`), so one map serves both; the
/// unnamed statement is the name `""`.
#[derive(Debug, Clone, Default)]
pub struct SqlSession {
    prepared: HashMap<String, Classification>,
}

// The gateway keeps one per client connection; the CLI only classifies.
#[allow(dead_code)]
impl SqlSession {
    pub fn new() -> Self {
        Self::default()
    }

    /// Classifies SQL as it would run on this connection. Nothing is remembered until `apply`.
    pub fn classify(&self, sql: &str) -> Classification {
        classify_with(sql, &|name| {
            self.prepared.get(name).map(|c| Finding {
                class: c.class,
                reason: c.reason.clone(),
            })
        })
    }

    /// Records what a forwarded text did to the prepared statements: PREPARE, DEALLOCATE,
    /// DISCARD ALL. Call it once the text has been sent to the server.
    pub fn apply(&mut self, classification: &Classification) {
        for statement in &classification.statements {
            match &statement.effect {
                Some(Effect::Prepare { name, finding }) => {
                    let prepared = Classification {
                        class: finding.class,
                        reason: finding.reason.clone(),
                        statements: Vec::new(),
                        text: statement.text.clone(),
                    };
                    self.remember(name, prepared);
                }
                Some(Effect::Deallocate(name)) => self.forget(name),
                Some(Effect::DeallocateAll) => self.forget_all(),
                None => {}
            }
        }
    }

    /// Remembers what the statement `name` was prepared as (a wire-level `Parse`, or a SQL
    /// `PREPARE` through `apply`).
    ///
    /// The server refuses to prepare a name that exists, so a second PREPARE of the same name
    /// may have failed there while guard saw it pass: guard keeps the worse of the two, never
    /// letting a harmless redefinition hide what really runs. The unnamed statement is replaced,
    /// as the server replaces it.
    pub fn remember(&mut self, name: &str, classification: Classification) {
        match self.prepared.get(name) {
            Some(old) if !name.is_empty() && old.class > classification.class => {}
            _ => {
                self.prepared.insert(name.to_string(), classification);
            }
        }
    }

    /// What `name` was prepared as; `None` when guard did not see it (classify it as unknown).
    pub fn lookup(&self, name: &str) -> Option<&Classification> {
        self.prepared.get(name)
    }

    /// Forgets `name` (DEALLOCATE, or a wire-level `Close` of a statement). Forgetting is
    /// always safe: what guard does not know is held for a human.
    pub fn forget(&mut self, name: &str) {
        self.prepared.remove(name);
    }

    /// Forgets every prepared statement (DEALLOCATE ALL, DISCARD ALL).
    pub fn forget_all(&mut self) {
        self.prepared.clear();
    }
}

/// Classifies each statement in order; a PREPARE or DEALLOCATE earlier in the batch is seen by
/// an EXECUTE later in it.
fn classify_with(sql: &str, session: walk::Lookup) -> Classification {
    let parsed = match pg_query::parse(sql, 0) {
        Ok(parsed) => parsed,
        Err(e) => return unparsed(sql, &e.to_string()),
    };
    let mut batch: HashMap<String, Option<Finding>> = HashMap::new();
    let mut cleared = false;
    let mut statements = Vec::new();
    for raw in &parsed.protobuf.stmts {
        let Ok(tree) = serde_json::to_value(&raw.stmt) else {
            return unparsed(sql, "its parse tree could not be read");
        };
        let lookup = |name: &str| match batch.get(name) {
            Some(found) => found.clone(),
            None if cleared => None,
            None => session(name),
        };
        let shareable_kind = walk::shareable_kind(&tree);
        walk::literals_read();
        let (finding, effect) = walk::statement(&tree, &lookup);
        let shareable = shareable_kind && !walk::literals_read() && effect.is_none();
        match &effect {
            Some(Effect::Prepare { name, finding }) => {
                batch.insert(name.clone(), Some(finding.clone()));
            }
            Some(Effect::Deallocate(name)) => {
                batch.insert(name.clone(), None);
            }
            Some(Effect::DeallocateAll) => {
                batch.clear();
                cleared = true;
            }
            None => {}
        }
        let span = statement_span(sql, raw.stmt_location, raw.stmt_len);
        statements.push(Statement {
            text: sql.get(span.clone()).unwrap_or(sql).trim().to_string(),
            span,
            class: finding.class,
            reason: finding.reason,
            effect,
            shareable,
        });
    }
    let (class, reason) = worst(&statements);
    Classification {
        class,
        reason,
        statements,
        text: sql.to_string(),
    }
}

/// A text that does not parse is `unknown`: the server would most likely reject it too, but
/// guard fails closed rather than guess.
fn unparsed(sql: &str, error: &str) -> Classification {
    Classification {
        class: Class::Unknown,
        reason: format!("does not parse: {error}"),
        statements: Vec::new(),
        text: sql.to_string(),
    }
}

/// The batch's class and reason: its worst statement's; the first of equals.
fn worst(statements: &[Statement]) -> (Class, String) {
    let mut worst: Option<(usize, &Statement)> = None;
    for (i, s) in statements.iter().enumerate() {
        if worst.is_none_or(|(_, w)| s.class > w.class) {
            worst = Some((i, s));
        }
    }
    match worst {
        Some((i, s)) if statements.len() > 1 => (
            s.class,
            format!("statement {} of {}: {}", i + 1, statements.len(), s.reason),
        ),
        Some((_, s)) => (s.class, s.reason.clone()),
        None => (Class::Read, "empty statement".to_string()),
    }
}

/// A statement's place in the text from its byte offset and length (0: to the end), as
/// pg_query reports them. Its text is the whole text if these do not fall on character
/// boundaries.
fn statement_span(sql: &str, location: i32, len: i32) -> std::ops::Range<usize> {
    let start = usize::try_from(location).unwrap_or(0).min(sql.len());
    let end = match usize::try_from(len) {
        Ok(0) | Err(_) => sql.len(),
        Ok(len) => start.saturating_add(len).min(sql.len()),
    };
    start..end
}

#[cfg(test)]
#[path = "sql_tests.rs"]
pub(super) mod tests;

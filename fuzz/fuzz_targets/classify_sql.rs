//! Fuzzes the SQL classifier: it must never panic, and by pg_query's own account of the text
//! (independent of guard's walk):
//!
//! * a text that does not parse is `unknown`;
//! * a text that calls a denied function is never a read;
//! * a DROP, a TRUNCATE, or an UPDATE or DELETE without WHERE, run as a statement of its own
//!   or as a WITH of one, makes the text `dangerous`, and that statement too;
//! * an INSERT, UPDATE, DELETE or MERGE run that way makes it at least a write;
//! * a text classified through the per-connection shape cache, after another text of the same
//!   shape, gets the classes a fresh classification gives it.
//!
//! Input: SQL text. With a NUL in it, the text before the NUL is classified first through the
//! shape cache and the text after it second; without, the second text is the first with every
//! digit changed (the same shape whenever the digits are numbers).
//!
//!     cargo +nightly fuzz run classify_sql

#![no_main]

// guard is a binary crate, so the target compiles the classifier's files directly; they depend
// on nothing else in guard.
#[path = "../../src/policy/catalog.rs"]
mod catalog;
#[path = "../../src/policy/class.rs"]
mod class;
#[allow(dead_code)]
#[path = "../../src/policy/recent.rs"]
mod recent;
#[path = "../../src/policy/shape.rs"]
mod shape;
#[path = "../../src/policy/sql.rs"]
mod sql;
#[path = "../../src/policy/walk.rs"]
mod walk;

use class::Class;
use libfuzzer_sys::fuzz_target;
use pg_query::NodeEnum;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (first, second) = match text.split_once('\0') {
        Some((first, second)) => (first, second.to_string()),
        None => (text, other_digits(text)),
    };
    check(first);
    same_through_the_shape_cache(first, &second);
});

fn check(text: &str) {
    let classified = sql::classify(text);
    let mut session = sql::SqlSession::new();
    session.apply(&classified);
    let _ = session.classify(text);
    let _ = classified.shape();

    let Ok(parsed) = pg_query::parse(text, 0) else {
        assert_eq!(classified.class, Class::Unknown, "{text:?} does not parse");
        return;
    };
    let denied_call = parsed.functions().iter().any(|name| {
        let bare = name.rsplit('.').next().unwrap_or(name);
        catalog::denied_function(bare).is_some()
    });
    if denied_call {
        assert_ne!(classified.class, Class::Read, "{text:?}");
    }
    // guard makes one statement of each of pg_query's, in order.
    let aligned = classified.statements.len() == parsed.protobuf.stmts.len();
    for (i, raw) in parsed.protobuf.stmts.iter().enumerate() {
        let node = raw.stmt.as_ref().and_then(|n| n.node.as_ref());
        let run = std::iter::once(node).chain(with_queries(node));
        let floor = run.map(least_class).max().unwrap_or(Class::Read);
        assert!(
            classified.class >= floor,
            "{text:?} is {}, not {floor}",
            classified.class
        );
        if aligned {
            let own = classified.statements[i].class;
            assert!(
                own >= floor,
                "statement {} of {text:?} is {own}, not {floor}",
                i + 1
            );
        }
    }
}

/// The least class a statement that runs can have, whatever guard's walk finds in it.
fn least_class(node: Option<&NodeEnum>) -> Class {
    match node {
        Some(NodeEnum::DropStmt(_) | NodeEnum::TruncateStmt(_)) => Class::Dangerous,
        Some(NodeEnum::DeleteStmt(d)) if d.where_clause.is_none() => Class::Dangerous,
        Some(NodeEnum::UpdateStmt(u)) if u.where_clause.is_none() => Class::Dangerous,
        Some(
            NodeEnum::InsertStmt(_)
            | NodeEnum::UpdateStmt(_)
            | NodeEnum::DeleteStmt(_)
            | NodeEnum::MergeStmt(_),
        ) => Class::Write,
        _ => Class::Read,
    }
}

/// The queries of a statement's WITH: each runs with it, whether the statement reads it or not.
fn with_queries(node: Option<&NodeEnum>) -> Vec<Option<&NodeEnum>> {
    let with = match node {
        Some(NodeEnum::SelectStmt(s)) => s.with_clause.as_ref(),
        Some(NodeEnum::InsertStmt(s)) => s.with_clause.as_ref(),
        Some(NodeEnum::UpdateStmt(s)) => s.with_clause.as_ref(),
        Some(NodeEnum::DeleteStmt(s)) => s.with_clause.as_ref(),
        Some(NodeEnum::MergeStmt(s)) => s.with_clause.as_ref(),
        _ => None,
    };
    let ctes = with.map(|w| w.ctes.as_slice()).unwrap_or_default();
    ctes.iter()
        .filter_map(|cte| match &cte.node {
            Some(NodeEnum::CommonTableExpr(c)) => Some(c.ctequery.as_ref()?.node.as_ref()),
            _ => None,
        })
        .collect()
}

/// The shape cache answers for a text from another of its shape only when that holds.
fn same_through_the_shape_cache(first: &str, second: &str) {
    let session = sql::SqlSession::new();
    let mut cache = shape::ShapeCache::default();
    let _ = cache.classify(&session, first);
    let cached = cache.classify(&session, second);
    let fresh = session.classify(second);
    let classes =
        |c: &sql::Classification| -> Vec<Class> { c.statements.iter().map(|s| s.class).collect() };
    assert_eq!(
        (cached.class, classes(&cached)),
        (fresh.class, classes(&fresh)),
        "{second:?} after {first:?}"
    );
}

/// The text with each ASCII digit replaced by the next one.
fn other_digits(text: &str) -> String {
    text.chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_digit((d + 1) % 10, 10).unwrap_or(c),
            None => c,
        })
        .collect()
}

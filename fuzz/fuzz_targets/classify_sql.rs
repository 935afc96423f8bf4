//! Fuzzes the SQL classifier: it must never panic, and a text that calls a denied function or
//! holds a DROP (by pg_query's own account, independent of guard's walk) is never a read.
//!
//!     cargo +nightly fuzz run classify_sql

#![no_main]

// guard is a binary crate, so the target compiles the classifier's files directly; they depend
// on nothing else in guard.
#[path = "../../src/policy/catalog.rs"]
mod catalog;
#[path = "../../src/policy/class.rs"]
mod class;
#[path = "../../src/policy/sql.rs"]
mod sql;
#[path = "../../src/policy/walk.rs"]
mod walk;

use class::Class;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
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
    let drops = parsed.statement_types().contains(&"DropStmt");
    if denied_call || drops {
        assert_ne!(classified.class, Class::Read, "{text:?}");
    }
});

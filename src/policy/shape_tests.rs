use super::super::sql::classify;
use super::super::sql::tests::TABLE;
use super::*;

#[test]
fn literals_become_placeholders() {
    let a = shape("SELECT abalance FROM pgbench_accounts WHERE aid = 12345;");
    let b = shape("SELECT abalance FROM pgbench_accounts WHERE aid = 7;");
    assert!(a.is_some());
    assert_eq!(a, b);
    assert_eq!(
        shape("SELECT * FROM t WHERE name = 'ann' AND total > 1.5"),
        shape("SELECT * FROM t WHERE name = 'it''s' AND total > 22.25")
    );
    assert_ne!(
        shape("SELECT a FROM t WHERE id = 1"),
        shape("SELECT b FROM t WHERE id = 1")
    );
    // A whole number and a decimal are different constants (`Integer`, `Float`).
    assert_ne!(shape("SELECT 1"), shape("SELECT 1.0"));
}

#[test]
fn forms_the_scan_is_not_sure_of_have_no_shape() {
    for sql in [
        "SELECT 1 -- comment",
        "SELECT /* comment */ 1",
        "SELECT E'a\\'b'",
        "SELECT 'a\\'",
        "SELECT $$x$$",
        "SELECT $tag$x$tag$",
        "SELECT 1e5",
        "SELECT 1_000",
        "SELECT 0x1F",
        "SELECT 1.",
        "SELECT 12abc",
        "SELECT U&'d\\0061t'",
        "SELECT B'101', X'1F', N'x'",
        "SELECT 'unterminated",
        "SELECT \"unterminated",
        "SELECT '\0'",
    ] {
        assert_eq!(shape(sql), None, "{sql:?}");
    }
}

#[test]
fn names_parameters_and_type_modifiers_keep_their_text() {
    // A quote inside a quoted name opens no literal.
    let quoted = shape("SELECT \"it's\" FROM t WHERE id = 3").unwrap();
    assert!(quoted.contains("\"it's\""), "{quoted:?}");
    assert_ne!(shape("SELECT $1"), shape("SELECT $2"));
    assert_ne!(shape("SELECT t1.a"), shape("SELECT t2.a"));
    // float(24) is real, float(25) double precision: the value changes the type.
    assert_ne!(shape("SELECT x::float(24)"), shape("SELECT x::float(25)"));
    // Past nine digits a whole number may not fit an int4 and is read as a Float.
    assert_ne!(shape("SELECT 1234567890"), shape("SELECT 9234567890"));
}

#[test]
fn a_literal_that_decides_the_class_is_never_shared() {
    let session = SqlSession::new();
    let pairs = [
        (
            "UPDATE t SET a = 1 WHERE 1 = 2",
            "UPDATE t SET a = 1 WHERE 1 = 1",
        ),
        (
            "DELETE FROM t WHERE 'a' = 'b'",
            "DELETE FROM t WHERE 'a' = 'a'",
        ),
        (
            "DELETE FROM t WHERE 'f'::bool",
            "DELETE FROM t WHERE 't'::bool",
        ),
        (
            "SELECT set_config('application_name', 'x', false)",
            "SELECT set_config('role', 'postgres', false)",
        ),
    ];
    for (first, second) in pairs {
        let mut cache = ShapeCache::default();
        assert_eq!(cache.classify(&session, first), classify(first));
        assert_eq!(shape(first), shape(second));
        let fresh = classify(second);
        assert_eq!(cache.classify(&session, second), fresh, "{second}");
        assert_ne!(classify(first).class, fresh.class, "{first} / {second}");
    }
}

#[test]
fn pgbench_statements_are_shared_by_shape() {
    for sql in [
        "SELECT abalance FROM pgbench_accounts WHERE aid = 4711;",
        "UPDATE pgbench_accounts SET abalance = abalance + -2341 WHERE aid = 4711;",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) \
         VALUES (3, 1, 4711, -2341, CURRENT_TIMESTAMP);",
    ] {
        let classified = classify(sql);
        assert!(classified.shareable().is_some(), "{sql}");
        let other = sql.replace("4711", "12").replace("2341", "9");
        assert_eq!(shape(sql), shape(&other));
        let mut cache = ShapeCache::default();
        let session = SqlSession::new();
        cache.classify(&session, sql);
        assert_eq!(cache.classify(&session, &other), classify(&other));
    }
}

/// The property the cache rests on: whatever texts it has seen, its answer for a text is the
/// answer a fresh classification gives, statement texts and spans included.
#[test]
fn a_shape_answers_as_a_fresh_classification_would() {
    let session = SqlSession::new();
    let mut cache = ShapeCache::default();
    let mut shared = 0;
    for (sql, _) in TABLE {
        let texts: Vec<String> = std::iter::once(sql.to_string())
            .chain((0..VARIANTS).map(|n| variant(sql, n)))
            .chain([format!("{sql};"), format!("  {sql} ;\n")])
            .collect();
        for text in &texts {
            let fresh = classify(text);
            shared += usize::from(fresh.shareable().is_some());
            assert_eq!(cache.classify(&session, text), fresh, "{text:?}");
        }
    }
    assert!(shared > 100, "only {shared} texts were shareable");
}

const VARIANTS: usize = 8;
const STRINGS: [&str; VARIANTS] = ["", "t", "on", "role", "1", "f", "plpython3u", "/tmp/x"];
const NUMBERS: [&str; VARIANTS] = ["0", "1", "2", "42", "999999999", "1.5", "7", "0.0"];

/// `sql` with every plain string constant's content and every number replaced by the `n`th
/// choice.
fn variant(sql: &str, n: usize) -> String {
    let mut out = String::new();
    let mut chars = sql.chars().peekable();
    let mut previous = ' ';
    while let Some(c) = chars.next() {
        if c == '\'' && !previous.is_alphanumeric() {
            out.push('\'');
            out.push_str(STRINGS[n]);
            for inner in chars.by_ref() {
                if inner == '\'' {
                    break;
                }
            }
            out.push('\'');
            previous = '\'';
        } else if c.is_ascii_digit() && !(previous.is_alphanumeric() || "_$.".contains(previous)) {
            while chars.peek().is_some_and(|d| d.is_ascii_digit()) {
                chars.next();
            }
            out.push_str(NUMBERS[n]);
            previous = '0';
        } else {
            out.push(c);
            previous = c;
        }
    }
    out
}

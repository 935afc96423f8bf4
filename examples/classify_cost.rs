//! How long guard takes to classify a statement: pg_query's parse alone, the whole
//! classification (parse, walk, reason), the same statement with other constants once its
//! shape is known (`policy::shape`), and the fingerprint used for "allow this shape".
//!
//!     cargo run --release --example classify_cost

// `cargo test --all-targets` builds examples as tests: the classifier's own tests already run
// with the binary's, so this one compiles to nothing then.
#![cfg(not(test))]

// The classifier is pure logic with no other part of guard behind it, so the example compiles
// its files directly (guard is a binary crate with no library to link against).
#[path = "../src/policy/catalog.rs"]
mod catalog;
#[path = "../src/policy/class.rs"]
mod class;
#[allow(dead_code)]
#[path = "../src/policy/recent.rs"]
mod recent;
#[path = "../src/policy/shape.rs"]
mod shape;
#[path = "../src/policy/sql.rs"]
mod sql;
#[path = "../src/policy/walk.rs"]
mod walk;

use class::Class;
use std::time::Instant;

const STATEMENTS: &[(&str, &str)] = &[
    (
        "point select",
        "SELECT id, name, email FROM customers WHERE id = 42",
    ),
    (
        "join, aggregate",
        "SELECT c.id, count(o.id), sum(o.total) FROM customers c \
         LEFT JOIN orders o ON o.customer_id = c.id \
         WHERE c.created_at > now() - interval '30 days' \
         GROUP BY c.id ORDER BY 3 DESC LIMIT 20",
    ),
    (
        "7-line CTE",
        "WITH recent AS (\n  SELECT customer_id, total FROM orders\n  WHERE created_at > now() - interval '7 days'\n), \
         big AS (\n  SELECT customer_id, sum(total) AS s FROM recent GROUP BY customer_id\n)\n\
         SELECT c.name, b.s FROM big b JOIN customers c ON c.id = b.customer_id WHERE b.s > 100",
    ),
    (
        "insert",
        "INSERT INTO orders (customer_id, total) VALUES (42, 19.99) RETURNING id",
    ),
    (
        "update",
        "UPDATE customers SET email = lower(email) WHERE id = 42",
    ),
];

fn per_call_us(iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations)
}

fn main() {
    let iterations = 20_000;
    println!(
        "{:<16} {:>7} {:>10} {:>12} {:>14} {:>15}",
        "statement", "class", "parse µs", "classify µs", "same shape µs", "fingerprint µs"
    );
    for (name, sql) in STATEMENTS {
        let class: Class = sql::classify(sql).class;
        let parse = per_call_us(iterations, || {
            std::hint::black_box(pg_query::parse(std::hint::black_box(sql), 0).ok());
        });
        let classify = per_call_us(iterations, || {
            std::hint::black_box(sql::classify(std::hint::black_box(sql)));
        });
        let session = sql::SqlSession::new();
        let mut shapes = shape::ShapeCache::default();
        shapes.classify(&session, sql);
        let other = sql.replace("42", "4711");
        let same_shape = per_call_us(iterations, || {
            std::hint::black_box(shapes.classify(&session, std::hint::black_box(&other)));
        });
        let classified = sql::classify(sql);
        let fingerprint = per_call_us(iterations, || {
            std::hint::black_box(classified.fingerprint());
        });
        println!(
            "{name:<16} {class:>7} {parse:>10.1} {classify:>12.1} {same_shape:>14.1} {fingerprint:>15.1}"
        );
    }
}

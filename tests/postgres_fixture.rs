//! The PostgreSQL fixture itself works: a server starts, answers, and stops.

mod support;

#[test]
fn a_real_postgres_starts_and_answers() {
    let pg = support::postgres::Postgres::start();
    assert_eq!(pg.sql("select 40 + 2"), "42");
}

//! `guard policy explain`: the real binary classifies and decides without running anything, with
//! the SPEC defaults and with rules from a configuration file.

mod support;

use support::{Home, stderr, stdout};

const CONFIG: &str = r#"
[[target]]
name = "shop"
kind = "postgres"
upstream = "127.0.0.1:5432"

[[target]]
name = "billing"
kind = "http"
upstream = "http://127.0.0.1:9"

[[rule]]
target = "shop"
class = ["write"]
match = "(?i)\\blogs\\b"
action = "allow"

[[rule]]
target = "billing"
match = "^DELETE /customers/"
action = "deny"
"#;

fn home_with_config() -> Home {
    let home = Home::new();
    std::fs::write(home.path().join("guard.toml"), CONFIG).unwrap();
    home
}

#[test]
fn a_statement_gets_its_class_reason_rule_and_outcome() {
    let home = Home::new();
    let out = home.run(&["policy", "explain", "DELETE FROM customers"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "class:   dangerous\n\
         reason:  DELETE without WHERE on customers\n\
         rule:    default\n\
         outcome: deny\n"
    );
}

#[test]
fn a_read_is_allowed_and_a_write_asks_by_default() {
    let home = Home::new();
    let out = home.run(&["policy", "explain", "select * from customers where id = 1"]);
    assert!(stdout(&out).contains("class:   read\n"));
    assert!(stdout(&out).contains("outcome: allow\n"));
    let out = home.run(&[
        "policy",
        "explain",
        "UPDATE orders SET total = 0 WHERE id = 7",
    ]);
    assert!(stdout(&out).contains("reason:  UPDATE with a WHERE on orders\n"));
    assert!(stdout(&out).contains("outcome: ask\n"));
}

#[test]
fn a_batch_gets_a_line_per_statement_and_the_overall_outcome() {
    let home = Home::new();
    let out = home.run(&["policy", "explain", "SELECT 1; DROP TABLE t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "statement 1: read, allow (default) - SELECT without side effects\n\
         statement 2: dangerous, deny (default) - DROP TABLE t\n\
         batch: dangerous, deny (default) - statement 2 of 2: DROP TABLE t\n"
    );
}

#[test]
fn a_configured_rule_decides_and_is_named() {
    let home = home_with_config();
    let out = home.run(&[
        "policy",
        "explain",
        "--target",
        "shop",
        "INSERT INTO logs VALUES (1)",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("class:   write\n"), "{text}");
    assert!(
        text.contains("rule:    rule 1: class write on shop matching `(?i)\\blogs\\b`\n"),
        "{text}"
    );
    assert!(text.contains("outcome: allow\n"), "{text}");
    // The same statement for no target: the rule names `shop`, so the default asks.
    let out = home.run(&["policy", "explain", "INSERT INTO logs VALUES (1)"]);
    assert!(stdout(&out).contains("rule:    default\noutcome: ask\n"));
}

#[test]
fn an_http_request_is_classified_by_method_and_matched_on_method_and_path() {
    let home = home_with_config();
    let out = home.run(&[
        "policy",
        "explain",
        "--target",
        "billing",
        "DELETE /customers/7",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "class:   write\n\
         reason:  DELETE changes data\n\
         rule:    rule 2: any class on billing matching `^DELETE /customers/`\n\
         outcome: deny\n"
    );
    let out = home.run(&["policy", "explain", "--target", "billing", "GET /customers"]);
    assert!(stdout(&out).contains("class:   read\n"));
    assert!(stdout(&out).contains("outcome: allow\n"));
}

#[test]
fn unparseable_sql_is_unknown_and_held() {
    let home = Home::new();
    let out = home.run(&["policy", "explain", "SELEC * FROM t"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.contains("class:   unknown\n"), "{text}");
    assert!(text.contains("reason:  does not parse: "), "{text}");
    assert!(text.contains("outcome: ask\n"), "{text}");
}

#[test]
fn a_text_that_starts_with_a_comment_is_sql_not_an_option() {
    let home = Home::new();
    let out = home.run(&["policy", "explain", "-- tidy up\nDELETE FROM t"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("class:   dangerous\n"));
}

#[test]
fn a_bad_rule_is_a_configuration_error_naming_the_rule() {
    let home = Home::new();
    let config = home.path().join("bad.toml");
    std::fs::write(
        &config,
        "[[rule]]\nclass = [\"wirte\"]\naction = \"deny\"\n",
    )
    .unwrap();
    let out = home.run(&[
        "policy",
        "explain",
        "-c",
        config.to_str().unwrap(),
        "SELECT 1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with("guard: ")
            && err.contains("bad.toml: [[rule]] 1: key `class`: unknown class `wirte`"),
        "{err}"
    );
    assert!(err.contains("\nhint: "), "{err}");
}

#[test]
fn an_unknown_target_is_refused_with_the_known_ones() {
    let home = home_with_config();
    let out = home.run(&["policy", "explain", "--target", "shpo", "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no target named `shpo`"), "{err}");
    assert!(
        err.contains("hint: the configured targets are: shop, billing"),
        "{err}"
    );
}

use std::path::Path;

use super::*;

fn policy(toml: &str) -> Policy {
    let config = crate::config::parse(toml, Path::new("guard.toml")).unwrap();
    Policy::from_config(&config).unwrap()
}

fn policy_error(toml: &str) -> PolicyError {
    let config = crate::config::parse(toml, Path::new("guard.toml")).unwrap();
    Policy::from_config(&config).unwrap_err()
}

const TARGETS: &str = r#"
[[target]]
name = "shop"
kind = "postgres"
upstream = "db.internal:5432"

[[target]]
name = "billing"
kind = "http"
upstream = "https://billing.internal"
"#;

fn with_rules(rules: &str) -> Policy {
    policy(&format!("{TARGETS}\n{rules}"))
}

#[test]
fn without_rules_the_spec_defaults_apply() {
    let p = Policy::default();
    let expect = [
        (Class::Read, Action::Allow),
        (Class::Write, Action::Ask),
        (Class::Ddl, Action::Ask),
        (Class::Admin, Action::Ask),
        (Class::Unknown, Action::Ask),
        (Class::Dangerous, Action::Deny),
    ];
    for (class, action) in expect {
        let d = p.decide("shop", class, "x");
        assert_eq!(d.action, action, "{class}");
        assert_eq!(d.rule, None);
    }
}

#[test]
fn the_first_matching_rule_wins() {
    let p = with_rules(
        r#"
[[rule]]
class = ["write"]
match = "(?i)\\blogs\\b"
action = "allow"

[[rule]]
class = ["write"]
action = "deny"
"#,
    );
    let d = p.decide("shop", Class::Write, "INSERT INTO logs VALUES (1)");
    assert_eq!(d.action, Action::Allow);
    assert_eq!(
        d.rule.as_deref(),
        Some("rule 1: class write matching `(?i)\\blogs\\b`")
    );
    assert_eq!(d.reason, "rule 1 matched");
    let d = p.decide("shop", Class::Write, "INSERT INTO orders VALUES (1)");
    assert_eq!(d.action, Action::Deny);
    assert_eq!(d.rule.as_deref(), Some("rule 2: class write"));
}

#[test]
fn a_target_filter_limits_a_rule_to_its_target() {
    let p = with_rules(
        r#"
[[rule]]
target = "shop"
class = ["write"]
action = "allow"
"#,
    );
    let d = p.decide("shop", Class::Write, "UPDATE t SET a = 1 WHERE id = 1");
    assert_eq!(d.action, Action::Allow);
    assert_eq!(d.rule.as_deref(), Some("rule 1: class write on shop"));
    let d = p.decide("billing", Class::Write, "POST /invoices");
    assert_eq!((d.action, d.rule), (Action::Ask, None));
    // `policy explain` without --target decides for no target: target rules do not apply.
    assert_eq!(p.decide("", Class::Write, "x").action, Action::Ask);
}

#[test]
fn a_class_filter_limits_a_rule_to_its_classes() {
    let p = with_rules(
        r#"
[[rule]]
class = ["ddl", "admin"]
action = "deny"
"#,
    );
    assert_eq!(p.decide("shop", Class::Ddl, "x").action, Action::Deny);
    assert_eq!(p.decide("shop", Class::Admin, "x").action, Action::Deny);
    assert_eq!(p.decide("shop", Class::Write, "x").action, Action::Ask);
    assert_eq!(p.decide("shop", Class::Read, "x").action, Action::Allow);
}

#[test]
fn a_regex_matches_method_and_path_for_http() {
    let p = with_rules(
        r#"
[[rule]]
target = "billing"
match = "^DELETE /customers/"
action = "deny"

[[rule]]
target = "billing"
match = "^POST /invoices(/|$)"
action = "allow"
"#,
    );
    let decide = |method: &str, path: &str| {
        p.decide(
            "billing",
            http::classify(method),
            &http::rule_text(method, path),
        )
        .action
    };
    assert_eq!(decide("DELETE", "/customers/7"), Action::Deny);
    assert_eq!(decide("POST", "/invoices"), Action::Allow);
    assert_eq!(decide("POST", "/invoices-archive"), Action::Ask);
    assert_eq!(decide("GET", "/customers/7"), Action::Allow);
    assert_eq!(decide("DELETE", "/orders/7"), Action::Ask);
}

#[test]
fn dangerous_is_allowed_only_by_a_rule_that_names_it() {
    let p = with_rules(
        r#"
[[rule]]
target = "shop"
match = "customers"
action = "allow"

[[rule]]
target = "shop"
class = ["dangerous"]
match = "^TRUNCATE scratch"
action = "allow"
"#,
    );
    // The broad first rule allows reads and writes on customers, but not a DROP of it.
    let d = p.decide("shop", Class::Dangerous, "DROP TABLE customers");
    assert_eq!((d.action, d.rule), (Action::Deny, None));
    assert_eq!(
        p.decide("shop", Class::Write, "DELETE FROM customers WHERE id = 1")
            .action,
        Action::Allow
    );
    let d = p.decide("shop", Class::Dangerous, "TRUNCATE scratch");
    assert_eq!(d.action, Action::Allow);
    assert_eq!(
        d.rule.as_deref(),
        Some("rule 2: class dangerous on shop matching `^TRUNCATE scratch`")
    );
}

#[test]
fn a_deny_rule_without_classes_still_denies_dangerous() {
    let p = with_rules(
        r#"
[[rule]]
match = "customers"
action = "deny"
"#,
    );
    let d = p.decide("shop", Class::Dangerous, "DROP TABLE customers");
    assert_eq!(d.action, Action::Deny);
    assert_eq!(
        d.rule.as_deref(),
        Some("rule 1: any class matching `customers`")
    );
}

#[test]
fn a_batch_is_decided_statement_by_statement() {
    let p = with_rules(
        r#"
[[rule]]
target = "shop"
class = ["write"]
match = "INSERT INTO logs"
action = "allow"
"#,
    );
    // The rule's regex matches the batch's text, but not the UPDATE's own text.
    let batch =
        sql::classify("INSERT INTO logs VALUES (1); UPDATE customers SET a = 1 WHERE id = 2");
    let d = p.decide_sql("shop", &batch);
    assert_eq!((d.action, d.rule), (Action::Ask, None));
    let one = sql::classify("INSERT INTO logs VALUES (1)");
    assert_eq!(p.decide_sql("shop", &one).action, Action::Allow);
    let with_drop = sql::classify("INSERT INTO logs VALUES (1); DROP TABLE logs");
    assert_eq!(p.decide_sql("shop", &with_drop).action, Action::Deny);
    let junk = sql::classify("INSERT INTO logs VALUES (");
    assert_eq!(p.decide_sql("shop", &junk).action, Action::Ask);
}

#[test]
fn a_bad_class_or_regex_names_the_rule() {
    let e = policy_error(
        r#"
[[rule]]
action = "allow"

[[rule]]
class = ["wrte"]
action = "deny"
"#,
    );
    assert_eq!(e.index, 2);
    assert!(
        e.to_string()
            .starts_with("[[rule]] 2: key `class`: unknown class `wrte`"),
        "{e}"
    );
    let e = policy_error(
        r#"
[[rule]]
match = "(unclosed"
action = "deny"
"#,
    );
    assert_eq!(e.index, 1);
    assert_eq!(
        e.to_string(),
        "[[rule]] 1: key `match`: not a valid regex: unclosed group"
    );
}

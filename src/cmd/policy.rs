//! `guard policy explain <TEXT> [--target NAME] [-c FILE]`: how guard would classify and decide
//! a SQL text or an HTTP request, without running anything.

use crate::cli::{ExplainArgs, PolicyArgs, PolicyCommand};
use crate::cmd::CliError;
use crate::config::{self, Config};
use crate::policy::{self, Class, Decision, Policy, http, sql};

pub fn cmd_policy(args: PolicyArgs) -> Result<i32, CliError> {
    match args.command {
        PolicyCommand::Explain(args) => cmd_explain(args),
    }
}

fn cmd_explain(args: ExplainArgs) -> Result<i32, CliError> {
    let config = config::load(args.config.as_deref()).map_err(|e| {
        CliError::new(1, e.to_string())
            .hint("fix the configuration; `man guard` describes every key")
    })?;
    let policy = Policy::from_config(&config).map_err(|e| {
        let file = config
            .source
            .as_ref()
            .map(|p| format!("{}: ", p.display()))
            .unwrap_or_default();
        CliError::new(1, format!("{file}{e}")).hint(
            "class is a list of read, write, ddl, admin, unknown, dangerous; match is a regex",
        )
    })?;
    let target = args.target.as_deref().unwrap_or_default();
    check_target(&config, args.target.as_deref())?;
    let lines = match http::parse_text(&args.text) {
        Some((method, path)) => explain_http(&policy, target, method, path),
        None => explain_sql(&policy, target, &args.text),
    };
    for line in lines {
        println!("{line}");
    }
    Ok(0)
}

/// A target that is not configured can match no target rule: most likely a typo.
fn check_target(config: &Config, target: Option<&str>) -> Result<(), CliError> {
    let Some(name) = target else { return Ok(()) };
    if config.targets.iter().any(|t| t.name == name) {
        return Ok(());
    }
    let known: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let hint = if known.is_empty() {
        "the configuration defines no [[target]]; pass -c FILE to use another".to_string()
    } else {
        format!("the configured targets are: {}", known.join(", "))
    };
    Err(CliError::new(1, format!("no target named `{name}` in the configuration")).hint(hint))
}

fn explain_http(policy: &Policy, target: &str, method: &str, path: &str) -> Vec<String> {
    let class = http::classify(method);
    let decision = policy.decide(target, class, &http::rule_text(method, path));
    summary(class, &http::reason(method), &decision)
}

fn explain_sql(policy: &Policy, target: &str, text: &str) -> Vec<String> {
    let classified = sql::classify(text);
    let decision = policy.decide_sql(target, &classified);
    if classified.statements.len() <= 1 {
        return summary(classified.class, &classified.reason, &decision);
    }
    let mut lines: Vec<String> = classified
        .statements
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let d = policy.decide(target, s.class, &s.text);
            format!("statement {}: {}", i + 1, one_line(s.class, &d, &s.reason))
        })
        .collect();
    lines.push(format!(
        "batch: {}",
        one_line(classified.class, &decision, &classified.reason)
    ));
    lines
}

fn summary(class: Class, reason: &str, decision: &Decision) -> Vec<String> {
    vec![
        format!("class:   {class}"),
        format!("reason:  {reason}"),
        format!("rule:    {}", rule(decision)),
        format!("outcome: {}", policy::action_name(decision.action)),
    ]
}

/// "dangerous, deny (default) - DROP TABLE t".
fn one_line(class: Class, decision: &Decision, reason: &str) -> String {
    format!(
        "{class}, {} ({}) - {reason}",
        policy::action_name(decision.action),
        rule(decision)
    )
}

fn rule(decision: &Decision) -> &str {
    decision.rule.as_deref().unwrap_or("default")
}

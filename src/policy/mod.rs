//! The policy: risk classes, the configured `[[rule]]`s compiled once, and the decision for each
//! statement or request: rules first, first match wins, then the defaults (SPEC,
//! "Configuration" and "Classes and default policy"). Pure logic: no I/O, no clock.
//!
//! One safeguard beyond "first match wins": a `dangerous` statement is denied unless a rule that
//! names the class `dangerous` says otherwise, so a broad rule such as `match = "customers",
//! action = "allow"` can never let `DROP TABLE customers` through by accident.

mod catalog;
mod class;
pub mod http;
pub mod recent;
pub mod shape;
pub mod sql;
mod walk;

use regex::Regex;

pub use crate::config::Action;
use crate::config::{Config, Rule};
pub use class::Class;
use sql::Classification;

/// A `[[rule]]` guard cannot use; `index` counts from 1 in the order of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[[rule]] {index}: {message}")]
pub struct PolicyError {
    pub index: usize,
    pub message: String,
}

/// What to do with one statement or request, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    /// The rule that decided, e.g. "rule 2: class write on shop"; `None`: the defaults did.
    pub rule: Option<String>,
    /// Why, in a few words: "rule 2 matched" or "write is held for a human by default".
    pub reason: String,
}

/// The compiled rules of a configuration.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<CompiledRule>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    index: usize,
    target: Option<String>,
    classes: Vec<Class>,
    pattern: Option<Regex>,
    action: Action,
    description: String,
}

impl Policy {
    /// Compiles the configuration's rules: each `match` regex once, each class name checked.
    pub fn from_config(config: &Config) -> Result<Policy, PolicyError> {
        Self::from_rules(&config.rules)
    }

    pub fn from_rules(rules: &[Rule]) -> Result<Policy, PolicyError> {
        let rules = rules
            .iter()
            .enumerate()
            .map(|(i, rule)| CompiledRule::new(i + 1, rule))
            .collect::<Result<_, _>>()?;
        Ok(Policy { rules })
    }

    /// Decides one statement or request: the first rule that matches the target, the class
    /// and the text (for HTTP, "METHOD /path"), else the default for the class.
    pub fn decide(&self, target: &str, class: Class, text: &str) -> Decision {
        match self.rules.iter().find(|r| r.matches(target, class, text)) {
            Some(rule) => Decision {
                action: rule.action,
                rule: Some(rule.description.clone()),
                reason: format!("rule {} matched", rule.index),
            },
            None => Decision {
                action: default_action(class),
                rule: None,
                reason: default_reason(class).to_string(),
            },
        }
    }

    /// Decides a classified SQL text statement by statement, each on its own text, and returns
    /// the most restrictive decision (the first of equals), so that a rule allowing one
    /// statement of a batch cannot carry another along with it.
    pub fn decide_sql(&self, target: &str, sql: &Classification) -> Decision {
        if sql.statements.is_empty() {
            return self.decide(target, sql.class, sql.text());
        }
        let mut worst: Option<Decision> = None;
        for statement in &sql.statements {
            let decision = self.decide(target, statement.class, &statement.text);
            if worst
                .as_ref()
                .is_none_or(|w| strictness(decision.action) > strictness(w.action))
            {
                worst = Some(decision);
            }
        }
        worst.unwrap_or_else(|| self.decide(target, sql.class, sql.text()))
    }
}

impl CompiledRule {
    fn new(index: usize, rule: &Rule) -> Result<CompiledRule, PolicyError> {
        let error = |message: String| PolicyError { index, message };
        let classes = rule
            .class
            .iter()
            .map(|name| name.parse::<Class>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| error(format!("key `class`: {e}")))?;
        let pattern = rule
            .pattern
            .as_deref()
            .map(Regex::new)
            .transpose()
            .map_err(|e| {
                error(format!(
                    "key `match`: not a valid regex: {}",
                    regex_error(&e)
                ))
            })?;
        let description = describe(index, rule, &classes);
        Ok(CompiledRule {
            index,
            target: rule.target.clone(),
            classes,
            pattern,
            action: rule.action,
            description,
        })
    }

    fn matches(&self, target: &str, class: Class, text: &str) -> bool {
        // A rule that would let a dangerous statement through must say so by naming the class.
        if class == Class::Dangerous
            && self.action != Action::Deny
            && !self.classes.contains(&Class::Dangerous)
        {
            return false;
        }
        self.target.as_deref().is_none_or(|t| t == target)
            && (self.classes.is_empty() || self.classes.contains(&class))
            && self.pattern.as_ref().is_none_or(|p| p.is_match(text))
    }
}

/// "rule 2: class write on shop matching `(?i)customers`".
fn describe(index: usize, rule: &Rule, classes: &[Class]) -> String {
    let mut out = format!("rule {index}: ");
    if classes.is_empty() {
        out.push_str("any class");
    } else {
        let names: Vec<&str> = classes.iter().map(|c| c.name()).collect();
        out.push_str(&format!("class {}", names.join(", ")));
    }
    if let Some(target) = &rule.target {
        out.push_str(&format!(" on {target}"));
    }
    if let Some(pattern) = &rule.pattern {
        out.push_str(&format!(" matching `{pattern}`"));
    }
    out
}

/// The regex crate's error is several lines with a caret; keep the line that says what is wrong.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .unwrap_or(text.lines().next().unwrap_or_default())
        .to_string()
}

/// The SPEC defaults: reads are allowed, dangerous is denied, everything else asks a human.
pub fn default_action(class: Class) -> Action {
    match class {
        Class::Read => Action::Allow,
        Class::Dangerous => Action::Deny,
        Class::Write | Class::Ddl | Class::Admin | Class::Unknown => Action::Ask,
    }
}

fn default_reason(class: Class) -> &'static str {
    match class {
        Class::Read => "reads are allowed by default",
        Class::Write => "writes are held for a human by default",
        Class::Ddl => "DDL is held for a human by default",
        Class::Admin => "administration is held for a human by default",
        Class::Unknown => "what guard cannot understand is held for a human by default",
        Class::Dangerous => "dangerous statements are denied by default",
    }
}

/// How restrictive an action is: deny > ask > allow.
pub fn strictness(action: Action) -> u8 {
    match action {
        Action::Allow => 0,
        Action::Ask => 1,
        Action::Deny => 2,
    }
}

/// The lowercase name of an action, as the configuration and the transcript spell it.
pub fn action_name(action: Action) -> &'static str {
    match action {
        Action::Allow => "allow",
        Action::Ask => "ask",
        Action::Deny => "deny",
    }
}

#[cfg(test)]
mod tests;

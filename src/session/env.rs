//! The child's environment: guard's own, minus every variable that holds a credential (SPEC,
//! Environment), minus the human's terminal multiplexer (an agent that reaches tmux could read
//! the screen or type its own approvals), plus what guard sets. Names are listed, never values.

use std::ffi::{OsStr, OsString};

use crate::config::EnvRules;
use crate::mask::glob;

/// Model credentials the agent itself needs; `guard -- claude` must work as before.
const AGENT_KEYS: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
];

/// Globs (ASCII case-insensitive, `*` any run) of names that hold credentials or reach the multiplexer.
const REMOVED: &[&str] = &[
    "GUARD_BROKER_TOKEN",
    "VAULT_TOKEN",
    "BAO_TOKEN",
    "*_TOKEN",
    "*_SECRET*",
    "*_PASSWORD",
    "*_API_KEY",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PGPASSWORD",
    "SSH_AUTH_SOCK",
    "TMUX",
    "TMUX_PANE",
    "STY",
    "ZELLIJ*",
];

/// The environment split into what the child gets and the names taken out.
pub struct ChildEnv {
    pub vars: Vec<(OsString, OsString)>,
    pub removed: Vec<String>,
}

impl ChildEnv {
    /// Takes `name` out of the child's environment (a variable that holds a target's static
    /// credential, whatever its name), listing it as removed.
    pub fn remove(&mut self, name: &str) {
        let before = self.vars.len();
        self.vars.retain(|(k, _)| k != name);
        if self.vars.len() != before && !self.removed.iter().any(|r| r == name) {
            self.removed.push(name.to_string());
            self.removed.sort();
        }
    }

    pub fn set(&mut self, name: &str, value: impl Into<OsString>) {
        self.vars.retain(|(k, _)| k != name);
        self.vars.push((name.into(), value.into()));
    }
}

/// Filters `vars` (guard's own environment) by the built-in list and `[env]` rules.
pub fn scrub(vars: impl IntoIterator<Item = (OsString, OsString)>, rules: &EnvRules) -> ChildEnv {
    let mut env = ChildEnv {
        vars: Vec::new(),
        removed: Vec::new(),
    };
    for (name, value) in vars {
        let text = name.to_string_lossy();
        if must_remove(&text, &value, rules) {
            env.removed.push(text.into_owned());
        } else {
            env.vars.push((name, value));
        }
    }
    env.removed.sort();
    env
}

fn must_remove(name: &str, value: &OsStr, rules: &EnvRules) -> bool {
    let upper = name.to_ascii_uppercase();
    if rules.drop.iter().any(|g| glob(g, name)) {
        return true;
    }
    let kept = AGENT_KEYS.contains(&upper.as_str()) || rules.keep.iter().any(|k| k == name);
    if kept {
        return false;
    }
    REMOVED.iter().any(|g| glob(g, name))
        || (upper.ends_with("_URL") && url_has_password(&value.to_string_lossy()))
}

/// `scheme://user:password@host...`: the userinfo carries a password.
fn url_has_password(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => userinfo.contains(':'),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)], rules: &EnvRules) -> (Vec<String>, Vec<String>) {
        let vars = pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let env = scrub(vars, rules);
        let kept = env
            .vars
            .iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        (kept, env.removed)
    }

    #[test]
    fn credentials_and_multiplexers_are_removed() {
        let (kept, removed) = names(
            &[
                ("PATH", "/bin"),
                ("GITHUB_TOKEN", "x"),
                ("github_token", "x"),
                ("DB_PASSWORD", "x"),
                ("MY_SECRET_THING", "x"),
                ("STRIPE_API_KEY", "x"),
                ("PGPASSWORD", "x"),
                ("SSH_AUTH_SOCK", "/tmp/s"),
                ("TMUX", "/tmp/tmux"),
                ("STY", "1.pts"),
                ("ZELLIJ_SESSION_NAME", "z"),
                ("DATABASE_URL", "postgres://app:pw@db/shop"),
                ("DOCS_URL", "https://example.com/a@b"),
                ("ANTHROPIC_API_KEY", "sk"),
                ("VAULT_TOKEN", "s.x"),
            ],
            &EnvRules::default(),
        );
        assert_eq!(kept, ["PATH", "DOCS_URL", "ANTHROPIC_API_KEY"]);
        assert_eq!(removed.len(), 12);
        assert!(removed.contains(&"DATABASE_URL".to_string()));
    }

    #[test]
    fn keep_and_drop_rules_apply() {
        let rules = EnvRules {
            keep: vec!["MY_AGENT_TOKEN".into()],
            drop: vec!["INTERNAL_*".into()],
        };
        let (kept, removed) = names(
            &[
                ("MY_AGENT_TOKEN", "x"),
                ("INTERNAL_HOST", "h"),
                ("HOME", "/root"),
            ],
            &rules,
        );
        assert_eq!(kept, ["MY_AGENT_TOKEN", "HOME"]);
        assert_eq!(removed, ["INTERNAL_HOST"]);
    }

    #[test]
    fn a_named_credential_variable_is_removed_and_listed() {
        let vars = [("SHOP_PW", "x"), ("HOME", "/root")]
            .map(|(k, v)| (OsString::from(k), OsString::from(v)));
        let mut env = scrub(vars, &EnvRules::default());
        env.remove("SHOP_PW");
        env.remove("NOT_SET");
        assert_eq!(env.removed, ["SHOP_PW"]);
        assert_eq!(env.vars.len(), 1);
    }

    #[test]
    fn globs_match_like_a_shell() {
        assert!(glob("*_TOKEN", "GITHUB_TOKEN"));
        assert!(!glob("*_TOKEN", "TOKEN"));
        assert!(glob("*_SECRET*", "A_SECRET_B"));
        assert!(glob("ZELLIJ*", "ZELLIJ"));
        assert!(!glob("ZELLIJ*", "XZELLIJ"));
    }
}

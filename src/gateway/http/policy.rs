//! How the HTTP gateway asks the policy about a request: its class by method and the decision
//! on "METHOD /path" (SPEC, Classes and default policy), as the verdict the proxy acts on.

use crate::config::Action;
use crate::policy::{Policy, action_name, http};

/// The policy's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `read`, `write` or `unknown`.
    pub class: String,
    pub action: Action,
    /// The rule that decided, as a reviewer reads it in the transcript and the approval overlay.
    pub rule: String,
}

/// Decides a request; `path` is the request path without its query.
pub fn decide(policy: &Policy, target: &str, method: &str, path: &str) -> Verdict {
    let class = http::classify(method);
    let decision = policy.decide(target, class, &http::rule_text(method, path));
    let rule = decision
        .rule
        .unwrap_or_else(|| format!("default: {} {}", class.name(), action_name(decision.action)));
    Verdict {
        class: class.name().to_string(),
        action: decision.action,
        rule,
    }
}

/// The class name of a method, for requests guard refuses before asking the policy.
pub fn class_name(method: &str) -> &'static str {
    http::classify(method).name()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_rules_reads_pass_and_writes_ask() {
        let policy = Policy::default();
        assert_eq!(decide(&policy, "shop", "GET", "/x").action, Action::Allow);
        let post = decide(&policy, "shop", "POST", "/x");
        assert_eq!((post.class.as_str(), post.action), ("write", Action::Ask));
        assert_eq!(post.rule, "default: write ask");
        assert_eq!(decide(&policy, "shop", "PROPFIND", "/x").class, "unknown");
    }
}

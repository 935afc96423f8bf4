//! What an HTTP request is (its class, from the method) and what guard does with it (allow, ask,
//! deny). The real rule engine lives elsewhere; this module defines the seam it plugs into and a
//! default that follows the SPEC's default policy, so HTTP targets work end to end without it.

use crate::config::Action;

/// The class of an HTTP request, by method (SPEC, Classes and default policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Read,
    Write,
    Unknown,
}

impl Class {
    pub fn as_str(self) -> &'static str {
        match self {
            Class::Read => "read",
            Class::Write => "write",
            Class::Unknown => "unknown",
        }
    }
}

/// GET, HEAD and OPTIONS are safe methods (RFC 9110 §9.2.1); POST, PUT, PATCH and DELETE change
/// state. Anything else (TRACE, PROPFIND, a made-up method) is a method guard does not understand.
pub fn classify(method: &str) -> Class {
    match method {
        "GET" | "HEAD" | "OPTIONS" => Class::Read,
        "POST" | "PUT" | "PATCH" | "DELETE" => Class::Write,
        _ => Class::Unknown,
    }
}

/// A policy's answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `read`, `write`, `unknown`, or any class the rule engine knows (e.g. `dangerous`).
    pub class: String,
    pub action: Action,
    /// The rule that decided, as a reviewer reads it in the transcript and the approval overlay.
    pub rule: String,
}

/// Decides HTTP requests. `path` is the request path without its query.
pub trait HttpPolicy: Send + Sync {
    fn decide(&self, target: &str, method: &str, path: &str) -> Verdict;
}

/// The SPEC's defaults: reads are allowed; writes and unknown methods ask. No HTTP method is
/// `dangerous` by default.
pub struct DefaultPolicy;

impl HttpPolicy for DefaultPolicy {
    fn decide(&self, _target: &str, method: &str, _path: &str) -> Verdict {
        let class = classify(method);
        let action = match class {
            Class::Read => Action::Allow,
            Class::Write | Class::Unknown => Action::Ask,
        };
        let verb = match action {
            Action::Allow => "allow",
            Action::Ask => "ask",
            Action::Deny => "deny",
        };
        Verdict {
            class: class.as_str().to_string(),
            action,
            rule: format!("default: {} {verb}", class.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_classify_as_the_spec_says() {
        for m in ["GET", "HEAD", "OPTIONS"] {
            assert_eq!(classify(m), Class::Read, "{m}");
        }
        for m in ["POST", "PUT", "PATCH", "DELETE"] {
            assert_eq!(classify(m), Class::Write, "{m}");
        }
        for m in ["TRACE", "PROPFIND", "get", "BREW"] {
            assert_eq!(classify(m), Class::Unknown, "{m}");
        }
    }

    #[test]
    fn the_default_allows_reads_and_asks_for_the_rest() {
        let p = DefaultPolicy;
        assert_eq!(p.decide("shop", "GET", "/").action, Action::Allow);
        let post = p.decide("shop", "POST", "/customers");
        assert_eq!(post.action, Action::Ask);
        assert_eq!(post.class, "write");
        assert_eq!(post.rule, "default: write ask");
        assert_eq!(p.decide("shop", "BREW", "/pot").action, Action::Ask);
    }
}

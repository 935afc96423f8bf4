//! Fuzzes guard.toml: parsing and validation never panic, an error names a line of the file,
//! and a configuration that validates keeps every promise the rest of guard relies on: target
//! names and variables are valid and unique, listeners are loopback, rules name defined
//! targets, the masker builds; and its policy, when it compiles, never lets a dangerous
//! statement through unless a rule names the class `dangerous`.
//!
//!     cargo +nightly fuzz run config

#![no_main]

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use guard_fuzz::config::{self, Action, Config, Credentials, TargetKind};
use guard_fuzz::mask::{Kind, Masker};
use guard_fuzz::policy::{Class, Policy};
use guard_fuzz::record::sha256_hex;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match config::parse(text, Path::new("guard.toml")) {
        Err(e) => {
            let lines = text.matches('\n').count() + 1;
            assert!(e.line.is_none_or(|l| (1..=lines).contains(&l)), "{e}");
            assert!(!e.message.is_empty());
        }
        Ok(config) => {
            check_config(text, &config);
            check_masker(&config);
            if let Ok(policy) = Policy::from_config(&config) {
                check_policy(&config, &policy);
            }
        }
    }
});

fn check_config(text: &str, config: &Config) {
    assert_eq!(config.sha256, sha256_hex(text.as_bytes()));
    let mut names = HashSet::new();
    let mut envs = HashSet::new();
    for t in &config.targets {
        assert!(!t.name.is_empty());
        assert!(
            t.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'),
            "{:?}",
            t.name
        );
        assert!(names.insert(&t.name), "duplicate target {:?}", t.name);
        assert!(envs.insert(&t.env), "duplicate variable {:?}", t.env);
        let mut env = t.env.bytes();
        assert!(
            env.next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        );
        assert!(
            env.all(|b| b.is_ascii_alphanumeric() || b == b'_'),
            "{:?}",
            t.env
        );
        assert!(t.listen.ip().is_loopback(), "{}", t.listen);
        assert!(!t.upstream.trim().is_empty());
        if t.kind == TargetKind::Postgres {
            assert!(t.inject.is_none());
            assert!(!matches!(
                t.credentials,
                Some(Credentials::StaticValue { .. })
            ));
        }
    }
    for rule in &config.rules {
        if let Some(target) = &rule.target {
            assert!(names.contains(target), "rule names {target:?}");
        }
    }
}

/// A validated `[mask]` must build a masker, or the session would fail after validation said
/// yes. Building one compiles its detectors (a millisecond), so one is kept per detector set.
fn check_masker(config: &Config) {
    static BUILT: Mutex<Option<HashMap<Vec<Kind>, bool>>> = Mutex::new(None);
    let Ok(mut built) = BUILT.lock() else {
        return;
    };
    let built = built.get_or_insert_with(HashMap::new);
    if built.contains_key(&config.mask.detectors) || built.len() > 64 {
        return;
    }
    let ok = Masker::new(&config.mask).is_ok();
    assert!(ok, "a validated [mask] does not build: {:?}", config.mask);
    built.insert(config.mask.detectors.clone(), ok);
}

/// The safeguard of `policy`: only a rule that names `dangerous` can let it through.
fn check_policy(config: &Config, policy: &Policy) {
    let names_dangerous = config.rules.iter().any(|r| {
        r.action != Action::Deny && r.class.iter().any(|c| c.parse() == Ok(Class::Dangerous))
    });
    let mut targets: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    targets.push("shop");
    let mut texts = vec!["DROP TABLE customers", "DELETE /customers/7", ""];
    texts.extend(config.rules.iter().filter_map(|r| r.pattern.as_deref()));
    for target in targets {
        for text in &texts {
            for class in Class::ALL {
                let decision = policy.decide(target, class, text);
                if class == Class::Dangerous && decision.action != Action::Deny {
                    assert!(names_dangerous, "{target} {text:?}: {decision:?}");
                }
                if decision.rule.is_none() {
                    assert_eq!(decision.action, guard_fuzz::policy::default_action(class));
                }
            }
        }
    }
}

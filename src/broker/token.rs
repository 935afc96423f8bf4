//! The broker token: where it comes from, in order (the OS keyring `guard login` wrote, then
//! GUARD_BROKER_TOKEN, VAULT_TOKEN, BAO_TOKEN; SPEC, Environment), and whether it lives long
//! enough for a session (leases die with the token that made them).

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

use super::client::{Client, TokenInfo};
use super::keyring::Keyring;
use super::{BrokerError, Env};

/// The variables that may hold a token, in the order they are read after the keyring.
pub const TOKEN_VARS: [&str; 3] = ["GUARD_BROKER_TOKEN", "VAULT_TOKEN", "BAO_TOKEN"];

/// How long an agent session is likely to run; a token that ends sooner ends its leases sooner.
pub const LIKELY_SESSION: Duration = Duration::from_secs(4 * 3600);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The keyring, described (e.g. "the Secret Service keyring").
    Keyring(String),
    Env(&'static str),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Keyring(what) => write!(f, "{what}"),
            TokenSource::Env(name) => f.write_str(name),
        }
    }
}

pub struct Token {
    pub source: TokenSource,
    pub secret: SecretString,
}

/// The first token found: the keyring's, then each variable of `TOKEN_VARS`.
pub fn pick(keyring: Option<(String, SecretString)>, env: Env) -> Option<Token> {
    if let Some((what, secret)) = keyring {
        return Some(Token {
            source: TokenSource::Keyring(what),
            secret,
        });
    }
    TOKEN_VARS.iter().find_map(|name| {
        env(name).map(|value| Token {
            source: TokenSource::Env(name),
            secret: SecretString::from(value),
        })
    })
}

/// Finds the token for the broker at `address`. A keyring that cannot be read is passed over
/// (a headless machine has none; the variables come next); one that is misconfigured is not.
pub fn find(address: &str, env: Env) -> Result<Token, BrokerError> {
    let keyring = Keyring::from_env(env)?;
    let stored = keyring
        .get(address)
        .ok()
        .flatten()
        .map(|secret| (keyring.describe(), secret));
    pick(stored, env).ok_or_else(|| BrokerError::NoToken {
        address: address.to_string(),
    })
}

/// Checks the token with the broker; a refusal names where the token came from.
pub async fn check(client: &Client, source: &TokenSource) -> Result<TokenInfo, BrokerError> {
    client.lookup_self().await.map_err(|e| match e {
        BrokerError::PermissionDenied { .. } => BrokerError::TokenRefused {
            address: client.address().to_string(),
            from: source.to_string(),
        },
        other => other,
    })
}

/// A warning when the token ends before a session of `likely` length would.
pub fn expiry_warning(info: &TokenInfo, likely: Duration) -> Option<String> {
    let ttl = info.ttl?;
    if ttl >= likely {
        return None;
    }
    Some(format!(
        "the broker token expires in {}; the leases it makes end with it, so this session's \
         credentials stop working then",
        human(ttl)
    ))
}

/// `2h 5m`, `45m`, `30s`.
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 3600, s % 3600 / 60, s % 60) {
        (0, 0, sec) => format!("{sec}s"),
        (0, min, _) => format!("{min}m"),
        (h, 0, _) => format!("{h}h"),
        (h, min, _) => format!("{h}h {min}m"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn picked(keyring: Option<&str>, env: &[(&str, &str)]) -> Option<(TokenSource, String)> {
        let keyring = keyring.map(|t| ("the keyring".to_string(), SecretString::from(t)));
        pick(keyring, &env_of(env)).map(|t| (t.source, t.secret.expose_secret().to_string()))
    }

    #[test]
    fn the_keyring_comes_first() {
        let got = picked(
            Some("k"),
            &[("GUARD_BROKER_TOKEN", "g"), ("VAULT_TOKEN", "v")],
        );
        assert_eq!(
            got,
            Some((TokenSource::Keyring("the keyring".into()), "k".into()))
        );
    }

    #[test]
    fn then_guards_variable_then_vaults_then_openbaos() {
        let all = [
            ("BAO_TOKEN", "b"),
            ("VAULT_TOKEN", "v"),
            ("GUARD_BROKER_TOKEN", "g"),
        ];
        assert_eq!(picked(None, &all).unwrap().1, "g");
        assert_eq!(picked(None, &all[..2]).unwrap().1, "v");
        assert_eq!(
            picked(None, &all[..1]),
            Some((TokenSource::Env("BAO_TOKEN"), "b".into()))
        );
        assert_eq!(picked(None, &[]), None);
    }

    #[test]
    fn a_short_lived_token_is_worth_a_warning() {
        let info = |ttl: Option<u64>| TokenInfo {
            ttl: ttl.map(Duration::from_secs),
            renewable: true,
            policies: vec![],
            display_name: String::new(),
        };
        let likely = Duration::from_secs(3600);
        assert_eq!(expiry_warning(&info(None), likely), None);
        assert_eq!(expiry_warning(&info(Some(7200)), likely), None);
        let warning = expiry_warning(&info(Some(600)), likely).unwrap();
        assert!(warning.contains("expires in 10m"), "{warning}");
        assert!(warning.contains("leases"), "{warning}");
    }

    #[test]
    fn durations_read_like_a_person_wrote_them() {
        assert_eq!(human(Duration::from_secs(30)), "30s");
        assert_eq!(human(Duration::from_secs(2700)), "45m");
        assert_eq!(human(Duration::from_secs(7200)), "2h");
        assert_eq!(human(Duration::from_secs(7500)), "2h 5m");
    }
}

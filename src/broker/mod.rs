//! Credential sources: the real credential of each target, from OpenBao or Vault (leased,
//! renewed while the session runs, revoked when it ends) or from guard's own environment, behind
//! one `CredentialHandle` the gateways read; and the broker token, from the OS keyring or the
//! environment.
//!
//! Secrets live in `SecretString`s (zeroized on drop, never `Debug`-printed), are registered with
//! the transcript's redaction before anything is recorded, and every issue, renewal, revocation
//! and failure is a `credential` record without the secret (SPEC, Session files).

pub mod acquire;
pub mod client;
pub mod credential;
pub mod keeper;
pub mod keyring;
pub mod lease;
pub mod token;

pub use acquire::acquire;
pub use credential::{Credential, CredentialHandle, Expired, Lease};
pub use keeper::Leases;

use std::path::PathBuf;

use crate::config::{self, BrokerKind};

/// Where a credential came from, as the `credential` record names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Openbao,
    Vault,
    Static,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Openbao => "openbao",
            Source::Vault => "vault",
            Source::Static => "static",
        }
    }
}

impl From<BrokerKind> for Source {
    fn from(kind: BrokerKind) -> Self {
        match kind {
            BrokerKind::Openbao => Source::Openbao,
            BrokerKind::Vault => Source::Vault,
        }
    }
}

/// Reads one variable of guard's own environment; injected so tests need not touch the process's.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// guard's own environment, with empty values treated as unset (as the Vault CLI does).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// How to reach the broker: from `[broker]`, else `VAULT_ADDR` / `BAO_ADDR`, plus the namespace
/// and CA certificate the Vault and OpenBao CLIs read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    pub kind: BrokerKind,
    pub address: String,
    pub namespace: Option<String>,
    pub ca_cert: Option<PathBuf>,
}

impl Settings {
    /// `explicit` (e.g. `guard login --address`) wins over the configuration and the environment.
    /// `None` when no address is known at all.
    pub fn resolve(
        explicit: Option<&str>,
        config: Option<&config::Broker>,
        env: Env,
    ) -> Option<Settings> {
        let from_env = || {
            env("VAULT_ADDR")
                .map(|a| (BrokerKind::Vault, a))
                .or_else(|| env("BAO_ADDR").map(|a| (BrokerKind::Openbao, a)))
        };
        let (kind, address) = match (explicit, config) {
            (Some(address), config) => (
                config.map_or(BrokerKind::Openbao, |c| c.kind),
                address.to_string(),
            ),
            (None, Some(config)) => (config.kind, config.address.clone()),
            (None, None) => from_env()?,
        };
        // The product's own spelling first: BAO_* for OpenBao, VAULT_* for Vault.
        let pick = |suffix: &str| {
            let (first, second) = match kind {
                BrokerKind::Openbao => ("BAO_", "VAULT_"),
                BrokerKind::Vault => ("VAULT_", "BAO_"),
            };
            env(&format!("{first}{suffix}")).or_else(|| env(&format!("{second}{suffix}")))
        };
        Some(Settings {
            kind,
            address: normalize_address(&address),
            namespace: pick("NAMESPACE"),
            ca_cert: pick("CACERT").map(PathBuf::from),
        })
    }
}

/// The variables of guard's environment that hold targets' static credentials: never the child's.
pub fn credential_vars(config: &config::Config) -> impl Iterator<Item = &str> {
    config.targets.iter().filter_map(|t| match &t.credentials {
        Some(config::Credentials::StaticPassword { password_env, .. }) => {
            Some(password_env.as_str())
        }
        Some(config::Credentials::StaticValue { value_env }) => Some(value_env.as_str()),
        _ => None,
    })
}

/// A target's credential source for `session_start`: where it comes from, never what it is.
pub fn describe(
    credentials: Option<&config::Credentials>,
    broker: Option<&config::Broker>,
) -> serde_json::Value {
    use serde_json::json;
    match credentials {
        None => serde_json::Value::Null,
        Some(config::Credentials::Broker { path, field }) => {
            let source = broker.map_or("broker", |b| Source::from(b.kind).as_str());
            json!({"source": source, "path": path, "field": field})
        }
        Some(config::Credentials::StaticPassword {
            username,
            password_env,
        }) => {
            json!({"source": "static", "username": username, "env": password_env})
        }
        Some(config::Credentials::StaticValue { value_env }) => {
            json!({"source": "static", "env": value_env})
        }
    }
}

/// One spelling per broker, so the keyring entry `guard login` writes is the one a session reads.
pub fn normalize_address(address: &str) -> String {
    address.trim().trim_end_matches('/').to_string()
}

/// Why guard could not get a credential or talk to the broker.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error(
        "no broker address: the configuration has no [broker] and VAULT_ADDR and BAO_ADDR are unset"
    )]
    NoAddress,
    #[error("cannot reach the broker at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    #[error(
        "no broker token: none stored by `guard login` for {address}, and GUARD_BROKER_TOKEN, VAULT_TOKEN and BAO_TOKEN are unset"
    )]
    NoToken { address: String },
    #[error("the broker at {address} refused the token from {from} (invalid, expired or revoked)")]
    TokenRefused { address: String, from: String },
    #[error("permission denied on `{path}`")]
    PermissionDenied { path: String },
    #[error("nothing at `{path}`: {message}")]
    NotFound { path: String, message: String },
    #[error("the broker answered HTTP {status} for `{path}`: {message}")]
    Status {
        path: String,
        status: u16,
        message: String,
    },
    #[error("the broker's answer for `{path}` is not what guard expected: {reason}")]
    BadResponse { path: String, reason: String },
    #[error("cannot read the CA certificate {file}: {reason}")]
    CaCert { file: String, reason: String },
    #[error("{0} is not set in guard's environment")]
    EnvUnset(String),
    #[error("{0}")]
    Keyring(#[from] keyring::KeyringError),
    #[error("cannot set up the broker client: {0}")]
    Client(String),
}

impl BrokerError {
    /// What the user can do about it, for the `hint:` line.
    pub fn hint(&self) -> String {
        match self {
            BrokerError::NoAddress => {
                "add [broker] kind and address to the configuration, or set VAULT_ADDR".into()
            }
            BrokerError::Unreachable { .. } => {
                "check [broker] address (or VAULT_ADDR) and that the broker is running; `guard doctor` checks it".into()
            }
            BrokerError::NoToken { .. } => {
                "run `guard login`, or set GUARD_BROKER_TOKEN for non-interactive use".into()
            }
            BrokerError::TokenRefused { from, .. } => format!(
                "get a fresh token and run `guard login` (or fix {from}); `guard doctor` shows which token is used"
            ),
            BrokerError::PermissionDenied { path } => format!(
                "the token's policies do not allow `{path}`: ask for a policy that does, or fix the path in the configuration"
            ),
            BrokerError::NotFound { path, .. } => format!(
                "check the path `{path}`: the mount and role (or secret) must exist, e.g. `bao list {}`",
                roles_of(path)
            ),
            BrokerError::Status { .. } | BrokerError::BadResponse { .. } => {
                "check that [broker] address points at an OpenBao or Vault server".into()
            }
            BrokerError::CaCert { .. } => {
                "point VAULT_CACERT (or BAO_CACERT) at a readable PEM file".into()
            }
            BrokerError::EnvUnset(name) => format!(
                "export {name} in the shell that runs guard (guard never passes it to the command)"
            ),
            BrokerError::Keyring(e) => e.hint(),
            BrokerError::Client(_) => {
                "check the broker token and namespace for stray characters (a newline?)".into()
            }
        }
    }
}

/// `database/creds/ro` -> `database/roles`: where to list what exists.
fn roles_of(path: &str) -> String {
    match path
        .split_once("/creds/")
        .or_else(|| path.split_once("/static-creds/"))
    {
        Some((mount, _)) if path.contains("/static-creds/") => format!("{mount}/static-roles"),
        Some((mount, _)) => format!("{mount}/roles"),
        None => path
            .rsplit_once('/')
            .map_or(path, |(dir, _)| dir)
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_configuration_wins_over_the_environment() {
        let env = env_of(&[("VAULT_ADDR", "http://env:8200"), ("BAO_NAMESPACE", "team")]);
        let broker = config::Broker {
            kind: BrokerKind::Openbao,
            address: "http://conf:8200/".into(),
        };
        let s = Settings::resolve(None, Some(&broker), &env).unwrap();
        assert_eq!(s.address, "http://conf:8200");
        assert_eq!(s.namespace.as_deref(), Some("team"));
        let s = Settings::resolve(Some("http://flag:1"), Some(&broker), &env).unwrap();
        assert_eq!(s.address, "http://flag:1");
        let s = Settings::resolve(None, None, &env).unwrap();
        assert_eq!(
            (s.kind, s.address.as_str()),
            (BrokerKind::Vault, "http://env:8200")
        );
        assert!(Settings::resolve(None, None, &env_of(&[])).is_none());
    }

    #[test]
    fn each_product_reads_its_own_variables_first() {
        let env = env_of(&[("VAULT_CACERT", "/v.pem"), ("BAO_CACERT", "/b.pem")]);
        let bao = config::Broker {
            kind: BrokerKind::Openbao,
            address: "http://x".into(),
        };
        let vault = config::Broker {
            kind: BrokerKind::Vault,
            ..bao.clone()
        };
        let ca = |b| Settings::resolve(None, Some(b), &env).unwrap().ca_cert;
        assert_eq!(ca(&bao), Some(PathBuf::from("/b.pem")));
        assert_eq!(ca(&vault), Some(PathBuf::from("/v.pem")));
    }

    #[test]
    fn hints_name_where_to_look() {
        let e = BrokerError::NotFound {
            path: "database/creds/ro".into(),
            message: "unknown role".into(),
        };
        assert!(e.hint().contains("bao list database/roles"), "{}", e.hint());
        assert_eq!(roles_of("db/static-creds/app"), "db/static-roles");
        assert_eq!(roles_of("secret/data/x"), "secret/data");
    }
}

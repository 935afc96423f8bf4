//! The credential of one target and the handle the gateways hold: a cheap clone that always
//! answers with the newest valid credential, whether it was leased, renewed and replaced by the
//! broker or read once from guard's environment.

use std::fmt;
use std::sync::{Arc, RwLock};

use secrecy::SecretString;

use super::Source;

/// A username and a password, or (for an HTTP target) a bare value in `password` with an empty
/// username. `Debug` never shows the secret.
#[derive(Clone)]
pub struct Credential {
    pub username: String,
    pub password: SecretString,
}

impl Credential {
    pub fn new(username: &str, password: SecretString) -> Self {
        Credential {
            username: username.to_string(),
            password,
        }
    }

    /// A value with no username: a token for an HTTP target.
    pub fn value(value: SecretString) -> Self {
        Credential {
            username: String::new(),
            password: value,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

/// One target's credential as the rest of guard sees it.
#[derive(Clone)]
pub struct CredentialHandle {
    slot: Arc<Slot>,
}

struct Slot {
    target: String,
    source: Source,
    current: RwLock<Credential>,
}

impl CredentialHandle {
    pub fn new(target: &str, source: Source, credential: Credential) -> Self {
        CredentialHandle {
            slot: Arc::new(Slot {
                target: target.to_string(),
                source,
                current: RwLock::new(credential),
            }),
        }
    }

    /// The newest credential; a new upstream connection should ask again rather than keep one.
    pub fn current(&self) -> Credential {
        // A panic while replacing leaves the previous credential whole: use it.
        self.slot
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts newly issued credentials in place; connections opened after this use them.
    pub(super) fn replace(&self, credential: Credential) {
        *self.slot.current.write().unwrap_or_else(|e| e.into_inner()) = credential;
    }
}

impl fmt::Debug for CredentialHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialHandle")
            .field("target", &self.slot.target)
            .field("source", &self.slot.source)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credential::new("app", SecretString::from("hunter2-pw"));
        let handle = CredentialHandle::new("shop", Source::Static, c.clone());
        let shown = format!("{c:?} {handle:?} {:?}", handle.current());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("app"), "{shown}");
    }

    #[test]
    fn clones_see_the_replacement() {
        let h = CredentialHandle::new("shop", Source::Vault, Credential::new("a", "one".into()));
        let seen_by_gateway = h.clone();
        h.replace(Credential::new("b", "two".into()));
        let now = seen_by_gateway.current();
        assert_eq!(
            (now.username.as_str(), now.password.expose_secret()),
            ("b", "two")
        );
    }
}

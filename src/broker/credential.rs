//! The credential of one target and the handle the gateways hold: a cheap clone that always
//! answers with the newest valid credential, whether it was leased, renewed and replaced by the
//! broker or read once from guard's environment.
//!
//! A leased credential is good until its lease ends, and so is every upstream connection that
//! logged in with it: the broker would revoke it then, and when the broker cannot be reached (so
//! that neither a renewal nor a revocation happens) guard is the one left to end it. The handle
//! knows when each lease ends and why it could not be renewed, so a new connection after the end
//! is refused with that reason and a connection made under a lease ends with it.

use std::fmt;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use secrecy::SecretString;
use tokio::sync::watch;

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
    state: RwLock<State>,
    /// Told whenever a lease's end moves, so connections waiting on one look again.
    changed: watch::Sender<()>,
}

struct State {
    current: Credential,
    /// Counts replacements: which credential a connection logged in with.
    generation: u64,
    /// When the current credential's lease ends; `None` for one without a lease.
    ends: Option<Instant>,
    /// Why the lease could not be renewed or replaced, until it is.
    trouble: Option<String>,
    /// Replaced credentials whose leases have not ended yet, with when they end.
    replaced: Vec<(u64, Instant)>,
}

/// Which credential an upstream connection logged in with, to end it when its lease does.
#[derive(Clone)]
pub struct Lease {
    handle: CredentialHandle,
    generation: u64,
}

/// The current credential's lease has ended, and it could not be renewed or replaced.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the credentials could not be renewed and their lease has ended{}", .trouble.as_ref().map(|why| format!(": {why}")).unwrap_or_default())]
pub struct Expired {
    /// What the broker (or reaching it) last failed with.
    pub trouble: Option<String>,
}

impl CredentialHandle {
    pub fn new(target: &str, source: Source, credential: Credential) -> Self {
        CredentialHandle {
            slot: Arc::new(Slot {
                target: target.to_string(),
                source,
                state: RwLock::new(State {
                    current: credential,
                    generation: 0,
                    ends: None,
                    trouble: None,
                    replaced: Vec::new(),
                }),
                changed: watch::channel(()).0,
            }),
        }
    }

    /// The newest credential; a new upstream connection should ask again rather than keep one.
    pub fn current(&self) -> Credential {
        self.read().current.clone()
    }

    /// The newest credential for a new upstream connection, with the lease it runs under; an
    /// error once that lease has ended (fail closed: the broker could not extend it).
    pub fn checkout(&self) -> Result<(Credential, Lease), Expired> {
        let state = self.read();
        if state.ends.is_some_and(|end| end <= Instant::now()) {
            return Err(Expired {
                trouble: state.trouble.clone(),
            });
        }
        let lease = Lease {
            handle: self.clone(),
            generation: state.generation,
        };
        Ok((state.current.clone(), lease))
    }

    /// The current credential's lease now ends at `ends` (issued or renewed).
    pub(super) fn lease_ends(&self, ends: Instant) {
        let mut state = self.write();
        state.ends = Some(ends);
        state.trouble = None;
        drop(state);
        self.slot.changed.send_replace(());
    }

    /// The broker could not renew or replace the credential; it still ends when its lease does.
    pub(super) fn trouble(&self, why: &str) {
        self.write().trouble = Some(why.to_string());
    }

    /// Puts newly issued credentials in place; connections opened after this use them, and the
    /// ones opened before end with the old lease.
    pub(super) fn replace(&self, credential: Credential, ends: Option<Instant>) {
        let mut state = self.write();
        let now = Instant::now();
        if let Some(old_end) = state.ends {
            let generation = state.generation;
            state.replaced.push((generation, old_end));
        }
        state.replaced.retain(|(_, end)| *end > now);
        state.current = credential;
        state.generation += 1;
        state.ends = ends;
        state.trouble = None;
        drop(state);
        self.slot.changed.send_replace(());
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // A panic while replacing leaves the previous state whole: use it.
        self.slot.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.slot.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Lease {
    /// When this connection's lease ends, as far as guard knows now; `None`: it has no end.
    fn ends(&self) -> Option<Instant> {
        let state = self.handle.read();
        if state.generation == self.generation {
            return state.ends;
        }
        // A replaced lease that is no longer listed has ended.
        let listed = state.replaced.iter().find(|(g, _)| *g == self.generation);
        Some(listed.map_or_else(Instant::now, |(_, end)| *end))
    }

    /// Resolves once the lease has ended; renewals that move its end are followed.
    pub async fn ended(&self) {
        let mut changed = self.handle.slot.changed.subscribe();
        loop {
            changed.mark_unchanged();
            match self.ends() {
                Some(end) if end <= Instant::now() => return,
                Some(end) => tokio::select! {
                    _ = tokio::time::sleep_until(end.into()) => {}
                    _ = changed.changed() => {}
                },
                None => {
                    // The sender lives as long as the handle this lease holds.
                    let _ = changed.changed().await;
                }
            }
        }
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
    use std::time::Duration;

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
        h.replace(Credential::new("b", "two".into()), None);
        let now = seen_by_gateway.current();
        assert_eq!(
            (now.username.as_str(), now.password.expose_secret()),
            ("b", "two")
        );
    }

    #[tokio::test]
    async fn a_connection_ends_with_the_lease_it_logged_in_with() {
        let ms = Duration::from_millis;
        let h = CredentialHandle::new("shop", Source::Vault, Credential::new("a", "one".into()));
        let t0 = Instant::now();
        h.lease_ends(t0 + ms(90));
        let (_, first) = h.checkout().unwrap();
        // Renewed before it ends: the connection lives on.
        h.lease_ends(t0 + ms(150));
        tokio::time::sleep(ms(100)).await;
        assert!(first.ends() > Some(Instant::now()));
        // Replaced: new connections use the new credential, the old one ends with its lease.
        h.replace(Credential::new("b", "two".into()), Some(t0 + ms(400)));
        let (now, second) = h.checkout().unwrap();
        assert_eq!(now.username, "b");
        first.ended().await;
        assert!(Instant::now() >= t0 + ms(150));
        // The broker is gone: past the end, nothing is handed out, and the reason is kept.
        h.trouble("cannot reach the broker");
        second.ended().await;
        let expired = h.checkout().err().unwrap();
        assert_eq!(expired.trouble.as_deref(), Some("cannot reach the broker"));
    }

    #[test]
    fn a_credential_without_a_lease_never_ends() {
        let h = CredentialHandle::new("shop", Source::Static, Credential::new("a", "one".into()));
        let (_, lease) = h.checkout().unwrap();
        assert_eq!(lease.ends(), None);
    }
}

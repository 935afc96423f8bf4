//! Where `guard login` keeps the broker token, one entry per broker address: the OS keyring by
//! default (macOS Keychain, Windows Credential Manager, on Linux the Secret Service and then the
//! kernel's keyutils, which does not survive a reboot), a private file under GUARD_HOME with
//! `GUARD_KEYRING=file`, or nothing with `GUARD_KEYRING=none` (NOTES 1.4).
//!
//! Stores are chosen explicitly; when none works guard says so. It never falls back to an
//! in-memory store, which would "store" a token and forget it at exit.

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::Arc;

use keyring_core::{CredentialStore, Entry};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroize;

use super::Env;

/// The keyring service name; the user part of an entry is the broker address.
const SERVICE: &str = "guard";
const FILE_NAME: &str = "broker-tokens.json";

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("GUARD_KEYRING=`{0}` is not one of os, file or none")]
    BadSetting(String),
    #[error("the keyring is disabled (GUARD_KEYRING=none)")]
    Disabled,
    #[error("no OS keyring can hold the token here: {0}")]
    Unavailable(String),
    #[error("cannot use the token file {path}: {reason}")]
    File { path: String, reason: String },
}

impl KeyringError {
    pub fn hint(&self) -> String {
        match self {
            KeyringError::BadSetting(_) => "set GUARD_KEYRING to os, file or none".into(),
            KeyringError::Disabled => "unset GUARD_KEYRING (or set it to os or file), or give the token in GUARD_BROKER_TOKEN".into(),
            KeyringError::Unavailable(_) => "set GUARD_KEYRING=file to keep the token in a private file under GUARD_HOME, or give it in GUARD_BROKER_TOKEN".into(),
            KeyringError::File { .. } => "check GUARD_HOME and the permissions of the folder".into(),
        }
    }
}

/// Where a token was stored, for the user.
pub struct Stored {
    pub place: String,
    /// False for a store that forgets at reboot or logout.
    pub persistent: bool,
}

pub struct Keyring {
    kind: Kind,
}

enum Kind {
    /// The OS stores to try, in order; `why_not` says why better ones are missing.
    Os {
        stores: Vec<OsStore>,
        why_not: Vec<String>,
    },
    File(PathBuf),
    Disabled,
}

struct OsStore {
    place: &'static str,
    persistent: bool,
    store: Arc<CredentialStore>,
}

impl Keyring {
    /// The keyring `GUARD_KEYRING` selects: `os` (the default), `file` or `none`.
    pub fn from_env(env: Env) -> Result<Keyring, KeyringError> {
        let kind = match env("GUARD_KEYRING").as_deref() {
            None | Some("os") => os_stores(),
            Some("file") => Kind::File(token_file()?),
            Some("none") => Kind::Disabled,
            Some(other) => return Err(KeyringError::BadSetting(other.to_string())),
        };
        Ok(Keyring { kind })
    }

    /// `GUARD_KEYRING=none`: nothing can be stored.
    pub fn disabled(&self) -> bool {
        matches!(self.kind, Kind::Disabled)
    }

    /// Which keyring this is, for messages.
    pub fn describe(&self) -> String {
        match &self.kind {
            Kind::Os { stores, .. } => match stores.first() {
                Some(first) => format!("the {}", first.place),
                None => "no OS keyring".into(),
            },
            Kind::File(path) => format!("the token file {}", path.display()),
            Kind::Disabled => "no keyring (GUARD_KEYRING=none)".into(),
        }
    }

    /// The token stored for `address`, if any.
    pub fn get(&self, address: &str) -> Result<Option<SecretString>, KeyringError> {
        match &self.kind {
            Kind::Os { stores, why_not } => {
                let mut errors = why_not.clone();
                let mut answered = false;
                for s in stores {
                    match entry(s, address).and_then(|e| e.get_password()) {
                        Ok(token) => return Ok(Some(SecretString::from(token))),
                        Err(keyring_core::Error::NoEntry) => answered = true,
                        Err(e) => errors.push(format!("{}: {e}", s.place)),
                    }
                }
                // Nothing stored is an answer; no store that could be asked is an error.
                if answered {
                    Ok(None)
                } else {
                    Err(KeyringError::Unavailable(errors.join("; ")))
                }
            }
            Kind::File(path) => Ok(read_file(path)?.remove(address).map(SecretString::from)),
            Kind::Disabled => Ok(None),
        }
    }

    /// Stores `token` for `address` in the first store that takes it.
    pub fn set(&self, address: &str, token: &SecretString) -> Result<Stored, KeyringError> {
        match &self.kind {
            Kind::Os { stores, why_not } => {
                let mut errors = why_not.clone();
                for s in stores {
                    match entry(s, address).and_then(|e| e.set_password(token.expose_secret())) {
                        Ok(()) => {
                            return Ok(Stored {
                                place: format!("the {}", s.place),
                                persistent: s.persistent,
                            });
                        }
                        Err(e) => errors.push(format!("{}: {e}", s.place)),
                    }
                }
                Err(KeyringError::Unavailable(errors.join("; ")))
            }
            Kind::File(path) => {
                let mut tokens = read_file(path)?;
                tokens.insert(address.to_string(), token.expose_secret().to_string());
                let written = write_file(path, &tokens);
                tokens.values_mut().for_each(Zeroize::zeroize);
                written.map(|()| Stored {
                    place: format!(
                        "the token file {} (mode 0600, not encrypted)",
                        path.display()
                    ),
                    persistent: true,
                })
            }
            Kind::Disabled => Err(KeyringError::Disabled),
        }
    }

    /// Removes the token stored for `address`; `false` when there was none.
    pub fn delete(&self, address: &str) -> Result<bool, KeyringError> {
        match &self.kind {
            Kind::Os { stores, why_not } => {
                let mut errors = why_not.clone();
                let (mut removed, mut answered) = (false, false);
                // Every store: a token may sit in a lesser one from a login when the better
                // one was unavailable.
                for s in stores {
                    match entry(s, address).and_then(|e| e.delete_credential()) {
                        Ok(()) => removed = true,
                        Err(keyring_core::Error::NoEntry) => answered = true,
                        Err(e) => errors.push(format!("{}: {e}", s.place)),
                    }
                }
                if removed || answered {
                    Ok(removed)
                } else {
                    Err(KeyringError::Unavailable(errors.join("; ")))
                }
            }
            Kind::File(path) => {
                let mut tokens = read_file(path)?;
                let removed = tokens.remove(address).is_some_and(|mut t| {
                    t.zeroize();
                    true
                });
                let written = if removed {
                    write_file(path, &tokens)
                } else {
                    Ok(())
                };
                tokens.values_mut().for_each(Zeroize::zeroize);
                written.map(|()| removed)
            }
            Kind::Disabled => Err(KeyringError::Disabled),
        }
    }
}

fn entry(store: &OsStore, address: &str) -> keyring_core::Result<Entry> {
    Entry::new_in_store(&store.store, SERVICE, address)
}

#[cfg(target_os = "linux")]
fn os_stores() -> Kind {
    let mut stores = Vec::new();
    let mut why_not = Vec::new();
    match dbus_secret_service_keyring_store::Store::new() {
        Ok(store) => stores.push(OsStore {
            place: "Secret Service keyring",
            persistent: true,
            store,
        }),
        Err(e) => why_not.push(format!("Secret Service: {e}")),
    }
    // keyutils lives in kernel memory: it is lost at reboot, hence last.
    match linux_keyutils_keyring_store::Store::new() {
        Ok(store) => stores.push(OsStore {
            place: "kernel keyring (keyutils)",
            persistent: false,
            store,
        }),
        Err(e) => why_not.push(format!("keyutils: {e}")),
    }
    Kind::Os { stores, why_not }
}

#[cfg(target_os = "macos")]
fn os_stores() -> Kind {
    one_store(
        "macOS Keychain",
        apple_native_keyring_store::keychain::Store::new(),
    )
}

#[cfg(windows)]
fn os_stores() -> Kind {
    one_store(
        "Windows Credential Manager",
        windows_native_keyring_store::Store::new(),
    )
}

#[cfg(any(target_os = "macos", windows))]
fn one_store<S: keyring_core::api::CredentialStoreApi + Send + Sync + 'static>(
    place: &'static str,
    store: keyring_core::Result<Arc<S>>,
) -> Kind {
    match store {
        Ok(store) => Kind::Os {
            stores: vec![OsStore {
                place,
                persistent: true,
                store,
            }],
            why_not: vec![],
        },
        Err(e) => Kind::Os {
            stores: vec![],
            why_not: vec![format!("{place}: {e}")],
        },
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
fn os_stores() -> Kind {
    Kind::Os {
        stores: vec![],
        why_not: vec!["guard knows no OS keyring on this system".into()],
    }
}

fn token_file() -> Result<PathBuf, KeyringError> {
    crate::session::folder::data_home()
        .map(|home| home.join(FILE_NAME))
        .map_err(|e| KeyringError::File {
            path: FILE_NAME.into(),
            reason: e.to_string(),
        })
}

fn file_error(path: &std::path::Path, reason: impl ToString) -> KeyringError {
    KeyringError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

fn read_file(path: &std::path::Path) -> Result<BTreeMap<String, String>, KeyringError> {
    let mut text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(file_error(path, e)),
    };
    let parsed = serde_json::from_str(&text)
        .map_err(|_| file_error(path, "it is not a JSON object of tokens"));
    text.zeroize();
    parsed
}

/// Replaces the file through a new 0600 file and a rename, so it is never readable by others
/// and never half written.
fn write_file(
    path: &std::path::Path,
    tokens: &BTreeMap<String, String>,
) -> Result<(), KeyringError> {
    if let Some(dir) = path.parent() {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| file_error(dir, e))?;
    }
    let tmp = path.with_extension("json.tmp");
    let _ = fs::remove_file(&tmp);
    let mut text = serde_json::to_string_pretty(tokens).map_err(|e| file_error(path, e))?;
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| fs::rename(&tmp, path));
    text.zeroize();
    written.map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn file_keyring(dir: &std::path::Path) -> Keyring {
        Keyring {
            kind: Kind::File(dir.join("sub").join(FILE_NAME)),
        }
    }

    #[test]
    fn the_file_store_round_trips_per_address_and_stays_private() {
        let dir = tempfile::tempdir().unwrap();
        let k = file_keyring(dir.path());
        assert!(k.get("http://a:1").unwrap().is_none());
        k.set("http://a:1", &SecretString::from("tok-a")).unwrap();
        k.set("http://b:2", &SecretString::from("tok-b")).unwrap();
        assert_eq!(
            k.get("http://a:1").unwrap().unwrap().expose_secret(),
            "tok-a"
        );
        let path = dir.path().join("sub").join(FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(k.delete("http://a:1").unwrap());
        assert!(!k.delete("http://a:1").unwrap());
        assert!(k.get("http://a:1").unwrap().is_none());
        assert_eq!(
            k.get("http://b:2").unwrap().unwrap().expose_secret(),
            "tok-b"
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_not_an_empty_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let k = file_keyring(dir.path());
        fs::create_dir_all(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub").join(FILE_NAME), "not json").unwrap();
        assert!(matches!(k.get("x"), Err(KeyringError::File { .. })));
    }

    #[test]
    fn the_setting_is_checked() {
        let env =
            |v: &'static str| move |name: &str| (name == "GUARD_KEYRING").then(|| v.to_string());
        assert!(matches!(
            Keyring::from_env(&env("sometimes")),
            Err(KeyringError::BadSetting(_))
        ));
        let none = Keyring::from_env(&env("none")).unwrap();
        assert!(none.get("x").unwrap().is_none());
        assert!(matches!(
            none.set("x", &SecretString::from("t")),
            Err(KeyringError::Disabled)
        ));
    }
}

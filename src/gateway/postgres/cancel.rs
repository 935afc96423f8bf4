//! The cancel map: the BackendKeyData guard gives each client, and the upstream key it stands for.
//!
//! A client cancels by opening a new connection and sending the process id and secret key it was
//! given (protocol docs, "Canceling Requests in Progress"). guard never hands out the upstream's
//! key: it issues its own random pair per client connection and, on a matching CancelRequest,
//! sends the upstream's pair to the server itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::secret::constant_time_eq;

/// The upstream process a client connection is served by, and its cancel key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamKey {
    pub pid: i32,
    pub key: Bytes,
}

#[derive(Default)]
pub struct CancelMap {
    entries: Mutex<HashMap<i32, ([u8; 4], UpstreamKey)>>,
}

/// A live entry; dropping it removes the entry, so a closed connection cannot be cancelled.
pub struct Registration {
    map: Arc<CancelMap>,
    pub pid: i32,
    pub key: [u8; 4],
}

impl CancelMap {
    /// Issues a fresh (pid, key) for a client connection served by `upstream`.
    pub fn register(self: &Arc<Self>, upstream: UpstreamKey) -> Registration {
        let mut entries = self.lock();
        let (pid, key) = loop {
            let mut bytes = [0u8; 8];
            crate::secret::random(&mut bytes);
            // Positive, like a real process id; clients print it.
            let pid = i32::from_be_bytes([bytes[0] & 0x3f, bytes[1], bytes[2], bytes[3]]).max(1);
            if !entries.contains_key(&pid) {
                break (pid, [bytes[4], bytes[5], bytes[6], bytes[7]]);
            }
        };
        entries.insert(pid, (key, upstream));
        Registration {
            map: self.clone(),
            pid,
            key,
        }
    }

    /// The upstream key for a client's CancelRequest, if its pid and key both match.
    pub fn lookup(&self, pid: i32, key: &[u8]) -> Option<UpstreamKey> {
        let entries = self.lock();
        let (expected, upstream) = entries.get(&pid)?;
        constant_time_eq(expected, key).then(|| upstream.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i32, ([u8; 4], UpstreamKey)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.map.lock().remove(&self.pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_only_with_the_right_secret_and_only_while_registered() {
        let map = Arc::new(CancelMap::default());
        let upstream = UpstreamKey {
            pid: 4242,
            key: Bytes::from_static(&[9, 9, 9, 9]),
        };
        let reg = map.register(upstream.clone());
        assert!(reg.pid > 0);
        assert_eq!(map.lookup(reg.pid, &reg.key), Some(upstream));
        let mut wrong = reg.key;
        wrong[0] ^= 1;
        assert_eq!(map.lookup(reg.pid, &wrong), None);
        assert_eq!(map.lookup(reg.pid, &reg.key[..3]), None);
        let (pid, key) = (reg.pid, reg.key);
        drop(reg);
        assert_eq!(map.lookup(pid, &key), None);
    }
}

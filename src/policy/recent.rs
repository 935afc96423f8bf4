//! A bounded map of what was used recently, for the per-connection caches of classifications
//! and verdicts: two generations, so that a lookup, an insert and an eviction each cost O(1).
//!
//! Entries go into the young generation; when it is full the old one is dropped and the young
//! one ages. A hit in the old generation moves the entry back to the young one, so what keeps
//! being used is never dropped, and at most `2 * capacity` entries are ever held.

use std::borrow::Borrow;
use std::hash::Hash;

/// Seeded per process like std's, but faster on statement texts; an entry is at most a few KB and
/// a generation at most `capacity` of them, so a client that forced collisions would only slow
/// its own connection.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

#[derive(Debug)]
pub struct Recent<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    capacity: usize,
}

impl<K: Hash + Eq, V: Clone> Recent<K, V> {
    pub fn new(capacity: usize) -> Self {
        Recent {
            young: HashMap::default(),
            old: HashMap::default(),
            capacity: capacity.max(1),
        }
    }

    /// The value under `key`, if it was used within the last two generations.
    pub fn get<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(value) = self.young.get(key) {
            return Some(value.clone());
        }
        let (key, value) = self.old.remove_entry(key)?;
        self.insert(key, value.clone());
        Some(value)
    }

    pub fn insert(&mut self, key: K, value: V) {
        if self.young.len() >= self.capacity {
            // The old generation's table is emptied and reused as the young one: a fresh one
            // would grow (and rehash) its way back up to `capacity` every generation.
            std::mem::swap(&mut self.young, &mut self.old);
            self.young.clear();
        }
        self.young.insert(key, value);
    }

    /// Forgets everything (what the entries depend on has changed).
    pub fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Recent;

    #[test]
    fn what_keeps_being_used_stays_and_the_size_is_bounded() {
        let mut recent = Recent::new(4);
        recent.insert("hot".to_string(), 0);
        for n in 1..100 {
            recent.insert(format!("cold {n}"), n);
            assert_eq!(recent.get("hot"), Some(0), "after {n} inserts");
            assert!(recent.young.len() + recent.old.len() <= 8);
        }
        assert_eq!(recent.get("cold 1"), None);
        assert_eq!(recent.get("cold 99"), Some(99));
        recent.clear();
        assert_eq!(recent.get("hot"), None);
    }
}

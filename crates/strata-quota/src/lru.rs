//! A bounded map that evicts its least recently used entry and expires idle ones.
//!
//! Entries live in a slab threaded by a doubly linked list in use order (head = most
//! recent), so a touch, an insert and an eviction are O(1) and expiry walks only the
//! entries it removes.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

const NIL: usize = usize::MAX;

#[derive(Debug, Clone)]
struct Node<K, V> {
    key: K,
    value: V,
    last_used: Instant,
    prev: usize,
    next: usize,
}

/// A map of at most `capacity` entries, ordered by last use.
#[derive(Debug, Clone)]
pub(crate) struct LruMap<K, V> {
    map: HashMap<K, usize>,
    slots: Vec<Option<Node<K, V>>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
    capacity: usize,
}

impl<K: Hash + Eq + Clone, V> LruMap<K, V> {
    /// An empty map holding at most `capacity` (at least 1) entries.
    pub(crate) fn new(capacity: usize) -> Self {
        LruMap {
            map: HashMap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The entry for `lookup`, marked used at `now`; created with `make` if absent, after
    /// evicting the least recently used entry when the map is full.
    pub(crate) fn get_or_insert_with<Q>(
        &mut self,
        lookup: &Q,
        now: Instant,
        make: impl FnOnce() -> (K, V),
    ) -> &mut V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = match self.map.get(lookup) {
            Some(&index) => {
                self.unlink(index);
                index
            }
            None => {
                if self.map.len() >= self.capacity {
                    self.remove_at(self.tail);
                }
                let (key, value) = make();
                let node = Node {
                    key: key.clone(),
                    value,
                    last_used: now,
                    prev: NIL,
                    next: NIL,
                };
                let index = match self.free.pop() {
                    Some(index) => {
                        self.slots[index] = Some(node);
                        index
                    }
                    None => {
                        self.slots.push(Some(node));
                        self.slots.len() - 1
                    }
                };
                self.map.insert(key, index);
                index
            }
        };
        self.push_front(index);
        let node = self.node_mut(index);
        if now > node.last_used {
            node.last_used = now;
        }
        &mut node.value
    }

    /// The entry for `lookup`, without marking it used.
    pub(crate) fn get_mut<Q>(&mut self, lookup: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let index = *self.map.get(lookup)?;
        Some(&mut self.node_mut(index).value)
    }

    /// Removes the entries unused for `idle` or longer as of `now`; returns how many.
    pub(crate) fn expire(&mut self, now: Instant, idle: Duration) -> usize {
        let mut removed = 0;
        while self.tail != NIL {
            let last_used = self.node(self.tail).last_used;
            if now.saturating_duration_since(last_used) < idle {
                break;
            }
            self.remove_at(self.tail);
            removed += 1;
        }
        removed
    }

    fn node(&self, index: usize) -> &Node<K, V> {
        self.slots[index].as_ref().expect("linked slot is occupied")
    }

    fn node_mut(&mut self, index: usize) -> &mut Node<K, V> {
        self.slots[index].as_mut().expect("linked slot is occupied")
    }

    fn remove_at(&mut self, index: usize) {
        self.unlink(index);
        let node = self.slots[index].take().expect("linked slot is occupied");
        self.map.remove(&node.key);
        self.free.push(index);
    }

    fn unlink(&mut self, index: usize) {
        let (prev, next) = {
            let node = self.node(index);
            (node.prev, node.next)
        };
        match prev {
            NIL => self.head = next,
            prev => self.node_mut(prev).next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.node_mut(next).prev = prev,
        }
    }

    fn push_front(&mut self, index: usize) {
        let head = self.head;
        {
            let node = self.node_mut(index);
            node.prev = NIL;
            node.next = head;
        }
        match head {
            NIL => self.tail = index,
            head => self.node_mut(head).prev = index,
        }
        self.head = index;
    }

    #[cfg(test)]
    pub(crate) fn keys_by_recency(&self) -> Vec<K> {
        let mut keys = Vec::new();
        let mut at = self.head;
        while at != NIL {
            keys.push(self.node(at).key.clone());
            at = self.node(at).next;
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let t = Instant::now();
        let mut lru = LruMap::new(2);
        *lru.get_or_insert_with(&1, t, || (1, 0)) += 1;
        *lru.get_or_insert_with(&2, t, || (2, 0)) += 1;
        *lru.get_or_insert_with(&1, t, || (1, 0)) += 1; // 1 is now the most recent
        lru.get_or_insert_with(&3, t, || (3, 0)); // evicts 2
        assert_eq!(lru.keys_by_recency(), [3, 1]);
        assert_eq!(lru.get_mut(&1), Some(&mut 2));
        assert_eq!(lru.get_mut(&2), None);
    }

    #[test]
    fn expires_idle_entries_only() {
        let t = Instant::now();
        let mut lru = LruMap::new(10);
        lru.get_or_insert_with(&"old", t, || ("old", ()));
        lru.get_or_insert_with(&"new", t + Duration::from_secs(50), || ("new", ()));
        assert_eq!(
            lru.expire(t + Duration::from_secs(59), Duration::from_secs(60)),
            0
        );
        assert_eq!(
            lru.expire(t + Duration::from_secs(60), Duration::from_secs(60)),
            1
        );
        assert_eq!(lru.keys_by_recency(), ["new"]);
        assert_eq!(
            lru.expire(t + Duration::from_secs(500), Duration::from_secs(60)),
            1
        );
        assert_eq!(lru.len(), 0);
        lru.get_or_insert_with(&"again", t, || ("again", ()));
        assert_eq!(lru.keys_by_recency(), ["again"]);
    }

    proptest! {
        /// Against a model: a Vec in recency order, truncated to the capacity.
        #[test]
        fn matches_a_model(cap in 1usize..6, keys in proptest::collection::vec(0u8..10, 0..200)) {
            let t = Instant::now();
            let mut lru = LruMap::new(cap);
            let mut model: Vec<u8> = Vec::new();
            for key in keys {
                lru.get_or_insert_with(&key, t, || (key, ()));
                model.retain(|k| *k != key);
                model.insert(0, key);
                model.truncate(cap);
                prop_assert_eq!(lru.keys_by_recency(), model.clone());
                prop_assert_eq!(lru.len(), model.len());
            }
        }
    }
}

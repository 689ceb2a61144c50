//! [`CowMap`]: a copy-on-write map (Go's `atomic.Value` holding a map).
//!
//! The current map is an immutable `GoMap` published through an [`AtomicArc`] (an
//! `ArcSwap`): a reader loads it without waiting and without touching a shared reference
//! count. Writers take a mutex (so no write is lost between two copies), copy the current
//! map, change the copy and publish it; a snapshot that readers still hold stays alive, and
//! is freed by the last one to let go.

use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;

use super::shim::{address_of, AtomicArc, HeldMark, Mutex, Snapshot};
use crate::GoMap;

#[cfg(loom)]
use super::shim::Arc;
#[cfg(not(loom))]
use std::sync::Arc;

const REENTRANT: &str = "gomap::sync::CowMap: the map was written from inside the closure of its own update(); \
                         that would deadlock (change the map the closure is given instead)";

/// A map for data that is read all the time and changed rarely: configuration, routing
/// tables, feature flags. Reads are wait-free and see one consistent version of the whole
/// map ([`load`](CowMap::load)); every write copies the map (O(n): a clone of each key
/// and value, no key hashed again), so batch writes with [`update`](CowMap::update).
///
/// ```
/// use gomap::sync::CowMap;
///
/// let routes = CowMap::new();
/// routes.insert("/", "index");
/// let before = routes.load(); // a snapshot: later writes do not change it
/// routes.update(|m| {
///     m.insert("/about", "about");
///     m.remove("/");
/// });
/// assert_eq!(before.len(), 1);
/// assert_eq!(routes.get("/about"), Some("about"));
/// assert_eq!(routes.get("/"), None);
/// ```
pub struct CowMap<K, V> {
    current: AtomicArc<GoMap<K, V>>,
    /// Serialises writers, so that no write is lost between copy and publish.
    writer: Mutex<()>,
}

impl<K, V> CowMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let map: gomap::sync::CowMap<&str, i32> = gomap::sync::CowMap::new();
    /// assert!(map.is_empty());
    /// assert_eq!(map.get("gopher"), None);
    /// ```
    pub fn new() -> Self {
        Self::from_map(GoMap::new())
    }

    /// A map starting with `map`'s entries.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::from_map(gomap::GoMap::from([("a", 1), ("b", 2)]));
    /// assert_eq!(map.len(), 2);
    /// assert_eq!(map.get("b"), Some(2));
    /// ```
    pub fn from_map(map: GoMap<K, V>) -> Self {
        CowMap { current: AtomicArc::new(Arc::new(map)), writer: Mutex::new(()) }
    }

    /// The current snapshot: an immutable map that later writes do not change.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// map.insert("gopher", 1);
    /// let snapshot = map.load();
    /// map.insert("gopher", 2);
    /// assert_eq!(snapshot.get("gopher"), Some(&1)); // unchanged
    /// assert_eq!(map.load().get("gopher"), Some(&2));
    /// ```
    pub fn load(&self) -> Arc<GoMap<K, V>> {
        self.current.load_full()
    }

    /// A short-lived view of the current snapshot that does not touch its reference count;
    /// holding it keeps that snapshot alive.
    fn peek(&self) -> Snapshot<GoMap<K, V>> {
        self.current.load()
    }

    /// The number of entries in the current snapshot.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.insert("a", 3);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.peek().len()
    }

    /// Whether the current snapshot is empty.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// assert!(map.is_empty());
    /// map.insert("gopher", 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.peek().is_empty()
    }
}

impl<K, V> CowMap<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// A clone of the value of `key` in the current snapshot.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// map.insert("gopher", 1);
    /// assert_eq!(map.get("gopher"), Some(1));
    /// assert_eq!(map.get("crab"), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.peek().get(key).cloned()
    }

    /// Whether `key` is in the current snapshot.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// map.insert("gopher", 1);
    /// assert!(map.contains_key("gopher"));
    /// assert!(!map.contains_key("crab"));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.peek().contains_key(key)
    }

    /// Changes a copy of the map with `f` and publishes it: one copy for any number of
    /// writes. Readers see all of `f`'s changes or none. If `f` panics nothing is published.
    /// `f` must not write to this map through `self` (that panics: it would deadlock);
    /// reading it is fine.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// let len = map.update(|m| {
    ///     m.insert("a", 1);
    ///     m.insert("b", 2);
    ///     m.len()
    /// });
    /// assert_eq!(len, 2);
    /// assert_eq!(map.get("b"), Some(2));
    /// ```
    pub fn update<R>(&self, f: impl FnOnce(&mut GoMap<K, V>) -> R) -> R {
        self.write(|_| true, f).expect("always written")
    }

    /// Inserts a key-value pair (copying the map), returning the previous value.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// assert_eq!(map.insert("gopher", 1), None);
    /// assert_eq!(map.insert("gopher", 2), Some(1));
    /// assert_eq!(map.get("gopher"), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.update(|m| m.insert(key, value))
    }

    /// Removes `key` (copying the map if it is present), returning its value.
    ///
    /// ```
    /// let map = gomap::sync::CowMap::new();
    /// map.insert("gopher", 1);
    /// assert_eq!(map.remove("gopher"), Some(1));
    /// assert_eq!(map.remove("gopher"), None);
    /// assert!(map.is_empty());
    /// ```
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.write(|m| m.contains_key(key), |m| m.remove(key)).flatten()
    }

    /// Under the writer lock: if `needed` says the current map must change, copies it,
    /// applies `f` and publishes the copy.
    fn write<R>(&self, needed: impl FnOnce(&GoMap<K, V>) -> bool, f: impl FnOnce(&mut GoMap<K, V>) -> R) -> Option<R> {
        let _mark = HeldMark::enter(address_of(self), REENTRANT);
        let _writer = self.writer.lock();
        let current = self.peek();
        if !needed(&current) {
            return None;
        }
        let mut copy = GoMap::clone(&current);
        drop(current);
        let result = f(&mut copy);
        self.current.store(Arc::new(copy));
        Some(result)
    }
}

impl<K, V> Default for CowMap<K, V> {
    fn default() -> Self {
        CowMap::new()
    }
}

impl<K, V> From<GoMap<K, V>> for CowMap<K, V> {
    fn from(map: GoMap<K, V>) -> Self {
        CowMap::from_map(map)
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for CowMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.peek(), f)
    }
}

/// loom model of publication: a reader sees a whole update or none of it, and concurrent
/// writers lose nothing.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::shim::Arc;
    use super::CowMap;
    use loom::thread;

    #[test]
    fn publish() {
        loom::model(|| {
            let map = Arc::new(CowMap::new());
            let other = Arc::clone(&map);
            let t = thread::spawn(move || {
                other.update(|m| {
                    m.insert(1, 1);
                    m.insert(2, 2);
                })
            });
            let snapshot = map.load();
            assert_eq!(snapshot.contains_key(&1), snapshot.contains_key(&2), "half an update");
            map.insert(3, 3);
            t.join().unwrap();
            assert_eq!(map.len(), 3, "an update was lost");
        });
    }
}

//! [`CowMap`]: a copy-on-write map (Go's `atomic.Value` holding a map).
//!
//! The current map is an immutable `GoMap` published through an [`AtomicArc`] (an
//! `ArcSwap`): a reader loads it without waiting and without touching a shared reference
//! count. Writers take a mutex (so no write is lost between two copies), copy the current
//! map, change the copy and publish it.
//!
//! # Letting go of replaced snapshots
//!
//! Freeing a snapshot is O(n). The writer that replaces it frees it when nothing else
//! holds it: the writer pays O(n) for its copy anyway. A snapshot that a reader was still
//! looking into at the swap would otherwise be freed by that reader, as the last to let
//! go, inside a `get`: a pause of milliseconds on the path that should never wait. So the
//! writer keeps such a snapshot (see the `retire` module), and the map's reference to it
//! outlives every other: no read, and no drop of an `Arc` from [`CowMap::load`], is ever
//! the last. Once its holders are done, the reads that follow take it apart a few entries
//! at a time, each when it finds the writers' mutex free, and each write frees, after its
//! lock, every kept snapshot that nothing else holds any more. A snapshot still held
//! after [`HELD_TRIES`] reads is most likely an `Arc` that a caller
//! keeps: the reads stop asking about it, and a later write frees it once the caller has
//! let go. Until then it holds its memory, as does a snapshot whose reads stop: a map
//! neither read nor written again keeps it until the map is dropped.

use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;
use core::sync::atomic::Ordering::Relaxed;

use crossbeam_utils::CachePadded;

use super::retire::{Replaced, Step, Unheld};
use super::shim::{address_of, AtomicArc, AtomicBool, HeldMark, Mutex, Snapshot};
use crate::{DefaultHashBuilder, GoMap};

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
    /// Whether a replaced snapshot waits in `writer` to be let go of: a hint, set by a
    /// writer and cleared under the mutex by the step that finds nothing left, which tells
    /// reads whether to lend a hand. What it speaks of is only read and changed under the
    /// mutex, so `Relaxed` is enough.
    replaced_waiting: AtomicBool,
    /// Serialises writers, so that no write is lost between copy and publish; holds the
    /// replaced snapshots not let go of yet. On cache lines of its own, away from `current`.
    writer: CachePadded<Mutex<Writer<K, V>>>,
}

/// What the writers' mutex guards: the replaced snapshots on their way out, and how many
/// more steps may find them all still held before the reads stop asking (see
/// [`HELD_TRIES`]).
struct Writer<K, V> {
    replaced: Replaced<GoMap<K, V>, K, V, DefaultHashBuilder>,
    tries: u32,
}

/// How many steps may find the kept snapshots all still held before the reads stop asking
/// until the next write. A `get` holds its snapshot for well under a microsecond, so a
/// snapshot still held after this many reads is most likely an `Arc` that a caller keeps.
const HELD_TRIES: u32 = if cfg!(loom) { 1 } else { 64 };

/// The fewest entries a step drops (whole chains).
const STEP: usize = if cfg!(loom) { 1 } else { 8 };

impl<K, V> Writer<K, V> {
    /// A write's share, under the mutex: keeps the snapshot it replaced and takes out what
    /// the writer is to free after the mutex: every kept snapshot, that one included, that
    /// nothing else holds, and the one being taken apart. Returns too whether the reads are
    /// to lend a hand (some snapshot is still held).
    fn replace(&mut self, old: Arc<GoMap<K, V>>) -> (Unheld<GoMap<K, V>, K, V, DefaultHashBuilder>, bool) {
        self.replaced.hold(old);
        let unheld = self.replaced.take_unheld();
        self.tries = HELD_TRIES;
        (unheld, !self.replaced.held.is_empty())
    }

    /// A read's share: moves the letting go on by a step; returns whether the reads are to
    /// go on lending a hand.
    fn step(&mut self) -> bool {
        if self.replaced.step(STEP) == Step::AllHeld {
            // After `HELD_TRIES` such steps the reads stop asking; the next write looks again.
            self.tries = self.tries.saturating_sub(1);
        }
        self.replaced.retiring.is_some() || (!self.replaced.held.is_empty() && self.tries > 0)
    }
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
        CowMap {
            current: AtomicArc::new(Arc::new(map)),
            replaced_waiting: AtomicBool::new(false),
            writer: CachePadded::new(Mutex::new(Writer { replaced: Replaced::new(), tries: 0 })),
        }
    }

    /// The current snapshot: an immutable map that later writes do not change. While the
    /// `CowMap` lives, dropping a snapshot never frees it: once a write has replaced it, the
    /// map frees it after the caller lets go, in a later read's steps or write (see the
    /// module documentation).
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

    /// `f` of the current snapshot; then, with the snapshot let go of, a step of letting
    /// go of a replaced one if one waits and the writers' mutex is free.
    #[inline]
    fn read<R>(&self, f: impl FnOnce(&GoMap<K, V>) -> R) -> R {
        let result = f(&self.peek());
        if self.replaced_waiting.load(Relaxed) {
            self.lend_a_hand();
        }
        result
    }

    #[cold]
    #[inline(never)]
    fn lend_a_hand(&self) {
        if let Some(mut writer) = self.writer.try_lock() {
            if !writer.step() {
                self.replaced_waiting.store(false, Relaxed);
            }
        }
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
        self.read(GoMap::len)
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
        self.read(GoMap::is_empty)
    }
}

impl<K, V> CowMap<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// A clone of the value of `key` in the current snapshot. Wait-free, and it never frees
    /// a snapshot: if a write replaces the one it reads, later reads (a few entries each)
    /// or a later write let go of it.
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
        self.read(|m| m.get(key).cloned())
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
        self.read(|m| m.contains_key(key))
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
    /// applies `f` and publishes the copy. The replaced snapshot, and any kept earlier that
    /// nothing holds any more, is freed here, after the lock; one still held is kept (see
    /// the module's documentation).
    fn write<R>(&self, needed: impl FnOnce(&GoMap<K, V>) -> bool, f: impl FnOnce(&mut GoMap<K, V>) -> R) -> Option<R> {
        let _mark = HeldMark::enter(address_of(self), REENTRANT);
        let mut writer = self.writer.lock();
        let current = self.peek();
        if !needed(&current) {
            return None;
        }
        let mut copy = GoMap::clone(&current);
        drop(current);
        let result = f(&mut copy);
        let old = self.current.swap(Arc::new(copy));
        // A writer pays O(n) anyway: it frees, after the lock, what nothing holds any more.
        let (to_free, still_held) = writer.replace(old);
        self.replaced_waiting.store(still_held, Relaxed);
        drop(writer);
        drop(to_free);
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

/// A map starting with the iterator's entries (collected into a [`GoMap`] first).
///
/// ```
/// let map: gomap::sync::CowMap<u32, u32> = (0..100).map(|i| (i % 10, i)).collect();
/// assert_eq!(map.len(), 10);
/// assert_eq!(map.get(&3), Some(93));
/// ```
impl<K: Eq + Hash, V> FromIterator<(K, V)> for CowMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        CowMap::from_map(iter.into_iter().collect())
    }
}

/// Inserts every pair in one [`update`](CowMap::update): one copy of the map for the whole
/// batch, published at once.
impl<K: Eq + Hash + Clone, V: Clone> Extend<(K, V)> for CowMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

/// Inserts every pair in one [`update`](CowMap::update), through a shared reference: a
/// reader sees all of the batch or none of it.
///
/// ```
/// let map = gomap::sync::CowMap::new();
/// let before = map.load();
/// (&map).extend([("a", 1), ("b", 2)]);
/// assert!(before.is_empty()); // an old snapshot is unchanged
/// assert_eq!(map.load().len(), 2);
/// ```
impl<K: Eq + Hash + Clone, V: Clone> Extend<(K, V)> for &CowMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        self.update(|m| m.extend(iter));
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for CowMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self.peek(), f)
    }
}

/// loom models of publication (a reader sees a whole update or none of it, and concurrent
/// writers lose nothing) and of letting go of a replaced snapshot.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::shim::Arc;
    use super::CowMap;
    use crate::GoMap;
    use core::sync::atomic::Ordering::Relaxed;
    use loom::thread;

    /// A read races a write; whichever way it goes, the replaced snapshot is let go of by
    /// the writer or by the reads that follow, the hint is cleared once nothing waits, and
    /// every value lives exactly as long as a snapshot that holds it.
    #[test]
    fn reads_let_go_of_a_replaced_snapshot() {
        loom::model(|| {
            let token = std::sync::Arc::new(());
            let map = Arc::new(CowMap::from_map(GoMap::from([(1, std::sync::Arc::clone(&token))])));
            let reader = Arc::clone(&map);
            let t = thread::spawn(move || reader.contains_key(&1));
            map.insert(2, std::sync::Arc::clone(&token));
            assert!(t.join().unwrap());
            let mut reads = 0;
            while map.replaced_waiting.load(Relaxed) {
                assert!(reads < 4, "reads do not let go of the replaced snapshot");
                assert!(map.contains_key(&2));
                reads += 1;
            }
            assert!(map.writer.lock().replaced.is_empty(), "left behind with the hint cleared");
            assert_eq!(std::sync::Arc::strong_count(&token), 1 + 2, "a value outlived its snapshot");
        });
    }

    /// A caller's `Arc` from `load` races a write: if the write replaced that snapshot, the
    /// caller's drop does not free it (the map's reference is the last), and the next write
    /// does.
    #[test]
    fn a_callers_arc_is_never_the_last() {
        loom::model(|| {
            let token = std::sync::Arc::new(());
            let map = Arc::new(CowMap::from_map(GoMap::from([(1, std::sync::Arc::clone(&token))])));
            let (writer, value) = (Arc::clone(&map), std::sync::Arc::clone(&token));
            let t = thread::spawn(move || writer.insert(2, value));
            let kept = map.load();
            assert!(t.join().unwrap().is_none());
            let replaced = !kept.contains_key(&2);
            drop(kept);
            let alive = std::sync::Arc::strong_count(&token) - 1;
            assert_eq!(alive, if replaced { 1 + 2 } else { 2 }, "the caller's drop freed a replaced snapshot");
            map.insert(3, std::sync::Arc::clone(&token));
            assert_eq!(std::sync::Arc::strong_count(&token), 1 + 3, "a write left a replaced snapshot");
        });
    }

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

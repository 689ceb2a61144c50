//! [`CheckedMap`]: Go's concurrent-misuse detector (spec section 5) as a `&self` map.
//!
//! One atomic state word counts the accesses in progress: a `WRITING` bit, a reader count
//! (31 bits) and an iterator count (32 bits). The word has 64 bits on every target, so
//! neither count can spill into the next field (a word of 32 bits would hold 32,767
//! readers). A writer enters only by changing the word from 0 to `WRITING`; a
//! reader or iterator enters by adding itself, and backs out if `WRITING` was set. Whoever
//! finds the other side there panics with Go's message for the pair; nobody ever waits. The
//! `GoMap` itself sits in a read-write lock that is only ever *tried*: the state word
//! admits a writer only when no reader or iterator is inside, and a reader only when no
//! writer is, so the try always succeeds (a failure would be a bug in this protocol, and
//! panics as one).
//!
//! Unlike Go's flag (plain memory operations, best effort), the detection is exact: two
//! accesses that overlap in time, at least one of them a write, always panic, in at least
//! one of the two threads.

use core::borrow::Borrow;
use core::fmt;
use core::hash::Hash;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::shim::{AtomicU64, AtomicUsize, RwLock, RwLockReadGuard, RwLockWriteGuard};
use crate::GoMap;

const WRITING: u64 = 1;
const READER: u64 = 1 << 1;
const ITERATOR: u64 = 1 << 32;

/// Go's fatal errors for the three kinds of conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Misuse {
    /// Two writes overlapped.
    Writes,
    /// A read and a write overlapped.
    ReadWrite,
    /// An iteration (a `range`) and a write overlapped.
    IterationWrite,
}

impl Misuse {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Misuse::Writes => "concurrent map writes",
            Misuse::ReadWrite => "concurrent map read and map write",
            Misuse::IterationWrite => "concurrent map iteration and map write",
        }
    }

    /// Panics with the message as a `&'static str` payload (like `panic!("literal")`).
    fn raise(self) -> ! {
        std::panic::panic_any(self.message())
    }
}

/// A `&self` map that never blocks: an access that conflicts with one in progress on another
/// thread (two writes, or a write and a read or a `range`) panics with Go's message,
/// `"concurrent map writes"`, `"concurrent map read and map write"` or
/// `"concurrent map iteration and map write"`, instead of waiting.
///
/// # When to use it
///
/// When porting Go code that shares a plain `map` between goroutines and *should* not (Go
/// would crash with those messages, sometimes): wrap the map in a `CheckedMap` and run the
/// tests. Every overlap is reported deterministically, with a backtrace of the panicking
/// thread. Once the sharing is understood, either remove it (give each thread its own
/// `GoMap`) or switch to a synchronised map ([`ShardedMap`](super::ShardedMap),
/// [`SyncMap`](super::SyncMap), [`CowMap`](super::CowMap)). Do not use it to synchronise:
/// it never waits, it only detects.
///
/// Reads may overlap each other freely, and so may `range`s. Unlike Go, a `range` callback
/// must not write to the map it iterates, even on the same thread: that is an iteration and
/// a write overlapping, and panics with `"concurrent map iteration and map write"`.
/// [`len`](CheckedMap::len) never conflicts (as in Go).
///
/// ```
/// use gomap::sync::CheckedMap;
///
/// let map = CheckedMap::new();
/// map.insert("a", 1);
/// assert_eq!(map.get("a"), Some(1));
/// let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
///     map.range(|_, _| {
///         map.insert("b", 2); // a write during the iteration
///         true
///     })
/// }));
/// let message = *result.unwrap_err().downcast::<&str>().unwrap();
/// assert_eq!(message, "concurrent map iteration and map write");
/// ```
pub struct CheckedMap<K, V> {
    /// `WRITING`, plus `READER` per read and `ITERATOR` per iteration in progress.
    state: AtomicU64,
    map: RwLock<GoMap<K, V>>,
    /// The length, kept outside the lock so that `len` never conflicts.
    len: AtomicUsize,
}

/// One admitted access: the lock guard, then the state word's unit, released in that order
/// (so that a later access admitted by the state word finds the lock free).
struct Access<'a, G> {
    guard: G,
    _token: Token<'a>,
}

struct Token<'a> {
    state: &'a AtomicU64,
    unit: u64,
}

impl Drop for Token<'_> {
    fn drop(&mut self) {
        self.state.fetch_sub(self.unit, Release);
    }
}

impl<K, V> CheckedMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let map: gomap::sync::CheckedMap<&str, i32> = gomap::sync::CheckedMap::new();
    /// assert!(map.is_empty());
    /// assert_eq!(map.get("gopher"), None);
    /// ```
    pub fn new() -> Self {
        Self::from_map(GoMap::new())
    }

    /// A map holding `map`'s entries.
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::from_map(gomap::GoMap::from([("a", 1), ("b", 2)]));
    /// assert_eq!(map.len(), 2);
    /// assert_eq!(map.get("b"), Some(2));
    /// ```
    pub fn from_map(map: GoMap<K, V>) -> Self {
        CheckedMap { state: AtomicU64::new(0), len: AtomicUsize::new(map.len()), map: RwLock::new(map) }
    }

    /// The map inside.
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// map.insert("gopher", 1);
    /// let inner: gomap::GoMap<&str, i32> = map.into_inner();
    /// assert_eq!(inner.get("gopher"), Some(&1));
    /// ```
    pub fn into_inner(self) -> GoMap<K, V> {
        self.map.into_inner()
    }

    /// Enters a write, or reports the access it conflicts with.
    fn begin_write(&self) -> Result<Access<'_, RwLockWriteGuard<'_, GoMap<K, V>>>, Misuse> {
        if let Err(state) = self.state.compare_exchange(0, WRITING, Acquire, Relaxed) {
            return Err(if state & WRITING != 0 {
                Misuse::Writes
            } else if state >= ITERATOR {
                Misuse::IterationWrite
            } else {
                Misuse::ReadWrite
            });
        }
        let token = Token { state: &self.state, unit: WRITING };
        let guard = self.map.try_write().expect("gomap::sync::CheckedMap: internal error: write lock taken");
        Ok(Access { guard, _token: token })
    }

    /// Enters a read (`unit == READER`) or an iteration (`ITERATOR`), or reports the write
    /// it conflicts with.
    fn begin_read(&self, unit: u64) -> Result<Access<'_, RwLockReadGuard<'_, GoMap<K, V>>>, Misuse> {
        let token = Token { state: &self.state, unit };
        if self.state.fetch_add(unit, Acquire) & WRITING != 0 {
            // `token` backs the unit out.
            return Err(if unit == ITERATOR { Misuse::IterationWrite } else { Misuse::ReadWrite });
        }
        let guard = self.map.try_read().expect("gomap::sync::CheckedMap: internal error: read lock refused");
        Ok(Access { guard, _token: token })
    }

    fn write(&self) -> Access<'_, RwLockWriteGuard<'_, GoMap<K, V>>> {
        self.begin_write().unwrap_or_else(|misuse| misuse.raise())
    }

    fn read(&self) -> Access<'_, RwLockReadGuard<'_, GoMap<K, V>>> {
        self.begin_read(READER).unwrap_or_else(|misuse| misuse.raise())
    }

    /// The number of entries. Never conflicts (Go's `len` has no check either).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.insert("a", 3);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    /// Whether the map is empty. Never conflicts.
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// assert!(map.is_empty());
    /// map.insert("gopher", 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (a write).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.get("a"), None);
    /// ```
    pub fn clear(&self) {
        let mut access = self.write();
        access.guard.clear();
        self.len.store(0, Relaxed);
    }

    /// `f` of the map, as one iteration (for `Serialize`): a write while it runs panics
    /// with `"concurrent map iteration and map write"`, as during [`range`](Self::range).
    #[cfg(feature = "serde")]
    pub(crate) fn iterate<R>(&self, f: impl FnOnce(&GoMap<K, V>) -> R) -> R {
        let access = self.begin_read(ITERATOR).unwrap_or_else(|misuse| misuse.raise());
        f(&access.guard)
    }

    /// Calls `f` on each entry until it returns false (Go's `for k, v := range m`). Other
    /// reads and ranges may overlap it; a write from any thread while it runs, including
    /// from `f` itself, panics with `"concurrent map iteration and map write"`.
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// for i in 1..=4 {
    ///     map.insert(i, i * 10);
    /// }
    /// let mut sum = 0;
    /// map.range(|_, v| {
    ///     sum += v;
    ///     true
    /// });
    /// assert_eq!(sum, 100);
    /// ```
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let access = self.begin_read(ITERATOR).unwrap_or_else(|misuse| misuse.raise());
        for (k, v) in access.guard.iter() {
            if !f(k, v) {
                break;
            }
        }
    }
}

impl<K: Eq + Hash, V> CheckedMap<K, V> {
    /// Inserts a key-value pair, returning the previous value (a write).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// assert_eq!(map.insert("gopher", 1), None);
    /// assert_eq!(map.insert("gopher", 2), Some(1));
    /// assert_eq!(map.get("gopher"), Some(2));
    /// ```
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        let mut access = self.write();
        let previous = access.guard.insert(key, value);
        self.len.store(access.guard.len(), Relaxed);
        previous
    }

    /// Removes `key`, returning its value (a write).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
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
        let mut access = self.write();
        let value = access.guard.remove(key);
        self.len.store(access.guard.len(), Relaxed);
        value
    }

    /// A clone of the value of `key` (a read).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// map.insert("gopher", 1);
    /// assert_eq!(map.get("gopher"), Some(1));
    /// assert_eq!(map.get("crab"), None);
    /// ```
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.read().guard.get(key).cloned()
    }

    /// Whether `key` is present (a read).
    ///
    /// ```
    /// let map = gomap::sync::CheckedMap::new();
    /// map.insert("gopher", 1);
    /// assert!(map.contains_key("gopher"));
    /// assert!(!map.contains_key("crab"));
    /// ```
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.read().guard.contains_key(key)
    }
}

impl<K, V> Default for CheckedMap<K, V> {
    fn default() -> Self {
        CheckedMap::new()
    }
}

/// A map holding the iterator's entries (collected into a [`GoMap`] first).
///
/// ```
/// let map: gomap::sync::CheckedMap<u32, u32> = (0..100).map(|i| (i % 10, i)).collect();
/// assert_eq!(map.len(), 10);
/// assert_eq!(map.get(&3), Some(93));
/// ```
impl<K: Eq + Hash, V> FromIterator<(K, V)> for CheckedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        CheckedMap::from_map(iter.into_iter().collect())
    }
}

/// Inserts every pair, as [`insert`](CheckedMap::insert) does.
impl<K: Eq + Hash, V> Extend<(K, V)> for CheckedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

/// Inserts every pair through a shared reference, each insert a write that the detector
/// checks: extending from two threads at once panics as Go's runtime would.
impl<K: Eq + Hash, V> Extend<(K, V)> for &CheckedMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for CheckedMap<K, V> {
    /// The entries (a read: it panics if a write is in progress).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.read().guard, f)
    }
}

/// loom models of the detector: two accesses that overlap, one of them a write, never both
/// get in (the internal `try_*` would panic if they did), the loser reports Go's message for
/// the pair, and the state word returns to zero.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::shim::Arc;
    use super::{CheckedMap, Misuse, ITERATOR, READER};
    use core::sync::atomic::Ordering::SeqCst;
    use loom::thread;

    fn write(map: &CheckedMap<u32, u32>, k: u32) -> Result<(), Misuse> {
        let mut access = map.begin_write()?;
        access.guard.insert(k, k);
        Ok(())
    }

    fn read(map: &CheckedMap<u32, u32>, unit: u64) -> Result<(), Misuse> {
        let access = map.begin_read(unit)?;
        let _ = access.guard.get(&1);
        Ok(())
    }

    #[test]
    fn two_writers() {
        loom::model(|| {
            let map = Arc::new(CheckedMap::new());
            let other = Arc::clone(&map);
            let t = thread::spawn(move || write(&other, 1));
            let mine = write(&map, 2);
            let theirs = t.join().unwrap();
            for r in [mine, theirs] {
                assert!(r.is_ok() || r == Err(Misuse::Writes), "{r:?}");
            }
            let written = usize::from(mine.is_ok()) + usize::from(theirs.is_ok());
            assert!(written >= 1, "at least the first writer gets in");
            assert_eq!(map.state.load(SeqCst), 0);
            assert_eq!(map.begin_read(READER).unwrap().guard.len(), written);
        });
    }

    fn writer_and(unit: u64, expected: Misuse) {
        loom::model(move || {
            let map = Arc::new(CheckedMap::new());
            let other = Arc::clone(&map);
            let t = thread::spawn(move || write(&other, 1));
            let mine = read(&map, unit);
            let theirs = t.join().unwrap();
            for r in [mine, theirs] {
                assert!(r.is_ok() || r == Err(expected), "{r:?}");
            }
            assert_eq!(map.state.load(SeqCst), 0);
        });
    }

    #[test]
    fn writer_and_reader() {
        writer_and(READER, Misuse::ReadWrite);
    }

    #[test]
    fn writer_and_iterator() {
        writer_and(ITERATOR, Misuse::IterationWrite);
    }

    #[test]
    fn readers_never_conflict() {
        loom::model(|| {
            let map = Arc::new(CheckedMap::new());
            let other = Arc::clone(&map);
            let t = thread::spawn(move || read(&other, ITERATOR));
            assert_eq!(read(&map, READER), Ok(()));
            assert_eq!(t.join().unwrap(), Ok(()));
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::{CheckedMap, Misuse, READER};

    /// More reads in progress than a 32-bit count of them holds (its readers' field had 15
    /// bits there, and the 32,768th read spilled into the iterators'): a write still
    /// reports a read, not an iteration. (Under Miri, fewer: 40,000 reads take it over a
    /// minute.)
    #[test]
    fn a_write_among_many_reads_reports_a_read() {
        let map: CheckedMap<u32, u32> = CheckedMap::new();
        let n = if cfg!(miri) { 1_000 } else { 40_000 };
        let reads: Vec<_> = (0..n).map(|_| map.begin_read(READER).expect("reads never conflict")).collect();
        assert_eq!(map.begin_write().err(), Some(Misuse::ReadWrite));
        drop(reads);
        assert!(map.begin_write().is_ok(), "the reads are over");
    }
}

//! [`ShardedMap`]: `GoMap` shards behind read-write locks.
//!
//! The key is hashed once with the map's `BuildHasher`; bits 40.. of that hash pick the
//! shard, and the same hash goes into the shard's `GoMap` for the bucket (low bits) and the
//! tophash (top byte), which do not overlap the shard bits. The shards are `GoMap<K, V, ()>`:
//! they have no hasher of their own, and the crate-internal `*_prehashed` methods of `GoMap`
//! take the hash and the function that recomputes it when a growth moves keys. Each shard
//! grows like any `GoMap`, incrementally, so a write never waits for a whole-shard rehash
//! behind the lock.
//!
//! # Re-entrancy
//!
//! dashmap's trap (xacrimon/dashmap#74): a guard or closure that holds a shard lock while
//! user code touches the same map deadlocks. Here no method returns a guard, and the methods
//! that run a user closure under a lock ([`get_with`](ShardedMap::get_with),
//! [`update`](ShardedMap::update), [`upsert`](ShardedMap::upsert),
//! [`retain`](ShardedMap::retain)) record it in a thread-local list; every method checks that
//! list first and panics with a clear message instead of deadlocking.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};

use crossbeam_utils::CachePadded;

use super::shim::{self, address_of, HeldMark, RwLock};
use crate::{DefaultHashBuilder, GoMap, MapStats};

/// The lowest hash bit of the shard index: above any realistic bucket index (`b` < 40) and
/// below the tophash byte (bits 56..64).
const SHARD_SHIFT: u32 = 40;
/// At most 2^16 shards, so the shard bits stay below the tophash byte.
const MAX_SHARDS: usize = 1 << 16;

const REENTRANT: &str = "gomap::sync::ShardedMap: the map was used from inside a closure that runs under one \
                         of its shard locks (get_with, update, upsert, retain); that would deadlock";

type Shard<K, V> = CachePadded<RwLock<GoMap<K, V, ()>>>;

/// A concurrent map of `GoMap` shards, each behind a read-write lock (Go's "map + RWMutex",
/// striped).
///
/// Readers of different shards never touch the same cache line; readers of one shard share
/// its lock. Values are returned by clone, or seen in place through
/// [`get_with`](ShardedMap::get_with). No method hands out a guard, so a lock is never held
/// across user code, except the closures documented as running under the lock, which must
/// not use the same map: doing so panics (it would deadlock).
///
/// ```
/// use gomap::sync::ShardedMap;
///
/// let map = ShardedMap::new();
/// std::thread::scope(|s| {
///     for t in 0..4u64 {
///         let map = &map;
///         s.spawn(move || {
///             for i in 0..100u64 {
///                 map.insert(t * 1000 + i, i);
///                 map.upsert(u64::MAX, || i, |n| *n += i); // a shared total
///             }
///         });
///     }
/// });
/// assert_eq!(map.len(), 401);
/// assert_eq!(map.get(&1099), Some(99));
/// assert_eq!(map.get_with(&u64::MAX, |n| *n), Some(4 * (0..100).sum::<u64>()));
/// ```
pub struct ShardedMap<K, V, S = DefaultHashBuilder> {
    shards: Box<[Shard<K, V>]>,
    mask: usize,
    hash_builder: S,
}

/// Shards per available CPU in the default shard count.
///
/// Two threads that meet in one shard are what costs: a writer that finds the lock taken
/// parks (a futex call, microseconds; more when the holder takes a page fault on a fresh
/// page of its shard), and two readers of one shard fight over its lock word's cache line.
/// The chance of a meeting falls with the number of shards, so the default is far above
/// dashmap's four per CPU: conc-map-bench's mixes at 2 threads on 2 CPUs ran 1.3–2x faster
/// with 32 per CPU than with 4 (BENCHMARKS.md, "gomap::sync", run 7), and, in 15 alternated
/// pairs of runs, ReadHeavy 6–10 % and RapidGrow presized 13 % faster with 128 per CPU than
/// with 32, Exchange the same (twenty-fifth session). 512 per CPU gained RapidGrow
/// presized another 15 % and lost ReadHeavy presized 12 %. The price is memory: a shard is
/// a lock and a `GoMap` header on cache lines of their own (640 bytes for `u64` keys and
/// values) even while it is empty, 160 KiB for the 256 shards of a 2-CPU machine.
const SHARDS_PER_CPU: usize = 128;

/// The most shards the default gives a map, whatever the CPU count.
const MAX_DEFAULT_SHARDS: usize = 4096;

fn default_shards() -> usize {
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    (cpus * SHARDS_PER_CPU).next_power_of_two().min(MAX_DEFAULT_SHARDS)
}

impl<K, V> ShardedMap<K, V, DefaultHashBuilder> {
    /// An empty map with the default shard count
    /// ([`default_shard_count`](ShardedMap::default_shard_count)).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// assert!(map.is_empty());
    /// assert!(map.shard_count().is_power_of_two());
    /// map.insert(1, "gopher");
    /// assert_eq!(map.get(&1), Some("gopher"));
    /// ```
    pub fn new() -> Self {
        Self::with_shards(default_shards())
    }

    /// The shard count of [`new`](ShardedMap::new), [`with_capacity`](ShardedMap::with_capacity)
    /// and [`default`](Default::default): 128 shards per available CPU (from
    /// [`std::thread::available_parallelism`], 1 if unknown), a power of two, at most 4096.
    ///
    /// Many more shards than threads make it rare for two threads to meet in one shard,
    /// which is what a shard lock costs under contention; fewer shards (see
    /// [`with_shards`](ShardedMap::with_shards)) make an empty map smaller and `len`, `retain`
    /// and iteration visit fewer locks.
    ///
    /// ```
    /// use gomap::sync::ShardedMap;
    ///
    /// let n = ShardedMap::<u64, u64>::default_shard_count();
    /// assert!(n.is_power_of_two() && n >= 32);
    /// assert_eq!(ShardedMap::<u64, u64>::new().shard_count(), n);
    /// ```
    pub fn default_shard_count() -> usize {
        default_shards()
    }

    /// An empty map with `shards` shards (rounded up to a power of two, at most 65536).
    ///
    /// ```
    /// let map: gomap::sync::ShardedMap<u8, u8> = gomap::sync::ShardedMap::with_shards(5);
    /// assert_eq!(map.shard_count(), 8);
    /// ```
    pub fn with_shards(shards: usize) -> Self {
        Self::with_config(shards, 0, DefaultHashBuilder::default())
    }

    /// An empty map with the default shard count, sized to hold `capacity` entries without
    /// growing (each shard like Go's `make(map[K]V, capacity / shards)`, with some slack).
    ///
    /// Room to spare also makes lookups faster. A shard filled close to Go's load factor
    /// holds about 6 entries per bucket, and a lookup of an absent key there costs about
    /// 1.8 times what it costs at 3 per bucket (a quarter of the buckets are full, so
    /// the miss goes on to the overflow link; BENCHMARKS.md, `gomap::sync` run 9). For a
    /// read-mostly map whose size is known, a `capacity` of about twice that size trades
    /// memory for those lookups.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::with_capacity(1000);
    /// assert!(map.is_empty());
    /// for i in 0..1000 {
    ///     map.insert(i, i);
    /// }
    /// assert_eq!(map.len(), 1000);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_config(default_shards(), capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, S> ShardedMap<K, V, S> {
    /// An empty map with `shards` shards (rounded up to a power of two, at most 65536),
    /// room for `capacity` entries, and a hasher.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    ///
    /// let map = gomap::sync::ShardedMap::with_config(3, 100, RandomState::new());
    /// assert_eq!(map.shard_count(), 4);
    /// map.insert("gopher", 1);
    /// assert_eq!(map.get("gopher"), Some(1));
    /// ```
    pub fn with_config(shards: usize, capacity: usize, hash_builder: S) -> Self {
        let n = shards.clamp(1, MAX_SHARDS).next_power_of_two();
        // Keys do not spread perfectly evenly: give each shard 1/8 more than its share.
        let per_shard = capacity.div_ceil(n);
        let per_shard = per_shard + per_shard / 8;
        let shards =
            (0..n).map(|_| CachePadded::new(RwLock::new(GoMap::with_capacity_and_hasher(per_shard, ())))).collect();
        ShardedMap { shards, mask: n - 1, hash_builder }
    }

    /// The number of shards.
    ///
    /// ```
    /// let map: gomap::sync::ShardedMap<u8, u8> = gomap::sync::ShardedMap::with_shards(16);
    /// assert_eq!(map.shard_count(), 16);
    /// ```
    pub fn shard_count(&self) -> usize {
        self.shards.len()
    }

    /// Each shard's [`MapStats`], read in turn under its read lock (so they are not one
    /// snapshot of the whole map).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::with_shards(4);
    /// for i in 0..1000 {
    ///     map.insert(i, i);
    /// }
    /// let stats = map.shard_stats();
    /// assert_eq!(stats.len(), 4);
    /// assert_eq!(stats.iter().map(|s| s.len).sum::<usize>(), 1000);
    /// let bytes: usize = stats.iter().map(|s| s.bytes).sum();
    /// assert!(bytes >= 1000 * 16);
    /// ```
    pub fn shard_stats(&self) -> Vec<MapStats> {
        self.check();
        self.shards.iter().map(|shard| shard.read().stats()).collect()
    }

    /// The map's hasher.
    ///
    /// ```
    /// use std::collections::hash_map::RandomState;
    /// use std::hash::BuildHasher;
    ///
    /// let state = RandomState::new();
    /// let map: gomap::sync::ShardedMap<u8, u8, _> = gomap::sync::ShardedMap::with_config(4, 0, state.clone());
    /// assert_eq!(map.hasher().hash_one("gopher"), state.hash_one("gopher"));
    /// ```
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    #[inline]
    fn check(&self) {
        shim::check_not_held(address_of(self), REENTRANT);
    }

    #[inline]
    fn mark(&self) -> HeldMark {
        HeldMark::enter(address_of(self), REENTRANT)
    }

    /// `f` of every shard at once, all held under their read locks (one snapshot of the
    /// whole map; writers wait meanwhile). For `Serialize`, whose output must begin with
    /// the number of entries it then writes. Locks are taken in shard order, as `len`
    /// takes them, and a writer holds one lock at a time, so this cannot deadlock with
    /// them; `f` counts as running under the locks (re-entrant use panics).
    #[cfg(feature = "serde")]
    pub(crate) fn with_all_shards<R>(&self, f: impl FnOnce(&[&GoMap<K, V, ()>]) -> R) -> R {
        self.check();
        let guards: Vec<_> = self.shards.iter().map(|shard| shard.read()).collect();
        let maps: Vec<&GoMap<K, V, ()>> = guards.iter().map(|guard| &**guard).collect();
        let _mark = self.mark();
        f(&maps)
    }

    #[inline]
    fn shard(&self, hash: u64) -> &RwLock<GoMap<K, V, ()>> {
        &self.shards[(hash >> SHARD_SHIFT) as usize & self.mask]
    }

    /// The number of entries (the sum over the shards, each read in turn).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.insert("a", 3);
    /// assert_eq!(map.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.check();
        self.shards.iter().map(|shard| shard.read().len()).sum()
    }

    /// Whether the map has no entries.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// assert!(map.is_empty());
    /// map.insert("gopher", 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.check();
        self.shards.iter().all(|shard| shard.read().is_empty())
    }

    /// Removes every entry, shard by shard; each shard keeps its buckets (Go's `mapclear`).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert("a", 1);
    /// map.insert("b", 2);
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.get(&"a"), None);
    /// ```
    pub fn clear(&self) {
        self.check();
        for shard in self.shards.iter() {
            shard.write().clear();
        }
    }
}

impl<K, V, S> ShardedMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        self.hash_builder.hash_one(key)
    }

    /// The function the shards re-hash keys with when they grow: the same hash.
    #[inline]
    fn rehash(&self) -> impl Fn(&K) -> u64 + '_ {
        move |key| self.hash_builder.hash_one(key)
    }

    /// Inserts a key-value pair, returning the previous value of the key.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// assert_eq!(map.insert("gopher", 1), None);
    /// assert_eq!(map.insert("gopher", 2), Some(1));
    /// assert_eq!(map.get(&"gopher"), Some(2));
    /// ```
    #[inline]
    pub fn insert(&self, key: K, value: V) -> Option<V> {
        self.check();
        let hash = self.hash(&key);
        self.shard(hash).write().insert_prehashed(hash, key, value, &self.rehash())
    }

    /// A clone of the value of `key`. (`V::clone` runs under the shard's read lock.)
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert(String::from("gopher"), 1);
    /// assert_eq!(map.get("gopher"), Some(1));
    /// assert_eq!(map.get("crab"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
        V: Clone,
    {
        self.check();
        let hash = self.hash(key);
        self.shard(hash).read().get_prehashed(hash, key).cloned()
    }

    /// `f` of the value of `key`, seen in place under the shard's read lock.
    ///
    /// `f` must not use this map: it runs under the lock, so a call on the same map from
    /// inside it panics (it would deadlock).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert(1, String::from("gopher"));
    /// assert_eq!(map.get_with(&1, |s| s.len()), Some(6));
    /// ```
    #[inline]
    pub fn get_with<Q, R>(&self, key: &Q, f: impl FnOnce(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check();
        let hash = self.hash(key);
        let shard = self.shard(hash).read();
        let value = shard.get_prehashed(hash, key)?;
        let _mark = self.mark();
        Some(f(value))
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert("gopher", 1);
    /// assert!(map.contains_key(&"gopher"));
    /// assert!(!map.contains_key(&"crab"));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check();
        let hash = self.hash(key);
        self.shard(hash).read().get_prehashed(hash, key).is_some()
    }

    /// Removes `key`, returning its value.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert("gopher", 1);
    /// assert_eq!(map.remove(&"gopher"), Some(1));
    /// assert_eq!(map.remove(&"gopher"), None);
    /// assert!(map.is_empty());
    /// ```
    #[inline]
    pub fn remove<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check();
        let hash = self.hash(key);
        self.shard(hash).write().remove_prehashed(hash, key, &self.rehash())
    }

    /// Modifies the value of `key` in place, under the shard's write lock; `None` if the key
    /// is absent. `f` must not use this map (see [`get_with`](ShardedMap::get_with)).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// map.insert("a", 1);
    /// assert_eq!(map.update(&"a", |v| { *v += 1; *v }), Some(2));
    /// assert_eq!(map.update(&"b", |v| *v += 1), None);
    /// ```
    #[inline]
    pub fn update<Q, R>(&self, key: &Q, f: impl FnOnce(&mut V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.check();
        let hash = self.hash(key);
        let mut shard = self.shard(hash).write();
        let value = shard.get_mut_prehashed(hash, key)?;
        let _mark = self.mark();
        Some(f(value))
    }

    /// The entry-style read-modify-write: if `key` is present, `modify` its value, else
    /// insert `insert()`; one lookup under the shard's write lock. Neither closure may use
    /// this map (see [`get_with`](ShardedMap::get_with)). Returns whether the key was
    /// inserted.
    ///
    /// ```
    /// let words = gomap::sync::ShardedMap::new();
    /// for w in ["go", "rust", "go"] {
    ///     words.upsert(w, || 1, |n| *n += 1);
    /// }
    /// assert_eq!(words.get(&"go"), Some(2));
    /// ```
    #[inline]
    pub fn upsert(&self, key: K, insert: impl FnOnce() -> V, modify: impl FnOnce(&mut V)) -> bool {
        self.check();
        let hash = self.hash(&key);
        let mut shard = self.shard(hash).write();
        let _mark = self.mark();
        let (value, inserted) = shard.get_or_insert_with_prehashed(hash, key, insert, &self.rehash());
        if !inserted {
            modify(value);
        }
        inserted
    }

    /// Keeps only the entries for which `keep` returns true, one shard at a time under its
    /// write lock (so the result is not one atomic snapshot). `keep` must not use this map.
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::new();
    /// for i in 0..10 {
    ///     map.insert(i, i);
    /// }
    /// map.retain(|_, v| *v % 2 == 0);
    /// assert_eq!(map.len(), 5);
    /// assert!(map.contains_key(&4));
    /// assert!(!map.contains_key(&3));
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.check();
        let rehash = self.rehash();
        for shard in self.shards.iter() {
            let mut shard = shard.write();
            let _mark = self.mark();
            shard.retain_prehashed(&mut keep, &rehash);
        }
    }

    /// Shrinks every shard as [`GoMap::shrink_to_fit`] does, one at a time under its write
    /// lock: each moves its entries into the smallest array that holds them (O(len) in
    /// all; the shard being shrunk waits meanwhile, the others do not).
    ///
    /// ```
    /// let map = gomap::sync::ShardedMap::with_shards(4);
    /// for i in 0..10_000 {
    ///     map.insert(i, i);
    /// }
    /// map.retain(|k, _| *k < 100);
    /// let bytes = |map: &gomap::sync::ShardedMap<i32, i32>| map.shard_stats().iter().map(|s| s.bytes).sum::<usize>();
    /// let before = bytes(&map);
    /// map.shrink_to_fit();
    /// assert!(bytes(&map) < before / 10);
    /// assert_eq!(map.len(), 100);
    /// ```
    pub fn shrink_to_fit(&self) {
        self.check();
        let rehash = self.rehash();
        for shard in self.shards.iter() {
            shard.write().shrink_to_prehashed(0, &rehash);
        }
    }
}

impl<K: Clone, V: Clone, S> ShardedMap<K, V, S> {
    /// An iterator over clones of the entries, one shard at a time: it copies a shard's
    /// entries under its read lock, then yields them with no lock held (so the loop body
    /// may use the map). Each shard's part is a snapshot; the whole is not.
    ///
    /// ```
    /// let map: gomap::sync::ShardedMap<u32, u32> = gomap::sync::ShardedMap::new();
    /// for i in 0..10 {
    ///     map.insert(i, i * i);
    /// }
    /// for (k, v) in map.iter() {
    ///     map.insert(k, v + 1); // no deadlock: no lock is held here
    /// }
    /// assert_eq!(map.get(&3), Some(10)); // each key is visited once
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V, S> {
        Iter { map: self, next_shard: 0, batch: Vec::new().into_iter() }
    }
}

/// The iterator of [`ShardedMap::iter`]: clones of the entries, a shard at a time.
///
/// ```
/// let map = gomap::sync::ShardedMap::new();
/// map.insert(1, "a");
/// map.insert(2, "b");
/// let mut entries: Vec<(i32, &str)> = map.iter().collect();
/// entries.sort();
/// assert_eq!(entries, [(1, "a"), (2, "b")]);
/// ```
pub struct Iter<'a, K, V, S> {
    map: &'a ShardedMap<K, V, S>,
    next_shard: usize,
    batch: std::vec::IntoIter<(K, V)>,
}

impl<K: Clone, V: Clone, S> Iterator for Iter<'_, K, V, S> {
    type Item = (K, V);

    fn next(&mut self) -> Option<(K, V)> {
        loop {
            if let Some(entry) = self.batch.next() {
                return Some(entry);
            }
            let shard = self.map.shards.get(self.next_shard)?;
            self.next_shard += 1;
            self.map.check();
            let snapshot: Vec<(K, V)> = shard.read().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            self.batch = snapshot.into_iter();
        }
    }
}

impl<K, V, S: Default> Default for ShardedMap<K, V, S> {
    fn default() -> Self {
        Self::with_config(default_shards(), 0, S::default())
    }
}

/// A map of the default shard count, sized for the iterator's lower size hint. A key that
/// comes twice keeps its last value, as with repeated [`insert`](ShardedMap::insert)s.
///
/// ```
/// use gomap::sync::ShardedMap;
///
/// let map: ShardedMap<u32, u32> = (0..100).map(|i| (i % 10, i)).collect();
/// assert_eq!(map.len(), 10);
/// assert_eq!(map.get(&3), Some(93));
/// ```
impl<K: Eq + Hash, V, S: BuildHasher + Default> FromIterator<(K, V)> for ShardedMap<K, V, S> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let map = Self::with_config(default_shards(), iter.size_hint().0, S::default());
        (&map).extend(iter);
        map
    }
}

/// Inserts every pair, as [`insert`](ShardedMap::insert) does.
impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for ShardedMap<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

/// Inserts every pair through a shared reference, so that several threads can extend one
/// map at once.
///
/// ```
/// let map = gomap::sync::ShardedMap::new();
/// std::thread::scope(|s| {
///     for t in 0..2u64 {
///         let mut map = &map;
///         s.spawn(move || map.extend((0..100).map(|i| (t * 100 + i, i))));
///     }
/// });
/// assert_eq!(map.len(), 200);
/// ```
impl<K: Eq + Hash, V, S: BuildHasher> Extend<(K, V)> for &ShardedMap<K, V, S> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.insert(key, value);
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for ShardedMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.check();
        let mut map = f.debug_map();
        for shard in self.shards.iter() {
            map.entries(shard.read().iter());
        }
        map.finish()
    }
}

/// loom model of the locking: writers and readers of two shards, and an entry-style update.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::shim::Arc;
    use super::ShardedMap;
    use loom::thread;

    #[test]
    fn writers_and_readers() {
        loom::model(|| {
            let map = Arc::new(ShardedMap::with_shards(2));
            let other = Arc::clone(&map);
            let t = thread::spawn(move || {
                other.insert(1, 1);
                other.insert(2, 2);
            });
            let inserted = map.upsert(1, || 10, |v| *v += 10);
            let two = map.get(&2);
            t.join().unwrap();
            assert!(two.is_none() || two == Some(2));
            // upsert first (inserts 10), then insert: 1; insert first, then upsert: 11.
            assert_eq!(map.get(&1), Some(if inserted { 1 } else { 11 }));
            assert_eq!(map.len(), 2);
        });
    }
}

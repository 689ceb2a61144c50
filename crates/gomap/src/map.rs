//! [`GoMap`]: the std-like safe API over the raw table.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash, Hasher};
use core::ops::Index;

use crate::cursor::Cursor;
use crate::entry::{Entry, OccupiedEntry, VacantEntry};
use crate::iter::{Drain, ExtractIf, IntoIter, IntoKeys, IntoValues, Iter, IterMut, Keys, Range, Values, ValuesMut};
use crate::raw::{self, RawEntry, RawTable};
use crate::{MapStats, TryReserveError};

/// The default hasher: [foldhash](https://docs.rs/foldhash)'s `quality` variant, seeded randomly for
/// every map. (`foldhash::fast` is quicker by about one multiply per hash, but with sequential
/// keys it spreads them over buckets far less evenly than Go's hash, so overflow counts and
/// growth lengths would stop looking like Go's; pass it to `with_hasher` if that is fine.
/// Measured: the map writes its own seed into the hasher ahead of each key, and with
/// `fast`, 1,000 consecutive integers over 256 buckets put 25 or more keys in one bucket
/// for one seed in a hundred, and up to 144 (of 2,000 seeds); `quality`, like random hashes, at
/// most 16.)
///
/// ```
/// use std::hash::BuildHasher;
///
/// // Every map draws its own seed, as Go's maps do.
/// let (a, b) = (gomap::DefaultHashBuilder::default(), gomap::DefaultHashBuilder::default());
/// assert_ne!(a.hash_one(42u64), b.hash_one(42u64));
/// let map: gomap::GoMap<u64, u64> = gomap::GoMap::with_hasher(a);
/// assert!(map.is_empty());
/// ```
pub type DefaultHashBuilder = foldhash::quality::RandomState;

/// A hash map with Go 1.19's algorithm and `std::collections::HashMap`'s API.
///
/// Entries live in buckets of eight; when the map grows, entries move to the new bucket
/// array a few buckets at a time, on the writes that follow, so no single insert pays for
/// a whole rehash. See the [crate documentation](crate) for the design and the guarantees.
///
/// ```
/// use gomap::GoMap;
///
/// let mut ages = GoMap::new();
/// ages.insert("gopher", 13);
/// ages.insert("ferris", 9);
/// assert_eq!(ages.get("gopher"), Some(&13));
/// *ages.entry("ferris").or_insert(0) += 1;
/// assert_eq!(ages["ferris"], 10);
/// ```
pub struct GoMap<K, V, S = DefaultHashBuilder> {
    table: RawTable<K, V>,
    hash_builder: S,
}

/// The hash of `key` under `hash_builder`, with the map's seed mixed in first (Go's
/// `hash0`), so that the map can draw a new seed when it becomes empty.
#[inline]
pub(crate) fn make_hash<Q: Hash + ?Sized, S: BuildHasher>(hash_builder: &S, seed: u64, key: &Q) -> u64 {
    let mut state = hash_builder.build_hasher();
    state.write_u64(seed);
    key.hash(&mut state);
    state.finish()
}

/// The function the raw table re-hashes keys with when it moves them.
#[inline]
pub(crate) fn make_hasher<K: Hash, S: BuildHasher>(hash_builder: &S, seed: u64) -> impl Fn(&K) -> u64 + '_ {
    move |key| make_hash(hash_builder, seed, key)
}

#[inline]
fn equivalent<'q, K: Borrow<Q>, Q: Eq + ?Sized>(key: &'q Q) -> impl FnMut(&K) -> bool + 'q {
    move |stored| key == stored.borrow()
}

impl<K, V> GoMap<K, V, DefaultHashBuilder> {
    /// An empty map. Allocates nothing until the first insert.
    ///
    /// ```
    /// let map: gomap::GoMap<u64, String> = gomap::GoMap::new();
    /// assert!(map.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::with_hasher(DefaultHashBuilder::default())
    }

    /// An empty map sized like Go's `make(map[K]V, capacity)`: it holds `capacity` entries
    /// without growing. A capacity whose buckets could not fit in memory counts as 0, as
    /// in Go.
    ///
    /// The bucket array is allocated now. Of its memory, the pages of the control words
    /// (8 bytes per bucket of 8 slots) are made ready now, since every insert reads one
    /// before it writes it; the pages of the slots come as entries first land in them.
    ///
    /// ```
    /// let map: gomap::GoMap<u64, u64> = gomap::GoMap::with_capacity(1000);
    /// assert_eq!(map.stats().b, 8);
    /// assert!(map.capacity() >= 1000);
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        Self::with_capacity_and_hasher(capacity, DefaultHashBuilder::default())
    }
}

impl<K, V, S> GoMap<K, V, S> {
    /// An empty map that hashes with `hash_builder`.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let mut map = gomap::GoMap::with_hasher(RandomState::new());
    /// map.insert(1, 2);
    /// assert_eq!(map[&1], 2);
    /// ```
    pub fn with_hasher(hash_builder: S) -> Self {
        GoMap { table: RawTable::new(), hash_builder }
    }

    /// [`with_capacity`](GoMap::with_capacity) with a hasher.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let map: gomap::GoMap<u8, u8, _> = gomap::GoMap::with_capacity_and_hasher(10, RandomState::new());
    /// assert!(map.capacity() >= 10);
    /// ```
    pub fn with_capacity_and_hasher(capacity: usize, hash_builder: S) -> Self {
        GoMap { table: RawTable::with_capacity(capacity), hash_builder }
    }

    /// The map's hasher.
    ///
    /// ```
    /// use std::hash::RandomState;
    /// let map: gomap::GoMap<u8, u8, RandomState> = gomap::GoMap::with_hasher(RandomState::new());
    /// let _hasher: &RandomState = map.hasher();
    /// ```
    pub fn hasher(&self) -> &S {
        &self.hash_builder
    }

    /// The number of entries.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert('a', 1);
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the map has no entries.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// assert!(map.is_empty());
    /// map.insert('a', 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many entries the map holds before an insert of a new key starts a growth that
    /// doubles it: 8 for one bucket, else 6.5 per bucket. (A same-size growth, which
    /// compacts overflow chains, can start earlier.) Never less than [`len`](Self::len):
    /// as in Go, no growth starts while one is in progress, so new keys inserted during a
    /// same-size growth can take the map past 6.5 per bucket; its capacity is then its
    /// length, and the first new key after that growth starts a doubling.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// assert_eq!(map.capacity(), 8);
    /// for i in 0..9 {
    ///     map.insert(i, i);
    /// }
    /// assert_eq!(map.capacity(), 13);
    /// ```
    pub fn capacity(&self) -> usize {
        self.table.capacity()
    }

    /// Removes every entry, like Go's `mapclear`: a growth in progress is abandoned, the
    /// bucket array is kept (so the capacity stays), and the hash seed is drawn anew.
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = (0..100).map(|i| (i, i)).collect();
    /// let capacity = map.capacity();
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.capacity(), capacity);
    /// ```
    pub fn clear(&mut self) {
        self.table.clear();
    }

    /// An iterator over `(&K, &V)`. An unchanged map is always visited in the same order;
    /// for Go's randomized order, see [`range`](GoMap::range).
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// let mut pairs: Vec<_> = map.iter().collect();
    /// pairs.sort();
    /// assert_eq!(pairs, [(&1, &'a'), (&2, &'b')]);
    /// ```
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter::new(raw::Iter::new(&self.table))
    }

    /// An iterator over `(&K, &mut V)`.
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = [(1, 10), (2, 20)].into_iter().collect();
    /// for (_, v) in map.iter_mut() {
    ///     *v += 1;
    /// }
    /// assert_eq!(map[&2], 21);
    /// ```
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut::new(raw::IterMut::new(&mut self.table))
    }

    /// An iterator over `(&K, &V)` in Go's `range` order: from a random bucket and a random
    /// slot offset within each bucket, drawn anew on every call, so that no code comes to
    /// depend on an order. Costs the same as [`iter`](GoMap::iter).
    ///
    /// To change the map while walking it, as Go's `range` allows, use a
    /// [`cursor`](GoMap::cursor).
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = (0..8).map(|i| (i, i)).collect();
    /// let firsts: std::collections::HashSet<_> = (0..200).map(|_| *map.range().next().unwrap().0).collect();
    /// assert!(firsts.len() > 1); // 8 keys in one bucket: each is first 1 time in 8
    /// assert_eq!(map.range().count(), 8);
    /// ```
    pub fn range(&self) -> Range<'_, K, V> {
        Range::new(raw::Range::start(&self.table))
    }

    /// A [`Cursor`] over the map: Go's `range` loop, in which the map may be inserted into,
    /// removed from, updated, cleared and grown between steps, with Go's guarantees (each
    /// entry present throughout is produced exactly once, with its current value; removed
    /// entries are not produced; new ones at most once). The cursor holds no borrow.
    ///
    /// ```
    /// let mut map: gomap::GoMap<u32, u32> = (0..1000).map(|k| (k, k)).collect();
    /// let mut cursor = map.cursor();
    /// while let Some((&k, v)) = cursor.next(&mut map) {
    ///     *v += 1;
    ///     map.remove(&(k ^ 1)); // remove the partner: only one of each pair is produced
    /// }
    /// assert_eq!(map.len(), 500);
    /// ```
    pub fn cursor(&self) -> Cursor<K, V> {
        Cursor::new(raw::RawCursor::new(&self.table))
    }

    /// An iterator over the keys.
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = [(1, 'a')].into_iter().collect();
    /// assert_eq!(map.keys().collect::<Vec<_>>(), [&1]);
    /// ```
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys::new(self.iter())
    }

    /// An iterator over the values.
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = [(1, 'a')].into_iter().collect();
    /// assert_eq!(map.values().collect::<Vec<_>>(), [&'a']);
    /// ```
    pub fn values(&self) -> Values<'_, K, V> {
        Values::new(self.iter())
    }

    /// An iterator over mutable references to the values.
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = [(1, 10)].into_iter().collect();
    /// map.values_mut().for_each(|v| *v *= 2);
    /// assert_eq!(map[&1], 20);
    /// ```
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut::new(self.iter_mut())
    }

    /// Consumes the map, yielding its keys.
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = [(1, 'a')].into_iter().collect();
    /// assert_eq!(map.into_keys().collect::<Vec<_>>(), [1]);
    /// ```
    pub fn into_keys(self) -> IntoKeys<K, V> {
        IntoKeys::new(self.into_iter())
    }

    /// Consumes the map, yielding its values.
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = [(1, 'a')].into_iter().collect();
    /// assert_eq!(map.into_values().collect::<Vec<_>>(), ['a']);
    /// ```
    pub fn into_values(self) -> IntoValues<K, V> {
        IntoValues::new(self.into_iter())
    }

    /// Removes every entry, yielding them; the bucket array is kept. Entries not consumed
    /// are dropped with the iterator.
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = [(1, 'a'), (2, 'b')].into_iter().collect();
    /// let mut drained: Vec<_> = map.drain().collect();
    /// drained.sort();
    /// assert_eq!(drained, [(1, 'a'), (2, 'b')]);
    /// assert!(map.is_empty());
    /// ```
    pub fn drain(&mut self) -> Drain<'_, K, V> {
        Drain::new(raw::Drain::new(&mut self.table))
    }

    /// The map's internals: size, buckets, growth progress, tombstones, bytes. O(1).
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// for i in 0..1000 {
    ///     map.insert(i, i);
    /// }
    /// let stats = map.stats();
    /// assert_eq!(stats.len, 1000);
    /// assert_eq!(stats.buckets, 1 << stats.b);
    /// ```
    pub fn stats(&self) -> MapStats {
        self.table.stats()
    }
}

impl<K, V, S> GoMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    #[inline]
    fn hash<Q: Hash + ?Sized>(&self, key: &Q) -> u64 {
        make_hash(&self.hash_builder, self.table.seed(), key)
    }

    /// One step of `cursor` over this map (see [`Cursor::next`]).
    pub(crate) fn step_cursor(&mut self, cursor: &mut raw::RawCursor<K, V>) -> Option<(&K, &mut V)>
    where
        K: Clone,
    {
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        cursor.next(&mut self.table, hasher, |stored, noted| stored == noted)
    }

    /// Makes room for `additional` more entries without a growth that doubles the map. (A
    /// same-size growth, which compacts overflow chains, can still start on the way if the
    /// keys' hashes pile up in a few chains: Go's rule, see [`capacity`](Self::capacity).)
    ///
    /// If the map must get bigger, every entry moves to the new bucket array at once:
    /// unlike ordinary growth this is a bulk operation, O(len), best done up front.
    ///
    /// # Panics
    /// With "capacity overflow" if the new size overflows `usize` or the address space; a
    /// refused allocation goes to [`handle_alloc_error`](std::alloc::handle_alloc_error).
    /// See [`try_reserve`](Self::try_reserve) for the fallible version.
    ///
    /// ```
    /// let mut map: gomap::GoMap<u64, u64> = gomap::GoMap::new();
    /// map.reserve(100);
    /// assert!(map.capacity() >= 100);
    /// ```
    pub fn reserve(&mut self, additional: usize) {
        self.try_reserve(additional).unwrap_or_else(|e| e.raise());
    }

    /// Makes room for `additional` more entries without a doubling growth (as
    /// [`reserve`](Self::reserve)), or says why it cannot; the map is then unchanged. For
    /// sizes that come from outside (a length prefix in a message, a request's count), where
    /// `reserve` would abort the process.
    ///
    /// What it reports is the bucket array's allocation (and the O(len) scratch room for
    /// the hashes of the entries it moves). A table whose keys hash poorly can need more
    /// overflow buckets on the way than the new array's pool holds; those come in slabs of
    /// at most 512 KiB, allocated as an insert allocates them, and a refusal of one of
    /// those goes to [`handle_alloc_error`](std::alloc::handle_alloc_error).
    ///
    /// # Errors
    /// [`TryReserveError::CapacityOverflow`] if the new size overflows `usize` or cannot
    /// be addressed; [`TryReserveError::AllocError`] if the system refuses the memory.
    ///
    /// ```
    /// use gomap::{GoMap, TryReserveError};
    ///
    /// let mut map: GoMap<u64, u64> = (0..10).map(|i| (i, i)).collect();
    /// map.try_reserve(1000)?;
    /// assert!(map.capacity() >= 1010);
    /// assert_eq!(map.try_reserve(usize::MAX), Err(TryReserveError::CapacityOverflow));
    /// assert_eq!(map.len(), 10); // unchanged by the failure
    /// # Ok::<(), TryReserveError>(())
    /// ```
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), TryReserveError> {
        let needed = self.len().checked_add(additional).ok_or(TryReserveError::CapacityOverflow)?;
        if needed > self.capacity() {
            let b = raw::b_for_hint(needed);
            self.table.resize(b, &make_hasher(&self.hash_builder, self.table.seed()), raw::BulkResize::Reserve)?;
        }
        Ok(())
    }

    /// Shrinks the map into the smallest bucket array that holds its entries: `2^B` buckets
    /// for the `B` that Go's `make(map, len)` picks, with overflow buckets only where the
    /// keys' hashes force them. Go's maps never give memory back (golang/go#20135); this is
    /// how a `GoMap` does. An empty map gives back all of it.
    ///
    /// Like [`reserve`](Self::reserve), a bulk operation: every entry moves at once,
    /// O(len). It also ends a growth in progress, and compacts the overflow chains of a map
    /// that needs no smaller array. A map already in that shape is left alone.
    ///
    /// # Panics
    /// If `K::hash` panics; the map is then left as it was.
    ///
    /// ```
    /// let mut map: gomap::GoMap<u64, u64> = (0..10_000).map(|i| (i, i)).collect();
    /// map.retain(|&k, _| k < 100);
    /// let before = map.stats().bytes;
    /// map.shrink_to_fit();
    /// assert!(map.stats().bytes < before / 10);
    /// assert_eq!(map.len(), 100);
    /// assert_eq!(map.stats().b, 4); // Go's B for make(map, 100)
    /// ```
    pub fn shrink_to_fit(&mut self) {
        self.shrink_to(0);
    }

    /// Shrinks the map like [`shrink_to_fit`](Self::shrink_to_fit), but keeps room for at
    /// least `min_capacity` entries. If that needs as many buckets as the map has, it only
    /// compacts (as `shrink_to_fit` does for a map already at its size); if it needs more,
    /// it does nothing, as in std.
    ///
    /// # Panics
    /// If `K::hash` panics; the map is then left as it was.
    ///
    /// ```
    /// let mut map: gomap::GoMap<u64, u64> = gomap::GoMap::with_capacity(10_000);
    /// map.insert(1, 1);
    /// map.shrink_to(1_000);
    /// assert!(map.capacity() >= 1_000 && map.capacity() < 10_000);
    /// map.shrink_to(100_000); // needs a bigger array: nothing happens
    /// assert!(map.capacity() < 10_000);
    /// map.shrink_to(0);
    /// assert!(map.capacity() < 1_000);
    /// assert_eq!(map.get(&1), Some(&1));
    /// ```
    pub fn shrink_to(&mut self, min_capacity: usize) {
        self.table.shrink_to(min_capacity, &make_hasher(&self.hash_builder, self.table.seed()));
    }

    /// Inserts a key-value pair. If the key was present its value is replaced and the old
    /// value returned; the stored key is kept (as in std).
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// assert_eq!(map.insert(37, "a"), None);
    /// assert_eq!(map.insert(37, "b"), Some("a"));
    /// assert_eq!(map[&37], "b");
    /// ```
    #[inline]
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = self.hash(&key);
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        self.table.insert(hash, key, value, |new, stored| new == stored, &hasher)
    }

    /// A reference to the value of `key`.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(String::from("go"), 1);
    /// assert_eq!(map.get("go"), Some(&1));
    /// assert_eq!(map.get("rust"), None);
    /// ```
    #[inline]
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).map(|(_, v)| v)
    }

    /// The stored key and the value of `key`.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(1, 'a');
    /// assert_eq!(map.get_key_value(&1), Some((&1, &'a')));
    /// ```
    #[inline]
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.table.get(self.hash(key), equivalent(key))
    }

    /// A mutable reference to the value of `key`. A lookup: it does no growth work.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(1, 10);
    /// *map.get_mut(&1).unwrap() += 1;
    /// assert_eq!(map[&1], 11);
    /// ```
    #[inline]
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        self.table.get_mut(hash, equivalent(key)).map(|(_, v)| v)
    }

    /// Mutable references to the values of `N` keys at once, as std's
    /// `HashMap::get_disjoint_mut`: `None` for a key that is absent. A lookup: it does no
    /// growth work.
    ///
    /// # Panics
    /// With "duplicate keys found" if two of the keys find the same entry (two absent
    /// keys, equal or not, are fine).
    ///
    /// ```
    /// let mut map: gomap::GoMap<&str, u32> = [("a", 1), ("b", 2)].into_iter().collect();
    /// let [a, b, c] = map.get_disjoint_mut([&"a", &"b", &"c"]);
    /// std::mem::swap(a.unwrap(), b.unwrap());
    /// assert_eq!(c, None);
    /// assert_eq!((map["a"], map["b"]), (2, 1));
    /// ```
    ///
    /// ```should_panic
    /// let mut map: gomap::GoMap<u8, u8> = [(1, 1)].into_iter().collect();
    /// let _ = map.get_disjoint_mut([&1, &1]); // panics: duplicate keys found
    /// ```
    pub fn get_disjoint_mut<Q, const N: usize>(&mut self, keys: [&Q; N]) -> [Option<&mut V>; N]
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hashes = keys.map(|key| self.hash(key));
        self.table.get_disjoint_mut(hashes, |i, stored| keys[i] == stored.borrow())
    }

    /// Whether `key` is present.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(1, ());
    /// assert!(map.contains_key(&1));
    /// assert!(!map.contains_key(&2));
    /// ```
    #[inline]
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.get_key_value(key).is_some()
    }

    /// Removes `key`, returning its value. Like every write during a growth, it moves some
    /// entries to the new buckets first, even when the key is absent.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(1, 'a');
    /// assert_eq!(map.remove(&1), Some('a'));
    /// assert_eq!(map.remove(&1), None);
    /// ```
    // Always inlined, down to the raw table's common path: see `RawTable::remove`.
    #[inline(always)]
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`, returning the stored key and its value.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.insert(1, 'a');
    /// assert_eq!(map.remove_entry(&1), Some((1, 'a')));
    /// ```
    // Always inlined (see `remove`).
    #[inline(always)]
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.hash(key);
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        self.table.remove(hash, equivalent(key), &hasher)
    }

    /// The entry of `key`, for in-place manipulation.
    ///
    /// ```
    /// let mut counts = gomap::GoMap::new();
    /// for word in ["a", "b", "a"] {
    ///     *counts.entry(word).or_insert(0) += 1;
    /// }
    /// assert_eq!(counts["a"], 2);
    /// ```
    pub fn entry(&mut self, key: K) -> Entry<'_, K, V, S> {
        let hash = self.hash(&key);
        let seed = self.table.seed();
        let hash_builder = &self.hash_builder;
        let hasher = make_hasher(hash_builder, seed);
        match self.table.entry(hash, equivalent(&key), &hasher) {
            // As in std, the stored key stays and the one given is dropped.
            RawEntry::Occupied(raw) => Entry::Occupied(OccupiedEntry::new(raw)),
            RawEntry::Vacant(raw) => Entry::Vacant(VacantEntry::new(raw, key, hash_builder, seed)),
        }
    }

    /// Keeps only the entries for which `keep` returns true. A growth in progress is
    /// completed first (the walk is O(len) anyway).
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = (0..8).map(|i| (i, i * 10)).collect();
    /// map.retain(|&k, _| k % 2 == 0);
    /// assert_eq!(map.len(), 4);
    /// ```
    pub fn retain<F>(&mut self, mut keep: F)
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        self.extract_if(|k, v| !keep(k, v)).for_each(drop);
    }

    /// A lazy iterator that removes and yields the entries for which `pred` returns true;
    /// entries it does not reach (if dropped early) stay. A growth in progress is completed
    /// first.
    ///
    /// ```
    /// let mut map: gomap::GoMap<_, _> = (0..8).map(|i| (i, i)).collect();
    /// let mut odd: Vec<_> = map.extract_if(|k, _| k % 2 == 1).map(|(k, _)| k).collect();
    /// odd.sort();
    /// assert_eq!(odd, [1, 3, 5, 7]);
    /// assert_eq!(map.len(), 4);
    /// ```
    pub fn extract_if<F>(&mut self, pred: F) -> ExtractIf<'_, K, V, F>
    where
        F: FnMut(&K, &mut V) -> bool,
    {
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        ExtractIf::new(self.table.extract_if(&hasher), pred)
    }

    /// Completes a growth in progress now, instead of on the writes to come (which then
    /// run at full speed). Go can only advance a growth on writes (golang/go#51410).
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// for i in 0..1000 {
    ///     map.insert(i, i);
    /// }
    /// map.finish_growth();
    /// assert!(!map.stats().growing);
    /// ```
    pub fn finish_growth(&mut self) {
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        self.table.finish_growth(&hasher);
    }

    /// Evacuates up to `n` old buckets of a growth in progress, e.g. from idle time, and
    /// returns whether the map is done growing.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// for i in 0..833 {
    ///     map.insert(i, i); // the 833rd insert starts a growth from 128 to 256 buckets
    /// }
    /// assert!(map.stats().growing);
    /// while !map.evacuate_step(16) {}
    /// assert!(!map.stats().growing);
    /// ```
    pub fn evacuate_step(&mut self, n: usize) -> bool {
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        self.table.evacuate_step(n, &hasher)
    }

    /// Verifies every structural invariant of the table (counts, tophash bytes, the bucket
    /// of every key, the empty-rest markers, evacuation state), panicking with a
    /// description of the first one broken. O(len + buckets); a debugging aid, used by the
    /// test suite after every step.
    ///
    /// ```
    /// let map: gomap::GoMap<_, _> = (0..100).map(|i| (i, i)).collect();
    /// map.check_invariants();
    /// ```
    pub fn check_invariants(&self) {
        self.table.check_invariants(&make_hasher(&self.hash_builder, self.table.seed()));
    }
}

impl<K, V, S: Default> Default for GoMap<K, V, S> {
    /// An empty map.
    fn default() -> Self {
        Self::with_hasher(S::default())
    }
}

impl<K, V, S> Clone for GoMap<K, V, S>
where
    K: Clone + Hash,
    V: Clone,
    S: Clone + BuildHasher,
{
    /// A copy with the same bucket count and seed, not mid-growth. It is built chain by
    /// chain without hashing or comparing keys (only keys of old chains that a growth in
    /// progress has not moved yet are hashed), so it costs about one clone of each key and
    /// value. `hash_builder.clone()` must hash like the original, as `BuildHasher` expects.
    fn clone(&self) -> Self {
        let hasher = make_hasher(&self.hash_builder, self.table.seed());
        let table = self.table.clone_with(&hasher, |k, v| (k.clone(), v.clone()));
        GoMap { table, hash_builder: self.hash_builder.clone() }
    }
}

impl<K, V, S> GoMap<K, V, S> {
    /// One step of taking the map apart (see `RawTable::dismantle_some`): drops the entries
    /// of chains from number `*next` on until at least `min_entries`, or once there are
    /// none, gives back a piece of memory; true when nothing is left to give back.
    pub(crate) fn dismantle_some(&mut self, next: &mut usize, min_entries: usize) -> bool {
        self.table.dismantle_some(next, min_entries)
    }
}

impl<K: Hash, V, S: Clone + BuildHasher> GoMap<K, V, S> {
    /// An empty map with this one's hasher and seed, to
    /// [`copy_chains_into`](GoMap::copy_chains_into) (see `RawTable::empty_to_copy_into`).
    pub(crate) fn empty_to_copy_into(&self) -> Self {
        GoMap { table: self.table.empty_to_copy_into(), hash_builder: self.hash_builder.clone() }
    }

    /// Up to `pages` more pages of the control words of this map's array made ready for
    /// writes, from the one of bucket `*next` on (see `BucketArray::touch_control_pages`):
    /// for a map made by [`empty_to_copy_into`](GoMap::empty_to_copy_into).
    pub(crate) fn touch_control_pages(&mut self, next: &mut usize, pages: usize) {
        self.table.touch_control_pages(next, pages);
    }

    /// One part of a copy made in steps (see `RawTable::copy_chains`): `dup` of the entries
    /// of the chains from number `*next` on, into `into`, until at least `min_entries` were
    /// visited; whether every entry was. This map must not change between the parts;
    /// `into` may, but must lack the keys `dup` gives. After a part that panicked, the next
    /// must be `careful` (it then skips keys `into` has).
    pub(crate) fn copy_chains_into(
        &self,
        into: &mut Self,
        next: &mut usize,
        min_entries: usize,
        careful: bool,
        dup: impl FnMut(&K, &V) -> Option<(K, V)>,
    ) -> bool
    where
        K: Eq,
    {
        let hasher = make_hasher(&into.hash_builder, into.table.seed());
        self.table.copy_chains(&mut into.table, next, min_entries, careful, &hasher, K::eq, dup)
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for GoMap<K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K, V, S> PartialEq for GoMap<K, V, S>
where
    K: Eq + Hash,
    V: PartialEq,
    S: BuildHasher,
{
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Eq + Hash, V: Eq, S: BuildHasher> Eq for GoMap<K, V, S> {}

impl<K, Q, V, S> Index<&Q> for GoMap<K, V, S>
where
    K: Eq + Hash + Borrow<Q>,
    Q: Eq + Hash + ?Sized,
    S: BuildHasher,
{
    type Output = V;

    /// # Panics
    /// If the key is absent.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K, V, S> FromIterator<(K, V)> for GoMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher + Default,
{
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut map = GoMap::with_hasher(S::default());
        map.extend(iter);
        map
    }
}

impl<K, V, S> Extend<(K, V)> for GoMap<K, V, S>
where
    K: Eq + Hash,
    S: BuildHasher,
{
    /// Inserts every pair. An empty map is first sized for the iterator's lower bound; a
    /// map with entries grows incrementally as usual (no bulk rehash).
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        if self.is_empty() {
            self.reserve(iter.size_hint().0);
        }
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<'a, K, V, S> Extend<(&'a K, &'a V)> for GoMap<K, V, S>
where
    K: Eq + Hash + Copy,
    V: Copy,
    S: BuildHasher,
{
    fn extend<I: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: I) {
        self.extend(iter.into_iter().map(|(&k, &v)| (k, v)));
    }
}

impl<K, V, const N: usize> From<[(K, V); N]> for GoMap<K, V, DefaultHashBuilder>
where
    K: Eq + Hash,
{
    /// ```
    /// let map = gomap::GoMap::from([(1, 2), (3, 4)]);
    /// assert_eq!(map[&3], 4);
    /// ```
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

impl<'a, K, V, S> IntoIterator for &'a GoMap<K, V, S> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V, S> IntoIterator for &'a mut GoMap<K, V, S> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;

    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

impl<K, V, S> IntoIterator for GoMap<K, V, S> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;

    /// Consumes the map, yielding its entries.
    ///
    /// ```
    /// let map = gomap::GoMap::from([(1, 'a')]);
    /// assert_eq!(map.into_iter().collect::<Vec<_>>(), [(1, 'a')]);
    /// ```
    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter::new(raw::IntoIter::new(self.table))
    }
}

// ---------------------------------------------------------------------------------------------
// Crate-internal access for `gomap::sync::ShardedMap` (added by the sync module; the rest of
// this file does not depend on it).
//
// A shard is a `GoMap<K, V, ()>`: it has no hasher of its own. The sharded map hashes each key
// once with its own `BuildHasher`, picks the shard from some bits of that hash and passes the
// same hash here for the bucket and tophash. `hasher` must compute that same function: the
// table calls it to re-hash keys when it evacuates them during a growth. The map's own seed
// (`hash0`) is not used, so these maps must only ever be accessed through these methods (and
// the hash-free ones: len, iter, clear), never through `insert`/`get`, which need `S:
// BuildHasher` and so cannot be called on them anyway.
// ---------------------------------------------------------------------------------------------
impl<K: Eq, V> GoMap<K, V, ()> {
    /// [`GoMap::get`] with the hash computed by the caller, for lookups that run one at a
    /// time (under a lock: see `RawTable::get_one_at_a_time`).
    #[inline]
    pub(crate) fn get_prehashed<Q>(&self, hash: u64, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.table.get_one_at_a_time(hash, equivalent(key)).map(|(_, v)| v)
    }

    /// [`GoMap::get_mut`] with the hash computed by the caller.
    #[inline]
    pub(crate) fn get_mut_prehashed<Q>(&mut self, hash: u64, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.table.get_mut(hash, equivalent(key)).map(|(_, v)| v)
    }

    /// [`GoMap::insert`] with the hash computed by the caller.
    #[inline]
    pub(crate) fn insert_prehashed(&mut self, hash: u64, key: K, value: V, hasher: &impl Fn(&K) -> u64) -> Option<V> {
        self.table.insert(hash, key, value, |new, stored| new == stored, hasher)
    }

    /// [`GoMap::remove`] with the hash computed by the caller.
    #[inline]
    pub(crate) fn remove_prehashed<Q>(&mut self, hash: u64, key: &Q, hasher: &impl Fn(&K) -> u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Eq + ?Sized,
    {
        self.table.remove(hash, equivalent(key), hasher).map(|(_, v)| v)
    }

    /// The value of `key`, inserting `default()` first if the key is absent (one lookup, the
    /// write work of an insert); the flag tells whether it was inserted.
    #[inline]
    pub(crate) fn get_or_insert_with_prehashed(
        &mut self,
        hash: u64,
        key: K,
        default: impl FnOnce() -> V,
        hasher: &impl Fn(&K) -> u64,
    ) -> (&mut V, bool) {
        match self.table.entry(hash, equivalent(&key), hasher) {
            RawEntry::Occupied(raw) => (raw.into_mut(), false),
            RawEntry::Vacant(raw) => (raw.insert(key, default(), hasher).into_mut(), true),
        }
    }

    /// [`GoMap::shrink_to`] for a map whose hashes are computed by the caller.
    pub(crate) fn shrink_to_prehashed(&mut self, min_capacity: usize, hasher: &impl Fn(&K) -> u64) {
        self.table.shrink_to(min_capacity, hasher);
    }

    /// [`GoMap::retain`] for a map whose hashes are computed by the caller.
    pub(crate) fn retain_prehashed(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool, hasher: &impl Fn(&K) -> u64) {
        ExtractIf::new(self.table.extract_if(hasher), |k: &K, v: &mut V| !keep(k, v)).for_each(drop);
    }
}

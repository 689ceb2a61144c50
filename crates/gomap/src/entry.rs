//! [`Entry`], [`OccupiedEntry`] and [`VacantEntry`]: std's entry API.

use core::fmt;
use core::hash::{BuildHasher, Hash};

use crate::map::make_hasher;
use crate::raw::{RawOccupied, RawVacant};

/// A view into one key's place in a [`GoMap`](crate::GoMap), from
/// [`GoMap::entry`](crate::GoMap::entry). Finding the entry does the write work of a
/// growth in progress, as an insert would.
///
/// ```
/// use gomap::{Entry, GoMap};
///
/// let mut map = GoMap::new();
/// match map.entry("k") {
///     Entry::Occupied(_) => unreachable!(),
///     Entry::Vacant(v) => {
///         v.insert(1);
///     }
/// }
/// assert_eq!(map["k"], 1);
/// ```
pub enum Entry<'a, K, V, S> {
    /// The key is present.
    Occupied(OccupiedEntry<'a, K, V, S>),
    /// The key is absent.
    Vacant(VacantEntry<'a, K, V, S>),
}

/// A present key's entry.
///
/// ```
/// use gomap::{Entry, GoMap};
///
/// let mut map = GoMap::from([("k", 1)]);
/// if let Entry::Occupied(mut o) = map.entry("k") {
///     *o.get_mut() += 1;
///     assert_eq!(o.remove(), 2);
/// }
/// assert!(map.is_empty());
/// ```
pub struct OccupiedEntry<'a, K, V, S> {
    raw: RawOccupied<'a, K, V>,
    marker: core::marker::PhantomData<&'a S>,
}

/// An absent key's entry.
///
/// ```
/// use gomap::{Entry, GoMap};
///
/// let mut map: GoMap<&str, i32> = GoMap::new();
/// if let Entry::Vacant(v) = map.entry("k") {
///     assert_eq!(v.key(), &"k");
///     *v.insert(1) += 1;
/// }
/// assert_eq!(map["k"], 2);
/// ```
pub struct VacantEntry<'a, K, V, S> {
    raw: RawVacant<'a, K, V>,
    key: K,
    hash_builder: &'a S,
    seed: u64,
}

impl<'a, K, V, S> Entry<'a, K, V, S>
where
    K: Hash,
    S: BuildHasher,
{
    /// The value, inserting `default` if the key is absent.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// *map.entry("a").or_insert(0) += 5;
    /// assert_eq!(map["a"], 5);
    /// ```
    pub fn or_insert(self, default: V) -> &'a mut V {
        match self {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(default),
        }
    }

    /// The value, inserting `default()` if the key is absent.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.entry("a").or_insert_with(Vec::new).push(1);
    /// assert_eq!(map["a"], [1]);
    /// ```
    pub fn or_insert_with<F: FnOnce() -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => v.insert(default()),
        }
    }

    /// The value, inserting `default(&key)` if the key is absent.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// map.entry("four").or_insert_with_key(|k| k.len());
    /// assert_eq!(map["four"], 4);
    /// ```
    pub fn or_insert_with_key<F: FnOnce(&K) -> V>(self, default: F) -> &'a mut V {
        match self {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                let value = default(v.key());
                v.insert(value)
            }
        }
    }

    /// The entry's key.
    ///
    /// ```
    /// let mut map: gomap::GoMap<&str, u8> = gomap::GoMap::new();
    /// assert_eq!(map.entry("a").key(), &"a");
    /// ```
    pub fn key(&self) -> &K {
        match self {
            Entry::Occupied(o) => o.key(),
            Entry::Vacant(v) => v.key(),
        }
    }

    /// Runs `f` on the value if the key is present.
    ///
    /// ```
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// map.entry("a").and_modify(|v| *v += 1).or_insert(0);
    /// assert_eq!(map["a"], 2);
    /// ```
    pub fn and_modify<F: FnOnce(&mut V)>(self, f: F) -> Self {
        match self {
            Entry::Occupied(mut o) => {
                f(o.get_mut());
                Entry::Occupied(o)
            }
            vacant => vacant,
        }
    }

    /// Sets the value, inserting the key if absent, and returns the occupied entry.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// let entry = map.entry("a").insert_entry(1);
    /// assert_eq!(entry.get(), &1);
    /// ```
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
        match self {
            Entry::Occupied(mut o) => {
                o.insert(value);
                o
            }
            Entry::Vacant(v) => v.insert_entry(value),
        }
    }
}

impl<'a, K, V: Default, S> Entry<'a, K, V, S>
where
    K: Hash,
    S: BuildHasher,
{
    /// The value, inserting `V::default()` if the key is absent.
    ///
    /// ```
    /// let mut map: gomap::GoMap<&str, u32> = gomap::GoMap::new();
    /// *map.entry("a").or_default() += 1;
    /// assert_eq!(map["a"], 1);
    /// ```
    pub fn or_default(self) -> &'a mut V {
        self.or_insert_with(V::default)
    }
}

impl<'a, K, V, S> OccupiedEntry<'a, K, V, S> {
    pub(crate) fn new(raw: RawOccupied<'a, K, V>) -> Self {
        OccupiedEntry { raw, marker: core::marker::PhantomData }
    }

    /// The stored key.
    ///
    /// ```
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// assert_eq!(map.entry("a").key(), &"a");
    /// ```
    pub fn key(&self) -> &K {
        self.raw.key()
    }

    /// Removes the entry, returning the stored key and the value.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(o) = map.entry("a") {
    ///     assert_eq!(o.remove_entry(), ("a", 1));
    /// }
    /// ```
    pub fn remove_entry(self) -> (K, V) {
        self.raw.remove_entry()
    }

    /// The value.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(o) = map.entry("a") {
    ///     assert_eq!(o.get(), &1);
    /// }
    /// ```
    pub fn get(&self) -> &V {
        self.raw.get()
    }

    /// The value, mutably, for as long as the entry lives.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(mut o) = map.entry("a") {
    ///     *o.get_mut() = 5;
    /// }
    /// assert_eq!(map["a"], 5);
    /// ```
    pub fn get_mut(&mut self) -> &mut V {
        self.raw.get_mut()
    }

    /// The value, mutably, for as long as the map borrow.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(o) = map.entry("a") {
    ///     *o.into_mut() += 1;
    /// }
    /// assert_eq!(map["a"], 2);
    /// ```
    pub fn into_mut(self) -> &'a mut V {
        self.raw.into_mut()
    }

    /// Replaces the value, returning the old one.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(mut o) = map.entry("a") {
    ///     assert_eq!(o.insert(2), 1);
    /// }
    /// ```
    pub fn insert(&mut self, value: V) -> V {
        core::mem::replace(self.get_mut(), value)
    }

    /// Removes the entry, returning the value.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::from([("a", 1)]);
    /// if let Entry::Occupied(o) = map.entry("a") {
    ///     assert_eq!(o.remove(), 1);
    /// }
    /// ```
    pub fn remove(self) -> V {
        self.remove_entry().1
    }
}

impl<'a, K, V, S> VacantEntry<'a, K, V, S> {
    pub(crate) fn new(raw: RawVacant<'a, K, V>, key: K, hash_builder: &'a S, seed: u64) -> Self {
        VacantEntry { raw, key, hash_builder, seed }
    }

    /// The key that would be inserted.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map: gomap::GoMap<&str, u8> = gomap::GoMap::new();
    /// if let Entry::Vacant(v) = map.entry("a") {
    ///     assert_eq!(v.key(), &"a");
    /// }
    /// ```
    pub fn key(&self) -> &K {
        &self.key
    }

    /// Takes the key back, inserting nothing.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map: gomap::GoMap<String, u8> = gomap::GoMap::new();
    /// if let Entry::Vacant(v) = map.entry("a".to_string()) {
    ///     assert_eq!(v.into_key(), "a");
    /// }
    /// assert!(map.is_empty());
    /// ```
    pub fn into_key(self) -> K {
        self.key
    }
}

impl<'a, K: Hash, V, S: BuildHasher> VacantEntry<'a, K, V, S> {
    /// Inserts the value (starting a growth first if the map is full, as Go's insert
    /// would) and returns a mutable reference to it.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::new();
    /// if let Entry::Vacant(v) = map.entry("a") {
    ///     *v.insert(1) += 1;
    /// }
    /// assert_eq!(map["a"], 2);
    /// ```
    pub fn insert(self, value: V) -> &'a mut V {
        self.insert_entry(value).into_mut()
    }

    /// Inserts the value and returns the occupied entry.
    ///
    /// ```
    /// use gomap::Entry;
    /// let mut map = gomap::GoMap::new();
    /// if let Entry::Vacant(v) = map.entry("a") {
    ///     assert_eq!(v.insert_entry(1).key(), &"a");
    /// }
    /// ```
    pub fn insert_entry(self, value: V) -> OccupiedEntry<'a, K, V, S> {
        let hasher = make_hasher(self.hash_builder, self.seed);
        OccupiedEntry::new(self.raw.insert(self.key, value, &hasher))
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for Entry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entry::Occupied(o) => f.debug_tuple("Entry").field(o).finish(),
            Entry::Vacant(v) => f.debug_tuple("Entry").field(v).finish(),
        }
    }
}

impl<K: fmt::Debug, V: fmt::Debug, S> fmt::Debug for OccupiedEntry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OccupiedEntry").field("key", self.key()).field("value", self.get()).finish()
    }
}

impl<K: fmt::Debug, V, S> fmt::Debug for VacantEntry<'_, K, V, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VacantEntry").field(self.key()).finish()
    }
}

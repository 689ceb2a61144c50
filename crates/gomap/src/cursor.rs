//! [`Cursor`]: Go's `range` loop, with the map free to change between steps.

use core::fmt;
use core::hash::{BuildHasher, Hash};

use crate::raw::RawCursor;
use crate::GoMap;

/// A position in a [`GoMap`] that holds no borrow of it, from [`GoMap::cursor`]: Go's
/// `for k, v := range m`, in which the body may insert, remove and update.
///
/// Each call to [`next`](Cursor::next) takes the map and produces one entry. Between two
/// calls the map may be changed in any way: inserts, removes, updates, [`clear`],
/// growths of either kind, [`finish_growth`], [`evacuate_step`], [`reserve`],
/// [`shrink_to_fit`]. The cursor then keeps Go's guarantees for `range`:
///
/// 1. An entry present when the cursor was made, and not removed before the cursor reaches
///    it, is produced **exactly once**, with its value as it is at that moment.
/// 2. An entry removed before the cursor reaches it is **not** produced.
/// 3. An entry inserted after the cursor was made is produced **at most once**, or not at
///    all.
/// 4. A key removed and inserted again is a new entry (so, like any new entry, it may be
///    produced once more).
///
/// The order is unspecified and differs from one cursor to the next, as in Go.
///
/// Go's idioms and their gomap form:
///
/// ```
/// use gomap::GoMap;
///
/// let mut m: GoMap<u32, u32> = (0..100).map(|k| (k, k)).collect();
///
/// // for k := range m { if k%3 == 0 { delete(m, k) } }
/// let mut cursor = m.cursor();
/// while let Some((&k, _)) = cursor.next(&mut m) {
///     if k % 3 == 0 {
///         m.remove(&k);
///     }
/// }
/// assert_eq!(m.len(), 66);
///
/// // for k, v := range m { m[k+1000] = v } (inserting while ranging, even past a growth)
/// let before = m.len();
/// let mut cursor = m.cursor();
/// while let Some((&k, &mut v)) = cursor.next(&mut m) {
///     if k < 1000 {
///         m.insert(k + 1000, v);
///     }
/// }
/// assert_eq!(m.len(), 2 * before);
/// ```
///
/// (When only removal is wanted, [`GoMap::retain`] does it in one pass.)
///
/// # How it works
///
/// The cursor walks hash space rather than buckets, since growth replaces buckets but never
/// changes which hash interval a key belongs to. On entering a bucket's interval it copies
/// that bucket's keys (hence `K: Clone`) and notes their slots; each step produces the next
/// copied key that is still in the map. While the map has not moved anything since (no
/// growth work, resize or clear), the noted slot is used directly, after removals with a
/// check that it still holds the key; once entries have moved, the key is looked up again.
/// So a walk with no change costs about a key clone per entry more than [`GoMap::iter`],
/// and removing the key just produced (Go's delete-while-ranging) costs the removal, not a
/// lookup per step.
///
/// # Panics
///
/// [`next`](Cursor::next) panics if given a map other than the one the cursor came from
/// (a clone of it, or another map moved into its place, counts as another map).
///
/// [`clear`]: GoMap::clear
/// [`finish_growth`]: GoMap::finish_growth
/// [`evacuate_step`]: GoMap::evacuate_step
/// [`reserve`]: GoMap::reserve
/// [`shrink_to_fit`]: GoMap::shrink_to_fit
pub struct Cursor<K, V> {
    raw: RawCursor<K, V>,
}

impl<K, V> Cursor<K, V> {
    pub(crate) fn new(raw: RawCursor<K, V>) -> Self {
        Cursor { raw }
    }

    /// The next entry of the walk, with its current value; `None` when the walk is over.
    ///
    /// ```
    /// let mut map = gomap::GoMap::from([("a", 1), ("b", 2)]);
    /// let mut cursor = map.cursor();
    /// let mut sum = 0;
    /// while let Some((_, v)) = cursor.next(&mut map) {
    ///     *v *= 10;
    ///     sum += *v;
    /// }
    /// assert_eq!(sum, 30);
    /// assert_eq!(cursor.next(&mut map), None);
    /// ```
    ///
    /// # Panics
    ///
    /// If `map` is not the map the cursor came from.
    pub fn next<'m, S>(&mut self, map: &'m mut GoMap<K, V, S>) -> Option<(&'m K, &'m mut V)>
    where
        K: Eq + Hash + Clone,
        S: BuildHasher,
    {
        map.step_cursor(&mut self.raw)
    }
}

impl<K, V> fmt::Debug for Cursor<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cursor").finish_non_exhaustive()
    }
}

//! [`MapStats`]: a map's shape, in Go's terms.

/// A snapshot of a [`GoMap`](crate::GoMap)'s internals, from [`GoMap::stats`](crate::GoMap::stats).
///
/// Reading it is O(1): every field is a counter the map keeps anyway. Field names follow
/// the Go runtime's where gomap has one (given in each field's docs).
///
/// ```
/// use gomap::GoMap;
///
/// let mut map = GoMap::new();
/// for i in 0..9u32 {
///     map.insert(i, ());
/// }
/// // The 9th insert overfilled the single bucket and started a doubling growth.
/// let stats = map.stats();
/// assert_eq!((stats.len, stats.b, stats.buckets), (9, 1, 2));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct MapStats {
    /// Live entries (Go's `count`).
    pub len: usize,
    /// log2 of the number of buckets (Go's `B`).
    pub b: u8,
    /// Buckets in the current array: `2^b`.
    pub buckets: usize,
    /// Overflow buckets attached to the current array since the last growth started (Go's
    /// `noverflow`): exact while `b < 16`; from `b = 16` on it is incremented with
    /// probability `2^-(b-15)`, so it estimates `overflow buckets / 2^(b-15)`. Reaching
    /// `2^min(b, 15)` starts a same-size growth at the next insert of a new key.
    pub overflow_buckets: usize,
    /// Whether a growth is in progress (Go: `oldbuckets != nil`).
    pub growing: bool,
    /// Whether the growth in progress keeps the bucket count (Go's `sameSizeGrow` flag).
    pub same_size_growth: bool,
    /// Buckets of the old array while growing (Go's `noldbuckets`), else 0.
    pub old_buckets: usize,
    /// The evacuation mark (Go's `nevacuate`): every old bucket below it has been moved.
    /// 0 when not growing.
    pub evacuated: usize,
    /// Deleted slots not yet reclaimed (Go's `emptyOne` tombstones).
    pub tombstones: usize,
    /// `len / buckets`. A growth starts above 6.5 (above 8 for a single bucket).
    pub load_factor: f64,
    /// Heap bytes the table holds: bucket arrays (both, during a growth, less what has
    /// already been released) and separately allocated overflow buckets. Large arrays are
    /// mapped from the system directly, so a counting global allocator does not see them.
    pub bytes: usize,
}

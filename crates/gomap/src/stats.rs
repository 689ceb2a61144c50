//! [`MapStats`]: a map's shape, in Go's terms, and [`GrowthCounters`]: what its growths did.

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
    /// Heap bytes the table holds: bucket arrays with the slabs their lone overflow buckets
    /// come from (both arrays during a growth, less what has already been released; after
    /// it, the old array's remains and their small bookkeeping record, until the last is
    /// released). Large arrays and the slabs are mapped from the system directly, so a
    /// counting global allocator does not see them.
    pub bytes: usize,
    /// Running totals of the map's growth work since it was created.
    pub growth: GrowthCounters,
}

/// Running totals of a map's growth work, in [`MapStats::growth`].
///
/// Always on and cheap: plain integer increments on the growth paths (starting a growth,
/// evacuating an old bucket, attaching an overflow bucket), never on a lookup or on a write
/// while no growth is in progress. They count from the map's creation: [`GoMap::clear`]
/// keeps them, a clone starts from zero.
///
/// Every growth that starts either finishes, is abandoned, or is still in progress:
///
/// ```
/// use gomap::GoMap;
///
/// let mut map = GoMap::new();
/// for i in 0..1665u64 {
///     map.insert(i, i); // the 1665th insert starts the 9th doubling, 256 -> 512 buckets
/// }
/// let g = map.stats().growth;
/// assert_eq!(g.doublings_started, 9);
/// assert_eq!(g.growths_started(), g.growths_finished() + g.growths_abandoned + 1);
///
/// map.finish_growth();
/// let g = map.stats().growth;
/// assert_eq!(g.doublings_finished, 9);
/// // Each growth evacuated every bucket of its old array: 1 + 2 + 4 + ... + 256.
/// assert_eq!(g.buckets_evacuated, (1 << 9) - 1);
/// assert!(g.evacuated_explicitly > 0); // finish_growth did most of the last one
/// ```
///
/// [`GoMap::clear`]: crate::GoMap::clear
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GrowthCounters {
    /// Doubling growths started (`B` → `B + 1`): an insert of a new key found the map over
    /// the load factor (Go's `hashGrow` after `overLoadFactor`).
    pub doublings_started: u64,
    /// Doubling growths whose evacuation completed.
    pub doublings_finished: u64,
    /// Same-size growths started (`B` kept): an insert of a new key found about as many
    /// overflow buckets as buckets (Go's `tooManyOverflowBuckets`).
    pub same_size_started: u64,
    /// Same-size growths whose evacuation completed.
    pub same_size_finished: u64,
    /// Growths that ended before their evacuation completed: [`GoMap::clear`] and
    /// [`GoMap::drain`] drop the old array (as Go's `mapclear` does), and
    /// [`GoMap::reserve`] moves every entry at once into a fresh array.
    ///
    /// [`GoMap::clear`]: crate::GoMap::clear
    /// [`GoMap::drain`]: crate::GoMap::drain
    /// [`GoMap::reserve`]: crate::GoMap::reserve
    pub growths_abandoned: u64,
    /// Old buckets (each with its overflow chain) moved to the new array by incremental
    /// evacuation: `evacuated_by_writes + evacuated_explicitly`. A growth from `2^B` buckets
    /// that finishes evacuates exactly `2^B`.
    pub buckets_evacuated: u64,
    /// Of `buckets_evacuated`, those moved by the work every write does during a growth
    /// (Go's `growWork`: inserts, updates, removes, entry lookups for writing).
    pub evacuated_by_writes: u64,
    /// Of `buckets_evacuated`, those moved on request: [`GoMap::finish_growth`],
    /// [`GoMap::evacuate_step`], and [`GoMap::retain`] / [`GoMap::extract_if`], which
    /// finish a growth first. Go has no such path.
    ///
    /// [`GoMap::finish_growth`]: crate::GoMap::finish_growth
    /// [`GoMap::evacuate_step`]: crate::GoMap::evacuate_step
    /// [`GoMap::retain`]: crate::GoMap::retain
    /// [`GoMap::extract_if`]: crate::GoMap::extract_if
    pub evacuated_explicitly: u64,
    /// Entries moved by incremental evacuation (a bulk [`reserve`](crate::GoMap::reserve)
    /// or [`shrink_to`](crate::GoMap::shrink_to) is not counted here, see `bulk_resizes`).
    pub entries_moved: u64,
    /// Writes that did growth work: every write while a growth is in progress, including
    /// the insert that started it. The writes a growth took, summed over all growths.
    pub growth_writes: u64,
    /// Overflow buckets linked to a full chain (Go's `newoverflow`), whether taken from an
    /// array's preallocated pool or beyond it. Exact at every `B`, unlike
    /// [`MapStats::overflow_buckets`], and never reset by a growth.
    pub overflow_allocated: u64,
    /// Of `overflow_allocated`, those taken beyond the array's preallocated pool (from
    /// slabs of memory the array allocates as it needs them; Go allocates each on its own).
    pub overflow_allocated_separately: u64,
    /// Times [`GoMap::reserve`](crate::GoMap::reserve) moved every entry at once into a
    /// bigger array, or [`GoMap::shrink_to`](crate::GoMap::shrink_to) into a smaller or
    /// compacted one.
    pub bulk_resizes: u64,
}

impl GrowthCounters {
    /// Growths started, of both kinds.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// for i in 0..100u64 {
    ///     map.insert(i, i);
    /// }
    /// let stats = map.stats();
    /// assert_eq!(stats.b, 4); // from B = 0, one doubling at a time
    /// assert_eq!(stats.growth.doublings_started, 4);
    /// assert_eq!(stats.growth.growths_started(), 4 + stats.growth.same_size_started);
    /// ```
    pub fn growths_started(&self) -> u64 {
        self.doublings_started + self.same_size_started
    }

    /// Growths finished, of both kinds.
    ///
    /// ```
    /// let mut map = gomap::GoMap::new();
    /// for i in 0..100u64 {
    ///     map.insert(i, i);
    /// }
    /// map.finish_growth();
    /// let growth = map.stats().growth;
    /// assert_eq!(growth.growths_finished(), growth.growths_started());
    /// ```
    pub fn growths_finished(&self) -> u64 {
        self.doublings_finished + self.same_size_finished
    }
}

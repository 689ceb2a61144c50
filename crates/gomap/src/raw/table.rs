//! `RawTable`: Go's `hmap` fields, and lookup, insert, delete and clear over them.
//!
//! Every function takes the hash already computed (the safe layer owns the hasher) and,
//! where the operation may evacuate, a `hasher` closure to re-hash keys that move.

use core::marker::PhantomData;
use core::mem;
use core::ptr;

use super::alloc::{lone_bytes, ArrayView, BucketArray, Pages, RETIRE_STEP};
use super::bucket::{BucketRef, BUCKET_CNT, EMPTY_ONE, EMPTY_REST};
use super::cursor::CursorTag;
use super::group::Probe;
use super::observe::Observer;
use super::random_u64;
use crate::TryReserveError;

/// Go's load factor 6.5, as the integer fraction 13/2 so that every check is exact:
/// `2^b` buckets hold `13 * 2^(b-1)` entries.
const LOAD_FACTOR_NUM: usize = 13;

/// Go's `overLoadFactor`: would `count` entries be too many for `2^b` buckets?
///
/// A single bucket holds 8 entries; from `b = 1` on the bound is `6.5 * 2^b`, i.e.
/// `13 * 2^(b-1)` (Go: `count > 8 && count > 13 * (2^b / 2)`). Both comparisons are strict.
#[inline]
pub(crate) fn over_load_factor(count: usize, b: u8) -> bool {
    count > capacity_for(b)
}

/// The two triggers of a growth for one size `b`, computed when the size changes because
/// every insert of a new key checks them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) struct GrowthLimits {
    /// The most entries before a doubling ([`over_load_factor`]).
    pub(super) entries: usize,
    /// Go's `tooManyOverflowBuckets`: about as many overflow buckets as regular ones. The
    /// threshold stops at 2^15 because `noverflow` is a u16 (and only estimated from
    /// b = 16).
    overflow: u16,
}

impl GrowthLimits {
    pub(super) fn for_b(b: u8) -> Self {
        GrowthLimits { entries: capacity_for(b), overflow: 1 << b.min(15) }
    }
}

/// The smallest `b` whose buckets hold `hint` entries (Go's `makemap`).
pub(crate) fn b_for_hint(hint: usize) -> u8 {
    let mut b = 0;
    while over_load_factor(hint, b) {
        b += 1;
    }
    b
}

/// The most entries `2^b` buckets hold before an insert of a new key starts a growth;
/// `usize::MAX` where that number does not fit a `usize` (no such array can be had).
#[inline]
pub(crate) fn capacity_for(b: u8) -> usize {
    match b {
        0 => BUCKET_CNT,
        // `13 << (b - 1)`, shifted in a u128 so that no size overflows: the bound stops
        // fitting a usize at b = 62 on 64-bit targets, at b = 30 on 32-bit ones.
        1..=64 => usize::try_from((LOAD_FACTOR_NUM as u128) << (b - 1)).unwrap_or(usize::MAX),
        _ => usize::MAX,
    }
}

/// A slot: a bucket and an index in it.
pub(crate) struct Slot<K, V> {
    pub(crate) bucket: BucketRef<K, V>,
    pub(crate) index: usize,
}

impl<K, V> Clone for Slot<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Slot<K, V> {}

impl<K, V> Slot<K, V> {
    #[inline]
    pub(crate) fn key(self) -> *mut K {
        self.bucket.key_ptr(self.index)
    }

    #[inline]
    pub(crate) fn value(self) -> *mut V {
        self.bucket.value_ptr(self.index)
    }

    #[inline]
    pub(crate) fn tophash(self) -> u8 {
        self.bucket.tophash(self.index)
    }

    #[inline]
    pub(crate) fn set_tophash(self, top: u8) {
        self.bucket.set_tophash(self.index, top)
    }
}

/// What one bucket says about a key searched for in its chain.
enum Search<K, V> {
    /// The key is in this slot.
    Found(Slot<K, V>),
    /// The key is not in the chain: the bucket has an `EMPTY_REST` slot.
    Absent,
    /// The key is not in this bucket; the chain may go on.
    GoOn,
}

/// The next free slot of a chain being filled in order (by an evacuation or a copy), which
/// starts empty and has no other writer meanwhile.
pub(super) struct NextFree<K, V> {
    bucket: BucketRef<K, V>,
    index: usize,
}

impl<K, V> NextFree<K, V> {
    /// Filling starts at slot 0 of the chain's first bucket.
    pub(super) fn new(head: BucketRef<K, V>) -> Self {
        NextFree { bucket: head, index: 0 }
    }

    /// The next free slot, after attaching an overflow bucket to the chain if its last one
    /// is full. The caller fills the slot before asking for another.
    #[inline(always)]
    pub(super) fn take(
        &mut self,
        overflow: &mut Overflow,
        array: &mut BucketArray<K, V>,
        observer: &mut Observer,
    ) -> Slot<K, V> {
        if self.index == BUCKET_CNT {
            self.bucket = overflow.attach(array, self.bucket, observer);
            self.index = 0;
        }
        self.index += 1;
        Slot { bucket: self.bucket, index: self.index - 1 }
    }
}

/// Where a new key goes: the first empty slot of its chain, if the chain has one (else a
/// new overflow bucket will be attached). Small, so that it stays in registers.
pub(crate) type InsertPos<K, V> = Option<Slot<K, V>>;

/// Go's overflow-bucket bookkeeping, kept apart from the arrays so that evacuation can
/// attach buckets to the new array while it walks the old one.
pub(crate) struct Overflow {
    /// Overflow buckets attached since the growth started: exact below b = 16, estimated
    /// above (Go's `noverflow`).
    pub(super) noverflow: u16,
    /// State of the generator behind the estimate.
    rng: u64,
}

impl Overflow {
    /// Links a new overflow bucket after `last`, the last bucket of a chain of `array`
    /// (Go's `newoverflow`): from the array's preallocated pool while it lasts, then a lone
    /// bucket from the array's slabs.
    pub(super) fn attach<K, V>(
        &mut self,
        array: &mut BucketArray<K, V>,
        last: BucketRef<K, V>,
        observer: &mut Observer,
    ) -> BucketRef<K, V> {
        let (bucket, separately) = match array.take_pool_bucket() {
            Some(bucket) => (bucket, false),
            None => (array.alloc_lone(), true),
        };
        observer.note_overflow(array.b(), separately);
        self.count(array.b());
        array.view().set_overflow(last, bucket.ctrl);
        bucket
    }

    /// Go's `incrnoverflow`: exact below b = 16; above, counts with probability
    /// 2^-(b-15), so that reaching 2^15 still means about 2^b overflow buckets.
    fn count(&mut self, b: u8) {
        if b < 16 {
            self.noverflow = self.noverflow.saturating_add(1);
        } else {
            // xorshift64: only the low bits are used, and they are mixed well enough for a
            // probabilistic counter.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let mask = (1u64 << (b - 15).min(63)) - 1;
            if self.rng & mask == 0 {
                self.noverflow = self.noverflow.saturating_add(1);
            }
        }
    }
}

/// The hash table proper: Go's `hmap`, with the hash function left to the caller.
pub(crate) struct RawTable<K, V> {
    /// Live entries (Go's `count`).
    pub(super) count: usize,
    /// log2 of the number of regular buckets (Go's `B`).
    pub(super) b: u8,
    /// The growth in progress keeps the bucket count (Go's `sameSizeGrow` flag).
    pub(super) same_size_grow: bool,
    /// Go's `noverflow`, and the lone overflow buckets.
    pub(super) overflow: Overflow,
    /// When an insert starts a growth, for this `b` (set with it: [`RawTable::set_b`]).
    pub(super) limits: GrowthLimits,
    /// The per-map hash seed (Go's `hash0`), mixed into every hash by the safe layer;
    /// drawn anew whenever the map becomes empty.
    pub(super) seed: u64,
    /// The current array. Unallocated while the map is empty and `b == 0`.
    pub(super) buckets: BucketArray<K, V>,
    /// The previous array while a growth is in progress (Go's `oldbuckets`).
    pub(super) old: Option<BucketArray<K, V>>,
    /// Every old bucket below this index is evacuated (Go's `nevacuate`).
    pub(super) nevacuate: usize,
    /// The old array of a finished growth while its memory is given back, a piece per
    /// write ([`BucketArray::release_some`]), so that no single write pays for it all.
    /// Boxed: it is rarely there, and the table header stays 120 bytes smaller (it is
    /// repeated in every shard of a `ShardedMap`).
    pub(super) retired: Option<Box<BucketArray<K, V>>>,
    /// `EMPTY_ONE` slots in the current array and in unevacuated old chains.
    pub(super) tombstones: usize,
    /// Growth counters and events (`observe`).
    pub(super) observer: Observer,
    /// Identity and slot-layout generation, for cursors (`cursor`).
    pub(super) cursor: CursorTag,
    pub(super) marker: PhantomData<(K, V)>,
}

// SAFETY: the table owns its keys and values like a `Vec<(K, V)>` would; the raw pointers
// inside point only into memory the table owns.
unsafe impl<K: Send, V: Send> Send for RawTable<K, V> {}
// SAFETY: `&RawTable` only gives out `&K` and `&V`, and `&self` methods never mutate.
unsafe impl<K: Sync, V: Sync> Sync for RawTable<K, V> {}

impl<K, V> RawTable<K, V> {
    /// An empty table that allocates nothing until the first insert.
    pub(crate) fn new() -> Self {
        Self::with_b(0)
    }

    /// An empty table for `hint` entries, sized as Go's `make(map, hint)`: a hint whose
    /// buckets would not fit in memory counts as 0, as in Go.
    pub(crate) fn with_capacity(hint: usize) -> Self {
        /// Go's `maxAlloc` on 64-bit Linux: larger hints are ignored.
        const MAX_ALLOC: u128 = 1 << 48;
        let bucket_size = lone_bytes::<K, V>() as u128;
        let hint = if hint as u128 * bucket_size > MAX_ALLOC.min(isize::MAX as u128) { 0 } else { hint };
        Self::with_b(b_for_hint(hint))
    }

    /// An empty table of size `b`: the pages of its array's control words come now, the
    /// rest as they are first touched ([`try_to_hold`](Self::try_to_hold)).
    ///
    /// # Panics
    /// As [`BucketArray::new`], if the array cannot be had.
    pub(super) fn with_b(b: u8) -> Self {
        Self::try_to_hold(b, 0).unwrap_or_else(|e| e.raise())
    }

    /// An empty table of size `b` whose pages all come as they are first touched: for a
    /// table filled a step at a time while other operations go on (`SyncMap`'s copy of
    /// its read-only map), where no one step may pay for the whole array, not even the
    /// 1/18 of it that is control words ([`Pages::ControlNow`] would fault those in at
    /// once: 2 ms at three million entries, inside one store). The steps make the control
    /// words' pages ready a few at a time instead ([`touch_control_pages`](Self::touch_control_pages)).
    pub(super) fn to_fill_in_steps(b: u8) -> Self {
        Self::with_buckets(b, if b == 0 { BucketArray::empty() } else { BucketArray::new(b) })
    }

    /// See [`BucketArray::touch_control_pages`]: for the current array (nothing while
    /// none is allocated).
    pub(crate) fn touch_control_pages(&mut self, next: &mut usize, pages: usize) {
        if !self.buckets.is_unallocated() {
            self.buckets.touch_control_pages(next, pages);
        }
    }

    /// An empty table of size `b` about to receive `count` entries (a copy, a bulk move),
    /// or why its array could not be had. With an entry per bucket or more, every page of
    /// the array gets written (a 4 KiB page of `u64` slots spans 32 buckets), so its pages
    /// come all at once; a sparser table keeps its untouched slot pages unmapped, but has
    /// the pages of its control words now, since every insert reads a control word before
    /// it writes one ([`Pages::ControlNow`]). With no entries, as [`with_b`](Self::with_b).
    pub(super) fn try_to_hold(b: u8, count: usize) -> Result<Self, TryReserveError> {
        let buckets = match count {
            0 if b == 0 => BucketArray::empty(),
            _ if count >> b != 0 => BucketArray::try_new(b, Pages::Now)?,
            _ => BucketArray::try_new(b, Pages::ControlNow)?,
        };
        Ok(Self::with_buckets(b, buckets))
    }

    /// An empty table of size `b` over `buckets`, an array for `2^b` buckets (or none).
    fn with_buckets(b: u8, buckets: BucketArray<K, V>) -> Self {
        RawTable {
            count: 0,
            b,
            same_size_grow: false,
            overflow: Overflow { noverflow: 0, rng: random_u64() | 1 },
            limits: GrowthLimits::for_b(b),
            seed: random_u64(),
            buckets,
            old: None,
            nevacuate: 0,
            retired: None,
            tombstones: 0,
            observer: Observer::default(),
            cursor: CursorTag::new(),
            marker: PhantomData,
        }
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// The hash seed the caller must mix into every hash.
    #[inline]
    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// Entries that fit before an insert of a new key starts a doubling growth, and never
    /// fewer than the table holds: no growth starts while one is in progress, so inserts
    /// during a same-size growth can take `count` past the load factor's bound (the first
    /// insert of a new key after that growth then starts a doubling).
    pub(crate) fn capacity(&self) -> usize {
        self.limits.entries.max(self.count)
    }

    #[inline]
    pub(super) fn mask(&self) -> usize {
        self.buckets.mask()
    }

    /// The chain a lookup of `hash` searches: the old one while it is not yet evacuated.
    #[inline(always)]
    fn lookup_chain(&self, hash: u64) -> (&BucketArray<K, V>, BucketRef<K, V>) {
        if let Some(old) = &self.old {
            let oi = hash as usize & old.mask();
            // Buckets below the mark are evacuated (and may be unmapped): no need to look.
            if oi >= self.nevacuate && !old.bucket(oi).is_evacuated() {
                return (old, old.bucket(oi));
            }
        }
        (&self.buckets, self.chain_of(hash))
    }

    /// Searches one bucket for the key with the probe's tophash that `eq` accepts.
    #[inline(always)]
    fn find_in_bucket(b: BucketRef<K, V>, probe: Probe, eq: &mut impl FnMut(&K) -> bool) -> Search<K, V> {
        let group = b.group();
        // An EMPTY_REST slot never matches (its tophash is 0), and everything after it
        // is EMPTY_REST too, so the candidates need no cut-off.
        for index in group.match_tophash(probe) {
            let slot = Slot { bucket: b, index };
            // SAFETY: a slot whose tophash is a real tophash (>= 5) holds a key.
            if eq(unsafe { &*slot.key() }) {
                return Search::Found(slot);
            }
        }
        if group.match_empty_rest().any() {
            Search::Absent
        } else {
            Search::GoOn
        }
    }

    /// Searches one chain of `array` for the key with the probe's tophash that `eq` accepts.
    #[inline(always)]
    fn find_in_chain(
        array: &BucketArray<K, V>,
        mut b: BucketRef<K, V>,
        probe: Probe,
        eq: &mut impl FnMut(&K) -> bool,
    ) -> Option<Slot<K, V>> {
        loop {
            match Self::find_in_bucket(b, probe, eq) {
                Search::Found(slot) => return Some(slot),
                Search::Absent => return None,
                Search::GoOn => {}
            }
            // The array by reference: its links are looked up only by chains that go on.
            b = array.view().next(b)?;
            // An overflow bucket is reached through its link, so its control word is a miss
            // too: asking for its slots now overlaps the two. (At 6.1 entries per bucket and
            // 3.2e6 keys, hits 10% faster, misses 6% slower; no change at 1e6 keys, 3.8 per
            // bucket, where few chains go on.)
            b.prefetch();
        }
    }

    /// Go's `mapaccess`: never mutates, and reads the old chain while it is unevacuated.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<Slot<K, V>> {
        // No prefetch of the head's slots (see the module documentation): a miss would pay
        // for a line it never reads (BENCHMARKS, run U).
        self.find_with::<false>(hash, eq)
    }

    /// `find`, asking for the head's first line of slots along with its control word if
    /// `PREFETCH`.
    #[inline(always)]
    fn find_with<const PREFETCH: bool>(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Option<Slot<K, V>> {
        if self.count == 0 {
            return None;
        }
        if self.old.is_some() {
            return self.find_growing(hash, eq);
        }
        let chain = self.chain_of(hash);
        if PREFETCH {
            chain.prefetch();
        }
        Self::find_in_chain(&self.buckets, chain, Probe::of_hash(hash), &mut eq)
    }

    /// `find` during a growth, out of line: a caller's loop of lookups then holds only the
    /// current array's fields in registers, and the compiler hoists the growth test out of
    /// the loop (inline, the old array's fields spilled two others to the stack; in-cache
    /// misses 1.24-1.31 -> 1.11-1.19x hashbrown, hits at 1e6 keys 1.08-1.12 -> 1.04-1.05x:
    /// BENCHMARKS, run U).
    #[cold]
    #[inline(never)]
    fn find_growing(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Option<Slot<K, V>> {
        let (array, chain) = self.lookup_chain(hash);
        Self::find_in_chain(array, chain, Probe::of_hash(hash), &mut eq)
    }

    /// Shared access to a found entry.
    #[inline(always)]
    pub(crate) fn get(&self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<(&K, &V)> {
        let slot = self.find(hash, eq)?;
        // SAFETY: `find` returns occupied slots; the references live as long as `&self`,
        // during which nothing can mutate the table.
        Some(unsafe { (&*slot.key(), &*slot.value()) })
    }

    /// `get` for lookups that run one at a time: `ShardedMap`'s, each after the locked
    /// instruction that takes its shard's read lock, which on x86_64 waits for every earlier
    /// memory access, so no two lookups overlap. A lookup's latency is then its whole cost,
    /// and asking for the head's slots with its control word overlaps a hit's two cache
    /// misses, where a loop of independent lookups would rather not fetch a line a miss
    /// never reads (ReadHeavy, 75 % hits: 24.0-24.9 Mops/s without, 28.6-30.1 with;
    /// BENCHMARKS, run U).
    #[inline(always)]
    pub(crate) fn get_one_at_a_time(&self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<(&K, &V)> {
        let slot = self.find_with::<true>(hash, eq)?;
        // SAFETY: as in `get`.
        Some(unsafe { (&*slot.key(), &*slot.value()) })
    }

    /// Exclusive access to the values of up to `N` entries at once (std's
    /// `get_disjoint_mut`): `hashes[i]` and `eq(i, _)` find entry `i`.
    ///
    /// # Panics
    /// With "duplicate keys found" if two of the lookups find the same entry.
    pub(crate) fn get_disjoint_mut<const N: usize>(
        &mut self,
        hashes: [u64; N],
        mut eq: impl FnMut(usize, &K) -> bool,
    ) -> [Option<&mut V>; N] {
        let slots: [Option<Slot<K, V>>; N] = core::array::from_fn(|i| self.find(hashes[i], |k| eq(i, k)));
        for (i, a) in slots.iter().enumerate() {
            for b in &slots[..i] {
                if let (Some(a), Some(b)) = (a, b) {
                    // (Slots, not value addresses: zero-sized values share an address.)
                    assert!(a.bucket != b.bucket || a.index != b.index, "duplicate keys found");
                }
            }
        }
        // SAFETY: `find` returns occupied slots, and they are pairwise distinct (checked
        // above), so the references do not alias; `&mut self` keeps the table from changing
        // while they live.
        slots.map(|slot| slot.map(|slot| unsafe { &mut *slot.value() }))
    }

    /// Exclusive access to a found entry's value (a lookup: no evacuation work).
    #[inline(always)]
    pub(crate) fn get_mut(&mut self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<(&K, &mut V)> {
        let slot = self.find(hash, eq)?;
        // SAFETY: as in `get`, with `&mut self` making the value reference unique.
        Some(unsafe { (&*slot.key(), &mut *slot.value()) })
    }

    /// The work every write does first (Go's `growWork` call in `mapassign`/`mapdelete`),
    /// after which the key's entry, if any, is in the current array.
    #[inline]
    pub(crate) fn prepare_write(&mut self, hash: u64, hasher: &impl Fn(&K) -> u64) {
        if self.old.is_some() {
            self.grow_work(hash as usize & self.mask(), hasher);
        } else if self.retired.is_some() {
            self.release_retired();
        }
    }

    /// Gives back the next piece of a retired old array.
    #[cold]
    #[inline(never)]
    fn release_retired(&mut self) {
        if let Some(retired) = &mut self.retired {
            if retired.release_some(RETIRE_STEP) {
                self.retired = None;
            }
        }
    }

    /// Walks the current chain of `hash` for the key, noting where a new key would go.
    /// Call after `prepare_write`.
    #[inline]
    pub(super) fn locate(&self, hash: u64, eq: &mut impl FnMut(&K) -> bool) -> Result<Slot<K, V>, InsertPos<K, V>> {
        if self.buckets.is_unallocated() {
            return Err(None);
        }
        let probe = Probe::of_hash(hash);
        let array = self.buckets.view();
        let i = hash as usize & self.mask();
        let mut b = array.bucket(i);
        b.prefetch();
        let mut empty = None;
        loop {
            let group = b.group();
            for index in group.match_tophash(probe) {
                let slot = Slot { bucket: b, index };
                // SAFETY: tophash >= 5, so the slot holds a key.
                if eq(unsafe { &*slot.key() }) {
                    return Ok(slot);
                }
            }
            if group.match_empty_rest().any() {
                // This bucket has an empty slot: the first one, unless one came before.
                return Err(empty.or_else(|| group.match_empty().lowest().map(|index| Slot { bucket: b, index })));
            }
            if empty.is_none() {
                empty = group.match_empty().lowest().map(|index| Slot { bucket: b, index });
            }
            b = match array.next(b) {
                Some(next) => next,
                None => return Err(empty),
            };
        }
    }

    /// The slot where a new key of `hash` goes in the current array: the first empty slot
    /// of its chain, or slot 0 of a new overflow bucket attached to the chain's end. The
    /// caller fills it: a tombstone there is no longer counted.
    ///
    /// A new overflow bucket is never read before it is written: its page may not have
    /// been touched yet ([`Pages::ControlNow`] says why that matters). Whether the slot is
    /// a tombstone comes from the control word already loaded.
    pub(super) fn insert_slot(&mut self, hash: u64) -> Slot<K, V> {
        let array = self.buckets.view();
        let mut b = self.chain_of(hash);
        loop {
            let group = b.group();
            if let Some(index) = group.match_empty().lowest() {
                if group.match_tophash(Probe::marker(EMPTY_ONE)).lowest() == Some(index) {
                    self.tombstones -= 1;
                }
                return Slot { bucket: b, index };
            }
            b = match array.next(b) {
                Some(next) => next,
                None => {
                    return Slot { bucket: self.overflow.attach(&mut self.buckets, b, &mut self.observer), index: 0 }
                }
            };
        }
    }

    /// Go's `mapassign` up to the decision: the key's slot, or where it would be inserted.
    #[inline]
    pub(crate) fn find_for_write(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Result<Slot<K, V>, InsertPos<K, V>> {
        self.prepare_write(hash, hasher);
        self.locate(hash, &mut eq)
    }

    /// Whether inserting a new key must first start a growth (Go's trigger in `mapassign`:
    /// not while one is in progress; a doubling over the load factor, else a same-size
    /// growth when there are about as many overflow buckets as buckets).
    #[inline]
    pub(super) fn growth_due(&self) -> bool {
        self.old.is_none() && (self.count >= self.limits.entries || self.overflow.noverflow >= self.limits.overflow)
    }

    /// Changes the size (Go's `B`), with the growth triggers that go with it.
    pub(super) fn set_b(&mut self, b: u8) {
        self.b = b;
        self.limits = GrowthLimits::for_b(b);
    }

    /// Inserts a key known to be absent at `pos` (from `find_for_write` with no change to
    /// the table since), first starting a growth if Go would.
    #[inline]
    pub(crate) fn insert_absent(
        &mut self,
        hash: u64,
        pos: InsertPos<K, V>,
        key: K,
        value: V,
        hasher: &impl Fn(&K) -> u64,
    ) -> Slot<K, V> {
        match pos {
            Some(slot) if !self.growth_due() => {
                self.fill_empty(slot, hash, key, value);
                slot
            }
            // The rest out of line, fill and all, so that the fast path keeps `slot` in
            // registers (merging the two paths' slots sent it through the stack).
            _ => self.insert_with_room(hash, key, value, hasher),
        }
    }

    /// `insert_absent` when there is no slot to fill yet, or Go would grow first: makes
    /// room, then fills.
    #[cold]
    #[inline(never)]
    fn insert_with_room(&mut self, hash: u64, key: K, value: V, hasher: &impl Fn(&K) -> u64) -> Slot<K, V> {
        let slot = self.make_room(hash, hasher);
        self.fill(slot, Probe::of_hash(hash).byte(), key, value);
        slot
    }

    /// Fills `slot`, an empty slot (a tombstone, maybe) of the current array, with a key
    /// of `hash`.
    #[inline(always)]
    fn fill_empty(&mut self, slot: Slot<K, V>, hash: u64, key: K, value: V) {
        if slot.tophash() == EMPTY_ONE {
            self.tombstones -= 1;
        }
        // The probe's byte is the tophash, and `locate` has loaded it already.
        self.fill(slot, Probe::of_hash(hash).byte(), key, value);
    }

    /// Writes an entry with tophash `top` into `slot`, an empty slot of a live bucket of the
    /// current array, and counts it (a tombstone it replaces is the caller's to uncount).
    #[inline(always)]
    pub(super) fn fill(&mut self, slot: Slot<K, V>, top: u8, key: K, value: V) {
        // SAFETY: the slot is empty and belongs to a live bucket of this table; the key and
        // value are written before the tophash, so the slot counts as occupied only whole.
        unsafe {
            slot.key().write(key);
            slot.value().write(value);
        }
        slot.set_tophash(top);
        self.count += 1;
    }

    /// The slow part of an insert of an absent key: allocating the first array, starting a
    /// growth (and doing its first work), or attaching an overflow bucket to a full chain.
    /// Returns the empty slot to fill.
    #[inline(always)]
    fn make_room(&mut self, hash: u64, hasher: &impl Fn(&K) -> u64) -> Slot<K, V> {
        if self.buckets.is_unallocated() {
            self.buckets = BucketArray::new(self.b);
        }
        if self.growth_due() {
            self.hash_grow();
            self.prepare_write(hash, hasher);
        }
        self.insert_slot(hash)
    }

    /// `insert` with std's semantics: an existing key keeps its stored key and gets the new
    /// value, the old one is returned (and `key` is dropped). `eq(new, stored)` compares.
    ///
    /// The search of the chain's first bucket is inline and its answer used at once; a
    /// chain that goes on is left to [`Self::insert_past_head`], out of line. (Through
    /// [`Self::locate`], whose loop carries the first empty slot seen along the chain, the
    /// common case took ~8 % longer; BENCHMARKS, run W.)
    #[inline]
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        eq: impl Fn(&K, &K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<V> {
        self.prepare_write(hash, hasher);
        if self.buckets.is_unallocated() {
            self.insert_absent(hash, None, key, value, hasher);
            return None;
        }
        let head = self.chain_of(hash);
        head.prefetch();
        let found = match Self::find_in_bucket(head, Probe::of_hash(hash), &mut |stored| eq(&key, stored)) {
            Search::Found(slot) => Ok(slot),
            // The head has an `EMPTY_REST` slot, so an empty slot: the first goes.
            Search::Absent => Err(head.group().match_empty().lowest().map(|index| Slot { bucket: head, index })),
            Search::GoOn => return self.insert_past_head(hash, key, value, eq, hasher),
        };
        self.insert_at(hash, found, key, value, hasher)
    }

    /// `insert`'s last step, given what the search found: the key's slot (its value is
    /// replaced and returned) or where a new key goes. Always inlined, so that the answer
    /// stays in registers (see `insert`).
    #[inline(always)]
    fn insert_at(
        &mut self,
        hash: u64,
        found: Result<Slot<K, V>, InsertPos<K, V>>,
        key: K,
        value: V,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<V> {
        match found {
            // SAFETY: an occupied slot; `&mut self` makes the access unique.
            Ok(slot) => Some(mem::replace(unsafe { &mut *slot.value() }, value)),
            Err(pos) => {
                self.insert_absent(hash, pos, key, value, hasher);
                None
            }
        }
    }

    /// `insert` for a key whose chain goes on past its first bucket (the growth work done):
    /// the whole chain searched again by [`Self::locate`], which notes where a new key goes.
    #[inline(never)]
    fn insert_past_head(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        eq: impl Fn(&K, &K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<V> {
        let found = self.locate(hash, &mut |stored| eq(&key, stored));
        self.insert_at(hash, found, key, value, hasher)
    }

    /// Go's `mapdelete`: the write work first (even for an absent key), then the removal.
    ///
    /// Always inlined, as are the public removes above it, with the rare cases out of line
    /// (a chain past its first bucket, the last slot of a bucket, a tombstone run reaching
    /// into an earlier bucket, the reseed). A loop of removes is bound by its cache misses,
    /// which overlap only as far as the processor's window of in-flight instructions
    /// reaches ahead, so every instruction of the common path counts: a call per remove
    /// (with its register saves and the entry returned through memory) cost ~15 % on the
    /// AMD EPYC host (BENCHMARKS, run W).
    #[inline(always)]
    pub(crate) fn remove(
        &mut self,
        hash: u64,
        mut eq: impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<(K, V)> {
        if self.count == 0 {
            return None;
        }
        self.prepare_write(hash, hasher);
        let first = self.chain_of(hash);
        first.prefetch();
        let probe = Probe::of_hash(hash);
        match Self::find_in_bucket(first, probe, &mut eq) {
            Search::Found(slot) => Some(self.erase(first, slot)),
            Search::Absent => None,
            Search::GoOn => self.remove_past_head(first, probe, eq),
        }
    }

    /// `remove` once the chain's first bucket `first` has been searched and the chain goes
    /// on: out of line (see [`Self::remove`]).
    #[inline(never)]
    fn remove_past_head(
        &mut self,
        first: BucketRef<K, V>,
        probe: Probe,
        mut eq: impl FnMut(&K) -> bool,
    ) -> Option<(K, V)> {
        let next = self.buckets.view().next(first)?;
        next.prefetch();
        let slot = Self::find_in_chain(&self.buckets, next, probe, &mut eq)?;
        Some(self.erase(first, slot))
    }

    /// The current chain that `hash` selects (after `prepare_write`).
    #[inline]
    pub(crate) fn chain_of(&self, hash: u64) -> BucketRef<K, V> {
        self.buckets.bucket(hash as usize & self.mask())
    }

    /// Removes the entry in `slot` of the current chain starting at `first`: the slot
    /// becomes a tombstone, and a tombstone run that now reaches the end of the chain turns
    /// into `EMPTY_REST`, back across bucket boundaries, so that searches stop early.
    #[inline]
    pub(crate) fn erase(&mut self, first: BucketRef<K, V>, slot: Slot<K, V>) -> (K, V) {
        // SAFETY: `slot` is an occupied slot of the chain that starts at `first`, in the
        // current array. Its key and value are read out exactly once and the slot is marked
        // empty at once, so they are never dropped or read again through the table.
        let entry = unsafe { (slot.key().read(), slot.value().read()) };
        // No other entry moves and nothing is freed: cursors' notes stay readable.
        slot.set_tophash(EMPTY_ONE);
        self.tombstones += 1;
        self.cursor.entry_removed();
        if slot.bucket.group().rest_after(slot.index) {
            self.mark_rest(first, slot);
        }
        self.count -= 1;
        if self.count == 0 {
            self.reseed();
        }
        entry
    }

    /// `erase`'s tail, for a new tombstone in `slot` with nothing but `EMPTY_REST` after it
    /// in its bucket: unless the chain goes on past the bucket with something in it, the
    /// run of tombstones that ends at `slot` becomes `EMPTY_REST`, back across buckets.
    #[inline(always)]
    fn mark_rest(&mut self, first: BucketRef<K, V>, slot: Slot<K, V>) {
        let Slot { bucket: b, index: i } = slot;
        if i == BUCKET_CNT - 1 && !self.chain_empty_after(b) {
            return;
        }
        if self.rest_run(b, i) == 0 && b != first {
            self.mark_rest_before(first, b);
        }
    }

    /// Whether the chain holds nothing after bucket `b`.
    #[inline(never)]
    fn chain_empty_after(&self, b: BucketRef<K, V>) -> bool {
        self.buckets.view().next(b).is_none_or(|next| next.tophash(0) == EMPTY_REST)
    }

    /// Turns the run of tombstones in `b` that ends at slot `i` (a tombstone) into
    /// `EMPTY_REST`, with one write of the control word; returns the run's first slot.
    #[inline(always)]
    fn rest_run(&mut self, b: BucketRef<K, V>, i: usize) -> usize {
        let group = b.group();
        let start = group.tombstone_run_start(i);
        b.set_group(group.with_rest(start, i));
        self.tombstones -= i + 1 - start;
        start
    }

    /// `mark_rest` on from the bucket before `b` in the chain that starts at `first`, for a
    /// run of tombstones that reached slot 0 of `b`.
    #[cold]
    #[inline(never)]
    fn mark_rest_before(&mut self, first: BucketRef<K, V>, mut b: BucketRef<K, V>) {
        let array = self.buckets.view();
        while b != first {
            let mut prev = first;
            while let Some(next) = array.next(prev).filter(|&next| next != b) {
                prev = next;
            }
            b = prev;
            if b.tophash(BUCKET_CNT - 1) != EMPTY_ONE || self.rest_run(b, BUCKET_CNT - 1) != 0 {
                return;
            }
        }
    }

    /// Draws a new seed for an empty table: nothing stored depends on the old one (Go does
    /// the same to make collision attacks harder).
    #[cold]
    #[inline(never)]
    fn reseed(&mut self) {
        self.seed = random_u64();
    }

    /// Go's `mapclear`: drops every entry, abandons a growth in progress, keeps `b` and the
    /// current array (zeroed), and draws a new seed. If a key's or value's `Drop` panics,
    /// the entries not yet dropped are leaked, and the table is still cleared.
    pub(crate) fn clear(&mut self) {
        if self.count == 0 {
            return;
        }
        struct ResetOnExit<'a, K, V>(&'a mut RawTable<K, V>);
        impl<K, V> Drop for ResetOnExit<'_, K, V> {
            fn drop(&mut self) {
                self.0.reset_empty();
            }
        }
        let guard = ResetOnExit(self);
        guard.0.drop_entries();
    }

    /// Makes the table empty without dropping entries (they were dropped or moved out):
    /// frees the old array, re-zeroes the current one (its lone overflow buckets go),
    /// resets the counters and draws a new seed.
    pub(crate) fn reset_empty(&mut self) {
        self.note_growth_abandoned("clear");
        self.cursor.entries_moved();
        // The arrays own their lone overflow buckets: zeroing or dropping them frees those.
        self.old = None;
        self.retired = None;
        self.buckets.zero();
        self.count = 0;
        self.same_size_grow = false;
        self.nevacuate = 0;
        self.overflow.noverflow = 0;
        self.tombstones = 0;
        self.seed = random_u64();
    }

    /// Drops every live entry in place, leaving the tophash bytes as they are.
    fn drop_entries(&mut self) {
        if !mem::needs_drop::<K>() && !mem::needs_drop::<V>() {
            return;
        }
        for slot in self.raw_iter() {
            // SAFETY: every slot the walk yields is occupied and is dropped once: callers
            // reset or free the table right after, without dropping again.
            unsafe {
                ptr::drop_in_place(slot.key());
                ptr::drop_in_place(slot.value());
            }
        }
    }

    /// Regular buckets in the current array (`2^b`), 0 while unallocated.
    pub(super) fn regular_buckets(&self) -> usize {
        if self.buckets.is_unallocated() {
            0
        } else {
            1 << self.b
        }
    }

    /// How many chains a walk in steps numbers ([`RawTable::numbered_chain`]): the current
    /// array's, then the old array's from the evacuation mark on.
    pub(super) fn numbered_chains(&self) -> usize {
        let old = if self.old.is_some() { self.old_buckets() - self.nevacuate } else { 0 };
        self.regular_buckets() + old
    }

    /// Chain number `chain` (below [`RawTable::numbered_chains`]) of a walk in steps: its
    /// array and head bucket, or `None` for an old chain evacuated since the mark (it holds
    /// nothing, and its memory may be released). The numbers stay valid while the table is
    /// not written to (`copy_chains`, `dismantle_some`).
    pub(super) fn numbered_chain(&self, chain: usize) -> Option<(ArrayView<K, V>, BucketRef<K, V>)> {
        let current = self.regular_buckets();
        if chain < current {
            let array = self.buckets.view();
            return Some((array, array.bucket(chain)));
        }
        let old = self.old.as_ref()?.view();
        let head = old.bucket(self.nevacuate + chain - current);
        (!head.is_evacuated()).then_some((old, head))
    }

    /// Calls `f` with every occupied slot of the chain of `array` starting at `head`, in
    /// chain order.
    pub(super) fn each_occupied(array: ArrayView<K, V>, head: BucketRef<K, V>, mut f: impl FnMut(Slot<K, V>)) {
        let mut b = Some(head);
        while let Some(bucket) = b {
            for index in bucket.group().match_occupied() {
                f(Slot { bucket, index });
            }
            b = array.next(bucket);
        }
    }
}

impl<K, V> Drop for RawTable<K, V> {
    fn drop(&mut self) {
        self.note_growth_abandoned("drop");
        // The arrays, and with them the lone overflow buckets, go after this (also when a
        // key's or value's `Drop` panics here).
        if self.count > 0 {
            self.drop_entries();
        }
    }
}

impl<K, V> Default for RawTable<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cached triggers are Go's for every size: `overLoadFactor` (`count > 8` and
    /// `count > 6.5 * 2^B`) and `tooManyOverflowBuckets` (`noverflow >= 2^min(B, 15)`).
    #[test]
    fn growth_limits_are_gos_triggers() {
        for b in 0..=70u8 {
            let limits = GrowthLimits::for_b(b);
            // Where the bound no longer fits a usize (b = 62 on 64-bit targets, 30 on 32-bit
            // ones; no such array could be allocated), it saturates. (`6.5 * 2^b` is exact in
            // an f64, and `usize::MAX as f64` rounds up to `2^64` on 64-bit targets.)
            let exact = (6.5 * (1u128 << b) as f64).max(8.0);
            let load_bound = if exact < usize::MAX as f64 { exact as usize } else { usize::MAX };
            assert_eq!(limits.entries, load_bound, "b = {b}");
            assert_eq!(u32::from(limits.overflow), 1u32 << b.min(15), "b = {b}");
        }
    }
}

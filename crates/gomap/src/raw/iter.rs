//! Walks over the table, and the safe handles built on them: borrowing and owning
//! iterators, draining, extraction, and entries.
//!
//! The walk visits the unevacuated old chains (from the mark up) and then every chain of
//! the current array, whose heads it takes four at a time in table order: one vector
//! compare gives the occupied slots of two buckets, and the walk steps to its next run of
//! heads once per ~15 entries instead of once per bucket's ~4 (a branch the processor
//! cannot foresee; 1e6 keys walked ~20% faster, BENCHMARKS section 1, run T). By
//! invariant 6 a current chain fed by an unevacuated old chain is empty, so every entry is
//! visited exactly once without re-hashing, and an unchanged table is always walked in the
//! same order.
//!
//! Go's `range` order (`RawIter<_, _, RangeOrder>`) is the same walk turned, as Go's
//! `mapiterinit` does: each array's chains from a random one on, wrapping around, and each
//! bucket's slots from a random offset, the same for every bucket. (Go reads an unevacuated
//! old chain twice, at both new buckets it feeds, re-hashing every key to keep the right
//! half; here it is read once, before the current array, which needs no hashing.)

use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::mem;

use super::alloc::ArrayView;
use super::bucket::{BucketRef, BUCKET_CNT, EMPTY_ONE};
use super::group::{BitMask, Group, RunSlots, Turn, TurnedMask};
use super::random_u64;
use super::table::{InsertPos, RawTable, Slot};

/// How many buckets ahead of its run a walk asks for the first line of slots of the run
/// that far on. A walk reads the first line of every bucket's slots and the second of some,
/// a pattern the hardware's prefetchers follow poorly. In the throughput bench, whose walk
/// starts from a cold cache, a distance of 12 left gomap at 1.08-1.12x griddle's time and
/// 32 or 64 at 0.93-0.96x (BENCHMARKS section 1, run T); a warm walk measured alike from 8
/// to 48.
const RUN_PREFETCH_AHEAD: usize = 32;

/// How many buckets ahead of its run a walk asks for the links of the chains that go on
/// ([`ArrayView::prefetch_links`]), and, nearer, for the second buckets they lead to
/// ([`ArrayView::prefetch_second_buckets`]). Without them every chain that goes on cost
/// the walk two cache misses in a row, link and bucket: at 1e6 keys (~4,200 such chains)
/// gomap's walk took 1.5–1.9x hashbrown's time on an AMD EPYC host, with them 1.1–1.2x
/// (BENCHMARKS section 1, run V); 128 and 64 measured a little better than
/// 64 and 32, or 32 and 16. Multiples of every [`SlotOrder::RUN`], as the chain bits
/// they read need.
const LINK_PREFETCH_AHEAD: usize = 128;
/// See [`LINK_PREFETCH_AHEAD`]: far enough behind it that the links asked for have arrived.
const SECOND_BUCKET_PREFETCH_AHEAD: usize = 64;

/// A walk over the occupied slots of a table. Holds raw pointers only: the handles below
/// tie it to a borrow or to ownership of the table.
///
/// The current array's chain heads are taken a run at a time ([`SlotOrder::RUN`] heads:
/// four in table order, one in Go's `range` order), then the chains of that run's heads
/// that go on, one bucket at a time. With [`RangeOrder`] the walk is Go's `range`
/// ([`RawTable::raw_range`]): each array's chains from a random one on, wrapping around,
/// and every bucket's slots from a random offset.
///
/// The fields a step reads are few (the bucket, its slots left, the count left), so that a
/// `for` loop's step stays short. Moving on to the next run of heads is
/// inline; following an overflow link or starting on an array is out of line
/// ([`Chains::after`]), which keeps the loop small.
pub(crate) struct RawIter<K, V, O: SlotOrder = TableOrder> {
    /// The bucket being walked (meaningless before the first; the first of the run while
    /// the walk is on a run of heads), and its slots not yet produced, in the walk's order
    /// (`turn`: where [`RangeOrder`] starts a bucket).
    bucket: BucketRef<K, V>,
    occupied: O::Slots,
    turn: Turn,
    /// Entries not yet produced.
    remaining: usize,
    /// Where the walk goes after `bucket`.
    chains: Chains<K, V>,
}

/// The chains a walk has left: the unevacuated old chains, then the current ones.
struct Chains<K, V> {
    old: ArrayView<K, V>,
    /// The next old chain, the range of old chains to walk, and how many are left.
    old_next: usize,
    old_begin: usize,
    old_end: usize,
    old_left: usize,
    /// Whether the walk is on an old chain (`old_left` counts those not yet begun).
    in_old: bool,
    new: ArrayView<K, V>,
    /// The next run of current chains, the current array's index mask, and how many chains
    /// are left: `new_left` while the walk is in the current array (so that the inline
    /// step needs no other test), `new_waiting` before it gets there.
    new_next: usize,
    new_mask: usize,
    new_left: usize,
    new_waiting: usize,
    /// Heads per run: the order's [`SlotOrder::RUN`], or fewer in an array with fewer
    /// buckets.
    run: usize,
    /// The run of heads last taken (its first bucket's index), and which of its heads (bit
    /// `a` for head `run_at + a`) have chains that go on and are not yet walked: the walk
    /// is on the run's heads while `on_heads`, else on the chain of the lowest such head.
    run_at: usize,
    pending: u64,
    on_heads: bool,
}

impl<K, V> Clone for Chains<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for Chains<K, V> {}

impl<K, V, O: SlotOrder> Clone for RawIter<K, V, O> {
    fn clone(&self) -> Self {
        RawIter { ..*self }
    }
}

/// Where a walk goes after its bucket.
enum Step<K, V> {
    /// One bucket: of an old chain, or the overflow bucket of a current chain.
    Bucket(BucketRef<K, V>),
    /// The next run of current chain heads ([`Chains::next_run`]).
    Run,
    /// Nowhere: the walk is over.
    End,
}

impl<K, V> Chains<K, V> {
    /// The bucket after `bucket` (the walk's current one) in its chain, or else where the
    /// walk goes next (noting which array that is in).
    #[inline(never)]
    fn after(&mut self, bucket: BucketRef<K, V>) -> Step<K, V> {
        while self.pending != 0 {
            // On the run's heads: the chain of the lowest pending head begins.
            let from = if self.on_heads {
                self.on_heads = false;
                self.new.bucket(self.run_at + self.pending.trailing_zeros() as usize)
            } else {
                bucket
            };
            // A last slot that is `EMPTY_REST` says the chain holds nothing further,
            // without a read of the bucket's link.
            if !from.group().ends_chain() {
                if let Some(next) = self.new.next(from) {
                    return Step::Bucket(next);
                }
            }
            self.pending &= self.pending - 1;
            self.on_heads = true;
        }
        if self.new_left > 0 {
            return Step::Run;
        }
        if self.in_old {
            if let Some(next) = self.old.next(bucket) {
                return Step::Bucket(next);
            }
        }
        if self.old_left > 0 {
            self.old_left -= 1;
            let i = self.old_next;
            self.old_next = if i + 1 == self.old_end { self.old_begin } else { i + 1 };
            self.in_old = true;
            return Step::Bucket(self.old.bucket(i));
        }
        self.in_old = false;
        if self.new_waiting > 0 {
            self.new_left = mem::take(&mut self.new_waiting);
            return Step::Run;
        }
        Step::End
    }

    /// The next run of current chain heads (`new_left > 0`): its first bucket and its
    /// occupied slots; notes which of its chains go on.
    #[inline]
    fn next_run<O: SlotOrder>(&mut self, turn: Turn) -> (BucketRef<K, V>, O::Slots) {
        debug_assert_eq!(self.pending, 0, "a run begins before the last one's chains are walked");
        // A run of one is one whatever the array's size: a constant for the compiler.
        let run = if O::RUN == 1 { 1 } else { self.run };
        let j = self.new_next;
        self.new_left -= run;
        self.new_next = (j + run) & self.new_mask;
        for a in 0..O::RUN {
            self.new.prefetch_slots(j + RUN_PREFETCH_AHEAD + a);
        }
        self.new.prefetch_links((j + LINK_PREFETCH_AHEAD) & self.new_mask, run);
        self.new.prefetch_second_buckets((j + SECOND_BUCKET_PREFETCH_AHEAD) & self.new_mask, run);
        let (slots, go_on) = O::heads(self.new, j, run, turn);
        // Most heads end in `EMPTY_REST` (slots fill from the front): then their chain bits
        // need not be read, and no chain of the run is walked.
        if go_on != 0 {
            self.pending = go_on & self.new.chain_bits(j, run);
            self.run_at = j;
            self.on_heads = true;
        }
        (self.new.bucket(j), slots)
    }
}

impl<K, V, O: SlotOrder> RawIter<K, V, O> {
    /// A walk over `table` from chain `start` of each array (reduced to the chains there
    /// are; in the current array, to a multiple of the run), each bucket's slots turned by
    /// `turn` ([`RangeOrder`] only).
    fn over(table: &RawTable<K, V>, start: usize, turn: Turn) -> Self {
        let (old, old_begin, old_end) = match &table.old {
            // Chains below the mark are evacuated (and their memory may be gone).
            Some(old) => (old.view(), table.nevacuate, table.old_buckets()),
            None => (ArrayView::EMPTY, 0, 0),
        };
        let old_left = old_end - old_begin;
        let buckets = table.regular_buckets();
        let run = O::RUN.min(buckets);
        RawIter {
            bucket: BucketRef::NONE,
            occupied: O::NONE,
            turn,
            remaining: table.count,
            chains: Chains {
                old,
                old_next: if old_left == 0 { 0 } else { old_begin + start % old_left },
                old_begin,
                old_end,
                old_left,
                in_old: false,
                new: table.buckets.view(),
                new_next: start & buckets.wrapping_sub(1) & !run.wrapping_sub(1),
                new_mask: buckets.wrapping_sub(1),
                new_left: 0,
                new_waiting: buckets,
                run,
                run_at: 0,
                pending: 0,
                on_heads: false,
            },
        }
    }

    /// Moves on to the next bucket or run with an occupied slot; false if there is none
    /// (which, while `remaining > 0`, would mean a corrupt count).
    #[inline]
    fn advance(&mut self) -> bool {
        loop {
            // The common case inline: no chain of the last run goes on, and the next run
            // is in the current array.
            let chains = &mut self.chains;
            if chains.pending == 0 && chains.new_left > 0 {
                (self.bucket, self.occupied) = chains.next_run::<O>(self.turn);
            } else {
                match chains.after(self.bucket) {
                    Step::Bucket(bucket) => {
                        self.bucket = bucket;
                        self.occupied = O::occupied(bucket.group(), self.turn);
                    }
                    Step::Run => (self.bucket, self.occupied) = chains.next_run::<O>(self.turn),
                    Step::End => {
                        debug_assert!(false, "walked past the end with {} entries left", self.remaining);
                        return false;
                    }
                }
            }
            if O::any(self.occupied) {
                return true;
            }
        }
    }
}

/// The order in which a walk takes the chain heads of the current array and the slots of
/// each bucket.
pub(crate) trait SlotOrder {
    /// The slots not yet taken of a bucket (or of a run of heads), in this order.
    type Slots: Iterator<Item = usize> + Copy;
    const NONE: Self::Slots;
    /// Chain heads per run (a power of two that divides 64).
    const RUN: usize;
    /// The occupied slots of a bucket (`turn`: where a walk that turns starts).
    fn occupied(group: Group, turn: Turn) -> Self::Slots;
    /// The occupied slots of the `run` heads from bucket `j` of `array` (`run` is
    /// [`Self::RUN`] or, in a smaller array, the number of its buckets), and which of the
    /// heads (bit `a` for head `j + a`) end in a slot that is not `EMPTY_REST`.
    fn heads<K, V>(array: ArrayView<K, V>, j: usize, run: usize, turn: Turn) -> (Self::Slots, u64);
    fn any(slots: Self::Slots) -> bool;
    /// The slot an item of [`Self::Slots`] names, `bucket` being the first of its run.
    fn slot<K, V>(bucket: BucketRef<K, V>, item: usize) -> Slot<K, V>;
}

/// Table order: runs of four heads, their slots in array order (slot 0 of the first head
/// up to slot 7 of the fourth), then the chains that go on from them; the same on every
/// walk (`iter`).
pub(crate) enum TableOrder {}

/// Go's `range` order: from the walk's random chain and offset up, wrapping around.
pub(crate) enum RangeOrder {}

impl SlotOrder for TableOrder {
    type Slots = RunSlots;
    const NONE: RunSlots = RunSlots::EMPTY;
    const RUN: usize = 4;

    #[inline]
    fn occupied(group: Group, _turn: Turn) -> RunSlots {
        RunSlots::of(group)
    }

    #[inline]
    fn heads<K, V>(array: ArrayView<K, V>, j: usize, run: usize, _turn: Turn) -> (RunSlots, u64) {
        let group = |a: usize| array.bucket(j + a).group();
        let go_on = |g: Group| u64::from(!g.ends_chain());
        if run < 2 {
            let g = group(0);
            return (RunSlots::of(g), go_on(g));
        }
        let (g0, g1) = (group(0), group(1));
        let mut slots = Group::occupied_pair(g0, g1);
        let mut on = go_on(g0) | go_on(g1) << 1;
        if run == 4 {
            let (g2, g3) = (group(2), group(3));
            slots |= Group::occupied_pair(g2, g3) << (2 * BUCKET_CNT);
            on |= go_on(g2) << 2 | go_on(g3) << 3;
        }
        (RunSlots(slots), on)
    }

    #[inline]
    fn any(slots: RunSlots) -> bool {
        slots.any()
    }

    #[inline]
    fn slot<K, V>(bucket: BucketRef<K, V>, item: usize) -> Slot<K, V> {
        let (bucket, index) = bucket.run_slot(item);
        Slot { bucket, index }
    }
}

impl SlotOrder for RangeOrder {
    type Slots = TurnedMask;
    const NONE: TurnedMask = TurnedMask::EMPTY;
    const RUN: usize = 1;

    #[inline]
    fn occupied(group: Group, turn: Turn) -> TurnedMask {
        group.match_occupied().turned(turn)
    }

    #[inline]
    fn heads<K, V>(array: ArrayView<K, V>, j: usize, _run: usize, turn: Turn) -> (TurnedMask, u64) {
        let group = array.bucket(j).group();
        (Self::occupied(group, turn), u64::from(!group.ends_chain()))
    }

    #[inline]
    fn any(slots: TurnedMask) -> bool {
        slots.any()
    }

    #[inline]
    fn slot<K, V>(bucket: BucketRef<K, V>, item: usize) -> Slot<K, V> {
        Slot { bucket, index: item }
    }
}

impl<K, V> RawTable<K, V> {
    /// A walk over every live slot, in table order.
    pub(crate) fn raw_iter(&self) -> RawIter<K, V> {
        RawIter::over(self, 0, Turn::new(0))
    }

    /// A walk over every live slot in Go's `range` order, from a random point.
    pub(crate) fn raw_range(&self) -> RawIter<K, V, RangeOrder> {
        let r = random_u64();
        RawIter::over(self, (r >> 3) as usize, Turn::new(r as usize))
    }

    /// Lazily removes the entries `pred` selects (see [`ExtractIf`]).
    pub(crate) fn extract_if(&mut self, hasher: &impl Fn(&K) -> u64) -> ExtractIf<'_, K, V> {
        // Finishing the growth first leaves one array to walk and erase from; it is O(n)
        // work, the same order as the walk itself.
        self.finish_growth(hasher);
        ExtractIf { next_chain: 0, chain: None, occupied: BitMask::EMPTY, table: self }
    }

    /// Entry for the key `eq` accepts: does the write work first, as an insert would.
    pub(crate) fn entry(
        &mut self,
        hash: u64,
        eq: impl FnMut(&K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> RawEntry<'_, K, V> {
        match self.find_for_write(hash, eq, hasher) {
            Ok(slot) => RawEntry::Occupied(RawOccupied { first: self.chain_of(hash), slot, table: self }),
            Err(pos) => RawEntry::Vacant(RawVacant { hash, pos, table: self }),
        }
    }
}

impl<K, V, O: SlotOrder> Iterator for RawIter<K, V, O> {
    type Item = Slot<K, V>;

    #[inline]
    fn next(&mut self) -> Option<Slot<K, V>> {
        if self.remaining == 0 || (!O::any(self.occupied) && !self.advance()) {
            return None;
        }
        let item = self.occupied.next()?;
        self.remaining -= 1;
        Some(O::slot(self.bucket, item))
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }

    /// The same walk as `next`, with a bucket's slots in one tight loop.
    #[inline]
    fn fold<B, F: FnMut(B, Slot<K, V>) -> B>(mut self, init: B, mut f: F) -> B {
        let mut acc = init;
        while self.remaining > 0 && (O::any(self.occupied) || self.advance()) {
            let bucket = self.bucket;
            for item in mem::replace(&mut self.occupied, O::NONE) {
                self.remaining -= 1;
                acc = f(acc, O::slot(bucket, item));
            }
        }
        acc
    }
}

/// Shared iteration: `(&K, &V)` in table order, or with [`RangeOrder`] in Go's `range` order.
pub(crate) struct Iter<'a, K, V, O: SlotOrder = TableOrder> {
    raw: RawIter<K, V, O>,
    marker: PhantomData<&'a RawTable<K, V>>,
}

/// Go's `range`: shared iteration from a random point (see the module documentation).
pub(crate) type Range<'a, K, V> = Iter<'a, K, V, RangeOrder>;

impl<'a, K, V> Iter<'a, K, V> {
    pub(crate) fn new(table: &'a RawTable<K, V>) -> Self {
        Iter { raw: table.raw_iter(), marker: PhantomData }
    }
}

impl<'a, K, V> Range<'a, K, V> {
    /// A walk from a random point.
    pub(crate) fn start(table: &'a RawTable<K, V>) -> Self {
        Iter { raw: table.raw_range(), marker: PhantomData }
    }
}

impl<K, V, O: SlotOrder> Clone for Iter<'_, K, V, O> {
    fn clone(&self) -> Self {
        Iter { raw: self.raw.clone(), marker: PhantomData }
    }
}

impl<'a, K, V, O: SlotOrder> Iterator for Iter<'a, K, V, O> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        let slot = self.raw.next()?;
        let (key, value) = (slot.key(), slot.value());
        // SAFETY: an occupied slot of a table borrowed shared for 'a (so its pointers are
        // not null either: said so that a caller's loop needs no test for it).
        unsafe {
            core::hint::assert_unchecked(!key.is_null());
            Some((&*key, &*value))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }

    #[inline]
    fn fold<B, F: FnMut(B, (&'a K, &'a V)) -> B>(self, init: B, mut f: F) -> B {
        // SAFETY: occupied slots of a table borrowed shared for 'a.
        self.raw.fold(init, |acc, slot| f(acc, unsafe { (&*slot.key(), &*slot.value()) }))
    }
}

/// Exclusive iteration: `(&K, &mut V)` in table order.
pub(crate) struct IterMut<'a, K, V> {
    raw: RawIter<K, V>,
    marker: PhantomData<&'a mut RawTable<K, V>>,
}

impl<'a, K, V> IterMut<'a, K, V> {
    pub(crate) fn new(table: &'a mut RawTable<K, V>) -> Self {
        IterMut { raw: table.raw_iter(), marker: PhantomData }
    }

    /// A shared iterator over the entries not yet produced.
    pub(crate) fn rest(&self) -> Iter<'_, K, V> {
        Iter { raw: self.raw.clone(), marker: PhantomData }
    }
}

impl<'a, K, V> Iterator for IterMut<'a, K, V> {
    type Item = (&'a K, &'a mut V);

    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a mut V)> {
        let slot = self.raw.next()?;
        let (key, value) = (slot.key(), slot.value());
        // SAFETY: an occupied slot of a table borrowed exclusively for 'a; each slot is
        // produced once, so the value references never alias. Not null: as in `Iter`.
        unsafe {
            core::hint::assert_unchecked(!key.is_null());
            Some((&*key, &mut *value))
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

// SAFETY: IterMut hands out `&K` and `&mut V`, like `&mut RawTable` would.
unsafe impl<K: Sync, V: Send> Send for IterMut<'_, K, V> {}
// SAFETY: shared access to an IterMut only reads.
unsafe impl<K: Sync, V: Sync> Sync for IterMut<'_, K, V> {}
// SAFETY: Iter hands out shared references only.
unsafe impl<K: Sync, V: Sync, O: SlotOrder> Send for Iter<'_, K, V, O> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Sync, O: SlotOrder> Sync for Iter<'_, K, V, O> {}

/// Owning iteration: moves each entry out; what is left is dropped with the table.
pub(crate) struct IntoIter<K, V> {
    raw: RawIter<K, V>,
    table: RawTable<K, V>,
}

impl<K, V> IntoIter<K, V> {
    pub(crate) fn new(table: RawTable<K, V>) -> Self {
        IntoIter { raw: table.raw_iter(), table }
    }

    /// A shared iterator over the entries not yet produced.
    pub(crate) fn rest(&self) -> Iter<'_, K, V> {
        Iter { raw: self.raw.clone(), marker: PhantomData }
    }
}

impl<K, V> Iterator for IntoIter<K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        let slot = self.raw.next()?;
        // SAFETY: an occupied slot of the table we own; it is marked empty right after the
        // entry is moved out, so the table's drop never sees it again. The table is dying,
        // so a trailing tombstone does not matter.
        let entry = unsafe { (slot.key().read(), slot.value().read()) };
        slot.set_tophash(EMPTY_ONE);
        self.table.count -= 1;
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.raw.size_hint()
    }
}

/// Draining: the table is taken out of the map at once (so a leaked `Drain` leaves an
/// empty, valid map) and handed back empty, keeping its bucket array, when dropped.
pub(crate) struct Drain<'a, K, V> {
    inner: IntoIter<K, V>,
    home: &'a mut RawTable<K, V>,
}

impl<'a, K, V> Drain<'a, K, V> {
    pub(crate) fn new(home: &'a mut RawTable<K, V>) -> Self {
        Drain { inner: IntoIter::new(mem::take(home)), home }
    }

    pub(crate) fn rest(&self) -> Iter<'_, K, V> {
        self.inner.rest()
    }
}

impl<K, V> Iterator for Drain<'_, K, V> {
    type Item = (K, V);

    #[inline]
    fn next(&mut self) -> Option<(K, V)> {
        self.inner.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<K, V> Drop for Drain<'_, K, V> {
    fn drop(&mut self) {
        // If a drop panics here, unwinding drops the taken table with its remaining
        // entries, and the map keeps the empty table it got when the drain began.
        self.inner.by_ref().for_each(drop);
        self.inner.table.reset_empty();
        mem::swap(self.home, &mut self.inner.table);
    }
}

/// Lazy removal over a table that is not growing: walks chain by chain and erases the
/// entries the predicate selects, keeping every invariant after each step.
pub(crate) struct ExtractIf<'a, K, V> {
    table: &'a mut RawTable<K, V>,
    next_chain: usize,
    /// The head of the chain being walked, and the bucket of it being walked.
    chain: Option<(BucketRef<K, V>, BucketRef<K, V>)>,
    occupied: BitMask,
}

impl<K, V> ExtractIf<'_, K, V> {
    /// The next entry `pred` selects, removed; `None` once the walk is over.
    pub(crate) fn next(&mut self, pred: &mut impl FnMut(&K, &mut V) -> bool) -> Option<(K, V)> {
        loop {
            if let Some((head, bucket)) = self.chain {
                // Not a `for` loop: the body borrows `self` to erase.
                #[allow(clippy::while_let_on_iterator)]
                while let Some(index) = self.occupied.next() {
                    let slot = Slot { bucket, index };
                    // SAFETY: the mask was read from this live bucket and erasing only
                    // changes the current slot and those before it, so `slot` is occupied.
                    let selected = unsafe { pred(&*slot.key(), &mut *slot.value()) };
                    if selected {
                        return Some(self.table.erase(head, slot));
                    }
                }
            }
            let array = self.table.buckets.view();
            self.chain = match self.chain.and_then(|(head, bucket)| array.next(bucket).map(|next| (head, next))) {
                Some(next) => Some(next),
                None if self.table.len() > 0 && self.next_chain < self.table.regular_buckets() => {
                    self.next_chain += 1;
                    let head = array.bucket(self.next_chain - 1);
                    Some((head, head))
                }
                None => return None,
            };
            self.occupied = self.chain.map_or(BitMask::EMPTY, |(_, bucket)| bucket.group().match_occupied());
        }
    }

    /// An upper bound of the entries left to visit.
    pub(crate) fn len_bound(&self) -> usize {
        self.table.len()
    }
}

/// An entry found or to be inserted (see [`RawTable::entry`]).
pub(crate) enum RawEntry<'a, K, V> {
    Occupied(RawOccupied<'a, K, V>),
    Vacant(RawVacant<'a, K, V>),
}

/// A live entry of an exclusively borrowed table.
pub(crate) struct RawOccupied<'a, K, V> {
    table: &'a mut RawTable<K, V>,
    first: BucketRef<K, V>,
    slot: Slot<K, V>,
}

impl<'a, K, V> RawOccupied<'a, K, V> {
    pub(crate) fn key(&self) -> &K {
        // SAFETY: the slot stays occupied while the handle holds the table.
        unsafe { &*self.slot.key() }
    }

    pub(crate) fn get(&self) -> &V {
        // SAFETY: as in `key`.
        unsafe { &*self.slot.value() }
    }

    pub(crate) fn get_mut(&mut self) -> &mut V {
        // SAFETY: as in `key`, and `&mut self` makes the reference unique.
        unsafe { &mut *self.slot.value() }
    }

    pub(crate) fn into_mut(self) -> &'a mut V {
        // SAFETY: the handle held the table exclusively for 'a and is consumed.
        unsafe { &mut *self.slot.value() }
    }

    pub(crate) fn remove_entry(self) -> (K, V) {
        self.table.erase(self.first, self.slot)
    }
}

/// The place for a key that is absent from an exclusively borrowed table.
pub(crate) struct RawVacant<'a, K, V> {
    table: &'a mut RawTable<K, V>,
    hash: u64,
    pos: InsertPos<K, V>,
}

impl<'a, K, V> RawVacant<'a, K, V> {
    /// Inserts the entry (starting a growth first if Go would) and returns it.
    pub(crate) fn insert(self, key: K, value: V, hasher: &impl Fn(&K) -> u64) -> RawOccupied<'a, K, V> {
        let RawVacant { table, hash, pos } = self;
        let slot = table.insert_absent(hash, pos, key, value, hasher);
        RawOccupied { first: table.chain_of(hash), slot, table }
    }
}

// SAFETY: the owning and draining handles own (or exclusively borrow) the table and hand
// out owned entries; the pointers inside point into that table.
unsafe impl<K: Send, V: Send> Send for IntoIter<K, V> {}
// SAFETY: shared access only reads the remaining entries.
unsafe impl<K: Sync, V: Sync> Sync for IntoIter<K, V> {}
// SAFETY: as for `IntoIter`.
unsafe impl<K: Send, V: Send> Send for Drain<'_, K, V> {}
// SAFETY: as for `IntoIter`.
unsafe impl<K: Sync, V: Sync> Sync for Drain<'_, K, V> {}
// SAFETY: extraction holds the table exclusively and hands out owned entries and `&mut V`.
unsafe impl<K: Send, V: Send> Send for ExtractIf<'_, K, V> {}
// SAFETY: shared access to an `ExtractIf` reads nothing.
unsafe impl<K: Sync, V: Sync> Sync for ExtractIf<'_, K, V> {}
// SAFETY: entries hold the table exclusively, like `&mut RawTable`.
unsafe impl<K: Send, V: Send> Send for RawOccupied<'_, K, V> {}
// SAFETY: shared access reads the entry only.
unsafe impl<K: Sync, V: Sync> Sync for RawOccupied<'_, K, V> {}
// SAFETY: as for `RawOccupied`.
unsafe impl<K: Send, V: Send> Send for RawVacant<'_, K, V> {}
// SAFETY: as for `RawOccupied`.
unsafe impl<K: Sync, V: Sync> Sync for RawVacant<'_, K, V> {}

impl<K, V, O: SlotOrder> FusedIterator for Iter<'_, K, V, O> {}
impl<K, V> FusedIterator for IterMut<'_, K, V> {}
impl<K, V> FusedIterator for IntoIter<K, V> {}
impl<K, V> FusedIterator for Drain<'_, K, V> {}
impl<K, V, O: SlotOrder> ExactSizeIterator for Iter<'_, K, V, O> {}
impl<K, V> ExactSizeIterator for IterMut<'_, K, V> {}
impl<K, V> ExactSizeIterator for IntoIter<K, V> {}
impl<K, V> ExactSizeIterator for Drain<'_, K, V> {}

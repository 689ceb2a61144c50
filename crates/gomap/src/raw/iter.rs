//! Walks over the table, and the safe handles built on them: borrowing and owning
//! iterators, draining, extraction, and entries.
//!
//! The walk visits the unevacuated old chains (from the mark up) and then every chain of
//! the current array. By invariant 6 a current chain fed by an unevacuated old chain is
//! empty, so every entry is visited exactly once without re-hashing, and an unchanged
//! table is always walked in the same order.
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
use super::bucket::{BucketRef, EMPTY_ONE};
use super::group::{BitMask, Group, Turn, TurnedMask};
use super::random_u64;
use super::table::{InsertPos, RawTable, Slot};

/// How many chains ahead a walk of the current array asks for the slots it will read. A
/// walk reads the first line of every bucket's slots and the second of some, a pattern the
/// hardware's prefetchers follow poorly; a bucket takes ~30 ns to walk at 1e6 keys, so this
/// asks a few hundred ns ahead, more than a miss to memory takes. (At 1e6 keys a walk was
/// ~15% faster with it, BENCHMARKS run L; distances 6 to 24 measured alike.)
pub(super) const WALK_PREFETCH_AHEAD: usize = 12;

/// A walk over the occupied slots of a table. Holds raw pointers only: the handles below
/// tie it to a borrow or to ownership of the table.
///
/// With [`RangeOrder`] the walk is Go's `range` ([`RawTable::raw_range`]): each array's chains from a
/// random one on, wrapping around, and every bucket's slots from a random offset.
///
/// The fields a step reads are few (the bucket, its slots left, the count left), so that a
/// `for` loop over the walk keeps them in registers. Moving on to the next chain of the
/// current array is inline; following an overflow link or starting on an array is out of
/// line ([`Chains::after`]), which keeps the loop small.
pub(crate) struct RawIter<K, V, O: SlotOrder = TableOrder> {
    /// The bucket being walked (meaningless before the first), and its slots not yet
    /// produced, in the walk's order (`turn`: where [`RangeOrder`] starts a bucket).
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
    new: ArrayView<K, V>,
    /// The next current chain, the current array's index mask, and how many are left:
    /// `new_left` while the walk is in the current array (so that the inline step needs
    /// no other test), `new_waiting` before it gets there.
    new_next: usize,
    new_mask: usize,
    new_left: usize,
    new_waiting: usize,
    /// Whether the walk's bucket belongs to the old array; `None` before the first.
    in_old: Option<bool>,
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

impl<K, V> Chains<K, V> {
    /// The bucket after `bucket` (the walk's current one) in its chain, or else the head of
    /// the next chain (noting which array it is in).
    #[inline(never)]
    fn after(&mut self, bucket: BucketRef<K, V>) -> Option<BucketRef<K, V>> {
        if let Some(in_old) = self.in_old {
            let array = if in_old { self.old } else { self.new };
            if let Some(next) = array.next(bucket) {
                return Some(next);
            }
        }
        let (next, in_old) = if self.old_left > 0 {
            self.old_left -= 1;
            let i = self.old_next;
            self.old_next = if i + 1 == self.old_end { self.old_begin } else { i + 1 };
            (self.old.bucket(i), true)
        } else if self.new_left > 0 {
            (self.next_current_head(), false)
        } else if self.new_waiting > 0 {
            self.new_left = mem::take(&mut self.new_waiting);
            (self.next_current_head(), false)
        } else {
            return None;
        };
        self.in_old = Some(in_old);
        Some(next)
    }

    /// The head of the next chain of the current array (`new_left > 0`).
    #[inline]
    fn next_current_head(&mut self) -> BucketRef<K, V> {
        self.new_left -= 1;
        let j = self.new_next;
        self.new_next = (j + 1) & self.new_mask;
        self.new.prefetch_slots(j + WALK_PREFETCH_AHEAD);
        self.new.bucket(j)
    }
}

impl<K, V, O: SlotOrder> RawIter<K, V, O> {
    /// A walk over `table` from chain `start` of each array (reduced to the chains there
    /// are), each bucket's slots turned by `turn` ([`RangeOrder`] only).
    fn over(table: &RawTable<K, V>, start: usize, turn: Turn) -> Self {
        let (old, old_begin, old_end) = match &table.old {
            // Chains below the mark are evacuated (and their memory may be gone).
            Some(old) => (old.view(), table.nevacuate, table.old_buckets()),
            None => (ArrayView::EMPTY, 0, 0),
        };
        let old_left = old_end - old_begin;
        let buckets = table.regular_buckets();
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
                new: table.buckets.view(),
                new_next: start & buckets.wrapping_sub(1),
                new_mask: buckets.wrapping_sub(1),
                new_left: 0,
                new_waiting: buckets,
                in_old: None,
            },
        }
    }

    /// Moves on to the next bucket with an occupied slot; false if there is none (which,
    /// while `remaining > 0`, would mean a corrupt count).
    #[inline]
    fn advance(&mut self) -> bool {
        loop {
            // The common case inline: the bucket ends its chain and the next chain is the
            // next one of the current array. A last slot that is `EMPTY_REST` says the
            // chain holds nothing further, without a read of the bucket's link.
            let chains = &mut self.chains;
            let bucket = if chains.new_left > 0
                && (self.bucket.group().ends_chain() || chains.new.next(self.bucket).is_none())
            {
                chains.next_current_head()
            } else if let Some(bucket) = chains.after(self.bucket) {
                bucket
            } else {
                debug_assert!(false, "walked past the end with {} entries left", self.remaining);
                return false;
            };
            self.bucket = bucket;
            self.occupied = O::occupied(bucket.group(), self.turn);
            if O::any(self.occupied) {
                return true;
            }
        }
    }
}

/// The order in which a walk takes the slots of each bucket.
pub(crate) trait SlotOrder {
    /// A bucket's slots not yet taken, produced in this order.
    type Slots: Iterator<Item = usize> + Copy;
    const NONE: Self::Slots;
    /// The occupied slots of a bucket (`turn`: where a walk that turns starts).
    fn occupied(group: Group, turn: Turn) -> Self::Slots;
    fn any(slots: Self::Slots) -> bool;
}

/// Table order: from slot 0 up, the same on every walk (`iter`).
pub(crate) enum TableOrder {}

/// Go's `range` order: from the walk's random offset up, wrapping around.
pub(crate) enum RangeOrder {}

impl SlotOrder for TableOrder {
    type Slots = BitMask;
    const NONE: BitMask = BitMask::EMPTY;

    #[inline]
    fn occupied(group: Group, _turn: Turn) -> BitMask {
        group.match_occupied()
    }

    #[inline]
    fn any(slots: BitMask) -> bool {
        slots.any()
    }
}

impl SlotOrder for RangeOrder {
    type Slots = TurnedMask;
    const NONE: TurnedMask = TurnedMask::EMPTY;

    #[inline]
    fn occupied(group: Group, turn: Turn) -> TurnedMask {
        group.match_occupied().turned(turn)
    }

    #[inline]
    fn any(slots: TurnedMask) -> bool {
        slots.any()
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
        let index = self.occupied.next()?;
        self.remaining -= 1;
        Some(Slot { bucket: self.bucket, index })
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
            for index in mem::replace(&mut self.occupied, O::NONE) {
                self.remaining -= 1;
                acc = f(acc, Slot { bucket, index });
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

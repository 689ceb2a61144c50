//! Growth: starting one (`hash_grow`), the incremental work every write does (`grow_work`),
//! moving one old chain (`evacuate`), and the evacuation mark.

use core::alloc::Layout;
use core::mem;
use core::ptr;

use super::alloc::{ArrayView, BucketArray};
use super::bucket::{BucketRef, BUCKET_CNT, EMPTY_ONE, EVACUATED_EMPTY, EVACUATED_X, EVACUATED_Y};
use super::group::{Probe, SlotBits};
use super::observe::Driver;
use super::table::{b_for_hint, over_load_factor, NextFree, RawTable, Slot};
use crate::TryReserveError;

/// How far past already-evacuated buckets one advance of the mark may scan, so that every
/// write stays O(1) (Go's limit; measured, it never binds: the largest jump seen is 15).
const MARK_SCAN_LIMIT: usize = 1024;

/// How many chains ahead a bulk walk of the current array (re-placing every entry) asks
/// for the first line of slots of the chain it will read: a bucket's slots are read a line
/// or two at a time, a pattern the hardware's prefetchers follow poorly, and each bucket
/// takes tens of ns, so this asks a few hundred ns ahead. (The same distance as `iter`'s
/// walk had when it went one chain at a time, BENCHMARKS run L: 6 to 24 measured alike.)
const WALK_PREFETCH_AHEAD: usize = 12;

/// Which bulk operation asks [`RawTable::resize`] to move every entry at once.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BulkResize {
    /// `reserve`: into a bigger array.
    Reserve,
    /// `shrink_to`: into the smallest array that holds the entries.
    Shrink,
}

/// Where the entries of one old chain go: for each bucket of the chain, in order, the slots
/// whose entry moves to the upper ("Y") half. Chains of up to 8 buckets need no allocation.
struct Destinations {
    inline: u64,
    spill: Vec<u8>,
    len: usize,
}

impl Destinations {
    fn new() -> Self {
        Destinations { inline: 0, spill: Vec::new(), len: 0 }
    }

    #[inline]
    fn push(&mut self, to_y: SlotBits) {
        if self.len < 8 {
            self.inline |= u64::from(to_y.0) << (8 * self.len);
        } else {
            self.spill.push(to_y.0);
        }
        self.len += 1;
    }

    /// The slots of the chain's bucket number `n` that go to Y.
    #[inline]
    fn get(&self, n: usize) -> SlotBits {
        SlotBits(if n < 8 { (self.inline >> (8 * n)) as u8 } else { self.spill[n - 8] })
    }
}

impl<K, V> RawTable<K, V> {
    /// Whether a growth is in progress (Go: `oldbuckets != nil`).
    #[inline]
    pub(crate) fn is_growing(&self) -> bool {
        self.old.is_some()
    }

    /// Regular buckets of the old array (Go's `noldbuckets`); meaningful while growing.
    #[inline]
    pub(crate) fn old_buckets(&self) -> usize {
        if self.same_size_grow {
            1 << self.b
        } else {
            1 << (self.b - 1)
        }
    }

    /// Go's `hashGrow`: allocates the new array and makes the current one old. Moves no
    /// data. A doubling if the insert about to happen would exceed the load factor, else
    /// (too many overflow buckets) a same-size growth that compacts the chains.
    pub(super) fn hash_grow(&mut self) {
        debug_assert!(self.old.is_none(), "a growth is never started during another");
        let bigger = over_load_factor(self.count + 1, self.b);
        let new_b = self.b + u8::from(bigger);
        let old = mem::replace(&mut self.buckets, BucketArray::new(new_b));
        self.old = Some(old);
        // A previous old array still being given back goes now (growths are far apart, so
        // this is rare and small).
        self.retired = None;
        self.set_b(new_b);
        self.same_size_grow = !bigger;
        self.nevacuate = 0;
        self.note_growth_started();
        self.overflow.noverflow = 0;
    }

    /// Go's `growWork`: evacuates the old chain that feeds current bucket `bucket` (the one
    /// a write is about to use), then the one at the mark, so every write makes progress.
    pub(crate) fn grow_work(&mut self, bucket: usize, hasher: &impl Fn(&K) -> u64) {
        self.note_growth_write();
        if let Some(old) = &self.old {
            // The last write asked for the mark chain's link (`prefetch_move`): ask for the
            // bucket it leads to, so that it arrives while the write's own chain moves.
            old.view().prefetch_second_buckets(self.nevacuate, 1);
        }
        let oi = bucket & (self.old_buckets() - 1);
        // The old chain and its destinations sit at random places of two large arrays:
        // start all their cache misses now, so that they overlap.
        if oi >= self.nevacuate {
            self.prefetch_move(oi);
        }
        self.evacuate(oi, hasher, Driver::Write);
        if self.is_growing() {
            self.evacuate(self.nevacuate, hasher, Driver::Write);
        }
        // The next write evacuates the chain at the mark: ask for it now, so that it
        // arrives while this write finishes. The mark walks the arrays in order, but too
        // slowly for the hardware's stream detection to follow it.
        self.prefetch_move(self.nevacuate);
    }

    /// Prefetches old chain `oi` (its head's control word and slots) and the new
    /// buckets it moves to (a hint: nothing when no growth is in progress).
    #[inline]
    fn prefetch_move(&self, oi: usize) {
        if let Some(old) = &self.old {
            old.bucket(oi).prefetch_whole();
            old.view().prefetch_links(oi, 1);
            let (x, y) = self.destinations(oi);
            x.prefetch_whole();
            y.prefetch_whole();
        }
    }

    /// Completes the growth in progress, if any.
    pub(crate) fn finish_growth(&mut self, hasher: &impl Fn(&K) -> u64) {
        while self.is_growing() {
            self.evacuate(self.nevacuate, hasher, Driver::Explicit);
        }
    }

    /// Evacuates up to `n` old chains, lowest first; true when no growth is in progress.
    pub(crate) fn evacuate_step(&mut self, n: usize, hasher: &impl Fn(&K) -> u64) -> bool {
        for _ in 0..n {
            if !self.is_growing() {
                break;
            }
            self.evacuate(self.nevacuate, hasher, Driver::Explicit);
        }
        !self.is_growing()
    }

    /// The new buckets that old chain `oi` moves to: "X" (`oi`) and, in a doubling, "Y"
    /// (`oi + 2^oldB`); in a same-size growth both are bucket `oi`.
    #[inline]
    fn destinations(&self, oi: usize) -> (BucketRef<K, V>, BucketRef<K, V>) {
        let y = if self.same_size_grow { oi } else { oi + self.old_buckets() };
        (self.buckets.bucket(oi), self.buckets.bucket(y))
    }

    /// Go's `evacuate`: moves old chain `oi` (if not yet moved), then advances the mark if
    /// `oi` is where it stands.
    fn evacuate(&mut self, oi: usize, hasher: &impl Fn(&K) -> u64, by: Driver) {
        let Some(old) = &self.old else { return };
        // Below the mark everything is evacuated, and the memory may be gone.
        if oi >= self.nevacuate && !old.bucket(oi).is_evacuated() {
            let moved = self.evacuate_chain(oi, hasher);
            self.note_chain_evacuated(oi, moved, by);
        }
        if oi == self.nevacuate {
            self.advance_evacuation_mark();
        }
    }

    /// Moves every entry of old chain `oi` into the new array, densely, keeping their order:
    /// to bucket `oi` ("X") or, in a doubling, to `oi + 2^oldB` ("Y") by the hash bit that
    /// the new mask adds. Old slots are marked evacuated and the chain is unlinked from its
    /// overflow buckets, which stay with the old array. Returns the number of entries moved.
    ///
    /// All re-hashing happens before anything moves, so a panicking `Hash` leaves the
    /// table exactly as it was.
    fn evacuate_chain(&mut self, oi: usize, hasher: &impl Fn(&K) -> u64) -> usize {
        let newbit = self.old_buckets();
        let doubling = !self.same_size_grow;
        let old = self.old.as_ref().expect("evacuating without an old array").view();
        let head = old.bucket(oi);
        let mut to_y = Destinations::new();
        if doubling {
            let mut b = Some(head);
            while let Some(bucket) = b {
                let mut y = 0u8;
                for i in bucket.group().match_occupied() {
                    // SAFETY: an occupied slot of a live old bucket holds a key.
                    let hash = hasher(unsafe { &*bucket.key_ptr(i) });
                    y |= u8::from(hash as usize & newbit != 0) << i;
                }
                to_y.push(SlotBits(y));
                b = old.next(bucket);
            }
        }

        self.cursor.entries_moved();
        let (x, y) = self.destinations(oi);
        let (mut x, mut y) = (NextFree::new(x), NextFree::new(y));
        let mut moved = 0;
        let mut b = Some(head);
        let mut n = 0;
        while let Some(bucket) = b {
            let group = bucket.group();
            debug_assert_eq!(
                group.match_occupied().count() + group.match_empty().count(),
                BUCKET_CNT,
                "bad map state: an evacuation marker in an unevacuated chain"
            );
            // Tombstones are rare here (a write reuses them): usually no iteration at all.
            self.tombstones -= group.match_tophash(Probe::marker(EMPTY_ONE)).count();
            let occupied = group.match_occupied().slot_bits();
            let to_y_here = if doubling { to_y.get(n) } else { SlotBits::default() };
            let to_x_here = occupied.without(to_y_here);
            n += 1;
            // SAFETY: both sets are occupied slots of this old bucket, disjoint, each moved
            // once; the bucket's markers are written right after, and nothing in between can
            // unwind (the only user code there, a `tracing` subscriber handling an
            // overflow event, has its panics contained: `observe`), so the old copies are
            // never used again.
            unsafe {
                self.move_entries(bucket, to_x_here, &mut x);
                self.move_entries(bucket, to_y_here, &mut y);
            }
            moved += occupied.len();
            // The bucket's evacuation markers, all eight in one store: EVACUATED_X or
            // EVACUATED_Y where an entry left, EVACUATED_EMPTY elsewhere.
            let marks = u64::from_le_bytes([EVACUATED_EMPTY; BUCKET_CNT])
                - u64::from(EVACUATED_EMPTY - EVACUATED_X) * to_x_here.bytes()
                - u64::from(EVACUATED_EMPTY - EVACUATED_Y) * to_y_here.bytes();
            bucket.set_tophashes(marks.to_le_bytes());
            b = old.next(bucket);
        }

        // The chain is empty now: unlink it.
        old.set_overflow(head, ptr::null_mut());
        moved
    }

    /// Moves the entries in `slots` of old `bucket`, in slot order, to the next free slots
    /// of `dst`, attaching overflow buckets to its chain as it fills.
    ///
    /// # Safety
    ///
    /// `slots` are occupied slots of `bucket`, a bucket of the old chain being evacuated,
    /// and the caller marks them evacuated before anything reads them again (their
    /// entries are moved bitwise: the old copies must never be read, dropped or moved
    /// again). `dst` points into the new chain that this old chain feeds.
    #[inline(always)]
    unsafe fn move_entries(&mut self, bucket: BucketRef<K, V>, slots: SlotBits, dst: &mut NextFree<K, V>) {
        for i in slots {
            let to = dst.take(&mut self.overflow, &mut self.buckets, &mut self.observer);
            // SAFETY: the destination is a live bucket of the new array, empty where the
            // `NextFree` points (invariant 6: the new buckets fed by an unevacuated old chain
            // are empty, and those only move forward); the source slot is occupied and
            // moved once, by the caller's contract.
            unsafe {
                ptr::copy_nonoverlapping(bucket.key_ptr(i), to.key(), 1);
                ptr::copy_nonoverlapping(bucket.value_ptr(i), to.value(), 1);
            }
            to.set_tophash(bucket.tophash(i));
        }
    }

    /// Go's `advanceEvacuationMark`: steps past the bucket just evacuated and any already
    /// evacuated ones after it (at most `MARK_SCAN_LIMIT`). When the mark passes the end the
    /// growth is over and the old array goes; until then the memory below the mark is given
    /// back piece by piece.
    fn advance_evacuation_mark(&mut self) {
        let newbit = self.old_buckets();
        let old = self.old.as_mut().expect("advancing the mark without an old array");
        self.nevacuate += 1;
        let stop = (self.nevacuate + MARK_SCAN_LIMIT).min(newbit);
        while self.nevacuate != stop && old.bucket(self.nevacuate).is_evacuated() {
            self.nevacuate += 1;
        }
        if self.nevacuate == newbit {
            self.note_growth_finished();
            self.retired = self.old.take().map(Box::new);
            self.same_size_grow = false;
            self.nevacuate = 0;
        } else {
            old.release_below(self.nevacuate);
        }
    }

    /// `shrink_to`: into the array for `max(len, min_capacity)` entries, when that gives
    /// memory back ([`would_shrink`](Self::would_shrink)).
    pub(crate) fn shrink_to(&mut self, min_capacity: usize, hasher: &impl Fn(&K) -> u64) {
        let b = b_for_hint(self.count.max(min_capacity));
        if self.would_shrink(b) {
            // Shrinking asks for less memory than the table holds; a refusal of it is as
            // rare as an insert's, and treated the same way.
            self.resize(b, hasher, BulkResize::Shrink).unwrap_or_else(|e| e.raise());
        }
    }

    /// Whether `resize(b)` would give memory back: `b` is smaller than the table's, or the
    /// same but the table holds a growth in progress, an old array still being given back,
    /// or overflow buckets its entries do not need. (Tombstones alone do not count: they
    /// hold no memory.)
    fn would_shrink(&self, b: u8) -> bool {
        b < self.b || (b == self.b && (self.old.is_some() || self.retired.is_some() || self.has_slack_chains()))
    }

    /// Whether some chain of the current array is longer than its entries need: a bucket
    /// with a free slot that is not its chain's last, or a last bucket with no entry. (A
    /// chain of `n` entries needs `ceil(n / 8)` buckets, whatever their order.) Reads the
    /// chain bits, and the control words of chains only.
    fn has_slack_chains(&self) -> bool {
        if !self.buckets.has_chains() {
            return false;
        }
        let array = self.buckets.view();
        (0..1usize << self.b).any(|i| {
            let mut bucket = array.bucket(i);
            let mut linked = false;
            while let Some(next) = array.next(bucket) {
                if bucket.group().match_empty().any() {
                    return true;
                }
                (bucket, linked) = (next, true);
            }
            linked && !bucket.group().match_occupied().any()
        })
    }

    /// Moves every entry at once into a fresh array of `2^b` buckets (for `reserve` and
    /// `shrink_to`, bulk operations by contract; `why` names which).
    ///
    /// Into an array no bigger than any present, an entry of chain `i` goes to chain
    /// `i mod 2^b` (a hash's chain is its low bits), so no key is hashed. Otherwise every
    /// hash is computed before anything moves, so a panicking `Hash` leaves the table as
    /// it was.
    ///
    /// # Errors
    /// When the new array, or the room for the hashes, cannot be had; the table is then
    /// unchanged. The lone overflow buckets the move may need beyond the new array's pool
    /// (a poor hash's long chains) are allocated as an insert allocates them, at most
    /// [`RETIRE_STEP`](super::alloc::RETIRE_STEP) bytes at a time, and a refusal there goes
    /// to `handle_alloc_error`.
    pub(crate) fn resize(
        &mut self,
        b: u8,
        hasher: &impl Fn(&K) -> u64,
        why: BulkResize,
    ) -> Result<(), TryReserveError> {
        let smallest = if self.is_growing() && !self.same_size_grow { self.b - 1 } else { self.b };
        let mut resized = RawTable::try_to_hold(b, self.count)?;
        let hashes = if b > smallest {
            let mut hashes = Vec::new();
            hashes.try_reserve_exact(self.count).map_err(|_| match Layout::array::<u64>(self.count) {
                Ok(layout) => TryReserveError::AllocError { layout },
                Err(_) => TryReserveError::CapacityOverflow,
            })?;
            // SAFETY: the walk yields occupied slots, which hold keys.
            hashes.extend(self.raw_iter().map(|slot| hasher(unsafe { &*slot.key() })));
            Some(hashes)
        } else {
            None
        };
        resized.seed = self.seed;
        // The counters stay with the map.
        self.note_bulk_resize(why);
        mem::swap(&mut resized.observer, &mut self.observer);
        mem::swap(&mut resized.cursor, &mut self.cursor);
        resized.cursor.entries_moved();
        let mut take = |from: Slot<K, V>, hash: u64| {
            let to = resized.insert_slot(hash);
            // SAFETY: `from` is occupied and `to` is an empty slot of the fresh table. Each
            // entry is moved bitwise once; the source table forgets all of them below.
            unsafe {
                ptr::copy_nonoverlapping(from.key(), to.key(), 1);
                ptr::copy_nonoverlapping(from.value(), to.value(), 1);
            }
            to.set_tophash(from.tophash());
            resized.count += 1;
        };
        match hashes {
            Some(hashes) => self.raw_iter().zip(hashes).for_each(|(from, hash)| take(from, hash)),
            None => self.for_each_slot_by_chain(|chain, from| take(from, chain as u64)),
        }
        // The entries now belong to `resized`: the old storage is freed without them.
        self.count = 0;
        mem::swap(self, &mut resized);
        Ok(())
    }

    /// Calls `f` on every live slot with the index of the chain that holds it: the
    /// unevacuated old chains, then the current array's.
    fn for_each_slot_by_chain(&self, mut f: impl FnMut(usize, Slot<K, V>)) {
        let mut walk = |array: ArrayView<K, V>, chain: usize| {
            let mut bucket = Some(array.bucket(chain));
            while let Some(b) = bucket {
                for index in b.group().match_occupied() {
                    f(chain, Slot { bucket: b, index });
                }
                bucket = array.next(b);
            }
        };
        if let Some(old) = &self.old {
            // Below the mark every old chain is evacuated (and its memory may be gone).
            for chain in self.nevacuate..self.old_buckets() {
                if !old.bucket(chain).is_evacuated() {
                    walk(old.view(), chain);
                }
            }
        }
        if !self.buckets.is_unallocated() {
            let array = self.buckets.view();
            for chain in 0..1usize << self.b {
                // As a walk does (`iter`): the slots' pattern is one the hardware follows
                // poorly.
                array.prefetch_slots(chain + WALK_PREFETCH_AHEAD);
                walk(array, chain);
            }
        }
    }
}

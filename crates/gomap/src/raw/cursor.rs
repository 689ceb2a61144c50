//! The cursor: a position in a table that survives any mutation between two steps.
//!
//! # Position
//!
//! A cursor does not remember buckets, which growth replaces, but a point of *hash space*,
//! in an order in which every bucket of every array is an interval. The cursor fixes
//! `base_b`, the `b` of the smallest array present when it is made, and orders hashes by
//! their low `base_b` bits (the bucket index in that array), then by their remaining bits
//! read backwards. A bucket `j` of an array of `2^b` buckets (`b >= base_b`) then holds
//! exactly the hashes of one aligned interval of that order, and the buckets of a bigger
//! array split those of a smaller one. Growth (doubling or same-size), evacuation and
//! clearing never move a key out of its interval; only the hash seed could, and the seed
//! changes only when the table is empty. As long as the map keeps its size, the walk visits
//! buckets in index order, so it reads memory sequentially, as `iter` does.
//!
//! The cursor walks the order once around, from a random bucket, a few intervals at a time.
//! Entering them, it notes the keys found there (in the chain that holds them now: the
//! unevacuated old chain, or the current one), each with a copy of the key and the slot it
//! is in. Each step produces the next noted key that is still in the map, with its current
//! value: found in its noted slot while no entry has moved since, else looked up. So:
//!
//! 1. an entry present at creation and never removed is in exactly one interval and is
//!    noted and produced exactly once;
//! 2. an entry removed before the cursor produces it is not found, so not produced;
//! 3. an entry inserted later is produced only if its interval is entered after the
//!    insert, or if it has a noted key (see 4), and then once: each note is used once;
//! 4. a key removed and inserted again is a new entry with a noted key: it is produced at
//!    its note if it is found there (or by the lookup), else not at all.
//!
//! An interval is a whole bucket of whichever array holds it while arrays only get bigger:
//! the walk starts at a bucket boundary of the smallest array present, and an old chain,
//! once evacuated, stays evacuated until its growth ends. Only `shrink_to` makes an array
//! smaller than the base one, whose chains then hold keys of several base buckets that are
//! not next to each other in the order. Such a chain is entered one base bucket at a time,
//! and of its keys only those whose hashes fall in that bucket are noted (each key is
//! hashed to tell). So a walk that outlives a shrink from `2^b` to `2^s` buckets scans each
//! chain of the small array `2^(b - s)` times, hashing every key each time; a walk that
//! sees no shrink pays nothing for this.
//!
//! # Soundness
//!
//! The slots noted on entry are used directly only while the table's *generation* is the
//! one seen on entry. Every operation that moves an entry or frees bucket memory advances
//! the generation (evacuation, resize, clear). Removals and inserts do not: they leave
//! every other entry where it is and free nothing, so a noted slot stays readable. After a
//! removal (the table counts them) a noted slot may have been emptied, or filled again with
//! another entry, so from then on its tophash and key are checked before it is used. Once
//! the generation has moved, each remaining key is looked up again. A cursor holds no
//! pointer it follows without the table, which the caller passes in exclusively, and whose
//! identity is checked first.

use core::sync::atomic::{AtomicU64, Ordering};

use super::alloc::ArrayView;
use super::bucket::{BucketRef, BUCKET_CNT, MIN_TOP_HASH};
use super::group::Turn;
use super::random_u64;
use super::table::{RawTable, Slot};

/// The number of points in the walk order (`2^64`): the end of a walk.
const WALK_END: u128 = 1 << 64;

/// Entering stops after the interval that brings the noted keys to this many, so that the
/// fixed cost of entering is shared by several buckets' entries.
const NOTE_KEYS: usize = 64;

/// ... or after this many buckets (for sparse maps).
const NOTE_BUCKETS: usize = 32;

/// The low `b` bits of the hashes at walk point `point`, for any `b` up to the bits the
/// point fixes: the point's top `base_b` bits are the low hash bits, in order, and its
/// other bits are the hash's next ones, reversed.
#[inline]
fn hash_bits_at(point: u64, base_b: u8) -> u64 {
    let low = if base_b == 0 { 0 } else { point >> (64 - base_b) };
    let rest = point & (u64::MAX >> base_b);
    // Most walks see only the array they began with: then `rest` is 0 (and reversing bits
    // is a long instruction sequence on x86).
    if rest == 0 {
        low
    } else {
        low | rest.reverse_bits()
    }
}

/// The walk point of a hash: the inverse of [`hash_bits_at`] for all 64 bits.
#[inline]
fn point_of(hash: u64, base_b: u8) -> u64 {
    if base_b == 0 {
        return hash.reverse_bits();
    }
    let low_mask = (1u64 << base_b) - 1;
    ((hash & low_mask) << (64 - base_b)) | (hash & !low_mask).reverse_bits()
}

/// A table's identity for cursors, and two counts of its changes.
///
/// A plain number, drawn when the table is made: a table holds no interior mutability, so
/// the compiler may keep its fields in registers across code it cannot see into while the
/// table is borrowed shared (a lazily drawn identity would need an atomic field).
pub(crate) struct CursorTag {
    /// A process-unique number.
    id: u64,
    /// Advanced whenever an entry moves or bucket memory is freed.
    generation: u64,
    /// Advanced with the generation, and by every removal.
    version: u64,
}

impl CursorTag {
    /// A tag with a fresh identity: tables never share one (a copy or a new table gets its
    /// own).
    pub(super) fn new() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        CursorTag { id: NEXT_ID.fetch_add(1, Ordering::Relaxed), generation: 0, version: 0 }
    }

    /// Entries moved, or bucket memory was freed: slots noted by cursors are no longer to be
    /// read.
    #[inline]
    pub(super) fn entries_moved(&mut self) {
        self.generation = self.generation.wrapping_add(1);
        self.version = self.version.wrapping_add(1);
    }

    /// An entry left its slot: slots noted by cursors may no longer hold their keys.
    #[inline]
    pub(super) fn entry_removed(&mut self) {
        self.version = self.version.wrapping_add(1);
    }
}

/// The state of a cursor (see the module documentation).
pub(crate) struct RawCursor<K, V> {
    /// The identity of the table the cursor walks.
    table: u64,
    /// The table's seed when last seen; a new one means the table was empty meanwhile.
    seed: u64,
    /// The `b` of the smallest array when the cursor was made: it fixes the walk order.
    base_b: u8,
    /// Where in the walk order the walk started.
    start: u64,
    /// Offset from `start` of the first point not yet walked (`WALK_END`: finished).
    walked: u128,
    /// The end offset of the intervals entered, while inside them.
    interval_end: Option<u128>,
    /// The entries of the intervals entered, in walk order, as copies of their keys and the
    /// slots they were in (readable while the table's generation is `generation`: nothing
    /// moved since); those from `next_key` on are not produced yet.
    notes: Vec<(K, Slot<K, V>)>,
    next_key: usize,
    generation: u64,
    /// The table's version when the notes were taken: while it is unchanged, every noted
    /// slot still holds its key.
    version: u64,
    /// Where the walk of each bucket starts, as in Go's range.
    turn: Turn,
}

impl<K, V> RawCursor<K, V> {
    /// A cursor at a random point of `table`.
    pub(crate) fn new(table: &RawTable<K, V>) -> Self {
        let r = random_u64();
        // A bucket boundary of the smallest array present: then every interval the walk
        // enters is a whole bucket of the array that holds it.
        let base_b = if table.is_growing() && !table.same_size_grow { table.b - 1 } else { table.b };
        RawCursor {
            table: table.cursor.id,
            seed: table.seed,
            base_b,
            start: if base_b == 0 { 0 } else { r & !(u64::MAX >> base_b) },
            walked: 0,
            interval_end: None,
            notes: Vec::new(),
            next_key: 0,
            generation: 0,
            version: 0,
            turn: Turn::new(r as usize),
        }
    }

    /// The next entry of the walk, with its current value. `hash` must be the table's hash
    /// function under its current seed, and `eq` the key equality.
    ///
    /// # Panics
    ///
    /// If `table` is not the table the cursor was made from.
    #[inline]
    pub(crate) fn next<'a>(
        &mut self,
        table: &'a mut RawTable<K, V>,
        hash: impl Fn(&K) -> u64,
        eq: impl Fn(&K, &K) -> bool,
    ) -> Option<(&'a K, &'a mut V)>
    where
        K: Clone,
    {
        let same_table = || table.cursor.id == self.table;
        if table.cursor.version == self.version && same_table() {
            // The common step: nothing moved or removed since the intervals were entered,
            // so every noted slot holds its key.
            if let Some(&(_, slot)) = self.notes.get(self.next_key) {
                self.next_key += 1;
                // SAFETY: as in `next_slow`, first branch.
                return Some(unsafe { (&*slot.key(), &mut *slot.value()) });
            }
        } else if table.cursor.generation == self.generation && same_table() {
            // Removals only (Go's delete while ranging): the noted slots are still there,
            // but may have been emptied or taken by other keys.
            while let Some((key, slot)) = self.notes.get(self.next_key) {
                self.next_key += 1;
                if holds(*slot, key, &eq) {
                    // SAFETY: as in `next_slow`, first branch.
                    return Some(unsafe { (&*slot.key(), &mut *slot.value()) });
                }
            }
        }
        self.next_slow(table, hash, eq)
    }

    /// [`next`](RawCursor::next) in full: identity check, seed change, lookups of noted
    /// keys after the table changed, and entering the next interval.
    fn next_slow<'a>(
        &mut self,
        table: &'a mut RawTable<K, V>,
        hash: impl Fn(&K) -> u64,
        eq: impl Fn(&K, &K) -> bool,
    ) -> Option<(&'a K, &'a mut V)>
    where
        K: Clone,
    {
        assert!(
            table.cursor.id == self.table,
            "gomap::Cursor::next: called with a map other than the one the cursor came from"
        );
        if table.seed != self.seed {
            // The table was empty since the last step: every noted key was removed, and
            // whatever is there now was inserted after the cursor was made.
            self.next_key = self.notes.len();
            self.seed = table.seed;
        }
        loop {
            if self.interval_end.is_some() && self.next_key < self.notes.len() {
                let (key, noted) = &self.notes[self.next_key];
                self.next_key += 1;
                let slot = if table.cursor.generation == self.generation {
                    // (`next` already walks the notes after removals; the same test here
                    // keeps this loop correct on its own.)
                    if table.cursor.version != self.version && !holds(*noted, key, &eq) {
                        // Removed before the cursor reached it (its slot may hold another
                        // entry now, inserted later).
                        continue;
                    }
                    *noted
                } else {
                    match table.find(hash(key), |stored| eq(stored, key)) {
                        Some(slot) => slot,
                        // Removed before the cursor reached it.
                        None => continue,
                    }
                };
                // SAFETY: `slot` is occupied: either nothing moved since the interval was
                // entered (same generation) and nothing was removed since (same version) or
                // `holds` saw the noted key in it, or it was just found. The table is
                // borrowed exclusively for 'a, and one entry is handed out per borrow.
                return Some(unsafe { (&*slot.key(), &mut *slot.value()) });
            }
            if let Some(end) = self.interval_end.take() {
                self.walked = end;
            }
            if self.walked == WALK_END {
                return None;
            }
            self.enter(table, &hash);
        }
    }

    /// Notes the keys of the next intervals of the walk: at least one, and more until
    /// `NOTE_KEYS` keys or `NOTE_BUCKETS` buckets are noted.
    fn enter(&mut self, table: &RawTable<K, V>, hash: &impl Fn(&K) -> u64)
    where
        K: Clone,
    {
        // If `K::clone` panics below, the cursor stays outside any interval (and enters
        // these again on the next step): the notes are marked stale until complete, so
        // neither the fast path nor the lookups use a partial set.
        self.generation = table.cursor.generation.wrapping_sub(1);
        self.version = table.cursor.version.wrapping_sub(1);
        self.notes.clear();
        self.next_key = 0;
        let mut end = self.walked;
        let mut buckets = 0;
        loop {
            let point = self.start.wrapping_add(end as u64);
            let (chain, b) = table.chain_at(hash_bits_at(point, self.base_b));
            // The interval: the chain's bucket, unless the map shrank since the cursor was
            // made. A chain of an array smaller than the base one holds keys of several
            // base buckets, which are not next to each other in the walk order; and after
            // walking part of a big array, the walk may stand inside a smaller one's bucket.
            // Then the interval ends at the next boundary of the base bucket (or of the
            // chain's, if smaller), and only the chain's keys inside it are noted.
            let width = WALK_END >> b.max(self.base_b);
            let stop = (end | (width - 1)) + 1;
            if let Some((array, head)) = chain {
                buckets += if b >= self.base_b && end & (width - 1) == 0 {
                    note_chain(&mut self.notes, array, head, self.turn, |_| true)
                } else {
                    let start = self.start;
                    let base_b = self.base_b;
                    let inside =
                        |key: &K| (end..stop).contains(&u128::from(point_of(hash(key), base_b).wrapping_sub(start)));
                    note_chain(&mut self.notes, array, head, self.turn, inside)
                };
            }
            end = stop;
            if end == WALK_END || self.notes.len() >= NOTE_KEYS || buckets >= NOTE_BUCKETS {
                break;
            }
        }
        self.generation = table.cursor.generation;
        self.version = table.cursor.version;
        self.interval_end = Some(end);
    }
}

/// Whether the noted `slot` still holds `key`. Only for a slot noted in the table's current
/// generation: its bucket is still allocated, though the slot may have been emptied.
#[inline]
fn holds<K, V>(slot: Slot<K, V>, key: &K, eq: &impl Fn(&K, &K) -> bool) -> bool {
    // SAFETY: a slot whose tophash is a real tophash holds a key.
    slot.tophash() >= MIN_TOP_HASH && eq(unsafe { &*slot.key() }, key)
}

/// Appends the entries of the chain at `head` whose keys `keep` accepts to `notes` (slots
/// in walk order), and returns the number of buckets in the chain.
#[inline]
fn note_chain<K: Clone, V>(
    notes: &mut Vec<(K, Slot<K, V>)>,
    array: ArrayView<K, V>,
    head: BucketRef<K, V>,
    turn: Turn,
    keep: impl Fn(&K) -> bool,
) -> usize {
    let mut buckets = 0;
    let mut bucket = Some(head);
    while let Some(b) = bucket {
        notes.reserve(BUCKET_CNT);
        for index in b.group().match_occupied().turned(turn) {
            let slot = Slot { bucket: b, index };
            // SAFETY: an occupied slot of a chain of a table the caller borrows.
            let key = unsafe { &*slot.key() };
            if !keep(key) {
                continue;
            }
            let note = (key.clone(), slot);
            let len = notes.len();
            // SAFETY: a bucket has 8 slots and room for 8 more notes was reserved, so `len`
            // is below the capacity; the note is written before the length counts it (if
            // `clone` panics, nothing was written).
            unsafe {
                notes.as_mut_ptr().add(len).write(note);
                notes.set_len(len + 1);
            }
        }
        buckets += 1;
        bucket = array.next(b);
    }
    buckets
}

/// A chain: its array, and its first bucket.
type Chain<K, V> = (ArrayView<K, V>, BucketRef<K, V>);

impl<K, V> RawTable<K, V> {
    /// The chain that holds the keys whose hashes have these low bits (as many as the
    /// current array uses), and the `b` of its array; `None` while nothing is allocated.
    fn chain_at(&self, hash_bits: u64) -> (Option<Chain<K, V>>, u8) {
        if self.buckets.is_unallocated() {
            return (None, self.b);
        }
        let bucket = hash_bits as usize & self.mask();
        if let Some(old) = &self.old {
            let oi = bucket & old.mask();
            if oi >= self.nevacuate && !old.bucket(oi).is_evacuated() {
                return (Some((old.view(), old.bucket(oi))), old.b());
            }
        }
        (Some((self.buckets.view(), self.buckets.bucket(bucket))), self.b)
    }
}

// SAFETY: a cursor owns its noted keys; its slot pointers are only followed with the table
// borrowed exclusively, so it can move to whichever thread holds the table.
unsafe impl<K: Send, V> Send for RawCursor<K, V> {}
// SAFETY: `&RawCursor` reads nothing through its pointers.
unsafe impl<K: Sync, V> Sync for RawCursor<K, V> {}

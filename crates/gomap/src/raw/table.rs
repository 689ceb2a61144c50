//! `RawTable`: Go's `hmap` fields, and lookup, insert, delete and clear over them.
//!
//! Every function takes the hash already computed (the safe layer owns the hasher) and,
//! where the operation may evacuate, a `hasher` closure to re-hash keys that move.

use core::marker::PhantomData;
use core::mem;
use core::ptr;

use super::alloc::{alloc_bucket, BucketArray};
use super::bucket::{tophash, Bucket, BUCKET_CNT, EMPTY_ONE, EMPTY_REST};
use super::random_u64;

/// Go's load factor 6.5, as the integer fraction 13/2 so that every check is exact.
const LOAD_FACTOR_NUM: u128 = 13;
const LOAD_FACTOR_DEN: u128 = 2;

/// Go's `overLoadFactor`: would `count` entries be too many for `2^b` buckets?
///
/// A single bucket holds 8 entries (for `b = 0` the second clause is `count > 0`); from
/// `b = 1` on the bound is `6.5 * 2^b`. Both comparisons are strict.
pub(crate) fn over_load_factor(count: usize, b: u8) -> bool {
    count > BUCKET_CNT && count as u128 > LOAD_FACTOR_NUM * ((1u128 << b) / LOAD_FACTOR_DEN)
}

/// Go's `tooManyOverflowBuckets`: about as many overflow buckets as regular ones. The
/// threshold stops at 2^15 because `noverflow` is a u16 (and only estimated from b = 16).
pub(crate) fn too_many_overflow_buckets(noverflow: u16, b: u8) -> bool {
    u32::from(noverflow) >= 1u32 << b.min(15)
}

/// The smallest `b` whose buckets hold `hint` entries (Go's `makemap`).
pub(crate) fn b_for_hint(hint: usize) -> u8 {
    let mut b = 0;
    while over_load_factor(hint, b) {
        b += 1;
    }
    b
}

/// The most entries `2^b` buckets hold before an insert of a new key starts a growth.
pub(crate) fn capacity_for(b: u8) -> usize {
    if b == 0 {
        BUCKET_CNT
    } else {
        usize::try_from(LOAD_FACTOR_NUM << (b - 1)).unwrap_or(usize::MAX)
    }
}

/// A slot: a bucket and an index in it.
pub(crate) struct Slot<K, V> {
    pub(crate) bucket: *mut Bucket<K, V>,
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
        Bucket::key_ptr(self.bucket, self.index)
    }

    #[inline]
    pub(crate) fn value(self) -> *mut V {
        Bucket::value_ptr(self.bucket, self.index)
    }

    #[inline]
    pub(super) fn tophash(self) -> *mut u8 {
        // SAFETY: `bucket` is a live bucket and `index < 8`.
        unsafe { ptr::addr_of_mut!((*self.bucket).tophash).cast::<u8>().add(self.index) }
    }
}

/// Where a new key goes: the first empty slot of its chain, or (if the chain is full) a new
/// overflow bucket after `last`.
pub(crate) struct InsertPos<K, V> {
    pub(super) empty: Option<Slot<K, V>>,
    pub(super) last: *mut Bucket<K, V>,
}

/// The hash table proper: Go's `hmap`, with the hash function left to the caller.
pub(crate) struct RawTable<K, V> {
    /// Live entries (Go's `count`).
    pub(super) count: usize,
    /// log2 of the number of regular buckets (Go's `B`).
    pub(super) b: u8,
    /// The growth in progress keeps the bucket count (Go's `sameSizeGrow` flag).
    pub(super) same_size_grow: bool,
    /// Overflow buckets attached since the growth started: exact below b = 16, estimated
    /// above (Go's `noverflow`).
    pub(super) noverflow: u16,
    /// The per-map hash seed (Go's `hash0`), mixed into every hash by the safe layer;
    /// drawn anew whenever the map becomes empty.
    pub(super) seed: u64,
    /// The current array. Unallocated while the map is empty and `b == 0`.
    pub(super) buckets: BucketArray<K, V>,
    /// The previous array while a growth is in progress (Go's `oldbuckets`).
    pub(super) old: Option<BucketArray<K, V>>,
    /// Every old bucket below this index is evacuated (Go's `nevacuate`).
    pub(super) nevacuate: usize,
    /// `EMPTY_ONE` slots in the current array and in unevacuated old chains.
    pub(super) tombstones: usize,
    /// Overflow buckets allocated one by one (the pool was used up) and still linked.
    pub(super) separate_overflow: usize,
    /// State of the generator behind Go's probabilistic `noverflow`.
    pub(super) rng: u64,
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
        let bucket_size = mem::size_of::<Bucket<K, V>>() as u128;
        let hint = if hint as u128 * bucket_size > MAX_ALLOC.min(isize::MAX as u128) { 0 } else { hint };
        Self::with_b(b_for_hint(hint))
    }

    pub(super) fn with_b(b: u8) -> Self {
        RawTable {
            count: 0,
            b,
            same_size_grow: false,
            noverflow: 0,
            seed: random_u64(),
            buckets: if b == 0 { BucketArray::empty() } else { BucketArray::new(b) },
            old: None,
            nevacuate: 0,
            tombstones: 0,
            separate_overflow: 0,
            rng: random_u64() | 1,
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

    /// Entries that fit before an insert of a new key starts a doubling growth.
    pub(crate) fn capacity(&self) -> usize {
        capacity_for(self.b)
    }

    #[inline]
    pub(super) fn mask(&self) -> usize {
        (1usize << self.b) - 1
    }

    /// The chain a lookup of `hash` searches: the old one while it is not yet evacuated.
    #[inline]
    fn lookup_chain(&self, hash: u64) -> *mut Bucket<K, V> {
        if let Some(old) = &self.old {
            let oi = hash as usize & (self.old_buckets() - 1);
            // Buckets below the mark are evacuated (and may be unmapped): no need to look.
            if oi >= self.nevacuate && !Bucket::is_evacuated(old.bucket(oi)) {
                return old.bucket(oi);
            }
        }
        self.buckets.bucket(hash as usize & self.mask())
    }

    /// Searches one chain for the key with this `top` that `eq` accepts.
    #[inline]
    fn find_in_chain(mut b: *mut Bucket<K, V>, top: u8, eq: &mut impl FnMut(&K) -> bool) -> Option<Slot<K, V>> {
        loop {
            let group = Bucket::group(b);
            // An EMPTY_REST slot never matches (its tophash is 0), and everything after it
            // is EMPTY_REST too, so the candidates need no cut-off.
            for index in group.match_tophash(top) {
                let slot = Slot { bucket: b, index };
                // SAFETY: a slot whose tophash is a real tophash (>= 5) holds a key.
                if eq(unsafe { &*slot.key() }) {
                    return Some(slot);
                }
            }
            if group.match_empty_rest().any() {
                return None;
            }
            // SAFETY: `b` is a live bucket of the chain.
            b = unsafe { (*b).overflow };
            if b.is_null() {
                return None;
            }
        }
    }

    /// Go's `mapaccess`: never mutates, and reads the old chain while it is unevacuated.
    #[inline]
    pub(crate) fn find(&self, hash: u64, mut eq: impl FnMut(&K) -> bool) -> Option<Slot<K, V>> {
        if self.count == 0 {
            return None;
        }
        Self::find_in_chain(self.lookup_chain(hash), tophash(hash), &mut eq)
    }

    /// Shared access to a found entry.
    #[inline]
    pub(crate) fn get(&self, hash: u64, eq: impl FnMut(&K) -> bool) -> Option<(&K, &V)> {
        let slot = self.find(hash, eq)?;
        // SAFETY: `find` returns occupied slots; the references live as long as `&self`,
        // during which nothing can mutate the table.
        Some(unsafe { (&*slot.key(), &*slot.value()) })
    }

    /// Exclusive access to a found entry's value (a lookup: no evacuation work).
    #[inline]
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
        }
    }

    /// Walks the current chain of `hash` for the key, noting where a new key would go.
    /// Call after `prepare_write`.
    #[inline]
    pub(super) fn locate(&self, hash: u64, eq: &mut impl FnMut(&K) -> bool) -> Result<Slot<K, V>, InsertPos<K, V>> {
        if self.buckets.is_unallocated() {
            return Err(InsertPos { empty: None, last: ptr::null_mut() });
        }
        let top = tophash(hash);
        let mut b = self.buckets.bucket(hash as usize & self.mask());
        let mut empty = None;
        loop {
            let group = Bucket::group(b);
            for index in group.match_tophash(top) {
                let slot = Slot { bucket: b, index };
                // SAFETY: tophash >= 5, so the slot holds a key.
                if eq(unsafe { &*slot.key() }) {
                    return Ok(slot);
                }
            }
            if empty.is_none() {
                empty = group.match_empty().lowest().map(|index| Slot { bucket: b, index });
            }
            // SAFETY: `b` is a live bucket.
            let next = unsafe { (*b).overflow };
            if group.match_empty_rest().any() || next.is_null() {
                return Err(InsertPos { empty, last: b });
            }
            b = next;
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

    /// Inserts a key known to be absent at `pos` (from `find_for_write` with no change to
    /// the table since), first starting a growth if Go would.
    pub(crate) fn insert_absent(
        &mut self,
        hash: u64,
        mut pos: InsertPos<K, V>,
        key: K,
        value: V,
        hasher: &impl Fn(&K) -> u64,
    ) -> Slot<K, V> {
        if self.buckets.is_unallocated() {
            self.buckets = BucketArray::new(self.b);
            pos = InsertPos {
                empty: Some(Slot { bucket: self.buckets.bucket(hash as usize & self.mask()), index: 0 }),
                last: ptr::null_mut(),
            };
        }
        if self.old.is_none()
            && (over_load_factor(self.count + 1, self.b) || too_many_overflow_buckets(self.noverflow, self.b))
        {
            self.hash_grow();
            self.prepare_write(hash, hasher);
            pos = match self.locate(hash, &mut |_| false) {
                Ok(_) => unreachable!("a key that never compares equal was found"),
                Err(pos) => pos,
            };
        }
        let slot = match pos.empty {
            Some(slot) => slot,
            None => Slot { bucket: self.new_overflow(pos.last), index: 0 },
        };
        // SAFETY: `slot` is an empty slot of a live bucket of the current array; writing
        // the key and value and then its tophash makes it an occupied slot.
        unsafe {
            if *slot.tophash() == EMPTY_ONE {
                self.tombstones -= 1;
            }
            slot.key().write(key);
            slot.value().write(value);
            *slot.tophash() = tophash(hash);
        }
        self.count += 1;
        slot
    }

    /// `insert` with std's semantics: an existing key keeps its stored key and gets the new
    /// value, the old one is returned (and `key` is dropped). `eq(new, stored)` compares.
    #[inline]
    pub(crate) fn insert(
        &mut self,
        hash: u64,
        key: K,
        value: V,
        eq: impl Fn(&K, &K) -> bool,
        hasher: &impl Fn(&K) -> u64,
    ) -> Option<V> {
        match self.find_for_write(hash, |stored| eq(&key, stored), hasher) {
            // SAFETY: an occupied slot; `&mut self` makes the access unique.
            Ok(slot) => Some(mem::replace(unsafe { &mut *slot.value() }, value)),
            Err(pos) => {
                self.insert_absent(hash, pos, key, value, hasher);
                None
            }
        }
    }

    /// Go's `mapdelete`: the write work first (even for an absent key), then the removal.
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
        let first = self.buckets.bucket(hash as usize & self.mask());
        let slot = Self::find_in_chain(first, tophash(hash), &mut eq)?;
        Some(self.erase(first, slot))
    }

    /// The current chain that `hash` selects (after `prepare_write`).
    pub(crate) fn chain_of(&self, hash: u64) -> *mut Bucket<K, V> {
        self.buckets.bucket(hash as usize & self.mask())
    }

    /// Removes the entry in `slot` of the current chain starting at `first`: the slot
    /// becomes a tombstone, and a tombstone run that now reaches the end of the chain turns
    /// into `EMPTY_REST`, walking back across bucket boundaries, so that searches stop early.
    pub(crate) fn erase(&mut self, first: *mut Bucket<K, V>, slot: Slot<K, V>) -> (K, V) {
        // SAFETY: `slot` is an occupied slot of the chain that starts at `first`, in the
        // current array. Its key and value are read out exactly once and the slot is marked
        // empty at once, so they are never dropped or read again through the table. Every
        // bucket touched below is a live bucket of that chain.
        unsafe {
            let entry = (slot.key().read(), slot.value().read());
            *slot.tophash() = EMPTY_ONE;
            self.tombstones += 1;
            let Slot { bucket: mut b, index: mut i } = slot;
            let next_is_rest = if i == BUCKET_CNT - 1 {
                let next = (*b).overflow;
                next.is_null() || (*next).tophash[0] == EMPTY_REST
            } else {
                (*b).tophash[i + 1] == EMPTY_REST
            };
            if next_is_rest {
                loop {
                    (*b).tophash[i] = EMPTY_REST;
                    self.tombstones -= 1;
                    if i == 0 {
                        if b == first {
                            break;
                        }
                        let mut prev = first;
                        while (*prev).overflow != b {
                            prev = (*prev).overflow;
                        }
                        b = prev;
                        i = BUCKET_CNT - 1;
                    } else {
                        i -= 1;
                    }
                    if (*b).tophash[i] != EMPTY_ONE {
                        break;
                    }
                }
            }
            self.count -= 1;
            if self.count == 0 {
                // Nothing is stored, so nothing depends on the old seed (Go does the same
                // to make collision attacks harder).
                self.seed = random_u64();
            }
            entry
        }
    }

    /// Links a new overflow bucket after `last` (Go's `newoverflow`): from the array's
    /// preallocated pool while it lasts, then allocated on its own.
    pub(super) fn new_overflow(&mut self, last: *mut Bucket<K, V>) -> *mut Bucket<K, V> {
        let bucket = match self.buckets.take_pool_bucket() {
            Some(bucket) => bucket,
            None => {
                self.separate_overflow += 1;
                alloc_bucket()
            }
        };
        self.incr_noverflow();
        // SAFETY: `last` is the last bucket of a live chain of the current array.
        unsafe { (*last).overflow = bucket };
        bucket
    }

    /// Go's `incrnoverflow`: exact below b = 16; above, counts with probability
    /// 2^-(b-15), so that reaching 2^15 still means about 2^b overflow buckets.
    fn incr_noverflow(&mut self) {
        if self.b < 16 {
            self.noverflow = self.noverflow.saturating_add(1);
        } else {
            // xorshift64: only the low bits are used, and they are well mixed enough for a
            // probabilistic counter.
            self.rng ^= self.rng << 13;
            self.rng ^= self.rng >> 7;
            self.rng ^= self.rng << 17;
            let mask = (1u64 << (self.b - 15).min(63)) - 1;
            if self.rng & mask == 0 {
                self.noverflow = self.noverflow.saturating_add(1);
            }
        }
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
    /// frees separately allocated overflow buckets and the old array, re-zeroes the current
    /// one, resets the counters and draws a new seed.
    pub(crate) fn reset_empty(&mut self) {
        self.free_separate_overflow();
        self.old = None;
        self.buckets.zero();
        self.count = 0;
        self.same_size_grow = false;
        self.nevacuate = 0;
        self.noverflow = 0;
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

    /// Frees every separately allocated overflow bucket still linked, in the current array
    /// and in unevacuated old chains (evacuation frees those of the chains it moves).
    fn free_separate_overflow(&mut self) {
        if self.separate_overflow == 0 {
            return;
        }
        let old_chains = self.old.as_ref().map_or(0..0, |_| self.nevacuate..self.old_buckets());
        for (array, chains) in [(self.old.as_ref(), old_chains), (Some(&self.buckets), 0..self.regular_buckets())] {
            let Some(array) = array else { continue };
            for i in chains {
                // SAFETY: walks live chains, reading each link before the bucket it is in
                // may be freed. Callers zero or free the arrays right after, so the links
                // left dangling are never followed.
                unsafe {
                    let mut b = (*array.bucket(i)).overflow;
                    while !b.is_null() {
                        let next = (*b).overflow;
                        if !array.contains(b) {
                            super::alloc::free_bucket(b);
                            self.separate_overflow -= 1;
                        }
                        b = next;
                    }
                }
            }
        }
        debug_assert_eq!(self.separate_overflow, 0);
    }

    /// Regular buckets in the current array (`2^b`), 0 while unallocated.
    pub(super) fn regular_buckets(&self) -> usize {
        if self.buckets.is_unallocated() {
            0
        } else {
            1 << self.b
        }
    }
}

impl<K, V> Drop for RawTable<K, V> {
    fn drop(&mut self) {
        struct FreeOnExit<'a, K, V>(&'a mut RawTable<K, V>);
        impl<K, V> Drop for FreeOnExit<'_, K, V> {
            fn drop(&mut self) {
                self.0.free_separate_overflow();
            }
        }
        let guard = FreeOnExit(self);
        if guard.0.count > 0 {
            guard.0.drop_entries();
        }
    }
}

impl<K, V> Default for RawTable<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

//! The raw table: all of gomap's unsafe code lives in this module.
//!
//! # Design
//!
//! This is Go 1.19's classic map (`runtime/map.go`), kept decision for decision, with Rust
//! ownership where Go relies on its garbage collector.
//!
//! **Layout.** The table is an array of `2^b` buckets. A bucket holds eight slots: eight
//! *tophash* bytes, eight keys and eight values, and a link to an overflow bucket. Unlike
//! Go, an array keeps these in dense regions ([`bucket`]): the tophash bytes (a bucket's
//! 8-byte *control word*), the links, the slots, and a bit per bucket that tells whether
//! its link is in use, so a lookup that misses usually reads one control word, from a
//! region an eighteenth of the array's size, and goes past a full bucket that ends its
//! chain without reading its link. The low `b` bits of a key's hash select its bucket; the
//! top byte, lifted out of the marker range 0..=4, is its tophash. A lookup matches its
//! tophash against all eight bytes at once (one SSE2 compare on x86_64, one word of SWAR
//! arithmetic elsewhere: [`group`]) and compares keys only on a match. Since a bucket's
//! slots are at an address known from the hash alone, inserts and removes ask for them
//! together with the control word (a prefetch hint), so a write waits for one memory access
//! instead of two in a row. Lookups do not (but for `ShardedMap`'s, one at a time behind a
//! lock): a miss never reads the slots, and asking for them anyway made a loop of misses
//! 1.3x (1e6 keys) to 2.5x (1e7) slower, for hits 5-12 % faster. An evacuation asks for the
//! old chain and both its destinations, and each write during a growth asks for the chain
//! at the evacuation mark, which the next write moves. A bucket and the overflow buckets
//! linked behind it form a *chain*; slots are ordered through the chain. Each array ends
//! with a pool of `2^(b-4)` spare buckets (`b >= 4`) that overflow links take first, as Go
//! preallocates them.
//!
//! **Slot states** (the tophash byte): `EMPTY_REST` (0, empty and so is everything after it
//! in the chain, so a search stops), `EMPTY_ONE` (1, a tombstone), the three evacuation
//! markers of an old array (`EVACUATED_X`, `EVACUATED_Y`, `EVACUATED_EMPTY`), and 5..=255
//! for an occupied slot. Deleting leaves `EMPTY_ONE`, and a run of tombstones that reaches
//! the end of the chain turns into `EMPTY_REST`. New keys go into the first empty slot of
//! their chain, so tombstones are reused.
//!
//! **Growth.** An insert of a *new* key while no growth is in progress starts one if the
//! count would exceed the load factor (6.5 per bucket, 8 for a single bucket): a doubling.
//! Or if there are about as many overflow buckets as buckets (`noverflow >= 2^min(b, 15)`):
//! a same-size growth, which compacts chains full of tombstones. Starting a growth only
//! allocates the new array (zeroed, so O(1): see [`alloc`]); the entries stay in the old
//! array and move chain by chain: every write (insert, update, remove, even of an absent
//! key) first *evacuates* the old chain that feeds the bucket it is about to use, then the
//! chain at the evacuation mark. A doubling splits old chain `i` between new buckets `i`
//! ("X") and `i + 2^oldB` ("Y") by the one hash bit the mask gains. The mark skips over
//! chains already evacuated; when it passes the end, the old array is released. A growth
//! takes about `ln 2 * 2^oldB` writes, and never overlaps the next one.
//!
//! **Lookups never mutate**: during a growth they read the old chain if it is not yet
//! evacuated, else the new one. That is what makes `get(&self)` possible and concurrent
//! readers safe.
//!
//! **Where Rust differs from Go.** Evacuation *moves* entries (Go copies and keeps the old
//! copy readable for iterators, which borrowing makes unnecessary here), re-hashing all of a
//! chain's keys before moving any, so a panicking `Hash` leaves the table as it was. Old
//! chains below the mark are never read again, which lets a large old array be unmapped
//! piece by piece as the mark advances. Overflow buckets beyond an array's pool ("lone"
//! buckets) come from slabs the array owns, and go with it: after a growth, one slab per
//! write, like the rest of the old array; on clear and drop, at once.
//!
//! # Invariants
//!
//! [`RawTable::check_invariants`] verifies all of these:
//!
//! 1. `count` is the number of occupied slots in the current array plus those in the
//!    unevacuated old chains.
//! 2. Every key lives in exactly one place: in old chain `hash & (2^oldB - 1)` if that chain
//!    is not yet evacuated, otherwise in current chain `hash & (2^b - 1)`; its tophash byte
//!    is `tophash(hash)`.
//! 3. In every chain the `EMPTY_REST` slots form a suffix, and the last slot before that
//!    suffix is not `EMPTY_ONE`.
//! 4. An old chain is either wholly unevacuated (no markers) or wholly evacuated (every slot
//!    of its head bucket holds a marker, and it has no overflow buckets any more).
//! 5. Old chains below the mark (`nevacuate`) are evacuated: they are never read.
//! 6. A current chain fed by an unevacuated old chain is empty.
//! 7. No growth starts while one is in progress; the growth kind and old array agree.
//! 8. `tombstones` counts the `EMPTY_ONE` slots of all live chains; below b = 16,
//!    `noverflow` counts the overflow buckets of the current array.
//! 9. What is cached for the size agrees with `b`: the current array (unless unallocated)
//!    has `2^b` regular buckets and the mask `2^b - 1`, and the growth limits are `b`'s.
//! 10. A bucket's chain bit is set exactly when its link is not null (in the current array,
//!     and in the old array's unevacuated chains and pool), so a search that finds the bit
//!     clear may stop without reading the link.

mod alloc;
mod bucket;
mod clone;
mod cursor;
mod dismantle;
mod group;
mod grow;
mod invariants;
mod iter;
mod observe;
mod table;

pub(crate) use cursor::RawCursor;
pub(crate) use grow::BulkResize;
pub(crate) use iter::{Drain, ExtractIf, IntoIter, Iter, IterMut, Range, RawEntry, RawOccupied, RawVacant};
pub(crate) use table::{b_for_hint, RawTable};

use crate::MapStats;

/// A random 64-bit number, from the standard library's per-process random keys (the same
/// source as `std`'s `RandomState`), varied on every call. A constant under loom, whose
/// models must run the same way every time (`gomap::sync` builds on tables).
#[cfg(not(loom))]
pub(crate) fn random_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0u8)
}

#[cfg(loom)]
pub(crate) fn random_u64() -> u64 {
    0x9e37_79b9_7f4a_7c15
}

impl<K, V> RawTable<K, V> {
    /// A snapshot of the table's shape (O(1)).
    pub(crate) fn stats(&self) -> MapStats {
        let buckets = 1usize << self.b;
        MapStats {
            len: self.count,
            b: self.b,
            buckets,
            overflow_buckets: usize::from(self.overflow.noverflow),
            growing: self.is_growing(),
            same_size_growth: self.same_size_grow,
            old_buckets: if self.is_growing() { self.old_buckets() } else { 0 },
            evacuated: self.nevacuate,
            tombstones: self.tombstones,
            load_factor: self.count as f64 / buckets as f64,
            bytes: self.buckets.bytes()
                + self.old.as_ref().map_or(0, |old| old.bytes())
                + self
                    .retired
                    .as_ref()
                    .map_or(0, |retired| core::mem::size_of_val::<alloc::BucketArray<K, V>>(retired) + retired.bytes()),
            growth: self.growth_counters(),
        }
    }
}

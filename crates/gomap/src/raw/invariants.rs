//! `check_invariants`: verifies every structural invariant listed in the module docs.

use super::bucket::{tophash, Bucket, BUCKET_CNT, EMPTY_ONE, EMPTY_REST, EVACUATED_EMPTY, MIN_TOP_HASH};
use super::table::RawTable;

/// What one chain holds.
#[derive(Default)]
struct ChainCounts {
    occupied: usize,
    tombstones: usize,
    overflow: usize,
    separate: usize,
}

impl<K, V> RawTable<K, V> {
    /// Panics with a description of the first broken invariant. O(size of the table).
    pub(crate) fn check_invariants(&self, hasher: &impl Fn(&K) -> u64) {
        let mut occupied = 0;
        let mut tombstones = 0;
        let mut separate = 0;
        let mut current_overflow = 0;
        let old_mask = self.old.as_ref().map(|_| self.old_buckets() - 1);

        if let (Some(old), Some(old_mask)) = (&self.old, old_mask) {
            assert!(self.nevacuate < self.old_buckets(), "inv 5: mark {} past the end while growing", self.nevacuate);
            if self.same_size_grow {
                assert_eq!(old.b(), self.b, "inv 7: same-size growth with a different old size");
            } else {
                assert_eq!(old.b() + 1, self.b, "inv 7: doubling from b = {} to {}", old.b(), self.b);
            }
            for oi in self.nevacuate..=old_mask {
                let head = old.bucket(oi);
                if Bucket::is_evacuated(head) {
                    // SAFETY: `head` is a live old bucket at or above the mark.
                    let tophash = unsafe { (*head).tophash };
                    assert!(
                        tophash.iter().all(|&t| (super::bucket::EVACUATED_X..=EVACUATED_EMPTY).contains(&t)),
                        "inv 4: old chain {oi} partly evacuated: {tophash:?}"
                    );
                    // SAFETY: as above.
                    assert!(unsafe { (*head).overflow }.is_null(), "inv 4: evacuated old chain {oi} still linked");
                    continue;
                }
                let counts = self.check_chain(head, old, |hash| hash as usize & old_mask == oi, "old", oi, hasher);
                occupied += counts.occupied;
                tombstones += counts.tombstones;
                separate += counts.separate;
            }
        } else {
            assert!(!self.same_size_grow, "inv 7: same-size flag set while not growing");
            assert_eq!(self.nevacuate, 0, "inv 7: mark set while not growing");
        }

        for i in 0..self.regular_buckets() {
            let head = self.buckets.bucket(i);
            let counts =
                self.check_chain(head, &self.buckets, |hash| hash as usize & self.mask() == i, "current", i, hasher);
            if let (Some(old), Some(old_mask)) = (&self.old, old_mask) {
                let oi = i & old_mask;
                if oi >= self.nevacuate && !Bucket::is_evacuated(old.bucket(oi)) {
                    assert_eq!(counts.occupied, 0, "inv 6: chain {i} filled before old chain {oi} was evacuated");
                }
            }
            occupied += counts.occupied;
            tombstones += counts.tombstones;
            separate += counts.separate;
            current_overflow += counts.overflow;
        }

        assert_eq!(occupied, self.count, "inv 1: count {} but {occupied} occupied slots", self.count);
        assert_eq!(tombstones, self.tombstones, "inv 8: tombstone counter");
        assert_eq!(separate, self.separate_overflow, "inv 8: separately allocated overflow counter");
        if self.b < 16 {
            assert_eq!(usize::from(self.noverflow), current_overflow.min(usize::from(u16::MAX)), "inv 8: noverflow");
        }
        if self.buckets.is_unallocated() {
            assert_eq!(self.count, 0, "entries without buckets");
        }
    }

    /// Checks one chain: key placement and tophash (inv 2), the `EMPTY_REST` suffix (inv 3),
    /// no markers; returns its counts.
    fn check_chain(
        &self,
        head: *mut Bucket<K, V>,
        array: &super::alloc::BucketArray<K, V>,
        belongs: impl Fn(u64) -> bool,
        which: &str,
        index: usize,
        hasher: &impl Fn(&K) -> u64,
    ) -> ChainCounts {
        let mut counts = ChainCounts::default();
        let mut in_rest = false;
        let mut last_before_rest = EMPTY_REST;
        let mut b = head;
        while !b.is_null() {
            for i in 0..BUCKET_CNT {
                // SAFETY: `b` is a live bucket of a live chain.
                let top = unsafe { (*b).tophash[i] };
                if in_rest {
                    assert_eq!(top, EMPTY_REST, "inv 3: {which} chain {index}: slot after EMPTY_REST holds {top}");
                    continue;
                }
                match top {
                    EMPTY_REST => {
                        in_rest = true;
                        assert_ne!(
                            last_before_rest, EMPTY_ONE,
                            "inv 3: {which} chain {index}: EMPTY_ONE before EMPTY_REST"
                        );
                    }
                    EMPTY_ONE => counts.tombstones += 1,
                    t if t < MIN_TOP_HASH => panic!("inv 4: {which} chain {index}: marker {t} in a live chain"),
                    t => {
                        counts.occupied += 1;
                        // SAFETY: an occupied slot holds a key.
                        let hash = hasher(unsafe { &*Bucket::key_ptr(b, i) });
                        assert!(
                            belongs(hash),
                            "inv 2: {which} chain {index}: key with hash {hash:#x} in the wrong chain"
                        );
                        assert_eq!(t, tophash(hash), "inv 2: {which} chain {index}: stale tophash");
                    }
                }
                last_before_rest = top;
            }
            // SAFETY: as above.
            let next = unsafe { (*b).overflow };
            if !next.is_null() {
                counts.overflow += 1;
                if !array.contains(next) {
                    counts.separate += 1;
                }
            }
            b = next;
        }
        if !in_rest {
            assert_ne!(last_before_rest, EMPTY_ONE, "inv 3: {which} chain {index} ends in EMPTY_ONE");
        }
        counts
    }
}

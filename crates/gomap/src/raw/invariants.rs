//! `check_invariants`: verifies every structural invariant listed in the module docs.

use super::alloc::ArrayView;
use super::bucket::{
    tophash, BucketRef, BUCKET_CNT, EMPTY_ONE, EMPTY_REST, EVACUATED_EMPTY, EVACUATED_X, MIN_TOP_HASH,
};
use super::table::{GrowthLimits, RawTable};

/// What one chain holds.
#[derive(Default)]
struct ChainCounts {
    occupied: usize,
    tombstones: usize,
    overflow: usize,
}

impl std::ops::AddAssign for ChainCounts {
    fn add_assign(&mut self, other: Self) {
        self.occupied += other.occupied;
        self.tombstones += other.tombstones;
        self.overflow += other.overflow;
    }
}

impl<K, V> RawTable<K, V> {
    /// Panics with a description of the first broken invariant. O(size of the table).
    pub(crate) fn check_invariants(&self, hasher: &impl Fn(&K) -> u64) {
        let mut total = ChainCounts::default();
        let old_mask = self.old.as_ref().map(|_| self.old_buckets() - 1);

        if let (Some(old), Some(old_mask)) = (&self.old, old_mask) {
            assert!(self.nevacuate < self.old_buckets(), "inv 5: mark {} past the end while growing", self.nevacuate);
            if self.same_size_grow {
                assert_eq!(old.b(), self.b, "inv 7: same-size growth with a different old size");
            } else {
                assert_eq!(old.b() + 1, self.b, "inv 7: doubling from b = {} to {}", old.b(), self.b);
            }
            let view = old.view();
            // Released below the mark; the pool is not.
            for i in (self.nevacuate..=old_mask).chain(old_mask + 1..view.len()) {
                assert!(view.chain_bit_agrees(i), "inv 10: old bucket {i}: chain bit and link disagree");
            }
            for oi in self.nevacuate..=old_mask {
                let head = view.bucket(oi);
                if head.is_evacuated() {
                    let markers = (0..BUCKET_CNT).map(|i| head.tophash(i)).collect::<Vec<_>>();
                    assert!(
                        markers.iter().all(|t| (EVACUATED_X..=EVACUATED_EMPTY).contains(t)),
                        "inv 4: old chain {oi} partly evacuated: {markers:?}"
                    );
                    assert!(view.overflow(head).is_null(), "inv 4: evacuated old chain {oi} still linked");
                    continue;
                }
                let counts = Self::check_chain(view, head, "old", oi, hasher, |hash| hash as usize & old_mask == oi);
                // The old counter is not kept per array: only the current array's counts.
                total += ChainCounts { overflow: 0, ..counts };
            }
        } else {
            assert!(!self.same_size_grow, "inv 7: same-size flag set while not growing");
            assert_eq!(self.nevacuate, 0, "inv 7: mark set while not growing");
        }

        let view = self.buckets.view();
        for i in 0..view.len() {
            assert!(view.chain_bit_agrees(i), "inv 10: bucket {i}: chain bit and link disagree");
        }
        for i in 0..self.regular_buckets() {
            let counts =
                Self::check_chain(view, view.bucket(i), "current", i, hasher, |hash| hash as usize & self.mask() == i);
            if let (Some(old), Some(old_mask)) = (&self.old, old_mask) {
                let oi = i & old_mask;
                if oi >= self.nevacuate && !old.bucket(oi).is_evacuated() {
                    assert_eq!(counts.occupied, 0, "inv 6: chain {i} filled before old chain {oi} was evacuated");
                }
            }
            total += counts;
        }

        assert_eq!(total.occupied, self.count, "inv 1: count {} but {} occupied slots", self.count, total.occupied);
        assert_eq!(total.tombstones, self.tombstones, "inv 8: tombstone counter");
        if self.b < 16 {
            let expected = total.overflow.min(usize::from(u16::MAX));
            assert_eq!(usize::from(self.overflow.noverflow), expected, "inv 8: noverflow");
        }
        if self.buckets.is_unallocated() {
            assert_eq!(self.count, 0, "entries without buckets");
        } else {
            assert_eq!(self.buckets.b(), self.b, "inv 9: array of 2^{} buckets at b = {}", self.buckets.b(), self.b);
            assert_eq!(self.buckets.mask(), (1 << self.b) - 1, "inv 9: mask of the current array");
        }
        assert_eq!(self.limits, GrowthLimits::for_b(self.b), "inv 9: growth limits of another size");
        self.check_counters();
    }

    /// Checks one chain: key placement and tophash (inv 2), the `EMPTY_REST` suffix (inv 3),
    /// no markers (inv 4); returns its counts.
    fn check_chain(
        array: ArrayView<K, V>,
        head: BucketRef<K, V>,
        which: &str,
        index: usize,
        hasher: &impl Fn(&K) -> u64,
        belongs: impl Fn(u64) -> bool,
    ) -> ChainCounts {
        let mut counts = ChainCounts::default();
        let mut in_rest = false;
        let mut last_before_rest = EMPTY_REST;
        let mut b = Some(head);
        while let Some(bucket) = b {
            for i in 0..BUCKET_CNT {
                let top = bucket.tophash(i);
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
                        let hash = hasher(unsafe { &*bucket.key_ptr(i) });
                        assert!(
                            belongs(hash),
                            "inv 2: {which} chain {index}: key with hash {hash:#x} in the wrong chain"
                        );
                        assert_eq!(t, tophash(hash), "inv 2: {which} chain {index}: stale tophash");
                    }
                }
                last_before_rest = top;
            }
            b = array.next(bucket);
            if b.is_some() {
                counts.overflow += 1;
            }
        }
        if !in_rest {
            assert_ne!(last_before_rest, EMPTY_ONE, "inv 3: {which} chain {index} ends in EMPTY_ONE");
        }
        counts
    }
}

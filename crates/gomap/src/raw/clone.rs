//! Copying a table (`Clone` for `GoMap`, and through it every `CowMap` write): chain by
//! chain into a table of the same size and seed.
//!
//! With the same `b` and seed, an entry of current chain `i` belongs to chain `i` of the
//! copy too, so it is copied without hashing its key or comparing it with anything, and
//! both arrays are walked in address order. Only the entries of old chains a growth has not
//! moved yet need their hash, to pick their chain. The copy is not growing and has no
//! tombstones: it is what the source would be after `finish_growth` and a compaction.

use super::alloc::{ArrayView, BucketArray};
use super::bucket::BucketRef;
use super::table::{NextFree, RawTable, Slot};

impl<K, V> RawTable<K, V> {
    /// A table with the same `b` and seed holding `dup` of every entry for which it
    /// returns one. `hasher` is only called on keys of unevacuated old chains. If `dup` or
    /// `hasher` panics, what was copied so far is dropped and `self` is unchanged (it is
    /// only read).
    pub(crate) fn clone_with(
        &self,
        hasher: &impl Fn(&K) -> u64,
        mut dup: impl FnMut(&K, &V) -> Option<(K, V)>,
    ) -> Self {
        let mut copy = RawTable::with_b(self.b);
        copy.seed = self.seed;
        if self.count == 0 {
            return copy;
        }
        if copy.buckets.is_unallocated() {
            // `b == 0`: allocated on first use (see `RawTable::new`).
            copy.buckets = BucketArray::new(copy.b);
        }
        let array = self.buckets.view();
        for i in 0..=self.mask() {
            let mut to = NextFree::new(copy.buckets.bucket(i));
            Self::each_occupied(array, array.bucket(i), |from| {
                // SAFETY: an occupied slot of a live bucket holds a key and a value.
                let (key, value) = unsafe { (&*from.key(), &*from.value()) };
                let Some((key, value)) = dup(key, value) else { return };
                let to = to.take(&mut copy.overflow, &mut copy.buckets, &mut copy.observer);
                copy.fill(to, from.tophash(), key, value);
            });
        }
        if let Some(old) = &self.old {
            let old = old.view();
            for oi in self.nevacuate..self.old_buckets() {
                let head = old.bucket(oi);
                if head.is_evacuated() {
                    continue;
                }
                Self::each_occupied(old, head, |from| {
                    // SAFETY: as above, in an unevacuated chain of the old array.
                    let (key, value) = unsafe { (&*from.key(), &*from.value()) };
                    let hash = hasher(key);
                    let Some((key, value)) = dup(key, value) else { return };
                    let to = copy.insert_slot(hash);
                    copy.fill(to, from.tophash(), key, value);
                });
            }
        }
        copy
    }

    /// Calls `f` with every occupied slot of the chain of `array` starting at `head`, in
    /// chain order.
    fn each_occupied(array: ArrayView<K, V>, head: BucketRef<K, V>, mut f: impl FnMut(Slot<K, V>)) {
        let mut b = Some(head);
        while let Some(bucket) = b {
            for index in bucket.group().match_occupied() {
                f(Slot { bucket, index });
            }
            b = array.next(bucket);
        }
    }
}

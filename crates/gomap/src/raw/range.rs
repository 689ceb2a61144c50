//! Go's `range`: a walk over a borrowed table from a random bucket and slot offset.
//!
//! As Go's `mapiterinit`/`mapiternext`: the buckets of the current array are walked in
//! index order from a random one, wrapping around, and each bucket's slots from a random
//! offset (the same for every bucket). While a growth is in progress, a bucket whose old
//! chain is not yet evacuated is empty, and its entries are read from the old chain. Go
//! reads such an old chain twice, once for each of the two new buckets it feeds, and
//! re-hashes every key to keep the half that belongs; here the whole old chain is read
//! once, at the lower of the two ("X") indexes, and skipped at the other, which needs no
//! hashing and visits every entry exactly once.

use core::iter::FusedIterator;
use core::marker::PhantomData;

use super::alloc::ArrayView;
use super::bucket::{BitMask, BucketRef, Rotated, BUCKET_CNT};
use super::random_u64;
use super::table::RawTable;

/// A randomized walk over the entries of a table borrowed shared for `'a`.
pub(crate) struct Range<'a, K, V> {
    old: ArrayView<K, V>,
    new: ArrayView<K, V>,
    /// Old chains below this index are evacuated (0 when not growing).
    nevacuate: usize,
    /// Regular buckets of the old array (0 when not growing).
    old_buckets: usize,
    /// Regular buckets of the current array (0 while unallocated).
    buckets: usize,
    /// The first bucket index of the walk.
    start: usize,
    /// Bucket indexes started so far.
    started: usize,
    /// The slot rotation, 0..8.
    offset: usize,
    /// The bucket being walked, and whether it belongs to the old array.
    bucket: Option<(BucketRef<K, V>, bool)>,
    slots: Rotated,
    remaining: usize,
    marker: PhantomData<&'a RawTable<K, V>>,
}

impl<'a, K, V> Range<'a, K, V> {
    pub(crate) fn new(table: &'a RawTable<K, V>) -> Self {
        let r = random_u64();
        let buckets = table.regular_buckets();
        let (old, old_buckets, nevacuate) = match &table.old {
            Some(old) => (old.view(), table.old_buckets(), table.nevacuate),
            None => (ArrayView::EMPTY, 0, 0),
        };
        Range {
            old,
            new: table.buckets.view(),
            nevacuate,
            old_buckets,
            buckets,
            start: (r >> 3) as usize & buckets.wrapping_sub(1),
            started: 0,
            offset: (r as usize) % BUCKET_CNT,
            bucket: None,
            slots: BitMask::EMPTY.rotated(0),
            remaining: table.count,
            marker: PhantomData,
        }
    }

    /// The chain to walk for bucket index `j`, if any: the old chain that feeds it when
    /// that is unevacuated (at its lower index only), else the current one.
    fn chain_for(&self, j: usize) -> Option<(BucketRef<K, V>, bool)> {
        if self.old_buckets > 0 {
            let oi = j & (self.old_buckets - 1);
            if oi >= self.nevacuate && !self.old.bucket(oi).is_evacuated() {
                return (oi == j).then(|| (self.old.bucket(oi), true));
            }
        }
        Some((self.new.bucket(j), false))
    }
}

impl<K, V> Clone for Range<'_, K, V> {
    fn clone(&self) -> Self {
        Range { ..*self }
    }
}

impl<'a, K, V> Iterator for Range<'a, K, V> {
    type Item = (&'a K, &'a V);

    #[inline]
    fn next(&mut self) -> Option<(&'a K, &'a V)> {
        if self.remaining == 0 {
            return None;
        }
        loop {
            if let (Some(index), Some((bucket, _))) = (self.slots.next(), self.bucket) {
                self.remaining -= 1;
                // SAFETY: an occupied slot of a table borrowed shared for 'a.
                return Some(unsafe { (&*bucket.key_ptr(index), &*bucket.value_ptr(index)) });
            }
            let next_in_chain = self.bucket.and_then(|(bucket, in_old)| {
                let array = if in_old { self.old } else { self.new };
                array.next(bucket).map(|next| (next, in_old))
            });
            self.bucket = match next_in_chain {
                Some(next) => Some(next),
                None if self.started < self.buckets => {
                    let j = (self.start + self.started) & (self.buckets - 1);
                    self.started += 1;
                    self.chain_for(j)
                }
                None => {
                    debug_assert!(false, "walked past the end with {} entries left", self.remaining);
                    return None;
                }
            };
            self.slots = self.bucket.map_or(BitMask::EMPTY, |(b, _)| b.group().match_occupied()).rotated(self.offset);
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<K, V> ExactSizeIterator for Range<'_, K, V> {}
impl<K, V> FusedIterator for Range<'_, K, V> {}

// SAFETY: a `Range` hands out shared references only.
unsafe impl<K: Sync, V: Sync> Send for Range<'_, K, V> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Sync> Sync for Range<'_, K, V> {}

//! Copying a table (`Clone` for `GoMap`, and through it every `CowMap` write): chain by
//! chain into a table of the same size and seed; also a few chains at a time, into a
//! table that meanwhile takes other writes ([`RawTable::copy_chains`], for `SyncMap`).
//!
//! With the same `b` and seed, an entry of current chain `i` belongs to chain `i` of the
//! copy too, so it is copied without hashing its key or comparing it with anything, and
//! both arrays are walked in address order. Only the entries of old chains a growth has not
//! moved yet need their hash, to pick their chain. The copy is not growing and has no
//! tombstones: it is what the source would be after `finish_growth` and a compaction.

use super::bucket::tophash;
use super::table::{NextFree, RawTable};

impl<K, V> RawTable<K, V> {
    /// A table with the same `b` and seed holding `dup` of every entry. `hasher` is only
    /// called on keys of unevacuated old chains. If `dup` or `hasher` panics, what was
    /// copied so far is dropped and `self` is unchanged (it is only read).
    pub(crate) fn clone_with(&self, hasher: &impl Fn(&K) -> u64, mut dup: impl FnMut(&K, &V) -> (K, V)) -> Self {
        let mut copy = RawTable::try_to_hold(self.b, self.count).unwrap_or_else(|e| e.raise());
        copy.seed = self.seed;
        if self.count == 0 {
            return copy;
        }
        let array = self.buckets.view();
        for i in 0..=self.mask() {
            let mut to = NextFree::new(copy.buckets.bucket(i));
            Self::each_occupied(array, array.bucket(i), |from| {
                // SAFETY: an occupied slot of a live bucket holds a key and a value.
                let (key, value) = unsafe { (&*from.key(), &*from.value()) };
                let (key, value) = dup(key, value);
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
                    let (key, value) = dup(key, value);
                    let to = copy.insert_slot(hash);
                    copy.fill(to, from.tophash(), key, value);
                });
            }
        }
        copy
    }

    /// An empty table with `self`'s seed, to [`Self::copy_chains`] into: `self`'s size, or
    /// twice that if `self` is over three quarters full, so that the copy has room for
    /// some new keys before it must grow (a growth in mid-copy costs the rest of the copy
    /// a search per entry, and evacuation).
    pub(crate) fn empty_to_copy_into(&self) -> Self {
        let b = if self.count > self.limits.entries / 4 * 3 { self.b + 1 } else { self.b };
        let mut copy = RawTable::to_fill_in_steps(b);
        copy.seed = self.seed;
        copy
    }

    /// One part of a copy of `self` into `into` made in steps (`SyncMap` rebuilding its
    /// dirty map): `dup` of the entries of the chains from number `*next` on, chain by
    /// chain, until at least `min_entries` were visited (whether or not `dup` kept them).
    /// `*next` moves past each chain once it is copied; returns whether the last one was.
    /// Chains are numbered as [`RawTable::numbered_chain`] says; `self` must not change
    /// between the parts of one copy (`SyncMap` copies a published, immutable map).
    ///
    /// `into` may change between parts, and the keys `dup` gives must be absent from it.
    /// While `into` is not growing and has room, an entry goes straight to the first free
    /// slot of its chain, without a search. With the seed and size (or twice the size)
    /// that [`Self::empty_to_copy_into`] gave it, chain `i` of `self` feeds chain `i` (or
    /// `i` and `i + 2^b`) of `into`, so that both arrays are walked in address order.
    /// Otherwise the entry is inserted as a new key, growth work and all.
    ///
    /// If `dup`, `hasher` or `eq` panics, `*next` is the chain that was being copied, part
    /// of which may be in `into` already: the next part must be `careful`, and then the
    /// entries of that chain go in only if `eq` finds no equal key in `into`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn copy_chains(
        &self,
        into: &mut Self,
        next: &mut usize,
        min_entries: usize,
        careful: bool,
        hasher: &impl Fn(&K) -> u64,
        eq: impl Fn(&K, &K) -> bool,
        mut dup: impl FnMut(&K, &V) -> Option<(K, V)>,
    ) -> bool {
        let chains = if self.count == 0 { 0 } else { self.numbered_chains() };
        let mut visited = 0;
        let mut careful = careful;
        for chain in *next..chains {
            let Some((from, head)) = self.numbered_chain(chain) else {
                *next = chain + 1;
                continue;
            };
            Self::each_occupied(from, head, |slot| {
                visited += 1;
                // SAFETY: an occupied slot of a live bucket holds a key and a value.
                let (key, value) = unsafe { (&*slot.key(), &*slot.value()) };
                let Some((key, value)) = dup(key, value) else { return };
                let hash = hasher(&key);
                if careful && into.get(hash, |stored| eq(stored, &key)).is_some() {
                    return; // copied before a panic cut the step short
                }
                if into.old.is_none() && !into.buckets.is_unallocated() && !into.growth_due() {
                    let to = into.insert_slot(hash);
                    into.fill(to, tophash(hash), key, value);
                } else {
                    match into.find_for_write(hash, |_| false, hasher) {
                        Ok(_) => unreachable!("`eq` accepts no key"),
                        Err(pos) => _ = into.insert_absent(hash, pos, key, value, hasher),
                    }
                }
            });
            *next = chain + 1;
            careful = false;
            if visited >= min_entries {
                break;
            }
        }
        *next >= chains
    }
}

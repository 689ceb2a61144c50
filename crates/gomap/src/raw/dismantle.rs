//! Taking a table apart in steps ([`RawTable::dismantle_some`]): its entries a few chains at
//! a time, then its memory a piece at a time, so that letting go of a large table costs no
//! single caller O(n). `SyncMap` does this with a replaced read-only map, whose release is
//! the work Go leaves to its garbage collector.

use core::ptr;

use super::alloc::RETIRE_STEP;
use super::bucket::EMPTY_ONE;
use super::table::RawTable;

impl<K, V> RawTable<K, V> {
    /// One step of taking the table apart: drops the entries of its chains from number
    /// `*next` on (see [`RawTable::numbered_chain`]), chain by chain, until at least
    /// `min_entries` were dropped; once none is left, gives back up to `RETIRE_STEP` bytes
    /// of its arrays per call. Returns true when nothing is left to give back; the table
    /// is then an empty shell, to be dropped. The table must not be used in between other
    /// than by this method (its arrays go away).
    ///
    /// Each entry is taken out of its slot before it is dropped, so if a key's or value's
    /// `Drop` panics, the entries not yet dropped stay in the table, and a later step or
    /// the table's own `Drop` drops them.
    pub(crate) fn dismantle_some(&mut self, next: &mut usize, min_entries: usize) -> bool {
        if self.count > 0 {
            self.drop_chains(next, min_entries);
            return false;
        }
        for array in [Some(&mut self.buckets), self.old.as_mut(), self.retired.as_deref_mut()].into_iter().flatten() {
            if !array.release_some(RETIRE_STEP) {
                return false;
            }
        }
        true
    }

    fn drop_chains(&mut self, next: &mut usize, min_entries: usize) {
        let chains = self.numbered_chains();
        let mut dropped = 0;
        while *next < chains && self.count > 0 {
            if let Some((array, head)) = self.numbered_chain(*next) {
                Self::each_occupied(array, head, |slot| {
                    // SAFETY: an occupied slot holds a key and a value; they are read out
                    // once and the slot is marked empty before either is dropped.
                    let entry = unsafe { (ptr::read(slot.key()), ptr::read(slot.value())) };
                    slot.set_tophash(EMPTY_ONE);
                    self.count -= 1;
                    dropped += 1;
                    drop(entry);
                });
            }
            *next += 1;
            if dropped >= min_entries {
                return;
            }
        }
        // Every chain walked: nothing can be left (a table with entries outside its chains
        // would be corrupt).
        debug_assert_eq!(self.count, 0, "entries outside the chains");
        self.count = 0;
    }
}

#[cfg(test)]
mod tests {
    use crate::GoMap;
    use std::cell::Cell;
    use std::rc::Rc;

    struct Counted(Rc<Cell<usize>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
        }
    }

    /// Takes `map` apart in steps of 8 entries; checks that every value is dropped once.
    fn take_apart(mut map: GoMap<u32, Counted>, drops: &Rc<Cell<usize>>) {
        let n = map.len();
        let (mut next, mut steps) = (0, 0);
        while !map.dismantle_some(&mut next, 8) {
            steps += 1;
            assert!(drops.get() <= n, "a value dropped twice");
        }
        assert_eq!((drops.get(), map.len()), (n, 0));
        assert!(steps >= n / 64, "{n} entries taken apart in {steps} steps");
        drop(map);
        assert_eq!(drops.get(), n, "the shell dropped a value again");
    }

    #[test]
    fn every_entry_goes_once_in_steps() {
        let n = if cfg!(miri) { 300 } else { 30_000 };
        let drops = Rc::new(Cell::new(0));
        take_apart((0..n).map(|i| (i, Counted(Rc::clone(&drops)))).collect(), &drops);

        // And a map stopped in the middle of a growth, with old chains still unevacuated.
        let drops = Rc::new(Cell::new(0));
        let mut map = GoMap::new();
        let mut i = 0;
        while !(map.stats().growing && i > n) {
            map.insert(i, Counted(Rc::clone(&drops)));
            i += 1;
        }
        assert!(map.stats().evacuated < map.stats().old_buckets);
        take_apart(map, &drops);
    }
}

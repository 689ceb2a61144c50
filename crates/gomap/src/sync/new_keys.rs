//! [`NewKeys`]: a Bloom filter of the keys [`SyncMap`](super::SyncMap) added to its `dirty`
//! map since its read-only map was published. It lets a lookup of a key that is in neither
//! map return without the mutex, which Go 1.19's `sync.Map` cannot do.
//!
//! # Why
//!
//! In Go, once `dirty` holds a key that `read` lacks (`amended`), *every* lookup that misses
//! `read` takes the mutex to look in `dirty`, and counts a miss. A workload that reads absent
//! keys while it adds a few (a cache probed for keys it does not have yet) then puts all its
//! threads through one mutex, and its misses soon promote `dirty`, which the next new key
//! pays for with an O(n) copy. The filter answers "certainly not in `dirty`" for most absent
//! keys without touching the mutex; only the keys it cannot rule out (the new keys, and a
//! few false positives) take Go's locked path and count as misses.
//!
//! # Why it is exact where it must be
//!
//! A key's bits are set, with the mutex held, *before* the key goes into `dirty`, and bits
//! are never cleared: a filter belongs to one read-only map and is dropped with it. So a
//! lookup that finds a bit clear has seen the map before that key was added; it is ordered
//! before the insert, and any thread that has seen the key (which it can only do through
//! `dirty`, under the mutex, or through a later read-only map) saw the bits set first.
//! Relaxed atomics suffice: whatever happens-before a lookup is visible to it (read-write
//! coherence); the filter never has to order other memory.
//!
//! # Shape
//!
//! A *blocked* Bloom filter: each key sets two bits of one 64-bit word, so a query reads one
//! word. It is sized from the read-only map's length, with a floor of one cache line: keys
//! added per promotion cycle are a fraction of the map in the workloads `sync.Map` is for.
//! Past that, it fills up and lookups fall back to Go's locked path, which promotes `dirty`
//! and starts a fresh filter.

use core::sync::atomic::Ordering::Relaxed;

use super::shim::AtomicU64;

/// Words per 4 KiB page.
const WORDS_PER_PAGE: usize = 4096 / 8;

/// A concurrent, insert-only Bloom filter of 64-bit key hashes.
pub(super) struct NewKeys {
    words: Box<[AtomicU64]>,
}

impl NewKeys {
    /// The fewest words: one cache line.
    const MIN_WORDS: usize = 8;

    /// Read-only-map entries per filter word: 16 keeps the filter at half a byte per entry
    /// (a `SyncMap` entry costs about a hundred), and a cycle that adds as many keys as
    /// the map holds still rules out about 85% of absent keys.
    const ENTRIES_PER_WORD: usize = 16;

    /// A filter for the cycle of a read-only map with `len` entries.
    ///
    /// Every page of it is written before it is returned (one store per page). Lookups
    /// read the filter without the lock from the moment it is published, and a fresh page
    /// that is read first is mapped to the kernel's zero page: the first insert into that
    /// page would then fault a second time, and the kernel would interrupt every other CPU
    /// running the process to flush the old mapping, with the mutex held (`ReadHeavy`
    /// up to 25 % slower for it: BENCHMARKS.md, `gomap::sync` run 16). Written now, the pages
    /// cost one fault each, in the promotion: 512 at three million entries.
    pub(super) fn for_map_of(len: usize) -> Self {
        let words = (len / Self::ENTRIES_PER_WORD).max(Self::MIN_WORDS).next_power_of_two();
        let words: Box<[AtomicU64]> = (0..words).map(|_| AtomicU64::new(0)).collect();
        // (The allocation may come zeroed from the system; an atomic store is never
        // left out.)
        for word in words.iter().step_by(WORDS_PER_PAGE) {
            word.store(0, Relaxed);
        }
        NewKeys { words }
    }

    /// The word and the two bits of `hash`: the word from the low bits, the bits from the
    /// top twelve (disjoint from the word index for any filter under 2^52 words).
    fn place(&self, hash: u64) -> (&AtomicU64, u64) {
        let word = &self.words[hash as usize & (self.words.len() - 1)];
        let bits = 1 << (hash >> 58) | 1 << ((hash >> 52) & 63);
        (word, bits)
    }

    /// Records `hash`. Called with `SyncMap`'s mutex held, before the key goes into `dirty`.
    pub(super) fn insert(&self, hash: u64) {
        let (word, bits) = self.place(hash);
        word.fetch_or(bits, Relaxed);
    }

    /// False if no key with `hash` was inserted; true if one may have been.
    pub(super) fn may_contain(&self, hash: u64) -> bool {
        let (word, bits) = self.place(hash);
        word.load(Relaxed) & bits == bits
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::NewKeys;

    #[test]
    fn never_forgets_a_key_and_rules_out_most_others() {
        let map_len = if cfg!(miri) { 1 << 8 } else { 1 << 12 }; // 16 or 256 words
        let filter = NewKeys::for_map_of(map_len);
        let hash = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17) ^ i;
        let inserted = map_len as u64; // as many keys as the map holds
        for i in 0..inserted {
            filter.insert(hash(i));
        }
        assert!((0..inserted).all(|i| filter.may_contain(hash(i))), "a false negative");
        let probes: usize = if cfg!(miri) { 1 << 10 } else { 1 << 14 };
        let false_positives = (inserted..inserted + probes as u64).filter(|&i| filter.may_contain(hash(i))).count();
        // Two bits of 64 per key, 16 keys per word: about (1 - e^(-32/64))^2 = 15%.
        assert!(false_positives < probes / 4, "{false_positives} false positives of {probes}");
        assert!(false_positives > 0, "16 keys per word must collide sometimes");
    }

    #[test]
    fn an_empty_map_gets_one_cache_line() {
        assert_eq!(NewKeys::for_map_of(0).words.len(), NewKeys::MIN_WORDS);
        assert_eq!(NewKeys::for_map_of(3 << 12).words.len(), 1 << 10);
    }
}

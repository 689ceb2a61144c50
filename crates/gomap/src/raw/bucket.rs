//! One bucket: eight tophash bytes (its control word), a link to the next bucket of its
//! chain, eight keys and eight values (the matching of the tophash bytes is in
//! [`group`](super::group)).
//!
//! Go keeps all of a bucket together (`bmap`). Here an array keeps dense regions: the
//! buckets' control words (8 bytes each), their links (8 bytes each), their slots, and one
//! *chain bit* per bucket (set when its link is not null). A lookup reads a control word
//! and touches slots only on a tophash match; past a full bucket (no `EMPTY_REST` slot) it
//! reads the chain bit, and the link only when the bit says the chain goes on. So a miss
//! usually reads 8 bytes from a region a quarter the size of the slots' and half that of a
//! combined word-and-link entry: fewer cache lines and, above all, fewer pages (measured on
//! this machine, a random control-word read over 2^18 buckets took ~5 ns in 2 MB and ~9-19
//! ns in 4 MB); and a full bucket that ends its chain (at 3.8 entries per bucket, half of
//! the full ones) costs a bit from a region small enough to stay cached, not a second
//! miss. The bytes per bucket are Go's, plus that bit.

use core::mem::{self, ManuallyDrop, MaybeUninit};
use core::ptr;

use super::group::Group;

/// Slots per bucket (Go's `bucketCnt`): eight tophash bytes fill one machine word, so a
/// whole bucket's tophash bytes are matched with a handful of integer operations.
pub(crate) const BUCKET_CNT: usize = 8;

/// The cache line size assumed by the prefetch hints (x86_64's).
const CACHE_LINE: usize = 64;

/// The slot is empty and so is every later slot of this chain: a search stops here.
pub(crate) const EMPTY_REST: u8 = 0;
/// The slot is empty but a later slot of the chain may be occupied (a tombstone).
pub(crate) const EMPTY_ONE: u8 = 1;
/// Old array only: the entry was moved to the lower ("X") half of the new array.
pub(crate) const EVACUATED_X: u8 = 2;
/// Old array only: the entry was moved to the upper ("Y") half of the new array.
pub(crate) const EVACUATED_Y: u8 = 3;
/// Old array only: the slot was empty when its chain was evacuated.
pub(crate) const EVACUATED_EMPTY: u8 = 4;
/// The smallest tophash of an occupied slot: 0..=4 are the five markers above.
pub(crate) const MIN_TOP_HASH: u8 = 5;

/// The tophash of a hash: its top byte, moved out of the marker range.
///
/// The bucket index uses the low bits of the hash, the tophash the high ones, so the two are
/// independent for any table with fewer than 2^56 buckets.
#[inline]
pub(crate) const fn tophash(hash: u64) -> u8 {
    let top = (hash >> 56) as u8;
    if top < MIN_TOP_HASH {
        top + MIN_TOP_HASH
    } else {
        top
    }
}

/// A bucket's control word: its eight tophash bytes, matched all at once. Eight to a cache
/// line.
#[repr(C, align(8))]
pub(crate) struct Ctrl {
    tophash: [u8; BUCKET_CNT],
}

/// A bucket's link: the control word of the next bucket of its chain, or null. Links live
/// in a region of their own of the bucket's array, or right after the control word of a
/// [`LoneBucket`]; [`ArrayView`](super::alloc::ArrayView) finds them.
pub(crate) type Link = *mut Ctrl;

/// Asks the processor to start loading the cache line at `p` (a hint: reads nothing
/// architecturally and cannot fault, so `p` may be any address). Does nothing off x86_64.
#[inline(always)]
pub(super) fn prefetch_line<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetch` has no memory effect and never faults, whatever the address.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A key and its value side by side, used when that costs no padding.
#[repr(C)]
struct Pair<K, V> {
    key: K,
    value: V,
}

/// Keys together and values together, as in Go's `bmap`, for types whose pairs would need
/// padding (`GoMap<u64, u8>` would waste 7 bytes per pair).
#[repr(C)]
struct Split<K, V> {
    keys: [MaybeUninit<K>; BUCKET_CNT],
    values: [MaybeUninit<V>; BUCKET_CNT],
}

/// The slot storage: one of the two layouts, chosen per type by [`Data::PAIRED`].
#[repr(C)]
union Slots<K, V> {
    paired: ManuallyDrop<[MaybeUninit<Pair<K, V>>; BUCKET_CNT]>,
    split: ManuallyDrop<Split<K, V>>,
}

/// A bucket's slots. Its control word and link live apart, in the dense regions of its
/// array (or in front of it, for a [`LoneBucket`]): a miss reads only control words, and
/// those take 8 of the 144 bytes of a `u64` to `u64` bucket.
///
/// An all-zero bucket is a valid empty bucket (every tophash `EMPTY_REST`, no link), which is
/// why bucket arrays come from zeroed allocations.
#[repr(C)]
pub(crate) struct Data<K, V> {
    slots: Slots<K, V>,
}

impl<K, V> Data<K, V> {
    /// Whether keys and values are stored as adjacent pairs (one cache line for both on a
    /// hit) rather than as Go's two arrays: exactly when a pair needs no padding.
    const PAIRED: bool = mem::size_of::<Pair<K, V>>() == mem::size_of::<K>() + mem::size_of::<V>();
}

/// An overflow bucket beyond its array's pool, carved from a slab the array owns: its
/// control word and link directly in front of its data.
#[repr(C)]
pub(crate) struct LoneBucket<K, V> {
    ctrl: Ctrl,
    link: Link,
    data: Data<K, V>,
}

impl<K, V> LoneBucket<K, V> {
    /// The link of the lone bucket whose handle is `b`.
    ///
    /// # Safety
    /// `b` is the handle of a live lone bucket (from `BucketArray::alloc_lone`).
    #[inline]
    pub(crate) unsafe fn link_of(b: BucketRef<K, V>) -> *mut Link {
        // SAFETY: a lone bucket's handle points at the start of its `LoneBucket` (caller's
        // contract); `addr_of_mut!` creates no reference.
        unsafe { ptr::addr_of_mut!((*b.ctrl.cast::<LoneBucket<K, V>>()).link) }
    }
}

/// A handle on one bucket: where its control word is and where its data is.
pub(crate) struct BucketRef<K, V> {
    pub(crate) ctrl: *mut Ctrl,
    pub(crate) data: *mut Data<K, V>,
}

impl<K, V> Clone for BucketRef<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for BucketRef<K, V> {}

impl<K, V> PartialEq for BucketRef<K, V> {
    fn eq(&self, other: &Self) -> bool {
        self.ctrl == other.ctrl
    }
}

impl<K, V> BucketRef<K, V> {
    /// A placeholder for no bucket yet; never dereferenced.
    pub(crate) const NONE: Self = BucketRef { ctrl: ptr::null_mut(), data: ptr::null_mut() };

    /// The handle of a lone bucket.
    pub(crate) fn lone(p: *mut LoneBucket<K, V>) -> Self {
        // SAFETY: `addr_of_mut!` creates no reference; `p` points to a live allocation.
        BucketRef { ctrl: p.cast(), data: unsafe { ptr::addr_of_mut!((*p).data) } }
    }

    /// Slot `item % 8` of the bucket `item / 8` places after this one in its array (the
    /// handles of an array's buckets step through its control word and data regions
    /// alike): the slot a [`RunSlots`](super::group::RunSlots) item names. Only `item < 8`
    /// is meaningful for a lone bucket; computing any handle is safe, using it is not.
    #[inline]
    pub(crate) fn run_slot(self, item: usize) -> (Self, usize) {
        let (a, index) = (item / BUCKET_CNT, item % BUCKET_CNT);
        // Eight keys and eight values, each array a multiple of 8 bytes or padded to one:
        // a bucket's data is always a whole number of eighths.
        const { assert!(mem::size_of::<Data<K, V>>() % BUCKET_CNT == 0) };
        let slot = mem::size_of::<Data<K, V>>() / BUCKET_CNT;
        // Bucket `a`'s data is `item - index` eighths of a bucket on. Spelled as `item`
        // eighths less `index`, so that with the slot's own offset added (`index` pairs) the
        // compiler sees one `item * pair size` for a paired layout: a walk's step then costs
        // what a single bucket's does.
        let data = self.data.cast::<u8>().wrapping_add(item * slot).wrapping_sub(index * slot);
        (BucketRef { ctrl: self.ctrl.wrapping_add(a), data: data.cast() }, index)
    }

    /// Asks the processor to start loading the first cache line of the bucket's slots,
    /// where a search most often finds its key (slots fill from the front), for a bucket
    /// whose control word is read next: the two cache misses of a write (or of a lookup in
    /// an overflow bucket, or of one that runs alone) then overlap instead of following one
    /// another. (The control word itself is not asked for: its load follows at once.) A
    /// hint only: see [`Self::prefetch_whole`].
    #[inline(always)]
    pub(crate) fn prefetch(self) {
        prefetch_line(self.data);
    }

    /// Prefetches the control word and up to four cache lines of slots: for a bucket about
    /// to be read or written whole (evacuation), well before it is. Reads nothing
    /// architecturally and cannot fault, so the bucket need not be live. A search needs
    /// the slots only on a tophash match, which is why [`Self::prefetch`] asks for a single
    /// line of them (asking for the whole bucket made misses at 1e6 keys ~20% slower).
    /// Does nothing off x86_64.
    #[inline(always)]
    pub(crate) fn prefetch_whole(self) {
        prefetch_line(self.ctrl);
        let bytes = 4 * CACHE_LINE;
        let data = self.data.cast::<u8>();
        let mut offset = 0;
        while offset < mem::size_of::<Data<K, V>>().min(bytes) {
            prefetch_line(data.wrapping_add(offset));
            offset += CACHE_LINE;
        }
    }

    /// The eight tophash bytes as one word.
    #[inline]
    pub(crate) fn group(self) -> Group {
        // SAFETY: handles point to live buckets; the tophash bytes are plain bytes.
        Group::new(unsafe { (*self.ctrl).tophash })
    }

    #[inline]
    pub(crate) fn tophash(self, i: usize) -> u8 {
        // SAFETY: as in `group`; `i < 8` is checked by the array index.
        unsafe { (*self.ctrl).tophash[i] }
    }

    #[inline]
    pub(crate) fn set_tophash(self, i: usize, top: u8) {
        // SAFETY: as in `group`; callers hold the table exclusively.
        unsafe { (*self.ctrl).tophash[i] = top }
    }

    /// Writes all eight tophash bytes at once, as a group.
    #[inline]
    pub(crate) fn set_group(self, group: Group) {
        self.set_tophashes(group.to_bytes())
    }

    /// Writes all eight tophash bytes at once.
    #[inline]
    pub(crate) fn set_tophashes(self, tophash: [u8; BUCKET_CNT]) {
        // SAFETY: as in `set_tophash`.
        unsafe { (*self.ctrl).tophash = tophash }
    }

    /// Pointer to the key of slot `i`. Computing it is safe; reading through it needs the
    /// slot to be occupied.
    #[inline]
    pub(crate) fn key_ptr(self, i: usize) -> *mut K {
        debug_assert!(i < BUCKET_CNT);
        // SAFETY: `addr_of_mut!` creates no reference, and `i < 8` keeps the offset inside
        // the slot storage of the live bucket `data` points to.
        unsafe {
            let slots = ptr::addr_of_mut!((*self.data).slots);
            if Data::<K, V>::PAIRED {
                let pair = slots.cast::<Pair<K, V>>().add(i);
                ptr::addr_of_mut!((*pair).key)
            } else {
                ptr::addr_of_mut!((*slots.cast::<Split<K, V>>()).keys).cast::<K>().add(i)
            }
        }
    }

    /// Pointer to the value of slot `i` (see [`BucketRef::key_ptr`]).
    #[inline]
    pub(crate) fn value_ptr(self, i: usize) -> *mut V {
        debug_assert!(i < BUCKET_CNT);
        // SAFETY: as in `key_ptr`.
        unsafe {
            let slots = ptr::addr_of_mut!((*self.data).slots);
            if Data::<K, V>::PAIRED {
                let pair = slots.cast::<Pair<K, V>>().add(i);
                ptr::addr_of_mut!((*pair).value)
            } else {
                ptr::addr_of_mut!((*slots.cast::<Split<K, V>>()).values).cast::<V>().add(i)
            }
        }
    }

    /// Go's `evacuated(b)`: only slot 0 is consulted, because an old chain is evacuated all
    /// at once and then every slot of its first bucket holds one of the evacuation markers.
    #[inline]
    pub(crate) fn is_evacuated(self) -> bool {
        (EVACUATED_X..=EVACUATED_EMPTY).contains(&self.tophash(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tophash_avoids_markers() {
        for top in 0..=255u8 {
            let h = tophash(u64::from(top) << 56);
            assert!(h >= MIN_TOP_HASH);
            assert_eq!(h, if top < 5 { top + 5 } else { top });
        }
    }
}

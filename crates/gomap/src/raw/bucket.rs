//! One bucket: eight tophash bytes and an overflow link (its control entry), eight keys and
//! eight values, plus the word-at-a-time (SWAR) matching of the tophash bytes.
//!
//! Go keeps all of a bucket together (`bmap`). Here the tophash word and the overflow link
//! (the control entry, 16 bytes) are kept apart from the slots, in a dense region of the
//! bucket array: a lookup reads control entries and touches slots only on a tophash match, so
//! a miss usually reads 16 bytes from a region that stays in cache, instead of a 144-byte
//! bucket from main memory. The bytes per bucket are Go's.

use core::mem::{self, ManuallyDrop, MaybeUninit};
use core::ptr;

/// Slots per bucket (Go's `bucketCnt`): eight tophash bytes fill one machine word, so a
/// whole bucket's tophash bytes are matched with a handful of integer operations.
pub(crate) const BUCKET_CNT: usize = 8;

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
pub(crate) fn tophash(hash: u64) -> u8 {
    let top = (hash >> 56) as u8;
    if top < MIN_TOP_HASH {
        top + MIN_TOP_HASH
    } else {
        top
    }
}

/// A bucket's control entry: its eight tophash bytes (one word, matched all at once) and
/// the link to the next bucket of its chain. Walking a chain reads only control entries,
/// four to a cache line.
#[repr(C, align(16))]
pub(crate) struct Ctrl {
    tophash: [u8; BUCKET_CNT],
    /// The control entry of the next bucket of the chain, or null.
    overflow: *mut Ctrl,
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

/// A bucket's slots. Its control entry lives apart, in the dense control region of its
/// array (or in front of it, for a [`LoneBucket`]): a miss reads only control entries, and
/// those of a whole array are small enough to stay in cache.
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

/// An overflow bucket allocated on its own once the array's pool is used up: its control
/// entry directly in front of its data.
#[repr(C)]
pub(crate) struct LoneBucket<K, V> {
    ctrl: Ctrl,
    data: Data<K, V>,
}

/// A handle on one bucket: where its control entry is and where its data is.
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

    /// The eight tophash bytes as one word.
    #[inline]
    pub(crate) fn group(self) -> Group {
        // SAFETY: handles point to live buckets; the tophash bytes are plain bytes.
        Group(u64::from_le_bytes(unsafe { (*self.ctrl).tophash }))
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

    /// The control entry of the next bucket in the chain, or null. Turning it into a handle
    /// needs the array the chain belongs to ([`ArrayView::next`](super::alloc::ArrayView::next)).
    #[inline]
    pub(crate) fn overflow(self) -> *mut Ctrl {
        // SAFETY: `ctrl` points to a live bucket's control entry.
        unsafe { (*self.ctrl).overflow }
    }

    #[inline]
    pub(crate) fn set_overflow(self, next: *mut Ctrl) {
        // SAFETY: as in `overflow`; callers hold the table exclusively.
        unsafe { (*self.ctrl).overflow = next }
    }

    /// Go's `evacuated(b)`: only slot 0 is consulted, because an old chain is evacuated all
    /// at once and then every slot of its first bucket holds one of the evacuation markers.
    #[inline]
    pub(crate) fn is_evacuated(self) -> bool {
        (EVACUATED_X..=EVACUATED_EMPTY).contains(&self.tophash(0))
    }
}

const LSB: u64 = 0x0101_0101_0101_0101;
const MSB: u64 = 0x8080_8080_8080_8080;
const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The eight tophash bytes of a bucket as one little-endian word: byte `i` is slot `i`.
#[derive(Clone, Copy)]
pub(crate) struct Group(u64);

impl Group {
    /// The bytes of `x` that are zero, as the high bit of each byte; exact (no false
    /// positives, unlike the shorter `(x - LSB) & !x & MSB`).
    #[inline]
    fn zero_bytes(x: u64) -> BitMask {
        let nonzero_low7 = (x & LOW7).wrapping_add(LOW7);
        BitMask(!(nonzero_low7 | x) & MSB)
    }

    /// Slots whose tophash equals `top`.
    #[inline]
    pub(crate) fn match_tophash(self, top: u8) -> BitMask {
        Self::zero_bytes(self.0 ^ (LSB * u64::from(top)))
    }

    /// Slots holding `EMPTY_REST`.
    #[inline]
    pub(crate) fn match_empty_rest(self) -> BitMask {
        Self::zero_bytes(self.0)
    }

    /// Slots holding `EMPTY_REST` or `EMPTY_ONE` (Go's `isEmpty`).
    #[inline]
    pub(crate) fn match_empty(self) -> BitMask {
        Self::zero_bytes(self.0 & !LSB)
    }

    /// Slots holding an entry (tophash >= `MIN_TOP_HASH`).
    #[inline]
    pub(crate) fn match_occupied(self) -> BitMask {
        // Adding 0x80 - 5 to the low seven bits sets a byte's high bit exactly when those
        // bits are >= 5; bytes >= 0x80 are occupied through their own high bit. No carry
        // crosses a byte: 0x7f + 0x7b < 0x100.
        let low = (self.0 & LOW7).wrapping_add(LSB * u64::from(0x80 - MIN_TOP_HASH));
        BitMask((low | self.0) & MSB)
    }
}

/// A set of slots, one bit (the high bit of the slot's byte) per slot.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BitMask(u64);

impl BitMask {
    pub(crate) const EMPTY: BitMask = BitMask(0);

    #[inline]
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }

    /// The lowest slot in the set.
    #[inline]
    pub(crate) fn lowest(self) -> Option<usize> {
        if self.0 == 0 {
            None
        } else {
            Some(self.0.trailing_zeros() as usize / 8)
        }
    }
}

impl BitMask {
    /// The same slots in Go's `range` order within a bucket, from the offset of `turn` up,
    /// then from slot 0 up to it.
    #[inline]
    pub(crate) fn turned(self, turn: Turn) -> TurnedMask {
        // Gather the high bit of byte `i` into bit `i`: the multiplier's bit 7(7-i) carries
        // bit 8i+7 to bit 56+i, and no two partial products ever meet on a bit, so nothing
        // carries.
        let slots = (self.0.wrapping_mul(0x0002_0408_1020_4081) >> 56) as u32;
        // Twice over, bits 8..16 again naming slots 0..8 (modulo 8); the window keeps the
        // eight from the offset on, so the slots before it come after slot 7.
        TurnedMask((slots | slots << BUCKET_CNT) & turn.window)
    }
}

/// Where Go's `range` starts the walk of each bucket: a slot offset (0..8), the same for
/// every bucket of one walk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Turn {
    /// Bits `offset..offset + 8`: kept as a mask so that turning a bucket's slots costs no
    /// shift by a variable amount.
    window: u32,
}

impl Turn {
    /// A turn from slot `offset` (taken modulo 8).
    pub(crate) fn new(offset: usize) -> Turn {
        Turn { window: 0xff << (offset % BUCKET_CNT) }
    }
}

/// A set of slots in Go's `range` order ([`BitMask::turned`]): bit `j` is slot `j % 8`, so
/// taking the lowest bit first walks the bucket from the offset on, wrapping around, and
/// each step finds its slot with one mask where a rotated [`BitMask`] would need an add.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TurnedMask(u32);

impl TurnedMask {
    pub(crate) const EMPTY: TurnedMask = TurnedMask(0);

    #[inline]
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }
}

impl Iterator for TurnedMask {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let bit = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(bit % BUCKET_CNT)
    }
}

impl Iterator for BitMask {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let slot = self.lowest()?;
        self.0 &= self.0 - 1;
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(bytes: [u8; 8]) -> Group {
        Group(u64::from_le_bytes(bytes))
    }

    /// Every SWAR mask agrees with the byte-by-byte definition, for every byte value in
    /// every slot.
    #[test]
    fn swar_masks_match_bytewise_definitions() {
        let mut rng = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..if cfg!(miri) { 64 } else { 20_000 } {
            let mut bytes = [0u8; 8];
            for (i, b) in bytes.iter_mut().enumerate() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Mix in all small values often: they are the markers.
                *b = if (rng >> 60) < 8 { (rng >> 56) as u8 & 7 } else { (rng >> 8) as u8 };
                if round < 256 && i == round % 8 {
                    *b = round as u8;
                }
            }
            let g = group(bytes);
            let top = tophash(rng);
            let expect = |f: &dyn Fn(u8) -> bool| -> Vec<usize> { (0..8).filter(|&i| f(bytes[i])).collect() };
            assert_eq!(g.match_tophash(top).collect::<Vec<_>>(), expect(&|b| b == top));
            assert_eq!(g.match_empty_rest().collect::<Vec<_>>(), expect(&|b| b == 0));
            assert_eq!(g.match_empty().collect::<Vec<_>>(), expect(&|b| b <= 1));
            assert_eq!(g.match_occupied().collect::<Vec<_>>(), expect(&|b| b >= 5));
            // Turned: the same slots, from `offset` on, wrapping around.
            let offset = round % BUCKET_CNT;
            let turned: Vec<usize> = g.match_occupied().turned(Turn::new(offset)).collect();
            let wanted: Vec<usize> = (0..8).map(|i| (i + offset) % 8).filter(|&i| bytes[i] >= 5).collect();
            assert_eq!(turned, wanted);
        }
    }

    /// Every set of occupied slots, turned by every offset, is walked in Go's order.
    #[test]
    fn turned_mask_walks_every_set_from_every_offset() {
        for set in 0..=255u8 {
            let bytes: [u8; 8] = core::array::from_fn(|i| if set >> i & 1 == 1 { 0x80 | i as u8 } else { EMPTY_ONE });
            for offset in 0..BUCKET_CNT {
                let turned: Vec<usize> = group(bytes).match_occupied().turned(Turn::new(offset)).collect();
                let wanted: Vec<usize> = (0..8).map(|i| (i + offset) % 8).filter(|&i| set >> i & 1 == 1).collect();
                assert_eq!(turned, wanted, "set {set:#010b}, offset {offset}");
            }
        }
    }

    #[test]
    fn tophash_avoids_markers() {
        for top in 0..=255u8 {
            let h = tophash(u64::from(top) << 56);
            assert!(h >= MIN_TOP_HASH);
            assert_eq!(h, if top < 5 { top + 5 } else { top });
        }
    }
}

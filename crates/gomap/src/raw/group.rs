//! Matching a bucket's eight tophash bytes all at once: [`Group`] (the bytes), [`Probe`]
//! (a tophash to look for), [`BitMask`] (a set of slots), and Go's `range` order inside a
//! bucket ([`Turn`], [`TurnedMask`]).
//!
//! On x86_64 a match is one SSE2 byte-wise compare of the eight bytes (held in the low half
//! of a vector register) and a `movemask` that gives one bit per slot; SSE2 is part of the
//! x86_64 baseline, so no detection is needed. Elsewhere it is a word-at-a-time (SWAR)
//! computation on the eight bytes as one `u64`, one bit per byte. Both are exact (a slot is
//! in a set only if its byte matches), and the SWAR code is compiled and tested on every
//! target.

#[cfg(target_arch = "x86_64")]
use super::bucket::MIN_TOP_HASH;
use super::bucket::{tophash, BUCKET_CNT, EMPTY_ONE, EMPTY_REST};

/// A byte repeated in all eight bytes of a word.
const fn repeated(byte: u8) -> u64 {
    byte as u64 * 0x0101_0101_0101_0101
}

/// A tophash (or a marker) in every byte of a word: what [`Group::match_tophash`] compares a
/// bucket's eight bytes against.
#[derive(Clone, Copy)]
pub(crate) struct Probe(u64);

/// The probe of every top byte of a hash. A lookup takes its probe from here with one load
/// (from 2 KiB that stay cached) instead of lifting the byte out of the marker range and
/// repeating it, eight dependent instructions: in-cache lookups 12-17 % faster (BENCHMARKS,
/// run U).
static PROBES: [u64; 256] = {
    let mut probes = [0; 256];
    let mut top = 0;
    while top < probes.len() {
        probes[top] = repeated(tophash((top as u64) << 56));
        top += 1;
    }
    probes
};

impl Probe {
    /// The probe for the key whose hash is `hash`: its [`tophash`].
    #[inline]
    pub(crate) fn of_hash(hash: u64) -> Probe {
        Probe(PROBES[(hash >> 56) as usize])
    }

    /// The byte looked for: for a hash's probe, its tophash.
    #[inline]
    pub(crate) fn byte(self) -> u8 {
        self.0 as u8
    }

    /// The probe for a marker such as `EMPTY_ONE`.
    #[inline]
    pub(crate) const fn marker(byte: u8) -> Probe {
        Probe(repeated(byte))
    }
}

/// The eight tophash bytes of a bucket as one little-endian word: byte `i` is slot `i`.
#[derive(Clone, Copy)]
pub(crate) struct Group(u64);

impl Group {
    #[inline]
    pub(crate) fn new(tophash: [u8; BUCKET_CNT]) -> Group {
        Group(u64::from_le_bytes(tophash))
    }

    /// Whether the slot after slot `i` is `EMPTY_REST`, or there is none (`i` is the last).
    #[inline]
    pub(crate) fn rest_after(self, i: usize) -> bool {
        // Two shifts: a single one by 64 would overflow for the last slot.
        (self.0 >> (8 * i) >> 8) & 0xff == u64::from(EMPTY_REST)
    }

    /// The first slot of the run of `EMPTY_ONE` slots that ends at slot `i` (which holds
    /// `EMPTY_ONE`).
    #[inline]
    pub(crate) fn tombstone_run_start(self, i: usize) -> usize {
        // The slots up to `i` that are not EMPTY_ONE; the highest of them ends just before
        // the run (none: the run starts at slot 0).
        let tombstones = u32::from(self.match_tophash(Probe::marker(EMPTY_ONE)).slot_bits().0);
        let others = !tombstones & ((2 << i) - 1);
        (u32::BITS - others.leading_zeros()) as usize
    }

    /// The group with slots `from..=to` set to `EMPTY_REST`.
    #[inline]
    pub(crate) fn with_rest(self, from: usize, to: usize) -> Group {
        let up_to = u64::MAX >> (8 * (BUCKET_CNT - 1 - to));
        let from_on = u64::MAX << (8 * from);
        Group(self.0 & !(up_to & from_on))
    }

    /// The eight bytes, slot 0 first.
    #[inline]
    pub(crate) fn to_bytes(self) -> [u8; BUCKET_CNT] {
        self.0.to_le_bytes()
    }

    /// Whether the last slot is `EMPTY_REST`: then the rest of the chain holds nothing
    /// (whatever overflow buckets it links), and a walk can leave it here.
    #[inline]
    pub(crate) fn ends_chain(self) -> bool {
        self.0 >> (8 * (BUCKET_CNT - 1)) == 0
    }
}

#[cfg(target_arch = "x86_64")]
impl Group {
    /// The bytes `compare` marks (0xff) as one bit each, given the group in the low half of
    /// a vector register: bits 0-7 for the slots, bits 8-15 for the upper half's zero bytes.
    #[inline]
    fn marks(self, compare: impl FnOnce(core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i) -> u32 {
        use core::arch::x86_64::{_mm_cvtsi64_si128, _mm_movemask_epi8};
        // SAFETY: SSE2 is part of the x86_64 baseline; these operate on registers only.
        unsafe { _mm_movemask_epi8(compare(_mm_cvtsi64_si128(self.0 as i64))) as u32 }
    }

    /// The slots whose bytes `compare` marks, the upper half's bytes cut off.
    #[inline]
    fn sse2(self, compare: impl FnOnce(core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i) -> BitMask {
        BitMask(u64::from(self.marks(compare)) & 0xff)
    }

    /// Slots whose byte is the probe's.
    #[inline]
    pub(crate) fn match_tophash(self, probe: Probe) -> BitMask {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_cvtsi64_si128};
        // The probe fills the low half only: the upper halves' zero bytes match, and are cut.
        // SAFETY: as in `marks`.
        self.sse2(|g| unsafe { _mm_cmpeq_epi8(g, _mm_cvtsi64_si128(probe.0 as i64)) })
    }

    /// Slots holding `EMPTY_REST`.
    #[inline]
    pub(crate) fn match_empty_rest(self) -> BitMask {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_setzero_si128};
        // SAFETY: as in `marks`.
        self.sse2(|g| unsafe { _mm_cmpeq_epi8(g, _mm_setzero_si128()) })
    }

    /// Slots holding `EMPTY_REST` or `EMPTY_ONE` (Go's `isEmpty`): bytes whose minimum with
    /// `EMPTY_ONE` is themselves.
    #[inline]
    pub(crate) fn match_empty(self) -> BitMask {
        use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_min_epu8, _mm_set1_epi8};
        // SAFETY: as in `marks`.
        self.sse2(|g| unsafe { _mm_cmpeq_epi8(_mm_min_epu8(g, _mm_set1_epi8(EMPTY_ONE as i8)), g) })
    }

    /// Slots holding an entry (tophash >= `MIN_TOP_HASH`).
    #[inline]
    pub(crate) fn match_occupied(self) -> BitMask {
        self.sse2(occupied_bytes)
    }

    /// The occupied slots of two buckets, `a`'s at bits 0-7 and `b`'s at bits 8-15: one
    /// compare of the sixteen bytes in one vector register.
    #[inline]
    pub(crate) fn occupied_pair(a: Group, b: Group) -> u32 {
        use core::arch::x86_64::{_mm_movemask_epi8, _mm_set_epi64x};
        // SAFETY: SSE2 is part of the x86_64 baseline; these operate on registers only.
        unsafe { _mm_movemask_epi8(occupied_bytes(_mm_set_epi64x(b.0 as i64, a.0 as i64))) as u32 }
    }
}

/// Marks (0xff) the bytes of `g` that hold an entry (tophash >= `MIN_TOP_HASH`): those
/// whose maximum with `MIN_TOP_HASH` is themselves.
#[cfg(target_arch = "x86_64")]
#[inline]
fn occupied_bytes(g: core::arch::x86_64::__m128i) -> core::arch::x86_64::__m128i {
    use core::arch::x86_64::{_mm_cmpeq_epi8, _mm_max_epu8, _mm_set1_epi8};
    // SAFETY: SSE2 is part of the x86_64 baseline; these operate on registers only.
    unsafe { _mm_cmpeq_epi8(_mm_max_epu8(g, _mm_set1_epi8(MIN_TOP_HASH as i8)), g) }
}

#[cfg(not(target_arch = "x86_64"))]
impl Group {
    /// The occupied slots of two buckets, `a`'s at bits 0-7 and `b`'s at bits 8-15.
    #[inline]
    pub(crate) fn occupied_pair(a: Group, b: Group) -> u32 {
        a.match_occupied().slots() | b.match_occupied().slots() << BUCKET_CNT
    }

    /// Slots whose byte is the probe's.
    #[inline]
    pub(crate) fn match_tophash(self, probe: Probe) -> BitMask {
        BitMask(swar::match_tophash(self.0, probe.0))
    }

    /// Slots holding `EMPTY_REST`.
    #[inline]
    pub(crate) fn match_empty_rest(self) -> BitMask {
        BitMask(swar::match_empty_rest(self.0))
    }

    /// Slots holding `EMPTY_REST` or `EMPTY_ONE` (Go's `isEmpty`).
    #[inline]
    pub(crate) fn match_empty(self) -> BitMask {
        BitMask(swar::match_empty(self.0))
    }

    /// Slots holding an entry (tophash >= `MIN_TOP_HASH`).
    #[inline]
    pub(crate) fn match_occupied(self) -> BitMask {
        BitMask(swar::match_occupied(self.0))
    }
}

/// Word-at-a-time matching: each result has the high bit of byte `i` set for slot `i`.
#[cfg(any(test, not(target_arch = "x86_64")))]
mod swar {
    use super::super::bucket::MIN_TOP_HASH;

    const LSB: u64 = 0x0101_0101_0101_0101;
    const MSB: u64 = 0x8080_8080_8080_8080;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;

    /// The bytes of `x` that are zero, as the high bit of each byte; exact (no false
    /// positives, unlike the shorter `(x - LSB) & !x & MSB`).
    #[inline]
    fn zero_bytes(x: u64) -> u64 {
        let nonzero_low7 = (x & LOW7).wrapping_add(LOW7);
        !(nonzero_low7 | x) & MSB
    }

    /// `probe` holds the byte looked for in each of its bytes.
    #[inline]
    pub(super) fn match_tophash(group: u64, probe: u64) -> u64 {
        zero_bytes(group ^ probe)
    }

    #[inline]
    pub(super) fn match_empty_rest(group: u64) -> u64 {
        zero_bytes(group)
    }

    /// Bytes 0 and 1: clearing bit 0 leaves them zero.
    #[inline]
    pub(super) fn match_empty(group: u64) -> u64 {
        zero_bytes(group & !LSB)
    }

    #[inline]
    pub(super) fn match_occupied(group: u64) -> u64 {
        // Adding 0x80 - 5 to the low seven bits sets a byte's high bit exactly when those
        // bits are >= 5; bytes >= 0x80 are occupied through their own high bit. No carry
        // crosses a byte: 0x7f + 0x7b < 0x100.
        let low = (group & LOW7).wrapping_add(LSB * u64::from(0x80 - MIN_TOP_HASH));
        (low | group) & MSB
    }

    /// One bit per slot, slot `i` at bit `i`, from a mask with the high bit of byte `i`.
    #[inline]
    pub(super) fn gather(mask: u64) -> u32 {
        // The multiplier's bit 7(7-i) carries bit 8i+7 to bit 56+i, and no two partial
        // products ever meet on a bit, so nothing carries.
        (mask.wrapping_mul(0x0002_0408_1020_4081) >> 56) as u32
    }
}

/// A set of slots: bit `i * STRIDE` (x86_64: one bit per slot) or `i * STRIDE + 7` (SWAR:
/// the high bit of the slot's byte) stands for slot `i`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct BitMask(u64);

impl BitMask {
    pub(crate) const EMPTY: BitMask = BitMask(0);

    #[cfg(target_arch = "x86_64")]
    const STRIDE: u32 = 1;
    #[cfg(not(target_arch = "x86_64"))]
    const STRIDE: u32 = 8;

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
            Some((self.0.trailing_zeros() / Self::STRIDE) as usize)
        }
    }

    /// One bit per slot, slot `i` at bit `i`.
    #[inline]
    fn slots(self) -> u32 {
        #[cfg(target_arch = "x86_64")]
        return self.0 as u32;
        #[cfg(not(target_arch = "x86_64"))]
        return swar::gather(self.0);
    }

    /// The same slots as plain bits, for set arithmetic.
    #[inline]
    pub(crate) fn slot_bits(self) -> SlotBits {
        SlotBits(self.slots() as u8)
    }

    /// The same slots in Go's `range` order within a bucket, from the offset of `turn` up,
    /// then from slot 0 up to it.
    #[inline]
    pub(crate) fn turned(self, turn: Turn) -> TurnedMask {
        let slots = self.slots();
        // Twice over, bits 8..16 again naming slots 0..8 (modulo 8); the window keeps the
        // eight from the offset on, so the slots before it come after slot 7.
        TurnedMask((slots | slots << BUCKET_CNT) & turn.window)
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

/// A set of slots as plain bits, slot `i` at bit `i`: what set arithmetic between two
/// matches, or with bits computed elsewhere, works on (a [`BitMask`]'s layout depends on
/// the target).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct SlotBits(pub(crate) u8);

impl SlotBits {
    /// The slots of `self` that are not in `other`.
    #[inline]
    pub(crate) fn without(self, other: SlotBits) -> SlotBits {
        SlotBits(self.0 & !other.0)
    }

    /// How many slots are in the set.
    #[inline]
    pub(crate) fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// A word whose byte `i` (little-endian) is 1 for each slot `i` in the set, else 0:
    /// for writing a value into the chosen bytes of a bucket's eight tophash bytes at once.
    #[inline]
    pub(crate) fn bytes(self) -> u64 {
        // Copy the eight bits into every byte, keep bit `i` in byte `i`, then turn each
        // non-zero byte into 1 (adding 0x7f sets a byte's high bit exactly when the byte
        // is non-zero, and never carries into the next byte: 0x80 + 0x7f = 0xff).
        const LSB: u64 = 0x0101_0101_0101_0101;
        let diagonal = (u64::from(self.0) * LSB) & 0x8040_2010_0804_0201;
        ((diagonal + 0x7f7f_7f7f_7f7f_7f7f) & 0x8080_8080_8080_8080) >> 7
    }
}

impl Iterator for SlotBits {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let slot = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(slot)
    }
}

/// The occupied slots of a run of up to four buckets side by side in their array: bit
/// `8 * a + i` is slot `i` of the run's bucket `a`. A walk in table order takes the heads of
/// its chains a run at a time, so that the step to the next run (a branch the processor
/// cannot foresee: buckets hold 0 to 8 entries) comes once per ~15 entries, not per ~4.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct RunSlots(pub(crate) u32);

impl RunSlots {
    pub(crate) const EMPTY: RunSlots = RunSlots(0);

    /// The occupied slots of one bucket.
    #[inline]
    pub(crate) fn of(group: Group) -> RunSlots {
        RunSlots(group.match_occupied().slots())
    }

    #[inline]
    pub(crate) fn any(self) -> bool {
        self.0 != 0
    }
}

impl Iterator for RunSlots {
    /// `8 * a + i` for slot `i` of the run's bucket `a`.
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        take_lowest(&mut self.0)
    }
}

/// The lowest set bit of `bits`, cleared: how every set of slots here is walked.
#[inline]
fn take_lowest(bits: &mut u32) -> Option<usize> {
    if *bits == 0 {
        return None;
    }
    let bit = bits.trailing_zeros() as usize;
    *bits &= *bits - 1;
    Some(bit)
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
        take_lowest(&mut self.0).map(|bit| bit % BUCKET_CNT)
    }
}

#[cfg(test)]
mod tests {
    use super::super::bucket::{EMPTY_ONE, EMPTY_REST, MIN_TOP_HASH};
    use super::*;

    /// The probe of every hash is its tophash in each byte, and a marker's is the marker.
    #[test]
    fn probes_repeat_the_tophash() {
        for top in 0..=255u8 {
            let hash = u64::from(top) << 56 | 0x00ab_cdef_0123_4567;
            let probe = Probe::of_hash(hash);
            assert_eq!(probe.0.to_le_bytes(), [tophash(hash); 8], "top byte {top}");
            assert_eq!(probe.byte(), tophash(hash));
        }
        for marker in EMPTY_ONE..MIN_TOP_HASH {
            assert_eq!(Probe::marker(marker).0.to_le_bytes(), [marker; 8]);
        }
    }

    /// The slots of a SWAR mask (the high bit of byte `i` for slot `i`).
    fn swar_slots(mask: u64) -> Vec<usize> {
        assert_eq!(mask & !0x8080_8080_8080_8080, 0, "stray bits in {mask:#x}");
        (0..8).filter(|i| mask >> (8 * i + 7) & 1 == 1).collect()
    }

    /// Every mask, of the group in use and of the SWAR code, agrees with the byte-by-byte
    /// definition, for every byte value in every slot.
    #[test]
    fn masks_match_bytewise_definitions() {
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
            let g = Group::new(bytes);
            let word = u64::from_le_bytes(bytes);
            let probe = Probe::of_hash(rng);
            let top = tophash(rng);
            let expect = |f: &dyn Fn(u8) -> bool| -> Vec<usize> { (0..8).filter(|&i| f(bytes[i])).collect() };
            let is_top = expect(&|b| b == top);
            let is_rest = expect(&|b| b == EMPTY_REST);
            let is_empty = expect(&|b| b <= EMPTY_ONE);
            let is_occupied = expect(&|b| b >= MIN_TOP_HASH);
            assert_eq!(g.match_tophash(probe).collect::<Vec<_>>(), is_top);
            assert_eq!(g.match_empty_rest().collect::<Vec<_>>(), is_rest);
            assert_eq!(g.match_empty().collect::<Vec<_>>(), is_empty);
            assert_eq!(g.match_occupied().collect::<Vec<_>>(), is_occupied);
            assert_eq!(g.ends_chain(), bytes[7] == EMPTY_REST);
            // Matching a marker (evacuation counts EMPTY_ONE slots) is exact too.
            for marker in EMPTY_ONE..MIN_TOP_HASH {
                assert_eq!(g.match_tophash(Probe::marker(marker)).collect::<Vec<_>>(), expect(&|b| b == marker));
            }
            assert_eq!(swar_slots(swar::match_tophash(word, probe.0)), is_top);
            assert_eq!(swar_slots(swar::match_empty_rest(word)), is_rest);
            assert_eq!(swar_slots(swar::match_empty(word)), is_empty);
            assert_eq!(swar_slots(swar::match_occupied(word)), is_occupied);
            // Turned: the same slots, from `offset` on, wrapping around.
            let offset = round % BUCKET_CNT;
            let turned: Vec<usize> = g.match_occupied().turned(Turn::new(offset)).collect();
            let wanted: Vec<usize> = (0..8).map(|i| (i + offset) % 8).filter(|&i| bytes[i] >= 5).collect();
            assert_eq!(turned, wanted);
            // A pair: this group and its bytes reversed, as bits 0-7 and 8-15 of a run.
            let mut reversed = bytes;
            reversed.reverse();
            let pair: Vec<usize> = RunSlots(Group::occupied_pair(g, Group::new(reversed))).collect();
            let wanted: Vec<usize> =
                is_occupied.iter().copied().chain(is_occupied.iter().map(|i| 15 - i).rev()).collect();
            assert_eq!(pair, wanted);
            assert_eq!(RunSlots::of(g).collect::<Vec<_>>(), is_occupied);
        }
    }

    /// The SWAR gather puts each slot's bit in place, for every set of slots.
    #[test]
    fn swar_gather_keeps_every_set() {
        for set in 0..=255u32 {
            let mask = (0..8).filter(|i| set >> i & 1 == 1).fold(0u64, |m, i| m | 0x80 << (8 * i));
            assert_eq!(swar::gather(mask), set);
        }
    }

    /// For every set of occupied slots: `slot_bits` names exactly them, iterating it walks
    /// them in slot order, and `bytes` puts a 1 in exactly their bytes.
    #[test]
    fn slot_bits_agree_with_the_slots_they_name() {
        for set in 0..=255u8 {
            let bytes: [u8; 8] = core::array::from_fn(|i| if set >> i & 1 == 1 { 0x80 | i as u8 } else { EMPTY_REST });
            let bits = Group::new(bytes).match_occupied().slot_bits();
            let wanted: Vec<usize> = (0..8).filter(|&i| set >> i & 1 == 1).collect();
            assert_eq!(bits.collect::<Vec<_>>(), wanted, "set {set:#010b}");
            assert_eq!(bits.len(), wanted.len());
            let spread: [u8; 8] = core::array::from_fn(|i| u8::from(set >> i & 1 == 1));
            assert_eq!(bits.bytes().to_le_bytes(), spread, "set {set:#010b}");
        }
    }

    /// For every pattern of tombstones, occupied and `EMPTY_REST` slots: `rest_after`,
    /// `tombstone_run_start` and `with_rest` agree with a slot-by-slot walk.
    #[test]
    fn tombstone_runs_agree_with_a_walk() {
        // Each slot one of three states, written in base 3.
        for pattern in 0..3u32.pow(8) {
            let bytes: [u8; 8] = core::array::from_fn(|i| match pattern / 3u32.pow(i as u32) % 3 {
                0 => EMPTY_REST,
                1 => EMPTY_ONE,
                _ => 0x80 | i as u8,
            });
            let g = Group::new(bytes);
            for i in 0..BUCKET_CNT {
                assert_eq!(g.rest_after(i), i == BUCKET_CNT - 1 || bytes[i + 1] == EMPTY_REST, "{bytes:?} after {i}");
                if bytes[i] != EMPTY_ONE {
                    continue;
                }
                let mut start = i;
                while start > 0 && bytes[start - 1] == EMPTY_ONE {
                    start -= 1;
                }
                assert_eq!(g.tombstone_run_start(i), start, "{bytes:?} run to {i}");
                let mut rest = bytes;
                rest[start..=i].fill(EMPTY_REST);
                assert_eq!(g.with_rest(start, i).to_bytes(), rest, "{bytes:?} {start}..={i}");
            }
        }
    }

    /// Every set of occupied slots, turned by every offset, is walked in Go's order.
    #[test]
    fn turned_mask_walks_every_set_from_every_offset() {
        for set in 0..=255u8 {
            let bytes: [u8; 8] = core::array::from_fn(|i| if set >> i & 1 == 1 { 0x80 | i as u8 } else { EMPTY_ONE });
            for offset in 0..BUCKET_CNT {
                let turned: Vec<usize> = Group::new(bytes).match_occupied().turned(Turn::new(offset)).collect();
                let wanted: Vec<usize> = (0..8).map(|i| (i + offset) % 8).filter(|&i| set >> i & 1 == 1).collect();
                assert_eq!(turned, wanted, "set {set:#010b}, offset {offset}");
            }
        }
    }
}

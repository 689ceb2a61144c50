//! Bucket arrays: zeroed memory, Go's preallocated overflow pool, and incremental release.
//!
//! Two facts measured on the target machine shape this file:
//!
//! * A zeroed allocation is O(1) only when the allocator can hand out fresh pages: the
//!   system allocator does so (`calloc` over `mmap`) for large blocks, but only with an
//!   alignment of at most 16, and glibc raises its `mmap` threshold after the first large
//!   free, after which "zeroed" means a `memset` of the whole block. So large arrays are
//!   mapped here directly; the kernel zero-fills each page on first touch, and the
//!   insert that starts a growth pays a system call, not O(array size).
//! * Freeing a large array whose pages were all touched costs about 10 ms per 160 MB (the
//!   kernel returns every page). Paying that at the end of a growth would be the worst
//!   insert of all, so a mapped old array is unmapped piece by piece as the evacuation
//!   mark passes over it ([`BucketArray::release_below`]).
//!
//! Small arrays, and every array under Miri (which cannot run `mmap`), use the global
//! allocator; release is then a no-op and the memory goes at once when the array drops.

use core::alloc::Layout;
use core::marker::PhantomData;
use core::mem;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::alloc::{alloc_zeroed, dealloc};

use super::bucket::{prefetch_line, BucketRef, Ctrl, Data, Link, LoneBucket};
use crate::TryReserveError;

/// Arrays at least this large are mapped directly (when the platform allows).
#[cfg(all(unix, not(miri)))]
const MAP_THRESHOLD: usize = 1 << 20;

/// With the `huge-pages` feature, the control-word and slot regions of a mapped array at
/// least this large (an x86_64 transparent huge page) are offered to huge pages
/// (`MADV_HUGEPAGE`). A table of 1e6 `u64` entries spans about 9,000 small pages, and on
/// the VM these figures come from, a TLB miss (a nested page walk) and a page fault each
/// cost much of what a whole insert does: with the advice, every operation of the
/// throughput bench at 1e6 keys but `clear` took 15–35% less time (BENCHMARKS.md,
/// section 1, run S).
/// It is not the default because of what a huge page's first touch costs: the kernel
/// provides 2 MiB at once, and on that VM, where the host backs guest memory as it is
/// first used, that took ~9 ms, so growing a map to 1e7 keys had ~100 inserts over 1 ms
/// instead of none (section 2, run 10). Small pages spread that cost over 512 writes.
#[cfg(all(target_os = "linux", not(miri)))]
const HUGE_PAGE: usize = 2 << 20;

/// A mapped old array is unmapped in pieces of at least this size, so that the system
/// calls stay few and each costs tens of microseconds at most.
#[cfg(all(unix, not(miri)))]
const RELEASE_CHUNK: usize = 256 << 10;

/// How much of a retired array one write gives back ([`BucketArray::release_some`]):
/// about 0.1 ms of `munmap` on touched pages.
pub(crate) const RETIRE_STEP: usize = 512 << 10;

/// Go's allocator rounds arrays of at least this many bytes up to whole 8 KiB pages, and
/// the rounding becomes extra preallocated overflow buckets; gomap does the same.
const PAGE_ROUNDING_FROM: usize = 32 << 10;
const GO_PAGE: usize = 8 << 10;

/// How many buckets an array for `2^b` regular buckets holds (Go's `makeBucketArray`):
/// for `b >= 4` there is a pool of `2^(b-4)` overflow buckets behind the regular ones, one
/// for every 16 buckets, the expected need at median load.
pub(crate) fn array_len(b: u8, bucket_size: usize) -> Option<usize> {
    let base = 1usize.checked_shl(u32::from(b))?;
    if b < 4 {
        return Some(base);
    }
    let len = base.checked_add(base >> 4)?;
    let bytes = len.checked_mul(bucket_size)?;
    if bytes < PAGE_ROUNDING_FROM {
        return Some(len);
    }
    let rounded = bytes.checked_add(GO_PAGE - 1)? / GO_PAGE * GO_PAGE;
    Some(rounded / bucket_size)
}

/// The regions of an array: control words, links, data, chain bits.
const REGIONS: usize = 4;

/// Bits per word of the chain bits region.
const WORD_BITS: usize = u64::BITS as usize;

/// How far apart the writes are that make pages present ([`prefault`],
/// [`BucketArray::touch_control_pages`]): the smallest page of the platforms gomap runs
/// on, so that no page is missed (with larger pages, some are written more than once).
const TOUCH_STRIDE: usize = 4096;

/// When an array's pages come.
#[derive(Clone, Copy)]
pub(crate) enum Pages {
    /// As each is first touched.
    OnFirstTouch,
    /// Those of the control words and chain bits now, writable; the rest as each is first
    /// touched. For an empty table about to be filled by inserts, each of which reads its
    /// bucket's control word before it writes it. A page whose first touch is a read is
    /// mapped to the kernel's shared zero page, and the write that follows must replace
    /// that mapping: a second page fault, which in a process with threads on other CPUs
    /// also interrupts every one of them to flush the old mapping from its TLB. On the VM
    /// of BENCHMARKS.md that made each such page cost tens of microseconds, under the
    /// writer's shard lock in a `ShardedMap` (`gomap::sync` run 16).
    ControlNow,
    /// All at once, when the array is mapped (heap arrays are the allocator's business).
    Now,
}

enum Memory {
    /// Nothing allocated (the lazily allocated array of an empty map).
    None,
    /// From the global allocator.
    Heap(Layout),
    /// Mapped directly, `bytes` in all: the regions of control words, links, data and
    /// chain bits start at `offsets` (each on a page); of each region, the first
    /// `released` bytes are already unmapped.
    #[cfg(all(unix, not(miri)))]
    Mapped { bytes: usize, offsets: [usize; REGIONS], released: [usize; REGIONS] },
}

/// Where an array's buckets are: enough to address them and follow chain links, without
/// borrowing the array (for walks that outlive a borrow of the table's fields).
pub(crate) struct ArrayView<K, V> {
    ctrl: *mut Ctrl,
    links: *mut Link,
    data: *mut Data<K, V>,
    /// Bit `i` is set exactly when bucket `i`'s link is not null (see [`BucketArray`]).
    chained: *mut u64,
    len: usize,
}

impl<K, V> Clone for ArrayView<K, V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<K, V> Copy for ArrayView<K, V> {}

impl<K, V> ArrayView<K, V> {
    /// A view of no buckets.
    pub(crate) const EMPTY: Self = ArrayView {
        ctrl: ptr::null_mut(),
        links: ptr::null_mut(),
        data: ptr::null_mut(),
        chained: ptr::null_mut(),
        len: 0,
    };

    /// How many buckets the array has, regular and pool.
    pub(crate) fn len(self) -> usize {
        self.len
    }

    /// Bucket `i`, regular (`i < 2^b`) or from the pool.
    #[inline]
    pub(crate) fn bucket(self, i: usize) -> BucketRef<K, V> {
        debug_assert!(i < self.len);
        // SAFETY: `i < len`, so both offsets stay inside their regions of the array the
        // view was taken from, which its users keep alive.
        unsafe { BucketRef { ctrl: self.ctrl.add(i), data: self.data.add(i) } }
    }

    /// Where the link of `b`, a bucket of one of this array's chains, is: in the links
    /// region if `b` is one of the array's buckets, else right behind its control word.
    #[inline]
    fn link(self, b: BucketRef<K, V>) -> *mut Link {
        match self.index_of(b.ctrl) {
            // SAFETY: `i < len`: inside the links region.
            Some(i) => unsafe { self.links.add(i) },
            // SAFETY: a bucket of our chains that is not ours is a live lone bucket.
            None => unsafe { LoneBucket::link_of(b) },
        }
    }

    /// Asks for the first line of slots of bucket `i` (a hint, like [`BucketRef::prefetch`];
    /// `i` may lie past the array's end, and then nothing useful is asked for).
    #[inline(always)]
    pub(crate) fn prefetch_slots(self, i: usize) {
        prefetch_line(self.data.wrapping_add(i));
    }

    /// The control word of the bucket after `b` in its chain, or null. `b` belongs to one
    /// of this array's chains.
    #[inline]
    pub(crate) fn overflow(self, b: BucketRef<K, V>) -> *mut Ctrl {
        // SAFETY: a live link (see `link`).
        unsafe { *self.link(b) }
    }

    /// Links `next` (a control word, or null to end the chain) behind `b`. Callers hold
    /// the table exclusively.
    #[inline]
    pub(crate) fn set_overflow(self, b: BucketRef<K, V>, next: *mut Ctrl) {
        let Some(i) = self.index_of(b.ctrl) else {
            // SAFETY: a bucket of our chains that is not ours is a live lone bucket.
            unsafe { *LoneBucket::link_of(b) = next };
            return;
        };
        if next.is_null() && !self.is_chained(i) {
            // Already null: leave its cache line alone (evacuation unlinks every chain).
            return;
        }
        let bit = 1u64 << (i % WORD_BITS);
        // SAFETY: `i < len`, so word `i / 64` lies inside the chain bits region, which is
        // never released, and link `i` inside the links region, mapped while its bit is set
        // or about to be.
        unsafe {
            let word = self.chained.add(i / WORD_BITS);
            *word = if next.is_null() { *word & !bit } else { *word | bit };
            *self.links.add(i) = next;
        }
    }

    /// Whether bucket `i` of the array links an overflow bucket: one bit from a region a
    /// 64th the size of the links', which stays in the nearest caches, where the link
    /// itself would be a miss of its own (a search goes on past every full bucket, and
    /// most full buckets end their chain).
    #[inline]
    fn is_chained(self, i: usize) -> bool {
        // SAFETY: `i < len` (callers get `i` from `index_of`): inside the chain bits region.
        unsafe { *self.chained.add(i / WORD_BITS) & (1 << (i % WORD_BITS)) != 0 }
    }

    /// The chain bits of buckets `i..i + n` (bit `a` for bucket `i + a`), for a run that
    /// does not cross a multiple of 64 (`n` a power of two up to 64 that divides `i`).
    #[inline]
    pub(crate) fn chain_bits(self, i: usize, n: usize) -> u64 {
        debug_assert!(i + n <= self.len && n.is_power_of_two() && n <= WORD_BITS && i % n == 0);
        // SAFETY: `i < len`: word `i / 64` lies inside the chain bits region, never released.
        let word = unsafe { *self.chained.add(i / WORD_BITS) };
        (word >> (i % WORD_BITS)) & (u64::MAX >> (WORD_BITS - n))
    }

    /// For a walk that will come to buckets `i..i + n` (`i` and `n` as
    /// [`chain_bits`](Self::chain_bits) takes them): asks for the links of those whose
    /// chains go on. The links in use in a large array are far apart, so each is a cache
    /// miss of its own, and a walk that reaches one would wait for it and then for the
    /// bucket it leads to; [`prefetch_second_buckets`](Self::prefetch_second_buckets) asks
    /// for that bucket once the link is here.
    #[inline]
    pub(crate) fn prefetch_links(self, i: usize, n: usize) {
        let mut chained = self.chain_bits(i, n);
        while chained != 0 {
            prefetch_line(self.links.wrapping_add(i + chained.trailing_zeros() as usize));
            chained &= chained - 1;
        }
    }

    /// For a walk that will soon come to buckets `i..i + n` (as
    /// [`prefetch_links`](Self::prefetch_links), which should have asked for their links
    /// earlier): follows the links of those whose chains go on, and asks for the control
    /// word and first line of slots of each second bucket.
    #[inline]
    pub(crate) fn prefetch_second_buckets(self, i: usize, n: usize) {
        let mut chained = self.chain_bits(i, n);
        while chained != 0 {
            // SAFETY: `i + n <= len` (`chain_bits` checked it): inside the links region,
            // which is mapped while a chain bit says the link is in use, and then not null.
            let link = unsafe { *self.links.add(i + chained.trailing_zeros() as usize) };
            prefetch_line(link);
            self.linked(link).prefetch();
            chained &= chained - 1;
        }
    }

    /// Whether bucket `i`'s chain bit says what its link says (for `check_invariants`).
    /// `i < len`, and the bucket's link must still be mapped.
    pub(crate) fn chain_bit_agrees(self, i: usize) -> bool {
        assert!(i < self.len);
        // SAFETY: `i < len`: inside the links region, mapped by the caller's promise.
        let link = unsafe { *self.links.add(i) };
        self.is_chained(i) != link.is_null()
    }

    /// The bucket after `b` in its chain, which belongs to this array.
    #[inline]
    pub(crate) fn next(self, b: BucketRef<K, V>) -> Option<BucketRef<K, V>> {
        let next = match self.index_of(b.ctrl) {
            Some(i) if !self.is_chained(i) => return None,
            // SAFETY: `i < len`: inside the links region, which is mapped while a chain
            // bit says the link is in use (only evacuated chains, unlinked, are released).
            Some(i) => unsafe { *self.links.add(i) },
            // SAFETY: a bucket of our chains that is not ours is a live lone bucket.
            None => unsafe { *LoneBucket::link_of(b) },
        };
        (!next.is_null()).then(|| self.linked(next))
    }

    /// The bucket a non-null link of one of this array's chains leads to: one of ours, or
    /// a lone bucket.
    #[inline]
    fn linked(self, link: Link) -> BucketRef<K, V> {
        match self.index_of(link) {
            Some(i) => self.bucket(i),
            None => BucketRef::lone(link.cast()),
        }
    }

    /// The index of the bucket whose control word is at `ctrl`, if it is one of ours (not
    /// a lone bucket).
    #[inline]
    fn index_of(self, ctrl: *const Ctrl) -> Option<usize> {
        let offset = (ctrl as usize).wrapping_sub(self.ctrl as usize);
        let i = offset / mem::size_of::<Ctrl>();
        (i < self.len).then_some(i)
    }

    /// Whether `b` is part of this array (regular or pool bucket), as opposed to a lone
    /// overflow bucket.
    #[cfg(test)]
    fn contains(self, b: BucketRef<K, V>) -> bool {
        self.index_of(b.ctrl).is_some()
    }
}

/// An array of `len` buckets, `2^b` regular ones then the overflow pool, in four regions
/// of one allocation: the control words (`len * 8` bytes), the links (as many), the data,
/// and the chain bits (`len` bits, one per bucket, set exactly when the bucket's link is
/// not null: what a search past a full bucket reads instead of the link).
pub(crate) struct BucketArray<K, V> {
    base: NonNull<u8>,
    ctrl: *mut Ctrl,
    links: *mut Link,
    data: *mut Data<K, V>,
    chained: *mut u64,
    b: u8,
    /// `2^b - 1`, kept because every lookup needs it: a hash's chain is `hash & mask`.
    mask: usize,
    len: usize,
    /// The next unused pool bucket (Go's `nextOverflow`); `len` when the pool is used up.
    next_overflow: usize,
    memory: Memory,
    /// The lone overflow buckets of the array's chains, once the pool is used up.
    lone: LoneSlabs<K, V>,
}

impl<K, V> BucketArray<K, V> {
    /// No buckets at all.
    pub(crate) const fn empty() -> Self {
        BucketArray {
            base: NonNull::dangling(),
            ctrl: ptr::null_mut(),
            links: ptr::null_mut(),
            data: ptr::null_mut(),
            chained: ptr::null_mut(),
            b: 0,
            mask: 0,
            len: 0,
            next_overflow: 0,
            memory: Memory::None,
            lone: LoneSlabs::new(),
        }
    }

    /// A zeroed array for `2^b` regular buckets plus its overflow pool, whose pages the
    /// system provides as they are first touched: O(1) to make, which is what lets an
    /// insert start a growth without paying for the new array.
    ///
    /// # Panics
    /// With "capacity overflow" when the size does not fit the address space; a refused
    /// allocation goes to [`handle_alloc_error`](std::alloc::handle_alloc_error).
    pub(crate) fn new(b: u8) -> Self {
        Self::try_new(b, Pages::OnFirstTouch).unwrap_or_else(|e| e.raise())
    }

    /// A zeroed array like [`new`](Self::new), or why there is none, with its pages as
    /// `pages` says. With `Pages::Now`, for a caller about to write all of it (a bulk copy
    /// or move): a large one is mapped with its pages in place, one system call instead of
    /// a page fault per page (Linux's `MAP_POPULATE`; elsewhere the same as
    /// `OnFirstTouch`).
    pub(crate) fn try_new(b: u8, pages: Pages) -> Result<Self, TryReserveError> {
        let bucket_bytes = mem::size_of::<Ctrl>() + mem::size_of::<Link>() + mem::size_of::<Data<K, V>>();
        let len = array_len(b, bucket_bytes).ok_or(TryReserveError::CapacityOverflow)?;
        let array = |layout: Result<Layout, _>| layout.map_err(|_| TryReserveError::CapacityOverflow);
        let regions = [
            array(Layout::array::<Ctrl>(len))?,
            array(Layout::array::<Link>(len))?,
            array(Layout::array::<Data<K, V>>(len))?,
            array(Layout::array::<u64>(len.div_ceil(WORD_BITS)))?,
        ];
        let (base, offsets, memory) = Self::allocate(regions, pages)?;
        // SAFETY: each offset lies inside the allocation, aligned for its region.
        let at = |i: usize| unsafe { base.as_ptr().add(offsets[i]) };
        if let Pages::ControlNow = pages {
            let heap = matches!(memory, Memory::Heap(_));
            // The control words and the chain bits: what an insert reads before it writes.
            for i in [0, 3] {
                // SAFETY: the region lies inside the fresh zeroed allocation, ours alone.
                unsafe { prefault(at(i), regions[i].size(), heap) };
            }
        }
        Ok(BucketArray {
            base,
            ctrl: at(0).cast(),
            links: at(1).cast(),
            data: at(2).cast(),
            chained: at(3).cast(),
            b,
            mask: (1 << b) - 1,
            len,
            next_overflow: 1 << b,
            memory,
            lone: LoneSlabs::new(),
        })
    }

    /// Zeroed memory for the regions, one after the other; returns it with the regions'
    /// offsets. (Miri cannot unmap part of a mapping, so under Miri every array is a heap
    /// allocation.)
    fn allocate(
        regions: [Layout; REGIONS],
        pages: Pages,
    ) -> Result<(NonNull<u8>, [usize; REGIONS], Memory), TryReserveError> {
        let mut layout = regions[0];
        let mut offsets = [0; REGIONS];
        for i in 1..REGIONS {
            let (joined, offset) = layout.extend(regions[i]).map_err(|_| TryReserveError::CapacityOverflow)?;
            layout = joined;
            offsets[i] = offset;
        }
        let layout = layout.pad_to_align();
        #[cfg(all(unix, not(miri)))]
        if layout.size() >= MAP_THRESHOLD && layout.align() <= page_size() {
            // Each region starts on a page, so that each can be released on its own.
            let page = page_size();
            let mut bytes = 0usize;
            for (offset, region) in offsets.iter_mut().zip(&regions) {
                *offset = bytes;
                let region_pages = region.size().div_ceil(page);
                bytes = region_pages
                    .checked_mul(page)
                    .and_then(|b| bytes.checked_add(b))
                    .ok_or(TryReserveError::CapacityOverflow)?;
            }
            // The control words and the slots are what lookups, inserts and walks touch all
            // over; the links are mostly never written, so they stay on small pages.
            let huge = [(offsets[0], offsets[1] - offsets[0]), (offsets[2], offsets[3] - offsets[2])];
            let base = map_zeroed(bytes, layout, pages, &huge)?;
            return Ok((base, offsets, Memory::Mapped { bytes, offsets, released: [0; REGIONS] }));
        }
        // Heap memory is zeroed as one block, whatever the caller's plan for its pages.
        #[cfg(not(all(unix, not(miri))))]
        let _ = pages;
        // (A bucket holds at least its control word: the size is not zero.)
        Ok((heap_zeroed(layout)?, offsets, Memory::Heap(layout)))
    }

    /// log2 of the number of regular buckets.
    #[inline]
    pub(crate) fn b(&self) -> u8 {
        self.b
    }

    /// The index mask of the regular buckets, `2^b - 1`.
    #[inline]
    pub(crate) fn mask(&self) -> usize {
        self.mask
    }

    /// Whether the array has no buckets at all.
    #[inline]
    pub(crate) fn is_unallocated(&self) -> bool {
        self.len == 0
    }

    /// Whether any bucket links an overflow bucket: a scan of the chain bits, one word per
    /// 64 buckets.
    pub(crate) fn has_chains(&self) -> bool {
        if self.len == 0 {
            return false;
        }
        // SAFETY: an allocated array's chain bits region holds `len.div_ceil(64)` words,
        // zeroed when it was made and never released.
        let words = unsafe { core::slice::from_raw_parts(self.chained, self.len.div_ceil(WORD_BITS)) };
        words.iter().any(|&word| word != 0)
    }

    /// The array's buckets, to address them and follow chain links.
    #[inline]
    pub(crate) fn view(&self) -> ArrayView<K, V> {
        ArrayView { ctrl: self.ctrl, links: self.links, data: self.data, chained: self.chained, len: self.len }
    }

    /// Bucket `i`, regular (`i < 2^b`) or from the pool.
    #[inline]
    pub(crate) fn bucket(&self, i: usize) -> BucketRef<K, V> {
        self.view().bucket(i)
    }

    /// Takes the next bucket of the preallocated overflow pool, if any is left.
    #[inline]
    pub(crate) fn take_pool_bucket(&mut self) -> Option<BucketRef<K, V>> {
        if self.next_overflow < self.len {
            self.next_overflow += 1;
            Some(self.bucket(self.next_overflow - 1))
        } else {
            None
        }
    }

    /// Makes up to `pages` more pages of control words present and writable (a hint),
    /// from the one of bucket `*next` on, by writing one word of each unchanged; moves
    /// `*next` past them. For a table filled a step at a time while it is also searched,
    /// which [`Pages::ControlNow`] would fault in all at once: each step takes a few pages,
    /// so that most are had before a search reads them ([`Pages::ControlNow`] says what a
    /// page's first read costs).
    pub(crate) fn touch_control_pages(&mut self, next: &mut usize, pages: usize) {
        const PER_PAGE: usize = TOUCH_STRIDE / mem::size_of::<Ctrl>();
        for _ in 0..pages {
            let i = *next;
            if i >= self.len {
                return;
            }
            // SAFETY: `i < len`: a live control word, aligned for `u64` (`Ctrl` is), which
            // `&mut self` keeps from every other access meanwhile. A compare-and-swap of
            // zero for zero leaves the word as it was, and it is a write access: on an
            // empty word (most are) it stores, and x86's `cmpxchg` writes its operand back
            // even when the comparison fails; so its page fault maps a writable page. (An
            // atomic OR of zero would not do: the compiler turns that into a fenced load.)
            let word = unsafe { AtomicU64::from_ptr(self.ctrl.add(i).cast::<u64>()) };
            let _ = word.compare_exchange(0, 0, Relaxed, Relaxed);
            *next = (i / PER_PAGE + 1) * PER_PAGE;
        }
    }

    /// A zeroed overflow bucket of its own, for a chain of this array whose pool is used
    /// up. It lives as long as the array (or until [`zero`](Self::zero)): an evacuated
    /// chain's lone buckets are not freed one by one, they go with their old array,
    /// piece by piece ([`release_some`](Self::release_some)).
    pub(crate) fn alloc_lone(&mut self) -> BucketRef<K, V> {
        self.lone.take()
    }

    /// Empties every bucket and refills the pool, as after a fresh allocation (Go's
    /// `mapclear` keeps and re-zeroes the array); the lone overflow buckets go. Only the
    /// control words, the links in use and the chain bits are zeroed: a slot is read only
    /// where its control word says it is occupied, so the slots (eight ninths of the array
    /// for `u64` keys and values) keep their old bytes; Go clears them too, for its garbage
    /// collector.
    pub(crate) fn zero(&mut self) {
        self.lone = LoneSlabs::new();
        if self.len == 0 {
            return;
        }
        let words = self.len.div_ceil(WORD_BITS);
        // SAFETY: the regions are live (only old arrays are ever partly released, and
        // those are never zeroed), and a zero control word, a null link and a clear chain
        // bit make an empty bucket, whatever its slots hold. Only the links whose chain bit
        // is set can be non-null (invariant 10), so only those are written: most of the
        // links region, which a fill never touches, stays out of the cache.
        unsafe {
            ptr::write_bytes(self.ctrl, 0, self.len);
            for w in 0..words {
                let mut bits = *self.chained.add(w);
                while bits != 0 {
                    *self.links.add(w * WORD_BITS + bits.trailing_zeros() as usize) = ptr::null_mut();
                    bits &= bits - 1;
                }
            }
            ptr::write_bytes(self.chained, 0, words);
        }
        self.next_overflow = 1 << self.b;
    }

    /// Gives back to the system what it can of the regular buckets below `n`. The caller
    /// promises never to touch those buckets again.
    pub(crate) fn release_below(&mut self, n: usize) {
        #[cfg(all(unix, not(miri)))]
        if let Memory::Mapped { offsets, released, .. } = &mut self.memory {
            let page = page_size();
            // The chain bits stay: a 64th of the links, and read for every chain that is
            // walked or unlinked.
            let used = [n * mem::size_of::<Ctrl>(), n * mem::size_of::<Link>(), n * mem::size_of::<Data<K, V>>(), 0];
            for ((&start, used), released) in offsets.iter().zip(used).zip(released) {
                // Rounded down to whole pages (a power of two: no division on this path,
                // which every advance of the evacuation mark takes).
                let end = used & !(page - 1);
                if end >= *released + RELEASE_CHUNK {
                    // SAFETY: `[start + released, start + end)` lies inside the region of
                    // the first `n` regular buckets of our own mapping, is page aligned at
                    // both ends, and nothing reads it again by the caller's promise.
                    let rc = unsafe { libc::munmap(self.base.as_ptr().add(start + *released).cast(), end - *released) };
                    debug_assert_eq!(rc, 0, "munmap failed");
                    *released = end;
                }
            }
        }
        let _ = n;
    }

    /// Gives back up to `budget` more bytes (a multiple of the page size) of an array that
    /// is no longer used, so that a large array goes in pieces rather than in one long
    /// `munmap`; returns whether it is all gone (memory from the global allocator goes at
    /// once, when the array drops).
    pub(crate) fn release_some(&mut self, budget: usize) -> bool {
        #[cfg(all(unix, not(miri)))]
        if let Memory::Mapped { bytes, offsets, released } = &mut self.memory {
            let ends = [offsets[1], offsets[2], offsets[3], *bytes];
            // The first region with something left, if any.
            if let Some(r) = (0..REGIONS).find(|&r| offsets[r] + released[r] < ends[r]) {
                let start = offsets[r] + released[r];
                let n = (ends[r] - start).min(budget);
                // SAFETY: `[start, start + n)` is a still-mapped, page-aligned part of one
                // region of our own mapping, and the array is no longer used by its owner.
                let rc = unsafe { libc::munmap(self.base.as_ptr().add(start).cast(), n) };
                debug_assert_eq!(rc, 0, "munmap failed");
                released[r] += n;
                return false;
            }
        }
        let _ = budget;
        // Then the lone buckets' slabs, one per call (each at most `RETIRE_STEP`).
        self.lone.slabs.pop();
        self.lone.slabs.is_empty()
    }

    /// Heap bytes the array holds now.
    pub(crate) fn bytes(&self) -> usize {
        let regions = match self.memory {
            Memory::None => 0,
            Memory::Heap(layout) => layout.size(),
            #[cfg(all(unix, not(miri)))]
            Memory::Mapped { bytes, released, .. } => bytes - released.iter().sum::<usize>(),
        };
        regions + self.lone.bytes()
    }
}

impl<K, V> Drop for BucketArray<K, V> {
    fn drop(&mut self) {
        match self.memory {
            Memory::None => {}
            // SAFETY: allocated by `alloc_zeroed` with this layout.
            Memory::Heap(layout) => unsafe { dealloc(self.base.as_ptr(), layout) },
            #[cfg(all(unix, not(miri)))]
            Memory::Mapped { bytes, offsets, released } => {
                let ends = [offsets[1], offsets[2], offsets[3], bytes];
                for r in 0..REGIONS {
                    let from = offsets[r] + released[r];
                    if from < ends[r] {
                        // SAFETY: the still-mapped rest of one region of our own mapping.
                        let rc = unsafe { libc::munmap(self.base.as_ptr().add(from).cast(), ends[r] - from) };
                        debug_assert_eq!(rc, 0, "munmap failed");
                    }
                }
            }
        }
    }
}

/// The lone overflow buckets of one array: carved in order from slabs the array owns, which
/// go only with the array (or when it is zeroed). Each lone bucket used to be a `malloc` of
/// its own, freed when evacuation emptied its chain; at 1e7 keys that was ~300,000 frees in
/// one growth, and once the last of them joined a large freed region to the top of the
/// heap, glibc gave it all back in one call: 1–2.5 ms inside one insert (BENCHMARKS.md,
/// section 2, run 7). Large slabs come from `mmap` like large arrays (natively), so the
/// allocator never holds their memory, and a retired array hands them back one per write.
struct LoneSlabs<K, V> {
    /// Oldest first; only the last has room.
    slabs: Vec<Slab>,
    /// Buckets taken from the last slab.
    used: usize,
    marker: PhantomData<LoneBucket<K, V>>,
}

impl<K, V> LoneSlabs<K, V> {
    /// The largest slab, in bytes (the first holds one bucket, each next one is twice the
    /// last). A small map with a lone bucket or two pays no more than before.
    const MAX_SLAB: usize = RETIRE_STEP;

    const fn new() -> Self {
        LoneSlabs { slabs: Vec::new(), used: 0, marker: PhantomData }
    }

    /// Buckets a slab of `bytes` holds.
    fn capacity(bytes: usize) -> usize {
        bytes / mem::size_of::<LoneBucket<K, V>>()
    }

    /// A zeroed bucket, never handed out before.
    fn take(&mut self) -> BucketRef<K, V> {
        let full = self.slabs.last().is_none_or(|slab| self.used == Self::capacity(slab.bytes));
        if full {
            let bucket = mem::size_of::<LoneBucket<K, V>>();
            let bytes = match self.slabs.last() {
                None => bucket,
                Some(last) => (2 * last.bytes).min(Self::MAX_SLAB.max(bucket)),
            };
            self.slabs.push(Slab::new(
                Layout::from_size_align(bytes, mem::align_of::<LoneBucket<K, V>>()).expect("capacity overflow"),
            ));
            self.used = 0;
        }
        let slab = self.slabs.last().expect("a slab with room");
        // SAFETY: `used < capacity`, so the bucket lies inside the slab, which is zeroed and
        // aligned for `LoneBucket`, and no bucket is handed out twice.
        let p = unsafe { slab.base.as_ptr().cast::<LoneBucket<K, V>>().add(self.used) };
        self.used += 1;
        BucketRef::lone(p)
    }

    /// Bytes held in slabs.
    fn bytes(&self) -> usize {
        self.slabs.iter().map(|slab| slab.bytes).sum()
    }
}

/// Slabs at least this large are mapped directly (natively); smaller ones, the first few
/// of an array, come from the global allocator: a program with many small maps must not
/// spend a mapping (the kernel allows ~65,000) on each one's first lone bucket, and an
/// array's small slabs add up to under this, too little for a heap trim to take long.
#[cfg(all(unix, not(miri)))]
const SLAB_MAP_FROM: usize = 64 << 10;

/// Zeroed memory for lone buckets: mapped (natively, when large and the page covers the
/// alignment), else from the global allocator.
struct Slab {
    base: NonNull<u8>,
    bytes: usize,
    layout: Layout,
    mapped: bool,
}

impl Slab {
    /// # Panics
    /// A refused allocation goes to [`handle_alloc_error`](std::alloc::handle_alloc_error)
    /// (a slab is at most [`RETIRE_STEP`] bytes).
    fn new(layout: Layout) -> Slab {
        #[cfg(all(unix, not(miri)))]
        if layout.size() >= SLAB_MAP_FROM && layout.align() <= page_size() {
            let bytes = layout.size().div_ceil(page_size()) * page_size();
            let base = map_zeroed(bytes, layout, Pages::OnFirstTouch, &[]).unwrap_or_else(|e| e.raise());
            return Slab { base, bytes, layout, mapped: true };
        }
        // (At least one bucket: the size is not zero.)
        let base = heap_zeroed(layout).unwrap_or_else(|e| e.raise());
        Slab { base, bytes: layout.size(), layout, mapped: false }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        if self.mapped {
            #[cfg(all(unix, not(miri)))]
            {
                // SAFETY: our own mapping of `bytes`, unmapped once.
                let rc = unsafe { libc::munmap(self.base.as_ptr().cast(), self.bytes) };
                debug_assert_eq!(rc, 0, "munmap failed");
            }
        } else {
            // SAFETY: allocated by `alloc_zeroed` with this layout.
            unsafe { dealloc(self.base.as_ptr(), self.layout) }
        }
    }
}

/// Bytes of one lone overflow bucket.
pub(crate) const fn lone_bytes<K, V>() -> usize {
    mem::size_of::<LoneBucket<K, V>>()
}

/// `bytes` (whole pages) of fresh zeroed memory mapped from the system, to be unmapped by
/// the caller; `layout` is what it is for, reported if the mapping fails. With the
/// `huge-pages` feature on Linux, the `(offset, len)` ranges of `huge` of at least
/// `HUGE_PAGE` bytes are offered to transparent huge pages.
#[cfg(all(unix, not(miri)))]
fn map_zeroed(
    bytes: usize,
    layout: Layout,
    pages: Pages,
    huge: &[(usize, usize)],
) -> Result<NonNull<u8>, TryReserveError> {
    // The ranges offered to huge pages: none without the feature.
    #[cfg(target_os = "linux")]
    let huge = huge.iter().copied().filter(|&(_, len)| cfg!(feature = "huge-pages") && len >= HUGE_PAGE);
    // Pages asked for now come after the advice, so that they can be huge ones.
    #[cfg(target_os = "linux")]
    let (populate, populate_later) = match pages {
        Pages::OnFirstTouch | Pages::ControlNow => (0, false),
        Pages::Now if huge.clone().next().is_none() => (libc::MAP_POPULATE, false),
        Pages::Now => (0, true),
    };
    #[cfg(not(target_os = "linux"))]
    let populate = {
        let _ = (pages, huge);
        0
    };
    // SAFETY: an anonymous private mapping of a fresh region; every argument is valid and
    // the result is checked before use.
    let p = unsafe {
        libc::mmap(
            ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | populate,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(TryReserveError::AllocError { layout });
    }
    #[cfg(target_os = "linux")]
    {
        for (offset, len) in huge {
            // SAFETY: the range lies inside the mapping just made; the advice changes how
            // its pages are backed, never their contents. It is only advice: a kernel
            // without transparent huge pages refuses it, and the pages stay small.
            unsafe { libc::madvise(p.cast::<u8>().add(offset).cast(), len, libc::MADV_HUGEPAGE) };
        }
        if populate_later {
            // SAFETY: the whole mapping just made. A kernel before 5.14 refuses the
            // advice, and the pages then come on first touch as usual.
            unsafe { libc::madvise(p, bytes, libc::MADV_POPULATE_WRITE) };
        }
    }
    NonNull::new(p.cast()).ok_or(TryReserveError::AllocError { layout })
}

/// Makes the pages of the `len` bytes at `p` present and writable now (a hint: nothing is
/// promised). `heap`: the bytes come from the global allocator, else from our own mapping.
///
/// # Safety
/// The bytes are zeroed memory of a fresh allocation that nothing else uses yet.
unsafe fn prefault(p: *mut u8, len: usize, heap: bool) {
    #[cfg(all(target_os = "linux", not(miri)))]
    if !heap && len != 0 {
        // The range starts on a page (each region of a mapped array does). A kernel before
        // 5.14 refuses the advice (EINVAL), and the pages are then touched one by one
        // below; any other failure (ENOMEM: the memory is not there now) leaves them to
        // come as they are first touched, so that an allocation that asked for room
        // (`try_reserve`) is not what runs out of memory.
        // SAFETY: advice on a range of our own mapping, which never changes its contents.
        if unsafe { libc::madvise(p.cast(), len, libc::MADV_POPULATE_WRITE) } == 0 {
            return;
        }
        if std::io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return;
        }
    }
    let _ = heap;
    for offset in (0..len).step_by(TOUCH_STRIDE) {
        // SAFETY: inside the range, by the caller's contract; writing a zero over a zero
        // changes nothing, and the volatile write cannot be left out.
        unsafe { p.add(offset).write_volatile(0) };
    }
}

/// Zeroed memory for `layout` (of non-zero size) from the global allocator, to be freed by
/// the caller with `dealloc` and the same layout.
fn heap_zeroed(layout: Layout) -> Result<NonNull<u8>, TryReserveError> {
    debug_assert_ne!(layout.size(), 0);
    // SAFETY: the layout's size is not zero (every caller allocates at least one bucket).
    let p = unsafe { alloc_zeroed(layout) };
    NonNull::new(p).ok_or(TryReserveError::AllocError { layout })
}

#[cfg(all(unix, not(miri)))]
fn page_size() -> usize {
    use core::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let queried = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(queried).ok().filter(|s| s.is_power_of_two()).unwrap_or(4096);
    PAGE.store(size, Ordering::Relaxed);
    size
}

// SAFETY: the array owns its memory; sending or sharing it is as safe as for the entries
// it stores, which the table's own Send/Sync bounds decide.
unsafe impl<K: Send, V: Send> Send for BucketArray<K, V> {}
// SAFETY: as above.
unsafe impl<K: Sync, V: Sync> Sync for BucketArray<K, V> {}

#[cfg(test)]
mod tests {
    use super::super::bucket::{BUCKET_CNT, MIN_TOP_HASH};
    use super::*;

    /// Go's preallocation for `map[int64]int64` (144-byte buckets), from the spec's table,
    /// from the point where Go rounds to whole pages; below it gomap keeps exactly
    /// `2^(b-4)` pool buckets instead of reproducing Go's small size classes.
    #[test]
    fn pool_sizes_match_go() {
        let expect = [(0u8, 1usize), (3, 8), (4, 16 + 1), (5, 32 + 2), (6, 64 + 4), (7, 128 + 8)];
        for (b, len) in expect {
            assert_eq!(array_len(b, 144), Some(len), "b = {b}");
        }
        for (b, pool) in [(8u8, 28usize), (9, 56), (10, 113), (11, 170), (12, 284), (13, 512), (20, 65536)] {
            assert_eq!(array_len(b, 144).unwrap() - (1 << b), pool, "b = {b}");
        }
        assert_eq!(array_len(63, 144), None);
    }

    /// Touching pages of control words (for a table filled in steps) leaves every word as
    /// it was, moves the cursor a page at a time, and stops at the array's end.
    #[test]
    fn touching_control_pages_changes_no_word() {
        for pages in [Pages::OnFirstTouch, Pages::ControlNow] {
            let mut a = BucketArray::<u64, u64>::try_new(12, pages).unwrap();
            let marked = [0, 1, 511, 512, 1000, 4095];
            for (n, &i) in marked.iter().enumerate() {
                a.bucket(i).set_tophash(n % BUCKET_CNT, MIN_TOP_HASH + n as u8);
            }
            let mut next = 0;
            a.touch_control_pages(&mut next, 3);
            assert_eq!(next, 3 * 512);
            a.touch_control_pages(&mut next, 1000);
            assert!(next >= a.len, "the cursor stops at the end");
            a.touch_control_pages(&mut next, 1);
            for i in 0..a.len {
                let expect = marked.iter().position(|&m| m == i).map_or(0, |n| MIN_TOP_HASH + n as u8);
                let occupied = a.bucket(i).group().match_occupied().count();
                assert_eq!(occupied, usize::from(expect != 0), "bucket {i}");
                if let Some(n) = marked.iter().position(|&m| m == i) {
                    assert_eq!(a.bucket(i).tophash(n % BUCKET_CNT), expect, "bucket {i}");
                }
            }
        }
    }

    /// Lone buckets come zeroed and distinct from slabs that at most double the memory in
    /// use (the first holds one bucket), are counted in `bytes`, go one slab per
    /// `release_some` call, and all at once on `zero`.
    #[test]
    fn lone_buckets_come_from_slabs() {
        let n = if cfg!(miri) { 100 } else { 5000 };
        let mut a = BucketArray::<u64, u64>::new(4);
        let regions = a.bytes();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..n {
            let b = a.alloc_lone();
            assert!(!a.view().contains(b));
            assert!(seen.insert(b.ctrl as usize), "a lone bucket handed out twice");
            assert_eq!(b.group().match_empty_rest().slot_bits().len(), BUCKET_CNT, "not zeroed");
            assert!(a.view().overflow(b).is_null(), "link not zeroed");
            // Written, as a chain would: the next bucket must not overlap it.
            b.set_tophash(0, MIN_TOP_HASH);
        }
        let used = n * lone_bytes::<u64, u64>();
        let held = a.bytes() - regions;
        assert!(held >= used && held <= 2 * used + RETIRE_STEP, "{held} bytes held for {used}");
        let mut calls = 0;
        while !a.release_some(RETIRE_STEP) {
            calls += 1;
            assert!(calls < 1000, "release never finishes");
        }
        assert!(a.bytes() <= regions, "slabs left after release: {}", a.bytes());
        // A small map's first lone bucket costs one bucket, not a page or a slab.
        let mut b = BucketArray::<u64, u64>::new(4);
        b.alloc_lone();
        assert_eq!(b.bytes(), regions + lone_bytes::<u64, u64>());
        b.zero();
        assert_eq!(b.bytes(), regions);
    }

    /// A chain bit follows its bucket's link through linking, unlinking and `zero`, and a
    /// bucket whose bit is clear ends its chain whatever its link says (the bit is what
    /// `next` reads first). Buckets on both sides of a word boundary of the bits.
    #[test]
    fn chain_bits_follow_links() {
        let mut a = BucketArray::<u64, u64>::new(7);
        let view = a.view();
        let heads = [0, 63, 64, 127];
        for (n, &i) in heads.iter().enumerate() {
            let overflow = a.take_pool_bucket().unwrap();
            view.set_overflow(view.bucket(i), overflow.ctrl);
            for j in 0..view.len() {
                assert!(view.chain_bit_agrees(j), "bucket {j} after linking {i}");
                let linked = heads[..=n].contains(&j);
                assert_eq!(view.next(view.bucket(j)).is_some(), linked, "bucket {j}");
            }
        }
        view.set_overflow(view.bucket(63), ptr::null_mut());
        assert!(view.next(view.bucket(63)).is_none());
        assert!(view.next(view.bucket(64)).is_some(), "unlinking 63 touched its neighbour's bit");
        assert!((0..view.len()).all(|j| view.chain_bit_agrees(j)));
        // A link written behind the bits' back is not followed: the bit decides.
        // SAFETY: bucket 5's link, inside the links region.
        unsafe { *view.links.add(5) = view.bucket(6).ctrl };
        assert!(view.next(view.bucket(5)).is_none());
        assert!(!view.chain_bit_agrees(5));
        // SAFETY: as above.
        unsafe { *view.links.add(5) = ptr::null_mut() };
        a.zero();
        let view = a.view();
        for j in 0..view.len() {
            assert!(view.chain_bit_agrees(j) && view.overflow(view.bucket(j)).is_null(), "bucket {j} after zero");
        }
    }

    #[test]
    fn pool_is_taken_in_order_then_exhausted_and_refilled_by_zero() {
        let mut a = BucketArray::<u64, u64>::new(5);
        for _ in 0..2 {
            let first = a.take_pool_bucket().unwrap();
            assert!(first == a.bucket(32));
            assert!(a.view().contains(first));
            assert!(a.take_pool_bucket() == Some(a.bucket(33)));
            assert!(a.take_pool_bucket().is_none());
            a.zero();
        }
        let lone = a.alloc_lone();
        assert!(!a.view().contains(lone));
        assert!(a.alloc_lone() != lone);
    }
}

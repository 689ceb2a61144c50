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
use core::mem;
use core::ptr::{self, NonNull};
use std::alloc::{alloc_zeroed, dealloc, handle_alloc_error};

use super::bucket::Bucket;

/// Arrays at least this large are mapped directly (when the platform allows).
#[cfg(all(unix, not(miri)))]
const MAP_THRESHOLD: usize = 1 << 20;

/// A mapped old array is unmapped in pieces of at least this size, so that the system
/// calls stay few and each costs tens of microseconds at most.
#[cfg(all(unix, not(miri)))]
const RELEASE_CHUNK: usize = 256 << 10;

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

enum Memory {
    /// Nothing allocated (the lazily allocated array of an empty map).
    None,
    /// From the global allocator.
    Heap(Layout),
    /// Mapped directly; the first `released` bytes are already unmapped.
    #[cfg(all(unix, not(miri)))]
    Mapped { bytes: usize, released: usize },
}

/// An array of `len` buckets: `2^b` regular ones, then the overflow pool.
pub(crate) struct BucketArray<K, V> {
    ptr: NonNull<Bucket<K, V>>,
    b: u8,
    len: usize,
    /// The next unused pool bucket (Go's `nextOverflow`); `len` when the pool is used up.
    next_overflow: usize,
    memory: Memory,
}

impl<K, V> BucketArray<K, V> {
    /// No buckets at all.
    pub(crate) const fn empty() -> Self {
        BucketArray { ptr: NonNull::dangling(), b: 0, len: 0, next_overflow: 0, memory: Memory::None }
    }

    /// A zeroed array for `2^b` regular buckets plus its overflow pool.
    ///
    /// # Panics
    /// With "capacity overflow" when the size does not fit the address space.
    pub(crate) fn new(b: u8) -> Self {
        let len = array_len(b, mem::size_of::<Bucket<K, V>>()).expect("capacity overflow");
        let layout = Layout::array::<Bucket<K, V>>(len).expect("capacity overflow");
        let (ptr, memory) = Self::allocate(layout);
        BucketArray { ptr, b, len, next_overflow: 1 << b, memory }
    }

    fn allocate(layout: Layout) -> (NonNull<Bucket<K, V>>, Memory) {
        #[cfg(all(unix, not(miri)))]
        if layout.size() >= MAP_THRESHOLD && layout.align() <= page_size() {
            let bytes = layout.size().div_ceil(page_size()) * page_size();
            // SAFETY: an anonymous private mapping of a fresh region; every argument is
            // valid and the result is checked before use.
            let p = unsafe {
                libc::mmap(
                    ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                handle_alloc_error(layout);
            }
            let ptr = NonNull::new(p.cast()).unwrap_or_else(|| handle_alloc_error(layout));
            return (ptr, Memory::Mapped { bytes, released: 0 });
        }
        // SAFETY: `layout` has a non-zero size (a bucket holds at least its tophash word
        // and its link).
        let p = unsafe { alloc_zeroed(layout) };
        let ptr = NonNull::new(p.cast()).unwrap_or_else(|| handle_alloc_error(layout));
        (ptr, Memory::Heap(layout))
    }

    /// log2 of the number of regular buckets.
    #[inline]
    pub(crate) fn b(&self) -> u8 {
        self.b
    }

    /// Whether the array has no buckets at all.
    #[inline]
    pub(crate) fn is_unallocated(&self) -> bool {
        self.len == 0
    }

    /// Bucket `i`, regular (`i < 2^b`) or from the pool.
    #[inline]
    pub(crate) fn bucket(&self, i: usize) -> *mut Bucket<K, V> {
        debug_assert!(i < self.len);
        // SAFETY: `i < len`, so the offset stays inside the allocation.
        unsafe { self.ptr.as_ptr().add(i) }
    }

    /// Takes the next bucket of the preallocated overflow pool, if any is left.
    #[inline]
    pub(crate) fn take_pool_bucket(&mut self) -> Option<*mut Bucket<K, V>> {
        if self.next_overflow < self.len {
            self.next_overflow += 1;
            Some(self.bucket(self.next_overflow - 1))
        } else {
            None
        }
    }

    /// Whether `p` points into this array (regular or pool bucket), as opposed to a
    /// separately allocated overflow bucket.
    #[inline]
    pub(crate) fn contains(&self, p: *const Bucket<K, V>) -> bool {
        let start = self.ptr.as_ptr() as usize;
        let addr = p as usize;
        addr >= start && addr < start + self.len * mem::size_of::<Bucket<K, V>>()
    }

    /// Zeroes every bucket and refills the pool, as after a fresh allocation (Go's
    /// `mapclear` keeps and re-zeroes the array).
    pub(crate) fn zero(&mut self) {
        if self.len == 0 {
            return;
        }
        // SAFETY: the whole array is live (only old arrays are ever partly released and
        // those are never zeroed) and all-zero bytes are a valid empty bucket.
        unsafe { ptr::write_bytes(self.ptr.as_ptr(), 0, self.len) };
        self.next_overflow = 1 << self.b;
    }

    /// Gives back to the system what it can of the regular buckets below `n`. The caller
    /// promises never to touch those buckets again.
    pub(crate) fn release_below(&mut self, n: usize) {
        #[cfg(all(unix, not(miri)))]
        if let Memory::Mapped { released, .. } = &mut self.memory {
            let end = n * mem::size_of::<Bucket<K, V>>() / page_size() * page_size();
            if end >= *released + RELEASE_CHUNK {
                // SAFETY: `[released, end)` lies inside our mapping (`n` is at most the
                // number of regular buckets), is page aligned at both ends, and nothing
                // reads it again by the caller's promise.
                let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast::<u8>().add(*released).cast(), end - *released) };
                debug_assert_eq!(rc, 0, "munmap failed");
                *released = end;
            }
        }
        let _ = n;
    }

    /// Heap bytes the array holds now.
    pub(crate) fn bytes(&self) -> usize {
        match self.memory {
            Memory::None => 0,
            Memory::Heap(layout) => layout.size(),
            #[cfg(all(unix, not(miri)))]
            Memory::Mapped { bytes, released } => bytes - released,
        }
    }
}

impl<K, V> Drop for BucketArray<K, V> {
    fn drop(&mut self) {
        match self.memory {
            Memory::None => {}
            // SAFETY: allocated by `alloc_zeroed` with this layout.
            Memory::Heap(layout) => unsafe { dealloc(self.ptr.as_ptr().cast(), layout) },
            #[cfg(all(unix, not(miri)))]
            Memory::Mapped { bytes, released } => {
                // SAFETY: the still-mapped tail of our own mapping.
                let rc = unsafe { libc::munmap(self.ptr.as_ptr().cast::<u8>().add(released).cast(), bytes - released) };
                debug_assert_eq!(rc, 0, "munmap failed");
            }
        }
    }
}

/// A separately allocated, zeroed overflow bucket (for when the pool is used up).
pub(crate) fn alloc_bucket<K, V>() -> *mut Bucket<K, V> {
    let layout = Layout::new::<Bucket<K, V>>();
    // SAFETY: a bucket has a non-zero size.
    let p = unsafe { alloc_zeroed(layout) };
    if p.is_null() {
        handle_alloc_error(layout);
    }
    p.cast()
}

/// Frees a bucket from [`alloc_bucket`]. Its entries must have been moved out or dropped.
///
/// # Safety
/// `p` comes from `alloc_bucket::<K, V>` and is not used afterwards.
pub(crate) unsafe fn free_bucket<K, V>(p: *mut Bucket<K, V>) {
    // SAFETY: by the caller's contract.
    unsafe { dealloc(p.cast(), Layout::new::<Bucket<K, V>>()) }
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

    #[test]
    fn pool_is_taken_in_order_then_exhausted_and_refilled_by_zero() {
        let mut a = BucketArray::<u64, u64>::new(5);
        for _ in 0..2 {
            let first = a.take_pool_bucket().unwrap();
            assert_eq!(first, a.bucket(32));
            assert!(a.contains(first));
            assert_eq!(a.take_pool_bucket(), Some(a.bucket(33)));
            assert_eq!(a.take_pool_bucket(), None);
            a.zero();
        }
        assert!(!a.contains(core::ptr::null()));
    }
}

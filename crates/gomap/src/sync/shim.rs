//! The synchronisation primitives `gomap::sync` is built from, in one place.
//!
//! Normally they are `std`'s `Arc` and atomics, `parking_lot`'s locks and `arc-swap`'s
//! [`ArcSwap`](arc_swap::ArcSwap). Under `--cfg loom` they are loom's models of the same
//! things, so that the loom tests in each module explore every interleaving of the protocol
//! built on top. `arc-swap` has no loom model; under loom an [`AtomicArc`] is an `Arc` behind
//! a loom mutex, which has the same (linearizable) semantics: the models check our protocols,
//! not arc-swap's internals.

use core::cell::{Cell, RefCell};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::Arc;
#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::Arc;

#[cfg(loom)]
pub(crate) use self::loom_locks::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The hasher of `SyncMap`'s maps and of its filter of new keys: seeded randomly, except
/// under loom, which needs every execution of a model to make the same atomic operations
/// (which filter words, which entries a copy step visits: both follow the hashes).
/// foldhash's `quality` variant, as [`crate::DefaultHashBuilder`]: the `fast` one, used here
/// before, spread consecutive integer keys unevenly over a map's buckets for some seeds (in
/// one map of 3,000 holding `0..100`, 12 overflow buckets for 16 buckets; with `quality`, 0
/// to 6, as random hashes give).
#[cfg(not(loom))]
pub(crate) type KeyHasher = foldhash::quality::RandomState;
#[cfg(loom)]
pub(crate) type KeyHasher = foldhash::quality::FixedState;

/// loom's locks with parking_lot's API (no poisoning, `try_*` returning `Option`).
#[cfg(loom)]
mod loom_locks {
    pub(crate) use loom::sync::{MutexGuard, RwLockReadGuard, RwLockWriteGuard};
    use std::sync::PoisonError;

    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
            self.0.try_lock().ok()
        }
    }

    #[derive(Debug)]
    pub(crate) struct RwLock<T>(loom::sync::RwLock<T>);

    impl<T> RwLock<T> {
        pub(crate) fn new(value: T) -> Self {
            RwLock(loom::sync::RwLock::new(value))
        }

        pub(crate) fn read(&self) -> RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn write(&self) -> RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(PoisonError::into_inner)
        }

        pub(crate) fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
            self.0.try_read().ok()
        }

        pub(crate) fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
            self.0.try_write().ok()
        }

        pub(crate) fn into_inner(self) -> T {
            self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
        }
    }
}

/// An `Arc<T>` that can be loaded and replaced atomically: an [`arc_swap::ArcSwap`].
///
/// A load does not touch the `Arc`'s reference count (readers do not contend on it), and a
/// value stays alive while any [`Snapshot`] of it does: that is how replaced read-only maps
/// and replaced values are reclaimed without a garbage collector.
pub(crate) struct AtomicArc<T> {
    #[cfg(not(loom))]
    inner: arc_swap::ArcSwap<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<Arc<T>>,
}

/// A loaded value of an [`AtomicArc`]; dereferences to the `Arc`.
#[cfg(not(loom))]
pub(crate) type Snapshot<T> = arc_swap::Guard<Arc<T>>;

/// A loaded value of an [`AtomicArc`]; dereferences to the `Arc`.
#[cfg(loom)]
pub(crate) struct Snapshot<T>(Arc<T>);

#[cfg(loom)]
impl<T> core::ops::Deref for Snapshot<T> {
    type Target = Arc<T>;

    fn deref(&self) -> &Arc<T> {
        &self.0
    }
}

#[cfg(not(loom))]
impl<T> AtomicArc<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        AtomicArc { inner: arc_swap::ArcSwap::new(value) }
    }

    /// The current value, without touching its reference count.
    #[inline]
    pub(crate) fn load(&self) -> Snapshot<T> {
        self.inner.load()
    }

    /// The current value as an owned `Arc` (for keeping it across user code).
    #[inline]
    pub(crate) fn load_full(&self) -> Arc<T> {
        self.inner.load_full()
    }

    #[inline]
    pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
        self.inner.swap(value)
    }

    /// Replaces the value with `new` if it is still `current` (the same allocation), and
    /// tells whether it did. `current` is kept alive by the caller, so its address cannot
    /// have been reused by another value (no ABA).
    #[inline]
    pub(crate) fn compare_and_swap(&self, current: &Arc<T>, new: Arc<T>) -> bool {
        let previous = self.inner.compare_and_swap(current, new);
        Arc::ptr_eq(&previous, current)
    }
}

#[cfg(loom)]
impl<T> AtomicArc<T> {
    pub(crate) fn new(value: Arc<T>) -> Self {
        AtomicArc { inner: loom::sync::Mutex::new(value) }
    }

    fn cell(&self) -> loom::sync::MutexGuard<'_, Arc<T>> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn load(&self) -> Snapshot<T> {
        Snapshot(self.load_full())
    }

    pub(crate) fn load_full(&self) -> Arc<T> {
        Arc::clone(&self.cell())
    }

    pub(crate) fn swap(&self, value: Arc<T>) -> Arc<T> {
        core::mem::replace(&mut *self.cell(), value)
    }

    pub(crate) fn compare_and_swap(&self, current: &Arc<T>, new: Arc<T>) -> bool {
        let mut cell = self.cell();
        if Arc::ptr_eq(&cell, current) {
            *cell = new;
            true
        } else {
            false
        }
    }
}

#[cfg(not(loom))]
std::thread_local! {
    /// How many user closures this thread is running under a map's lock: the hot path
    /// only reads this (no destructor, so the cheapest kind of thread-local).
    static DEPTH: Cell<usize> = const { Cell::new(0) };
    /// The maps (by address) whose lock this thread holds while it runs a user closure.
    static HELD: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

#[cfg(loom)]
loom::thread_local! {
    static DEPTH: Cell<usize> = Cell::new(0);
    static HELD: RefCell<Vec<usize>> = RefCell::new(Vec::new());
}

/// Panics with `message` if this thread is running a user closure under a lock of the map
/// at `map` (so the call would deadlock on that lock).
#[inline(always)]
pub(crate) fn check_not_held(map: usize, message: &'static str) {
    // Every call of every map method comes here: only the depth test is inline.
    if DEPTH.with(Cell::get) != 0 {
        check_held_list(map, message);
    }
}

#[cold]
#[inline(never)]
fn check_held_list(map: usize, message: &'static str) {
    // `try_with`: during thread-local destruction there is nothing to check.
    if HELD.try_with(|held| held.borrow().contains(&map)).unwrap_or(false) {
        panic!("{message}");
    }
}

/// The record that the current thread holds a lock of a map while it runs user code; other
/// calls on the same map from this thread check it and panic instead of deadlocking.
pub(crate) struct HeldMark {
    map: usize,
}

impl HeldMark {
    /// Checks, then records, that this thread takes a lock of the map at `map`.
    #[inline]
    pub(crate) fn enter(map: usize, message: &'static str) -> HeldMark {
        check_not_held(map, message);
        HELD.with(|held| held.borrow_mut().push(map));
        DEPTH.with(|depth| depth.set(depth.get() + 1));
        HeldMark { map }
    }
}

impl Drop for HeldMark {
    #[inline]
    fn drop(&mut self) {
        let _ = HELD.try_with(|held| {
            let mut held = held.borrow_mut();
            if let Some(i) = held.iter().rposition(|&m| m == self.map) {
                held.swap_remove(i);
            }
        });
        let _ = DEPTH.try_with(|depth| depth.set(depth.get() - 1));
    }
}

/// The address of `value`, as an identity for [`HeldMark`].
#[inline]
pub(crate) fn address_of<T>(value: &T) -> usize {
    value as *const T as usize
}

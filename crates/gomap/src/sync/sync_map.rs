//! [`SyncMap`]: Go 1.19's `sync.Map` (spec section 6), with `GoMap` inside and `Arc`s where
//! Go relies on its garbage collector.
//!
//! # The algorithm
//!
//! Two maps from keys to shared *entries*:
//!
//! * `read`, an immutable `GoMap` published through an atomic pointer ([`AtomicArc`], an
//!   `ArcSwap`). Readers load it without a lock; the keys it holds never change, but the
//!   value inside each entry is itself an atomic pointer that lock-free operations swap.
//! * `dirty`, a `GoMap` under a mutex holding every non-deleted entry of `read` (the *same*
//!   entries, shared) plus the keys added since. `amended` tells that it has such keys.
//!
//! A key missing from `read` costs a lock and a *miss*; once the misses reach `dirty`'s
//! length, `dirty` is promoted: it becomes the new `read` (one pointer store, and a zeroed
//! filter of n/16 words, below), and the next new key starts rebuilding `dirty` as a copy
//! of `read` (O(n) work per promotion cycle). Deleted entries of `read` are *expunged*
//! during that copy and left out of `dirty`, so they vanish at the next promotion: a store
//! to an expunged entry must take the lock and put the entry back into `dirty` first.
//!
//! Beyond Go, two changes that leave every result as Go's would be:
//!
//! * Go copies `read` into `dirty` all at once, under the mutex: the first new key after a
//!   promotion waits for the whole copy (0.4 s at three million keys), and so does every
//!   thread that needs the mutex meanwhile. Here the copy is made a few entries at a time
//!   by the misses that follow ([`Copying`]), which are what pays for it in Go's accounting
//!   (a promotion waits for as many misses as the copy has entries).
//! * Each read-only map carries a Bloom filter of the keys added to `dirty` since it was
//!   published ([`NewKeys`]). A lookup that misses `read` while it is amended asks the
//!   filter first, and a key the filter rules out (most absent keys) returns without the
//!   mutex and without counting a miss. In Go every such lookup locks, so reads of absent
//!   keys serialise all threads and keep promoting `dirty`.
//!
//! An entry's value is an `Arc<Slot>`: `Value(v)`, `Deleted` (Go's `nil`) or `Expunged`
//! (Go's sentinel pointer). Every transition is a compare-and-swap of that `Arc`; only
//! `Deleted -> Expunged` and `Expunged -> Deleted` need the mutex, as in Go.
//!
//! # Memory reclamation
//!
//! Go's garbage collector frees an old `read` map, or a replaced value, once no reader can
//! see it. Here the same objects are reference counted: a reader's load takes a
//! `arc_swap::Guard` (which defers the release without touching the shared count), so an
//! old value is dropped by whoever lets go of it last. An old map, which costs O(n) to let
//! go of, is kept until its readers are done and then taken apart a few entries at a time
//! by the operations that follow ([`ReplacedMaps`]): the locked ones, and the lock-free ones
//! that find the mutex free, so that a map that is only read after a promotion gets the
//! memory back too. No unsafe code, no leaks: the loom models check that every `Arc` is
//! released.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{BuildHasher, Hash};
use core::mem;
use core::sync::atomic::Ordering::{Relaxed, SeqCst};

use crossbeam_utils::CachePadded;

use super::new_keys::NewKeys;
use super::retire::{IntoTable, Replaced};
use super::shim::{Arc, AtomicArc, AtomicBool, KeyHasher, Mutex, MutexGuard, Snapshot};
use crate::GoMap;

/// A concurrent map with Go's `sync.Map` algorithm: lock-free loads, lock-free updates of
/// existing keys, and a mutex only for keys added since the last promotion.
///
/// Like Go's, it is built for two cases (from `sync.Map`'s documentation): a key written
/// once and read many times (caches that only grow), and threads working on disjoint sets
/// of keys. For mixed workloads a [`ShardedMap`](super::ShardedMap) is usually faster.
///
/// Two things it does better than Go's, with the same results: a lookup of an absent key
/// rarely takes the mutex (Go's always does while new keys wait in the dirty map), and no
/// store waits for the O(n) copy of the map that starts each promotion cycle (Go's first
/// new key after a promotion does).
///
/// A key's `Hash`, `Eq` and `Clone`, and the `Drop` of the copies of keys that a promotion
/// leaves behind, may run with the map's mutex held (as in Go, where the dirty map is used
/// under `mu`), in any operation (a `load` too: see below): they must not use the same map.
///
/// A promotion replaces the read-only map; the old one, which holds its own copy of each
/// key, is then taken apart a few entries at a time by the operations that follow, where
/// Go's garbage collector would free it. Lock-free operations lend a hand when the mutex
/// is free, so a map that is only read after its last promotion gets that memory back.
///
/// All methods take `&self`; values are returned by clone (use `V = Arc<T>` for big
/// values). Beyond Go 1.19 it has Go 1.20's `swap`, `compare_and_swap` and
/// `compare_and_delete`, and `len` and `clear`, which Go's lacks (golang/go#20680).
///
/// ```
/// use gomap::sync::SyncMap;
///
/// let map = SyncMap::new();
/// map.store("gopher", 1);
/// assert_eq!(map.load("gopher"), Some(1));
/// assert_eq!(map.load_or_store("gopher", 2), (1, true));
/// assert_eq!(map.swap("gopher", 3), Some(1));
/// assert!(map.compare_and_swap("gopher", &3, 4));
/// assert_eq!(map.load_and_delete("gopher"), Some(4));
/// assert_eq!(map.len(), 0);
/// ```
pub struct SyncMap<K, V> {
    /// Go's `read`: the lock-free map, replaced only with `dirty` locked.
    read: AtomicArc<ReadOnly<K, V>>,
    /// Go's `mu`, `dirty` and `misses`. On cache lines of its own: the locked operations
    /// write them, and the lock-free ones should not have to fetch the fields above again
    /// after each.
    dirty: CachePadded<Mutex<Dirty<K, V>>>,
    /// Hashes keys for the read-only map's [`NewKeys`] filter.
    new_key_hasher: KeyHasher,
    /// Whether a replaced read-only map waits in `dirty` to be taken apart
    /// ([`Dirty::replaced`]). Set by a promotion and cleared, with the
    /// mutex held, by the step that finds nothing left; lock-free operations read it to
    /// know whether to lend a hand ([`SyncMap::lend_a_hand`]). Only a hint: what it
    /// speaks of is read and changed under the mutex, so `Relaxed` is enough, and a stale
    /// value costs one needless `try_lock` or one operation that does not help.
    replaced_waiting: AtomicBool,
}

type EntryMap<K, V> = GoMap<K, Arc<Entry<V>>, KeyHasher>;

/// Go's `readOnly`.
struct ReadOnly<K, V> {
    m: EntryMap<K, V>,
    /// Whether `dirty` holds keys that `m` lacks. Only ever set (with `dirty` locked) on a
    /// published map; a promotion publishes a new map with it clear.
    amended: AtomicBool,
    /// The keys added to `dirty` while this map is `read` (beyond Go: see [`NewKeys`]).
    new_keys: NewKeys,
}

struct Dirty<K, V> {
    /// `None` is Go's `dirty == nil`.
    m: Option<EntryMap<K, V>>,
    misses: usize,
    /// The copy of `read` into `m` in progress, if any (beyond Go: see [`Copying`]).
    copying: Option<Copying<K, V>>,
    /// Read-only maps that promotions and `clear` replaced, on their way out (beyond Go:
    /// see [`ReplacedMaps`]).
    replaced: ReplacedMaps<K, V>,
}

/// Read-only maps replaced by promotions (and `clear`), taken apart a few entries at a
/// time by the locked operations that follow, like the copy. Their entries are shared with
/// the map that replaced them, so letting go of one is one reference count per entry: O(n)
/// (76–126 ms at three million keys), which Go's garbage collector does in the background
/// and which would otherwise fall on one operation. Only a map no snapshot holds any more
/// can be taken apart; one that a lock-free reader or a `range` still holds is kept, so
/// that the reader's let-go is one reference count, not the whole map's, and no reader
/// ever frees a map (see the `retire` module). The steps are taken by the locked
/// operations and by lock-free ones that find the mutex free ([`SyncMap::lend_a_hand`]).
type ReplacedMaps<K, V> = Replaced<ReadOnly<K, V>, K, Arc<Entry<V>>, KeyHasher>;

impl<K, V> IntoTable<K, Arc<Entry<V>>, KeyHasher> for ReadOnly<K, V> {
    fn into_table(self) -> EntryMap<K, V> {
        self.m
    }
}

/// The fewest entries a miss copies, and a locked operation drops of a replaced map (it
/// does whole chains): two, so that the copy is over before the misses can promote `dirty`
/// (see [`Copying`]). One under loom, so that the models' few keys go over several
/// operations.
const STEP: usize = if cfg!(loom) { 1 } else { 2 };

/// Pages of `dirty`'s control words each locked operation makes ready for writes while a
/// copy is in progress ([`Copying::touched`]): 64 page faults, some tens of µs; a `dirty`
/// of three million keys has them all after 34 operations, before the random searches and
/// inserts between them can read many of its 2,176 pages first.
const TOUCH_PAGES: usize = 64;

/// Go's `dirtyLocked` copies the whole read-only map into the new `dirty` at once, under
/// the mutex: the store of the first new key after a promotion waits O(n) (0.4 s for three
/// million keys), and so does every thread that needs the mutex meanwhile. Here the copy is
/// made at least [`STEP`] entries (whole chains) at a time by the misses that follow, as a
/// `GoMap`'s growth is made by its writes. The store that starts it copies nothing, nor do
/// the stores of new keys after it: a miss takes the lock anyway, and a promotion waits for
/// as many misses as `dirty` will hold keys, so the misses alone finish the copy in time
/// (below), and a store of a new key stays one insert. (Stores that copied as well made
/// the `ReadHeavy` mix 20-25% slower and `Exchange` 35-40%: BENCHMARKS.md, eighteenth
/// session.) Work that adds keys and never misses leaves the copy where it is, which
/// nothing needs before a promotion. Entry by entry it is Go's copy: a deleted entry is
/// expunged when the copy reaches it, a live one goes into `dirty`. Until then an entry is
/// neither, which is as it should be: it is in `read`, where every operation looks first,
/// and a store to it works on the entry itself. A promotion (and `range`, which promotes)
/// finishes the copy first. Each miss copies two entries or more, and a promotion takes as
/// many misses as `dirty` has keys, so only deleted entries (visited, not copied) leave
/// work for the promotion.
struct Copying<K, V> {
    /// The read-only map being copied: the published one, which cannot change before the
    /// copy is over (only a promotion or `clear` replaces it).
    from: Arc<ReadOnly<K, V>>,
    /// Where the copy goes on ([`GoMap::copy_chains_into`]).
    next_chain: usize,
    /// The first bucket of `dirty` whose page of control words is not yet made ready
    /// ([`GoMap::touch_control_pages`]). Each copy step and each new key makes
    /// [`TOUCH_PAGES`] more ready, far ahead of the copy: new keys go into `dirty` at
    /// random, and so do the searches of the misses between steps, and a page that a
    /// search reads first costs its later first write a second page fault, which
    /// interrupts every other CPU running the map's threads (to flush the zero page's
    /// mapping from their TLBs), under the mutex. Made ready all at once, as `GoMap`'s
    /// `with_capacity` does, they would cost the store that starts the copy ~2 ms at
    /// three million keys.
    touched: usize,
    /// Whether the last step panicked (in a key's `Clone`, `Hash` or `Eq`) part way.
    interrupted: bool,
}

impl<K: Eq + Hash + Clone, V> Dirty<K, V> {
    /// Moves the copy on by at least `entries` entries, if one is in progress.
    fn copy_some(&mut self, entries: usize) {
        self.touch_some();
        let Some(Copying { from, next_chain, interrupted, .. }) = &mut self.copying else { return };
        let m = self.m.as_mut().expect("a copy goes into a dirty map");
        // Stays set if a key's `Clone`, `Hash` or `Eq` panics in this step: the next one is
        // then careful not to copy twice what this one copied of its last chain.
        let careful = mem::replace(interrupted, true);
        let done = from.m.copy_chains_into(m, next_chain, entries, careful, |k, e| {
            (!e.try_expunge_locked()).then(|| (k.clone(), Arc::clone(e)))
        });
        *interrupted = false;
        if done {
            self.copying = None;
        }
    }

    /// Makes [`TOUCH_PAGES`] more pages of `dirty`'s control words ready for writes, while
    /// a copy is in progress (see [`Copying::touched`]): every locked operation does.
    fn touch_some(&mut self) {
        if let (Some(copying), Some(m)) = (&mut self.copying, &mut self.m) {
            m.touch_control_pages(&mut copying.touched, TOUCH_PAGES);
        }
    }

    /// Completes the copy in progress (before `m` is promoted).
    fn finish_copy(&mut self) {
        self.copy_some(usize::MAX);
    }

    /// Moves the copy and the taking apart of a replaced map on by a step each: the work
    /// every miss does.
    fn step(&mut self) {
        self.copy_some(STEP);
        self.take_apart_some();
    }

    /// Moves the taking apart of a replaced map on by a step; returns whether a replaced
    /// map still waits (being taken apart, or held by readers).
    fn take_apart_some(&mut self) -> bool {
        self.replaced.step(STEP);
        !self.replaced.is_empty()
    }
}

/// Go's `entry`: the value of one key, shared by `read` and `dirty`.
struct Entry<V> {
    p: AtomicArc<Slot<V>>,
}

/// What an entry's pointer points at.
enum Slot<V> {
    Value(V),
    /// Go's `nil`: deleted, and if `dirty` exists, the key is in it.
    Deleted,
    /// Go's `expunged`: deleted, `dirty` exists and lacks the key.
    Expunged,
}

impl<V: Clone> Slot<V> {
    fn value(&self) -> Option<V> {
        match self {
            Slot::Value(v) => Some(v.clone()),
            Slot::Deleted | Slot::Expunged => None,
        }
    }
}

impl<V> Entry<V> {
    fn new(slot: Arc<Slot<V>>) -> Self {
        Entry { p: AtomicArc::new(slot) }
    }

    /// Go's `tryCompareAndSwap` loop shape: while the current slot passes `accept`, tries to
    /// replace it with `new()`; returns `f` of the replaced slot, or `None` once `accept`
    /// refuses the current one.
    fn replace_if<R>(
        &self,
        accept: impl Fn(&Slot<V>) -> bool,
        mut new: impl FnMut() -> Arc<Slot<V>>,
        f: impl FnOnce(&Slot<V>) -> R,
    ) -> Option<R> {
        loop {
            let current = self.p.load();
            if !accept(&current) {
                return None;
            }
            if self.p.compare_and_swap(&current, new()) {
                return Some(f(&current));
            }
        }
    }

    /// Go's `tryStore`/`trySwap`: replaces the value unless the entry is expunged.
    fn try_swap<R>(&self, new: &Arc<Slot<V>>, f: fn(&Slot<V>) -> R) -> Option<R> {
        self.replace_if(|slot| !matches!(slot, Slot::Expunged), || Arc::clone(new), f)
    }

    /// Go's `delete`: `Value -> Deleted`, giving `f` of the old value.
    fn delete_with<R>(&self, f: fn(&V) -> R) -> Option<R> {
        self.replace_if(
            |slot| matches!(slot, Slot::Value(_)),
            || Arc::new(Slot::Deleted),
            |old| match old {
                Slot::Value(v) => f(v),
                Slot::Deleted | Slot::Expunged => unreachable!("replace_if accepted only a value"),
            },
        )
    }

    /// Go's `unexpungeLocked` (mutex held): `Expunged -> Deleted`; true if it was expunged,
    /// in which case the caller must put the entry back into `dirty`.
    fn unexpunge_locked(&self) -> bool {
        self.replace_if(|slot| matches!(slot, Slot::Expunged), || Arc::new(Slot::Deleted), |_| ()).is_some()
    }

    /// Go's `tryExpungeLocked` (mutex held): `Deleted -> Expunged`; true if the entry is
    /// expunged now.
    fn try_expunge_locked(&self) -> bool {
        loop {
            let current = self.p.load();
            match &**current {
                Slot::Value(_) => return false,
                Slot::Expunged => return true,
                Slot::Deleted => {
                    if self.p.compare_and_swap(&current, Arc::new(Slot::Expunged)) {
                        return true;
                    }
                }
            }
        }
    }
}

impl<V: Clone> Entry<V> {
    /// Go's `load`.
    fn load(&self) -> Option<V> {
        self.p.load().value()
    }

    /// Go's `tryLoadOrStore`: the present value (`loaded`), or stores `new` into a deleted
    /// entry; `None` if the entry is expunged.
    fn try_load_or_store(&self, new: &Arc<Slot<V>>) -> Option<(V, bool)> {
        loop {
            let current = self.p.load();
            match &**current {
                Slot::Value(v) => return Some((v.clone(), true)),
                Slot::Expunged => return None,
                Slot::Deleted => {
                    if self.p.compare_and_swap(&current, Arc::clone(new)) {
                        return new.value().map(|v| (v, false));
                    }
                }
            }
        }
    }
}

impl<V: PartialEq> Entry<V> {
    fn holds(slot: &Slot<V>, old: &V) -> bool {
        matches!(slot, Slot::Value(v) if v == old)
    }

    /// Go 1.20's `tryCompareAndSwap`.
    fn try_compare_and_swap(&self, old: &V, new: V) -> bool {
        let mut new = Some(new);
        let mut boxed = None;
        let mut slot = || Arc::clone(boxed.get_or_insert_with(|| Arc::new(Slot::Value(new.take().unwrap()))));
        self.replace_if(|slot| Self::holds(slot, old), &mut slot, |_| ()).is_some()
    }

    /// Go 1.20's `CompareAndDelete` loop.
    fn compare_and_delete(&self, old: &V) -> bool {
        self.replace_if(|slot| Self::holds(slot, old), || Arc::new(Slot::Deleted), |_| ()).is_some()
    }
}

impl<K, V> ReadOnly<K, V> {
    fn new(m: EntryMap<K, V>) -> Self {
        ReadOnly { new_keys: NewKeys::for_map_of(m.len()), m, amended: AtomicBool::new(false) }
    }

    fn amended(&self) -> bool {
        self.amended.load(SeqCst)
    }
}

impl<K, V> SyncMap<K, V> {
    /// An empty map.
    ///
    /// ```
    /// let map: gomap::sync::SyncMap<&str, i32> = gomap::sync::SyncMap::new();
    /// assert!(map.is_empty());
    /// assert_eq!(map.load("gopher"), None);
    /// ```
    pub fn new() -> Self {
        Self::with_read(GoMap::default())
    }

    /// A map whose read-only map is `m`, with no dirty map.
    fn with_read(m: EntryMap<K, V>) -> Self {
        SyncMap {
            read: AtomicArc::new(Arc::new(ReadOnly::new(m))),
            dirty: CachePadded::new(Mutex::new(Dirty { m: None, misses: 0, copying: None, replaced: Replaced::new() })),
            new_key_hasher: KeyHasher::default(),
            replaced_waiting: AtomicBool::new(false),
        }
    }

    /// Whether `key`, absent from `read.m`, may be in `dirty`: Go's `read.amended`, refined
    /// by the filter of keys added since `read` was published.
    fn may_be_new<Q: Hash + ?Sized>(&self, read: &ReadOnly<K, V>, key: &Q) -> bool {
        read.amended() && read.new_keys.may_contain(self.new_key_hasher.hash_one(key))
    }
}

impl<K, V> SyncMap<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// The value of `key` (Go's `Load`). Lock-free when the key is in the read-only map, and
    /// for most absent keys.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// assert_eq!(map.load("gopher"), Some(1));
    /// assert_eq!(map.load("crab"), None);
    /// ```
    pub fn load<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lock_free = self.lock_free(|read| match read.m.get(key) {
            Some(e) => Some(e.load()),
            None => (!self.may_be_new(read, key)).then_some(None),
        });
        if let Some(value) = lock_free {
            return value;
        }
        let dirty = self.dirty.lock();
        // A promotion may have happened while we waited for the lock.
        let read = self.read.load();
        if let Some(e) = read.m.get(key) {
            return e.load();
        }
        if !self.may_be_new(&read, key) {
            return None;
        }
        let value = dirty.m.as_ref().and_then(|m| m.get(key)).and_then(|e| e.load());
        self.miss(read, dirty);
        value
    }

    /// Sets the value of `key` (Go's `Store`). Lock-free when the key is in the read-only map
    /// and not expunged.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// map.store("gopher", 2);
    /// assert_eq!(map.load("gopher"), Some(2));
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn store(&self, key: K, value: V) {
        self.swap_with(key, value, |_| ());
    }

    /// Sets the value of `key` and returns the previous one (Go 1.20's `Swap`).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// assert_eq!(map.swap("gopher", 1), None);
    /// assert_eq!(map.swap("gopher", 2), Some(1));
    /// assert_eq!(map.load("gopher"), Some(2));
    /// ```
    pub fn swap(&self, key: K, value: V) -> Option<V> {
        self.swap_with(key, value, Slot::value).flatten()
    }

    /// Store and Swap: `f` of the previous slot, or `None` for a new key.
    fn swap_with<R>(&self, key: K, value: V, f: fn(&Slot<V>) -> R) -> Option<R> {
        let new = Arc::new(Slot::Value(value));
        if let Some(r) = self.lock_free(|read| read.m.get(&key).and_then(|e| e.try_swap(&new, f))) {
            return Some(r);
        }
        let mut dirty = self.dirty.lock();
        let read = self.read.load();
        if let Some(e) = read.m.get(&key) {
            if e.unexpunge_locked() {
                // Expunged: `dirty` exists and lacks the key.
                dirty.m.as_mut().expect("an expunged entry implies a dirty map").insert(key, Arc::clone(e));
            }
            Some(f(&e.p.swap(new)))
        } else if let Some(e) = dirty.m.as_ref().and_then(|m| m.get(&key)) {
            Some(f(&e.p.swap(new)))
        } else {
            self.add_locked(&mut dirty, &read, key, new);
            None
        }
    }

    /// The lock-free start of an operation: `f`, given a snapshot of `read`, answers
    /// (`Some`) or says that the operation needs the mutex (`None`). After an answer, with
    /// the snapshot let go of, lends a hand with a replaced map ([`SyncMap::lend_a_hand`]).
    #[inline]
    fn lock_free<R>(&self, f: impl FnOnce(&ReadOnly<K, V>) -> Option<R>) -> Option<R> {
        let answer = f(&self.read.load());
        if answer.is_some() {
            self.lend_a_hand();
        }
        answer
    }

    /// A lock-free operation's share of taking apart a replaced read-only map: a step, as
    /// a locked operation takes, if a map waits ([`SyncMap::replaced_waiting`]) and the
    /// mutex is free. Without it, a map that sees only lock-free operations after a
    /// promotion (a cache that is only read, the case `sync.Map` is for) would keep the
    /// replaced map, O(n) memory, for as long as that lasts; Go's garbage collector frees
    /// it in the background. The caller must have let go of its snapshot of `read`: a map
    /// that is still held cannot be taken apart.
    #[inline]
    fn lend_a_hand(&self) {
        if self.replaced_waiting.load(Relaxed) {
            self.take_apart_some();
        }
    }

    #[cold]
    #[inline(never)]
    fn take_apart_some(&self) {
        if let Some(mut dirty) = self.dirty.try_lock() {
            if !dirty.take_apart_some() {
                self.replaced_waiting.store(false, Relaxed);
            }
        }
    }

    /// Go's `missLocked`: counts a miss (and moves the copy and the taking apart of a
    /// replaced map on) and promotes `dirty` once the misses reach its length. Takes the
    /// caller's snapshot of `read` and the mutex, to let go of them in the order this
    /// needs: the snapshot first, so that a map the promotion replaces can be taken apart
    /// in steps ([`ReplacedMaps`]) as soon as nothing else holds it; then the mutex.
    fn miss(&self, read: Snapshot<ReadOnly<K, V>>, mut dirty: MutexGuard<'_, Dirty<K, V>>) {
        drop(read);
        dirty.misses += 1;
        dirty.step();
        if dirty.misses >= dirty.m.as_ref().map_or(0, GoMap::len) {
            debug_assert!(dirty.m.is_some(), "a miss is only counted while `read` is amended");
            self.promote(dirty);
        }
    }

    /// Go's promotion: `dirty`, its copy finished, becomes the published read-only map
    /// (`None` without a dirty map), and the map it replaces goes to be taken apart in
    /// steps ([`ReplacedMaps`]): no map is let go of here, since releasing a whole map is
    /// O(n) and the promoting operation is a `load` or a `range`. Unlocks `dirty`.
    fn promote(&self, mut dirty: MutexGuard<'_, Dirty<K, V>>) -> Option<Arc<ReadOnly<K, V>>> {
        dirty.finish_copy();
        dirty.misses = 0;
        let promoted = Arc::new(ReadOnly::new(dirty.m.take()?));
        let replaced = self.read.swap(Arc::clone(&promoted));
        dirty.replaced.keep(replaced);
        self.replaced_waiting.store(true, Relaxed);
        Some(promoted)
    }

    /// A new key (mutex held): the first one since the last promotion starts copying `read`
    /// into a new `dirty` (Go's `dirtyLocked`, made in steps: see [`Copying`]) and marks
    /// `read` amended.
    fn add_locked(&self, dirty: &mut Dirty<K, V>, read: &ReadOnly<K, V>, key: K, value: Arc<Slot<V>>) {
        if !read.amended() {
            if dirty.m.is_none() {
                dirty.m = Some(read.m.empty_to_copy_into());
                // The mutex is held: the published map is `read`.
                dirty.copying =
                    Some(Copying { from: self.read.load_full(), next_chain: 0, touched: 0, interrupted: false });
            }
            read.amended.store(true, SeqCst);
        }
        // No copy step: the misses make the copy (see `Copying`).
        dirty.take_apart_some();
        dirty.touch_some();
        // Before the key is in `dirty`: see `NewKeys`.
        read.new_keys.insert(self.new_key_hasher.hash_one(&key));
        dirty.m.as_mut().expect("built above").insert(key, Arc::new(Entry::new(value)));
    }

    /// The value of `key` if present, else stores `value` (Go's `LoadOrStore`). Returns the
    /// value now in the map and whether it was already there (`loaded`).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// assert_eq!(map.load_or_store("gopher", 1), (1, false));
    /// assert_eq!(map.load_or_store("gopher", 2), (1, true));
    /// assert_eq!(map.load("gopher"), Some(1));
    /// ```
    pub fn load_or_store(&self, key: K, value: V) -> (V, bool) {
        if let Some(v) = self.lock_free(|read| read.m.get(&key).and_then(|e| e.load())) {
            return (v, true);
        }
        let new = Arc::new(Slot::Value(value));
        if let Some(r) = self.lock_free(|read| read.m.get(&key).and_then(|e| e.try_load_or_store(&new))) {
            return r;
        }
        let mut dirty = self.dirty.lock();
        let read = self.read.load();
        if let Some(e) = read.m.get(&key) {
            if e.unexpunge_locked() {
                dirty.m.as_mut().expect("an expunged entry implies a dirty map").insert(key, Arc::clone(e));
            }
            e.try_load_or_store(&new).expect("not expunged: the mutex is held")
        } else if let Some(e) = dirty.m.as_ref().and_then(|m| m.get(&key)) {
            let result = e.try_load_or_store(&new).expect("entries of `dirty` are never expunged");
            self.miss(read, dirty);
            result
        } else {
            let actual = new.value().expect("a new value");
            self.add_locked(&mut dirty, &read, key, new);
            (actual, false)
        }
    }

    /// Removes `key`, returning its value (Go's `LoadAndDelete`).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// assert_eq!(map.load_and_delete("gopher"), Some(1));
    /// assert_eq!(map.load_and_delete("gopher"), None);
    /// assert_eq!(map.load("gopher"), None);
    /// ```
    pub fn load_and_delete<Q>(&self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.delete_with(key, V::clone)
    }

    /// Removes `key` (Go's `Delete`).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// map.delete("gopher");
    /// assert_eq!(map.load("gopher"), None);
    /// map.delete("gopher"); // a missing key is not an error
    /// assert!(map.is_empty());
    /// ```
    pub fn delete<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.delete_with(key, |_| ());
    }

    fn delete_with<Q, R>(&self, key: &Q, f: fn(&V) -> R) -> Option<R>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lock_free = self.lock_free(|read| match read.m.get(key) {
            Some(e) => Some(e.delete_with(f)),
            None => (!self.may_be_new(read, key)).then_some(None),
        });
        if let Some(deleted) = lock_free {
            return deleted;
        }
        let mut dirty = self.dirty.lock();
        let read = self.read.load();
        if let Some(e) = read.m.get(key) {
            drop(dirty);
            return e.delete_with(f);
        }
        if !self.may_be_new(&read, key) {
            return None;
        }
        // A key only in `dirty` leaves it for good (TestIssue40999), and counts a miss.
        let entry = dirty.m.as_mut().and_then(|m| m.remove(key));
        self.miss(read, dirty);
        entry.and_then(|e| e.delete_with(f))
    }

    /// Calls `f` on each entry until it returns false (Go's `Range`). No lock is held while
    /// `f` runs, so it may call any method of this map. Each key is visited at most once,
    /// with a value it had during the call; keys added meanwhile may or may not be visited.
    /// Like Go's, it first promotes `dirty` (O(n) even if `f` stops early).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// for i in 1..=4 {
    ///     map.store(i, i * 10);
    /// }
    /// let mut sum = 0;
    /// map.range(|_, v| {
    ///     sum += v;
    ///     true
    /// });
    /// assert_eq!(sum, 100);
    /// ```
    pub fn range(&self, mut f: impl FnMut(&K, &V) -> bool) {
        let read = self.promoted();
        for (k, e) in &read.m {
            if let Slot::Value(v) = &**e.p.load() {
                if !f(k, v) {
                    break;
                }
            }
        }
    }

    /// The read-only map with every key, promoting `dirty` if it has more (Range's start).
    fn promoted(&self) -> Arc<ReadOnly<K, V>> {
        {
            let read = self.read.load_full();
            if !read.amended() {
                return read;
            }
        } // Let go of: the map it replaces is taken apart in steps only if no one holds it.
        let dirty = self.dirty.lock();
        let read = self.read.load_full();
        if !read.amended() {
            return read;
        }
        drop(read);
        self.promote(dirty).expect("amended implies a dirty map")
    }

    /// The number of entries. O(n): it counts the live entries of the read-only map after
    /// promoting `dirty`, as [`range`](SyncMap::range) does; concurrent writes may or may not
    /// be counted.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("a", 1);
    /// map.store("b", 2);
    /// map.store("a", 3);
    /// assert_eq!(map.len(), 2);
    /// map.delete("a");
    /// assert_eq!(map.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.promoted().m.values().filter(|e| matches!(**e.p.load(), Slot::Value(_))).count()
    }

    /// Whether the map has no entries (O(n), like [`len`](SyncMap::len)).
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// assert!(map.is_empty());
    /// map.store("gopher", 1);
    /// assert!(!map.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry (Go 1.23's `Clear`). Operations that overlap it may take effect
    /// before or after it. The caller frees the maps it empties, O(n), except one that a
    /// concurrent reader still holds: that one is taken apart in steps once the reader is
    /// done, as after a promotion.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("a", 1);
    /// map.store("b", 2);
    /// map.clear();
    /// assert!(map.is_empty());
    /// assert_eq!(map.load("a"), None);
    /// ```
    pub fn clear(&self) {
        {
            let read = self.read.load();
            if read.m.is_empty() && !read.amended() {
                return;
            }
        }
        let mut dirty = self.dirty.lock();
        let old_read = self.read.swap(Arc::new(ReadOnly::new(GoMap::default())));
        // The copy's reference to `old_read` goes first (one count: ours is still there).
        drop(dirty.copying.take());
        // What a reader still holds stays, so that no reader frees it.
        dirty.replaced.hold(old_read);
        let to_free = (dirty.m.take(), dirty.replaced.take_unheld());
        dirty.misses = 0;
        self.replaced_waiting.store(!dirty.replaced.is_empty(), Relaxed);
        drop(dirty);
        // Released outside the lock: O(n).
        drop(to_free);
    }
}

impl<K, V> SyncMap<K, V>
where
    K: Eq + Hash + Clone,
    V: Clone + PartialEq,
{
    /// Replaces the value of `key` with `new` if it is `old` (Go 1.20's `CompareAndSwap`).
    /// False for a missing key.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// assert!(!map.compare_and_swap("gopher", &2, 3)); // the value is not 2
    /// assert!(map.compare_and_swap("gopher", &1, 3));
    /// assert_eq!(map.load("gopher"), Some(3));
    /// assert!(!map.compare_and_swap("crab", &1, 3));
    /// ```
    pub fn compare_and_swap<Q>(&self, key: &Q, old: &V, new: V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut new = Some(new);
        let lock_free = self.lock_free(|read| match read.m.get(key) {
            Some(e) => Some(e.try_compare_and_swap(old, new.take().expect("not taken yet"))),
            None => (!self.may_be_new(read, key)).then_some(false),
        });
        if let Some(swapped) = lock_free {
            return swapped;
        }
        let new = new.expect("the lock-free start did not take it");
        let dirty = self.dirty.lock();
        let read = self.read.load();
        if let Some(e) = read.m.get(key) {
            e.try_compare_and_swap(old, new)
        } else if let Some(e) = dirty.m.as_ref().and_then(|m| m.get(key)).cloned() {
            let swapped = e.try_compare_and_swap(old, new);
            self.miss(read, dirty);
            swapped
        } else {
            false
        }
    }

    /// Deletes `key` if its value is `old` (Go 1.20's `CompareAndDelete`). False for a
    /// missing key.
    ///
    /// ```
    /// let map = gomap::sync::SyncMap::new();
    /// map.store("gopher", 1);
    /// assert!(!map.compare_and_delete("gopher", &2)); // the value is not 2
    /// assert_eq!(map.load("gopher"), Some(1));
    /// assert!(map.compare_and_delete("gopher", &1));
    /// assert_eq!(map.load("gopher"), None);
    /// ```
    pub fn compare_and_delete<Q>(&self, key: &Q, old: &V) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let lock_free = self.lock_free(|read| match read.m.get(key) {
            Some(e) => Some(e.compare_and_delete(old)),
            None => (!self.may_be_new(read, key)).then_some(false),
        });
        if let Some(deleted) = lock_free {
            return deleted;
        }
        let entry = {
            let dirty = self.dirty.lock();
            let read = self.read.load();
            match read.m.get(key) {
                Some(e) => Some(Arc::clone(e)),
                None if !self.may_be_new(&read, key) => None,
                None => {
                    // The key stays in `dirty`: it is expunged at a later promotion.
                    let e = dirty.m.as_ref().and_then(|m| m.get(key)).cloned();
                    self.miss(read, dirty);
                    e
                }
            }
        };
        entry.is_some_and(|e| e.compare_and_delete(old))
    }
}

impl<K, V> Default for SyncMap<K, V> {
    fn default() -> Self {
        SyncMap::new()
    }
}

/// A map whose entries are all in the read-only map from the start, as if they had been
/// stored and promoted: loads of them never take the mutex. A key that comes twice keeps
/// its last value, as with repeated [`store`](SyncMap::store)s.
///
/// ```
/// use gomap::sync::SyncMap;
///
/// let map: SyncMap<u32, u32> = (0..100).map(|i| (i % 10, i)).collect();
/// assert_eq!(map.len(), 10);
/// assert_eq!(map.load(&3), Some(93));
/// ```
impl<K: Eq + Hash, V> FromIterator<(K, V)> for SyncMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut m = GoMap::with_capacity_and_hasher(iter.size_hint().0, KeyHasher::default());
        for (key, value) in iter {
            m.insert(key, Arc::new(Entry::new(Arc::new(Slot::Value(value)))));
        }
        SyncMap::with_read(m)
    }
}

/// Stores every pair, as [`store`](SyncMap::store) does.
impl<K: Eq + Hash + Clone, V: Clone> Extend<(K, V)> for SyncMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        (&*self).extend(iter);
    }
}

/// Stores every pair through a shared reference, so that several threads can extend one
/// map at once.
///
/// ```
/// let map = gomap::sync::SyncMap::new();
/// std::thread::scope(|s| {
///     for t in 0..2u64 {
///         let mut map = &map;
///         s.spawn(move || map.extend((0..100).map(|i| (t * 100 + i, i))));
///     }
/// });
/// assert_eq!(map.len(), 200);
/// ```
impl<K: Eq + Hash + Clone, V: Clone> Extend<(K, V)> for &SyncMap<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (key, value) in iter {
            self.store(key, value);
        }
    }
}

impl<K, V> fmt::Debug for SyncMap<K, V>
where
    K: fmt::Debug + Eq + Hash + Clone,
    V: fmt::Debug + Clone,
{
    /// The entries, collected with [`range`](SyncMap::range).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        self.range(|k, v| {
            map.entry(k, v);
            true
        });
        map.finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::SyncMap;
    use core::hash::{Hash, Hasher};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    /// A key that counts its drops in its counter if it is one of the first hundred: the
    /// keys a test stores first, not the ones it adds or looks up with.
    #[derive(Clone)]
    struct Probe(u32, &'static AtomicUsize);

    impl PartialEq for Probe {
        fn eq(&self, other: &Self) -> bool {
            self.0 == other.0
        }
    }
    impl Eq for Probe {}
    impl Hash for Probe {
        fn hash<H: Hasher>(&self, state: &mut H) {
            self.0.hash(state);
        }
    }
    impl Drop for Probe {
        fn drop(&mut self) {
            if self.0 < 100 {
                self.1.fetch_add(1, Relaxed);
            }
        }
    }

    /// `Probe`s 0 to 99, promoted into `read`, and then `Probe(1000)`, which starts a new
    /// `dirty` with copies of them.
    fn promoted_probes(dropped: &'static AtomicUsize) -> SyncMap<Probe, u32> {
        let map = SyncMap::new();
        for i in 0..100 {
            map.store(Probe(i, dropped), i);
        }
        map.range(|_, _| true);
        map.store(Probe(1000, dropped), 0);
        map
    }

    /// Loads of absent keys while `dirty` holds a new key: Go locks and counts a miss for
    /// each (and promotes after `len(dirty)` of them); here the filter turns them away.
    #[test]
    fn absent_keys_do_not_take_the_locked_path() {
        let map = SyncMap::new();
        for i in 0..100 {
            map.store(i, i);
        }
        map.range(|_, _| true); // promote: all 100 in `read`
        map.store(1000, 1000); // amended: `dirty` holds a key `read` lacks
        let absent = 2000..if cfg!(miri) { 2200 } else { 4000 };
        assert!(absent.clone().all(|k| map.load(&k).is_none() && map.load_and_delete(&k).is_none()));
        let misses = map.dirty.lock().misses;
        // 8 filter words, one key: each absent key passes with probability about 1/4096.
        assert!(misses <= 8, "{misses} absent keys took the locked path");
        assert!(map.read.load().amended(), "absent keys promoted `dirty`");
        // The new key is found, through the lock, as in Go.
        assert_eq!(map.load(&1000), Some(1000));
        assert_eq!(map.dirty.lock().misses, misses + 1);
    }

    /// The first new key after a promotion starts the copy of the read-only map without
    /// copying anything, the next new keys copy nothing either, and each miss copies a step.
    #[test]
    fn dirty_is_rebuilt_in_steps_by_the_misses() {
        let map = SyncMap::new();
        let n: i64 = if cfg!(miri) { 200 } else { 10_000 };
        for i in 0..n {
            map.store(i, i);
        }
        map.range(|_, _| true); // promote
        let dirty_len = || map.dirty.lock().m.as_ref().map_or(0, crate::GoMap::len);
        for new in 1..=3_i64 {
            map.store(-new, -new);
            assert!(map.dirty.lock().copying.is_some(), "no copy in progress");
            assert_eq!(dirty_len(), new as usize, "a store copied entries");
        }
        let mut before = dirty_len();
        for _ in 0..3 {
            assert_eq!(map.load(&-1), Some(-1)); // in `dirty` only: a miss
            let copied = dirty_len() - before;
            // A step, rounded up to whole chains.
            assert!((super::STEP..200).contains(&copied), "a miss copied {copied} entries");
            before = dirty_len();
        }
        assert!(map.dirty.lock().copying.is_some(), "the copy finished early");
        assert_eq!(map.len(), n as usize + 3); // promotes: finishes the copy
        assert!(map.dirty.lock().copying.is_none());
    }

    /// A promotion takes the replaced read-only map (which owns its own copy of every key)
    /// apart a few entries at a time, over the locked operations that follow.
    #[test]
    fn the_replaced_map_is_taken_apart_in_steps() {
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let map = promoted_probes(&DROPPED);
        let before = DROPPED.load(Relaxed);
        // Misses on the new key promote `dirty` and replace `read`.
        while map.dirty.lock().replaced.retiring.is_none() {
            assert_eq!(map.load(&Probe(1000, &DROPPED)), Some(0));
        }
        assert!(DROPPED.load(Relaxed) - before < 50, "the replaced map went at once");
        // Each new key moves the taking apart on.
        let mut stores = 0;
        while map.dirty.lock().replaced.retiring.is_some() {
            map.store(Probe(2000 + stores, &DROPPED), 0);
            stores += 1;
            assert!(stores < 200, "the replaced map is still there");
        }
        assert!(stores > 5, "the replaced map went in {stores} steps");
        assert_eq!(DROPPED.load(Relaxed) - before, 100, "the replaced map's keys");
        // A promotion by `range` leaves the map it replaces to the steps too.
        map.range(|_, _| true);
        let dirty = map.dirty.lock();
        assert!(dirty.replaced.held.is_empty(), "range held on to the map it replaced");
        assert!(dirty.replaced.retiring.as_ref().is_some_and(|r| r.m.len() > 100));
    }

    /// Two promotions, each while a reader holds the map it replaces: both maps wait
    /// (nothing is displaced and let go of by a promotion), neither reader's let-go frees
    /// one, and the steps that follow take both apart.
    #[test]
    fn promotions_while_readers_hold_maps_let_go_of_none() {
        use super::Arc;
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let dropped = || DROPPED.load(Relaxed);
        let map = promoted_probes(&DROPPED);
        let first = map.read.load_full(); // a reader, mid-lookup across the promotion
        while Arc::ptr_eq(&first, &map.read.load_full()) {
            assert_eq!(map.load(&Probe(1000, &DROPPED)), Some(0)); // misses promote
        }
        let (new_key, present) = (Probe(2000, &DROPPED), Probe(5, &DROPPED));
        map.store(Probe(2000, &DROPPED), 0); // a new `dirty`
        let second = map.read.load_full();
        while Arc::ptr_eq(&second, &map.read.load_full()) {
            let before = dropped();
            assert_eq!(map.load(&new_key), Some(0));
            assert!(dropped() - before < 50, "a promotion let go of a map");
        }
        assert_eq!(map.dirty.lock().replaced.held.len(), 2, "a held map was displaced");
        let before = dropped();
        drop((first, second));
        assert_eq!(dropped(), before, "a reader's let-go freed a map");
        // Lock-free loads take both apart in steps: each map's own copies of the counted
        // probes 0 to 99.
        let mut loads = 0;
        while map.replaced_waiting.load(Relaxed) {
            let step = dropped();
            assert_eq!(map.load(&present), Some(5));
            assert!(dropped() - step < 50, "one load let go of most of a map");
            loads += 1;
            assert!(loads < 1000, "the replaced maps are still there");
        }
        assert_eq!(dropped() - before, 2 * 100);
        let dirty = map.dirty.lock();
        assert!(dirty.replaced.is_empty());
    }

    /// A promotion while an earlier replaced map is still being taken apart (two `range`s,
    /// which promote without waiting for misses): the new one waits its turn instead of
    /// displacing the earlier one, which would be let go of at once.
    #[test]
    fn a_promotion_does_not_cut_short_a_taking_apart() {
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let map = promoted_probes(&DROPPED);
        map.range(|_, _| true); // promotes: the first hundred probes' map goes to the steps
        assert!(map.dirty.lock().replaced.retiring.is_some());
        map.store(Probe(2000, &DROPPED), 0); // a step, and a new `dirty`
        let before = DROPPED.load(Relaxed);
        map.range(|_, _| true); // promotes again
        assert!(DROPPED.load(Relaxed) - before < 50, "a promotion let go of a map at once");
        let dirty = map.dirty.lock();
        assert!(dirty.replaced.retiring.is_some() && dirty.replaced.held.len() == 1);
    }

    /// `clear` while a reader holds the read-only map: the map is kept, the reader's let-go
    /// frees nothing, and the operations that follow take it apart.
    #[test]
    fn clear_keeps_a_map_a_reader_holds() {
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let map = promoted_probes(&DROPPED);
        let reader = map.read.load_full();
        map.clear();
        assert_eq!(map.dirty.lock().replaced.held.len(), 1);
        let before = DROPPED.load(Relaxed);
        drop(reader);
        assert_eq!(DROPPED.load(Relaxed), before, "the reader's let-go freed the map");
        let (absent, mut loads) = (Probe(3000, &DROPPED), 0);
        while map.replaced_waiting.load(Relaxed) {
            assert_eq!(map.load(&absent), None);
            loads += 1;
            assert!(loads < 1000, "the cleared map is still there");
        }
        assert_eq!(DROPPED.load(Relaxed) - before, 100, "the read-only map's own probes");
        assert!(loads > 4, "taken apart in {loads} loads");
    }

    /// A replaced read-only map that a reader still holds is kept, not let go of by the
    /// reader, and taken apart in steps once the reader is done.
    #[test]
    fn a_replaced_map_a_reader_holds_is_taken_apart_after_it() {
        use super::Arc;
        let map = SyncMap::new();
        for i in 0..100 {
            map.store(i, i);
        }
        map.range(|_, _| true); // promote: the 100 keys in `read`
        map.store(1000, 0); // a new `dirty`, with the keys' entries
        let reader = map.read.load_full(); // what a lock-free reader holds mid-lookup
        while Arc::ptr_eq(&reader, &map.read.load_full()) {
            assert_eq!(map.load(&1000), Some(0)); // misses promote `dirty`
        }
        assert!(map.dirty.lock().replaced.retiring.is_none(), "a map in use was taken apart");
        assert!(matches!(&map.dirty.lock().replaced.held[..], [held] if Arc::ptr_eq(held, &reader)));
        assert_eq!(reader.m.len(), 100, "the reader's map changed under it");
        drop(reader);
        assert_eq!(Arc::strong_count(map.dirty.lock().replaced.held.first().expect("kept")), 1);
        // The reader's let-go left the map to the locked operations, which take it apart.
        map.store(2000, 0);
        {
            let dirty = map.dirty.lock();
            assert!(dirty.replaced.held.is_empty() && dirty.replaced.retiring.is_some());
        }
        let mut stores = 0;
        while map.dirty.lock().replaced.retiring.is_some() {
            stores += 1;
            map.store(2000 + stores, 0);
            assert!(stores < 200, "the replaced map is still there");
        }
        assert!(stores > 5, "the replaced map went in {stores} steps");
        assert_eq!(map.len(), 102 + stores);
    }

    /// After a promotion, lock-free operations alone take the replaced map apart in steps,
    /// also one that a reader held at the promotion, and then stop asking for the mutex.
    #[test]
    fn lock_free_operations_take_a_replaced_map_apart() {
        use super::Arc;
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        let map = promoted_probes(&DROPPED);
        let probe = Probe(1000, &DROPPED);
        let reader = map.read.load_full(); // held across the promotion
        while Arc::ptr_eq(&reader, &map.read.load_full()) {
            assert_eq!(map.load(&probe), Some(0)); // misses promote `dirty`
        }
        assert!(map.replaced_waiting.load(Relaxed));
        let before = DROPPED.load(Relaxed);
        // Lock-free operations from here on (every key is in `read`): while the reader
        // holds the map, they cannot take it apart.
        for _ in 0..10 {
            assert_eq!(map.load(&probe), Some(0));
            map.store(probe.clone(), 0);
        }
        assert!(!map.dirty.lock().replaced.held.is_empty(), "a map in use was taken apart");
        assert_eq!(DROPPED.load(Relaxed), before);
        drop(reader);
        let mut loads = 0;
        while map.replaced_waiting.load(Relaxed) {
            assert_eq!(map.load(&probe), Some(0));
            loads += 1;
            assert!(loads < 200, "the replaced map is still there");
        }
        assert!(loads > 5, "the replaced map went in {loads} steps");
        assert_eq!(DROPPED.load(Relaxed) - before, 100, "the replaced map's keys");
        let dirty = map.dirty.lock();
        assert!(dirty.replaced.is_empty());
        assert!(dirty.m.is_none(), "lock-free operations added a key");
    }

    /// Keys whose `Clone` panics in the middle of copy steps: the copy goes on afterwards,
    /// and no key is copied twice or lost.
    #[test]
    fn a_clone_that_panics_in_a_copy_step_loses_and_doubles_nothing() {
        use std::cell::Cell;
        use std::collections::HashMap;
        use std::panic::{catch_unwind, AssertUnwindSafe};

        thread_local! {
            /// Clones left before one panics.
            static CLONES_LEFT: Cell<usize> = const { Cell::new(usize::MAX) };
        }
        #[derive(PartialEq, Eq, Hash, Debug)]
        struct Key(u32);
        impl Clone for Key {
            fn clone(&self) -> Self {
                let left = CLONES_LEFT.with(|left| left.replace(left.get().wrapping_sub(1)));
                assert_ne!(left, 0, "clone refused");
                Key(self.0)
            }
        }

        let map = SyncMap::new();
        let n = if cfg!(miri) { 100 } else { 2000 };
        for i in 0..n {
            map.store(Key(i), i);
        }
        map.range(|_, _| true); // promote: every key in `read`
        let mut expected: HashMap<u32, u32> = (0..n).map(|i| (i, i)).collect();
        let mut panics = 0;
        for i in n..2 * n {
            map.store(Key(i), i); // starts the copy, or adds to it; copies nothing
            expected.insert(i, i);
            // A miss copies a step: every third one gets one clone, then one that panics.
            CLONES_LEFT.with(|left| left.set(if i % 3 == 1 { 1 } else { usize::MAX }));
            match catch_unwind(AssertUnwindSafe(|| map.load(&Key(i)))) {
                Ok(found) => assert_eq!(found, Some(i)),
                Err(_) => panics += 1,
            }
            CLONES_LEFT.with(|left| left.set(usize::MAX));
            if i % 5 == 0 {
                map.dirty.lock().m.as_ref().inspect(|m| m.check_invariants());
            }
        }
        assert!(panics > 2, "only {panics} copy steps panicked");
        let mut seen = HashMap::new();
        map.range(|k, &v| {
            assert!(seen.insert(k.0, v).is_none(), "key {} twice", k.0);
            true
        });
        assert_eq!(seen, expected);
    }

    /// Every operation, on a map that is often in the middle of a copy, against a
    /// `HashMap` under the same operations (one thread).
    #[test]
    fn copies_in_steps_lose_and_revive_nothing() {
        use std::collections::HashMap;
        let map = SyncMap::new();
        let mut model = HashMap::new();
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut random = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let (steps, keys) = if cfg!(miri) { (600, 200) } else { (200_000, 4_000) };
        let mut mid_copy = 0;
        for step in 0..steps {
            let (k, v) = (random(keys), random(1000));
            match random(9) {
                0 => assert_eq!(map.load(&k), model.get(&k).copied(), "step {step}: load {k}"),
                1 => {
                    map.store(k, v);
                    model.insert(k, v);
                }
                2 => assert_eq!(map.swap(k, v), model.insert(k, v), "step {step}: swap {k}"),
                3 => assert_eq!(map.load_and_delete(&k), model.remove(&k), "step {step}: delete {k}"),
                4 => {
                    let expected = model.get(&k).map_or((v, false), |&old| (old, true));
                    model.entry(k).or_insert(v);
                    assert_eq!(map.load_or_store(k, v), expected, "step {step}: load_or_store {k}");
                }
                5 => {
                    let old = random(1000);
                    let expected = model.get(&k) == Some(&old);
                    assert_eq!(map.compare_and_swap(&k, &old, v), expected, "step {step}: cas {k}");
                    if expected {
                        model.insert(k, v);
                    }
                }
                6 => {
                    let old = random(1000);
                    let expected = model.get(&k) == Some(&old);
                    assert_eq!(map.compare_and_delete(&k, &old), expected, "step {step}: cad {k}");
                    if expected {
                        model.remove(&k);
                    }
                }
                7 if random(500) == 0 => assert_eq!(map.len(), model.len(), "step {step}: len"),
                _ => assert_eq!(map.load(&(k + keys)), None),
            }
            let dirty = map.dirty.lock();
            mid_copy += usize::from(dirty.copying.is_some());
            if step % 500 == 0 {
                // Entries copied chain to chain and keys added meanwhile, side by side.
                dirty.m.as_ref().inspect(|m| m.check_invariants());
            }
        }
        let mut seen = HashMap::new();
        map.range(|&k, &v| seen.insert(k, v).is_none());
        assert_eq!(seen, model);
        assert!(mid_copy > steps / 100, "the map was mid-copy after only {mid_copy} operations");
    }
}

/// loom models of the protocol: promotion, expunging and reviving, and the races of the
/// lock-free paths with the locked ones. Run with
/// `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p gomap --release --lib sync::`.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::super::shim::Arc;
    use super::SyncMap;
    use loom::thread;

    /// A map whose key 1 is a deleted entry of the read-only map.
    fn with_deleted_promoted_key() -> Arc<SyncMap<u32, u32>> {
        let map = Arc::new(SyncMap::new());
        map.store(1, 10);
        map.range(|_, _| true); // promote
        map.delete(&1);
        map
    }

    /// A store to a deleted key races with the first new key, which expunges it while
    /// building `dirty`: whichever wins, the key is back, and survives the next promotion.
    #[test]
    fn store_races_expunge() {
        loom::model(|| {
            let map = with_deleted_promoted_key();
            let other = Arc::clone(&map);
            let t = thread::spawn(move || other.store(2, 20));
            map.store(1, 11);
            t.join().unwrap();
            assert_eq!(map.load(&1), Some(11));
            assert_eq!(map.load(&2), Some(20));
            assert_eq!(map.len(), 2); // promotes
            assert_eq!(map.load(&1), Some(11));
        });
    }

    /// load_or_store of a deleted key against the expunge.
    #[test]
    fn load_or_store_races_expunge() {
        loom::model(|| {
            let map = with_deleted_promoted_key();
            let other = Arc::clone(&map);
            let t = thread::spawn(move || other.store(2, 20));
            assert_eq!(map.load_or_store(1, 12), (12, false));
            t.join().unwrap();
            assert_eq!(map.len(), 2);
            assert_eq!(map.load(&1), Some(12));
        });
    }

    /// A delete and a store of a promoted key: the outcome is one of the two orders.
    #[test]
    fn delete_races_store() {
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            map.store(1, 10);
            map.range(|_, _| true);
            let other = Arc::clone(&map);
            let t = thread::spawn(move || other.load_and_delete(&1));
            map.store(1, 11);
            match t.join().unwrap() {
                Some(10) => assert_eq!(map.load(&1), Some(11)), // delete, then store
                Some(11) => assert_eq!(map.load(&1), None),     // store, then delete
                other => panic!("load_and_delete returned {other:?}"),
            }
        });
    }

    /// Loads of a key only in `dirty` count misses and promote it while another thread adds
    /// a key: no key is lost, and the loads always find the value.
    #[test]
    fn misses_promote_during_store() {
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            map.store(1, 1); // only in `dirty`
            let other = Arc::clone(&map);
            let t = thread::spawn(move || {
                assert_eq!(other.load(&1), Some(1));
                assert_eq!(other.load(&1), Some(1));
            });
            map.store(2, 2);
            t.join().unwrap();
            assert_eq!(map.load(&1), Some(1));
            assert_eq!(map.load(&2), Some(2));
            assert_eq!(map.len(), 2);
        });
    }

    /// A map with key 1 in `read` and key 2 only in `dirty`; then, while another thread
    /// makes `loads` lock-free loads of key 1, two misses on key 2 promote `dirty`, and the
    /// other thread may hold the replaced map at that moment.
    fn promoted_during_loads(loads: usize) -> Arc<SyncMap<u32, u32>> {
        let map = Arc::new(SyncMap::new());
        map.store(1, 1);
        map.range(|_, _| true); // promote key 1
        map.store(2, 2); // only in `dirty`
        let other = Arc::clone(&map);
        let t = thread::spawn(move || (0..loads).for_each(|_| assert_eq!(other.load(&1), Some(1))));
        assert_eq!(map.load(&2), Some(2));
        assert_eq!(map.load(&2), Some(2)); // two misses: promotes
        t.join().unwrap();
        map
    }

    /// A lock-free reader may hold the read-only map that a promotion replaces: the map is
    /// then kept until the reader lets go, and taken apart by later operations. Whoever
    /// goes first, nothing is lost and every `Arc` is released (loom checks).
    #[test]
    fn a_reader_holds_the_map_a_promotion_replaces() {
        loom::model(|| {
            let map = promoted_during_loads(1);
            let mut next = 3;
            while !map.dirty.lock().replaced.is_empty() {
                map.store(next, next);
                next += 1;
                assert!(next < 10, "the replaced map was never taken apart");
            }
            assert_eq!((map.load(&1), map.load(&2)), (Some(1), Some(2)));
            assert_eq!(map.len(), next as usize - 1);
        });
    }

    /// After a promotion only lock-free loads follow, in two threads (one may hold the
    /// replaced map at the promotion, and both may try the mutex at once): they take the
    /// replaced map apart, and the hint that asks them to is cleared only once it is gone.
    #[test]
    fn lock_free_loads_take_a_replaced_map_apart() {
        use core::sync::atomic::Ordering::Relaxed;
        loom::model(|| {
            let map = promoted_during_loads(2);
            let mut loads = 0;
            while map.replaced_waiting.load(Relaxed) {
                assert_eq!(map.load(&2), Some(2));
                loads += 1;
                assert!(loads < 4, "the replaced map was never taken apart");
            }
            let dirty = map.dirty.lock();
            assert!(dirty.replaced.is_empty(), "a replaced map was left");
        });
    }

    /// A new key goes into `dirty` while another thread loads it. A load ordered after the
    /// store (by the flag) must find it: the filter of new keys may not turn it away.
    #[test]
    fn new_key_is_seen_by_a_load_after_it() {
        use loom::sync::atomic::{AtomicBool, Ordering};
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            map.store(1, 1);
            map.range(|_, _| true); // promote key 1
            map.store(3, 3); // amended: the filter is in use
            let stored = Arc::new(AtomicBool::new(false));
            let (other, flag) = (Arc::clone(&map), Arc::clone(&stored));
            let t = thread::spawn(move || {
                other.store(2, 2);
                flag.store(true, Ordering::Release);
            });
            let after = stored.load(Ordering::Acquire);
            let seen = map.load(&2);
            if after {
                assert_eq!(seen, Some(2), "a load after the store missed the new key");
            } else {
                assert!(matches!(seen, None | Some(2)), "{seen:?}");
            }
            t.join().unwrap();
            assert_eq!(map.load(&2), Some(2));
        });
    }

    /// Writes to promoted keys while a copy into `dirty` is half made (12 keys: two chains,
    /// one copied per step, by a miss): the deleted key stays deleted, the stored one keeps
    /// its value, the new key is there after the next promotion.
    #[test]
    fn writes_race_a_copy_in_steps() {
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            for k in 0..12 {
                map.store(k, k);
            }
            map.range(|_, _| true); // promote: two chains in `read`
            let other = Arc::clone(&map);
            let t = thread::spawn(move || {
                other.store(100, 100); // starts the copy
                assert_eq!(other.load(&100), Some(100)); // a miss: copies one chain
                assert!(other.dirty.lock().copying.is_some(), "copied in one step");
            });
            map.delete(&1);
            map.store(2, 20);
            t.join().unwrap();
            assert_eq!(map.len(), 12); // promotes
            assert_eq!(map.load(&1), None);
            assert_eq!(map.load(&2), Some(20));
            assert_eq!(map.load(&100), Some(100));
        });
    }

    /// Two load_or_stores of one new key: exactly one stores, both see its value.
    #[test]
    fn load_or_store_race() {
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            let other = Arc::clone(&map);
            let t = thread::spawn(move || other.load_or_store(1, 1));
            let mine = map.load_or_store(1, 2);
            let theirs = t.join().unwrap();
            assert_eq!(mine.0, theirs.0, "the two calls saw different values");
            assert!(mine.1 != theirs.1, "both or neither stored: {mine:?} {theirs:?}");
            assert_eq!(map.load(&1), Some(mine.0));
        });
    }

    /// Two compare-and-swaps from the same old value: exactly one wins.
    #[test]
    fn compare_and_swap_race() {
        loom::model(|| {
            let map = Arc::new(SyncMap::new());
            map.store(1, 0);
            let other = Arc::clone(&map);
            let t = thread::spawn(move || other.compare_and_swap(&1, &0, 1));
            let mine = map.compare_and_swap(&1, &0, 2);
            let theirs = t.join().unwrap();
            assert!(mine != theirs, "both or neither swapped");
            assert_eq!(map.load(&1), Some(if mine { 2 } else { 1 }));
        });
    }
}

//! Panic safety: keys and values whose `Hash`, `Eq`, `Clone` or `Drop` panic
//! on demand, and panicking closures. After every caught panic the map must
//! pass `check_invariants()`, `len()` must match what iteration yields, every
//! entry still in the map must be alive (never dropped), and no key or value
//! may be dropped twice.
//!
//! The panics are armed through thread-locals, so the tests can run in
//! parallel. Panics are one-shot: the trigger disarms itself before panicking,
//! so `check_invariants` (which re-hashes keys) runs with panics disabled.

use gomap::{Entry, GoMap};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Mutex;

mod common;

use common::{DropLog, MIRI};

thread_local! {
    /// Countdown: the hash call that finds 0 panics.
    static HASH_AT: Cell<Option<usize>> = const { Cell::new(None) };
    /// Panic when hashing a key other than this one, after skipping that many
    /// such hashes (so the panic can hit the middle of an old chain).
    static HASH_UNLESS: Cell<Option<(u64, usize)>> = const { Cell::new(None) };
    static EQ_AT: Cell<Option<usize>> = const { Cell::new(None) };
    static CLONE_AT: Cell<Option<usize>> = const { Cell::new(None) };
    static DROP_AT: Cell<Option<usize>> = const { Cell::new(None) };
    /// Panic when dropping the instance with this id.
    static DROP_ID: Cell<Option<usize>> = const { Cell::new(None) };
}

type Trigger = &'static std::thread::LocalKey<Cell<Option<usize>>>;

/// Decrements an armed countdown; true (and disarmed) when it hits zero.
fn trip(t: Trigger) -> bool {
    t.with(|c| match c.get() {
        Some(0) => {
            c.set(None);
            true
        }
        Some(n) => {
            c.set(Some(n - 1));
            false
        }
        None => false,
    })
}

fn arm(t: Trigger, n: usize) {
    t.with(|c| c.set(Some(n)));
}

fn armed(t: Trigger) -> bool {
    t.with(|c| c.get().is_some())
}

fn disarm_all() {
    for t in [&HASH_AT, &EQ_AT, &CLONE_AT, &DROP_AT, &DROP_ID] {
        t.with(|c| c.set(None));
    }
    HASH_UNLESS.with(|c| c.set(None));
}

type Tracker = DropLog;

impl DropLog {
    /// Trackers live for the whole test run and stay reachable from a static:
    /// after a panicking destructor a map may leak entries (as std does), and
    /// those entries point at their tracker. Keeping the tracker reachable
    /// means Miri's leak check still reports any memory the *map* leaks.
    fn new() -> &'static DropLog {
        static ALL: Mutex<Vec<&'static DropLog>> = Mutex::new(Vec::new());
        let t: &'static DropLog = Box::leak(Box::default());
        ALL.lock().unwrap().push(t);
        t
    }
}

fn drop_hook(t: &Tracker, id: usize) {
    t.dropped(id);
    let by_id = DROP_ID.with(|c| {
        if c.get() == Some(id) {
            c.set(None);
            true
        } else {
            false
        }
    });
    // Never panic while already unwinding (that would abort).
    if (trip(&DROP_AT) || by_id) && !std::thread::panicking() {
        panic!("Drop panicked (instance {id})");
    }
}

struct PKey {
    key: u64,
    id: usize,
    t: &'static Tracker,
}

impl PKey {
    fn new(t: &'static Tracker, key: u64) -> PKey {
        PKey { key, id: t.new_id(), t }
    }
}

impl Hash for PKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        if trip(&HASH_AT) {
            panic!("Hash panicked (key {})", self.key);
        }
        let other = HASH_UNLESS.with(|c| match c.get() {
            Some((k, 0)) if k != self.key => {
                c.set(None);
                true
            }
            Some((k, n)) if k != self.key => {
                c.set(Some((k, n - 1)));
                false
            }
            _ => false,
        });
        if other {
            panic!("Hash panicked during evacuation (key {})", self.key);
        }
        self.key.hash(h);
    }
}

impl PartialEq for PKey {
    fn eq(&self, o: &PKey) -> bool {
        if trip(&EQ_AT) {
            panic!("Eq panicked ({} vs {})", self.key, o.key);
        }
        self.key == o.key
    }
}
impl Eq for PKey {}

impl Clone for PKey {
    fn clone(&self) -> PKey {
        if trip(&CLONE_AT) {
            panic!("Clone panicked (key {})", self.key);
        }
        PKey::new(self.t, self.key)
    }
}

impl Drop for PKey {
    fn drop(&mut self) {
        drop_hook(self.t, self.id);
    }
}

struct PVal {
    val: u64,
    id: usize,
    t: &'static Tracker,
}

impl PVal {
    fn new(t: &'static Tracker, val: u64) -> PVal {
        PVal { val, id: t.new_id(), t }
    }
}

impl Clone for PVal {
    fn clone(&self) -> PVal {
        if trip(&CLONE_AT) {
            panic!("Clone panicked (value {})", self.val);
        }
        PVal::new(self.t, self.val)
    }
}

impl Drop for PVal {
    fn drop(&mut self) {
        drop_hook(self.t, self.id);
    }
}

type Map = GoMap<PKey, PVal>;

/// key -> (key instance id, value instance id, value)
type Model = HashMap<u64, (usize, usize, u64)>;

struct Fixture {
    t: &'static Tracker,
    m: Map,
    model: Model,
}

impl Fixture {
    /// `n` entries; `growing` = mid-growth afterwards (n is a growth trigger).
    fn new(growing: bool) -> Fixture {
        // Insert #27 starts B 2 -> 3 (4 old buckets), #833 starts B 7 -> 8.
        let n: u64 = if MIRI { 27 } else { 833 };
        let t = Tracker::new();
        let mut m = Map::new();
        let mut model = Model::new();
        for i in 0..n {
            let k = PKey::new(t, i);
            let v = PVal::new(t, i * 10);
            model.insert(i, (k.id, v.id, i * 10));
            assert!(m.insert(k, v).is_none());
        }
        if growing {
            assert!(m.stats().growing);
        } else {
            m.finish_growth();
        }
        let f = Fixture { t, m, model };
        f.verify(false);
        f
    }

    fn probe(&self, key: u64) -> PKey {
        PKey::new(self.t, key)
    }

    /// Checks the map after a caught panic. Entries may be missing only with
    /// `allow_loss`; a missing entry is removed from the model.
    #[track_caller]
    fn verify(&self, allow_loss: bool) -> usize {
        disarm_all();
        self.m.check_invariants();
        let mut seen: Model = HashMap::new();
        for (k, v) in self.m.iter() {
            assert_eq!(self.t.count(k.id), 0, "key {} in the map was dropped", k.key);
            assert_eq!(self.t.count(v.id), 0, "value of {} in the map was dropped", k.key);
            assert!(seen.insert(k.key, (k.id, v.id, v.val)).is_none(), "key {} yielded twice", k.key);
        }
        assert_eq!(seen.len(), self.m.len(), "len() inconsistent with contents");
        assert_eq!(self.m.stats().len, self.m.len());
        for (key, e) in &seen {
            assert_eq!(self.model.get(key), Some(e), "unexpected entry for key {key}");
            assert_eq!(self.m.get(&self.probe(*key)).map(|v| v.id), Some(e.1));
        }
        let lost = self.model.len() - seen.len();
        if !allow_loss {
            assert_eq!(lost, 0, "entries lost");
        }
        self.t.assert_no_double_drop();
        lost
    }

    /// After `verify(true)`: forget lost entries.
    fn sync_model(&mut self) {
        let present: HashSet<u64> = self.m.keys().map(|k| k.key).collect();
        self.model.retain(|k, _| present.contains(k));
    }

    /// The map still works: more writes, growth to completion.
    fn exercise(&mut self) {
        disarm_all();
        let base = 10_000_000 + self.t.created() as u64;
        for i in 0..50 {
            let k = PKey::new(self.t, base + i);
            let v = PVal::new(self.t, i);
            self.model.insert(base + i, (k.id, v.id, i));
            assert!(self.m.insert(k, v).is_none());
        }
        for i in (0..50).step_by(3) {
            assert!(self.m.remove(&self.probe(base + i)).is_some());
            self.model.remove(&(base + i));
        }
        self.m.finish_growth();
        self.verify(false);
        assert_eq!(self.m.len(), self.model.len());
    }

    /// Drops the map and requires every instance to be dropped exactly once.
    fn finish_no_leaks(self) {
        disarm_all();
        let t = self.t;
        drop(self.m);
        t.assert_all_dropped_once();
    }
}

fn catch<R>(f: impl FnOnce() -> R) -> bool {
    catch_unwind(AssertUnwindSafe(f)).is_err()
}

fn both(f: impl Fn(bool)) {
    f(false);
    f(true);
}

// ---------------------------------------------------------------------------
// Hash
// ---------------------------------------------------------------------------

#[test]
fn hash_panic_in_insert_lookup_remove_changes_nothing() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        let s0 = f.m.stats();

        // New key.
        let k = f.probe(1 << 50);
        let v = PVal::new(f.t, 1);
        let (kid, vid) = (k.id, v.id);
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.insert(k, v)));
        assert_eq!(f.t.count(kid), 1, "key passed to a panicking insert");
        assert_eq!(f.t.count(vid), 1, "value passed to a panicking insert");
        f.verify(false);

        // Existing key.
        let k = f.probe(7);
        let v = PVal::new(f.t, 1);
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.insert(k, v)));
        f.verify(false);

        let p = f.probe(7);
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.get(&p).is_some()));
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.contains_key(&p)));
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.remove(&p)));
        f.verify(false);
        arm(&HASH_AT, 0);
        assert!(catch(|| f.m.remove_entry(&p)));
        f.verify(false);
        let p2 = f.probe(8);
        arm(&HASH_AT, 0);
        assert!(catch(|| drop(f.m.entry(p2))));
        drop(p);
        f.verify(false);

        // Hashing happens before any mutation.
        let s1 = f.m.stats();
        assert_eq!((s1.b, s1.growing, s1.evacuated, s1.len), (s0.b, s0.growing, s0.evacuated, s0.len));
        f.exercise();
        f.finish_no_leaks();
    });
}

/// The map is mid-growth; Hash starts panicking for every key except the one
/// being written, so the panic happens while the write evacuates an old
/// bucket (doubling growth re-hashes every moved key).
fn hash_panic_during_evacuation_with(write: &dyn Fn(&mut Fixture, u64) -> bool) {
    let mut panics = 0;
    // A small map (under Miri) finishes its growth in a handful of writes; if
    // none of them happened to hash a key, start over with a fresh map.
    for _attempt in 0..5 {
        let mut f = Fixture::new(true);
        let old = f.m.stats().old_buckets;
        let mut writes = 0;
        let mut absent = 1u64 << 40;
        while f.m.stats().growing {
            assert!(writes < 4 * old + 8, "growth never finishes");
            absent += 1;
            // Panic on the first other key hashed, then on the 2nd..5th one,
            // so that panics also hit the middle of an old chain.
            HASH_UNLESS.with(|c| c.set(Some((absent, writes % 5))));
            writes += 1;
            let panicked = write(&mut f, absent);
            let fired = HASH_UNLESS.with(|c| c.get().is_none());
            disarm_all();
            assert_eq!(panicked, fired, "a panic must come from the armed Hash");
            if panicked {
                panics += 1;
            }
            f.verify(true);
            f.sync_model();
            // An unarmed write in between guarantees progress.
            write(&mut f, absent + (1 << 30));
            f.verify(false);
        }
        f.exercise();
        f.finish_no_leaks();
        if panics > 0 {
            break;
        }
    }
    assert!(panics > 0, "evacuation never hashed a key");
}

#[test]
fn hash_panic_during_evacuation_in_remove() {
    hash_panic_during_evacuation_with(&|f, absent| {
        let p = f.probe(absent);
        catch(|| f.m.remove(&p))
    });
}

#[test]
fn hash_panic_during_evacuation_in_insert() {
    hash_panic_during_evacuation_with(&|f, key| {
        let k = f.probe(key);
        let v = PVal::new(f.t, key);
        let (kid, vid) = (k.id, v.id);
        let panicked = catch(|| f.m.insert(k, v));
        if panicked {
            // Either the new entry was stored before the panic, or both
            // instances went away with the unwinding.
            let stored = f.m.iter().any(|(k, _)| k.key == key);
            if stored {
                f.model.insert(key, (kid, vid, key));
            } else {
                assert_eq!((f.t.count(kid), f.t.count(vid)), (1, 1));
            }
        } else {
            f.model.insert(key, (kid, vid, key));
        }
        panicked
    });
}

#[test]
fn hash_panic_during_evacuation_in_update() {
    hash_panic_during_evacuation_with(&|f, _| {
        // Update an existing key (the armed exception is a different key, so
        // hashing the written key itself panics too; both are fine).
        let key = *f.model.keys().next().unwrap();
        HASH_UNLESS.with(|c| {
            if let Some((_, skip)) = c.get() {
                c.set(Some((key, skip)));
            }
        });
        let k = f.probe(key);
        let v = PVal::new(f.t, 77);
        let (kid, vid) = (k.id, v.id);
        let mut old_id = None;
        let panicked = catch(|| {
            old_id = f.m.insert(k, v).map(|old| old.id);
        });
        if !panicked {
            let e = f.model.get_mut(&key).unwrap();
            assert_eq!(old_id, Some(e.1));
            e.1 = vid;
            e.2 = 77;
            assert_eq!(f.t.count(kid), 1, "std keeps the old key");
        } else if let Some(v) = f.m.get(&f.probe(key)) {
            // The value may or may not have been replaced before unwinding.
            if v.id == vid {
                let e = f.model.get_mut(&key).unwrap();
                e.1 = vid;
                e.2 = 77;
            }
        }
        panicked
    });
}

#[test]
fn hash_panic_during_finish_growth_and_evacuate_step() {
    for step in [false, true] {
        let mut f = Fixture::new(true);
        let mut panics = 0;
        for countdown in [0, 3, 10] {
            if !f.m.stats().growing {
                break;
            }
            arm(&HASH_AT, countdown);
            let panicked = if step { catch(|| f.m.evacuate_step(4)) } else { catch(|| f.m.finish_growth()) };
            let fired = !armed(&HASH_AT);
            disarm_all();
            assert_eq!(panicked, fired);
            panics += usize::from(panicked);
            f.verify(true);
            f.sync_model();
        }
        assert!(panics > 0);
        f.m.finish_growth();
        assert!(!f.m.stats().growing);
        f.verify(false);
        f.exercise();
        f.finish_no_leaks();
    }
}

#[test]
fn shrinking_hashes_only_when_it_must_and_a_panic_changes_nothing() {
    both(|growing| {
        // Into a smaller array than any present, entries move by chain: no key is hashed.
        let mut f = Fixture::new(growing);
        for i in 0..f.model.len() as u64 {
            if i % 8 != 0 {
                assert!(f.m.remove(&f.probe(i)).is_some());
                f.model.remove(&i);
            }
        }
        let before = f.m.stats();
        arm(&HASH_AT, 0);
        assert!(!catch(|| f.m.shrink_to_fit()), "a shrink into a smaller array hashed a key");
        disarm_all();
        assert!(f.m.stats().b < before.b);
        f.verify(false);
        f.exercise();
        f.finish_no_leaks();
    });

    // Mid-doubling, with every entry still there, the smallest array that holds them is the
    // new one, bigger than the old: the old chains' entries are placed by hash, and a panic
    // there leaves the map as it was.
    let mut f = Fixture::new(true);
    let before = f.m.stats();
    assert!(before.growing);
    arm(&HASH_AT, 3);
    assert!(catch(|| f.m.shrink_to_fit()), "the armed hash did not panic");
    f.verify(false);
    let after = f.m.stats();
    assert_eq!((after.b, after.growing, after.growth.bulk_resizes), (before.b, true, 0));
    f.m.shrink_to_fit();
    let done = f.m.stats();
    assert_eq!((done.b, done.growing, done.growth.bulk_resizes), (before.b, false, 1));
    f.verify(false);
    f.exercise();
    f.finish_no_leaks();
}

#[test]
fn hash_panic_during_reserve_and_retain() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        arm(&HASH_AT, 5);
        let n = f.m.len();
        let panicked = catch(|| f.m.reserve(4 * n));
        disarm_all();
        f.verify(panicked);
        f.sync_model();
        f.exercise();
        f.finish_no_leaks();

        let mut f = Fixture::new(growing);
        arm(&HASH_AT, 5);
        let mut removed = Vec::new();
        let panicked = catch(|| {
            f.m.retain(|k, _| {
                if k.key % 2 == 0 {
                    removed.push(k.key);
                    false
                } else {
                    true
                }
            })
        });
        disarm_all();
        for k in &removed {
            f.model.remove(k);
        }
        f.verify(panicked);
        f.sync_model();
        f.exercise();
        f.finish_no_leaks();
    });
}

// ---------------------------------------------------------------------------
// Eq
// ---------------------------------------------------------------------------

#[test]
fn eq_panic_in_get_insert_remove_entry() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        type Op = fn(&mut Fixture);
        let ops: [(&str, Op); 8] = [
            ("get", |f| assert!(f.m.get(&f.probe(5)).is_some())),
            ("contains_key", |f| assert!(f.m.contains_key(&f.probe(5)))),
            ("get_key_value", |f| assert!(f.m.get_key_value(&f.probe(5)).is_some())),
            ("get_mut", |f| {
                let p = f.probe(5);
                if let Some(v) = f.m.get_mut(&p) {
                    v.val = 1;
                }
            }),
            ("insert", |f| {
                let k = f.probe(5);
                let v = PVal::new(f.t, 1);
                drop(f.m.insert(k, v));
            }),
            ("remove", |f| drop(f.m.remove(&f.probe(5)))),
            ("remove_entry", |f| drop(f.m.remove_entry(&f.probe(5)))),
            ("entry", |f| {
                let k = f.probe(5);
                if let Entry::Occupied(mut o) = f.m.entry(k) {
                    o.get_mut().val = 1;
                }
            }),
        ];
        for (name, op) in ops {
            arm(&EQ_AT, 0);
            let panicked = catch(|| op(&mut f));
            assert!(panicked, "{name}: Eq was never called on a present key");
            assert!(!armed(&EQ_AT));
            // Nothing was modified: the comparison comes before any change.
            f.verify(false);
            assert_eq!(f.m.get(&f.probe(5)).unwrap().val, 50, "{name}");
        }
        f.exercise();
        f.finish_no_leaks();
    });
}

// ---------------------------------------------------------------------------
// Clone
// ---------------------------------------------------------------------------

#[test]
fn clone_panic_drops_partial_clone_and_keeps_original() {
    both(|growing| {
        let f = Fixture::new(growing);
        let n = f.m.len();
        let s0 = f.m.stats();
        for countdown in [0, 1, n, 2 * n - 1] {
            let before = f.t.created();
            arm(&CLONE_AT, countdown);
            assert!(catch(|| f.m.clone()), "clone did not panic at {countdown}");
            disarm_all();
            // Every instance the aborted clone created was dropped exactly once.
            for id in before..f.t.created() {
                assert_eq!(f.t.count(id), 1, "partial clone instance {id}");
            }
            assert_eq!(f.t.created() - before, countdown, "clones made before the panic");
            f.verify(false);
            let s1 = f.m.stats();
            assert_eq!((s1.growing, s1.evacuated), (s0.growing, s0.evacuated));
        }
        // Mid-growth, a clone hashes the keys of the old chains not yet moved: a panicking
        // `Hash` there also drops what was cloned and leaves the original alone.
        if growing {
            for countdown in [0, 2] {
                let before = f.t.created();
                arm(&HASH_AT, countdown);
                assert!(catch(|| f.m.clone()), "clone did not hash (countdown {countdown})");
                disarm_all();
                assert!(f.t.created() > before, "the panic came before anything was cloned");
                for id in before..f.t.created() {
                    assert_eq!(f.t.count(id), 1, "partial clone instance {id}");
                }
                f.verify(false);
            }
        }
        // A clone that does not panic still works afterwards.
        let c = f.m.clone();
        c.check_invariants();
        assert_eq!(c.len(), n);
        drop(c);
        f.finish_no_leaks();
    });
}

// ---------------------------------------------------------------------------
// Drop (leaks are allowed after a panicking destructor, as in std; double
// drops and dangling entries are not)
// ---------------------------------------------------------------------------

fn finish_after_drop_panic(f: Fixture) {
    disarm_all();
    let t = f.t;
    drop(f.m);
    t.assert_no_double_drop();
}

#[test]
fn drop_panic_during_clear() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        let n = f.m.len();
        arm(&DROP_AT, n / 2);
        assert!(catch(|| f.m.clear()));
        f.verify(true);
        f.sync_model();
        f.exercise();
        finish_after_drop_panic(f);
    });
}

#[test]
fn drop_panic_during_remove() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        // The stored key's destructor panics while remove() drops it.
        let kid = f.model[&3].0;
        DROP_ID.with(|c| c.set(Some(kid)));
        let p = f.probe(3);
        assert!(catch(|| f.m.remove(&p)));
        drop(p);
        f.verify(true);
        assert!(f.m.get(&f.probe(3)).is_none(), "a key whose drop ran is still in the map");
        f.sync_model();

        // The returned value's destructor is the caller's business.
        let vid = f.model[&4].1;
        DROP_ID.with(|c| c.set(Some(vid)));
        let p = f.probe(4);
        assert!(catch(|| drop(f.m.remove(&p))));
        drop(p);
        f.verify(true);
        assert!(f.m.get(&f.probe(4)).is_none());
        f.sync_model();

        // OccupiedEntry::remove.
        let kid = f.model[&5].0;
        DROP_ID.with(|c| c.set(Some(kid)));
        let p = f.probe(5);
        assert!(catch(|| {
            if let Entry::Occupied(o) = f.m.entry(p) {
                drop(o.remove());
            }
        }));
        f.verify(true);
        f.sync_model();
        f.exercise();
        finish_after_drop_panic(f);
    });
}

#[test]
fn drop_panic_of_replaced_value_or_redundant_key_in_insert() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        // The redundant new key is dropped by insert (std keeps the old key).
        let k = f.probe(9);
        let v = PVal::new(f.t, 1);
        let vid = v.id;
        DROP_ID.with(|c| c.set(Some(k.id)));
        let mut returned = None;
        let panicked = catch(|| returned = f.m.insert(k, v).map(|old| old.id));
        assert!(panicked);
        disarm_all();
        // Whether or not the value was replaced, the map holds a live value.
        if let Some(cur) = f.m.get(&f.probe(9)) {
            if cur.id == vid {
                let e = f.model.get_mut(&9).unwrap();
                e.1 = vid;
                e.2 = 1;
            }
        }
        f.verify(true);
        f.sync_model();
        f.exercise();
        finish_after_drop_panic(f);
    });
}

#[test]
fn drop_panic_when_dropping_the_map() {
    both(|growing| {
        let f = Fixture::new(growing);
        let n = f.m.len();
        let t = f.t;
        arm(&DROP_AT, n / 2);
        let m = f.m;
        assert!(catch(move || drop(m)));
        disarm_all();
        t.assert_no_double_drop();
    });
}

#[test]
fn drop_panic_during_retain() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        arm(&DROP_AT, 7);
        let mut removed = Vec::new();
        assert!(catch(|| {
            f.m.retain(|k, _| {
                if k.key % 3 == 0 {
                    removed.push(k.key);
                    false
                } else {
                    true
                }
            })
        }));
        disarm_all();
        // Entries the predicate rejected must not still be in the map with a
        // dropped key/value (verify checks liveness of everything present).
        assert!(!removed.is_empty());
        f.verify(true);
        f.sync_model();
        f.exercise();
        finish_after_drop_panic(f);
    });
}

#[test]
fn drop_panic_in_half_consumed_drain() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        let n = f.m.len();
        let mut got = Vec::new();
        assert!(catch(|| {
            let mut d = f.m.drain();
            for _ in 0..n / 3 {
                got.push(d.next().unwrap());
            }
            arm(&DROP_AT, 5);
            drop(d);
        }));
        disarm_all();
        f.verify(true);
        f.sync_model();
        drop(got);
        f.exercise();
        finish_after_drop_panic(f);
    });
}

// ---------------------------------------------------------------------------
// Panicking closures
// ---------------------------------------------------------------------------

#[test]
fn panicking_retain_predicate() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        let n = f.m.len();
        let mut calls = 0;
        let mut visited = Vec::new();
        assert!(catch(|| {
            f.m.retain(|k, v| {
                calls += 1;
                if calls == n / 2 {
                    panic!("predicate panicked");
                }
                v.val += 1;
                visited.push(k.key);
                k.key % 2 != 0
            })
        }));
        disarm_all();
        assert_eq!(visited.len(), n / 2 - 1);
        // Visited entries had their value incremented; a rejected entry is
        // either gone (and dropped exactly once) or still present. Entries
        // the predicate never saw must all still be there.
        for k in &visited {
            let present = f.m.get(&f.probe(*k)).is_some();
            let e = f.model.get_mut(k).unwrap();
            e.2 += 1;
            if !present {
                assert_eq!(k % 2, 0, "kept entry {k} was removed");
                let (kid, vid, _) = f.model.remove(k).unwrap();
                assert_eq!((f.t.count(kid), f.t.count(vid)), (1, 1), "rejected {k}");
            }
        }
        f.verify(false);
        f.exercise();
        f.finish_no_leaks();
    });
}

#[test]
fn panicking_extract_if_predicate() {
    both(|growing| {
        let mut f = Fixture::new(growing);
        let n = f.m.len();
        let mut calls = 0;
        let mut out_keys = Vec::new();
        assert!(catch(|| {
            let it = f.m.extract_if(|k, _| {
                calls += 1;
                if calls == n / 2 {
                    panic!("predicate panicked");
                }
                k.key % 2 == 0
            });
            for (k, _v) in it {
                out_keys.push(k.key);
            }
        }));
        disarm_all();
        for k in &out_keys {
            let (kid, vid, _) = f.model.remove(k).unwrap();
            assert_eq!((f.t.count(kid), f.t.count(vid)), (1, 1), "extracted {k}");
        }
        f.verify(false);
        f.exercise();
        f.finish_no_leaks();
    });
}

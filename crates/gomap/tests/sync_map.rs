//! `gomap::sync::SyncMap`: Go's `sync/map_test.go` behaviours (model-checked against a
//! mutex-protected map and a deep-copy map, concurrent range, nested calls in range,
//! deleted keys released, compare-and-swap on missing keys), plus multi-threaded stress tests
//! that check nothing is lost, duplicated or resurrected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use gomap::sync::{CowMap, SyncMap};
use proptest::prelude::*;

mod common;

use common::{config, scale};

#[derive(Clone, Debug)]
enum Op {
    Load(u8),
    Store(u8, u8),
    LoadOrStore(u8, u8),
    LoadAndDelete(u8),
    Delete(u8),
    Swap(u8, u8),
    CompareAndSwap(u8, u8, u8),
    CompareAndDelete(u8, u8),
    Range,
    Len,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    // Few keys and values, so that operations meet each other's keys and values.
    let k = 0..12u8;
    let v = 0..4u8;
    prop_oneof![
        4 => k.clone().prop_map(Op::Load),
        4 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Store(k, v)),
        3 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::LoadOrStore(k, v)),
        2 => k.clone().prop_map(Op::LoadAndDelete),
        2 => k.clone().prop_map(Op::Delete),
        2 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Swap(k, v)),
        2 => (k.clone(), v.clone(), v.clone()).prop_map(|(k, o, n)| Op::CompareAndSwap(k, o, n)),
        2 => (k.clone(), v.clone()).prop_map(|(k, o)| Op::CompareAndDelete(k, o)),
        1 => Just(Op::Range),
        1 => Just(Op::Len),
        1 => Just(Op::Clear),
    ]
}

/// The results every implementation must agree on.
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(Option<u8>),
    Loaded(u8, bool),
    Flag(bool),
    Entries(Vec<(u8, u8)>),
    Len(usize),
    Unit,
}

/// Go's `mapInterface` (sync/map_reference_test.go), plus the extensions.
trait MapInterface {
    fn apply(&self, op: &Op) -> Outcome;
}

impl MapInterface for SyncMap<u8, u8> {
    fn apply(&self, op: &Op) -> Outcome {
        match *op {
            Op::Load(k) => Outcome::Value(self.load(&k)),
            Op::Store(k, v) => {
                self.store(k, v);
                Outcome::Unit
            }
            Op::LoadOrStore(k, v) => {
                let (v, loaded) = self.load_or_store(k, v);
                Outcome::Loaded(v, loaded)
            }
            Op::LoadAndDelete(k) => Outcome::Value(self.load_and_delete(&k)),
            Op::Delete(k) => {
                self.delete(&k);
                Outcome::Unit
            }
            Op::Swap(k, v) => Outcome::Value(self.swap(k, v)),
            Op::CompareAndSwap(k, old, new) => Outcome::Flag(self.compare_and_swap(&k, &old, new)),
            Op::CompareAndDelete(k, old) => Outcome::Flag(self.compare_and_delete(&k, &old)),
            Op::Range => {
                let mut entries = Vec::new();
                self.range(|&k, &v| {
                    entries.push((k, v));
                    true
                });
                entries.sort();
                Outcome::Entries(entries)
            }
            Op::Len => Outcome::Len(self.len()),
            Op::Clear => {
                self.clear();
                Outcome::Unit
            }
        }
    }
}

/// Go's `RWMutexMap`: a plain map under a lock.
type MutexMap = Mutex<HashMap<u8, u8>>;

impl MapInterface for MutexMap {
    fn apply(&self, op: &Op) -> Outcome {
        let mut m = self.lock().unwrap();
        match *op {
            Op::Load(k) => Outcome::Value(m.get(&k).copied()),
            Op::Store(k, v) => {
                m.insert(k, v);
                Outcome::Unit
            }
            Op::LoadOrStore(k, v) => match m.get(&k) {
                Some(&old) => Outcome::Loaded(old, true),
                None => {
                    m.insert(k, v);
                    Outcome::Loaded(v, false)
                }
            },
            Op::LoadAndDelete(k) => Outcome::Value(m.remove(&k)),
            Op::Delete(k) => {
                m.remove(&k);
                Outcome::Unit
            }
            Op::Swap(k, v) => Outcome::Value(m.insert(k, v)),
            Op::CompareAndSwap(k, old, new) => Outcome::Flag(match m.get_mut(&k) {
                Some(v) if *v == old => {
                    *v = new;
                    true
                }
                _ => false,
            }),
            Op::CompareAndDelete(k, old) => Outcome::Flag(if m.get(&k) == Some(&old) {
                m.remove(&k);
                true
            } else {
                false
            }),
            Op::Range => {
                let mut entries: Vec<_> = m.iter().map(|(&k, &v)| (k, v)).collect();
                entries.sort();
                Outcome::Entries(entries)
            }
            Op::Len => Outcome::Len(m.len()),
            Op::Clear => {
                m.clear();
                Outcome::Unit
            }
        }
    }
}

/// Go's `DeepCopyMap`: copy-on-write, which is what `CowMap` is.
impl MapInterface for CowMap<u8, u8> {
    fn apply(&self, op: &Op) -> Outcome {
        match *op {
            Op::Load(k) => Outcome::Value(self.get(&k)),
            Op::Store(k, v) => {
                self.insert(k, v);
                Outcome::Unit
            }
            Op::LoadOrStore(k, v) => self.update(|m| match m.get(&k) {
                Some(&old) => Outcome::Loaded(old, true),
                None => {
                    m.insert(k, v);
                    Outcome::Loaded(v, false)
                }
            }),
            Op::LoadAndDelete(k) => Outcome::Value(self.remove(&k)),
            Op::Delete(k) => {
                self.remove(&k);
                Outcome::Unit
            }
            Op::Swap(k, v) => Outcome::Value(self.insert(k, v)),
            Op::CompareAndSwap(k, old, new) => Outcome::Flag(self.update(|m| match m.get_mut(&k) {
                Some(v) if *v == old => {
                    *v = new;
                    true
                }
                _ => false,
            })),
            Op::CompareAndDelete(k, old) => Outcome::Flag(self.update(|m| {
                if m.get(&k) == Some(&old) {
                    m.remove(&k);
                    true
                } else {
                    false
                }
            })),
            Op::Range => {
                let mut entries: Vec<_> = self.load().iter().map(|(&k, &v)| (k, v)).collect();
                entries.sort();
                Outcome::Entries(entries)
            }
            Op::Len => Outcome::Len(self.len()),
            Op::Clear => {
                self.update(|m| m.clear());
                Outcome::Unit
            }
        }
    }
}

/// Runs `ops` on a `SyncMap` and on `reference`, both starting with the entries of
/// `initial` (the `SyncMap` collected from it, all in its read-only map; the reference
/// given them by stores, so a key that comes twice keeps its last value in both).
fn check_against(reference: &dyn MapInterface, initial: &[(u8, u8)], ops: &[Op]) -> Result<(), TestCaseError> {
    let map: SyncMap<u8, u8> = initial.iter().copied().collect();
    for &(k, v) in initial {
        reference.apply(&Op::Store(k, v));
    }
    prop_assert_eq!(map.apply(&Op::Range), reference.apply(&Op::Range), "after collecting {:?}", initial);
    for (i, op) in ops.iter().enumerate() {
        prop_assert_eq!(map.apply(op), reference.apply(op), "op #{}: {:?}", i, op);
    }
    // The final contents, as Go's tests compare them.
    prop_assert_eq!(map.apply(&Op::Range), reference.apply(&Op::Range));
    Ok(())
}

proptest! {
    #![proptest_config(config(scale(256, 4) as u32))]

    /// Go's TestMapMatchesRWMutex.
    #[test]
    fn matches_mutex_map(ops in prop::collection::vec(op(), 0..scale(200, 40))) {
        check_against(&MutexMap::default(), &[], &ops)?;
    }

    /// Go's TestMapMatchesDeepCopy (CowMap is the deep-copy map).
    #[test]
    fn matches_deep_copy_map(ops in prop::collection::vec(op(), 0..scale(200, 40))) {
        check_against(&CowMap::new(), &[], &ops)?;
    }

    /// The same, from a map collected from pairs (`FromIterator`, which publishes them as
    /// the read-only map: the lock-free paths, expunging and the dirty copy start there).
    #[test]
    fn a_collected_map_matches_mutex_map(
        initial in prop::collection::vec((0..12u8, 0..4u8), 0..scale(24, 8)),
        ops in prop::collection::vec(op(), 0..scale(200, 40)),
    ) {
        check_against(&MutexMap::default(), &initial, &ops)?;
    }
}

/// Go's TestConcurrentRange: writers keep every value a multiple of its key while ranges run;
/// every range visits each key exactly once with such a value.
#[test]
fn concurrent_range() {
    let keys = scale(1024, 16) as u64;
    let ranges = scale(256, 2);
    let map = SyncMap::new();
    for k in 1..=keys {
        map.store(k, k);
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for t in 0..2u64 {
            let (map, done) = (&map, &done);
            s.spawn(move || {
                let mut i = t;
                while !done.load(Ordering::Relaxed) {
                    for k in 1..=keys {
                        if i % 2 == 0 {
                            map.store(k, k * (i % 7 + 1));
                        } else {
                            let v = map.load(&k).expect("keys are never deleted");
                            assert_eq!(v % k, 0, "load({k}) = {v}");
                        }
                        i += 1;
                    }
                }
            });
        }
        for _ in 0..ranges {
            let mut seen = vec![false; keys as usize + 1];
            map.range(|&k, &v| {
                assert_eq!(v % k, 0, "range gave {k}: {v}");
                assert!(!std::mem::replace(&mut seen[k as usize], true), "range visited {k} twice");
                true
            });
            assert!(seen[1..].iter().all(|&s| s), "range missed a key");
        }
        done.store(true, Ordering::Relaxed);
    });
}

/// A key that counts its live instances.
#[derive(Debug)]
struct Counted(u64, Arc<AtomicUsize>);

impl Counted {
    fn new(k: u64, live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        Counted(k, Arc::clone(live))
    }
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted::new(self.0, &self.1)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.1.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for Counted {}

impl std::hash::Hash for Counted {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

/// Go's TestIssue40999: storing and deleting fresh keys must not keep them alive. Here the
/// keys count their instances; the map may hold a few deleted keys until the next promotion.
#[test]
fn deleted_keys_are_released() {
    let live = Arc::new(AtomicUsize::new(0));
    let map = SyncMap::new();
    let rounds = scale(2000, 60) as u64;
    for i in 0..rounds {
        map.store(Counted::new(i, &live), i);
        if i % 10 == 0 {
            map.range(|_, _| true); // promote, so that deletes also hit the read-only map
        }
        map.delete(&Counted::new(i, &live));
    }
    let held = live.load(Ordering::Relaxed);
    assert!(held <= 32, "{held} deleted keys still alive after {rounds} store/delete rounds");
    assert_eq!(map.len(), 0);
    drop(map);
    assert_eq!(live.load(Ordering::Relaxed), 0, "keys leaked");
}

/// Values are released too: when replaced, deleted, cleared, and when the map is dropped.
#[test]
fn values_are_released() {
    let live = Arc::new(AtomicUsize::new(0));
    let map = SyncMap::new();
    for i in 0..scale(500, 40) as u64 {
        map.store(i % 50, Counted::new(i, &live));
        if i % 7 == 0 {
            map.delete(&(i % 50));
        }
        if i % 13 == 0 {
            map.range(|_, _| true);
        }
        if i % 97 == 0 {
            map.swap(i % 50, Counted::new(i, &live));
        }
    }
    assert!(live.load(Ordering::Relaxed) <= 50 + 2, "replaced values still alive");
    map.clear();
    assert_eq!(live.load(Ordering::Relaxed), 0, "values alive after clear");
    map.store(1, Counted::new(1, &live));
    drop(map);
    assert_eq!(live.load(Ordering::Relaxed), 0, "values leaked");
}

/// Go's TestMapRangeNestedCall (issue 46399): every method may be called from inside range.
#[test]
fn range_nested_call() {
    let map = SyncMap::new();
    for (i, v) in ["hello", "world", "Go"].into_iter().enumerate() {
        map.store(i, v.to_string());
    }
    map.range(|&key, _| {
        map.range(|&key, value| {
            // The value of the key visited is the one being ranged over.
            assert_eq!(map.load(&key).as_ref(), Some(value));
            // A new key, stored and checked inside the nested range.
            let (v, loaded) = map.load_or_store(42, "dummy".to_string());
            assert!(!loaded);
            assert_eq!(v, "dummy");
            map.store(42, "sync.Map".to_string());
            assert_eq!(map.load_and_delete(&42).as_deref(), Some("sync.Map"));
            true
        });
        map.delete(&key);
        true
    });
    assert_eq!(map.len(), 0);
    map.range(|k, v| panic!("entry {k}: {v} left after deleting every key"));
}

/// Go 1.20's TestCompareAndSwap_NonExistingKey, and the other paths of a missing key.
#[test]
fn compare_and_swap_missing_key() {
    let map: SyncMap<u32, u32> = SyncMap::new();
    assert!(!map.compare_and_swap(&1, &0, 42), "CAS on an empty map");
    assert!(!map.compare_and_delete(&1, &0));
    assert_eq!(map.load(&1), None, "CAS stored a value for a missing key");
    map.store(2, 2); // `dirty` now has a key that the read-only map lacks
    assert!(!map.compare_and_swap(&1, &0, 42), "CAS on an amended map");
    assert!(!map.compare_and_delete(&1, &0));
    map.store(1, 1);
    map.delete(&1); // deleted, present in `dirty`
    assert!(!map.compare_and_swap(&1, &1, 42), "CAS on a deleted key");
    map.range(|_, _| true); // promoted: key 1 is a deleted entry of the read-only map
    assert!(!map.compare_and_swap(&1, &1, 42), "CAS on a deleted promoted key");
    map.store(3, 3); // expunges key 1
    assert!(!map.compare_and_swap(&1, &1, 42), "CAS on an expunged key");
    assert!(!map.compare_and_delete(&1, &1));
    assert_eq!(map.load(&1), None);
    // And the present cases.
    assert!(!map.compare_and_swap(&2, &7, 42));
    assert!(map.compare_and_swap(&2, &2, 42));
    assert_eq!(map.load(&2), Some(42));
    assert!(!map.compare_and_delete(&2, &2));
    assert!(map.compare_and_delete(&2, &42));
    assert_eq!(map.load(&2), None);
    assert_eq!(map.len(), 1);
}

/// Expunged keys come back through every writing method.
#[test]
fn expunged_keys_revive() {
    let map = SyncMap::new();
    for (k, revive) in [(1, 0), (2, 1), (3, 2)] {
        map.store(k, 0u32);
        map.range(|_, _| true); // promote
        map.delete(&k);
        map.store(100 + k, 0); // builds `dirty`, expunging k
        match revive {
            0 => map.store(k, 7),
            1 => assert_eq!(map.load_or_store(k, 7), (7, false)),
            _ => assert_eq!(map.swap(k, 7), None),
        }
        assert_eq!(map.load(&k), Some(7));
        map.range(|_, _| true); // promote again: k must survive
        assert_eq!(map.load(&k), Some(7), "key {k} lost at promotion");
    }
    assert_eq!(map.len(), 6);
}

/// Many threads on disjoint keys, with promotions forced by a ranging thread: every thread's
/// own view stays exact (nothing lost, nothing resurrected), and the final contents are
/// what the threads left.
#[test]
fn stress_disjoint_keys() {
    let threads = 4u64;
    let rounds = scale(4000, 60) as u64;
    let map = SyncMap::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut mine = HashMap::new();
                    let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                    for i in 0..rounds {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = (x % 64) * threads + t; // this thread's keys only
                        match x % 6 {
                            0 | 1 => {
                                map.store(k, i);
                                mine.insert(k, i);
                            }
                            2 => assert_eq!(map.load_and_delete(&k), mine.remove(&k), "key {k}"),
                            3 => {
                                let expected = *mine.entry(k).or_insert(i);
                                assert_eq!(map.load_or_store(k, i).0, expected);
                            }
                            4 => assert_eq!(map.swap(k, i), mine.insert(k, i), "key {k}"),
                            _ => assert_eq!(map.load(&k), mine.get(&k).copied(), "key {k}"),
                        }
                    }
                    mine
                })
            })
            .collect();
        let (map, done) = (&map, &done);
        s.spawn(move || {
            while !done.load(Ordering::Relaxed) {
                map.range(|_, _| true);
                std::thread::yield_now();
            }
        });
        let mut expected = HashMap::new();
        for w in workers {
            expected.extend(w.join().unwrap());
        }
        done.store(true, Ordering::Relaxed);
        let mut actual = HashMap::new();
        map.range(|&k, &v| {
            assert!(actual.insert(k, v).is_none(), "range visited {k} twice");
            true
        });
        assert_eq!(actual, expected);
        assert_eq!(map.len(), expected.len());
    });
}

/// Contended keys: compare-and-swap increments are never lost, and exactly one racing
/// load_or_store stores.
#[test]
fn stress_contended_keys() {
    let threads = 4;
    let increments = scale(2000, 30) as u64;
    let map = SyncMap::new();
    map.store("counter", 0u64);
    let stored = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..threads {
            let (map, stored) = (&map, &stored);
            s.spawn(move || {
                for _ in 0..increments {
                    loop {
                        let v = map.load("counter").unwrap();
                        if map.compare_and_swap("counter", &v, v + 1) {
                            break;
                        }
                    }
                }
                let (v, loaded) = map.load_or_store("winner", t);
                if !loaded {
                    stored.fetch_add(1, Ordering::Relaxed);
                    assert_eq!(v, t);
                }
                assert_eq!(map.load("winner"), Some(v), "load_or_store disagreed with load");
            });
        }
    });
    assert_eq!(map.load("counter"), Some(threads * increments));
    assert_eq!(stored.load(Ordering::Relaxed), 1, "load_or_store stored more or less than once");
}

#[test]
fn send_sync() {
    fn check<T: Send + Sync>() {}
    check::<SyncMap<String, Vec<u8>>>();
    check::<gomap::sync::ShardedMap<String, Vec<u8>>>();
    check::<CowMap<String, Vec<u8>>>();
    check::<gomap::sync::CheckedMap<String, Vec<u8>>>();
}

/// `Extend` through `&SyncMap` from several threads at once, into a map collected from
/// other pairs: every pair lands, with its value, and the collected ones stay.
#[test]
fn threads_extend_a_collected_map() {
    let (threads, per) = (4u64, scale(2000, 40) as u64);
    let map: SyncMap<u64, u64> = (0..per).map(|i| (u64::MAX - i, i)).collect();
    std::thread::scope(|s| {
        for t in 0..threads {
            let mut map = &map;
            s.spawn(move || map.extend((0..per).map(|i| (t * per + i, t))));
        }
    });
    assert_eq!(map.len() as u64, (threads + 1) * per);
    for i in 0..per {
        assert_eq!(map.load(&(u64::MAX - i)), Some(i));
        for t in 0..threads {
            assert_eq!(map.load(&(t * per + i)), Some(t), "thread {t}'s key {i}");
        }
    }
}

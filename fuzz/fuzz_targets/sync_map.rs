//! Coverage-guided fuzzing of `gomap::sync::SyncMap` against `std::collections::HashMap`,
//! one thread: every method, in any order, so that the fuzzer reaches the states of Go's
//! algorithm (a `read` map amended by `dirty`, misses counting towards a promotion, the copy
//! into `dirty` made a few entries per miss, expunged entries, replaced maps taken apart in
//! steps) and checks every result. `range` may write to the map from inside its callback,
//! as Go allows. See fuzz/README.md.

#![no_main]

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use gomap::sync::SyncMap;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Store(u16, u32),
    Load(u16),
    LoadOrStore(u16, u32),
    LoadAndDelete(u16),
    Delete(u16),
    Swap(u16, u32),
    /// `compare_and_swap` with the key's current value as `old` when it has one (`guess`
    /// otherwise, or when `stale`).
    CompareAndSwap {
        key: u16,
        guess: u32,
        stale: bool,
        new: u32,
    },
    CompareAndDelete {
        key: u16,
        guess: u32,
        stale: bool,
    },
    /// `4 * len` keys from `from` on: stores (new keys go to `dirty`), deletes, or loads
    /// (of absent keys: misses, which promote `dirty` and copy `read` into it).
    StoreRun {
        from: u16,
        len: u8,
    },
    DeleteRun {
        from: u16,
        len: u8,
    },
    LoadRun {
        from: u16,
        len: u8,
    },
    /// `range`, stopping after `stop_after` entries (0: never), and writing `writes` to the
    /// map from inside the callback, one per visited entry, in order.
    Range {
        stop_after: u8,
        writes: Vec<Write>,
    },
    Len,
    Clear,
}

#[derive(Debug, Arbitrary)]
enum Write {
    Store(u16, u32),
    Delete(u16),
    /// Stores to the key being visited.
    StoreVisited(u32),
    DeleteVisited,
}

/// The model, and while a `range` call runs, every value each key has had since it began.
#[derive(Default)]
struct Model {
    map: HashMap<u16, u32>,
    seen_during_range: Option<HashMap<u16, HashSet<u32>>>,
}

impl Model {
    fn store(&mut self, k: u16, v: u32) -> Option<u32> {
        if let Some(seen) = &mut self.seen_during_range {
            seen.entry(k).or_default().insert(v);
        }
        self.map.insert(k, v)
    }

    fn delete(&mut self, k: u16) -> Option<u32> {
        self.map.remove(&k)
    }
}

fn apply(map: &SyncMap<u16, u32>, model: &mut Model, write: &Write, visited: u16) {
    match *write {
        Write::Store(k, v) => {
            map.store(k, v);
            model.store(k, v);
        }
        Write::Delete(k) => {
            map.delete(&k);
            model.delete(k);
        }
        Write::StoreVisited(v) => {
            map.store(visited, v);
            model.store(visited, v);
        }
        Write::DeleteVisited => {
            map.delete(&visited);
            model.delete(visited);
        }
    }
}

fuzz_target!(|ops: Vec<Op>| {
    let map: SyncMap<u16, u32> = SyncMap::new();
    let mut model = Model::default();
    for op in ops {
        match op {
            Op::Store(k, v) => {
                map.store(k, v);
                model.store(k, v);
            }
            Op::Load(k) => assert_eq!(map.load(&k), model.map.get(&k).copied()),
            Op::LoadOrStore(k, v) => {
                let expect = match model.map.get(&k) {
                    Some(&old) => (old, true),
                    None => {
                        model.store(k, v);
                        (v, false)
                    }
                };
                assert_eq!(map.load_or_store(k, v), expect);
            }
            Op::LoadAndDelete(k) => assert_eq!(map.load_and_delete(&k), model.delete(k)),
            Op::Delete(k) => {
                map.delete(&k);
                model.delete(k);
            }
            Op::Swap(k, v) => assert_eq!(map.swap(k, v), model.store(k, v)),
            Op::CompareAndSwap { key, guess, stale, new } => {
                let old = model.map.get(&key).copied().filter(|_| !stale).unwrap_or(guess);
                let expect = model.map.get(&key) == Some(&old);
                if expect {
                    model.store(key, new);
                }
                assert_eq!(map.compare_and_swap(&key, &old, new), expect);
            }
            Op::CompareAndDelete { key, guess, stale } => {
                let old = model.map.get(&key).copied().filter(|_| !stale).unwrap_or(guess);
                let expect = model.map.get(&key) == Some(&old);
                if expect {
                    model.delete(key);
                }
                assert_eq!(map.compare_and_delete(&key, &old), expect);
            }
            Op::StoreRun { from, len } => {
                for k in (from..=u16::MAX).take(usize::from(len) * 4) {
                    map.store(k, u32::from(k));
                    model.store(k, u32::from(k));
                }
            }
            Op::DeleteRun { from, len } => {
                for k in (from..=u16::MAX).take(usize::from(len) * 4) {
                    assert_eq!(map.load_and_delete(&k), model.delete(k));
                }
            }
            Op::LoadRun { from, len } => {
                for k in (from..=u16::MAX).take(usize::from(len) * 4) {
                    assert_eq!(map.load(&k), model.map.get(&k).copied());
                }
            }
            Op::Range { stop_after, writes } => {
                // What range owes: every key present at the start and neither deleted nor
                // visited since, when it runs to the end.
                let mut owed: HashSet<u16> = model.map.keys().copied().collect();
                model.seen_during_range = Some(model.map.iter().map(|(&k, &v)| (k, HashSet::from([v]))).collect());
                let mut visited = HashSet::new();
                let mut writes = writes.iter();
                let mut stopped = false;
                map.range(|&k, &v| {
                    assert!(visited.insert(k), "range visited {k} twice");
                    // A value the key had at some point during the call.
                    let seen = model.seen_during_range.as_ref().expect("set before the call");
                    let had = seen.get(&k).is_some_and(|vs| vs.contains(&v));
                    assert!(had, "range visited {k} with {v}, a value it never had during the call");
                    owed.remove(&k);
                    if let Some(w) = writes.next() {
                        if matches!(w, Write::Delete(_) | Write::DeleteVisited) {
                            let deleted = match *w {
                                Write::Delete(d) => d,
                                _ => k,
                            };
                            owed.remove(&deleted);
                        }
                        apply(&map, &mut model, w, k);
                    }
                    stopped = stop_after != 0 && visited.len() >= usize::from(stop_after);
                    !stopped
                });
                if !stopped {
                    assert!(owed.is_empty(), "range ended without visiting {owed:?}");
                }
                model.seen_during_range = None;
            }
            Op::Len => assert_eq!(map.len(), model.map.len()),
            Op::Clear => {
                map.clear();
                model.map.clear();
            }
        }
    }
    // Whatever state the map ended in, it holds exactly the model's entries.
    assert_eq!(map.len(), model.map.len());
    let mut all = HashMap::new();
    map.range(|&k, &v| {
        assert!(all.insert(k, v).is_none(), "range visited {k} twice");
        true
    });
    assert_eq!(all, model.map);
});

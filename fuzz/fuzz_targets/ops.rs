//! Coverage-guided fuzzing of `GoMap` against `std::collections::HashMap`: any sequence of
//! writes, growth steps, bulk operations and cursor steps, with the invariants checked
//! after every operation and the cursor held to Go's range guarantees. See fuzz/README.md.

#![no_main]

mod hashing;

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use gomap::GoMap;
use hashing::{Build, Hashing};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
enum Op {
    Insert(u16, u32),
    Remove(u16),
    Get(u16),
    EntryOrInsert(u16, u32),
    EntryRemove(u16),
    /// Inserts `4 * len` keys from `from` on (a burst that crosses growths); `RemoveRun`
    /// removes them.
    InsertRun {
        from: u16,
        len: u8,
    },
    RemoveRun {
        from: u16,
        len: u8,
    },
    Retain {
        modulus: u8,
    },
    ExtractIf {
        modulus: u8,
        take: u8,
    },
    DrainSome {
        take: u8,
    },
    Clear,
    Reserve(u16),
    ShrinkTo(u16),
    FinishGrowth,
    EvacuateStep(u8),
    Clone,
    /// Starts a cursor (dropping any earlier one).
    CursorStart,
    /// Takes up to `steps` steps of the cursor, adding `add` to each value produced.
    CursorSteps {
        steps: u8,
        add: u32,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    hashing: Hashing,
    capacity: u8,
    ops: Vec<Op>,
}

/// A cursor and what Go's range promises about it.
struct Walk {
    cursor: gomap::Cursor<u16, u32>,
    /// Present when the cursor began and not removed since: each must be produced once.
    owed: HashSet<u16>,
    /// (key, incarnation) already produced: none twice.
    produced: HashSet<(u16, u32)>,
    done: bool,
}

struct Model {
    map: HashMap<u16, u32>,
    /// How many times each key was inserted while absent (a removed and re-inserted key is
    /// a new entry for the cursor).
    incarnation: HashMap<u16, u32>,
}

impl Model {
    fn insert(&mut self, k: u16, v: u32) -> Option<u32> {
        let old = self.map.insert(k, v);
        if old.is_none() {
            *self.incarnation.entry(k).or_default() += 1;
        }
        old
    }

    fn remove(&mut self, k: u16, walk: &mut Option<Walk>) -> Option<u32> {
        let old = self.map.remove(&k);
        if let Some(w) = walk {
            w.owed.remove(&k);
        }
        old
    }
}

fuzz_target!(|input: Input| {
    let build = Build(input.hashing);
    let mut map: GoMap<u16, u32, Build> = GoMap::with_capacity_and_hasher(usize::from(input.capacity), build);
    let mut model = Model { map: HashMap::new(), incarnation: HashMap::new() };
    let mut walk: Option<Walk> = None;
    for op in input.ops {
        match op {
            Op::Insert(k, v) => assert_eq!(map.insert(k, v), model.insert(k, v)),
            Op::Remove(k) => assert_eq!(map.remove(&k), model.remove(k, &mut walk)),
            Op::Get(k) => assert_eq!(map.get(&k), model.map.get(&k)),
            Op::EntryOrInsert(k, v) => {
                let expect = *model.map.get(&k).unwrap_or(&v);
                if !model.map.contains_key(&k) {
                    model.insert(k, v);
                }
                assert_eq!(*map.entry(k).or_insert(v), expect);
            }
            Op::EntryRemove(k) => {
                let got = match map.entry(k) {
                    gomap::Entry::Occupied(e) => Some(e.remove()),
                    gomap::Entry::Vacant(_) => None,
                };
                assert_eq!(got, model.remove(k, &mut walk));
            }
            Op::InsertRun { from, len } => {
                for k in (from..=u16::MAX).take(usize::from(len) * 4) {
                    assert_eq!(map.insert(k, u32::from(k)), model.insert(k, u32::from(k)));
                }
            }
            Op::RemoveRun { from, len } => {
                for k in (from..=u16::MAX).take(usize::from(len) * 4) {
                    assert_eq!(map.remove(&k), model.remove(k, &mut walk));
                }
            }
            Op::Retain { modulus } => {
                let m = u16::from(modulus.max(1));
                map.retain(|&k, _| k % m != 0);
                for k in model.map.keys().copied().filter(|k| k % m == 0).collect::<Vec<_>>() {
                    model.remove(k, &mut walk);
                }
            }
            Op::ExtractIf { modulus, take } => {
                let m = u16::from(modulus.max(1));
                let taken: Vec<(u16, u32)> = map.extract_if(|&k, _| k % m == 0).take(usize::from(take)).collect();
                for (k, v) in taken {
                    assert_eq!(k % m, 0);
                    assert_eq!(model.remove(k, &mut walk), Some(v));
                }
            }
            Op::DrainSome { take } => {
                for (k, v) in map.drain().take(usize::from(take)) {
                    assert_eq!(model.map.get(&k), Some(&v));
                }
                for k in model.map.keys().copied().collect::<Vec<_>>() {
                    model.remove(k, &mut walk);
                }
                assert!(map.is_empty());
            }
            Op::Clear => {
                map.clear();
                for k in model.map.keys().copied().collect::<Vec<_>>() {
                    model.remove(k, &mut walk);
                }
            }
            Op::Reserve(n) => {
                map.reserve(usize::from(n));
                assert!(map.capacity() >= map.len() + usize::from(n));
            }
            Op::ShrinkTo(n) => {
                // std's contract: at least the length, and the limit unless that exceeds
                // the capacity before.
                let before = map.capacity();
                map.shrink_to(usize::from(n));
                assert!(map.capacity() >= map.len().max(usize::from(n).min(before)));
            }
            Op::FinishGrowth => {
                map.finish_growth();
                assert!(!map.stats().growing);
            }
            Op::EvacuateStep(n) => {
                let done = map.evacuate_step(usize::from(n));
                assert_eq!(done, !map.stats().growing);
            }
            Op::Clone => {
                let copy = map.clone();
                copy.check_invariants();
                assert_eq!(copy, map);
            }
            Op::CursorStart => {
                walk = Some(Walk {
                    cursor: map.cursor(),
                    owed: model.map.keys().copied().collect(),
                    produced: HashSet::new(),
                    done: false,
                });
            }
            Op::CursorSteps { steps, add } => {
                if let Some(w) = walk.as_mut().filter(|w| !w.done) {
                    for _ in 0..steps {
                        let Some((&k, v)) = w.cursor.next(&mut map) else {
                            assert!(w.owed.is_empty(), "the cursor ended owing {:?}", w.owed);
                            w.done = true;
                            break;
                        };
                        assert_eq!(model.map.get(&k), Some(&*v), "a produced value is not current");
                        let incarnation = model.incarnation[&k];
                        assert!(w.produced.insert((k, incarnation)), "key {k} produced twice");
                        w.owed.remove(&k);
                        *v = v.wrapping_add(add);
                        *model.map.get_mut(&k).unwrap() = *v;
                    }
                }
            }
        }
        map.check_invariants();
        assert_eq!(map.len(), model.map.len());
        assert!(map.capacity() >= map.len(), "capacity {} below len {}", map.capacity(), map.len());
    }
    let expect: HashMap<u16, u32> = map.iter().map(|(&k, &v)| (k, v)).collect();
    assert_eq!(expect, model.map);
});

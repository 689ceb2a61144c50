//! Coverage-guided fuzzing of `GoMap`'s panic safety: keys and values whose `Hash`, `Eq`,
//! `Clone` or `Drop` panic at a point the input chooses, and closures (`retain`,
//! `extract_if`, `or_insert_with`) that panic, in any sequence of operations. After every
//! caught panic the map must keep its invariants and hold only entries it was given, each
//! alive; no key or value may be dropped twice (and, built with AddressSanitizer as
//! `cargo fuzz` does, none used after it is freed); when the map is dropped at the end,
//! every key and value ever made must have been dropped exactly once, unless a `Drop`
//! panicked (then some may leak, as in std's maps). See fuzz/README.md.

#![no_main]

mod hashing;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::panic::{catch_unwind, panic_any, AssertUnwindSafe};
use std::sync::Once;

use arbitrary::Arbitrary;
use gomap::GoMap;
use hashing::{Build, Hashing};
use libfuzzer_sys::fuzz_target;

/// Which user code panics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Arbitrary)]
enum Kind {
    Hash,
    Eq,
    Clone,
    Drop,
}

/// The payload of every panic this target makes on purpose: the panic hook lets these
/// through to the `catch_unwind` around each operation, and any other panic (a failed check)
/// still aborts the run, as libFuzzer needs.
struct Injected;

thread_local! {
    /// The next panic: of this kind, after that many more calls of it.
    static ARMED: Cell<Option<(Kind, u16)>> = const { Cell::new(None) };
    /// How many times each key and value (by id) has been dropped.
    static DROPS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// How many `Drop`s have panicked in this input. What the map was dropping when one
    /// did may be gone from it and may leak, as with std's collections (safe, and no
    /// double drop).
    static DROP_PANICS: Cell<u32> = const { Cell::new(0) };
}

fn trip(kind: Kind) {
    if let Some((armed, after)) = ARMED.get() {
        if armed == kind {
            if after == 0 {
                ARMED.set(None);
                if kind == Kind::Drop {
                    DROP_PANICS.set(DROP_PANICS.get() + 1);
                }
                panic_any(Injected);
            }
            ARMED.set(Some((armed, after - 1)));
        }
    }
}

fn new_id() -> usize {
    DROPS.with_borrow_mut(|drops| {
        drops.push(0);
        drops.len() - 1
    })
}

fn drops(id: usize) -> u8 {
    DROPS.with_borrow(|drops| drops[id])
}

fn dropped(id: usize) {
    let count = DROPS.with_borrow_mut(|drops| {
        drops[id] += 1;
        drops[id]
    });
    assert_eq!(count, 1, "instance {id} dropped twice");
    // A second panic while unwinding would abort: a real program's Drop could not do it
    // either without aborting.
    if !std::thread::panicking() {
        trip(Kind::Drop);
    }
}

struct Key {
    key: u16,
    id: usize,
}

impl Key {
    fn new(key: u16) -> Self {
        Key { key, id: new_id() }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        trip(Kind::Hash);
        state.write_u16(self.key);
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        trip(Kind::Eq);
        self.key == other.key
    }
}

impl Eq for Key {}

impl Clone for Key {
    fn clone(&self) -> Self {
        trip(Kind::Clone);
        Key::new(self.key)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        dropped(self.id);
    }
}

struct Value {
    value: u32,
    id: usize,
}

impl Value {
    fn new(value: u32) -> Self {
        Value { value, id: new_id() }
    }
}

impl Clone for Value {
    fn clone(&self) -> Self {
        trip(Kind::Clone);
        Value::new(self.value)
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        dropped(self.id);
    }
}

#[derive(Debug, Arbitrary)]
enum Op {
    /// Arms a panic: `kind`'s user code panics at its call after the next `after` calls
    /// (in the next operation or a later one; checks between operations do not count).
    Arm {
        kind: Kind,
        after: u8,
    },
    Insert(u16, u32),
    Remove(u16),
    Get(u16),
    /// `entry(k).or_insert_with(..)`, whose closure panics if `panics`.
    EntryOrInsertWith {
        key: u16,
        value: u32,
        panics: bool,
    },
    InsertRun {
        from: u16,
        len: u8,
    },
    RemoveRun {
        from: u16,
        len: u8,
    },
    /// `retain` keeping keys not divisible by `modulus`; the predicate panics at its
    /// `panic_at`-th call, if given.
    Retain {
        modulus: u8,
        panic_at: Option<u8>,
    },
    ExtractIf {
        modulus: u8,
        take: u8,
        panic_at: Option<u8>,
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
}

#[derive(Debug, Arbitrary)]
struct Input {
    hashing: Hashing,
    ops: Vec<Op>,
}

type Model = HashMap<u16, u32>;

/// A predicate's panic at its `at`-th call.
fn predicate_trip(calls: &mut u8, at: Option<u8>) {
    if Some(*calls) == at {
        panic_any(Injected);
    }
    *calls = calls.saturating_add(1);
}

fn run(map: &mut GoMap<Key, Value, Build>, op: &Op, model: &mut Model) {
    match *op {
        Op::Arm { kind, after } => ARMED.set(Some((kind, u16::from(after)))),
        Op::Insert(k, v) => {
            model.insert(k, v);
            map.insert(Key::new(k), Value::new(v));
        }
        Op::Remove(k) => {
            model.remove(&k);
            map.remove(&Key::new(k));
        }
        Op::Get(k) => {
            let got = map.get(&Key::new(k)).map(|v| v.value);
            assert_eq!(got, model.get(&k).copied());
        }
        Op::EntryOrInsertWith { key, value, panics } => {
            let expect = *model.entry(key).or_insert(value);
            let got = map.entry(Key::new(key)).or_insert_with(|| {
                if panics {
                    panic_any(Injected);
                }
                Value::new(value)
            });
            assert_eq!(got.value, expect);
        }
        Op::InsertRun { from, len } => {
            let run: Vec<u16> = (from..=u16::MAX).take(usize::from(len) * 4).collect();
            model.extend(run.iter().map(|&k| (k, u32::from(k))));
            for k in run {
                map.insert(Key::new(k), Value::new(u32::from(k)));
            }
        }
        Op::RemoveRun { from, len } => {
            let run: Vec<u16> = (from..=u16::MAX).take(usize::from(len) * 4).collect();
            for k in &run {
                model.remove(k);
            }
            for k in run {
                map.remove(&Key::new(k));
            }
        }
        Op::Retain { modulus, panic_at } => {
            let m = u16::from(modulus.max(1));
            model.retain(|k, _| k % m != 0);
            let mut calls = 0;
            map.retain(|k, _| {
                predicate_trip(&mut calls, panic_at);
                k.key % m != 0
            });
        }
        Op::ExtractIf { modulus, take, panic_at } => {
            let m = u16::from(modulus.max(1));
            let mut calls = 0;
            let extract = map.extract_if(|k, _| {
                predicate_trip(&mut calls, panic_at);
                k.key % m == 0
            });
            // The model follows each entry out, so that a later panic finds it up to date.
            for (k, v) in extract.take(usize::from(take)) {
                assert_eq!(k.key % m, 0);
                assert_eq!(model.remove(&k.key), Some(v.value));
            }
        }
        Op::DrainSome { take } => {
            model.clear();
            map.drain().take(usize::from(take)).for_each(drop);
        }
        Op::Clear => {
            model.clear();
            map.clear();
        }
        Op::Reserve(n) => map.reserve(usize::from(n)),
        Op::ShrinkTo(n) => map.shrink_to(usize::from(n)),
        Op::FinishGrowth => map.finish_growth(),
        Op::EvacuateStep(n) => {
            map.evacuate_step(usize::from(n));
        }
        Op::Clone => {
            let copy = map.clone();
            copy.check_invariants();
            let entries = |m: &GoMap<Key, Value, Build>| -> Model { m.iter().map(|(k, v)| (k.key, v.value)).collect() };
            assert_eq!(entries(&copy), entries(map));
        }
    }
}

/// The map's entries, each checked to be alive and present once.
fn contents(map: &GoMap<Key, Value, Build>) -> Model {
    map.check_invariants();
    let mut seen = Model::new();
    for (k, v) in map {
        assert_eq!(drops(k.id), 0, "key {} in the map was dropped", k.key);
        assert_eq!(drops(v.id), 0, "value of key {} in the map was dropped", k.key);
        assert!(seen.insert(k.key, v.value).is_none(), "key {} present twice", k.key);
    }
    assert_eq!(seen.len(), map.len());
    seen
}

fuzz_target!(|input: Input| {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let fail = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<Injected>().is_none() {
                fail(info);
            }
        }));
    });
    ARMED.set(None);
    DROPS.with_borrow_mut(Vec::clear);
    DROP_PANICS.set(0);

    let mut map: GoMap<Key, Value, Build> = GoMap::with_hasher(Build(input.hashing));
    let mut model = Model::new();
    for op in &input.ops {
        let before = model.clone();
        let drop_panics = DROP_PANICS.get();
        let panicked = catch_unwind(AssertUnwindSafe(|| run(&mut map, op, &mut model))).is_err();
        // Check with no panic armed (the checks hash and compare keys), then re-arm.
        let armed = ARMED.take();
        let now = contents(&map);
        if !panicked {
            assert_eq!(now, model, "after {op:?}");
        } else {
            // Part of the operation may have happened: each key is as it was before or as
            // the operation would have left it. Only a panicking `Drop` may lose an entry
            // that both of those have (what was being dropped when it panicked).
            for (k, v) in &now {
                assert!(
                    before.get(k) == Some(v) || model.get(k) == Some(v),
                    "after a panic in {op:?}, key {k} holds {v}, which it was never given"
                );
            }
            if DROP_PANICS.get() == drop_panics {
                for k in before.keys().filter(|k| model.contains_key(k)) {
                    assert!(now.contains_key(k), "a panic in {op:?} lost key {k}");
                }
            }
            if matches!(op, Op::Get(_) | Op::Clone) {
                assert_eq!(now, before, "a panic in {op:?}, which takes &self, changed the map");
            }
            model = now;
        }
        ARMED.set(armed);
    }
    ARMED.set(None);
    drop(map);
    if DROP_PANICS.get() == 0 {
        DROPS.with_borrow(|drops| {
            for (id, &n) in drops.iter().enumerate() {
                assert_eq!(n, 1, "instance {id} dropped {n} times (0: leaked)");
            }
        });
    }
});

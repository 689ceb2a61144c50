//! `gomap::sync::ShardedMap`: agreement with std's `HashMap`, growth across shards,
//! re-entrant calls that panic instead of deadlocking, and multi-threaded stress.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use gomap::sync::ShardedMap;
use proptest::prelude::*;

mod common;

use common::{config, go_b, scale};

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast::<&str>().map(|s| s.to_string()).unwrap_or_default(),
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u16, u32),
    Get(u16),
    Remove(u16),
    Update(u16),
    Upsert(u16, u32),
    Retain(u16),
    Shrink,
    Clear,
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..300u16;
    prop_oneof![
        8 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => k.clone().prop_map(Op::Get),
        4 => k.clone().prop_map(Op::Remove),
        2 => k.clone().prop_map(Op::Update),
        2 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Upsert(k, v)),
        1 => (1..5u16).prop_map(Op::Retain),
        1 => Just(Op::Shrink),
        1 => Just(Op::Clear),
    ]
}

proptest! {
    #![proptest_config(config(scale(128, 3) as u32))]

    #[test]
    fn matches_std(ops in prop::collection::vec(op(), 0..scale(600, 60)), shards in 0..9usize) {
        let map = ShardedMap::with_shards(shards);
        let mut model = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k, v) => prop_assert_eq!(map.insert(k, v), model.insert(k, v)),
                Op::Get(k) => {
                    prop_assert_eq!(map.get(&k), model.get(&k).copied());
                    prop_assert_eq!(map.get_with(&k, |v| v ^ 1), model.get(&k).map(|v| v ^ 1));
                    prop_assert_eq!(map.contains_key(&k), model.contains_key(&k));
                }
                Op::Remove(k) => prop_assert_eq!(map.remove(&k), model.remove(&k)),
                Op::Update(k) => prop_assert_eq!(
                    map.update(&k, |v| { *v = v.wrapping_add(1); *v }),
                    model.get_mut(&k).map(|v| { *v = v.wrapping_add(1); *v })
                ),
                Op::Upsert(k, v) => {
                    let inserted = !model.contains_key(&k);
                    model.entry(k).and_modify(|x: &mut u32| *x = x.wrapping_mul(3)).or_insert(v);
                    prop_assert_eq!(map.upsert(k, || v, |x| *x = x.wrapping_mul(3)), inserted);
                }
                Op::Retain(m) => {
                    map.retain(|k, v| { *v = v.wrapping_add(1); k % m != 0 });
                    model.retain(|k, v| { *v = v.wrapping_add(1); k % m != 0 });
                }
                Op::Shrink => {
                    map.shrink_to_fit();
                    for stats in map.shard_stats() {
                        // Each shard in the array Go's make(map, len) picks.
                        prop_assert!(!stats.growing);
                        prop_assert_eq!(stats.b, go_b(stats.len));
                    }
                }
                Op::Clear => {
                    map.clear();
                    model.clear();
                }
            }
            prop_assert_eq!(map.len(), model.len());
        }
        let mut entries: Vec<_> = map.iter().collect();
        entries.sort();
        let mut expected: Vec<_> = model.into_iter().collect();
        expected.sort();
        prop_assert_eq!(entries, expected);
    }
}

/// Enough keys that every shard grows several times: the shards re-hash with the map's
/// hash, so every key stays findable through and after each growth.
#[test]
fn growth_keeps_every_key() {
    let n = scale(200_000, 300) as u64;
    let map = ShardedMap::with_shards(4);
    for i in 0..n {
        assert_eq!(map.insert(i, i), None);
        if i % 7 == 0 {
            assert_eq!(map.remove(&(i / 2)), Some(i / 2), "key {} lost during growth", i / 2);
            assert_eq!(map.insert(i / 2, i / 2), None);
        }
    }
    assert_eq!(map.len(), n as usize);
    for i in 0..n {
        assert_eq!(map.get(&i), Some(i), "key {i}");
    }
    let presized = ShardedMap::with_capacity(n as usize);
    for i in 0..n {
        presized.insert(i, i);
    }
    assert_eq!(presized.len(), n as usize);
}

#[test]
fn shard_count_is_configurable() {
    assert_eq!(ShardedMap::<u8, u8>::with_shards(0).shard_count(), 1);
    assert_eq!(ShardedMap::<u8, u8>::with_shards(3).shard_count(), 4);
    assert_eq!(ShardedMap::<u8, u8>::with_shards(64).shard_count(), 64);
    if !cfg!(miri) {
        // 65536 shards: instant natively, minutes under Miri.
        assert_eq!(ShardedMap::<u8, u8>::with_shards(usize::MAX).shard_count(), 1 << 16);
    }
    // 128 per CPU, a power of two, at most 4096.
    let default = ShardedMap::<u8, u8>::default_shard_count();
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    assert!(default.is_power_of_two(), "default shard count {default}");
    assert!(default >= (128 * cpus).min(4096) && default <= 4096, "default shard count {default} for {cpus} CPUs");
    assert_eq!(ShardedMap::<u8, u8>::new().shard_count(), default);
    assert_eq!(ShardedMap::<u8, u8>::with_capacity(100).shard_count(), default);
    assert_eq!(ShardedMap::<u8, u8>::default().shard_count(), default);
}

/// Every call on the map from inside a closure that runs under one of its locks panics
/// with a message naming the problem, instead of deadlocking; the map stays usable.
#[test]
fn reentrant_calls_panic_instead_of_deadlocking() {
    let map = ShardedMap::with_shards(1); // one shard: any re-entrant call would deadlock
    map.insert(1, 10);
    type Attempt = Box<dyn Fn(&ShardedMap<i32, i32>)>;
    let attempts: Vec<(&str, Attempt)> = vec![
        (
            "insert in get_with",
            Box::new(|m| {
                let _ = m.get_with(&1, |_| m.insert(2, 2));
            }),
        ),
        (
            "get in get_with",
            Box::new(|m| {
                let _ = m.get_with(&1, |_| m.get(&1));
            }),
        ),
        (
            "len in get_with",
            Box::new(|m| {
                let _ = m.get_with(&1, |_| m.len());
            }),
        ),
        (
            "remove in update",
            Box::new(|m| {
                let _ = m.update(&1, |_| m.remove(&1));
            }),
        ),
        (
            "get in upsert's modify",
            Box::new(|m| {
                let _ = m.upsert(
                    1,
                    || 0,
                    |_| {
                        let _ = m.get(&1);
                    },
                );
            }),
        ),
        (
            "insert in upsert's insert",
            Box::new(|m| {
                let _ = m.upsert(5, || m.insert(6, 6).unwrap_or(0), |_| ());
            }),
        ),
        ("insert in retain", Box::new(|m| m.retain(|_, _| m.insert(3, 3).is_none()))),
        ("iter in retain", Box::new(|m| m.retain(|_, _| m.iter().count() > 0))),
        ("shrink_to_fit in get_with", Box::new(|m| m.get_with(&1, |_| m.shrink_to_fit()).unwrap_or(()))),
        (
            "nested get_with",
            Box::new(|m| {
                let _ = m.get_with(&1, |_| m.get_with(&1, |v| *v));
            }),
        ),
    ];
    for (what, attempt) in attempts {
        let result = catch_unwind(AssertUnwindSafe(|| attempt(&map)));
        let message = panic_message(result.expect_err(what));
        assert!(message.contains("ShardedMap") && message.contains("deadlock"), "{what}: {message}");
        // The lock was released and the mark cleared: the map works normally.
        assert_eq!(map.get(&1), Some(10), "{what}");
        map.insert(1, 10);
    }
    assert_eq!(map.len(), 1);
    // Another map may be used from inside a closure.
    let other = ShardedMap::new();
    map.get_with(&1, |v| other.insert(1, *v));
    assert_eq!(other.get(&1), Some(10));
    // Iteration holds no lock while the caller runs.
    for (k, v) in map.iter() {
        map.insert(k + 1, v);
    }
    assert_eq!(map.len(), 2);
}

/// Threads on disjoint keys plus shared counters: nothing lost, duplicated or resurrected.
#[test]
fn stress() {
    let threads = 4u64;
    let rounds = scale(20_000, 60) as u64;
    let map = ShardedMap::with_shards(8);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let map = &map;
                s.spawn(move || {
                    let mut mine = HashMap::new();
                    let mut upserts = 0;
                    let mut x = (t + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                    for i in 0..rounds {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        let k = (x % 512) * threads + t + 1000; // this thread's keys
                        match x % 5 {
                            0 | 1 => assert_eq!(map.insert(k, i), mine.insert(k, i), "key {k}"),
                            2 => assert_eq!(map.remove(&k), mine.remove(&k), "key {k}"),
                            3 => assert_eq!(map.get(&k), mine.get(&k).copied(), "key {k}"),
                            _ => {
                                map.upsert(x % 8, || 1, |n| *n += 1); // shared counters
                                upserts += 1;
                            }
                        }
                    }
                    (mine, upserts)
                })
            })
            .collect();
        let (map, done) = (&map, &done);
        s.spawn(move || {
            // Iterations and shrinks concurrent with the writers: no key seen twice (and,
            // checked below, none lost).
            while !done.load(Ordering::Relaxed) {
                map.shrink_to_fit();
                let mut seen = std::collections::HashSet::new();
                for (k, _) in map.iter() {
                    assert!(seen.insert(k), "iteration yielded {k} twice");
                }
            }
        });
        let mut expected = HashMap::new();
        let mut upserts = 0;
        for w in workers {
            let (mine, n) = w.join().unwrap();
            expected.extend(mine);
            upserts += n;
        }
        done.store(true, Ordering::Relaxed);
        let actual: HashMap<u64, u64> = map.iter().filter(|&(k, _)| k >= 1000).collect();
        assert_eq!(actual, expected);
        // Every upsert counted exactly once.
        let counters: u64 = (0..8).filter_map(|k| map.get(&k)).sum();
        assert_eq!(counters, upserts);
        assert_eq!(map.len(), expected.len() + (0..8).filter(|k| map.contains_key(k)).count());
    });
}

/// The upserts of racing threads on one key are all counted.
#[test]
fn upsert_counts_every_call() {
    let threads = 4;
    let n = scale(10_000, 50) as u64;
    let map = ShardedMap::new();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..n {
                    map.upsert("hits", || 1u64, |v| *v += 1);
                }
            });
        }
    });
    assert_eq!(map.get("hits"), Some(threads * n));
}

/// `FromIterator` keeps each key's last value; `Extend` through `&ShardedMap` from several
/// threads at once loses nothing.
#[test]
fn collect_and_extend_from_threads() {
    let (threads, per) = (4u64, scale(5000, 40) as u64);
    let pairs = (0..2 * per).map(|i| (i % per, i));
    let model: HashMap<u64, u64> = pairs.clone().collect();
    let map: ShardedMap<u64, u64> = pairs.collect();
    assert_eq!(map.len(), model.len());
    assert!(model.iter().all(|(k, &v)| map.get(k) == Some(v)), "a collected key lost its last value");
    std::thread::scope(|s| {
        for t in 1..=threads {
            let mut map = &map;
            s.spawn(move || map.extend((0..per).map(|i| (t * per + i, t))));
        }
    });
    assert_eq!(map.len() as u64, (threads + 1) * per);
    for t in 1..=threads {
        assert!((0..per).all(|i| map.get(&(t * per + i)) == Some(t)), "thread {t} lost a key");
    }
}

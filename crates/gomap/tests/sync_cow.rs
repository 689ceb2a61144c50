//! `gomap::sync::CowMap`: snapshots, batched updates, panics that publish nothing, writes
//! from inside update that panic instead of deadlocking, and readers that only ever see
//! whole updates.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use gomap::sync::CowMap;
use gomap::GoMap;

const fn scale(normal: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        normal
    }
}

#[test]
fn snapshots_do_not_change() {
    let map = CowMap::new();
    assert_eq!(map.insert(1, "a"), None);
    let first = map.load();
    assert_eq!(map.insert(1, "b"), Some("a"));
    assert_eq!(map.insert(2, "c"), None);
    assert_eq!(map.remove(&9), None);
    let second = map.load();
    assert_eq!(map.remove(&1), Some("b"));
    assert_eq!(*first, GoMap::from([(1, "a")]));
    assert_eq!(*second, GoMap::from([(1, "b"), (2, "c")]));
    assert_eq!(*map.load(), GoMap::from([(2, "c")]));
    assert_eq!((map.len(), map.get(&2), map.contains_key(&1)), (1, Some("c"), false));
}

#[test]
fn update_batches_and_returns() {
    let map = CowMap::from(GoMap::from([(0u32, 0u32)]));
    let before = map.load();
    let sum = map.update(|m| {
        for i in 1..10 {
            m.insert(i, i * i);
        }
        m.values().sum::<u32>()
    });
    assert_eq!(sum, (1..10).map(|i| i * i).sum());
    assert_eq!(before.len(), 1, "the old snapshot changed");
    assert_eq!(map.len(), 10);
}

#[test]
fn panicking_update_publishes_nothing() {
    let map = CowMap::from(GoMap::from([(1, 1)]));
    let result = catch_unwind(AssertUnwindSafe(|| {
        map.update(|m| {
            m.insert(2, 2);
            panic!("half-way");
        })
    }));
    assert!(result.is_err());
    assert_eq!(*map.load(), GoMap::from([(1, 1)]));
    map.insert(3, 3); // the writer lock was released
    assert_eq!(map.len(), 2);
}

#[test]
fn write_inside_update_panics_instead_of_deadlocking() {
    let map = CowMap::new();
    map.insert(1, 1);
    for attempt in [0, 1, 2] {
        let result = catch_unwind(AssertUnwindSafe(|| {
            map.update(|m| {
                m.insert(5, 5);
                match attempt {
                    0 => {
                        let _ = map.insert(2, 2);
                    }
                    1 => {
                        let _ = map.remove(&1);
                    }
                    _ => map.update(|m| {
                        let _ = m.insert(3, 3);
                    }),
                }
            })
        }));
        let payload = result.expect_err("a write inside update must panic");
        let message = payload.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("CowMap") && message.contains("deadlock"), "{message}");
        assert_eq!(*map.load(), GoMap::from([(1, 1)]), "a panicking update published");
    }
    // Reading the map from inside update is fine.
    map.update(|m| {
        let seen = map.get(&1);
        m.insert(2, seen.unwrap() + 1);
    });
    assert_eq!(map.get(&2), Some(2));
}

/// Each update inserts a pair of keys: readers must never see half of one.
#[test]
fn readers_see_whole_updates() {
    let updates = scale(300, 10) as u64;
    let map = CowMap::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let mut last = 0;
                while !done.load(Ordering::Relaxed) {
                    let snapshot = map.load();
                    assert_eq!(snapshot.len() % 2, 0, "saw half an update");
                    assert!(snapshot.len() >= last, "a newer snapshot went back in time");
                    last = snapshot.len();
                    for (k, v) in snapshot.iter() {
                        assert_eq!(k * 10, *v);
                    }
                }
            });
        }
        for t in 0..2u64 {
            let map = &map;
            s.spawn(move || {
                for i in 0..updates {
                    let k = (i * 2 + t) * 2;
                    map.update(|m| {
                        m.insert(k, k * 10);
                        m.insert(k + 1, (k + 1) * 10);
                    });
                }
            });
        }
        // Let the writers finish before stopping the readers.
        while map.len() < 4 * updates as usize {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert_eq!(map.len(), 4 * updates as usize, "an update was lost");
}

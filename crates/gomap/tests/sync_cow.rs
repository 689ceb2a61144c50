//! `gomap::sync::CowMap`: snapshots, batched updates, panics that publish nothing, writes
//! from inside update that panic instead of deadlocking, readers that only ever see
//! whole updates, and who lets go of a replaced snapshot.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// Each update inserts a pair of keys: readers never see part of one (one writer uses `update`,
/// the other `extend`, which is one update), and concurrent writers lose nothing.
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
                    if t == 0 {
                        map.update(|m| {
                            m.insert(k, k * 10);
                            m.insert(k + 1, (k + 1) * 10);
                        });
                    } else {
                        // `Extend` publishes its pairs as one update too.
                        let mut map = map;
                        map.extend([(k, k * 10), (k + 1, (k + 1) * 10)]);
                    }
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

/// A value that counts its drops, clones' included, in its test's own counter.
#[derive(Clone)]
struct Counted(&'static AtomicUsize);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

const ENTRIES: u32 = scale(1000, 100) as u32;

/// `ENTRIES` counted values, keys `0..ENTRIES`.
fn counted_map(dropped: &'static AtomicUsize) -> CowMap<u32, Counted> {
    CowMap::from_map((0..ENTRIES).map(|i| (i, Counted(dropped))).collect())
}

fn count(dropped: &AtomicUsize) -> usize {
    dropped.load(Ordering::Relaxed)
}

/// `times` reads of a key that is always there, each of which may take a step.
fn read(map: &CowMap<u32, Counted>, times: usize) {
    for _ in 0..times {
        assert!(map.contains_key(&0));
    }
}

/// A snapshot still held when a write replaced it is not freed by its holder's drop (a
/// reader would pay O(n) there); the reads that follow take it apart a little each.
#[test]
fn reads_let_go_of_a_snapshot_held_at_its_replacement() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let n = ENTRIES as usize;
    let map = counted_map(&DROPPED);
    let held = map.load();
    map.insert(ENTRIES, Counted(&DROPPED));
    drop(held);
    assert_eq!(count(&DROPPED), 0, "the holder's drop freed the replaced snapshot");
    let mut reads = 0;
    while count(&DROPPED) < n {
        let before = count(&DROPPED);
        assert!(map.contains_key(&0));
        reads += 1;
        assert!(count(&DROPPED) - before < n / 4, "one read let go of most of a snapshot");
        assert!(reads <= n, "{reads} reads and {} of {n} entries freed", count(&DROPPED));
    }
    assert!(reads > 4, "freed in {reads} reads");
    read(&map, 100);
    assert_eq!(count(&DROPPED), n, "an entry of the replaced snapshot was dropped twice");
    assert_eq!(map.len(), n + 1);
    drop(map);
    // Two snapshots of n and n + 1 values.
    assert_eq!(count(&DROPPED), 2 * n + 1, "every value is dropped once");
}

/// `Arc`s from `load` that the caller keeps through many reads: the reads stop asking
/// about them, the caller's drops do not free them either (the map's reference is the last
/// to go), and the next write frees them.
#[test]
fn snapshots_the_caller_keeps_are_freed_by_a_later_write() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let n = ENTRIES as usize;
    let map = counted_map(&DROPPED);
    let first = map.load();
    map.insert(ENTRIES, Counted(&DROPPED));
    let second = map.load();
    map.insert(ENTRIES + 1, Counted(&DROPPED));
    read(&map, scale(1000, 100));
    drop((first, second));
    read(&map, 100);
    assert_eq!(count(&DROPPED), 0, "a read or the caller's drop freed a replaced snapshot");
    map.insert(ENTRIES + 2, Counted(&DROPPED));
    // The two kept snapshots (n and n + 1 values) and the one this write replaced (n + 2).
    assert_eq!(count(&DROPPED), 3 * n + 3, "the write left snapshots nothing holds");
    drop(map);
    // Four snapshots of n, n + 1, n + 2 and n + 3 values.
    assert_eq!(count(&DROPPED), 4 * n + 6, "every value is dropped once");
}

/// A write frees, after its lock, what the reads have not finished taking apart.
#[test]
fn a_write_finishes_what_reads_left() {
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let n = ENTRIES as usize;
    let map = counted_map(&DROPPED);
    let held = map.load();
    map.insert(ENTRIES, Counted(&DROPPED));
    drop(held);
    read(&map, 3);
    let partly = count(&DROPPED);
    assert!(partly > 0 && partly < n, "{partly} of {n} freed by three reads");
    map.insert(ENTRIES + 1, Counted(&DROPPED));
    assert_eq!(count(&DROPPED), n + (n + 1), "the write left a replaced snapshot behind");
    drop(map);
    // Three snapshots of n, n + 1 and n + 2 values.
    assert_eq!(count(&DROPPED), 3 * n + 3, "every value is dropped once");
}

/// A value that counts how many of it were made and dropped, clones included.
struct Tally {
    made: &'static AtomicUsize,
    dropped: &'static AtomicUsize,
}

impl Tally {
    fn new(made: &'static AtomicUsize, dropped: &'static AtomicUsize) -> Self {
        made.fetch_add(1, Ordering::Relaxed);
        Tally { made, dropped }
    }
}

impl Clone for Tally {
    fn clone(&self) -> Self {
        Tally::new(self.made, self.dropped)
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Readers that `get`, and that keep snapshots from `load` for a while, race writers; every
/// value made is dropped exactly once by the end, whoever let go of each snapshot, and once
/// nothing holds the replaced snapshots a write leaves only the current one alive.
#[test]
fn replaced_snapshots_are_freed_once_under_concurrency() {
    static MADE: AtomicUsize = AtomicUsize::new(0);
    static DROPPED: AtomicUsize = AtomicUsize::new(0);
    let writes = scale(200, 8) as u32;
    let map = CowMap::from_map((0..scale(500, 20) as u32).map(|k| (k, Tally::new(&MADE, &DROPPED))).collect());
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for reader in 0..2u32 {
            let (map, done) = (&map, &done);
            s.spawn(move || {
                let mut kept = Vec::new();
                let mut i = 0u32;
                while !done.load(Ordering::Relaxed) {
                    assert!(map.get(&(i % 20)).is_some(), "a key that is never removed went missing");
                    if i % 64 == reader {
                        kept.push(map.load());
                    }
                    if kept.len() > 3 {
                        kept.remove(0);
                    }
                    i += 1;
                }
            });
        }
        for writer in 0..2u32 {
            let map = &map;
            s.spawn(move || {
                for i in 0..writes {
                    let k = 1_000 + i * 2 + writer;
                    map.insert(k, Tally::new(&MADE, &DROPPED));
                    if i % 3 == 0 {
                        assert!(map.remove(&k).is_some());
                    }
                }
            });
        }
        while map.len() < scale(500, 20) + 2 * (writes as usize - (writes as usize).div_ceil(3)) {
            std::thread::yield_now();
        }
        done.store(true, Ordering::Relaxed);
    });
    // One more write frees every replaced snapshot: nothing holds them any more.
    map.insert(0, Tally::new(&MADE, &DROPPED));
    let live = MADE.load(Ordering::Relaxed) - DROPPED.load(Ordering::Relaxed);
    assert_eq!(live, map.len(), "values alive beyond the current snapshot's");
    drop(map);
    assert_eq!(MADE.load(Ordering::Relaxed), DROPPED.load(Ordering::Relaxed), "made and dropped differ");
}

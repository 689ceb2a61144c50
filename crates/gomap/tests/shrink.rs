//! `shrink_to_fit` and `shrink_to`: Go's maps never give memory back (golang/go#20135); a
//! `GoMap` does on request, into the array Go's `make(map, len)` would pick, and a cursor
//! keeps Go's guarantees across it.

use std::collections::HashSet;

use gomap::GoMap;

mod common;

use common::{go_b, low_bits_zero, mid_growth, scale, FnBuild};

#[test]
fn shrinks_to_gos_size_for_the_entries_left() {
    let n = scale(100_000, 2_000) as u64;
    let mut map: GoMap<u64, u64> = (0..n).map(|k| (k, k * 3)).collect();
    for keep in [n / 10, n / 100, 9, 1] {
        map.retain(|&k, _| k < keep);
        let before = map.stats();
        map.shrink_to_fit();
        map.check_invariants();
        let after = map.stats();
        assert_eq!(after.b, go_b(keep as usize), "keep {keep}");
        assert!(after.b < before.b, "keep {keep}: {before:?} -> {after:?}");
        assert!(after.bytes < before.bytes, "keep {keep}: {before:?} -> {after:?}");
        assert_eq!((after.tombstones, after.growing), (0, false));
        assert_eq!(after.growth.bulk_resizes, before.growth.bulk_resizes + 1);
        assert_eq!(map.len() as u64, keep);
        assert!(map.capacity() >= map.len());
        for k in 0..keep + 100 {
            assert_eq!(map.get(&k), (k < keep).then_some(k * 3).as_ref(), "key {k}");
        }
        // Already as small as it gets: a second call does nothing.
        map.shrink_to_fit();
        let again = map.stats();
        assert_eq!(
            (again.b, again.bytes, again.growth.bulk_resizes),
            (after.b, after.bytes, after.growth.bulk_resizes)
        );
    }
    // And it grows as Go's does from there: doublings keep B the least that holds len.
    for k in n..2 * n {
        map.insert(k, k * 3);
    }
    assert_eq!(map.stats().b, go_b(map.len()));
    map.check_invariants();
}

#[test]
fn an_empty_map_gives_back_everything() {
    let mut map: GoMap<u64, u64> = (0..scale(10_000, 500) as u64).map(|k| (k, k)).collect();
    map.clear();
    assert!(map.stats().bytes > 0, "clear keeps the buckets, as Go's mapclear");
    map.shrink_to_fit();
    let s = map.stats();
    assert_eq!((s.b, s.bytes, s.len), (0, 0, 0));
    map.insert(7, 8);
    assert_eq!(map.get(&7), Some(&8));
    map.check_invariants();
}

#[test]
fn shrink_to_keeps_room_and_never_grows() {
    let mut map: GoMap<u64, u64> = GoMap::with_capacity(scale(10_000, 1_000));
    map.insert(1, 1);
    let start = map.stats();

    map.shrink_to(1_000_000);
    assert_eq!((map.stats().b, map.stats().growth.bulk_resizes), (start.b, 0), "shrink_to must not grow");

    map.shrink_to(100);
    assert_eq!(map.stats().b, go_b(100));
    assert!(map.capacity() >= 100);
    assert_eq!(map.stats().growth.bulk_resizes, 1);

    // A limit below the entries held keeps them all.
    for k in 0..50 {
        map.insert(k, k);
    }
    map.shrink_to(10);
    assert_eq!(map.stats().b, go_b(50));
    assert_eq!(map.len(), 50);
    map.check_invariants();
}

#[test]
fn shrinking_ends_a_growth_in_progress() {
    let (mut map, k) = mid_growth(1000);
    map.remove(&0);
    let len = map.len();
    map.shrink_to_fit();
    let s = map.stats();
    assert!(!s.growing);
    assert_eq!((s.b, s.old_buckets, s.growth.growths_abandoned), (go_b(len), 0, 1));
    map.check_invariants();
    assert_eq!(map.len(), len);
    assert!((1..k).all(|k| map.get(&k) == Some(&k)));
}

#[test]
fn compacts_chains_at_the_same_size() {
    // Every key in bucket 0: 40 keys make a chain of 5 buckets, and removing the first 32
    // leaves it 5 buckets long with 32 tombstones.
    let mut map = GoMap::with_capacity_and_hasher(40, FnBuild(low_bits_zero));
    for k in 0..40u64 {
        map.insert(k, k);
    }
    for k in 0..32u64 {
        map.remove(&k);
    }
    let before = map.stats();
    assert_eq!((before.b, before.overflow_buckets), (go_b(40), 4));
    assert!(before.tombstones > 0);

    // shrink_to(40) keeps B, so all it can do is compact: one bucket holds the 8 keys.
    map.shrink_to(40);
    map.check_invariants();
    let after = map.stats();
    assert_eq!((after.b, after.overflow_buckets, after.tombstones), (before.b, 0, 0));
    assert!(after.bytes < before.bytes, "{before:?} -> {after:?}");
    assert!((32..40).all(|k| map.get(&k) == Some(&k)));

    // Now compact: nothing more to do.
    map.shrink_to(40);
    assert_eq!(map.stats().growth.bulk_resizes, 1);

    // The other kind of slack: removing the last 8 keys of a chain of 5 leaves its last
    // bucket empty (and no tombstone: a trailing run is marked `emptyRest`).
    let mut map = GoMap::with_capacity_and_hasher(40, FnBuild(low_bits_zero));
    for k in 0..40u64 {
        map.insert(k, k);
    }
    for k in 32..40u64 {
        map.remove(&k);
    }
    assert_eq!((map.stats().overflow_buckets, map.stats().tombstones), (4, 0));
    map.shrink_to(40);
    map.check_invariants();
    assert_eq!((map.stats().overflow_buckets, map.stats().growth.bulk_resizes), (3, 1));
    assert!((0..32).all(|k| map.get(&k) == Some(&k)));
}

#[test]
fn a_cursor_keeps_gos_guarantees_across_shrinks() {
    let n = scale(20_000, 600) as u64;
    let mut map: GoMap<u64, u64> = (0..n).map(|k| (k, k)).collect();
    let mut cursor = map.cursor();
    let mut produced = HashSet::new();
    let mut step = |map: &mut GoMap<u64, u64>, produced: &mut HashSet<u64>| match cursor.next(map) {
        Some((&k, &mut v)) => {
            assert_eq!(k, v);
            assert!(produced.insert(k), "key {k} produced twice");
            assert!(map.contains_key(&k));
            true
        }
        None => false,
    };
    let b0 = map.stats().b;

    // A tenth of the walk, then most keys go and the map shrinks below the cursor's base.
    for _ in 0..n / 10 {
        assert!(step(&mut map, &mut produced));
    }
    map.retain(|&k, _| k % 16 == 0);
    map.shrink_to_fit();
    assert!(map.stats().b + 3 < b0);
    for _ in 0..n / 200 {
        assert!(step(&mut map, &mut produced));
    }

    // Grows again past the cursor's base with new keys, then shrinks once more.
    for k in n..3 * n {
        map.insert(k, k);
    }
    for _ in 0..n / 20 {
        assert!(step(&mut map, &mut produced));
    }
    map.retain(|&k, _| k % 16 == 0 || k % 7 == 0);
    map.shrink_to_fit();
    map.check_invariants();
    while step(&mut map, &mut produced) {}

    // Every initial key still present was produced (exactly once: checked at each step).
    for k in (0..n).filter(|k| k % 16 == 0) {
        assert!(produced.contains(&k), "initial key {k}, never removed, not produced");
    }
}

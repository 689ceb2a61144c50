//! Go-style iteration: `range` (randomized order) and `Cursor` (a walk that survives any
//! mutation between steps), checked against Go's guarantees (spec section 4.4) and the
//! iteration behaviours of Go's `runtime/map_test.go` (spec section 7.1).

mod common;

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;

use common::{clusters_of_32, config, five_hashes, generation_32, low_bits_zero, same_size_churn, FnBuild, MIRI};
use gomap::GoMap;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

/// A map of keys `0..n`, values `10 * k`.
fn filled(n: u64) -> GoMap<u64, u64> {
    (0..n).map(|k| (k, 10 * k)).collect()
}

/// The keys in the order one `range` produces them.
fn range_order<S>(map: &GoMap<u64, u64, S>) -> Vec<u64> {
    map.range().map(|(&k, _)| k).collect()
}

/// Every entry exactly once: `range` agrees with `iter` as a multiset.
fn assert_range_complete<S>(map: &GoMap<u64, u64, S>) {
    let mut from_range: Vec<_> = map.range().map(|(&k, &v)| (k, v)).collect();
    let mut from_iter: Vec<_> = map.iter().map(|(&k, &v)| (k, v)).collect();
    assert_eq!(map.range().len(), map.len());
    from_range.sort_unstable();
    from_iter.sort_unstable();
    assert_eq!(from_range, from_iter);
}

// ---------------------------------------------------------------------------
// range
// ---------------------------------------------------------------------------

#[test]
fn range_visits_every_entry_once_in_every_state() {
    let n = if MIRI { 120 } else { 3000 };
    let mut map = GoMap::new();
    assert_eq!(map.range().next(), None::<(&u64, &u64)>);
    for k in 0..n {
        map.insert(k, k);
        // Every few inserts: mid-growth (old chains partly evacuated) or not.
        if k % 7 == 0 {
            assert_range_complete(&map);
        }
    }
    // With tombstones.
    for k in (0..n).step_by(3) {
        map.remove(&k);
        if k % 21 == 0 {
            assert_range_complete(&map);
        }
    }
}

#[test]
fn range_mid_growth_and_same_size_growth() {
    // One chain holding everything (low hash bits zero): chains and overflow buckets.
    let mut map = GoMap::with_hasher(FnBuild(low_bits_zero));
    for k in 0..if MIRI { 60 } else { 400 } {
        map.insert(k, k);
        assert_range_complete(&map);
    }
    // Generations of 32 keys per bucket under FIFO churn in 8 buckets: same-size growths.
    let mut same_size_seen = 0;
    same_size_churn(if MIRI { 300 } else { 3000 }, |map, _| {
        let stats = map.stats();
        if stats.growing && stats.same_size_growth {
            same_size_seen += 1;
            assert_range_complete(map);
        }
    });
    assert!(same_size_seen > 0, "no same-size growth happened");
}

/// `fold` (behind `sum`, `count`, `for_each`, ...) walks like `next`, also when it takes
/// over a walk that `next` began, mid-growth included.
#[test]
fn fold_agrees_with_next() {
    let mut map = GoMap::new();
    for k in 0..if MIRI { 200 } else { 2000 } {
        map.insert(k, k);
        if k % 37 != 0 {
            continue;
        }
        for skip in [0, 1, 5, 13] {
            let mut by_next = map.iter();
            let mut by_fold = map.iter();
            by_next.by_ref().take(skip).for_each(drop);
            by_fold.by_ref().take(skip).for_each(drop);
            let rest: Vec<_> = by_next.map(|(&k, _)| k).collect();
            let mut folded = Vec::new();
            by_fold.fold((), |(), (&k, _)| folded.push(k));
            assert_eq!(rest, folded, "iter, skip {skip}");
            let mut range = map.range();
            let mut produced: Vec<_> = range.by_ref().take(skip).map(|(&k, _)| k).collect();
            range.fold((), |(), (&k, _)| produced.push(k));
            produced.sort_unstable();
            assert_eq!(produced, (0..=k).collect::<Vec<_>>(), "range, skip {skip}");
        }
    }
}

/// Go's TestMapIterOrder: for n = 3, 7, 9, 15, repeated ranges show more than one order.
#[test]
fn range_order_varies() {
    for n in [3, 7, 9, 15] {
        let map = filled(n);
        let first = range_order(&map);
        assert!((0..1000).any(|_| range_order(&map) != first), "n = {n}: the order never changed");
    }
    // `iter` is deterministic.
    let map = filled(100);
    let first: Vec<_> = map.iter().collect();
    assert!((0..20).all(|_| map.iter().collect::<Vec<_>>() == first));
}

/// Go's TestMapSparseIterOrder: after 1000 inserts and 980 removals the order still varies.
#[test]
fn range_order_varies_on_sparse_maps() {
    let mut map = filled(1000);
    for k in 0..980 {
        map.remove(&k);
    }
    let first = range_order(&map);
    assert!((0..1000).any(|_| range_order(&map) != first));
}

/// Go's single-bucket case: 8 keys in one bucket show exactly the 8 rotations, each key
/// first about 1 time in 8 (measured in Go: 12.5 %).
#[test]
fn range_of_one_full_bucket_shows_all_eight_rotations() {
    let map = filled(8);
    assert_eq!(map.stats().b, 0);
    let rounds = if MIRI { 200 } else { 16_000 };
    let mut orders = HashSet::new();
    let mut first = HashMap::<u64, usize>::new();
    for _ in 0..rounds {
        let order = range_order(&map);
        *first.entry(order[0]).or_default() += 1;
        orders.insert(order);
    }
    assert_eq!(orders.len(), 8, "one bucket of 8 has exactly 8 rotations");
    // The rotations of one cyclic sequence.
    let base = orders.iter().next().unwrap().clone();
    for order in &orders {
        let shift = base.iter().position(|&k| k == order[0]).unwrap();
        let rotated: Vec<_> = base.iter().cycle().skip(shift).take(8).copied().collect();
        assert_eq!(&rotated, order, "not a rotation of {base:?}");
    }
    if !MIRI {
        // Binomial(16000, 1/8): mean 2000, sd 42; 1700..2300 is over 7 sd either side.
        for (k, n) in &first {
            assert!((1700..2300).contains(n), "key {k} first {n} times in {rounds}");
        }
    }
    // Fewer keys: as many orders as keys (Go measured 3 orders for 3 keys).
    let map = filled(3);
    let orders: HashSet<_> = (0..rounds).map(|_| range_order(&map)).collect();
    assert_eq!(orders.len(), 3);
}

/// Go's bound: a range has at most `8 * 2^B` orders (a start bucket and a slot offset),
/// and in a map without overflow buckets every key can come first.
#[test]
fn range_randomness_is_bounded_by_go_rotations_and_reaches_every_key() {
    let sizes: &[u64] = if MIRI { &[9, 14] } else { &[9, 13, 14, 20, 26, 40, 52] };
    for &n in sizes {
        // A map whose chains have no overflow bucket (retry the random seed until so).
        let map = loop {
            let map = filled(n);
            if map.stats().overflow_buckets == 0 {
                break map;
            }
        };
        let bound = 8usize << map.stats().b;
        let rounds = if MIRI { 10 * bound } else { 400 * bound };
        let mut orders = HashSet::new();
        let mut firsts = HashSet::new();
        for _ in 0..rounds {
            let order = range_order(&map);
            firsts.insert(order[0]);
            orders.insert(order);
        }
        assert!(orders.len() <= bound, "n = {n}: {} orders, bound {bound}", orders.len());
        assert!(orders.len() > 1);
        if !MIRI {
            // Each (bucket, offset) start has probability 1/bound; 400 * bound draws miss
            // a given one with probability e^-400.
            assert_eq!(firsts.len() as u64, n, "n = {n}: some key never came first");
        }
    }
}

/// Go's TestConcurrentReadsAfterGrowth: after every insert of a growing map, threads
/// range over it (and look every key up) at the same time; shared reads never mutate.
#[test]
fn concurrent_ranges_after_every_insert() {
    let n = if MIRI { 20 } else { 250 };
    let threads = if MIRI { 2 } else { 4 };
    let mut map = GoMap::new();
    for k in 0..n {
        map.insert(k, k);
        let map = &map;
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(move || {
                    assert_eq!(map.range().count(), map.len());
                    assert!((0..=k).all(|j| map.get(&j) == Some(&j)));
                });
            }
        });
    }
}

// ---------------------------------------------------------------------------
// Cursor: Go's test behaviours
// ---------------------------------------------------------------------------

/// Drives `cursor` to the end without changing the map; returns the keys produced.
fn drain_cursor<S: BuildHasher>(cursor: &mut gomap::Cursor<u64, u64>, map: &mut GoMap<u64, u64, S>) -> Vec<u64> {
    let mut keys = Vec::new();
    while let Some((&k, &mut v)) = cursor.next(map) {
        assert_eq!(v, 10 * k, "not the value `filled` gave");
        keys.push(k);
    }
    keys
}

#[test]
fn cursor_without_changes_produces_every_entry_once() {
    for n in [0, 1, 8, 9, 100, if MIRI { 300 } else { 5000 }] {
        let mut map = filled(n);
        let mut cursor = map.cursor();
        let mut keys = drain_cursor(&mut cursor, &mut map);
        keys.sort_unstable();
        assert_eq!(keys, (0..n).collect::<Vec<_>>());
        // Finished for good.
        assert_eq!(cursor.next(&mut map), None);
        assert_eq!(cursor.next(&mut map), None);
    }
}

#[test]
fn cursor_values_are_current_and_writable() {
    let n = if MIRI { 40 } else { 200 };
    let mut map = filled(n);
    let mut cursor = map.cursor();
    let mut produced = HashSet::new();
    while let Some((&k, v)) = cursor.next(&mut map) {
        let updated = k % 2 == 0 && !produced.is_empty();
        assert_eq!(*v, 10 * k + u64::from(updated), "value not current for {k}");
        *v = 0;
        produced.insert(k);
        // Update every even key not produced yet: the cursor must show the update.
        for j in (0..n).step_by(2).filter(|j| !produced.contains(j)) {
            map.insert(j, 10 * j + 1);
        }
    }
    assert_eq!(produced.len() as u64, n);
    assert!(map.values().all(|&v| v == 0), "a write through the cursor was lost");
}

/// Go's TestIterGrowAndDelete: during the walk, grow the map a lot and then delete all
/// odd keys; no odd key is produced after that, and every even key exactly once.
#[test]
fn cursor_grow_and_delete() {
    let n = if MIRI { 40 } else { 400 };
    let mut map = filled(n);
    let b0 = map.stats().b;
    let mut cursor = map.cursor();
    let mut produced = HashMap::<u64, usize>::new();
    let mut steps = 0;
    let mut odd_deleted = false;
    while let Some((&k, _)) = cursor.next(&mut map) {
        *produced.entry(k).or_default() += 1;
        if k < n && odd_deleted {
            assert_eq!(k % 2, 0, "odd key {k} produced after all odd keys were deleted");
        }
        steps += 1;
        if steps == n / 4 {
            for j in n..n + 8 * n {
                map.insert(j, 0);
            }
            for j in (1..n).step_by(2) {
                map.remove(&j);
            }
            odd_deleted = true;
        }
    }
    assert!(map.stats().b >= b0 + 3, "the map did not grow enough");
    for k in (0..n).step_by(2) {
        assert_eq!(produced.get(&k), Some(&1), "even key {k}");
    }
    assert!(produced.values().all(|&c| c == 1), "some key produced twice");
}

/// Go's TestIterGrowWithGC (without the GC): 16 keys, a burst of inserts that grows the
/// map several times after the first step, and all 16 keys are still produced, once.
#[test]
fn cursor_across_growth_keeps_every_key() {
    let mut map: GoMap<u64, u64> = GoMap::with_capacity(4);
    for k in 0..16 {
        map.insert(k, 10 * k);
    }
    let b0 = map.stats().b;
    let mut cursor = map.cursor();
    let mut seen = HashSet::new();
    let mut grown = false;
    while let Some((&k, _)) = cursor.next(&mut map) {
        if k < 16 {
            assert!(seen.insert(k), "key {k} twice");
        }
        if !grown {
            for i in 100..1000 {
                map.insert(i, 10 * i);
            }
            grown = true;
        }
    }
    assert!(map.stats().b >= b0 + 3);
    assert_eq!(seen.len(), 16);
}

/// Go's "insert while ranging" idiom: one new key per step. New keys ahead of the cursor may
/// be produced (each at most once), so the walk is longer than the map was, but it ends
/// (expected about 1.7 times the starting size).
#[test]
fn cursor_inserting_one_key_per_step_ends() {
    let n = if MIRI { 60 } else { 2000 };
    let mut map = filled(n);
    let mut cursor = map.cursor();
    let mut steps = 0;
    let mut seen = HashSet::new();
    while let Some((&k, _)) = cursor.next(&mut map) {
        assert!(seen.insert(k), "key {k} twice");
        steps += 1;
        assert!(steps < 10 * n, "the walk does not end");
        map.insert(1_000_000 + steps, 0);
    }
    assert!((0..n).all(|k| seen.contains(&k)));
}

/// The idea of Go's TestMapNanGrowIterator with ordinary keys: a cursor made mid-growth,
/// the growth finished halfway through by writes of an absent key; every value once.
#[test]
fn cursor_made_mid_growth_finished_by_absent_removes() {
    let mut map = filled(104); // 16 buckets at 6.5 each: full
    assert_eq!(map.stats().b, 4);
    map.insert(1_000, 0); // starts a doubling
    map.remove(&1_000);
    assert!(map.stats().growing);
    let mut cursor = map.cursor();
    let mut seen = HashSet::new();
    while let Some((&k, &mut v)) = cursor.next(&mut map) {
        assert_eq!(v, 10 * k);
        assert!(seen.insert(k));
        if seen.len() == 52 {
            for _ in 0..16 {
                map.remove(&2_000); // absent, but a write: it evacuates
            }
            map.finish_growth();
            assert!(!map.stats().growing);
        }
    }
    assert_eq!(seen.len(), 104);
}

/// Same-size growths between steps: entries present throughout are produced exactly once.
/// (The setting of `differential::same_size_growth_under_fifo_churn`: 8 buckets, keys in
/// generations of 32 per bucket, a FIFO window that keeps the count below the doubling
/// bound while chains keep growing overflow buckets.)
#[test]
fn cursor_survives_same_size_growth() {
    const KEPT: u64 = 12;
    const WINDOW: u64 = 36;
    let mut map = GoMap::with_capacity_and_hasher(40, FnBuild(generation_32));
    for k in 0..KEPT {
        map.insert(k, 10 * k);
    }
    let mut cursor = map.cursor();
    let mut produced = HashMap::<u64, usize>::new();
    let mut next_key = 32;
    while let Some((&k, &mut v)) = cursor.next(&mut map) {
        assert_eq!(v, 10 * k);
        *produced.entry(k).or_default() += 1;
        for _ in 0..if MIRI { 10 } else { 40 } {
            map.insert(next_key, 10 * next_key);
            if next_key >= 32 + WINDOW {
                map.remove(&(next_key - WINDOW));
            }
            next_key += 1;
            assert_eq!(map.stats().b, 3, "the count must stay below the doubling bound");
        }
        map.check_invariants();
    }
    assert!(map.stats().growth.same_size_started > 0, "no same-size growth during the walk");
    for k in 0..KEPT {
        assert_eq!(produced.get(&k), Some(&1), "key {k}");
    }
    assert!(produced.values().all(|&c| c == 1));
}

#[test]
fn cursor_after_clear_produces_only_new_entries_at_most_once() {
    let mut map = filled(100);
    let mut cursor = map.cursor();
    let mut produced = Vec::new();
    for _ in 0..10 {
        produced.push(*cursor.next(&mut map).unwrap().0);
    }
    map.clear();
    for k in 200..300 {
        map.insert(k, 10 * k);
    }
    let rest = drain_cursor(&mut cursor, &mut map);
    assert!(rest.iter().all(|&k| (200..300).contains(&k)), "an entry from before the clear came back");
    let unique: HashSet<_> = rest.iter().collect();
    assert_eq!(unique.len(), rest.len(), "a new entry twice");
}

#[test]
fn cursor_over_colliding_hashes() {
    // Five hash values for all keys: many keys share their full 64-bit hash.
    let mut map = GoMap::with_hasher(FnBuild(five_hashes));
    for k in 0..if MIRI { 30 } else { 200 } {
        map.insert(k, 10 * k);
    }
    let n = map.len() as u64;
    let mut cursor = map.cursor();
    let mut produced = HashMap::<u64, usize>::new();
    let mut extra = 1_000;
    while let Some((&k, _)) = cursor.next(&mut map) {
        *produced.entry(k).or_default() += 1;
        map.insert(extra, 10 * extra);
        map.remove(&(extra - 1));
        extra += 1;
    }
    assert!((0..n).all(|k| produced.get(&k) == Some(&1)));
    assert!(produced.values().all(|&c| c == 1));
}

/// A key removed and inserted again may land in the slot noted for another key. It is a
/// new entry: produced at most once, also when entries move before the cursor reaches the
/// key's own note (which is then looked up).
#[test]
fn cursor_produces_a_reinserted_key_at_most_once() {
    for _ in 0..64 {
        // One hash for every key: one bucket, key `i` in slot `i`.
        let mut map = GoMap::with_hasher(FnBuild(|_| 0));
        for k in 0..8 {
            map.insert(k, 10 * k);
        }
        let mut cursor = map.cursor();
        let first = *cursor.next(&mut map).unwrap().0;
        for k in (0..8).filter(|&k| k != first) {
            map.remove(&k);
        }
        // It takes the first empty slot: slot 0 unless `first` is there.
        let again = if first == 1 { 2 } else { 1 };
        map.insert(again, 10 * again);
        let mut produced: Vec<u64> = cursor.next(&mut map).map(|(&k, _)| k).into_iter().collect();
        map.reserve(100); // a resize: every entry moves
        produced.extend(drain_cursor(&mut cursor, &mut map));
        assert!(produced.iter().all(|&k| k == again), "a removed entry came back: {produced:?}");
        assert!(produced.len() <= 1, "the new entry twice: {produced:?}");
    }
}

/// A key whose `clone` panics when armed.
#[derive(PartialEq, Eq, Hash, Debug)]
struct FragileKey(u64);

thread_local! {
    static CLONES_LEFT: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
}

impl Clone for FragileKey {
    fn clone(&self) -> Self {
        CLONES_LEFT.with(|left| match left.get() {
            Some(0) => {
                left.set(None);
                panic!("clone failed");
            }
            Some(n) => left.set(Some(n - 1)),
            None => {}
        });
        FragileKey(self.0)
    }
}

/// A `K::clone` that panics while the cursor notes keys leaves it consistent: the walk
/// goes on afterwards and still produces every entry exactly once.
#[test]
fn cursor_survives_a_panicking_clone() {
    let n = if MIRI { 60 } else { 500 };
    // Every arming is reached: the first notes take at least 64 keys (all of them under
    // Miri's 60), and 70 falls in the second notes.
    let armings: &[u32] = if MIRI { &[0, 3, 40] } else { &[0, 3, 40, 70] };
    for &panic_after in armings {
        let mut map: GoMap<FragileKey, u64> = (0..n).map(|k| (FragileKey(k), k)).collect();
        let mut cursor = map.cursor();
        let mut seen = HashMap::<u64, usize>::new();
        let mut step = 0;
        let mut panics = 0;
        loop {
            if step == 0 {
                CLONES_LEFT.with(|left| left.set(Some(panic_after)));
            }
            step += 1;
            let next = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                cursor.next(&mut map).map(|(k, &mut v)| (k.0, v))
            }));
            match next {
                Ok(Some((k, v))) => {
                    assert_eq!(k, v);
                    *seen.entry(k).or_default() += 1;
                }
                Ok(None) => break,
                Err(_) => panics += 1,
            }
        }
        CLONES_LEFT.with(|left| left.set(None));
        assert_eq!(panics, 1, "panic after {panic_after} clones: {panics} failed steps, expected only the clone's");
        assert_eq!(seen.len() as u64, n, "panic after {panic_after} clones: an entry was lost");
        assert!(seen.values().all(|&c| c == 1), "panic after {panic_after} clones: an entry came twice");
    }
}

/// Go's TestEmptyKeyAndValue for walks: zero-sized keys and values.
#[test]
fn zero_sized_keys_and_values() {
    let mut map: GoMap<(), ()> = GoMap::new();
    assert_eq!(map.range().count(), 0);
    map.insert((), ());
    assert_eq!(map.range().collect::<Vec<_>>(), [(&(), &())]);
    let mut cursor = map.cursor();
    assert_eq!(cursor.next(&mut map), Some((&(), &mut ())));
    map.insert((), ());
    assert_eq!(cursor.next(&mut map), None);
    map.shrink_to_fit();
    assert_eq!(map.iter().collect::<Vec<_>>(), [(&(), &())]);
}

/// Go's TestBigItems for walks: keys and values over 128 bytes.
#[test]
fn big_items() {
    let n = if MIRI { 20 } else { 100 };
    let mut map: GoMap<[u64; 32], [u64; 32]> = (0..n).map(|i| ([i; 32], [i + 1; 32])).collect();
    let mut from_range: Vec<_> = map.range().map(|(k, v)| (k[0], v[31])).collect();
    from_range.sort_unstable();
    assert_eq!(from_range, (0..n).map(|i| (i, i + 1)).collect::<Vec<_>>());
    let mut cursor = map.cursor();
    let mut count = 0;
    while let Some((k, v)) = cursor.next(&mut map) {
        assert_eq!(v[0], k[0] + 1);
        count += 1;
    }
    assert_eq!(count, n);
}

#[test]
#[should_panic(expected = "called with a map other than the one the cursor came from")]
fn cursor_with_another_map_panics() {
    let a = filled(10);
    let mut b = filled(10);
    let mut cursor = a.cursor();
    cursor.next(&mut b);
}

#[test]
#[should_panic(expected = "called with a map other than the one the cursor came from")]
fn cursor_with_a_clone_panics() {
    let a = filled(10);
    let mut b = a.clone();
    let mut cursor = a.cursor();
    cursor.next(&mut b);
}

#[test]
fn cursor_follows_its_map_when_moved() {
    let a = filled(50);
    let mut cursor = a.cursor();
    let mut moved = Box::new(a); // a move keeps the map's identity
    assert_eq!(drain_cursor(&mut cursor, &mut moved).len(), 50);
}

#[test]
fn cursor_is_send_and_sync_and_holds_no_borrow() {
    fn is_send_sync<T: Send + Sync>(_: &T) {}
    let mut map = filled(10);
    let cursor = map.cursor();
    is_send_sync(&cursor);
    map.insert(99, 990); // no borrow held
    let mut cursor = std::thread::spawn(move || cursor).join().unwrap();
    assert!(drain_cursor(&mut cursor, &mut map).len() >= 10);
}

// ---------------------------------------------------------------------------
// Cursor: a model of guarantees 1-4 under random interleavings
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    /// Up to n cursor steps; writes the produced value when the flag is set.
    Step(u8, bool),
    Insert(u64, u64),
    Remove(u64),
    /// Removes and inserts again a key the cursor produced (a new entry).
    Reinsert(u64),
    /// Inserts n fresh keys.
    Grow(u16),
    /// Inserts n fresh keys and removes the n oldest ones.
    Churn(u16),
    Clear,
    FinishGrowth,
    EvacuateStep(u8),
    /// Inserts or updates through the entry API.
    Entry(u64, u64),
    /// Removes through the entry API.
    EntryRemove(u64),
    /// Removes the keys divisible by n.
    Retain(u8),
    /// Removes the keys divisible by n through `extract_if`.
    ExtractIf(u8),
    Reserve(u16),
    /// `shrink_to(n)`.
    ShrinkTo(u16),
    Drain,
}

fn op_strategy(keys: u64, max_grow: u16) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (1..8u8, any::<bool>()).prop_map(|(n, w)| Op::Step(n, w)),
        4 => (0..keys, any::<u64>()).prop_map(|(k, v)| Op::Insert(k, v)),
        4 => (0..keys).prop_map(Op::Remove),
        2 => any::<u64>().prop_map(Op::Reinsert),
        1 => (1..max_grow).prop_map(Op::Grow),
        2 => (1..max_grow).prop_map(Op::Churn),
        1 => Just(Op::Clear),
        1 => Just(Op::FinishGrowth),
        1 => (1..4u8).prop_map(Op::EvacuateStep),
        2 => (0..keys, any::<u64>()).prop_map(|(k, v)| Op::Entry(k, v)),
        2 => (0..keys).prop_map(Op::EntryRemove),
        1 => (3..9u8).prop_map(Op::Retain),
        1 => (3..9u8).prop_map(Op::ExtractIf),
        1 => (1..2000u16).prop_map(Op::Reserve),
        2 => (0..200u16).prop_map(Op::ShrinkTo),
        1 => Just(Op::Drain),
    ]
}

/// The map, a model of it, and the record of what the cursor produced.
struct Model<S> {
    map: GoMap<u64, u64, S>,
    cursor: gomap::Cursor<u64, u64>,
    /// key -> (incarnation, value). A key inserted anew gets a new incarnation.
    live: HashMap<u64, (u64, u64)>,
    next_incarnation: u64,
    /// Incarnations present when the cursor was made.
    initial: HashSet<u64>,
    /// Times each incarnation was produced.
    produced: HashMap<u64, u32>,
    produced_keys: Vec<u64>,
    fresh: u64,
    fifo: std::collections::VecDeque<u64>,
    /// Same-size growths started before the cursor was made.
    same_size_before: u64,
    finished: bool,
}

impl<S: BuildHasher> Model<S> {
    fn new(mut map: GoMap<u64, u64, S>, initial: u64, hint_fresh: u64) -> Self {
        let mut live = HashMap::new();
        for k in 0..initial {
            map.insert(hint_fresh + k, k);
            live.insert(hint_fresh + k, (k, k));
        }
        let cursor = map.cursor();
        let map_same_size_started = map.stats().growth.same_size_started;
        Model {
            initial: live.values().map(|&(inc, _)| inc).collect(),
            fifo: live.keys().copied().collect(),
            map,
            cursor,
            live,
            next_incarnation: initial,
            produced: HashMap::new(),
            produced_keys: Vec::new(),
            fresh: hint_fresh + initial,
            same_size_before: map_same_size_started,
            finished: false,
        }
    }

    fn insert(&mut self, k: u64, v: u64) {
        assert_eq!(self.map.insert(k, v), self.live.get(&k).map(|&(_, v)| v));
        self.note_insert(k, v);
    }

    /// Notes the insert of `k` into the map (new or update) in the model.
    fn note_insert(&mut self, k: u64, v: u64) {
        match self.live.get_mut(&k) {
            Some(entry) => entry.1 = v,
            None => {
                self.live.insert(k, (self.next_incarnation, v));
                self.next_incarnation += 1;
                self.fifo.push_back(k);
            }
        }
    }

    fn remove(&mut self, k: u64) {
        assert_eq!(self.map.remove(&k), self.live.remove(&k).map(|(_, v)| v));
    }

    fn step(&mut self, write: bool) {
        match self.cursor.next(&mut self.map) {
            None => {
                self.finished = true;
            }
            Some((&k, v)) => {
                assert!(!self.finished, "the cursor produced {k} after it had finished");
                let (inc, value) =
                    self.live.get_mut(&k).unwrap_or_else(|| panic!("produced {k}, which is not in the map"));
                assert_eq!(*v, *value, "key {k}: the value produced is not the current one");
                if write {
                    *v = v.wrapping_add(1);
                    *value = *v;
                }
                let times = self.produced.entry(*inc).or_default();
                *times += 1;
                assert_eq!(*times, 1, "key {k} (incarnation {inc}) produced twice");
                self.produced_keys.push(k);
            }
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Step(n, write) => (0..n).for_each(|_| self.step(write)),
            Op::Insert(k, v) => self.insert(k, v),
            Op::Remove(k) => self.remove(k),
            Op::Reinsert(pick) => {
                if !self.produced_keys.is_empty() {
                    let k = self.produced_keys[pick as usize % self.produced_keys.len()];
                    if self.live.contains_key(&k) {
                        self.remove(k);
                        self.insert(k, pick);
                    }
                }
            }
            Op::Grow(n) => {
                for _ in 0..n {
                    self.insert(self.fresh, self.fresh);
                    self.fresh += 1;
                }
            }
            Op::Churn(n) => {
                for _ in 0..n {
                    self.insert(self.fresh, self.fresh);
                    self.fresh += 1;
                    while let Some(old) = self.fifo.pop_front() {
                        if self.live.contains_key(&old) {
                            self.remove(old);
                            break;
                        }
                    }
                }
            }
            Op::Clear => {
                self.map.clear();
                self.live.clear();
            }
            Op::FinishGrowth => self.map.finish_growth(),
            Op::EvacuateStep(n) => {
                self.map.evacuate_step(usize::from(n));
            }
            Op::Entry(k, v) => {
                self.map.entry(k).and_modify(|stored| *stored = v).or_insert(v);
                self.note_insert(k, v);
            }
            Op::EntryRemove(k) => {
                if let gomap::Entry::Occupied(entry) = self.map.entry(k) {
                    assert_eq!(Some(entry.remove()), self.live.remove(&k).map(|(_, v)| v));
                } else {
                    assert!(!self.live.contains_key(&k));
                }
            }
            Op::Retain(n) => {
                self.map.retain(|&k, _| k % u64::from(n) != 0);
                self.live.retain(|&k, _| k % u64::from(n) != 0);
            }
            Op::ExtractIf(n) => {
                let mut removed: Vec<_> = self.map.extract_if(|&k, _| k % u64::from(n) == 0).collect();
                removed.sort_unstable();
                let mut expected: Vec<_> =
                    self.live.iter().filter(|(&k, _)| k % u64::from(n) == 0).map(|(&k, &(_, v))| (k, v)).collect();
                expected.sort_unstable();
                assert_eq!(removed, expected);
                self.live.retain(|&k, _| k % u64::from(n) != 0);
            }
            Op::Reserve(n) => self.map.reserve(usize::from(n)),
            Op::ShrinkTo(n) => self.map.shrink_to(usize::from(n)),
            Op::Drain => {
                assert_eq!(self.map.drain().count(), self.live.len());
                self.live.clear();
            }
        }
        self.map.check_invariants();
        assert_eq!(self.map.len(), self.live.len());
    }

    /// Runs the cursor to its end, then checks guarantee 1's "exactly once". Returns the
    /// same-size growths started during the walk.
    fn finish(mut self) -> u64 {
        let mut guard = 0;
        while !self.finished {
            self.step(false);
            guard += 1;
            assert!(guard < 1_000_000, "the cursor does not end");
        }
        self.step(false);
        for (k, (inc, _)) in &self.live {
            if self.initial.contains(inc) {
                assert_eq!(self.produced.get(inc), Some(&1), "key {k}, present throughout, was not produced");
            }
        }
        self.map.stats().growth.same_size_started - self.same_size_before
    }
}

/// Runs `cases` random op sequences (after `prelude`) over maps of `initial` entries, with
/// keys below `keys`; returns the same-size growths started during the walks.
fn run_model<S: BuildHasher + Clone>(
    cases: u32,
    hasher: S,
    initial: std::ops::Range<u64>,
    keys: u64,
    max_grow: u16,
    ops: usize,
    prelude: &[Op],
) -> u64 {
    let mut runner = TestRunner::new(config(cases));
    let seen = std::cell::Cell::new(0);
    let strategy = (initial, proptest::collection::vec(op_strategy(keys, max_grow), 1..ops));
    runner
        .run(&strategy, |(n, ops)| {
            // Initial keys above the random key range; fresh keys above those.
            let mut model = Model::new(GoMap::with_hasher(hasher.clone()), n, keys);
            for op in prelude.iter().chain(&ops) {
                model.apply(op);
            }
            seen.set(seen.get() + model.finish());
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
    seen.get()
}

#[test]
fn cursor_model_default_hasher() {
    if MIRI {
        run_model(2, gomap::DefaultHashBuilder::default(), 0..60, 40, 40, 40, &[]);
    } else {
        run_model(64, gomap::DefaultHashBuilder::default(), 0..1500, 300, 400, 120, &[]);
    }
}

#[test]
fn cursor_model_one_chain() {
    if MIRI {
        run_model(2, FnBuild(low_bits_zero), 0..30, 30, 20, 30, &[]);
    } else {
        run_model(32, FnBuild(low_bits_zero), 0..200, 100, 100, 80, &[]);
    }
}

#[test]
fn cursor_model_equal_hashes() {
    if MIRI {
        run_model(2, FnBuild(five_hashes), 0..25, 25, 15, 30, &[]);
    } else {
        run_model(32, FnBuild(five_hashes), 0..150, 60, 60, 80, &[]);
    }
}

#[test]
fn cursor_model_same_size_growth() {
    // Churn through new clusters early in every walk, so that the overflow buckets pile up.
    let seen = if MIRI {
        run_model(2, FnBuild(clusters_of_32), 10..20, 16, 60, 30, &[Op::Step(2, false), Op::Churn(300)])
    } else {
        run_model(32, FnBuild(clusters_of_32), 40..300, 64, 400, 80, &[Op::Step(2, false), Op::Churn(800)])
    };
    assert!(seen > 0, "no same-size growth happened during a walk");
}

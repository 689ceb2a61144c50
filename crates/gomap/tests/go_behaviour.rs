//! Behaviours of Go 1.19's map (runtime/map_test.go, spec section 7.1, and the
//! deterministic growth facts of spec sections 2 and 3), plus the std
//! `HashMap` API semantics `GoMap` promises.

use gomap::{Entry, GoMap};
use std::collections::HashMap;
use std::hash::BuildHasher;

mod common;

const MIRI: bool = cfg!(miri);

/// Entries that fit before the next doubling: 8 for B = 0, 13 * 2^(B-1) else.
fn cap_of(b: u8) -> usize {
    if b == 0 {
        8
    } else {
        13usize << (b - 1)
    }
}

fn filled(n: u64) -> GoMap<u64, u64> {
    let mut m = GoMap::new();
    for i in 0..n {
        m.insert(i, i * 2);
    }
    m
}

#[track_caller]
fn assert_contents(m: &GoMap<u64, u64>, n: u64) {
    m.check_invariants();
    assert_eq!(m.len() as u64, n);
    for i in 0..n {
        assert_eq!(m.get(&i), Some(&(i * 2)), "key {i}");
    }
    assert_eq!(m.iter().count() as u64, n);
}

/// (b, growing, evacuated, old_buckets, len, overflow_buckets, tombstones)
type Key = (u8, bool, usize, usize, usize, usize, usize);

fn key<K: std::hash::Hash + Eq, V, S: BuildHasher>(m: &GoMap<K, V, S>) -> Key {
    let s = m.stats();
    (s.b, s.growing, s.evacuated, s.old_buckets, s.len, s.overflow_buckets, s.tombstones)
}

// ---------------------------------------------------------------------------
// TestEmptyKeyAndValue
// ---------------------------------------------------------------------------

#[test]
fn empty_key_and_value() {
    #[derive(PartialEq, Eq, Hash, Debug, Clone, Copy)]
    struct Empty;

    let mut a: GoMap<i64, Empty> = GoMap::with_capacity(4);
    let mut b: GoMap<Empty, i64> = GoMap::with_capacity(4);
    let mut c: GoMap<Empty, Empty> = GoMap::with_capacity(4);
    assert_eq!(a.insert(0, Empty), None);
    assert_eq!(b.insert(Empty, 0), None);
    assert_eq!(b.insert(Empty, 1), Some(0));
    assert_eq!(c.insert(Empty, Empty), None);
    assert_eq!(c.insert(Empty, Empty), Some(Empty));
    assert_eq!((a.len(), b.len(), c.len()), (1, 1, 1));
    assert_eq!(b[&Empty], 1);
    assert_eq!(c.get(&Empty), Some(&Empty));
    assert_eq!(c.iter().count(), 1);
    a.check_invariants();
    b.check_invariants();
    c.check_invariants();
    assert_eq!(c.remove(&Empty), Some(Empty));
    assert!(c.is_empty());
    c.check_invariants();

    // Unit keys and values across many growths.
    let n: u64 = if MIRI { 120 } else { 3000 };
    let mut s: GoMap<u64, ()> = GoMap::new();
    for i in 0..n {
        assert_eq!(s.insert(i, ()), None);
    }
    assert_eq!(s.insert(5, ()), Some(()));
    assert_eq!(s.len() as u64, n);
    s.check_invariants();
    for i in (0..n).step_by(2) {
        assert_eq!(s.remove(&i), Some(()));
    }
    s.finish_growth();
    s.check_invariants();
    assert_eq!(s.len() as u64, n / 2);
    assert!((0..n).all(|i| s.contains_key(&i) == (i % 2 == 1)));
    let mut u: GoMap<(), ()> = GoMap::new();
    assert_eq!(u.insert((), ()), None);
    assert_eq!(u.insert((), ()), Some(()));
    assert_eq!(u.len(), 1);
    assert_eq!(u.into_iter().count(), 1);
}

// ---------------------------------------------------------------------------
// TestBigItems / TestMapLargeKeyNoPointer / TestMapLargeValNoPointer
// ---------------------------------------------------------------------------

type BigKey = [u64; 40]; // 320 bytes
type BigVal = [u8; 256];

fn big_key(i: u64) -> BigKey {
    std::array::from_fn(|j| i.wrapping_mul(1_000_003) ^ j as u64)
}

fn big_val(i: u64, salt: u8) -> BigVal {
    std::array::from_fn(|j| (i as u8).wrapping_mul(31) ^ (j as u8) ^ salt)
}

#[test]
fn big_keys_and_values_round_trip() {
    let n: u64 = if MIRI { 45 } else { 1500 };
    let mut m: GoMap<BigKey, BigVal> = GoMap::new();
    for i in 0..n {
        assert!(m.insert(big_key(i), big_val(i, 0)).is_none());
        if i % 50 == 0 {
            m.check_invariants();
        }
    }
    m.check_invariants();
    assert_eq!(m.len() as u64, n);
    for i in 0..n {
        assert_eq!(m.get(&big_key(i)), Some(&big_val(i, 0)));
    }
    // Iteration yields every (key, value) pair exactly once.
    let mut seen: HashMap<BigKey, BigVal> = HashMap::new();
    for (k, v) in &m {
        assert!(seen.insert(*k, *v).is_none());
    }
    assert_eq!(seen.len() as u64, n);
    for i in 0..n {
        assert_eq!(seen[&big_key(i)], big_val(i, 0));
    }
    // Mutate through get_mut / iter_mut, remove a third, overwrite another.
    for i in (0..n).step_by(3) {
        assert_eq!(m.remove(&big_key(i)), Some(big_val(i, 0)));
    }
    for i in (1..n).step_by(3) {
        m.get_mut(&big_key(i)).unwrap()[0] ^= 0xFF;
    }
    for i in (2..n).step_by(3) {
        assert_eq!(m.insert(big_key(i), big_val(i, 7)), Some(big_val(i, 0)));
    }
    // Grow further with more big entries.
    for i in n..2 * n {
        m.insert(big_key(i), big_val(i, 9));
    }
    m.finish_growth();
    m.check_invariants();
    for i in 0..2 * n {
        let got = m.get(&big_key(i));
        if i >= n {
            assert_eq!(got, Some(&big_val(i, 9)));
        } else if i % 3 == 0 {
            assert_eq!(got, None);
        } else if i % 3 == 1 {
            let mut e = big_val(i, 0);
            e[0] ^= 0xFF;
            assert_eq!(got, Some(&e));
        } else {
            assert_eq!(got, Some(&big_val(i, 7)));
        }
    }
    let owned: Vec<(BigKey, BigVal)> = m.into_iter().collect();
    assert_eq!(owned.len() as u64, 2 * n - n.div_ceil(3));
}

// ---------------------------------------------------------------------------
// TestIncrementAfterDelete* / TestIncrementAfterBulkClear*
// ---------------------------------------------------------------------------

#[test]
fn increment_after_delete_value_int() {
    let mut m: GoMap<i64, i64> = GoMap::new();
    m.insert(12, 99);
    assert_eq!(m.remove(&12), Some(99));
    *m.entry(13).or_insert(0) += 1;
    assert_eq!(m[&13], 1);
    // The deleted key itself starts from zero again.
    *m.entry(12).or_default() += 1;
    assert_eq!(m[&12], 1);
}

#[test]
fn increment_after_delete_value_int32() {
    let mut m: GoMap<i32, i32> = GoMap::new();
    m.insert(12, 99);
    m.remove(&12);
    *m.entry(13).or_insert(0) += 1;
    assert_eq!(m[&13], 1);
}

#[test]
fn increment_after_delete_key_string_value_int() {
    let mut m: GoMap<String, i64> = GoMap::new();
    m.insert("key1".to_string(), 99);
    m.remove("key1");
    *m.entry("key2".to_string()).or_insert(0) += 1;
    assert_eq!(m["key2"], 1);
}

#[test]
fn increment_after_delete_key_value_string() {
    let mut m: GoMap<String, String> = GoMap::new();
    m.insert("key1".to_string(), "99".to_string());
    m.remove("key1");
    m.entry("key2".to_string()).or_default().push('1');
    assert_eq!(m["key2"], "1");
}

#[test]
fn increment_after_bulk_clear() {
    // Go's `for k := range m { delete(m, k) }` idiom is mapclear; also try
    // the per-entry equivalents.
    for how in 0..3 {
        let mut m: GoMap<String, i64> = GoMap::new();
        m.insert("key1".to_string(), 99);
        match how {
            0 => m.clear(),
            1 => m.retain(|_, _| false),
            _ => drop(m.drain()),
        }
        *m.entry("key2".to_string()).or_insert(0) += 1;
        assert_eq!(m["key2"], 1);
        *m.entry("key1".to_string()).or_insert(0) += 1;
        assert_eq!(m["key1"], 1);
    }
}

#[test]
fn increment_after_delete_during_growth() {
    let n: u64 = if MIRI { 53 } else { 833 };
    let mut m = filled(n);
    assert!(m.stats().growing);
    for i in 0..n {
        assert_eq!(m.remove(&i), Some(i * 2));
        *m.entry(i).or_insert(0) += 1;
    }
    m.check_invariants();
    assert!(m.values().all(|&v| v == 1));
    assert_eq!(m.len() as u64, n);
}

// ---------------------------------------------------------------------------
// TestIgnoreBogusMapHint / TestMapBuckets / sizing
// ---------------------------------------------------------------------------

#[test]
fn ignore_bogus_map_hint() {
    for hint in [usize::MAX, 1usize << (usize::BITS - 2)] {
        let mut m: GoMap<u64, u64> = GoMap::with_capacity(hint);
        let s = m.stats();
        assert_eq!((s.b, s.buckets, s.len), (0, 1, 0), "hint {hint}");
        assert_eq!(m.capacity(), 8, "hint {hint} must behave like 0");
        for i in 0..20 {
            m.insert(i, i * 2);
        }
        assert_contents(&m, 20);
        assert_eq!(m.stats().b, 2, "behaves like a map made without hint");

        let m2: GoMap<u64, u64> = GoMap::with_capacity_and_hasher(hint, gomap::DefaultHashBuilder::default());
        assert_eq!(m2.stats().b, 0);
        let m3: GoMap<[u8; 256], u64> = GoMap::with_capacity(hint);
        assert_eq!(m3.stats().b, 0);
    }
}

#[test]
fn map_buckets_for_small_hints_and_sizes() {
    let table: &[(usize, u8)] = &[
        (0, 0),
        (1, 0),
        (8, 0),
        (9, 1),
        (13, 1),
        (14, 2),
        (26, 2),
        (27, 3),
        (52, 3),
        (53, 4),
        (100, 4),
        (1000, 8),
        (10_000, 11),
    ];
    for &(n, b) in table {
        let made: GoMap<u64, u64> = GoMap::with_capacity(n);
        let s = made.stats();
        assert_eq!(s.b, b, "with_capacity({n})");
        assert_eq!(s.buckets, 1 << b);
        assert_eq!(s.overflow_buckets, 0);
        assert!(!s.growing);
        assert_eq!(made.capacity(), cap_of(b));
        assert!(made.capacity() >= n);
        if MIRI && n > 1000 {
            continue;
        }
        // Inserting n keys into a map made without hint reaches the same B
        // (TestMapBuckets counts 2^B, which is the new size during growth).
        let grown = filled(n as u64);
        assert_eq!(grown.stats().b, b, "{n} inserts without hint");
        // A map made with hint n absorbs n inserts without any growth.
        let mut hinted: GoMap<u64, u64> = GoMap::with_capacity(n);
        for i in 0..n as u64 {
            hinted.insert(i, i);
            let s = hinted.stats();
            assert!(s.b == b && !s.growing, "hinted map grew at insert {i}");
        }
    }
}

#[test]
fn max_hint_per_b() {
    let max_b = if MIRI { 8 } else { 16 };
    for b in 0..max_b {
        let max_hint = cap_of(b);
        let m: GoMap<u64, u64> = GoMap::with_capacity(max_hint);
        assert_eq!(m.stats().b, b, "with_capacity({max_hint})");
        let m: GoMap<u64, u64> = GoMap::with_capacity(max_hint + 1);
        assert_eq!(m.stats().b, b + 1, "with_capacity({})", max_hint + 1);
    }
}

// ---------------------------------------------------------------------------
// TestConcurrentReadsAfterGrowth
// ---------------------------------------------------------------------------

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn concurrent_reads_after_growth() {
    assert_send_sync::<GoMap<u64, u64>>();
    let (rounds, n, readers) = if MIRI { (1, 60, 2) } else { (10, 250, 8) };
    for _ in 0..rounds {
        let mut m: GoMap<u64, u64> = GoMap::new();
        let mut saw_growing = false;
        for i in 0..n {
            m.insert(i, i * 2);
            let before = key(&m);
            saw_growing |= before.1;
            let m = &m;
            std::thread::scope(|s| {
                for r in 0..readers {
                    s.spawn(move || {
                        if r % 2 == 0 {
                            for k in 0..=i {
                                assert_eq!(m.get(&k), Some(&(k * 2)));
                            }
                            assert_eq!(m.get(&(i + 1)), None);
                        } else {
                            let mut count = 0;
                            for (k, v) in m.iter() {
                                assert_eq!(*v, k * 2);
                                count += 1;
                            }
                            assert_eq!(count, i + 1);
                        }
                    });
                }
            });
            assert_eq!(key(m), before, "readers changed the map");
        }
        assert!(saw_growing, "readers never ran against a growing map");
        m.check_invariants();
    }
}

// ---------------------------------------------------------------------------
// Growth facts
// ---------------------------------------------------------------------------

#[test]
fn growth_starts_at_go_insert_numbers() {
    let n: u64 = if MIRI { 230 } else { 3400 };
    let mut m: GoMap<u64, u64> = GoMap::new();
    let mut starts = Vec::new();
    let mut writes = 0usize;
    let mut old = 0usize;
    for i in 1..=n {
        let s0 = m.stats();
        m.insert(i, i);
        let s1 = m.stats();
        if s1.b != s0.b {
            assert!(!s0.growing, "growth started while growing");
            assert_eq!(s1.b, s0.b + 1);
            // The count before the insert equals the bound for the old B.
            assert_eq!(s0.len, cap_of(s0.b));
            starts.push(i);
            old = 1 << s0.b;
            writes = 1;
            if s0.b <= 1 {
                // 1 or 2 old buckets: done inside the triggering insert.
                assert!(!s1.growing);
            } else {
                assert!(s1.growing && !s1.same_size_growth);
                assert_eq!(s1.old_buckets, old);
                // The trigger evacuates its own old bucket and bucket 0, so
                // nevacuate is 1 or 2 afterwards.
                assert!(matches!(s1.evacuated, 1 | 2), "{}", s1.evacuated);
            }
        } else if s0.growing {
            writes += 1;
            assert!(!s1.growing || s1.evacuated > s0.evacuated, "insert during growth did not advance evacuation");
        } else {
            assert!(!s1.growing, "no same-size growth during a plain fill");
        }
        if (s1.b != s0.b || s0.growing) && !s1.growing {
            // At most two buckets per write, and nevacuate advances on every
            // write: 2^oldB / 2 <= writes <= 2^oldB.
            assert!(writes >= old.div_ceil(2) && writes <= old, "growth from {old} old buckets took {writes} writes");
        }
    }
    let expected: Vec<u64> = [9, 14, 27, 53, 105, 209, 417, 833, 1665, 3329].into_iter().filter(|&x| x <= n).collect();
    assert_eq!(starts, expected);
    m.check_invariants();
}

#[test]
fn updates_and_deletes_never_start_a_growth() {
    for (fill, b) in [(8u64, 0u8), (13, 1), (26, 2), (52, 3), (104, 4)] {
        let mut m = filled(fill);
        m.finish_growth();
        assert_eq!(m.stats().b, b);
        for round in 0..3u64 {
            for i in 0..fill {
                assert!(m.insert(i, i * 2 + round).is_some());
                *m.get_mut(&i).unwrap() = i * 2;
                *m.entry(i).or_insert(0) += 0;
                m.entry(i).and_modify(|v| *v += 0);
                assert_eq!(m.remove(&(1000 + i)), None);
            }
            let s = m.stats();
            assert!(s.b == b && !s.growing, "fill {fill}: {s:?}");
        }
        // Delete one, insert another new key: count is back at the bound,
        // still no growth.
        m.remove(&0);
        m.insert(fill, fill * 2);
        let s = m.stats();
        assert!(s.b == b && !s.growing);
        // Now the next new key starts a doubling.
        m.insert(fill + 1, 0);
        assert_eq!(m.stats().b, b + 1);
        m.check_invariants();
    }
}

/// Map of 833 (Miri: 53) keys that has just started a doubling growth.
fn just_started_growing() -> GoMap<u64, u64> {
    let n = if MIRI { 53 } else { 833 };
    let m = filled(n);
    let s = m.stats();
    assert!(s.growing && !s.same_size_growth);
    m
}

#[test]
fn lookups_never_advance_growth() {
    let m = just_started_growing();
    let before = key(&m);
    let n = m.len() as u64;
    for i in 0..2 * n {
        assert_eq!(m.get(&i).is_some(), i < n);
        assert_eq!(m.contains_key(&i), i < n);
        assert_eq!(m.get_key_value(&i).is_some(), i < n);
    }
    assert_eq!(m.iter().count() as u64, n);
    assert_eq!(m.keys().count() as u64, n);
    assert_eq!(m.values().count() as u64, n);
    let _ = format!("{m:?}");
    let c = m.clone();
    assert_eq!(c, m);
    assert_eq!(m.len() as u64, n);
    let _ = m.capacity();
    m.check_invariants();
    assert_eq!(key(&m), before, "lookups advanced the growth");
}

#[test]
fn every_write_during_growth_advances_evacuation() {
    type Write = fn(&mut GoMap<u64, u64>, u64);
    let writes: [(&str, Write); 4] = [
        ("delete absent key", |m, i| assert_eq!(m.remove(&(1 << 40 | i)), None)),
        ("delete present key", |m, i| assert_eq!(m.remove(&i), Some(i * 2))),
        ("update", |m, i| assert!(m.insert(i % 40, 1).is_some())),
        ("insert new key", |m, i| assert_eq!(m.insert(1 << 41 | i, 1), None)),
    ];
    for (name, write) in writes {
        let mut m = just_started_growing();
        let old = m.stats().old_buckets;
        let mut count = 0;
        let mut i = 0u64;
        loop {
            let s0 = m.stats();
            if !s0.growing {
                break;
            }
            write(&mut m, i);
            i += 1;
            count += 1;
            let s1 = m.stats();
            assert_eq!(s1.b, s0.b, "{name}");
            assert!(
                !s1.growing || s1.evacuated > s0.evacuated,
                "{name} during growth did not advance evacuation ({} -> {})",
                s0.evacuated,
                s1.evacuated
            );
        }
        // The trigger already did one write; nevacuate advanced on every
        // following one.
        assert!(count < old, "{name}: {count} writes for {old} old buckets");
        m.check_invariants();
    }
}

#[test]
fn clear_cancels_growth_and_keeps_b() {
    let mut m = just_started_growing();
    let b = m.stats().b;
    m.clear();
    let s = m.stats();
    assert_eq!(s.b, b, "clear keeps B");
    assert!(!s.growing && !s.same_size_growth);
    assert_eq!((s.len, s.evacuated, s.old_buckets), (0, 0, 0));
    assert_eq!(s.overflow_buckets, 0, "clear resets noverflow");
    assert_eq!(s.tombstones, 0);
    assert_eq!(m.capacity(), cap_of(b));
    assert_eq!(m.iter().count(), 0);
    m.check_invariants();
    // Refilling up to the old size needs no growth.
    let n = cap_of(b) as u64;
    for i in 0..n {
        m.insert(i, i * 2);
        let s = m.stats();
        assert!(s.b == b && !s.growing);
    }
    assert_contents(&m, n);
    // Clearing a map that is not growing also keeps B.
    m.clear();
    assert_eq!(m.stats().b, b);
    m.clear();
    assert!(m.is_empty());
}

/// Every key in bucket 0 (low 40 hash bits zero): long chains, so there are
/// overflow buckets and tombstones to reset.
#[derive(Clone, Copy, Default)]
struct OneChain;

struct OneChainHasher(u64);

impl std::hash::Hasher for OneChainHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn finish(&self) -> u64 {
        self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) << 40
    }
}

impl BuildHasher for OneChain {
    type Hasher = OneChainHasher;
    fn build_hasher(&self) -> OneChainHasher {
        OneChainHasher(0)
    }
}

#[test]
fn clear_resets_overflow_buckets_and_tombstones() {
    let mut m: GoMap<u64, u64, OneChain> = GoMap::with_hasher(OneChain);
    for i in 0..100 {
        m.insert(i, i);
    }
    m.finish_growth();
    for i in (0..50).step_by(2) {
        m.remove(&i);
    }
    let s = m.stats();
    let b = s.b;
    assert!(s.overflow_buckets > 0 && s.tombstones > 0, "{s:?}");
    m.clear();
    let s = m.stats();
    assert_eq!((s.b, s.len, s.overflow_buckets, s.tombstones), (b, 0, 0, 0));
    assert!(!s.growing);
    m.check_invariants();
    for i in 0..100 {
        m.insert(i, i * 2);
    }
    m.check_invariants();
    assert_eq!(m.stats().b, b);
    assert!((0..100).all(|i| m[&i] == i * 2));
}

#[test]
fn maps_never_shrink() {
    let n: u64 = if MIRI { 200 } else { 1000 };
    let mut m = filled(n);
    m.finish_growth();
    let b = m.stats().b;
    for i in 0..n {
        m.remove(&i);
    }
    let s = m.stats();
    assert_eq!((s.b, s.len), (b, 0));
    assert!(!s.growing);
    assert_eq!(s.tombstones, 0, "deleting everything leaves no tombstone");
    m.check_invariants();
    for i in 0..n {
        m.insert(i, i * 2);
        assert!(!m.stats().growing);
    }
    assert_eq!(m.stats().b, b);
    assert_contents(&m, n);
}

/// A new key takes the first empty slot of its chain, as Go's `mapassign` does: a
/// tombstone in the head bucket before the `EMPTY_REST` slots of an overflow bucket.
#[test]
fn a_new_key_takes_the_first_tombstone_of_its_chain() {
    let mut m: GoMap<u64, u64, OneChain> = GoMap::with_hasher(OneChain);
    for i in 0..12 {
        m.insert(i, i);
    }
    m.finish_growth();
    // One chain: keys 0..8 fill its head bucket, 8..12 start an overflow bucket.
    assert_eq!(m.stats().overflow_buckets, 1);
    m.remove(&3);
    assert_eq!(m.stats().tombstones, 1, "slot 3 of the head: a tombstone, slot 4 is live");
    m.insert(100, 100);
    let s = m.stats();
    assert_eq!((s.len, s.tombstones, s.overflow_buckets), (12, 0, 1), "the tombstone is reused");
    m.check_invariants();
}

/// With B = 0 the slot of each key is its insertion position, so the
/// emptyOne / emptyRest bookkeeping of delete is fully predictable.
#[test]
fn tombstones_in_a_single_bucket() {
    let mut m: GoMap<u64, u64> = GoMap::new();
    for i in 0..8 {
        m.insert(i, i);
    }
    let t = |m: &GoMap<u64, u64>| {
        m.check_invariants();
        let s = m.stats();
        assert_eq!(s.b, 0);
        s.tombstones
    };
    assert_eq!(t(&m), 0);
    m.remove(&3); // slot 3: emptyOne (slot 4 is live)
    assert_eq!(t(&m), 1);
    m.remove(&7); // last slot: emptyRest, slot 6 live stops the back-propagation
    assert_eq!(t(&m), 1);
    m.remove(&6);
    m.remove(&5);
    assert_eq!(t(&m), 1);
    m.remove(&4); // emptyRest propagates back over slot 3
    assert_eq!(t(&m), 0);
    m.remove(&0);
    assert_eq!(t(&m), 1);
    m.remove(&1);
    assert_eq!(t(&m), 2);
    m.remove(&2); // slots 0..=2 all collapse into emptyRest
    assert_eq!(t(&m), 0);
    assert!(m.is_empty());
    // Delete of an absent key changes nothing.
    m.insert(10, 10);
    m.insert(11, 11);
    let before = key(&m);
    assert_eq!(m.remove(&12), None);
    assert_eq!(key(&m), before);
    m.remove(&10);
    assert_eq!(t(&m), 1);
    m.insert(12, 12); // reuses the tombstone (first empty slot)
    assert_eq!(t(&m), 0);
    assert_eq!(m.len(), 2);
}

#[test]
fn evacuate_step_and_finish_growth() {
    let mut m = just_started_growing();
    let n = m.len() as u64;
    let s = m.stats();
    let old = s.old_buckets;
    let b = s.b;
    // Zero steps: nothing happens.
    let before = key(&m);
    assert!(!m.evacuate_step(0));
    assert_eq!(key(&m), before);
    // One step at a time.
    let mut calls = 0;
    loop {
        let s0 = m.stats();
        let done = m.evacuate_step(1);
        calls += 1;
        let s1 = m.stats();
        assert_eq!(done, !s1.growing);
        assert_eq!(s1.b, b);
        if done {
            break;
        }
        assert!(s1.evacuated > s0.evacuated, "evacuate_step(1) made no progress");
        assert!(calls < old);
        m.check_invariants();
    }
    let s = m.stats();
    assert!(!s.growing);
    assert_eq!((s.evacuated, s.old_buckets), (0, 0));
    // Only inserts so far: every chain was packed densely.
    assert_eq!(s.tombstones, 0);
    assert_contents(&m, n);
    // Not growing: both are no-ops.
    let before = key(&m);
    assert!(m.evacuate_step(5));
    m.finish_growth();
    assert_eq!(key(&m), before);

    // Next growth: a big step completes it.
    let mut i = n;
    while !m.stats().growing {
        m.insert(i, i * 2);
        i += 1;
    }
    assert_eq!(i, 2 * n - 1, "next growth starts at insert #{}", 2 * n - 1);
    assert!(m.evacuate_step(usize::MAX));
    assert!(!m.stats().growing);
    assert_contents(&m, i);

    // finish_growth mid-growth.
    while !m.stats().growing {
        m.insert(i, i * 2);
        i += 1;
    }
    m.finish_growth();
    let s = m.stats();
    assert!(!s.growing);
    assert_eq!(s.b, b + 2);
    assert_contents(&m, i);
}

#[test]
fn capacity_is_entries_before_next_growth() {
    let mut m: GoMap<u64, u64> = GoMap::new();
    assert_eq!(m.capacity(), 8);
    assert_eq!(GoMap::<u64, u64>::with_capacity(0).capacity(), 8);
    for i in 0..8 {
        m.insert(i, i);
    }
    assert_eq!((m.capacity(), m.stats().b), (8, 0));
    m.insert(8, 8);
    assert_eq!((m.capacity(), m.stats().b), (13, 1));
    for i in 9..14 {
        m.insert(i, i);
    }
    assert_eq!((m.capacity(), m.stats().b), (26, 2));
    for h in [1, 7, 9, 20, 27, 100, 500, 777] {
        let c = GoMap::<u64, u64>::with_capacity(h).capacity();
        assert!(c >= h, "with_capacity({h}).capacity() = {c}");
    }
}

/// Bucket `k % 16` (for B = 4), the tophash varied.
fn bucket_of_16(k: u64) -> u64 {
    (k % 16) | (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) & 0xFF00_0000_0000_0000)
}

/// No growth starts while one runs, so inserts during a same-size growth can take a map
/// past 6.5 entries per bucket: its capacity is then its length (an insert of a new key
/// after the growth starts a doubling), never less, as `std`'s `capacity() >= len()`.
#[test]
fn capacity_is_never_below_len_during_a_same_size_growth() {
    let mut m = GoMap::with_capacity_and_hasher(100, common::FnBuild(bucket_of_16));
    // 6 keys in each of the 16 buckets, then a 9-key chain (one overflow bucket) in each,
    // emptied again at once: 96 entries and 16 overflow buckets, Go's threshold for B = 4.
    for k in 0..96 {
        m.insert(k, k);
    }
    for bucket in 0..16 {
        let extra: Vec<u64> = (0..3).map(|j| 1600 + 16 * j + bucket).collect();
        for &k in &extra {
            m.insert(k, k);
        }
        for k in &extra {
            m.remove(k);
        }
    }
    let s = m.stats();
    assert_eq!((s.b, s.len, s.overflow_buckets, s.growing), (4, 96, 16, false));
    assert_eq!(m.capacity(), cap_of(4));
    // The next new key starts a same-size growth; then new keys for bucket 0 evacuate one
    // old bucket at the mark each, so the map passes 104 entries before the growth ends.
    let (mut peak, mut next) = (0, 200);
    let end = loop {
        m.insert(next * 16, 0);
        next += 1;
        let s = m.stats();
        assert!(m.capacity() >= m.len(), "capacity {} below len {} at {s:?}", m.capacity(), m.len());
        if !s.same_size_growth {
            break s;
        }
        peak = peak.max(s.len);
    };
    assert!(peak > cap_of(4), "the growth ended at {peak} entries: the test sets up nothing");
    // The insert that ended it found the map past the bound and started a doubling, as
    // Go's mapassign does right after its growWork.
    assert!(end.growing && end.b == 5, "{end:?}");
    assert_eq!(m.capacity(), cap_of(5));
    m.check_invariants();
}

#[test]
fn reserve_makes_next_inserts_growth_free() {
    // A map with spare room: reserve within it changes nothing.
    let mut m = filled(10); // B = 1, capacity 13
    assert_eq!(m.stats().b, 1);
    m.reserve(3);
    assert_eq!(m.stats().b, 1);
    m.reserve(0);
    assert_eq!(m.stats().b, 1);
    m.reserve(4);
    assert!(m.capacity() >= 14);

    // From a full single bucket, and from the middle of a growth.
    let cases: [(u64, usize); 3] = [(8, 100), (20, 1000), (if MIRI { 53 } else { 833 }, 2000)];
    for (fill, extra) in cases {
        let mut m = filled(fill);
        m.reserve(extra);
        assert!(m.capacity() >= fill as usize + extra);
        let b = m.stats().b;
        for i in 0..extra as u64 {
            let s0 = m.stats();
            m.insert(1 << 40 | i, i);
            let s1 = m.stats();
            assert_eq!(s1.b, b, "reserve({extra}): B changed at insert {i}");
            assert!(s0.growing || !s1.growing, "reserve({extra}): growth at insert {i}");
        }
        m.finish_growth();
        m.check_invariants();
        assert_eq!(m.len(), fill as usize + extra);
        // One more new key than reserved may grow again, but not necessarily.
    }

    // reserve(0) on a full single bucket: the next insert still doubles.
    let mut m = filled(8);
    m.reserve(0);
    assert_eq!(m.stats().b, 0);
    m.insert(100, 0);
    assert_eq!(m.stats().b, 1);
}

// ---------------------------------------------------------------------------
// std API semantics
// ---------------------------------------------------------------------------

#[test]
fn debug_matches_std() {
    let mut g: GoMap<u32, &str> = GoMap::new();
    let mut s: HashMap<u32, &str> = HashMap::new();
    assert_eq!(format!("{g:?}"), format!("{s:?}"));
    g.insert(1, "a");
    s.insert(1, "a");
    assert_eq!(format!("{g:?}"), format!("{s:?}"));
    assert_eq!(format!("{g:?}"), r#"{1: "a"}"#);
    assert_eq!(format!("{g:#?}"), format!("{s:#?}"));
    // Several entries: same set of "k: v" items.
    let g: GoMap<u32, u32> = (0..20).map(|i| (i, i * i)).collect();
    let text = format!("{g:?}");
    assert!(text.starts_with('{') && text.ends_with('}'));
    let mut items: Vec<&str> = text[1..text.len() - 1].split(", ").collect();
    items.sort_unstable();
    let mut expected: Vec<String> = (0..20).map(|i| format!("{i}: {}", i * i)).collect();
    expected.sort_unstable();
    assert_eq!(items, expected);
}

#[test]
fn partial_eq_ignores_order() {
    let n = if MIRI { 60 } else { 1000 };
    let a: GoMap<u64, u64> = (0..n).map(|i| (i, i + 1)).collect();
    let mut b: GoMap<u64, u64> = GoMap::new();
    for i in (0..n).rev() {
        b.insert(i, i + 1);
    }
    assert_eq!(a, b);
    assert_eq!(b, a);
    let mut c = b.clone();
    *c.get_mut(&3).unwrap() = 0;
    assert_ne!(a, c);
    let mut d = b.clone();
    d.remove(&3);
    assert_ne!(a, d);
    assert_ne!(d, a);
    d.insert(n + 5, 4);
    assert_ne!(a, d);
    // Growing vs settled map with the same contents.
    let g = just_started_growing();
    let mut h = g.clone();
    h.finish_growth();
    assert!(g.stats().growing);
    assert_eq!(g, h);
    fn is_eq<T: Eq>(_: &T) {}
    is_eq(&a);
}

#[test]
fn index_present_key() {
    let m: GoMap<String, u32> = [("a".to_string(), 1)].into_iter().collect();
    assert_eq!(m["a"], 1);
    assert_eq!(m[&"a".to_string()], 1);
}

#[test]
#[should_panic]
fn index_panics_on_missing_key() {
    let m: GoMap<u32, u32> = [(1, 1)].into_iter().collect();
    let _ = m[&2];
}

#[test]
fn from_iterator_and_extend() {
    // Later duplicates win, as in std.
    let m: GoMap<u32, &str> = vec![(1, "a"), (2, "b"), (1, "c")].into_iter().collect();
    assert_eq!(m.len(), 2);
    assert_eq!(m[&1], "c");
    let from_array = GoMap::<u8, u8>::from_iter([(1, 2), (3, 4)]);
    assert_eq!(from_array.len(), 2);

    let mut m: GoMap<u64, u64> = GoMap::new();
    m.extend((0..100).map(|i| (i, i)));
    m.extend(vec![(5, 50), (200, 2)]);
    assert_eq!(m.len(), 101);
    assert_eq!(m[&5], 50);
    // By reference (Copy keys and values).
    let std_map: HashMap<u64, u64> = (300..400).map(|i| (i, i * 3)).collect();
    m.extend(std_map.iter());
    m.extend([(&7u64, &70u64)]);
    let other: GoMap<u64, u64> = (1000..1010).map(|i| (i, 1)).collect();
    m.extend(&other);
    assert_eq!(m.len(), 211);
    assert_eq!(m[&7], 70);
    assert_eq!(m[&350], 1050);
    assert_eq!(m[&1005], 1);
    m.check_invariants();
}

#[test]
fn iterator_traits_and_into_iterator_forms() {
    let n: u64 = if MIRI { 60 } else { 500 };
    let mut m = filled(n);
    // & and &mut
    let mut sum = 0;
    for (k, v) in &m {
        assert_eq!(*v, k * 2);
        sum += v;
    }
    assert_eq!(sum, n * (n - 1));
    for (_, v) in &mut m {
        *v += 1;
    }
    for v in m.values_mut() {
        *v -= 1;
    }
    for (k, v) in m.iter_mut() {
        assert_eq!(*v, k * 2);
    }
    assert_contents(&m, n);
    // ExactSizeIterator + FusedIterator
    let mut it = m.iter();
    assert_eq!(it.len(), n as usize);
    it.next();
    assert_eq!(it.len(), n as usize - 1);
    for _ in it.by_ref() {}
    assert_eq!(it.len(), 0);
    assert!(it.next().is_none() && it.next().is_none());
    assert_eq!(m.keys().len(), n as usize);
    assert_eq!(m.values().len(), n as usize);
    assert_eq!(m.iter_mut().len(), n as usize);
    assert_eq!(m.values_mut().len(), n as usize);
    // Unchanged map: same order every time (also while growing).
    let g = just_started_growing();
    for map in [&m, &g] {
        let a: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        let b: Vec<(u64, u64)> = map.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(a, b);
        let keys: Vec<u64> = map.keys().copied().collect();
        assert_eq!(keys, a.iter().map(|e| e.0).collect::<Vec<_>>());
    }
    // Owned forms
    let mut owned: Vec<(u64, u64)> = m.clone().into_iter().collect();
    owned.sort_unstable();
    assert_eq!(owned, (0..n).map(|i| (i, i * 2)).collect::<Vec<_>>());
    let mut keys: Vec<u64> = m.clone().into_keys().collect();
    keys.sort_unstable();
    assert_eq!(keys, (0..n).collect::<Vec<_>>());
    let mut values: Vec<u64> = m.clone().into_values().collect();
    values.sort_unstable();
    assert_eq!(values, (0..n).map(|i| i * 2).collect::<Vec<_>>());
    let mut into = m.into_iter();
    assert_eq!(into.len(), n as usize);
    for _ in into.by_ref() {}
    assert!(into.next().is_none());
}

#[test]
fn entry_api_and_borrowed_lookups() {
    let mut m: GoMap<String, u32> = GoMap::new();
    assert_eq!(*m.entry("a".into()).or_insert_with(|| 3), 3);
    assert_eq!(*m.entry("bb".into()).or_insert_with_key(|k| k.len() as u32), 2);
    assert_eq!(*m.entry("c".into()).or_default(), 0);
    assert_eq!(m.entry("a".into()).key(), "a");
    match m.entry("zz".into()) {
        Entry::Vacant(v) => assert_eq!(v.into_key(), "zz"),
        Entry::Occupied(_) => panic!("zz is absent"),
    }
    assert!(!m.contains_key("zz"));
    match m.entry("a".into()) {
        Entry::Occupied(o) => {
            assert_eq!(o.key(), "a");
            assert_eq!(o.remove_entry(), ("a".to_string(), 3));
        }
        Entry::Vacant(_) => panic!("a is present"),
    }
    assert_eq!(m.get("bb"), Some(&2));
    assert_eq!(m.get_key_value("bb"), Some((&"bb".to_string(), &2)));
    assert_eq!(m.remove("bb"), Some(2));
    assert_eq!(m.remove_entry("c"), Some(("c".to_string(), 0)));
    assert!(m.is_empty());
    let d: GoMap<u8, u8> = GoMap::default();
    assert!(d.is_empty() && d.capacity() == 8);
}

#[test]
fn hasher_is_used_and_returned() {
    #[derive(Clone, Default)]
    struct Fixed;
    struct H(u64);
    impl std::hash::Hasher for H {
        fn write(&mut self, b: &[u8]) {
            for &x in b {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(x));
            }
        }
        fn finish(&self) -> u64 {
            self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        }
    }
    impl BuildHasher for Fixed {
        type Hasher = H;
        fn build_hasher(&self) -> H {
            H(7)
        }
    }
    let mut m: GoMap<u32, u32, Fixed> = GoMap::with_hasher(Fixed);
    let mut s: GoMap<u32, u32, Fixed> = GoMap::with_capacity_and_hasher(100, Fixed);
    for i in 0..200 {
        m.insert(i, i);
        s.insert(i, i);
    }
    assert_eq!(m.hasher().hash_one(5u32), Fixed.hash_one(5u32));
    assert_eq!(m, s);
    m.check_invariants();
    s.check_invariants();
    // Two default maps are seeded independently but compare equal.
    let a: GoMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    let b: GoMap<u32, u32> = (0..100).map(|i| (i, i)).collect();
    assert_eq!(a, b);
}

#[cfg(feature = "serde")]
#[test]
fn serde_json_round_trip() {
    let mut g: GoMap<String, Vec<u32>> = GoMap::new();
    let mut s: HashMap<String, Vec<u32>> = HashMap::new();
    for i in 0..50u32 {
        g.insert(format!("k{i}"), vec![i, i * 2]);
        s.insert(format!("k{i}"), vec![i, i * 2]);
    }
    let gj = serde_json::to_string(&g).unwrap();
    let sj = serde_json::to_string(&s).unwrap();
    let gv: serde_json::Value = serde_json::from_str(&gj).unwrap();
    let sv: serde_json::Value = serde_json::from_str(&sj).unwrap();
    assert_eq!(gv, sv);
    let back: GoMap<String, Vec<u32>> = serde_json::from_str(&gj).unwrap();
    back.check_invariants();
    assert_eq!(back, g);
    // Integer keys and an empty map.
    let n: GoMap<u32, i64> = (0..300).map(|i| (i, -(i as i64))).collect();
    let back: GoMap<u32, i64> = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
    assert_eq!(back, n);
    let e: GoMap<u32, u32> = GoMap::new();
    assert_eq!(serde_json::to_string(&e).unwrap(), "{}");
    let back: GoMap<u32, u32> = serde_json::from_str("{}").unwrap();
    assert!(back.is_empty());
    // Duplicate keys in the input: the last one wins, like std.
    let dup: GoMap<String, u32> = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
    let std_dup: HashMap<String, u32> = serde_json::from_str(r#"{"a":1,"a":2}"#).unwrap();
    assert_eq!(dup.len(), std_dup.len());
    assert_eq!(dup["a"], std_dup["a"]);
}

//! Differential tests: `GoMap` against `std::collections::HashMap`.
//!
//! Random sequences of every mutating operation (and the lookups) are applied to
//! both maps. After every step the map's structural invariants are checked
//! (`check_invariants`), its `stats()` are sanity-checked and the growth
//! transitions are compared with Go 1.19's rules (spec sections 2 and 3):
//!
//! * a growth starts only on the insert of a new key while not growing, exactly
//!   when `count+1 > 8 && count+1 > 13*(2^B/2)` (doubling) or
//!   `noverflow >= 2^min(B,15)` (same-size);
//! * every insert and every remove from a non-empty map made while growing
//!   advances the evacuation mark (`nevacuate`) or completes the growth;
//! * lookups never change anything;
//! * `clear` keeps B and cancels a growth.
//!
//! Some runs use deliberately poor hashers so that chains get long and
//! same-size growth happens; a dedicated deterministic test asserts that it
//! does and that it keeps B.

use gomap::{Entry, GoMap};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use common::{
    clusters_of_32, config, five_hashes, generation_32, go_b, low_bits_zero, mid_growth, same_size_churn, FnBuild, MIRI,
};

// ---------------------------------------------------------------------------
// Go's growth rules
// ---------------------------------------------------------------------------

fn over_load_factor(count: usize, b: u8) -> bool {
    count > 8 && count > 13 * ((1usize << b) / 2)
}

fn too_many_overflow_buckets(noverflow: usize, b: u8) -> bool {
    noverflow >= 1usize << b.min(15)
}

/// Entries that fit before the next (doubling) growth.
fn cap_of(b: u8) -> usize {
    if b == 0 {
        8
    } else {
        13usize << (b - 1)
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Snap {
    len: usize,
    b: u8,
    buckets: usize,
    overflow: usize,
    growing: bool,
    same: bool,
    old: usize,
    evac: usize,
    tomb: usize,
    load_factor: f64,
    capacity: usize,
}

fn snap<K: Hash + Eq, V, S: BuildHasher>(m: &GoMap<K, V, S>) -> Snap {
    let s = m.stats();
    Snap {
        len: s.len,
        b: s.b,
        buckets: s.buckets,
        overflow: s.overflow_buckets,
        growing: s.growing,
        same: s.same_size_growth,
        old: s.old_buckets,
        evac: s.evacuated,
        tomb: s.tombstones,
        load_factor: s.load_factor,
        capacity: m.capacity(),
    }
}

/// Consistency of one stats snapshot on its own.
fn check_snap(s: &Snap, len: usize) {
    assert_eq!(s.len, len, "stats.len != len(): {s:?}");
    assert_eq!(s.buckets, 1usize << s.b, "buckets != 2^b: {s:?}");
    assert_eq!(s.growing, s.old > 0, "growing <=> old_buckets > 0: {s:?}");
    if s.growing {
        if s.same {
            assert_eq!(s.old, s.buckets, "same-size growth with old != new: {s:?}");
        } else {
            assert_eq!(s.old * 2, s.buckets, "doubling with old*2 != new: {s:?}");
        }
        assert!(s.evac < s.old, "growing but evacuated >= old_buckets: {s:?}");
    } else {
        assert_eq!(s.evac, 0, "not growing but evacuated != 0: {s:?}");
        assert!(!s.same, "not growing but same_size_growth: {s:?}");
    }
    let lf = s.len as f64 / s.buckets as f64;
    assert!((s.load_factor - lf).abs() < 1e-9, "load_factor: {s:?}");
    // Go's bound for B, or the length when a same-size growth took the map past it.
    assert_eq!(s.capacity, cap_of(s.b).max(s.len), "capacity() != Go's bound for B: {s:?}");
}

/// An insert of a key that was absent.
fn check_new_key_insert(s0: &Snap, s1: &Snap) {
    if s0.growing {
        check_write_during_growth(s0, s1, true);
        return;
    }
    let double = over_load_factor(s0.len + 1, s0.b);
    if double {
        assert_eq!(s1.b, s0.b + 1, "doubling growth expected: {s0:?} -> {s1:?}");
        if s0.b >= 2 {
            assert!(s1.growing && !s1.same, "doubling growth expected: {s0:?} -> {s1:?}");
        }
        return;
    }
    assert_eq!(s1.b, s0.b, "unexpected doubling: {s0:?} -> {s1:?}");
    if s0.b >= 16 {
        return; // noverflow is probabilistic there
    }
    if too_many_overflow_buckets(s0.overflow, s0.b) {
        if s0.b >= 2 {
            assert!(s1.growing && s1.same, "same-size growth expected: {s0:?} -> {s1:?}");
        }
    } else {
        assert!(!s1.growing, "growth started without a trigger: {s0:?} -> {s1:?}");
    }
}

/// A write (insert, update, remove from a non-empty map) while growing:
/// `nevacuate` strictly advances, or the growth completes. Only an insert of a
/// new key may, after completing the growth, start the next one.
fn check_write_during_growth(s0: &Snap, s1: &Snap, may_start_new: bool) {
    assert!(s0.growing);
    if !s1.growing {
        assert_eq!(s1.b, s0.b, "B changed when a growth completed: {s0:?} -> {s1:?}");
        return;
    }
    let continued = s1.b == s0.b && s1.same == s0.same && s1.old == s0.old && s1.evac > s0.evac;
    if continued {
        return;
    }
    assert!(may_start_new, "write during growth did not advance evacuation: {s0:?} -> {s1:?}");
    // The insert completed the growth and then started a new one.
    if s0.same {
        assert!((s1.b == s0.b && s1.same) || (s1.b == s0.b + 1 && !s1.same), "{s0:?} -> {s1:?}");
    } else {
        // A doubling can never be due right after a doubling (spec 3.5).
        assert!(s1.b == s0.b && s1.same, "{s0:?} -> {s1:?}");
    }
}

/// Operations that may not start a growth nor change B (removals, updates,
/// get_mut, retain, extract_if, ...). Progress of an existing growth is allowed.
fn check_no_new_growth(s0: &Snap, s1: &Snap) {
    assert_eq!(s1.b, s0.b, "B changed: {s0:?} -> {s1:?}");
    if !s0.growing {
        assert!(!s1.growing, "growth started: {s0:?} -> {s1:?}");
    } else if s1.growing {
        assert!(
            s1.same == s0.same && s1.old == s0.old && s1.evac >= s0.evac,
            "growth restarted or went backwards: {s0:?} -> {s1:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Insert(u64, u64),
    Remove(u64),
    RemoveEntry(u64),
    GetMut(u64, u64),
    OrInsert(u64, u64),
    AndModify(u64, u64, u64),
    EntryMatch(u64, u64),
    Retain(u64, u64),
    ExtractIf(u64, u64, Option<usize>),
    Clear,
    Drain(Option<usize>),
    /// `reserve(n)`, or `try_reserve(n)` when the flag is set.
    Reserve(usize, bool),
    ShrinkTo(usize),
    FinishGrowth,
    EvacuateStep(usize),
    Get(u64),
    ContainsKey(u64),
    GetKeyValue(u64),
    GetDisjointMut(u64, u64, u64),
    CheckContents,
    BulkInsert(u64, u64),
    BulkRemove(u64, u64),
    FifoChurn(usize),
}

#[derive(Clone, Copy)]
struct Params {
    cases: u32,
    key_range: u64,
    min_ops: usize,
    max_ops: usize,
    bulk_weight: u32,
    max_bulk: u64,
    fifo_weight: u32,
    max_fifo: usize,
    fifo_window: usize,
    max_reserve: u64,
}

#[derive(Clone, Copy)]
enum Kind {
    Insert,
    Remove,
    RemoveEntry,
    GetMut,
    OrInsert,
    AndModify,
    EntryMatch,
    Retain,
    ExtractIf,
    Clear,
    Drain,
    Reserve,
    ShrinkTo,
    FinishGrowth,
    EvacuateStep,
    Get,
    ContainsKey,
    GetKeyValue,
    GetDisjointMut,
    CheckContents,
    BulkInsert,
    BulkRemove,
    FifoChurn,
}

/// Relative frequencies (per ~10 000 operations). Clear and drain are rare so
/// that the map gets big between them; retain and extract_if remove a whole
/// fraction of the map each, so they are rare too.
fn weights(p: &Params) -> Vec<(u32, Kind)> {
    let mut w = vec![
        (3800, Kind::Insert),
        (1200, Kind::Remove),
        (300, Kind::RemoveEntry),
        (500, Kind::GetMut),
        (500, Kind::OrInsert),
        (400, Kind::AndModify),
        (600, Kind::EntryMatch),
        (6, Kind::Retain),
        (16, Kind::ExtractIf),
        (2, Kind::Clear),
        (2, Kind::Drain),
        (50, Kind::Reserve),
        (30, Kind::ShrinkTo),
        (50, Kind::FinishGrowth),
        (100, Kind::EvacuateStep),
        (1000, Kind::Get),
        (400, Kind::ContainsKey),
        (400, Kind::GetKeyValue),
        (200, Kind::GetDisjointMut),
        (100, Kind::CheckContents),
    ];
    if p.bulk_weight > 0 {
        w.push((p.bulk_weight * 10, Kind::BulkInsert));
        w.push((p.bulk_weight * 10 / 3 + 1, Kind::BulkRemove));
    }
    if p.fifo_weight > 0 {
        w.push((p.fifo_weight * 10, Kind::FifoChurn));
    }
    w
}

/// Turns raw random numbers into an operation. Generating plain tuples and
/// decoding them keeps proptest fast enough to run under Miri (a `Union` of
/// boxed strategies is two orders of magnitude slower there).
fn decode(p: &Params, table: &[(u32, Kind)], (mut pick, a, b, c): (u32, u64, u64, u64)) -> Op {
    let mut kind = table[0].1;
    for &(w, k) in table {
        if pick < w {
            kind = k;
            break;
        }
        pick -= w;
    }
    let k = a % p.key_range;
    let m = 2 + b % 7;
    let take = |x: u64| if x % 3 == 0 { None } else { Some((x / 3 % 64) as usize) };
    match kind {
        Kind::Insert => Op::Insert(k, b),
        Kind::Remove => Op::Remove(k),
        Kind::RemoveEntry => Op::RemoveEntry(k),
        Kind::GetMut => Op::GetMut(k, b),
        Kind::OrInsert => Op::OrInsert(k, b),
        Kind::AndModify => Op::AndModify(k, b, c),
        Kind::EntryMatch => Op::EntryMatch(k, b),
        Kind::Retain => Op::Retain(m, c % m),
        Kind::ExtractIf => Op::ExtractIf(m, c % m, take(a)),
        Kind::Clear => Op::Clear,
        Kind::Drain => Op::Drain(take(b)),
        Kind::Reserve => Op::Reserve((b % p.max_reserve) as usize, c % 2 == 0),
        Kind::ShrinkTo => Op::ShrinkTo(if c % 2 == 0 { 0 } else { (b % p.max_reserve) as usize }),
        Kind::FinishGrowth => Op::FinishGrowth,
        Kind::EvacuateStep => Op::EvacuateStep((b % 20) as usize),
        Kind::Get => Op::Get(k),
        Kind::ContainsKey => Op::ContainsKey(k),
        Kind::GetKeyValue => Op::GetKeyValue(k),
        Kind::GetDisjointMut => Op::GetDisjointMut(k, c % p.key_range, b),
        Kind::CheckContents => Op::CheckContents,
        Kind::BulkInsert => Op::BulkInsert(a % (p.key_range * 8), 1 + b % (p.max_bulk - 1)),
        Kind::BulkRemove => Op::BulkRemove(a % (p.key_range * 8), 1 + b % (p.max_bulk - 1)),
        Kind::FifoChurn => Op::FifoChurn(1 + (b % (p.max_fifo as u64 - 1)) as usize),
    }
}

fn ops_strategy(p: Params) -> impl Strategy<Value = Vec<Op>> {
    let table = weights(&p);
    let total: u32 = table.iter().map(|e| e.0).sum();
    let op = (0..total, any::<u64>(), any::<u64>(), any::<u64>()).prop_map(move |raw| decode(&p, &table, raw));
    proptest::collection::vec(op, p.min_ops..p.max_ops)
}

// ---------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------

/// Keys used by FIFO churn live far away from the random key range.
const FIFO_BASE: u64 = 1 << 40;

struct Harness<S: BuildHasher> {
    map: GoMap<u64, u64, S>,
    model: HashMap<u64, u64>,
    fifo: VecDeque<u64>,
    next_fifo: u64,
    fifo_window: usize,
    steps: usize,
    same_size_starts: usize,
    doublings: usize,
    max_b: u8,
}

impl<S: BuildHasher + Clone> Harness<S> {
    fn new(map: GoMap<u64, u64, S>, fifo_window: usize) -> Self {
        Harness {
            map,
            model: HashMap::new(),
            fifo: VecDeque::new(),
            next_fifo: FIFO_BASE,
            fifo_window,
            steps: 0,
            same_size_starts: 0,
            doublings: 0,
            max_b: 0,
        }
    }

    fn snap(&self) -> Snap {
        snap(&self.map)
    }

    fn note(&mut self, s0: &Snap, s1: &Snap) {
        if s1.b > s0.b {
            self.doublings += 1;
        }
        if s1.growing && s1.same && (!(s0.growing && s0.same) || s1.evac < s0.evac) {
            self.same_size_starts += 1;
        }
        self.max_b = self.max_b.max(s1.b);
    }

    /// Structural checks run after every step.
    fn check_step(&mut self) {
        self.steps += 1;
        self.map.check_invariants();
        assert_eq!(self.map.len(), self.model.len());
        assert_eq!(self.map.is_empty(), self.model.is_empty());
        let s = self.snap();
        check_snap(&s, self.model.len());
        if self.steps % 64 == 0 {
            self.check_contents();
        }
    }

    /// Full comparison of the contents (iteration as a set).
    fn check_contents(&self) {
        let s0 = self.snap();
        let mut seen: HashMap<u64, u64> = HashMap::with_capacity(self.model.len());
        let it = self.map.iter();
        assert_eq!(it.len(), self.model.len(), "iter().len()");
        for (k, v) in it {
            assert!(seen.insert(*k, *v).is_none(), "iter produced key {k} twice");
        }
        assert_eq!(seen, self.model, "iteration contents differ from the model");
        let mut keys: Vec<u64> = self.map.keys().copied().collect();
        let mut model_keys: Vec<u64> = self.model.keys().copied().collect();
        keys.sort_unstable();
        model_keys.sort_unstable();
        assert_eq!(keys, model_keys, "keys()");
        let mut vals: Vec<u64> = self.map.values().copied().collect();
        let mut model_vals: Vec<u64> = self.model.values().copied().collect();
        vals.sort_unstable();
        model_vals.sort_unstable();
        assert_eq!(vals, model_vals, "values()");
        for (k, v) in &self.model {
            assert_eq!(self.map.get(k), Some(v), "get({k})");
        }
        assert_eq!(self.snap(), s0, "iteration/lookups changed the map");
    }

    fn insert(&mut self, k: u64, v: u64) {
        let s0 = self.snap();
        let is_new = !self.model.contains_key(&k);
        assert_eq!(self.map.insert(k, v), self.model.insert(k, v), "insert({k})");
        let s1 = self.snap();
        if is_new {
            check_new_key_insert(&s0, &s1);
        } else if s0.growing {
            check_write_during_growth(&s0, &s1, false);
        } else {
            check_no_new_growth(&s0, &s1);
        }
        self.note(&s0, &s1);
    }

    fn remove(&mut self, k: u64, entry: bool) {
        let s0 = self.snap();
        if entry {
            let exp = self.model.remove(&k).map(|v| (k, v));
            assert_eq!(self.map.remove_entry(&k), exp, "remove_entry({k})");
        } else {
            assert_eq!(self.map.remove(&k), self.model.remove(&k), "remove({k})");
        }
        let s1 = self.snap();
        if s0.growing && s0.len > 0 {
            check_write_during_growth(&s0, &s1, false);
        } else {
            check_no_new_growth(&s0, &s1);
        }
        self.note(&s0, &s1);
    }

    fn apply(&mut self, op: &Op) {
        let s0 = self.snap();
        match *op {
            Op::Insert(k, v) => self.insert(k, v),
            Op::Remove(k) => self.remove(k, false),
            Op::RemoveEntry(k) => self.remove(k, true),
            Op::GetMut(k, d) => {
                let got = self.map.get_mut(&k).map(|v| {
                    *v = v.wrapping_add(d);
                    *v
                });
                let exp = self.model.get_mut(&k).map(|v| {
                    *v = v.wrapping_add(d);
                    *v
                });
                assert_eq!(got, exp, "get_mut({k})");
                check_no_new_growth(&s0, &self.snap());
            }
            Op::OrInsert(k, v) => {
                let is_new = !self.model.contains_key(&k);
                let r = self.map.entry(k).or_insert(v);
                let got = *r;
                *r = r.wrapping_add(1);
                let e = self.model.entry(k).or_insert(v);
                assert_eq!(got, *e, "entry({k}).or_insert");
                *e = e.wrapping_add(1);
                self.after_entry(&s0, is_new);
            }
            Op::AndModify(k, d, v) => {
                let is_new = !self.model.contains_key(&k);
                let got = *self.map.entry(k).and_modify(|x| *x = x.wrapping_add(d)).or_insert(v);
                let exp = *self.model.entry(k).and_modify(|x| *x = x.wrapping_add(d)).or_insert(v);
                assert_eq!(got, exp, "entry({k}).and_modify().or_insert");
                self.after_entry(&s0, is_new);
            }
            Op::EntryMatch(k, v) => {
                let is_new = !self.model.contains_key(&k);
                match self.map.entry(k) {
                    Entry::Occupied(mut o) => {
                        let cur = *self.model.get(&k).expect("Occupied for an absent key");
                        assert_eq!(*o.key(), k);
                        assert_eq!(*o.get(), cur);
                        match v % 5 {
                            0 => {
                                assert_eq!(o.remove(), cur);
                                self.model.remove(&k);
                            }
                            1 => {
                                assert_eq!(o.remove_entry(), (k, cur));
                                self.model.remove(&k);
                            }
                            2 => {
                                assert_eq!(o.insert(v), cur);
                                self.model.insert(k, v);
                            }
                            3 => {
                                *o.get_mut() = v;
                                assert_eq!(*o.get(), v);
                                self.model.insert(k, v);
                            }
                            _ => {
                                let r = o.into_mut();
                                *r = r.wrapping_add(v);
                                let m = self.model.get_mut(&k).unwrap();
                                *m = m.wrapping_add(v);
                            }
                        }
                    }
                    Entry::Vacant(vac) => {
                        assert!(is_new, "Vacant for a present key {k}");
                        assert_eq!(*vac.key(), k);
                        let r = vac.insert(v);
                        assert_eq!(*r, v);
                        self.model.insert(k, v);
                    }
                }
                self.after_entry(&s0, is_new);
            }
            Op::Retain(m, r) => {
                let before = self.model.len();
                let mut visited = Vec::with_capacity(before);
                self.map.retain(|k, v| {
                    visited.push(*k);
                    *v = v.wrapping_add(1);
                    (k ^ *v) % m != r
                });
                assert_eq!(visited.len(), before, "retain must visit every entry once");
                visited.sort_unstable();
                visited.dedup();
                assert_eq!(visited.len(), before, "retain visited an entry twice");
                self.model.retain(|k, v| {
                    *v = v.wrapping_add(1);
                    (k ^ *v) % m != r
                });
                check_no_new_growth(&s0, &self.snap());
            }
            Op::ExtractIf(m, r, take) => {
                let before = self.model.len();
                let mut visited = Vec::new();
                let removed: Vec<(u64, u64)> = {
                    let it = self.map.extract_if(|k, v| {
                        visited.push(*k);
                        *v = v.wrapping_add(1);
                        (k ^ *v) % m == r
                    });
                    match take {
                        Some(t) => it.take(t).collect(),
                        None => it.collect(),
                    }
                };
                let mut sorted = visited.clone();
                sorted.sort_unstable();
                sorted.dedup();
                assert_eq!(sorted.len(), visited.len(), "extract_if visited a key twice");
                if take.is_none() {
                    assert_eq!(visited.len(), before, "extract_if must visit every entry");
                }
                let mut expected = Vec::new();
                for k in &visited {
                    let v = self.model.get_mut(k).expect("extract_if visited an absent key");
                    *v = v.wrapping_add(1);
                    if (k ^ *v) % m == r {
                        expected.push((*k, *v));
                        self.model.remove(k);
                    }
                }
                let mut removed_sorted = removed;
                removed_sorted.sort_unstable();
                expected.sort_unstable();
                assert_eq!(removed_sorted, expected, "extract_if removed entries");
                check_no_new_growth(&s0, &self.snap());
            }
            Op::Clear => {
                self.map.clear();
                self.model.clear();
                let s1 = self.snap();
                assert_eq!(s1.b, s0.b, "clear must keep B");
                assert!(!s1.growing, "clear must cancel growth");
                assert_eq!((s1.len, s1.evac, s1.old), (0, 0, 0));
                assert_eq!(s1.overflow, 0, "clear resets noverflow");
                assert_eq!(s1.tomb, 0, "clear re-zeroes the array");
            }
            Op::Drain(take) => {
                let mut got: Vec<(u64, u64)> = {
                    let d = self.map.drain();
                    assert_eq!(d.len(), self.model.len(), "drain().len()");
                    match take {
                        Some(t) => d.take(t).collect(),
                        None => d.collect(),
                    }
                };
                assert!(self.map.is_empty(), "map not empty after drain was dropped");
                got.sort_unstable();
                let n = got.len();
                got.dedup_by_key(|e| e.0);
                assert_eq!(got.len(), n, "drain yielded a key twice");
                for (k, v) in &got {
                    assert_eq!(self.model.get(k), Some(v), "drain yielded a wrong entry");
                }
                if take.is_none() {
                    assert_eq!(n, self.model.len(), "drain did not yield everything");
                }
                self.model.clear();
                let s1 = self.snap();
                assert_eq!(s1.b, s0.b, "drain must not shrink the map");
                assert_eq!(s1.len, 0);
            }
            Op::Reserve(n, fallible) => {
                if fallible {
                    assert_eq!(self.map.try_reserve(n), Ok(()));
                } else {
                    self.map.reserve(n);
                }
                self.model.reserve(n);
                let s1 = self.snap();
                assert!(s1.b >= s0.b, "reserve shrank the map");
                assert!(
                    self.map.capacity() >= self.model.len() + n,
                    "reserve({n}): capacity {} < len {} + n",
                    self.map.capacity(),
                    self.model.len()
                );
                self.note(&s0, &s1);
            }
            Op::ShrinkTo(n) => {
                let resizes = self.map.stats().growth.bulk_resizes;
                self.map.shrink_to(n);
                self.model.shrink_to(n);
                let s1 = self.snap();
                let want = go_b(self.model.len().max(n));
                let resized = self.map.stats().growth.bulk_resizes - resizes;
                if want > s0.b {
                    assert_eq!((s1, resized), (s0, 0), "shrink_to({n}) that needs a bigger array changed the map");
                } else {
                    // Go's B for make(map, max(len, n)), and nothing else held.
                    assert_eq!(s1.b, want, "shrink_to({n}): B");
                    assert!(!s1.growing, "shrink_to({n}) left a growth in progress");
                    if want < s0.b || s0.growing {
                        assert_eq!(resized, 1, "shrink_to({n}) from {s0:?} did not resize");
                    }
                    if resized == 1 {
                        assert_eq!(s1.tomb, 0, "shrink_to({n}) kept tombstones");
                    } else {
                        assert_eq!(s1, s0, "shrink_to({n}) changed a compact map");
                    }
                }
                assert!(self.map.capacity() >= self.model.len().max(n.min(cap_of(s0.b))));
                // What a shrink leaves needs no other.
                self.map.shrink_to(n);
                assert_eq!(
                    self.map.stats().growth.bulk_resizes - resizes,
                    resized,
                    "shrink_to({n}) twice resized twice"
                );
                self.note(&s0, &s1);
            }
            Op::FinishGrowth => {
                self.map.finish_growth();
                let s1 = self.snap();
                assert!(!s1.growing);
                assert_eq!((s1.b, s1.evac, s1.old, s1.same), (s0.b, 0, 0, false));
                if !s0.growing {
                    assert_eq!(s1, s0, "finish_growth on a map that is not growing");
                }
            }
            Op::EvacuateStep(n) => {
                let done = self.map.evacuate_step(n);
                let s1 = self.snap();
                assert_eq!(done, !s1.growing, "evacuate_step return value");
                assert_eq!(s1.b, s0.b);
                if !s0.growing || n == 0 {
                    assert_eq!(s1, s0, "evacuate_step({n}) changed the map");
                } else {
                    assert!(
                        !s1.growing || (s1.evac > s0.evac && s1.same == s0.same),
                        "evacuate_step({n}) made no progress: {s0:?} -> {s1:?}"
                    );
                    if n >= s0.old {
                        assert!(done, "evacuate_step({n}) >= old buckets must finish");
                    }
                }
            }
            Op::Get(k) => {
                assert_eq!(self.map.get(&k), self.model.get(&k), "get({k})");
                assert_eq!(self.snap(), s0, "get mutated the map");
            }
            Op::ContainsKey(k) => {
                assert_eq!(self.map.contains_key(&k), self.model.contains_key(&k));
                assert_eq!(self.snap(), s0, "contains_key mutated the map");
            }
            Op::GetKeyValue(k) => {
                assert_eq!(self.map.get_key_value(&k), self.model.get_key_value(&k));
                assert_eq!(self.snap(), s0, "get_key_value mutated the map");
            }
            Op::GetDisjointMut(a, b, v) => {
                if a == b {
                    // One key twice: a panic if it is present (tests below), else two `None`s.
                    if !self.model.contains_key(&a) {
                        assert_eq!(self.map.get_disjoint_mut([&a, &a]), [None, None]);
                    }
                } else {
                    let [x, y] = self.map.get_disjoint_mut([&a, &b]);
                    assert_eq!(
                        (x.as_deref().copied(), y.as_deref().copied()),
                        (self.model.get(&a).copied(), self.model.get(&b).copied())
                    );
                    for found in [x, y].into_iter().flatten() {
                        *found = found.wrapping_add(v);
                    }
                    for k in [a, b] {
                        if let Some(m) = self.model.get_mut(&k) {
                            *m = m.wrapping_add(v);
                        }
                    }
                }
                assert_eq!(self.snap(), s0, "get_disjoint_mut changed the map's shape");
            }
            Op::CheckContents => self.check_contents(),
            Op::BulkInsert(start, n) => {
                for k in start..start + n {
                    self.insert(k, k ^ 0x5555);
                }
            }
            Op::BulkRemove(start, n) => {
                for k in start..start + n {
                    self.remove(k, false);
                }
            }
            Op::FifoChurn(n) => {
                for _ in 0..n {
                    let k = self.next_fifo;
                    self.next_fifo += 1;
                    self.insert(k, !k);
                    self.fifo.push_back(k);
                    if self.fifo.len() > self.fifo_window {
                        let old = self.fifo.pop_front().unwrap();
                        self.remove(old, false);
                    }
                    self.check_step();
                }
            }
        }
        self.check_step();
    }

    fn after_entry(&mut self, s0: &Snap, is_new: bool) {
        let s1 = self.snap();
        if is_new && self.model.len() > s0.len {
            check_new_key_insert(s0, &s1);
        } else {
            check_no_new_growth(s0, &s1);
        }
        self.note(s0, &s1);
    }

    fn finish(&mut self) {
        self.check_contents();
        // Drain the growth and compare again.
        self.map.finish_growth();
        self.check_step();
        self.check_contents();
        // Clone must be equal and independent.
        let c = self.map.clone();
        c.check_invariants();
        assert_eq!(c.len(), self.model.len());
        for (k, v) in &self.model {
            assert_eq!(c.get(k), Some(v));
        }
    }
}

#[derive(Default)]
struct Totals {
    same_size_starts: AtomicUsize,
    doublings: AtomicUsize,
    max_b: AtomicUsize,
    max_len: AtomicUsize,
}

fn run_differential<S, F>(p: Params, make: F) -> Totals
where
    S: BuildHasher + Clone,
    F: Fn() -> GoMap<u64, u64, S>,
{
    let totals = Totals::default();
    let strategy = ops_strategy(p);
    let mut runner = TestRunner::new(config(p.cases));
    let res = runner.run(&strategy, |ops| {
        let mut h = Harness::new(make(), p.fifo_window);
        let mut max_len = 0;
        for op in &ops {
            h.apply(op);
            max_len = max_len.max(h.model.len());
        }
        h.finish();
        totals.same_size_starts.fetch_add(h.same_size_starts, Ordering::Relaxed);
        totals.doublings.fetch_add(h.doublings, Ordering::Relaxed);
        totals.max_b.fetch_max(usize::from(h.max_b), Ordering::Relaxed);
        totals.max_len.fetch_max(max_len, Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = res {
        panic!("{e}");
    }
    totals
}

fn params() -> Params {
    if MIRI {
        Params {
            cases: 1,
            key_range: 200,
            min_ops: 90,
            max_ops: 130,
            bulk_weight: 0,
            max_bulk: 2,
            fifo_weight: 0,
            max_fifo: 2,
            fifo_window: 48,
            max_reserve: 300,
        }
    } else {
        Params {
            cases: 6,
            key_range: 3000,
            min_ops: 2000,
            max_ops: 4000,
            bulk_weight: 0,
            max_bulk: 2,
            fifo_weight: 0,
            max_fifo: 2,
            fifo_window: 256,
            max_reserve: 300,
        }
    }
}

#[test]
fn differential_default_hasher() {
    // Under Miri, 150 to 190 operations: with 90 to 130 one draw in 80 stayed below B = 3
    // (simulated), which fails the check below; now one in 5,000.
    let p = if MIRI { Params { min_ops: 150, max_ops: 190, ..params() } } else { params() };
    let t = run_differential(p, GoMap::new);
    // The sequences must cross several doublings.
    assert!(t.doublings.load(Ordering::Relaxed) > 0);
    let min_b = if MIRI { 3 } else { 7 };
    assert!(t.max_b.load(Ordering::Relaxed) >= min_b, "sequences too small: max B {}", t.max_b.load(Ordering::Relaxed));
}

#[test]
fn differential_with_capacity() {
    let p = Params { cases: if MIRI { 1 } else { 3 }, ..params() };
    // A hint that the sequences outgrow: 100 (B = 4), or 10 (B = 1) at Miri's sizes.
    let hint = if MIRI { 10 } else { 100 };
    let t = run_differential(p, || GoMap::with_capacity(hint));
    assert!(t.doublings.load(Ordering::Relaxed) > 0);
}

#[test]
fn differential_bulk_inserts() {
    let p = Params {
        // One case under Miri, three operations in ten a bulk insert (of 1 to 29 keys from a
        // range of 1,600): fewer than the 53 keys of B = 4 once in ~10,000 draws (simulated).
        // With one in eleven, of up to 79 keys, it was once in 25, and Miri's random stream,
        // which moves with any change to the library's allocations, drew one.
        cases: if MIRI { 1 } else { 4 },
        min_ops: if MIRI { 40 } else { 500 },
        max_ops: if MIRI { 60 } else { 1000 },
        bulk_weight: if MIRI { 500 } else { 15 },
        max_bulk: if MIRI { 30 } else { 1500 },
        ..params()
    };
    let t = run_differential(p, GoMap::new);
    let min_b = if MIRI { 4 } else { 10 };
    assert!(
        t.max_b.load(Ordering::Relaxed) >= min_b,
        "bulk sequences too small: max B {}",
        t.max_b.load(Ordering::Relaxed)
    );
}

fn poor_params() -> Params {
    if MIRI {
        Params { cases: 1, key_range: 150, min_ops: 70, max_ops: 100, ..params() }
    } else {
        Params { cases: 4, key_range: 1200, min_ops: 800, max_ops: 1500, ..params() }
    }
}

#[test]
fn differential_all_keys_in_one_bucket() {
    let t = run_differential(poor_params(), || GoMap::with_hasher(FnBuild(low_bits_zero)));
    assert!(t.doublings.load(Ordering::Relaxed) > 0);
}

#[test]
fn differential_five_hash_values() {
    let t = run_differential(poor_params(), || GoMap::with_hasher(FnBuild(five_hashes)));
    assert!(t.doublings.load(Ordering::Relaxed) > 0);
}

#[test]
fn differential_clustered_hash_fifo_churn() {
    let p = if MIRI {
        // Few random keys, a short window, small reserves and mostly churn:
        // the count stays below 53, so B stays at most 3 and the overflow
        // trigger (8 overflow buckets) is reached after a few new clusters.
        Params {
            cases: 2,
            key_range: 16,
            min_ops: 45,
            max_ops: 60,
            fifo_weight: 200,
            max_fifo: 60,
            fifo_window: 24,
            max_reserve: 16,
            ..poor_params()
        }
    } else {
        Params { fifo_weight: 40, max_fifo: 300, ..poor_params() }
    };
    let t = run_differential(p, || GoMap::with_hasher(FnBuild(clusters_of_32)));
    assert!(
        t.same_size_starts.load(Ordering::Relaxed) > 0,
        "FIFO churn over clustered hashes never produced a same-size growth"
    );
}

#[test]
fn differential_default_hasher_fifo_churn() {
    let p = Params {
        cases: if MIRI { 1 } else { 2 },
        fifo_weight: 40,
        max_fifo: if MIRI { 40 } else { 300 },
        ..poor_params()
    };
    run_differential(p, GoMap::new);
}

/// Deterministic same-size growth: generation `g` of 32 consecutive keys goes
/// to bucket `g mod 8`; a FIFO window of 40 keys moves through the
/// generations, so every new generation grows a fresh chain by 3 overflow
/// buckets while the old chains keep theirs. With 8 buckets (B = 3) the
/// overflow trigger (`noverflow >= 8`) fires again and again, but the count
/// (at most 41) never reaches the doubling bound 52.
#[test]
fn same_size_growth_under_fifo_churn() {
    const WINDOW: usize = 40;
    let steps: u64 = if MIRI { 300 } else { 3000 };
    let mut map: GoMap<u64, u64, FnBuild> = GoMap::with_capacity_and_hasher(WINDOW, FnBuild(generation_32));
    let mut model: HashMap<u64, u64> = HashMap::new();
    let mut fifo = VecDeque::new();
    assert_eq!(map.stats().b, 3);
    let mut started = 0;
    let mut finished_by_writes = 0;
    for k in 0..steps {
        let s0 = snap(&map);
        assert_eq!(map.insert(k, k * 3), None);
        model.insert(k, k * 3);
        let s1 = snap(&map);
        check_new_key_insert(&s0, &s1);
        assert_eq!((s1.b, s1.buckets), (3, 8), "B must never change");
        if s1.growing && !s0.growing {
            assert!(s1.same, "only same-size growth is possible here");
            assert!(too_many_overflow_buckets(s0.overflow, s0.b), "growth without trigger");
            assert_eq!(s1.old, 8);
            started += 1;
            if started == 1 {
                // Complete it now: the new array is packed densely.
                map.finish_growth();
                let s2 = snap(&map);
                assert!(!s2.growing && !s2.same);
                assert_eq!(s2.b, 3);
                assert_eq!(s2.tomb, 0, "tombstones after a completed same-size growth");
                // noverflow restarted at the hashGrow and counts exactly the
                // overflow buckets needed to pack every chain densely.
                let mut per_chain = [0usize; 8];
                for key in model.keys() {
                    per_chain[(generation_32(*key) & 7) as usize] += 1;
                }
                let needed: usize = per_chain.iter().map(|&n| n.div_ceil(8).max(1) - 1).sum();
                assert_eq!(s2.overflow, needed, "overflow buckets after dense packing");
            }
        }
        if s0.growing && !s1.growing {
            finished_by_writes += 1;
        }
        fifo.push_back(k);
        if fifo.len() > WINDOW {
            let old = fifo.pop_front().unwrap();
            let s0 = snap(&map);
            assert_eq!(map.remove(&old), model.remove(&old));
            let s1 = snap(&map);
            if s0.growing {
                check_write_during_growth(&s0, &s1, false);
                if !s1.growing {
                    finished_by_writes += 1;
                }
            } else {
                check_no_new_growth(&s0, &s1);
            }
            assert_eq!(s1.b, 3);
        }
        map.check_invariants();
        check_snap(&snap(&map), model.len());
    }
    let min = if MIRI { 3 } else { 20 };
    assert!(started >= min, "only {started} same-size growths");
    assert!(finished_by_writes > 0, "no same-size growth completed by writes");
    assert_eq!(map.len(), model.len());
    for (k, v) in &model {
        assert_eq!(map.get(k), Some(v));
    }
}

/// Go's TestMapTombstones: fill, delete half, refill with new keys, delete all.
#[test]
fn map_tombstones() {
    let n: u64 = if MIRI { 300 } else { 10_000 };
    let mut m: GoMap<u64, u64> = GoMap::new();
    let mut model = HashMap::new();
    let check = |m: &GoMap<u64, u64>, model: &HashMap<u64, u64>| {
        m.check_invariants();
        assert_eq!(m.len(), model.len());
        check_snap(&snap(m), model.len());
        for (k, v) in model {
            assert_eq!(m.get(k), Some(v));
        }
    };
    for i in 0..n {
        m.insert(i, i);
        model.insert(i, i);
        if i % 97 == 0 {
            m.check_invariants();
        }
    }
    check(&m, &model);
    for i in (0..n).step_by(2) {
        assert_eq!(m.remove(&i), Some(i));
        model.remove(&i);
        if i % 97 == 0 {
            m.check_invariants();
        }
    }
    check(&m, &model);
    assert_eq!(m.len() as u64, n / 2);
    for i in n..3 * n / 2 {
        m.insert(i, i);
        model.insert(i, i);
    }
    check(&m, &model);
    assert_eq!(m.len() as u64, n);
    let b = m.stats().b;
    for i in 0..3 * n / 2 {
        m.remove(&i);
        model.remove(&i);
        if i % 97 == 0 {
            m.check_invariants();
        }
    }
    check(&m, &model);
    let s = m.stats();
    assert_eq!(s.len, 0);
    assert_eq!(s.b, b, "maps never shrink");
    // The last growth (to B = 11, or B = 6 under Miri) started at insert
    // 6657 (209) and needs at most 2^oldB writes, so it finished long ago.
    assert!(!s.growing);
    // Deleting the last live entry of a chain turns the whole chain into
    // emptyRest: no tombstone survives deleting everything.
    assert_eq!(s.tombstones, 0);
    assert_eq!(m.iter().count(), 0);
}

/// `Clone` copies chain by chain. From every state a growth passes through (doublings,
/// same-size growths under churn, one long chain of overflow buckets) the copy has the
/// source's bucket count, no growth in progress and no tombstones, passes every
/// invariant, holds exactly the source's entries, and shares nothing with it.
#[test]
fn clone_from_every_growth_state() {
    fn check<S: BuildHasher + Clone>(map: &GoMap<u64, u64, S>) -> bool {
        let s = map.stats();
        let mut copy = map.clone();
        copy.check_invariants();
        let c = copy.stats();
        assert_eq!((c.b, c.len, c.growing, c.tombstones), (s.b, s.len, false, 0), "{s:?} copied as {c:?}");
        for (k, v) in map {
            assert_eq!(copy.get(k), Some(v), "key {k}");
        }
        // Writing to and clearing the copy leaves the source as it was.
        copy.insert(u64::MAX, 0);
        copy.clear();
        map.check_invariants();
        assert_eq!(map.iter().count(), s.len);
        s.growing
    }

    // Doublings, cloned at many points of each growth.
    let mut map = GoMap::new();
    let mut growing_seen = 0;
    for k in 0..if MIRI { 150 } else { 1500 } {
        map.insert(k, k);
        if k % 5 == 0 && check(&map) {
            growing_seen += 1;
        }
    }
    assert!(growing_seen > 0, "never cloned mid-doubling");

    // Same-size growths under FIFO churn.
    let mut same_size_seen = 0;
    same_size_churn(if MIRI { 300 } else { 3000 }, |map, k| {
        let s = map.stats();
        if s.growing && s.same_size_growth && k % 3 == 0 {
            check(map);
            same_size_seen += 1;
        }
    });
    assert!(same_size_seen > 0, "never cloned mid-same-size growth");

    // One chain holding everything: overflow buckets from the pool and allocated alone.
    let mut map = GoMap::with_hasher(FnBuild(low_bits_zero));
    for k in 0..if MIRI { 60 } else { 400 } {
        map.insert(k, k);
        if k % 10 == 0 {
            check(&map);
        }
    }
}

#[test]
#[should_panic(expected = "duplicate keys found")]
fn get_disjoint_mut_panics_on_a_present_key_twice() {
    let mut map: GoMap<u64, u64> = (0..100).map(|k| (k, k)).collect();
    let _ = map.get_disjoint_mut([&1, &2, &1]);
}

#[test]
fn get_disjoint_mut_reads_unevacuated_chains() {
    // Mid-growth, some keys are still in old chains: their slots are found there and
    // are distinct from new-array slots.
    let (mut map, k) = mid_growth(100);
    let keys: Vec<u64> = (0..k).collect();
    for pair in keys.windows(2) {
        let [a, b] = map.get_disjoint_mut([&pair[0], &pair[1]]);
        std::mem::swap(a.unwrap(), b.unwrap());
    }
    assert!(map.stats().growing, "lookups do no growth work");
    // Every value moved one key down, and the first went to the end.
    assert!((0..k - 1).all(|i| map[&i] == i + 1));
    assert_eq!(map[&(k - 1)], 0);
    map.check_invariants();
}

#[test]
fn get_disjoint_mut_tells_zero_sized_values_apart() {
    // Distinct entries whose values share an address (zero-sized) are not duplicates.
    let mut map: GoMap<u64, ()> = (0..20).map(|k| (k, ())).collect();
    let [a, b, c] = map.get_disjoint_mut([&1, &2, &99]);
    assert_eq!((a.is_some(), b.is_some(), c.is_none()), (true, true, true));
}

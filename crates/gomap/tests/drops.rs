//! Every key and value is dropped exactly once, whatever path removes it:
//! clear, drain, into_iter, into_keys/into_values, retain, extract_if,
//! insert-overwrite, remove, entries, clone, shrink_to_fit and dropping the map — both on a
//! settled map and while a growth is in progress.

use gomap::{Entry, GoMap};
use std::borrow::Borrow;
use std::cell::Cell;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

mod common;

use common::{DropLog, MIRI};

/// Records how many times each instance id was dropped.
type Tracker = DropLog;

impl DropLog {
    fn new() -> Arc<DropLog> {
        Arc::new(DropLog::default())
    }
}

/// Key: equality and hash by `key` only; `id` identifies the instance.
struct K {
    key: u64,
    id: usize,
    t: Arc<Tracker>,
}

impl K {
    fn new(t: &Arc<Tracker>, key: u64) -> K {
        K { key, id: t.new_id(), t: t.clone() }
    }
}

impl Drop for K {
    fn drop(&mut self) {
        self.t.dropped(self.id);
    }
}
impl PartialEq for K {
    fn eq(&self, o: &K) -> bool {
        self.key == o.key
    }
}
impl Eq for K {}
impl Hash for K {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.key.hash(h);
    }
}
impl Borrow<u64> for K {
    fn borrow(&self) -> &u64 {
        &self.key
    }
}
impl Clone for K {
    fn clone(&self) -> K {
        K::new(&self.t, self.key)
    }
}

struct V {
    val: u64,
    id: usize,
    t: Arc<Tracker>,
}

impl V {
    fn new(t: &Arc<Tracker>, val: u64) -> V {
        V { val, id: t.new_id(), t: t.clone() }
    }
}
impl Drop for V {
    fn drop(&mut self) {
        self.t.dropped(self.id);
    }
}
impl Clone for V {
    fn clone(&self) -> V {
        V::new(&self.t, self.val)
    }
}

/// A value larger than 128 bytes (Go stores such elems out of line).
struct BigV {
    v: V,
    pad: [u64; 24],
}

impl Clone for BigV {
    fn clone(&self) -> BigV {
        BigV { v: self.v.clone(), pad: self.pad }
    }
}

/// A key larger than 128 bytes.
#[derive(Clone)]
struct BigK {
    k: K,
    pad: [u64; 20],
}
impl PartialEq for BigK {
    fn eq(&self, o: &BigK) -> bool {
        self.k == o.k && self.pad == o.pad
    }
}
impl Eq for BigK {}
impl Hash for BigK {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.k.hash(h);
    }
}
impl Borrow<u64> for BigK {
    fn borrow(&self) -> &u64 {
        &self.k.key
    }
}

trait TKey: Hash + Eq + Borrow<u64> + Clone {
    fn make(t: &Arc<Tracker>, key: u64) -> Self;
    fn id(&self) -> usize;
}
impl TKey for K {
    fn make(t: &Arc<Tracker>, key: u64) -> Self {
        K::new(t, key)
    }
    fn id(&self) -> usize {
        self.id
    }
}
impl TKey for BigK {
    fn make(t: &Arc<Tracker>, key: u64) -> Self {
        BigK { k: K::new(t, key), pad: [key; 20] }
    }
    fn id(&self) -> usize {
        self.k.id
    }
}

trait TVal: Clone {
    fn make(t: &Arc<Tracker>, val: u64) -> Self;
    fn id(&self) -> usize;
    fn val(&self) -> u64;
}
impl TVal for V {
    fn make(t: &Arc<Tracker>, val: u64) -> Self {
        V::new(t, val)
    }
    fn id(&self) -> usize {
        self.id
    }
    fn val(&self) -> u64 {
        self.val
    }
}
impl TVal for BigV {
    fn make(t: &Arc<Tracker>, val: u64) -> Self {
        BigV { v: V::new(t, val), pad: [val; 24] }
    }
    fn id(&self) -> usize {
        self.v.id
    }
    fn val(&self) -> u64 {
        assert!(self.pad.iter().all(|&p| p == self.v.val), "BigV padding corrupted");
        self.v.val
    }
}

type Map<KK, VV> = GoMap<KK, VV>;

/// Builds a map with keys `0..n`. With `growing`, `n` is chosen so that the
/// last insert started a doubling growth (the map is mid-growth afterwards);
/// otherwise the growth is finished.
fn build<KK: TKey, VV: TVal>(t: &Arc<Tracker>, growing: bool) -> Map<KK, VV> {
    // Growth starts on insert #27 (B 2 -> 3, 4 old buckets, Miri's size) and
    // #833 (B 7 -> 8, 128 old buckets); either leaves the map growing.
    let n: u64 = if MIRI { 27 } else { 833 };
    let mut m = Map::new();
    for i in 0..n {
        assert!(m.insert(KK::make(t, i), VV::make(t, i * 10)).is_none());
    }
    if growing {
        assert!(m.stats().growing, "map should be mid-growth after {n} inserts");
    } else {
        m.finish_growth();
        assert!(!m.stats().growing);
    }
    m.check_invariants();
    assert_eq!(t.created(), 2 * n as usize);
    assert_eq!(t.alive(), 2 * n as usize);
    m
}

/// Ids of every key and value currently in the map.
fn ids<KK: TKey, VV: TVal>(m: &Map<KK, VV>) -> Vec<usize> {
    m.iter().flat_map(|(k, v)| [k.id(), v.id()]).collect()
}

fn both<F: Fn(bool)>(f: F) {
    f(false);
    f(true);
}

macro_rules! for_all_types {
    ($name:ident, $body:ident) => {
        #[test]
        fn $name() {
            both(|g| $body::<K, V>(g));
            both(|g| $body::<BigK, BigV>(g));
            both(|g| $body::<K, BigV>(g));
        }
    };
}

fn drop_map<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let m: Map<KK, VV> = build(&t, growing);
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(drop_whole_map, drop_map);

fn clear<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    m.clear();
    t.assert_all_dropped_once();
    assert!(m.is_empty());
    m.check_invariants();
    // Reuse after clear, then drop.
    for i in 0..100 {
        m.insert(KK::make(&t, i), VV::make(&t, i));
    }
    m.check_invariants();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(clear_drops_everything_once, clear);

fn drain_full<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    let n = m.len();
    let got: Vec<(KK, VV)> = m.drain().collect();
    assert_eq!(got.len(), n);
    assert!(m.is_empty());
    // Everything drained is owned by `got`: nothing dropped yet.
    assert_eq!(t.alive(), t.created());
    m.check_invariants();
    drop(got);
    t.assert_all_dropped_once();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(drain_fully_consumed, drain_full);

fn drain_half<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    let n = m.len();
    let all = ids(&m);
    let got: Vec<(KK, VV)> = m.drain().take(n / 2).collect();
    assert!(m.is_empty(), "a dropped Drain removes the rest");
    let kept: Vec<usize> = got.iter().flat_map(|(k, v)| [k.id(), v.id()]).collect();
    for id in &kept {
        t.assert_alive(*id);
    }
    for id in all.iter().filter(|id| !kept.contains(id)) {
        t.assert_dropped_once(*id);
    }
    m.check_invariants();
    drop(got);
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(drain_half_consumed_then_dropped, drain_half);

fn drain_none<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    drop(m.drain());
    assert!(m.is_empty());
    t.assert_all_dropped_once();
    m.insert(KK::make(&t, 1), VV::make(&t, 1));
    m.check_invariants();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(drain_dropped_unconsumed, drain_none);

fn into_iter<KK: TKey, VV: TVal>(growing: bool) {
    for part in [2, 1, 0] {
        let t = Tracker::new();
        let m: Map<KK, VV> = build(&t, growing);
        let n = m.len();
        // all, half, none
        let take = n * part / 2;
        let mut it = m.into_iter();
        assert_eq!(it.len(), n);
        let got: Vec<(KK, VV)> = it.by_ref().take(take).collect();
        assert_eq!(got.len(), take);
        assert_eq!(it.len(), n - got.len());
        for (k, v) in &got {
            t.assert_alive(k.id());
            t.assert_alive(v.id());
        }
        drop(it);
        // Everything not yielded is gone now; the yielded items are ours.
        assert_eq!(t.alive(), 2 * got.len());
        t.assert_no_double_drop();
        drop(got);
        t.assert_all_dropped_once();
    }
}
for_all_types!(into_iter_full_half_none, into_iter);

fn into_keys_values<KK: TKey, VV: TVal>(growing: bool) {
    for half in [false, true] {
        let t = Tracker::new();
        let m: Map<KK, VV> = build(&t, growing);
        let n = m.len();
        let take = if half { n / 2 } else { n };
        let keys: Vec<KK> = m.into_keys().take(take).collect();
        // All values and all keys that were not yielded are dropped.
        assert_eq!(t.alive(), keys.len());
        for k in &keys {
            t.assert_alive(k.id());
        }
        t.assert_no_double_drop();
        drop(keys);
        t.assert_all_dropped_once();

        let t = Tracker::new();
        let m: Map<KK, VV> = build(&t, growing);
        let vals: Vec<VV> = m.into_values().take(take).collect();
        assert_eq!(t.alive(), vals.len());
        for v in &vals {
            t.assert_alive(v.id());
        }
        t.assert_no_double_drop();
        drop(vals);
        t.assert_all_dropped_once();
    }
}
for_all_types!(into_keys_and_into_values, into_keys_values);

fn retain<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    let before: Vec<(usize, usize, u64)> = m.iter().map(|(k, v)| (k.id(), v.id(), k.borrow().to_owned())).collect();
    m.retain(|k, _| *k.borrow() % 3 != 0);
    m.check_invariants();
    for (kid, vid, key) in before {
        if key % 3 == 0 {
            t.assert_dropped_once(kid);
            t.assert_dropped_once(vid);
            assert!(m.get(&key).is_none());
        } else {
            t.assert_alive(kid);
            t.assert_alive(vid);
            assert_eq!(m.get(&key).map(|v| v.val()), Some(key * 10));
        }
    }
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(retain_drops_removed_entries, retain);

fn shrink<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    // Half removed (dropped once each), the rest moved into a smaller array: none dropped.
    for i in (0..m.len() as u64 * 2).step_by(2) {
        m.remove(&i);
    }
    let kept = ids(&m);
    t.assert_no_double_drop();
    m.shrink_to_fit();
    m.check_invariants();
    assert!(!m.stats().growing);
    for id in &kept {
        t.assert_alive(*id);
    }
    assert_eq!(t.alive(), kept.len());
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(shrink_moves_without_dropping, shrink);

fn extract_if<KK: TKey, VV: TVal>(growing: bool) {
    for take in [None, Some(5), Some(0)] {
        let t = Tracker::new();
        let mut m: Map<KK, VV> = build(&t, growing);
        let n = m.len();
        let out: Vec<(KK, VV)> = {
            let it = m.extract_if(|k, _| *k.borrow() % 2 == 0);
            match take {
                None => it.collect(),
                Some(x) => it.take(x).collect(),
            }
        };
        m.check_invariants();
        // Extracted entries are owned by `out`; the rest is still in the map.
        assert_eq!(t.alive(), t.created());
        assert_eq!(m.len() + out.len(), n);
        for (k, _) in &out {
            assert_eq!(*k.borrow() % 2, 0);
            assert!(m.get(k.borrow()).is_none());
        }
        match take {
            None => assert_eq!(out.len(), n / 2 + n % 2),
            Some(x) => assert_eq!(out.len(), x),
        }
        drop(out);
        assert_eq!(t.alive(), 2 * m.len());
        for id in ids(&m) {
            t.assert_alive(id);
        }
        t.assert_no_double_drop();
        drop(m);
        t.assert_all_dropped_once();
    }
}
for_all_types!(extract_if_consumed_partial_and_dropped, extract_if);

fn insert_overwrite<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    for key in [0u64, 7, 20] {
        let (old_kid, old_vid) = {
            let (k, v) = m.get_key_value(&key).unwrap();
            (k.id(), v.id())
        };
        let nk = KK::make(&t, key);
        let nv = VV::make(&t, 999);
        let (nkid, nvid) = (nk.id(), nv.id());
        let old = m.insert(nk, nv).expect("key was present");
        // std semantics: the value is replaced and returned, the map keeps
        // its old key and drops the new one.
        assert_eq!(old.id(), old_vid);
        t.assert_alive(old_vid);
        t.assert_dropped_once(nkid);
        t.assert_alive(old_kid);
        t.assert_alive(nvid);
        let (k, v) = m.get_key_value(&key).unwrap();
        assert_eq!((k.id(), v.id(), v.val()), (old_kid, nvid, 999));
        drop(old);
        t.assert_dropped_once(old_vid);
    }
    m.check_invariants();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(insert_overwrite_keeps_old_key, insert_overwrite);

fn remove<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    let (kid, vid) = {
        let (k, v) = m.get_key_value(&3).unwrap();
        (k.id(), v.id())
    };
    let v = m.remove(&3).unwrap();
    assert_eq!(v.id(), vid);
    t.assert_dropped_once(kid);
    t.assert_alive(vid);
    drop(v);
    t.assert_dropped_once(vid);
    assert!(m.remove(&3).is_none());

    let (kid, vid) = {
        let (k, v) = m.get_key_value(&4).unwrap();
        (k.id(), v.id())
    };
    let (k, v) = m.remove_entry(&4).unwrap();
    assert_eq!((k.id(), v.id()), (kid, vid));
    t.assert_alive(kid);
    t.assert_alive(vid);
    drop((k, v));
    t.assert_dropped_once(kid);

    // Remove everything one by one.
    let keys: Vec<u64> = m.keys().map(|k| *k.borrow()).collect();
    for key in keys {
        drop(m.remove(&key).unwrap());
    }
    assert!(m.is_empty());
    t.assert_all_dropped_once();
    m.check_invariants();
}
for_all_types!(remove_and_remove_entry, remove);

fn entries<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);

    // OccupiedEntry::insert: value replaced and returned, stored key kept,
    // the key passed to entry() dropped.
    let (kid, vid) = {
        let (k, v) = m.get_key_value(&5).unwrap();
        (k.id(), v.id())
    };
    let probe = KK::make(&t, 5);
    let pid = probe.id();
    let nv = VV::make(&t, 55);
    let nvid = nv.id();
    match m.entry(probe) {
        Entry::Occupied(mut o) => {
            assert_eq!(o.key().id(), kid);
            let old = o.insert(nv);
            assert_eq!(old.id(), vid);
            t.assert_alive(vid);
            drop(old);
            t.assert_dropped_once(vid);
        }
        Entry::Vacant(_) => panic!("key 5 must be present"),
    }
    t.assert_dropped_once(pid);
    t.assert_alive(kid);
    assert_eq!(m.get(&5).unwrap().id(), nvid);

    // OccupiedEntry::remove: the stored key is dropped, the value returned.
    let probe = KK::make(&t, 6);
    let pid = probe.id();
    let (kid, vid) = {
        let (k, v) = m.get_key_value(&6).unwrap();
        (k.id(), v.id())
    };
    match m.entry(probe) {
        Entry::Occupied(o) => {
            let v = o.remove();
            assert_eq!(v.id(), vid);
            t.assert_alive(vid);
        }
        Entry::Vacant(_) => panic!("key 6 must be present"),
    }
    t.assert_dropped_once(vid);
    t.assert_dropped_once(kid);
    t.assert_dropped_once(pid);
    assert!(m.get(&6).is_none());

    // OccupiedEntry::remove_entry returns the stored key.
    let probe = KK::make(&t, 8);
    let kid = m.get_key_value(&8).unwrap().0.id();
    if let Entry::Occupied(o) = m.entry(probe) {
        let (k, v) = o.remove_entry();
        assert_eq!(k.id(), kid);
        drop((k, v));
    } else {
        panic!("key 8 must be present");
    }

    // VacantEntry::insert stores the given key and value.
    let nk = KK::make(&t, 100_000);
    let nv = VV::make(&t, 1);
    let (nkid, nvid) = (nk.id(), nv.id());
    match m.entry(nk) {
        Entry::Vacant(v) => {
            assert_eq!(v.key().id(), nkid);
            v.insert(nv);
        }
        Entry::Occupied(_) => panic!("key 100000 must be absent"),
    }
    let (k, v) = m.get_key_value(&100_000).unwrap();
    assert_eq!((k.id(), v.id()), (nkid, nvid));

    // A vacant entry that is dropped without inserting drops its key only.
    let nk = KK::make(&t, 100_001);
    let nkid = nk.id();
    drop(m.entry(nk));
    t.assert_dropped_once(nkid);
    assert!(m.get(&100_001).is_none());

    // or_insert on an occupied entry drops the provided value and key.
    let nk = KK::make(&t, 9);
    let nv = VV::make(&t, 1);
    let (nkid, nvid) = (nk.id(), nv.id());
    let stored = m.entry(nk).or_insert(nv).id();
    assert_ne!(stored, nvid);
    t.assert_dropped_once(nkid);
    t.assert_dropped_once(nvid);

    m.check_invariants();
    t.assert_no_double_drop();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(entry_api_drops, entries);

fn clone<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let m: Map<KK, VV> = build(&t, growing);
    let originals = t.created();
    let c = m.clone();
    c.check_invariants();
    assert_eq!(c.len(), m.len());
    assert_eq!(t.created(), 2 * originals, "clone clones every key and value");
    for (k, v) in c.iter() {
        assert_eq!(m.get(k.borrow()).unwrap().val(), v.val());
    }
    drop(c);
    for id in ids(&m) {
        t.assert_alive(id);
    }
    t.assert_no_double_drop();
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(clone_then_drop_both, clone);

/// Writes that run while growing (and thus evacuate) must neither drop nor
/// duplicate moved entries.
fn writes_during_growth<KK: TKey, VV: TVal>(growing: bool) {
    let t = Tracker::new();
    let mut m: Map<KK, VV> = build(&t, growing);
    let n = m.len() as u64;
    let mut steps = 0;
    while m.stats().growing {
        // Alternate: remove an absent key, update, insert new.
        steps += 1;
        match steps % 3 {
            0 => assert!(m.remove(&(n + 1_000_000)).is_none()),
            1 => drop(m.insert(KK::make(&t, steps % n), VV::make(&t, 1))),
            _ => assert!(m.insert(KK::make(&t, n + steps), VV::make(&t, 2)).is_none()),
        }
        m.check_invariants();
        t.assert_no_double_drop();
        for id in ids(&m) {
            t.assert_alive(id);
        }
    }
    assert_eq!(t.alive(), 2 * m.len());
    drop(m);
    t.assert_all_dropped_once();
}
for_all_types!(writes_during_growth_keep_entries, writes_during_growth);

thread_local! {
    static ZST_DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(PartialEq, Eq, Hash)]
struct ZstDrop;
impl Drop for ZstDrop {
    fn drop(&mut self) {
        ZST_DROPS.with(|c| c.set(c.get() + 1));
    }
}

fn zst_drops() -> usize {
    ZST_DROPS.with(|c| c.get())
}

#[test]
fn zero_sized_keys_and_values_are_dropped() {
    let base = zst_drops();
    let mut m: GoMap<ZstDrop, ZstDrop> = GoMap::new();
    assert!(m.insert(ZstDrop, ZstDrop).is_none());
    assert_eq!(zst_drops(), base);
    // Overwrite: old value returned, new key dropped.
    let old = m.insert(ZstDrop, ZstDrop);
    assert_eq!(zst_drops(), base + 1);
    drop(old);
    assert_eq!(zst_drops(), base + 2);
    assert_eq!(m.len(), 1);
    m.check_invariants();
    drop(m);
    assert_eq!(zst_drops(), base + 4);

    // u64 keys, ZST values: many entries across growths.
    let base = zst_drops();
    let n = if MIRI { 60 } else { 2000 };
    let mut m: GoMap<u64, ZstDrop> = GoMap::new();
    for i in 0..n {
        m.insert(i, ZstDrop);
    }
    assert_eq!(zst_drops(), base);
    m.retain(|k, _| k % 2 == 0);
    assert_eq!(zst_drops(), base + n as usize / 2);
    m.check_invariants();
    // Shrinking moves zero-sized values without dropping any.
    let b = m.stats().b;
    m.retain(|k, _| k % 16 == 0);
    m.shrink_to_fit();
    assert!(m.stats().b < b);
    assert_eq!(zst_drops(), base + n as usize - m.len());
    assert!((0..n).step_by(16).all(|k| m.contains_key(&k)));
    m.check_invariants();
    drop(m);
    assert_eq!(zst_drops(), base + n as usize);
}

//! Helpers shared by the integration tests: deliberately poor hashers, the proptest
//! configuration, and a watcher of growths (every test binary uses only some of them).
#![allow(dead_code)]

pub mod watcher;

use proptest::test_runner::{Config, RngAlgorithm};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

/// Whether the tests run under Miri, which needs much smaller sizes.
pub const MIRI: bool = cfg!(miri);

/// `normal`, or `miri` under Miri.
pub const fn scale(normal: usize, miri: usize) -> usize {
    if MIRI {
        miri
    } else {
        normal
    }
}

/// Go's B for `make(map, hint)`: the least with `hint` entries within the load factor
/// (Go's `overLoadFactor`: more than 8 entries and more than 6.5 per bucket).
pub fn go_b(hint: usize) -> u8 {
    let mut b = 0;
    while hint > 8 && hint > 13 * ((1usize << b) / 2) {
        b += 1;
    }
    b
}

/// A map holding keys `0..k` (value = key), the least `k` past `more_than` whose insert
/// leaves a doubling in progress; returns the map and `k`.
pub fn mid_growth(more_than: usize) -> (gomap::GoMap<u64, u64>, u64) {
    let mut map = gomap::GoMap::new();
    let mut k = 0;
    while !(map.len() > more_than && map.stats().growing) {
        map.insert(k, k);
        k += 1;
    }
    (map, k)
}

/// A proptest configuration: `cases` runs, no regression files, and under Miri a cheaper
/// random generator (ChaCha is slow to interpret). `GOMAP_TEST_SOAK=k` runs `k` times the
/// cases, for a soak run (`GOMAP_TEST_SOAK=1000 cargo test --release -p gomap --test
/// differential` takes minutes and has found what the default count does not).
pub fn config(cases: u32) -> Config {
    let soak = std::env::var("GOMAP_TEST_SOAK").map_or(1, |v| {
        v.parse::<u32>().ok().filter(|&k| k > 0).expect("GOMAP_TEST_SOAK must be a whole number of at least 1")
    });
    let mut c = Config { cases: cases.saturating_mul(soak), failure_persistence: None, ..Config::default() };
    if MIRI {
        c.rng_algorithm = RngAlgorithm::XorShift;
    }
    c
}

const ODD: u64 = 0x9E37_79B9_7F4A_7C15;

/// A `BuildHasher` that maps the hashed `u64` through a fixed function.
#[derive(Clone, Copy)]
pub struct FnBuild(pub fn(u64) -> u64);

pub struct FnHasher {
    f: fn(u64) -> u64,
    acc: u64,
}

impl Hasher for FnHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.acc = self.acc.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.acc = self.acc.rotate_left(8) ^ n;
    }
    fn finish(&self) -> u64 {
        (self.f)(self.acc)
    }
}

impl BuildHasher for FnBuild {
    type Hasher = FnHasher;
    fn build_hasher(&self) -> FnHasher {
        FnHasher { f: self.0, acc: 0 }
    }
}

/// Low 40 bits are always zero: every key lands in bucket 0 (one long chain),
/// the tophash still varies.
pub fn low_bits_zero(k: u64) -> u64 {
    k.wrapping_mul(ODD) << 40
}

/// Only five distinct hash values at all (same bucket *and* same tophash for
/// every key of a class, so every probe compares many keys).
pub fn five_hashes(k: u64) -> u64 {
    (k % 5).wrapping_mul(ODD)
}

/// Runs of 32 consecutive keys share one hash: under FIFO churn every new run
/// opens a fresh long chain, which produces overflow buckets and eventually a
/// same-size growth.
pub fn clusters_of_32(k: u64) -> u64 {
    (k / 32).wrapping_mul(ODD)
}

/// Bucket index = generation `k / 32` (low bits), varied tophash (top byte).
/// Deterministic chain placement for the dedicated same-size growth test.
pub fn generation_32(k: u64) -> u64 {
    (k / 32) | (k.wrapping_mul(ODD) & 0xFF00_0000_0000_0000)
}

/// FIFO churn that keeps starting same-size growths: keys `0..steps` inserted in order into
/// a map of 8 buckets hashed by [`generation_32`], each removed 40 inserts later (the
/// setting of `differential::same_size_growth_under_fifo_churn`); `f` sees the map after
/// every step, with the step's key.
pub fn same_size_churn(steps: u64, mut f: impl FnMut(&gomap::GoMap<u64, u64, FnBuild>, u64)) {
    let mut map = gomap::GoMap::with_capacity_and_hasher(40, FnBuild(generation_32));
    for k in 0..steps {
        map.insert(k, k);
        if k >= 40 {
            map.remove(&(k - 40));
        }
        f(&map, k);
    }
}

/// How many times each tracked instance has been dropped, for the exactly-once tests.
#[derive(Default)]
pub struct DropLog {
    drops: Mutex<Vec<u32>>,
}

impl DropLog {
    /// A new instance id, not dropped yet.
    pub fn new_id(&self) -> usize {
        let mut d = self.drops.lock().unwrap();
        d.push(0);
        d.len() - 1
    }
    pub fn dropped(&self, id: usize) {
        self.drops.lock().unwrap()[id] += 1;
    }
    pub fn count(&self, id: usize) -> u32 {
        self.drops.lock().unwrap()[id]
    }
    /// Instances made so far.
    pub fn created(&self) -> usize {
        self.drops.lock().unwrap().len()
    }
    /// Instances not dropped yet.
    pub fn alive(&self) -> usize {
        self.drops.lock().unwrap().iter().filter(|&&c| c == 0).count()
    }
    #[track_caller]
    pub fn assert_alive(&self, id: usize) {
        assert_eq!(self.count(id), 0, "instance {id} dropped while still owned");
    }
    #[track_caller]
    pub fn assert_dropped_once(&self, id: usize) {
        assert_eq!(self.count(id), 1, "instance {id} drop count");
    }
    #[track_caller]
    pub fn assert_no_double_drop(&self) {
        for (id, &c) in self.drops.lock().unwrap().iter().enumerate() {
            assert!(c <= 1, "instance {id} dropped {c} times");
        }
    }
    #[track_caller]
    pub fn assert_all_dropped_once(&self) {
        for (id, &c) in self.drops.lock().unwrap().iter().enumerate() {
            assert_eq!(c, 1, "instance {id} dropped {c} times (expected exactly once: a leak?)");
        }
    }
}

//! Helpers shared by the integration tests: deliberately poor hashers, and the proptest
//! configuration (every test binary uses only some of them).
#![allow(dead_code)]

use proptest::test_runner::{Config, RngAlgorithm};
use std::hash::{BuildHasher, Hasher};

/// Whether the tests run under Miri, which needs much smaller sizes.
pub const MIRI: bool = cfg!(miri);

/// A proptest configuration: `cases` runs, no regression files, and under Miri a cheaper
/// random generator (ChaCha is slow to interpret).
pub fn config(cases: u32) -> Config {
    let mut c = Config { cases, failure_persistence: None, ..Config::default() };
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

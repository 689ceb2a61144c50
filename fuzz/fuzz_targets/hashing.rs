//! How the fuzz targets' keys hash, chosen by the input (shared by the targets).

use std::hash::{BuildHasher, Hasher};

use arbitrary::Arbitrary;

/// How keys hash: well, or into few buckets and tophashes (long overflow chains, many
/// same-size growths), chosen by the input.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Hashing {
    Good,
    /// Only the key's low `bits` bits (capped at 6) decide the hash.
    Poor {
        bits: u8,
    },
    /// Runs of `run` consecutive keys share a hash: under churn, each new run starts a long
    /// chain, so overflow buckets pile up while the map is well filled.
    Clustered {
        run: u8,
    },
}

#[derive(Clone, Copy)]
pub struct Build(pub Hashing);

pub struct KeyHasher(Hashing, u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        let mix = |k: u64| (k ^ (k >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ 0x9E37_79B9_7F4A_7C15;
        match self.0 {
            Hashing::Good => mix(self.1),
            Hashing::Poor { bits } => mix(self.1 & ((1u64 << (bits % 7)) - 1)),
            Hashing::Clustered { run } => mix(self.1 / u64::from(run.max(1))),
        }
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.1 = self.1.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u16(&mut self, k: u16) {
        self.1 = u64::from(k);
    }
}

impl BuildHasher for Build {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(self.0, 0)
    }
}

//! Helpers shared by the benches (each bench uses only some of them).
#![allow(dead_code)]

/// splitmix64: a tiny, fixed-seed PRNG so every map sees the same keys.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The first `n` distinct values of the splitmix64 stream from a fixed seed: the same keys
/// in every bench and every run.
pub fn distinct_keys(n: usize) -> Vec<u64> {
    let mut rng = SplitMix64(0x5EED_5EED_601A_3A75);
    let mut seen = hashbrown::HashSet::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let k = rng.next_u64();
        if seen.insert(k) {
            keys.push(k);
        }
    }
    keys
}

/// Whether the command line asks for a bench's interleaved ratios (timed in alternation after
/// criterion's runs): not in criterion's `--test` or `--list` modes, and not when a filter
/// names only other benchmarks (`-- interleaved` asks for them alone).
pub fn interleaved_wanted() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    !args.iter().any(|a| a == "--test" || a == "--list")
        && (filters.is_empty() || filters.iter().any(|f| f.contains("interleaved")))
}

/// `median [lower quartile, upper quartile]` of `values`.
pub fn median_and_quartiles(mut values: Vec<f64>, decimals: usize) -> String {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    format!("{:.decimals$} [{:.decimals$}, {:.decimals$}]", at(2), at(1), at(3))
}

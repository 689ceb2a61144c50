//! Walking a whole map: `GoMap::iter`, `GoMap::range` (Go's randomized order), a
//! `Cursor` walk with no change to the map and with one remove per step (the key just
//! produced: Go's `for k := range m { delete(m, k) }`), against hashbrown's and std's
//! iteration. All maps hold the same N random `u64` keys (values `u64`), hashed with
//! foldhash. Every walk is a `for` (or `while let`) loop summing the values, so all go
//! through `next`, as a cursor must. `sum()` and other `fold`-based consumers of `iter` and
//! `range` take a faster path: the `*_fold` benchmarks measure it, for gomap and hashbrown.
//!
//! Run with `cargo bench -p gomap --bench iteration`; `GOMAP_BENCH_N` sets N (default
//! 1,000,000; the 10,000-entry group is always run too, for a map that fits in cache).
//! Criterion reports the time per walk and the per-entry rate. At the end (unless a filter
//! names only other benchmarks, or with `--test`/`--list`) the walks the targets compare are
//! timed again in alternation, round by round, and the median ratios to `iter` printed as a
//! table: on a host whose speed drifts, ratios of walks timed seconds apart in separate
//! benchmarks are noisier (`-- interleaved` runs only this part, in about 15 seconds).

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use gomap::GoMap;

type Hasher = foldhash::fast::RandomState;

/// The values' sum, by a `for` loop.
fn sum<'a>(entries: impl Iterator<Item = (&'a u64, &'a u64)>) -> u64 {
    let mut sum = 0u64;
    for (_, &v) in entries {
        sum = sum.wrapping_add(v);
    }
    sum
}

/// The values' sum, by a `Cursor` walk with no change to the map.
fn cursor_sum(map: &mut GoMap<u64, u64, Hasher>) -> u64 {
    let mut cursor = map.cursor();
    let mut sum = 0u64;
    while let Some((_, &mut v)) = cursor.next(map) {
        sum = sum.wrapping_add(v);
    }
    sum
}

/// The values' sum, by `fold` (the iterators' internal-iteration path).
fn sum_by_fold<'a>(entries: impl Iterator<Item = (&'a u64, &'a u64)>) -> u64 {
    entries.fold(0, |sum, (_, &v)| sum.wrapping_add(v))
}

fn walks(c: &mut Criterion, n: usize) {
    let keys = common::distinct_keys(n);
    let gomap: GoMap<u64, u64, Hasher> = keys.iter().map(|&k| (k, k)).collect();
    let hashbrown: hashbrown::HashMap<u64, u64, Hasher> = keys.iter().map(|&k| (k, k)).collect();
    let std: std::collections::HashMap<u64, u64, Hasher> = keys.iter().map(|&k| (k, k)).collect();

    let mut g = c.benchmark_group(format!("walk/{n}"));
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.bench_function("gomap_iter", |b| b.iter(|| sum(black_box(&gomap).iter())));
    g.bench_function("gomap_range", |b| b.iter(|| sum(black_box(&gomap).range())));
    g.bench_function("gomap_cursor", |b| {
        let mut map = gomap.clone();
        b.iter(|| cursor_sum(black_box(&mut map)))
    });
    g.bench_function("gomap_cursor_remove_each", |b| {
        b.iter_batched(
            || gomap.clone(),
            |mut map| {
                let mut cursor = map.cursor();
                while let Some((&k, _)) = cursor.next(&mut map) {
                    map.remove(&k);
                }
                assert!(map.is_empty());
                map
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("hashbrown_iter", |b| b.iter(|| sum(black_box(&hashbrown).iter())));
    g.bench_function("std_iter", |b| b.iter(|| sum(black_box(&std).iter())));
    g.bench_function("gomap_iter_fold", |b| b.iter(|| sum_by_fold(black_box(&gomap).iter())));
    g.bench_function("gomap_range_fold", |b| b.iter(|| sum_by_fold(black_box(&gomap).range())));
    g.bench_function("hashbrown_iter_fold", |b| b.iter(|| sum_by_fold(black_box(&hashbrown).iter())));
    g.finish();
}

/// The walks the targets compare, timed in alternation: each round times a batch
/// of every walk back to back (in an order that turns each round), so that a slow phase of
/// the host (a shared VM) falls on all of them alike, and reports the median and quartiles
/// of the per-round ratios to `iter`. Criterion above times each walk for seconds, one
/// after the other, so a ratio of two of its figures also holds whatever the host did in
/// between.
fn interleaved(n: usize) -> [String; 4] {
    const ROUNDS: usize = 101;
    let keys = common::distinct_keys(n);
    let gomap: GoMap<u64, u64, Hasher> = keys.iter().map(|&k| (k, k)).collect();
    let hashbrown: hashbrown::HashMap<u64, u64, Hasher> = keys.iter().map(|&k| (k, k)).collect();
    let mut map = gomap.clone();
    // About 2 million entries per batch: a few milliseconds.
    let walks = (2_000_000 / n).max(1);
    let mut batch = |walk: usize| {
        let start = Instant::now();
        for _ in 0..walks {
            let sum = match walk {
                0 => sum(black_box(&gomap).iter()),
                1 => sum(black_box(&gomap).range()),
                2 => cursor_sum(black_box(&mut map)),
                _ => sum(black_box(&hashbrown).iter()),
            };
            black_box(sum);
        }
        start.elapsed().as_secs_f64()
    };
    let mut ratios: [Vec<f64>; 3] = Default::default();
    let mut iter_ns = Vec::new();
    for round in 0..ROUNDS {
        let mut time = [0.0; 4];
        for k in 0..4 {
            let walk = (round + k) % 4;
            time[walk] = batch(walk);
        }
        for (ratios, t) in ratios.iter_mut().zip([time[1], time[2], time[3]]) {
            ratios.push(t / time[0]);
        }
        iter_ns.push(time[0] * 1e9 / (walks * n) as f64);
    }
    let [range, cursor, hashbrown] = ratios.map(|r| common::median_and_quartiles(r, 2));
    [common::median_and_quartiles(iter_ns, 2), range, cursor, hashbrown]
}

fn main() {
    let n = std::env::var("GOMAP_BENCH_N").ok().and_then(|s| s.parse().ok()).unwrap_or(1_000_000);
    let mut c = Criterion::default().configure_from_args();
    walks(&mut c, 10_000);
    if n != 10_000 {
        walks(&mut c, n);
    }
    c.final_summary();
    if common::interleaved_wanted() {
        println!("\n### Interleaved: ratio of each walk's time to gomap `iter` (median [quartiles] of 101 rounds)\n");
        println!("| N | gomap `iter`, ns per entry | `range` / `iter` | `Cursor`, no change / `iter` | hashbrown `iter` / gomap `iter` |");
        println!("|---:|---:|---:|---:|---:|");
        for n in if n == 10_000 { vec![n] } else { vec![10_000, n] } {
            let [iter, range, cursor, hashbrown] = interleaved(n);
            println!("| {n} | {iter} | {range} | {cursor} | {hashbrown} |");
        }
    }
}

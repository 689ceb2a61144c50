//! Who pays to free what `gomap::sync` replaces, and when the memory comes back.
//!
//! ```text
//! cargo bench -p gomap --bench reclaim                 # both parts, REPEAT=3 runs each
//! PARTS=cow REPEAT=5 cargo bench -p gomap --bench reclaim
//! ```
//!
//! * `cow`: a `CowMap<String, Tracked>` of 1e6 entries. One thread reads present keys with
//!   `get` as fast as it can while the main thread writes 20 times, 30 ms apart; every
//!   write replaces a snapshot of 1e6 entries that the reader may be looking into. Reported:
//!   how many of the replaced snapshots' values the reader's thread dropped (one whole
//!   snapshot is 1e6: a read that frees one takes milliseconds), the slowest read, the
//!   reads over 1 ms (on this shared host a few come from being descheduled, whatever the
//!   map does), and the slowest write (a write copies the map, O(n) by design).
//! * `sync_map`: a `SyncMap<u64, u64>`, one thread: 3e6 keys stored and promoted by
//!   `range`, one new key, a second `range` (a promotion that replaces the read-only map),
//!   then 5e6 loads of present keys. Reported: resident memory (VmRSS) after the promotion,
//!   after 1e6 loads and after 5e6, and the slowest load in the first 1e6. A `SyncMap`
//!   that is only read after its last promotion must still give the replaced map back.
//!
//! BENCHMARKS.md has the results, before and after the changes they measure.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gomap::sync::{CowMap, SyncMap};
use gomap::GoMap;

mod common;
use common::{distinct_keys, SplitMix64};

thread_local! {
    /// `Tracked` values dropped on this thread.
    static DROPPED_HERE: Cell<u64> = const { Cell::new(0) };
}

/// A value that counts its drops on the thread that drops it.
#[derive(Clone)]
struct Tracked(#[allow(dead_code)] u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED_HERE.with(|d| d.set(d.get() + 1));
    }
}

fn dropped_here() -> u64 {
    DROPPED_HERE.with(Cell::get)
}

/// The sizes of a run: the module documentation's, or tiny ones for the smoke run of
/// `cargo test --benches`.
struct Sizes {
    cow_entries: usize,
    cow_writes: usize,
    sync_map_entries: u64,
    sync_map_loads: u64,
}

const FULL: Sizes =
    Sizes { cow_entries: 1_000_000, cow_writes: 20, sync_map_entries: 3_000_000, sync_map_loads: 5_000_000 };
const SMOKE: Sizes = Sizes { cow_entries: 1_000, cow_writes: 3, sync_map_entries: 10_000, sync_map_loads: 20_000 };

const COW_WRITE_EVERY: Duration = Duration::from_millis(30);

fn cow(sizes: &Sizes) {
    let entries = sizes.cow_entries;
    let keys: Vec<String> = distinct_keys(entries).iter().map(|k| format!("key-{k:016x}")).collect();
    let map: CowMap<String, Tracked> =
        CowMap::from_map(keys.iter().enumerate().map(|(i, k)| (k.clone(), Tracked(i as u64))).collect::<GoMap<_, _>>());
    let stop = AtomicBool::new(false);
    let (reader, slowest_write) = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut rng = SplitMix64(7);
            let (mut reads, mut slowest, mut over_1ms) = (0u64, Duration::ZERO, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let key = &keys[(rng.next_u64() % entries as u64) as usize];
                let start = Instant::now();
                let value = map.get(key.as_str());
                let took = start.elapsed();
                assert!(black_box(value).is_some(), "a present key was missing");
                reads += 1;
                slowest = slowest.max(took);
                over_1ms += u64::from(took > Duration::from_millis(1));
            }
            // Each `get` returned a clone, dropped here too.
            (dropped_here() - reads, reads, slowest, over_1ms)
        });
        let mut slowest_write = Duration::ZERO;
        for i in 0..sizes.cow_writes {
            std::thread::sleep(COW_WRITE_EVERY);
            let start = Instant::now();
            map.insert(format!("new-{i}"), Tracked(i as u64));
            slowest_write = slowest_write.max(start.elapsed());
        }
        std::thread::sleep(COW_WRITE_EVERY);
        stop.store(true, Ordering::Relaxed);
        (reader.join().unwrap(), slowest_write)
    });
    let (reader_freed, reads, slowest, over_1ms) = reader;
    println!(
        "cow: reader dropped {reader_freed} replaced values (a snapshot is {entries}); {reads} reads, \
         slowest {:.1} µs, {over_1ms} over 1 ms; slowest write {:.1} ms",
        slowest.as_secs_f64() * 1e6,
        slowest_write.as_secs_f64() * 1e3,
    );
}

/// Resident memory in MB, from /proc/self/status (Linux).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status (Linux only)");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS in /proc/self/status");
    let kb: f64 = line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("VmRSS in kB");
    kb / 1024.0
}

fn sync_map(sizes: &Sizes) {
    let (entries, loads) = (sizes.sync_map_entries, sizes.sync_map_loads);
    let timed = loads / 5;
    let map = SyncMap::new();
    for k in 0..entries {
        map.store(k, k);
    }
    map.range(|_, _| true);
    map.store(entries, 0);
    map.range(|_, _| true);
    let after_promotion = rss_mb();
    let mut rng = SplitMix64(11);
    let mut slowest = Duration::ZERO;
    let mut after_timed = 0.0;
    for i in 0..loads {
        let k = rng.next_u64() % entries;
        if i < timed {
            let start = Instant::now();
            let value = map.load(&k);
            slowest = slowest.max(start.elapsed());
            assert_eq!(black_box(value), Some(k));
        } else {
            assert_eq!(black_box(map.load(&k)), Some(k));
        }
        if i + 1 == timed {
            after_timed = rss_mb();
        }
    }
    println!(
        "sync_map: RSS {after_promotion:.0} MB after the promotion, {after_timed:.0} MB after {timed} loads, \
         {:.0} MB after {loads}; slowest of the first {timed} loads {:.1} µs",
        rss_mb(),
        slowest.as_secs_f64() * 1e6,
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: a tiny smoke run
    // then, so that the tests exercise this file.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let sizes = if smoke { &SMOKE } else { &FULL };
    let parts = std::env::var("PARTS").unwrap_or_else(|_| "cow,sync_map".into());
    let repeat: usize = std::env::var("REPEAT").ok().and_then(|r| r.parse().ok()).unwrap_or(if smoke { 1 } else { 3 });
    for _ in 0..repeat {
        for part in parts.split(',') {
            match part {
                "cow" => cow(sizes),
                "sync_map" => sync_map(sizes),
                other => panic!("PARTS: unknown part {other:?} (cow, sync_map)"),
            }
        }
    }
}

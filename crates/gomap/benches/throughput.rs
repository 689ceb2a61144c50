//! Throughput of `gomap::GoMap` against `std::collections::HashMap`,
//! `hashbrown::HashMap` (all three with `foldhash::fast::RandomState`) and
//! `griddle::HashMap` (also with foldhash), measured in the same run.
//!
//! Groups (N = 1e6 random `u64` keys from a fixed-seed splitmix64 stream, the
//! same keys for every map; values are `u64`):
//!
//! * `insert_empty`    – insert N keys into a map made with `with_hasher`
//! * `insert_presized` – insert N keys into a map made with `with_capacity_and_hasher(N)`
//! * `get_hit`         – look up the N present keys (map built without a hint)
//! * `get_miss`        – look up N absent keys
//! * `remove`          – remove the N keys, in insertion order, from a map built
//!   without a hint (the map is rebuilt outside the timed region)
//! * `iterate`         – one full iteration over the N entries
//! * `clone`           – one clone of the map of N entries (the copy is dropped untimed)
//! * `clear`           – one `clear` of a map of N entries built without a hint (Go's
//!   `mapclear` for gomap: the arrays are kept; built outside the timed region)
//! * `shrink`          – one `shrink_to_fit` of a map built with N keys of which all but the
//!   first tenth were then removed (building and removing outside the timed region)
//!
//! Criterion reports the time for one batch of N operations and, because every
//! group sets `Throughput::Elements(N)`, the per-element rate. At the end (unless a filter
//! names only other benchmarks, or with `--test`/`--list`) every operation is timed again on
//! gomap, hashbrown and griddle in alternation, nine rounds, and the median ratios printed:
//! criterion times each map for seconds, one after the other, so on a host whose speed
//! drifts its ratios are noisier (`-- interleaved` runs only this part, in about 30 s).
//!
//! Run with `cargo bench -p gomap --bench throughput`. Set `GOMAP_BENCH_N` to
//! change N (e.g. for a quick smoke run). Set `GOMAP_BENCH_CLOCK=cpu` to measure
//! this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) instead of wall-clock time:
//! on a shared machine whose other processes take the CPU away from the
//! benchmark, wall-clock time counts their time slices too, CPU time does not.
//! Set `GOMAP_BENCH_GO` to a `go` command (e.g. `/usr/lib/go-1.19/bin/go`) to add Go's own
//! map to the interleaved table (tools/gobench/README.md). Set `GOMAP_BENCH_OPS` to a
//! comma-separated list of operations (e.g. `remove,get_hit`) to time only those in the
//! interleaved table.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput};

type Hasher = foldhash::fast::RandomState;
type Group<'a, T> = BenchmarkGroup<'a, T>;

/// Criterion measurement: this thread's CPU time in nanoseconds.
struct ThreadCpuTime {
    /// Only for its formatter (values are nanoseconds, as WallTime's are).
    wall: WallTime,
}

#[cfg(unix)]
fn thread_cpu_ns() -> u64 {
    // SAFETY: `clock_gettime` only writes into the struct we pass.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        let rc = libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts);
        assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

#[cfg(not(unix))]
fn thread_cpu_ns() -> u64 {
    panic!("GOMAP_BENCH_CLOCK=cpu needs a Unix CLOCK_THREAD_CPUTIME_ID")
}

impl Measurement for ThreadCpuTime {
    type Intermediate = u64;
    type Value = u64;

    fn start(&self) -> u64 {
        thread_cpu_ns()
    }
    fn end(&self, start: u64) -> u64 {
        thread_cpu_ns() - start
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}

/// `n` distinct hit keys and `n` distinct miss keys (disjoint from the hits).
fn make_keys(n: usize) -> (Vec<u64>, Vec<u64>) {
    let mut hits = common::distinct_keys(2 * n);
    let misses = hits.split_off(n);
    (hits, misses)
}

fn bench_n() -> usize {
    std::env::var("GOMAP_BENCH_N")
        .ok()
        .map(|s| s.replace('_', "").parse::<f64>().expect("GOMAP_BENCH_N must be a number"))
        .map_or(1_000_000, |n| n as usize)
}

/// The operations every map under test offers, so each group runs the same
/// code for each map.
trait BenchMap: Sized + Clone {
    const NAME: &'static str;
    fn empty() -> Self;
    fn presized(n: usize) -> Self;
    fn put(&mut self, k: u64, v: u64);
    fn lookup(&self, k: &u64) -> Option<&u64>;
    fn take(&mut self, k: &u64) -> Option<u64>;
    fn sum_iter(&self) -> u64;
    fn wipe(&mut self);
    fn shrink(&mut self);
}

// Every method `#[inline(always)]`: each map's operation is then compiled into the timed
// loop, as a user's direct call would be. With `#[inline]`, LLVM left the wrapper of some
// maps' operations out of line and of others' not, a call more per operation for some
// (gomap's and griddle's `remove`: ~15 % of gomap's time on the AMD EPYC host).
macro_rules! impl_bench_map {
    ($ty:ty, $name:expr) => {
        impl BenchMap for $ty {
            const NAME: &'static str = $name;
            #[inline(always)]
            fn empty() -> Self {
                <$ty>::with_hasher(Hasher::default())
            }
            #[inline(always)]
            fn presized(n: usize) -> Self {
                <$ty>::with_capacity_and_hasher(n, Hasher::default())
            }
            #[inline(always)]
            fn put(&mut self, k: u64, v: u64) {
                self.insert(k, v);
            }
            #[inline(always)]
            fn lookup(&self, k: &u64) -> Option<&u64> {
                self.get(k)
            }
            #[inline(always)]
            fn take(&mut self, k: &u64) -> Option<u64> {
                self.remove(k)
            }
            #[inline(always)]
            fn sum_iter(&self) -> u64 {
                let mut acc = 0u64;
                for (k, v) in self.iter() {
                    acc = acc.wrapping_add(*k ^ *v);
                }
                acc
            }
            #[inline(always)]
            fn wipe(&mut self) {
                self.clear();
            }
            #[inline(always)]
            fn shrink(&mut self) {
                self.shrink_to_fit();
            }
        }
    };
}

type GoM = gomap::GoMap<u64, u64, Hasher>;
type StdM = std::collections::HashMap<u64, u64, Hasher>;
type HbM = hashbrown::HashMap<u64, u64, Hasher>;
type GrM = griddle::HashMap<u64, u64, Hasher>;

impl_bench_map!(GoM, "gomap");
impl_bench_map!(StdM, "std");
impl_bench_map!(HbM, "hashbrown");
impl_bench_map!(GrM, "griddle");

/// Inserts every key (the insert benchmarks' work).
fn fill<M: BenchMap>(mut m: M, keys: &[u64]) -> M {
    for &k in keys {
        m.put(k, k);
    }
    m
}

fn build<M: BenchMap>(keys: &[u64]) -> M {
    fill(M::empty(), keys)
}

/// A map built with every key and then emptied of all but the first tenth (what the shrink
/// benchmark shrinks).
fn build_thinned<M: BenchMap>(keys: &[u64]) -> M {
    let mut m = build::<M>(keys);
    for k in &keys[keys.len() / 10..] {
        m.take(k);
    }
    m
}

/// Looks up every probe (the lookup benchmarks' work): the sum of the values found.
fn look_up_all<M: BenchMap>(m: &M, probes: &[u64]) -> u64 {
    let mut acc = 0u64;
    for k in probes {
        if let Some(v) = m.lookup(black_box(k)) {
            acc = acc.wrapping_add(*v);
        }
    }
    acc
}

/// Removes every key (the remove benchmark's work): the sum of the values removed.
fn take_all<M: BenchMap>(m: &mut M, keys: &[u64]) -> u64 {
    let mut acc = 0u64;
    for k in keys {
        if let Some(v) = m.take(black_box(k)) {
            acc = acc.wrapping_add(v);
        }
    }
    acc
}

fn configure<'a, T: Measurement>(c: &'a mut Criterion<T>, name: &str, n: usize) -> Group<'a, T> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(n as u64));
    g
}

fn insert_empty<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    g.bench_function(M::NAME, |b| b.iter_batched(M::empty, |m| fill(m, keys), BatchSize::PerIteration));
}

fn insert_presized<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    let n = keys.len();
    g.bench_function(M::NAME, |b| b.iter_batched(|| M::presized(n), |m| fill(m, keys), BatchSize::PerIteration));
}

fn lookups<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64], probes: &[u64], expect_hit: bool) {
    // Built on first use, so that a filtered-out benchmark builds nothing.
    let mut map: Option<M> = None;
    g.bench_function(M::NAME, |b| {
        let m = map.get_or_insert_with(|| {
            let m: M = build(keys);
            // Sanity: hits are all present, misses all absent.
            let found = probes.iter().filter(|k| m.lookup(k).is_some()).count();
            assert_eq!(found, if expect_hit { probes.len() } else { 0 }, "{}", M::NAME);
            m
        });
        b.iter(|| look_up_all(m, probes))
    });
}

fn remove<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    g.bench_function(M::NAME, |b| {
        b.iter_batched(
            || build::<M>(keys),
            |mut m| {
                let acc = take_all(&mut m, keys);
                (m, acc)
            },
            BatchSize::PerIteration,
        )
    });
}

fn iterate<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    let mut map: Option<M> = None;
    g.bench_function(M::NAME, |b| {
        let m = map.get_or_insert_with(|| build(keys));
        b.iter(|| m.sum_iter())
    });
}

fn clone<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    let mut map: Option<M> = None;
    g.bench_function(M::NAME, |b| {
        let m = map.get_or_insert_with(|| build(keys));
        b.iter_with_large_drop(|| m.clone())
    });
}

/// Times `op` on a map `make` builds afresh for every iteration (the build is not timed).
fn on_fresh<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, make: impl Fn() -> M, op: impl Fn(&mut M)) {
    g.bench_function(M::NAME, |b| {
        b.iter_batched(
            &make,
            |mut m| {
                op(&mut m);
                m
            },
            BatchSize::PerIteration,
        )
    });
}

fn clear<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    on_fresh(g, || build::<M>(keys), M::wipe);
}

fn shrink<M: BenchMap, T: Measurement>(g: &mut Group<'_, T>, keys: &[u64]) {
    on_fresh(g, || build_thinned::<M>(keys), M::shrink);
}

macro_rules! for_each_map {
    ($f:ident, $g:expr $(, $arg:expr)*) => {
        $f::<GoM, _>($g $(, $arg)*);
        $f::<StdM, _>($g $(, $arg)*);
        $f::<HbM, _>($g $(, $arg)*);
        $f::<GrM, _>($g $(, $arg)*);
    };
}

fn benches<T: Measurement>(c: &mut Criterion<T>) {
    let n = bench_n();
    let (keys, misses) = make_keys(n);

    let mut g = configure(c, "insert_empty", n);
    for_each_map!(insert_empty, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "insert_presized", n);
    for_each_map!(insert_presized, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "get_hit", n);
    for_each_map!(lookups, &mut g, &keys, &keys, true);
    g.finish();

    let mut g = configure(c, "get_miss", n);
    for_each_map!(lookups, &mut g, &keys, &misses, false);
    g.finish();

    let mut g = configure(c, "remove", n);
    for_each_map!(remove, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "iterate", n);
    for_each_map!(iterate, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "clone", n);
    for_each_map!(clone, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "clear", n);
    for_each_map!(clear, &mut g, &keys);
    g.finish();

    let mut g = configure(c, "shrink", n);
    for_each_map!(shrink, &mut g, &keys);
    g.finish();
}

const GROUPS: [&str; 9] =
    ["insert_empty", "insert_presized", "get_hit", "get_miss", "remove", "iterate", "clone", "clear", "shrink"];

/// One run of operation `GROUPS[op]` over all keys on a map of type `M`, in seconds. Set-up
/// (building the map that a remove, a clear or a shrink works on) and dropping maps are not timed;
/// lookups and the walk use `built`, which holds every key.
fn time_op<M: BenchMap>(op: usize, keys: &[u64], misses: &[u64], built: &M) -> f64 {
    /// The time `work` takes; what it returns is dropped after the clock stops.
    fn timed<T>(work: impl FnOnce() -> T) -> (Duration, T) {
        let start = Instant::now();
        let result = black_box(work());
        (start.elapsed(), result)
    }
    let elapsed = match GROUPS[op] {
        "insert_empty" => {
            let m = M::empty();
            timed(|| fill(m, keys)).0
        }
        "insert_presized" => {
            let m = M::presized(keys.len());
            timed(|| fill(m, keys)).0
        }
        "get_hit" => timed(|| look_up_all(built, keys)).0,
        "get_miss" => timed(|| look_up_all(built, misses)).0,
        "remove" => {
            let mut m = build::<M>(keys);
            timed(|| take_all(&mut m, keys)).0
        }
        "iterate" => timed(|| built.sum_iter()).0,
        "clone" => timed(|| built.clone()).0,
        "clear" => {
            let mut m = build::<M>(keys);
            timed(|| m.wipe()).0
        }
        _ => {
            let mut m = build_thinned::<M>(keys);
            timed(|| m.shrink()).0
        }
    };
    elapsed.as_secs_f64()
}

/// gomap's time over hashbrown's and over griddle's for every operation, timed in
/// alternation: each round runs each operation on the three maps back to back (in an order
/// that turns each round), so that a slow phase of the host falls on all three alike.
/// Prints the median and quartiles of the per-round ratios. With `GOMAP_BENCH_GO` set (see
/// [`common::GoPeer`]), each round also times the operation on Go's own map, in a Go process
/// of its own started after the three (Go has no `shrink`: its maps never give memory back).
fn print_interleaved(n: usize) {
    const ROUNDS: usize = 9;
    let go_peer = common::GoPeer::from_env();
    let (keys, misses) = make_keys(n);
    let (go, hb, gr): (GoM, HbM, GrM) = (build(&keys), build(&keys), build(&keys));
    let ops: Vec<String> = match std::env::var("GOMAP_BENCH_OPS") {
        Ok(list) => list.split(',').map(|op| op.trim().to_owned()).collect(),
        Err(_) => GROUPS.iter().map(|op| op.to_string()).collect(),
    };
    if let Some(unknown) = ops.iter().find(|op| !GROUPS.contains(&op.as_str())) {
        panic!("GOMAP_BENCH_OPS: no operation {unknown:?}; the operations are {GROUPS:?}");
    }
    println!();
    println!("### Interleaved, N = {n}: gomap's time over each peer's (median [quartiles] of {ROUNDS} rounds)");
    println!();
    match &go_peer {
        Some(peer) => {
            println!("Go: {}", peer.version);
            println!();
            println!("| operation | gomap / hashbrown | gomap / griddle | gomap / Go | Go, ns per key |");
            println!("|---|---|---|---|---:|");
        }
        None => {
            println!("| operation | gomap / hashbrown | gomap / griddle |");
            println!("|---|---|---|");
        }
    }
    for (op, name) in GROUPS.iter().enumerate() {
        if !ops.iter().any(|wanted| wanted == name) {
            continue;
        }
        let (mut over_hb, mut over_gr, mut over_go, mut go_ns) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for round in 0..ROUNDS {
            let mut time = [0.0; 3];
            for k in 0..3 {
                let which = (round + k) % 3;
                time[which] = match which {
                    0 => time_op(op, &keys, &misses, &go),
                    1 => time_op(op, &keys, &misses, &hb),
                    _ => time_op(op, &keys, &misses, &gr),
                };
            }
            over_hb.push(time[0] / time[1]);
            over_gr.push(time[0] / time[2]);
            if let Some(peer) = go_peer.as_ref().filter(|_| *name != "shrink") {
                let seconds = peer.run(&["-mode", "op", "-op", name, "-n", &n.to_string()]).numbers("SECONDS")[0];
                over_go.push(time[0] / seconds);
                go_ns.push(seconds * 1e9 / n as f64);
            }
        }
        let (hb, gr) = (common::median_and_quartiles(over_hb, 2), common::median_and_quartiles(over_gr, 2));
        match &go_peer {
            Some(_) if over_go.is_empty() => println!("| {name} | {hb} | {gr} | — | — |"),
            Some(_) => println!(
                "| {name} | {hb} | {gr} | {} | {} |",
                common::median_and_quartiles(over_go, 2),
                common::median_and_quartiles(go_ns, 1)
            ),
            None => println!("| {name} | {hb} | {gr} |"),
        }
    }
}
const MAPS: [&str; 4] = ["gomap", "std", "hashbrown", "griddle"];

/// Where criterion keeps its results, found the way criterion 0.5 does it
/// (`CRITERION_HOME`, `CARGO_TARGET_DIR`), else the nearest `target/criterion`
/// above the working directory (cargo runs benches in the package directory).
fn criterion_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("CRITERION_HOME") {
        return Some(PathBuf::from(h));
    }
    if let Some(t) = std::env::var_os("CARGO_TARGET_DIR") {
        return Some(PathBuf::from(t).join("criterion"));
    }
    let cwd = std::env::current_dir().ok()?;
    cwd.ancestors().map(|a| a.join("target").join("criterion")).find(|p| p.is_dir())
}

/// Mean time per iteration (ns) and its 95 % confidence interval, from a
/// result written by this process (older files are ignored).
fn read_estimate(dir: &Path, group: &str, map: &str, since: SystemTime) -> Option<(f64, f64, f64)> {
    let file = dir.join(group).join(map).join("new").join("estimates.json");
    if std::fs::metadata(&file).ok()?.modified().ok()? < since {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).ok()?).ok()?;
    let mean = &v["mean"];
    Some((
        mean["point_estimate"].as_f64()?,
        mean["confidence_interval"]["lower_bound"].as_f64()?,
        mean["confidence_interval"]["upper_bound"].as_f64()?,
    ))
}

/// Prints a markdown table of ns per element (criterion's mean) with the
/// gomap/hashbrown and gomap/griddle ratios.
fn print_summary(n: usize, since: SystemTime, clock: &str) {
    let Some(dir) = criterion_dir() else {
        println!("(summary: criterion output directory not found)");
        return;
    };
    let per = |t: f64| t / n as f64;
    println!();
    println!("### Throughput, N = {n} random u64 keys, foldhash for every map: ns per element, {clock} (criterion mean [95% CI])");
    println!();
    println!("| operation | gomap | std | hashbrown | griddle | gomap / hashbrown | gomap / griddle |");
    println!("|---|---|---|---|---|---|---|");
    for group in GROUPS {
        let est: Vec<_> = MAPS.iter().map(|m| read_estimate(&dir, group, m, since)).collect();
        if est.iter().all(Option::is_none) {
            continue;
        }
        let cell = |e: &Option<(f64, f64, f64)>| match e {
            Some((m, lo, hi)) => format!("{:.1} [{:.1}, {:.1}]", per(*m), per(*lo), per(*hi)),
            None => "-".into(),
        };
        let ratio = |a: &Option<(f64, f64, f64)>, b: &Option<(f64, f64, f64)>| match (a, b) {
            (Some((x, ..)), Some((y, ..))) => format!("{:.2}x", x / y),
            _ => "-".into(),
        };
        println!(
            "| {group} | {} | {} | {} | {} | {} | {} |",
            cell(&est[0]),
            cell(&est[1]),
            cell(&est[2]),
            cell(&est[3]),
            ratio(&est[0], &est[2]),
            ratio(&est[0], &est[3]),
        );
    }
    println!();
    println!("(results read from {})", dir.display());
}

fn main() {
    let since = SystemTime::now();
    let cpu = match std::env::var("GOMAP_BENCH_CLOCK").as_deref() {
        Ok("cpu") => true,
        Ok("wall") | Err(_) => false,
        Ok(other) => panic!("GOMAP_BENCH_CLOCK must be `wall` or `cpu`, not {other:?}"),
    };
    if cpu {
        let mut c = Criterion::default().with_measurement(ThreadCpuTime { wall: WallTime }).configure_from_args();
        benches(&mut c);
        c.final_summary();
        print_summary(bench_n(), since, "thread CPU time");
    } else {
        let mut c = Criterion::default().configure_from_args();
        benches(&mut c);
        c.final_summary();
        print_summary(bench_n(), since, "wall-clock time");
    }
    if common::interleaved_wanted() {
        print_interleaved(bench_n());
    }
}

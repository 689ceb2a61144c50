//! Per-insert latency and memory while growing an empty map to N = 1e7 `u64`
//! keys, for `gomap::GoMap`, `std::collections::HashMap`, `hashbrown::HashMap`
//! and `griddle::HashMap`, all with `foldhash::fast::RandomState`.
//!
//! Every insert is timed with `std::time::Instant` (values include the timer's
//! own overhead; a timer-only row measures that overhead and the host's noise
//! floor). Memory is measured with a counting `#[global_allocator]`.
//! `GoMap` obtains its large bucket arrays straight from `mmap`, which the
//! allocator never sees, so for `GoMap` the table's own `stats().bytes` is
//! polled after every insert (outside the timed region) and combined with the
//! allocator-visible bytes; see `gomap_total`. As an independent cross-check the
//! resident-set growth (`/proc/self/status` VmRSS, and VmHWM reset through
//! `/proc/self/clear_refs`) is reported for every map too.
//!
//! Usage: `cargo bench -p gomap --bench growth [-- N]`; environment:
//! `GOMAP_BENCH_N` (default 1e7; `1e5`, `100_000` etc. accepted) and
//! `GOMAP_BENCH_MAPS` (comma list out of `timer,gomap,std,hashbrown,griddle`, default
//! all in that order, and `control`: see `run_control`), `GOMAP_BENCH_TOP=k` (print the k slowest inserts
//! by min(wall, CPU time), with the table's shape after each, to stderr), `GOMAP_BENCH_CPUCLOCK=0`
//! (skip the per-insert thread-CPU-time reading), `GOMAP_BENCH_REPEAT=r` (grow each map `r`
//! times in its process and also report, per insert index, the fastest of the `r` runs; see
//! `Floor`), `GOMAP_BENCH_GO` (a `go` command: also grow Go's own map, in a Go process; see
//! tools/gobench/README.md).
//! Prints copy-pasteable markdown tables.
//!
//! # Why a per-index minimum
//!
//! On a shared virtual machine a loop that does nothing but read the clock sees single
//! iterations of several milliseconds in both wall and thread CPU time (the timer-only row):
//! the hypervisor stalls the vCPU and that time is charged to whatever runs. So the plain
//! maximum says more about the host than about a map. A map's own slow inserts come back at
//! the same insert index in every run (the keys are the same, and growths start at the same
//! counts), while the host's stalls land on random indices: the minimum over `r` runs at each
//! index keeps the first and drops the second. It can hide a slow path that a map takes at
//! a given index in only some runs (one that depends on the per-map random seed), which is
//! why the single-run figures are printed as well.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use hdrhistogram::Histogram;

type Hasher = foldhash::fast::RandomState;

// ---------------------------------------------------------------------------
// Counting allocator
// ---------------------------------------------------------------------------

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

#[inline]
fn note_alloc(size: usize) {
    let now = CURRENT.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(now, Relaxed);
}

// SAFETY: every method forwards to `System` unchanged and only updates counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            // Old and new block may both be live inside realloc; count the new one
            // first so the peak reflects that.
            note_alloc(new_size);
            CURRENT.fetch_sub(layout.size(), Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

// ---------------------------------------------------------------------------
// Keys, configuration
// ---------------------------------------------------------------------------

fn parse_count(s: &str) -> Option<usize> {
    let s = s.replace('_', "");
    s.parse::<usize>().ok().or_else(|| s.parse::<f64>().ok().map(|f| f as usize))
}

fn bench_n() -> usize {
    if let Ok(s) = std::env::var("GOMAP_BENCH_N") {
        return parse_count(&s).expect("GOMAP_BENCH_N must be a number");
    }
    // `cargo bench` passes `--bench`; take the first argument that is a number.
    std::env::args().skip(1).filter(|a| !a.starts_with('-')).find_map(|a| parse_count(&a)).unwrap_or(10_000_000)
}

// ---------------------------------------------------------------------------
// /proc cross-check (Linux only; silently absent elsewhere)
// ---------------------------------------------------------------------------

fn proc_status_kib(field: &str) -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets VmHWM to the current RSS (Linux >= 4.0). Returns false if impossible.
fn reset_hwm() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// This thread's CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`), read just outside
/// the wall-clock-timed region of every insert. It excludes the time the
/// thread spends switched out for other processes (on this shared 2-core host
/// that is most of the wall-clock tail) but includes page faults and system
/// calls made by the insert. Disabled (always 0) with `GOMAP_BENCH_CPUCLOCK=0`.
#[cfg(unix)]
fn thread_cpu_ns() -> u64 {
    // SAFETY: `clock_gettime` only writes into the struct we pass.
    unsafe {
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) != 0 {
            return 0;
        }
        ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
    }
}

#[cfg(not(unix))]
fn thread_cpu_ns() -> u64 {
    0
}

fn cpu_clock_enabled() -> bool {
    std::env::var("GOMAP_BENCH_CPUCLOCK").map_or(true, |v| v != "0")
}

// ---------------------------------------------------------------------------
// Maps under test
// ---------------------------------------------------------------------------

trait GrowMap {
    const NAME: &'static str;
    fn empty() -> Self;
    fn put(&mut self, k: u64, v: u64);
    fn capacity_now(&self) -> usize;
    fn len_now(&self) -> usize;
    /// Bytes the table reports holding itself (only `GoMap` can), else `None`.
    fn table_bytes(&self) -> Option<usize> {
        None
    }
    /// The table's shape, for the slowest-inserts report (only `GoMap` has one).
    fn describe(&self) -> String {
        format!("capacity {}", self.capacity_now())
    }
}

macro_rules! impl_grow_map {
    ($ty:ty, $name:expr $(, $extra:item)*) => {
        impl GrowMap for $ty {
            const NAME: &'static str = $name;
            #[inline]
            fn empty() -> Self {
                <$ty>::with_hasher(Hasher::default())
            }
            #[inline]
            fn put(&mut self, k: u64, v: u64) {
                self.insert(k, v);
            }
            #[inline]
            fn capacity_now(&self) -> usize {
                self.capacity()
            }
            #[inline]
            fn len_now(&self) -> usize {
                self.len()
            }
            $($extra)*
        }
    };
}

type GoM = gomap::GoMap<u64, u64, Hasher>;
type StdM = std::collections::HashMap<u64, u64, Hasher>;
type HbM = hashbrown::HashMap<u64, u64, Hasher>;
type GrM = griddle::HashMap<u64, u64, Hasher>;

impl_grow_map!(
    GoM,
    "gomap",
    #[inline]
    fn table_bytes(&self) -> Option<usize> {
        Some(self.stats().bytes)
    },
    fn describe(&self) -> String {
        let s = self.stats();
        format!(
            "b {} growing {} (same-size {}) old {} evacuated {} overflow {} bytes {}",
            s.b, s.growing, s.same_size_growth, s.old_buckets, s.evacuated, s.overflow_buckets, s.bytes
        )
    }
);
impl_grow_map!(StdM, "std");
impl_grow_map!(HbM, "hashbrown");
impl_grow_map!(GrM, "griddle");

/// Total bytes held by a `GoMap`: the table's own count (`stats().bytes`,
/// which includes the mmap'd arrays) plus whatever the allocator saw that the
/// table does not count. `stats().bytes` is documented to include every heap
/// byte the table holds, arrays from the global allocator included, so adding
/// the allocator-visible bytes on top would count those twice; the larger of
/// the two is therefore used, which equals `stats().bytes` when the table's
/// count is complete and falls back to what the allocator saw otherwise.
fn gomap_total(table_bytes: usize, allocator_visible: usize) -> usize {
    table_bytes.max(allocator_visible)
}

// ---------------------------------------------------------------------------
// Measurement
// ---------------------------------------------------------------------------

/// One map's results. Plain numbers so a child process can hand them back as
/// one line of text (`to_line` / `from_line`).
#[derive(Clone, Debug, Default)]
struct Row {
    name: String,
    n: u64,
    p50: u64,
    p99: u64,
    p999: u64,
    p9999: u64,
    max_ns: u64,
    max_at: u64,
    max_was_resize: bool,
    over_1ms: u64,
    over_1ms_resize: u64,
    over_100us: u64,
    resizes: u64,
    busy_ns: u64,
    /// The same statistics in thread CPU time (see `thread_cpu_ns`).
    cpu_p99: u64,
    cpu_p9999: u64,
    cpu_max_ns: u64,
    cpu_over_1ms: u64,
    /// Max and count over 1 ms of min(wall, CPU) per insert (see `Recorder::record`).
    both_max_ns: u64,
    both_over_1ms: u64,
    floor: Floor,
    mem: Option<Mem>,
}

/// Per insert index, the fastest wall time over `runs` runs (`GOMAP_BENCH_REPEAT`).
#[derive(Clone, Debug, Default)]
struct Floor {
    runs: u64,
    p9999: u64,
    max_ns: u64,
    max_at: u64,
    max_was_resize: bool,
    over_1ms: u64,
    over_100us: u64,
}

impl Floor {
    /// The summary of `best` (ns per insert index, each the minimum over `runs` runs);
    /// `resizes` lists the indices of the inserts that changed the capacity.
    fn of(best: &[u32], runs: u64, resizes: &[usize]) -> Floor {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).expect("histogram bounds");
        let mut floor = Floor { runs, ..Floor::default() };
        for (i, &ns) in best.iter().enumerate() {
            let ns = u64::from(ns);
            hist.saturating_record(ns.max(1));
            if ns > floor.max_ns {
                floor.max_ns = ns;
                floor.max_at = i as u64;
            }
            floor.over_1ms += u64::from(ns > 1_000_000);
            floor.over_100us += u64::from(ns > 100_000);
        }
        floor.p9999 = hist.value_at_quantile(0.9999);
        floor.max_was_resize = resizes.contains(&(floor.max_at as usize));
        floor
    }
}

/// Keeps the per-index minimum across runs.
fn keep_fastest(best: &mut [u32], i: usize, ns: u64) {
    best[i] = best[i].min(u32::try_from(ns).unwrap_or(u32::MAX));
}

fn repeat_count() -> usize {
    std::env::var("GOMAP_BENCH_REPEAT").map_or(1, |v| v.parse().expect("GOMAP_BENCH_REPEAT must be a number")).max(1)
}

#[derive(Clone, Debug, Default)]
struct Mem {
    len: u64,
    /// Headline figures: all heap bytes held by the map.
    final_bytes: u64,
    peak_bytes: u64,
    /// What the counting allocator saw (the same as the headline except for GoMap).
    alloc_final: u64,
    alloc_peak: u64,
    /// GoMap only: its own `stats().bytes`, final and peak.
    table_final: Option<u64>,
    table_peak: Option<u64>,
    /// GoMap only: the most allocator-visible bytes ever seen beyond `stats().bytes`
    /// (0 when the table's own count covers everything the allocator saw).
    uncounted: Option<u64>,
    /// Resident-set growth in KiB (cross-check).
    rss_final_kib: Option<i64>,
    rss_peak_kib: Option<i64>,
}

impl Row {
    fn to_line(&self) -> String {
        let o = |v: Option<u64>| v.map_or(-1, |x| x as i64);
        let m = self.mem.clone();
        let has_mem = m.is_some();
        let m = m.unwrap_or_default();
        let f = &self.floor;
        let nums: [i64; 37] = [
            self.n as i64,
            self.p50 as i64,
            self.p99 as i64,
            self.p999 as i64,
            self.p9999 as i64,
            self.max_ns as i64,
            self.max_at as i64,
            i64::from(self.max_was_resize),
            self.over_1ms as i64,
            self.over_1ms_resize as i64,
            self.over_100us as i64,
            self.resizes as i64,
            self.busy_ns as i64,
            self.cpu_p99 as i64,
            self.cpu_p9999 as i64,
            self.cpu_max_ns as i64,
            self.cpu_over_1ms as i64,
            self.both_max_ns as i64,
            self.both_over_1ms as i64,
            i64::from(has_mem),
            m.len as i64,
            m.final_bytes as i64,
            m.peak_bytes as i64,
            m.alloc_final as i64,
            m.alloc_peak as i64,
            o(m.table_final),
            o(m.table_peak),
            o(m.uncounted),
            m.rss_final_kib.unwrap_or(i64::MIN),
            m.rss_peak_kib.unwrap_or(i64::MIN),
            f.runs as i64,
            f.p9999 as i64,
            f.max_ns as i64,
            f.max_at as i64,
            i64::from(f.max_was_resize),
            f.over_1ms as i64,
            f.over_100us as i64,
        ];
        let nums: Vec<String> = nums.iter().map(i64::to_string).collect();
        format!("ROW\t{}\t{}", self.name, nums.join("\t"))
    }

    fn from_line(line: &str) -> Option<Row> {
        let mut parts = line.strip_prefix("ROW\t")?.split('\t');
        let name = parts.next()?.to_string();
        let v: Vec<i64> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
        if v.len() != 37 {
            return None;
        }
        let u = |i: usize| v[i] as u64;
        let o = |i: usize| (v[i] >= 0).then(|| v[i] as u64);
        let k = |i: usize| (v[i] != i64::MIN).then_some(v[i]);
        Some(Row {
            name,
            n: u(0),
            p50: u(1),
            p99: u(2),
            p999: u(3),
            p9999: u(4),
            max_ns: u(5),
            max_at: u(6),
            max_was_resize: v[7] != 0,
            over_1ms: u(8),
            over_1ms_resize: u(9),
            over_100us: u(10),
            resizes: u(11),
            busy_ns: u(12),
            cpu_p99: u(13),
            cpu_p9999: u(14),
            cpu_max_ns: u(15),
            cpu_over_1ms: u(16),
            both_max_ns: u(17),
            both_over_1ms: u(18),
            floor: Floor {
                runs: u(30),
                p9999: u(31),
                max_ns: u(32),
                max_at: u(33),
                max_was_resize: v[34] != 0,
                over_1ms: u(35),
                over_100us: u(36),
            },
            mem: (v[19] != 0).then(|| Mem {
                len: u(20),
                final_bytes: u(21),
                peak_bytes: u(22),
                alloc_final: u(23),
                alloc_peak: u(24),
                table_final: o(25),
                table_peak: o(26),
                uncounted: o(27),
                rss_final_kib: k(28),
                rss_peak_kib: k(29),
            }),
        })
    }
}

/// Latency bookkeeping shared by the timer loop and the map loops.
struct Recorder {
    hist: Histogram<u64>,
    max: (u64, u64, bool),
    over_1ms: u64,
    over_1ms_resize: u64,
    over_100us: u64,
    busy_ns: u64,
    cpu_hist: Histogram<u64>,
    cpu_max_ns: u64,
    cpu_over_1ms: u64,
    both_max_ns: u64,
    both_over_1ms: u64,
}

impl Recorder {
    fn new() -> Self {
        Recorder {
            // 1 ns .. 100 s, 3 significant digits; allocated before any measurement.
            hist: Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("histogram bounds"),
            max: (0, 0, false),
            over_1ms: 0,
            over_1ms_resize: 0,
            over_100us: 0,
            busy_ns: 0,
            cpu_hist: Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("histogram bounds"),
            cpu_max_ns: 0,
            cpu_over_1ms: 0,
            both_max_ns: 0,
            both_over_1ms: 0,
        }
    }

    #[inline]
    fn record(&mut self, ns: u64, i: usize, resized: bool, cpu_ns: u64) {
        self.hist.saturating_record(ns.max(1));
        self.cpu_hist.saturating_record(cpu_ns.max(1));
        self.cpu_max_ns = self.cpu_max_ns.max(cpu_ns);
        self.cpu_over_1ms += u64::from(cpu_ns > 1_000_000);
        // Each clock over-reads in its own way: wall time includes other processes'
        // time slices, thread CPU time picks up accounting artifacts around the
        // clock_gettime call (the timer-only row shows both). An insert is only
        // really slow if both say so.
        let both = ns.min(cpu_ns);
        self.both_max_ns = self.both_max_ns.max(both);
        self.both_over_1ms += u64::from(both > 1_000_000);
        self.busy_ns += ns;
        if ns > self.max.0 {
            self.max = (ns, i as u64, resized);
        }
        if ns > 1_000_000 {
            self.over_1ms += 1;
            self.over_1ms_resize += u64::from(resized);
        }
        if ns > 100_000 {
            self.over_100us += 1;
        }
    }

    fn into_row(self, name: &str, n: usize, resizes: u64, mem: Option<Mem>) -> Row {
        let q = |p: f64| self.hist.value_at_quantile(p);
        Row {
            name: name.to_string(),
            n: n as u64,
            p50: q(0.50),
            p99: q(0.99),
            p999: q(0.999),
            p9999: q(0.9999),
            max_ns: self.max.0,
            max_at: self.max.1,
            max_was_resize: self.max.2,
            over_1ms: self.over_1ms,
            over_1ms_resize: self.over_1ms_resize,
            over_100us: self.over_100us,
            resizes,
            busy_ns: self.busy_ns,
            cpu_p99: self.cpu_hist.value_at_quantile(0.99),
            cpu_p9999: self.cpu_hist.value_at_quantile(0.9999),
            cpu_max_ns: self.cpu_max_ns,
            cpu_over_1ms: self.cpu_over_1ms,
            both_max_ns: self.both_max_ns,
            both_over_1ms: self.both_over_1ms,
            floor: Floor::default(),
            mem,
        }
    }
}

/// Timer-only loop: the same instrumentation around no work.
fn run_timer(n: usize, best: &mut [u32]) -> Row {
    let mut rec = Recorder::new();
    let cpu = cpu_clock_enabled();
    for i in 0..n {
        let c0 = if cpu { thread_cpu_ns() } else { 0 };
        let t = Instant::now();
        black_box(i);
        let ns = t.elapsed().as_nanos() as u64;
        let c1 = if cpu { thread_cpu_ns() } else { 0 };
        rec.record(ns, i, false, c1 - c0);
        keep_fastest(best, i, ns);
    }
    rec.into_row("timer only (no map)", n, 0, None)
}

/// Grows one `M` through `keys`; `best` keeps each index's fastest time over runs and
/// `resizes` collects the indices of inserts that changed the capacity.
/// Control loop: the same instrumentation around four random read-modify-writes in a
/// pre-faulted array of 400 MB (about gomap's arrays at 1e7): an insert's memory traffic
/// with no map, no allocation and no page fault. Not in the default list; ask for it with
/// `GOMAP_BENCH_MAPS=control`.
fn run_control(n: usize, best: &mut [u32]) -> Row {
    const WORDS: usize = 50 << 20;
    let mut words: Vec<u64> = (0..WORDS as u64).collect();
    let mut rec = Recorder::new();
    let cpu = cpu_clock_enabled();
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for i in 0..n {
        let c0 = if cpu { thread_cpu_ns() } else { 0 };
        let t = Instant::now();
        for _ in 0..4 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let w = &mut words[(x >> 32) as usize % WORDS];
            *w = w.wrapping_add(i as u64);
        }
        let ns = t.elapsed().as_nanos() as u64;
        let c1 = if cpu { thread_cpu_ns() } else { 0 };
        rec.record(ns, i, false, c1 - c0);
        keep_fastest(best, i, ns);
    }
    black_box(&words);
    rec.into_row("control (4 random writes, 400 MB)", n, 0, None)
}

fn run_map<M: GrowMap>(keys: &[u64], best: &mut [u32], resizes: &mut Vec<usize>) -> Row {
    let mut rec = Recorder::new();
    let mut resize_count = 0u64;
    let mut table_peak = 0usize;
    let mut combined_peak = 0usize;
    let mut uncounted = 0usize;

    let hwm_ok = reset_hwm();
    let rss0 = proc_status_kib("VmRSS:");
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);

    let cpu = cpu_clock_enabled();
    let top_k: usize = std::env::var("GOMAP_BENCH_TOP").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut slowest: Vec<(u64, u64, u64, usize, bool, String)> = Vec::with_capacity(top_k + 1);
    let mut m = M::empty();
    let mut cap = m.capacity_now();
    for (i, &k) in keys.iter().enumerate() {
        let c0 = if cpu { thread_cpu_ns() } else { 0 };
        let t = Instant::now();
        m.put(k, k);
        let ns = t.elapsed().as_nanos() as u64;
        let c1 = if cpu { thread_cpu_ns() } else { 0 };
        // --- outside the timed region ---
        let new_cap = m.capacity_now();
        let resized = new_cap != cap;
        if resized {
            resize_count += 1;
            cap = new_cap;
            if !resizes.contains(&i) {
                resizes.push(i);
            }
        }
        rec.record(ns, i, resized, c1 - c0);
        keep_fastest(best, i, ns);
        // Ranked by min(wall, CPU) (see `Recorder::record`), or wall time without the CPU clock.
        let rank = if cpu { ns.min(c1 - c0) } else { ns };
        if top_k > 0 && (slowest.len() < top_k || rank > slowest[slowest.len() - 1].0) {
            // Outside the timed region; rare after the first few hundred inserts.
            slowest.push((rank, c1 - c0, ns, i, resized, m.describe()));
            slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
            slowest.truncate(top_k);
        }
        if let Some(tb) = m.table_bytes() {
            let visible = CURRENT.load(Relaxed).saturating_sub(base);
            table_peak = table_peak.max(tb);
            uncounted = uncounted.max(visible.saturating_sub(tb));
            combined_peak = combined_peak.max(gomap_total(tb, visible));
        }
    }

    for (_, cpu_ns, wall_ns, i, resized, shape) in &slowest {
        eprintln!(
            "  {} slow insert #{i}: wall {} cpu {} resize {resized}; after it: {shape}",
            M::NAME,
            fmt_ns(*wall_ns),
            fmt_ns(*cpu_ns)
        );
    }
    let alloc_final = CURRENT.load(Relaxed).saturating_sub(base);
    let alloc_peak = PEAK.load(Relaxed).saturating_sub(base);
    let rss1 = proc_status_kib("VmRSS:");
    let hwm = if hwm_ok { proc_status_kib("VmHWM:") } else { None };
    let table_final = m.table_bytes();
    let (final_bytes, peak_bytes) = match table_final {
        // The allocator's own peak can fall inside an insert, between two polls.
        Some(tb) => (gomap_total(tb, alloc_final), combined_peak.max(alloc_peak)),
        None => (alloc_final, alloc_peak),
    };
    let len = m.len_now();
    assert_eq!(len, keys.len(), "{}: wrong len", M::NAME);
    drop(black_box(m));

    let kib = |a: Option<usize>, b: Option<usize>| a.zip(b).map(|(a, b)| b as i64 - a as i64);
    let mem = Mem {
        len: len as u64,
        final_bytes: final_bytes as u64,
        peak_bytes: peak_bytes as u64,
        alloc_final: alloc_final as u64,
        alloc_peak: alloc_peak as u64,
        table_final: table_final.map(|t| t as u64),
        table_peak: table_final.map(|_| table_peak as u64),
        uncounted: table_final.map(|_| uncounted as u64),
        rss_final_kib: kib(rss0, rss1),
        rss_peak_kib: kib(rss0, hwm),
    };
    rec.into_row(M::NAME, keys.len(), resize_count, Some(mem))
}

/// Runs one map (or the timer loop) in this process, `GOMAP_BENCH_REPEAT` times: the row
/// holds the first run's figures and the per-index minimum over all of them.
fn run_one(which: &str, n: usize) -> Row {
    let runs = repeat_count();
    let keys = if matches!(which, "timer" | "control") { Vec::new() } else { common::distinct_keys(n) };
    let mut best = vec![u32::MAX; n];
    let mut resizes = Vec::new();
    let mut first = None;
    for _ in 0..runs {
        let row = match which {
            "timer" => run_timer(n, &mut best),
            "control" => run_control(n, &mut best),
            "gomap" => run_map::<GoM>(&keys, &mut best, &mut resizes),
            "std" => run_map::<StdM>(&keys, &mut best, &mut resizes),
            "hashbrown" => run_map::<HbM>(&keys, &mut best, &mut resizes),
            "griddle" => run_map::<GrM>(&keys, &mut best, &mut resizes),
            other => panic!("unknown map {other:?} in GOMAP_BENCH_MAPS"),
        };
        first.get_or_insert(row);
    }
    let mut row = first.expect("at least one run");
    row.floor = Floor::of(&best, runs as u64, &resizes);
    row
}

/// Runs one map in a fresh child process (a clean heap and address space for
/// every map, so one map's freed memory cannot help or hurt the next).
fn run_child(which: &str, n: usize) -> Row {
    let exe = std::env::current_exe().expect("current_exe");
    let out = std::process::Command::new(exe)
        .env("GOMAP_BENCH_CHILD", which)
        .env("GOMAP_BENCH_N", n.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("spawn child bench process");
    assert!(out.status.success(), "child for {which} failed: {}", out.status);
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(Row::from_line).unwrap_or_else(|| panic!("no result from child for {which}: {text}"))
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

fn fmt_ns(ns: u64) -> String {
    if ns < 10_000 {
        format!("{ns} ns")
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn per_entry(bytes: u64, len: u64) -> String {
    format!("{:.2}", bytes as f64 / len.max(1) as f64)
}

fn print_tables(n: usize, rows: &[Row]) {
    println!();
    println!(
        "### Per-insert latency, empty -> {n} random u64 keys (foldhash; every insert timed, timer overhead included)"
    );
    println!();
    println!("| map | p50 | p99 | p99.9 | p99.99 | max | inserts > 1 ms (of them resizes) | inserts > 100 µs | resizes | slowest insert (index, resize?) | mean |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | **{}** | **{}** ({}) | {} | {} | #{} ({}) | {:.0} ns |",
            r.name,
            fmt_ns(r.p50),
            fmt_ns(r.p99),
            fmt_ns(r.p999),
            fmt_ns(r.p9999),
            fmt_ns(r.max_ns),
            r.over_1ms,
            r.over_1ms_resize,
            r.over_100us,
            r.resizes,
            r.max_at,
            if r.max_was_resize { "yes" } else { "no" },
            r.busy_ns as f64 / r.n.max(1) as f64,
        );
    }
    println!();
    println!("### The same inserts in thread CPU time (time switched out for other processes excluded)");
    println!();
    println!("| map | CPU p99 | CPU p99.99 | CPU max | CPU > 1 ms | max of min(wall, CPU) | min(wall, CPU) > 1 ms |");
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        if r.cpu_max_ns == 0 {
            continue;
        }
        println!(
            "| {} | {} | {} | {} | {} | **{}** | **{}** |",
            r.name,
            fmt_ns(r.cpu_p99),
            fmt_ns(r.cpu_p9999),
            fmt_ns(r.cpu_max_ns),
            r.cpu_over_1ms,
            fmt_ns(r.both_max_ns),
            r.both_over_1ms
        );
    }

    if rows.iter().any(|r| r.floor.runs > 1) {
        println!();
        println!("### Per insert index, the fastest of the runs (host stalls removed; see the module doc)");
        println!();
        println!("| map | runs | p99.99 | max | slowest index (resize?) | > 1 ms | > 100 µs |");
        println!("|---|---|---|---|---|---|---|");
        for r in rows {
            let f = &r.floor;
            println!(
                "| {} | {} | {} | **{}** | #{} ({}) | **{}** | {} |",
                r.name,
                f.runs,
                fmt_ns(f.p9999),
                fmt_ns(f.max_ns),
                f.max_at,
                if f.max_was_resize { "yes" } else { "no" },
                f.over_1ms,
                f.over_100us
            );
        }
    }
    println!();
    println!("CPU time: CLOCK_THREAD_CPUTIME_ID read just outside the wall-clock-timed region, so each");
    println!("value also holds the two Instant reads and one clock_gettime syscall (a constant few hundred");
    println!("ns); it includes page faults and system calls made by the insert. The timer-only row shows the");
    println!("host's own noise under the same instrumentation. Wall time over-reads when other processes");
    println!("run (or the hypervisor steals the vCPU); CPU time over-reads through accounting artifacts");
    println!("around the syscall. min(wall, CPU) counts an insert as slow only when both clocks agree.");
    println!();
    println!("### Heap bytes per entry at {n} entries (16 B payload per entry)");
    println!();
    println!("| map | final B/entry | peak B/entry during growth | allocator-visible final / peak | gomap `stats().bytes` final / peak | RSS growth final / peak (cross-check) |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        let Some(m) = &r.mem else { continue };
        let kib = |v: Option<i64>| match v {
            Some(k) => format!("{:.2}", k as f64 * 1024.0 / m.len.max(1) as f64),
            None => "n/a".into(),
        };
        println!(
            "| {} | **{}** | **{}** | {} / {} | {} | {} / {} |",
            r.name,
            per_entry(m.final_bytes, m.len),
            per_entry(m.peak_bytes, m.len),
            per_entry(m.alloc_final, m.len),
            per_entry(m.alloc_peak, m.len),
            match (m.table_final, m.table_peak) {
                (Some(f), Some(p)) => format!("{} / {}", per_entry(f, m.len), per_entry(p, m.len)),
                _ => "n/a".into(),
            },
            kib(m.rss_final_kib),
            kib(m.rss_peak_kib),
        );
    }
    for r in rows {
        if let Some(Mem { uncounted: Some(u), .. }) = &r.mem {
            println!();
            println!(
                "{}: allocator-visible bytes exceeded `stats().bytes` by at most {u} B at any poll{}.",
                r.name,
                if *u == 0 { " (its own count covers everything it allocates)" } else { "" }
            );
        }
    }
    println!();
    println!("Notes: each map ran in its own fresh process. Bytes are heap bytes held by the map divided");
    println!("by its len. std/hashbrown/griddle: counting global allocator (the peak includes the moment");
    println!("inside a resize when old and new tables are both live). gomap: its large bucket arrays come");
    println!("straight from mmap, which the allocator does not see, so gomap's figure is");
    println!("max(stats().bytes, allocator-visible bytes) polled after every insert (outside the timed");
    println!("region; stats().bytes already includes the arrays and overflow buckets it got from the");
    println!("allocator, so adding the two would count those twice), and for the peak also the allocator's");
    println!("own peak. RSS columns: VmRSS after minus before, and VmHWM (reset via /proc/self/clear_refs)");
    println!("minus VmRSS before; page-granular and including allocator-retained memory: a cross-check only.");
}

fn main() {
    let n = bench_n();
    if let Ok(which) = std::env::var("GOMAP_BENCH_CHILD") {
        println!("{}", run_one(&which, n).to_line());
        return;
    }
    let which: Vec<String> = std::env::var("GOMAP_BENCH_MAPS")
        .unwrap_or_else(|_| "timer,gomap,std,hashbrown,griddle".into())
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();

    eprintln!("growth: N = {n}, maps = {which:?} (one process each)");
    let mut rows = Vec::new();
    for w in &which {
        let t = Instant::now();
        // A single map runs in this process (handy under a profiler).
        let row = if which.len() == 1 { run_one(w, n) } else { run_child(w, n) };
        eprintln!("  {w}: done in {:.1} s", t.elapsed().as_secs_f64());
        rows.push(row);
    }
    print_tables(n, &rows);
    if let Some(peer) = common::GoPeer::from_env() {
        print_go(&peer, n);
    }
}

/// The same growth on Go's own map (`GOMAP_BENCH_GO`; see [`common::GoPeer`]), in a Go
/// process of its own: the same keys, each insert timed with `time.Now`. Go's heap figure is
/// what the heap in use grew by from before the first insert to after the last (after a GC).
fn print_go(peer: &common::GoPeer, n: usize) {
    let t = Instant::now();
    let out = peer.run(&["-mode", "growth", "-n", &n.to_string()]);
    let (g, heap) = (out.numbers("GROWTH"), out.numbers("HEAP")[0]);
    eprintln!("  go: done in {:.1} s", t.elapsed().as_secs_f64());
    let ns = |v: f64| fmt_ns(v as u64);
    println!();
    println!("### Go's map, the same growth ({})", peer.version);
    println!();
    println!(
        "| map | p50 | p99 | p99.99 | max | inserts > 1 ms | inserts > 100 µs | heap bytes per entry at the end |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| Go map[uint64]uint64 | {} | {} | {} | **{}** | **{}** | {} | {heap:.1} |",
        ns(g[0]),
        ns(g[1]),
        ns(g[2]),
        ns(g[3]),
        g[4],
        g[5]
    );
}

//! conc-map-bench's three workloads on `gomap::sync` and its peers.
//!
//! ```text
//! cargo bench -p gomap --bench concurrent              # everything (a few minutes)
//! CAP_LOG2=20 REPEAT=3 THREADS=1,2 WORKLOADS=ReadHeavy MAPS=ShardedMap,dashmap \
//!     cargo bench -p gomap --bench concurrent
//! LATENCY=0 ...                                        # throughput only (for profiling)
//! GOMAP_BENCH_GO=/usr/lib/go-1.19/bin/go ...           # adds Go's sync.Map and RWMutex map
//! ```
//!
//! The workloads are conc-map-bench's (xacrimon/conc-map-bench, driving jonhoo/bustle), with
//! bustle's algorithm re-implemented here: every thread owns a shuffled array of random u64
//! keys; it inserts them in order (`insert_seq`), removes them in the same order
//! (`erase_seq`, so removes always hit), and reads/updates keys picked by a fast LCG over
//! the whole array (so reads hit and miss). The operation mix is a shuffled list of 100
//! operations, repeated:
//!
//! | workload | read | insert | remove | update | prefill |
//! |---|---|---|---|---|---|
//! | ReadHeavy | 98 | 1 | 1 | 0 | 75 % |
//! | Exchange | 10 | 40 | 40 | 10 | 75 % |
//! | RapidGrow | 5 | 80 | 5 | 10 | 0 % |
//!
//! with `2^CAP_LOG2` as the capacity (conc-map-bench uses 2^25; the default here is 2^22)
//! and as many operations as the capacity, split between the threads. Each workload runs
//! twice: on maps created with that capacity, as conc-map-bench does ("presized"), and on
//! maps created empty ("from empty"), so that growth is part of the measurement.
//!
//! Each configuration runs `REPEAT` times (default 3) for throughput, with no clock calls in
//! the loop, and the best run is reported (the machine may be shared); then once more with
//! every insert timed, for the insert latency percentiles. That run also counts the
//! measuring threads' involuntary context switches ("preemptions"): on a busy machine one
//! preemption puts milliseconds into some operation's latency, whatever the map. So each
//! figure also comes on-CPU: throughput over the longest time a measuring thread was on a
//! CPU (from /proc/thread-self/schedstat), and each insert's latency in thread CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`, via the cpu-time crate). On-CPU figures leave out time spent
//! descheduled, so they also leave out time blocked on a lock (flattering blocking locks
//! under contention); the thread that holds the lock through a long operation, such as a
//! whole-table rehash, still reports it. Like bustle, the loop checks every result against
//! what the sequence numbers say it must be.
//!
//! All maps hash with foldhash. `SyncMap` is primed after the prefill the way Go's own
//! sync.Map benchmarks do (one promotion, so the prefilled keys are in its read-only map).
//! The actor (examples/actor.rs) runs its owner thread beside the measured threads.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use cpu_time::ThreadTime;
use gomap::sync::{ShardedMap, SyncMap};
use gomap::GoMap;
use hdrhistogram::Histogram;
use parking_lot::{Mutex, RwLock};

#[path = "../examples/actor.rs"]
#[allow(dead_code)]
mod actor;
mod common;

use common::SplitMix64;

type Hasher = foldhash::fast::RandomState;

/// One thread's access to a map (bustle's `CollectionHandle`).
trait Handle: Send {
    fn get(&mut self, key: u64) -> bool;
    /// True if the key was new.
    fn insert(&mut self, key: u64) -> bool;
    fn remove(&mut self, key: u64) -> bool;
    /// Adds one to the value if the key is present.
    fn update(&mut self, key: u64) -> bool;
}

/// A map under test (bustle's `Collection`).
trait Table: Send + Sync + Sized + 'static {
    type Handle: Handle;
    const NAME: &'static str;
    /// `capacity == 0`: created empty.
    fn with_capacity(capacity: usize) -> Self;
    fn handle(self: &Arc<Self>) -> Self::Handle;
    /// Called once after the prefill.
    fn settle(&self) {}
}

/// The maps whose operations take `&self`: the handle is the shared map itself.
trait SharedOps: Send + Sync + 'static {
    fn get(&self, key: u64) -> bool;
    fn insert(&self, key: u64) -> bool;
    fn remove(&self, key: u64) -> bool;
    fn update(&self, key: u64) -> bool;
}

impl<T: SharedOps> Handle for Arc<T> {
    #[inline]
    fn get(&mut self, key: u64) -> bool {
        SharedOps::get(&**self, key)
    }
    #[inline]
    fn insert(&mut self, key: u64) -> bool {
        SharedOps::insert(&**self, key)
    }
    #[inline]
    fn remove(&mut self, key: u64) -> bool {
        SharedOps::remove(&**self, key)
    }
    #[inline]
    fn update(&mut self, key: u64) -> bool {
        SharedOps::update(&**self, key)
    }
}

macro_rules! shared_table {
    ($ty:ty, $name:literal, |$cap:ident| $new:expr) => {
        impl Table for $ty {
            type Handle = Arc<$ty>;
            const NAME: &'static str = $name;
            fn with_capacity($cap: usize) -> Self {
                $new
            }
            fn handle(self: &Arc<Self>) -> Arc<Self> {
                Arc::clone(self)
            }
        }
    };
}

/// `SHARDS` overrides ShardedMap's default shard count.
fn shards() -> usize {
    std::env::var("SHARDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(ShardedMap::<u64, u64>::default_shard_count)
}

shared_table!(ShardedMap<u64, u64, Hasher>, "gomap ShardedMap", |c| ShardedMap::with_config(
    shards(),
    c,
    Hasher::default()
));

impl SharedOps for ShardedMap<u64, u64, Hasher> {
    fn get(&self, key: u64) -> bool {
        self.contains_key(&key)
    }
    fn insert(&self, key: u64) -> bool {
        ShardedMap::insert(self, key, 0).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        ShardedMap::remove(self, &key).is_some()
    }
    fn update(&self, key: u64) -> bool {
        ShardedMap::update(self, &key, |v| *v += 1).is_some()
    }
}

/// Go's sync.Map: `insert` is Go 1.20's `Swap` (a store that tells whether the key was new).
struct GoSyncMap(SyncMap<u64, u64>);

impl Table for GoSyncMap {
    type Handle = Arc<GoSyncMap>;
    const NAME: &'static str = "gomap SyncMap";
    fn with_capacity(_: usize) -> Self {
        GoSyncMap(SyncMap::new()) // sync.Map takes no size hint
    }
    fn handle(self: &Arc<Self>) -> Arc<Self> {
        Arc::clone(self)
    }
    fn settle(&self) {
        self.0.range(|_, _| false); // one promotion, like Go's benchmarks' priming loads
    }
}

impl SharedOps for GoSyncMap {
    fn get(&self, key: u64) -> bool {
        self.0.load(&key).is_some()
    }
    fn insert(&self, key: u64) -> bool {
        self.0.swap(key, 0).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.0.load_and_delete(&key).is_some()
    }
    fn update(&self, key: u64) -> bool {
        loop {
            match self.0.load(&key) {
                None => return false,
                Some(v) if self.0.compare_and_swap(&key, &v, v + 1) => return true,
                Some(_) => {}
            }
        }
    }
}

/// A map behind one lock: `$read` locks it for lookups, `$write` for changes.
macro_rules! locked_table {
    ($(#[$doc:meta])* $name:ident, $label:literal, $lock:ident<$map:ident>, $read:ident, $write:ident) => {
        $(#[$doc])*
        struct $name($lock<$map<u64, u64, Hasher>>);

        shared_table!($name, $label, |c| $name($lock::new($map::with_capacity_and_hasher(c, Hasher::default()))));

        impl SharedOps for $name {
            fn get(&self, key: u64) -> bool {
                self.0.$read().contains_key(&key)
            }
            fn insert(&self, key: u64) -> bool {
                self.0.$write().insert(key, 0).is_none()
            }
            fn remove(&self, key: u64) -> bool {
                self.0.$write().remove(&key).is_some()
            }
            fn update(&self, key: u64) -> bool {
                self.0.$write().get_mut(&key).map(|v| *v += 1).is_some()
            }
        }
    };
}

locked_table!(
    /// Go's `map` + `sync.RWMutex`, in Rust.
    RwLockGoMap, "RwLock<GoMap>", RwLock<GoMap>, read, write
);
locked_table!(RwLockStd, "RwLock<HashMap>", RwLock<HashMap>, read, write);
locked_table!(MutexStd, "Mutex<HashMap>", Mutex<HashMap>, lock, lock);

shared_table!(dashmap::DashMap<u64, u64, Hasher>, "dashmap", |c| dashmap::DashMap::with_capacity_and_hasher(
    c,
    Hasher::default()
));

impl SharedOps for dashmap::DashMap<u64, u64, Hasher> {
    fn get(&self, key: u64) -> bool {
        self.contains_key(&key)
    }
    fn insert(&self, key: u64) -> bool {
        dashmap::DashMap::insert(self, key, 0).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        dashmap::DashMap::remove(self, &key).is_some()
    }
    fn update(&self, key: u64) -> bool {
        self.get_mut(&key).map(|mut v| *v += 1).is_some()
    }
}

shared_table!(papaya::HashMap<u64, u64, Hasher>, "papaya", |c| papaya::HashMap::with_capacity_and_hasher(
    c,
    Hasher::default()
));

impl SharedOps for papaya::HashMap<u64, u64, Hasher> {
    fn get(&self, key: u64) -> bool {
        self.pin().contains_key(&key)
    }
    fn insert(&self, key: u64) -> bool {
        self.pin().insert(key, 0).is_none()
    }
    fn remove(&self, key: u64) -> bool {
        self.pin().remove(&key).is_some()
    }
    fn update(&self, key: u64) -> bool {
        self.pin().update(key, |v| v + 1).is_some()
    }
}

shared_table!(scc::HashMap<u64, u64, Hasher>, "scc HashMap", |c| scc::HashMap::with_capacity_and_hasher(
    c,
    Hasher::default()
));

impl SharedOps for scc::HashMap<u64, u64, Hasher> {
    fn get(&self, key: u64) -> bool {
        self.read(&key, |_, _| ()).is_some()
    }
    fn insert(&self, key: u64) -> bool {
        scc::HashMap::insert(self, key, 0).is_ok()
    }
    fn remove(&self, key: u64) -> bool {
        scc::HashMap::remove(self, &key).is_some()
    }
    fn update(&self, key: u64) -> bool {
        scc::HashMap::update(self, &key, |_, v| *v += 1).is_some()
    }
}

/// Go's "one goroutine owns the map" pattern (examples/actor.rs).
struct Actor(actor::ActorMap);

impl Table for Actor {
    type Handle = actor::Client;
    const NAME: &'static str = "actor (GoMap)";
    fn with_capacity(capacity: usize) -> Self {
        Actor(actor::ActorMap::with_capacity(capacity))
    }
    fn handle(self: &Arc<Self>) -> actor::Client {
        self.0.client()
    }
}

impl Handle for actor::Client {
    fn get(&mut self, key: u64) -> bool {
        self.call(actor::Request::Get(key)).is_some()
    }
    fn insert(&mut self, key: u64) -> bool {
        self.call(actor::Request::Insert(key, 0)).is_none()
    }
    fn remove(&mut self, key: u64) -> bool {
        self.call(actor::Request::Remove(key)).is_some()
    }
    fn update(&mut self, key: u64) -> bool {
        self.call(actor::Request::Increment(key)).is_some()
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Op {
    Read,
    Insert,
    Remove,
    Update,
}

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    /// read, insert, remove, update (percent)
    mix: [u8; 4],
    prefill: f64,
}

const WORKLOADS: [Workload; 3] = [
    Workload { name: "ReadHeavy", mix: [98, 1, 1, 0], prefill: 0.75 },
    Workload { name: "Exchange", mix: [10, 40, 40, 10], prefill: 0.75 },
    Workload { name: "RapidGrow", mix: [5, 80, 5, 10], prefill: 0.0 },
];

/// Insert latencies: wall-clock, and on-CPU (the thread's CPU time, which leaves out the time
/// it was descheduled: preempted by other processes, or blocked on a lock).
struct Latency {
    wall: Histogram<u64>,
    on_cpu: Histogram<u64>,
}

impl Latency {
    fn new() -> Latency {
        let h = || Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
        Latency { wall: h(), on_cpu: h() }
    }

    fn add(&mut self, other: &Latency) {
        self.wall.add(&other.wall).unwrap();
        self.on_cpu.add(&other.on_cpu).unwrap();
    }
}

struct Outcome {
    elapsed: Duration,
    /// The longest time any measuring thread spent on a CPU during the mix.
    on_cpu: Duration,
    ops: usize,
    inserts: Option<Latency>,
    /// Involuntary context switches of the measuring threads during the mix: the OS took the
    /// CPU away that many times (each can add milliseconds to an operation's latency).
    preempted: u64,
}

/// This thread's time on a CPU so far (Linux's schedstat; zero elsewhere).
fn on_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse().ok()))
        .map_or(Duration::ZERO, Duration::from_nanos)
}

/// This thread's involuntary context switches so far (Linux; 0 elsewhere).
fn preemptions() -> u64 {
    std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("nonvoluntary_ctxt_switches:").and_then(|n| n.trim().parse().ok()))
        })
        .unwrap_or(0)
}

/// bustle's `mix` loop, with optional insert timing.
fn mix<H: Handle>(
    h: &mut H,
    keys: &[u64],
    ops: &[Op; 100],
    n: usize,
    prefilled: usize,
    mut latency: Option<&mut Latency>,
) {
    let nkeys = keys.len();
    let (mut erase_seq, mut insert_seq, mut find_seq) = (0, prefilled, 0);
    let a = nkeys / 2 + 1;
    let c = nkeys / 4 - 1;
    let mask = nkeys - 1;
    for (i, &op) in ops.iter().cycle().take(n).enumerate() {
        match op {
            Op::Read => {
                let found = h.get(keys[find_seq]);
                if find_seq >= erase_seq {
                    assert_eq!(found, find_seq < insert_seq, "get #{i}");
                }
                find_seq = (a * find_seq + c) & mask;
            }
            Op::Insert => {
                let key = keys[insert_seq];
                let new = match latency.as_deref_mut() {
                    Some(hist) => {
                        let start = Instant::now();
                        let cpu = ThreadTime::now();
                        let new = h.insert(key);
                        let on_cpu = cpu.elapsed();
                        hist.wall.saturating_record(start.elapsed().as_nanos() as u64);
                        hist.on_cpu.saturating_record(on_cpu.as_nanos() as u64);
                        new
                    }
                    None => h.insert(key),
                };
                assert!(new, "insert #{i} of a new key found it present");
                insert_seq += 1;
            }
            Op::Remove => {
                if erase_seq == insert_seq {
                    assert!(!h.remove(keys[find_seq]), "remove #{i} from an empty table");
                    find_seq = (a * find_seq + c) & mask;
                } else {
                    assert!(h.remove(keys[erase_seq]), "remove #{i} of a present key failed");
                    erase_seq += 1;
                }
            }
            Op::Update => {
                let updated = h.update(keys[find_seq]);
                if find_seq >= erase_seq {
                    assert_eq!(updated, find_seq < insert_seq, "update #{i}");
                }
                find_seq = (a * find_seq + c) & mask;
            }
        }
    }
}

fn run<T: Table>(w: Workload, threads: usize, cap_log2: u32, presized: bool, timed: bool, seed: u64) -> Outcome {
    let capacity = 1usize << cap_log2;
    let total_ops = capacity;
    let mut rng = SplitMix64(seed);
    let mut ops = Vec::with_capacity(100);
    for (op, &pct) in [Op::Read, Op::Insert, Op::Remove, Op::Update].iter().zip(&w.mix) {
        ops.extend(std::iter::repeat_n(*op, pct as usize));
    }
    for i in (1..ops.len()).rev() {
        ops.swap(i, (rng.next_u64() % (i as u64 + 1)) as usize);
    }
    let ops: [Op; 100] = ops.try_into().expect("a mix of 100 operations");

    let prefill = (capacity as f64 * w.prefill) as usize;
    let max_inserts = total_ops.div_ceil(100) * w.mix[1] as usize;
    let per_thread = (capacity.max(max_inserts) + prefill).div_ceil(threads).next_power_of_two();
    let keys: Vec<Vec<u64>> = (0..threads)
        .map(|_| {
            let mut rng = SplitMix64(rng.next_u64());
            (0..per_thread).map(|_| rng.next_u64()).collect()
        })
        .collect();

    let table = Arc::new(T::with_capacity(if presized { capacity } else { 0 }));
    let prefill_per_thread = prefill / threads;
    std::thread::scope(|s| {
        for keys in &keys {
            let mut h = table.handle();
            s.spawn(move || {
                for &k in &keys[..prefill_per_thread] {
                    assert!(h.insert(k));
                }
            });
        }
    });
    table.settle();

    let ops_per_thread = total_ops / threads;
    let barrier = Barrier::new(threads + 1);
    let (elapsed, histograms) = std::thread::scope(|s| {
        let workers: Vec<_> = keys
            .iter()
            .map(|keys| {
                let mut h = table.handle();
                let barrier = &barrier;
                s.spawn(move || {
                    let mut hist = timed.then(Latency::new);
                    barrier.wait();
                    let (preempted, cpu) = (preemptions(), on_cpu());
                    mix(&mut h, keys, &ops, ops_per_thread, prefill_per_thread, hist.as_mut());
                    (hist, preemptions() - preempted, on_cpu() - cpu)
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
        (start.elapsed(), results)
    });
    let preempted = histograms.iter().map(|(_, p, _)| p).sum();
    let on_cpu = histograms.iter().map(|&(_, _, t)| t).max().unwrap_or_default();
    let inserts = timed.then(|| {
        let mut all = Latency::new();
        for (h, _, _) in &histograms {
            all.add(h.as_ref().expect("timed"));
        }
        all
    });
    // Dropping a big map is not part of any operation.
    drop(table);
    Outcome { elapsed, on_cpu, ops: ops_per_thread * threads, inserts, preempted }
}

fn env_list(name: &str) -> Option<Vec<String>> {
    std::env::var(name).ok().map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
}

struct Config {
    maps: Option<Vec<String>>,
    cap_log2: u32,
    /// Throughput runs per configuration; the best is reported (the machine may be shared).
    repeat: usize,
    /// Whether to run the timed run for the insert latencies (`LATENCY=0` skips it: for
    /// profiling the throughput runs alone).
    latency: bool,
}

fn measure<T: Table>(config: &Config, w: Workload, threads: usize, presized: bool) {
    if config.maps.as_ref().is_some_and(|m| !m.iter().any(|m| T::NAME.contains(m.as_str()))) {
        return;
    }
    let seed = Hasher::default().hash_one(0u8);
    // The actor is ~100 times slower than the rest: one throughput run is enough.
    let repeat = if T::NAME.starts_with("actor") { 1 } else { config.repeat };
    // NaN until a run lasts long enough for the thread CPU clock to see it (tiny maps).
    let (mut best, mut best_on_cpu) = (0.0f64, f64::NAN);
    for _ in 0..repeat {
        let r = run::<T>(w, threads, config.cap_log2, presized, false, seed);
        best = best.max(r.ops as f64 / r.elapsed.as_secs_f64() / 1e6);
        if !r.on_cpu.is_zero() {
            best_on_cpu = best_on_cpu.max(r.ops as f64 / r.on_cpu.as_secs_f64() / 1e6);
        }
    }
    let us = |h: &Histogram<u64>, q: f64| if h.is_empty() { f64::NAN } else { h.value_at_quantile(q) as f64 / 1e3 };
    let (inserts, preempted) = if config.latency {
        let latency = run::<T>(w, threads, config.cap_log2, presized, true, seed);
        (latency.inserts.expect("timed"), latency.preempted.to_string())
    } else {
        (Latency::new(), String::from("-"))
    };
    println!(
        "| {} | {} | {} | {} | {:.2} | {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {} |",
        w.name,
        if presized { "presized" } else { "from empty" },
        threads,
        T::NAME,
        best,
        best_on_cpu,
        us(&inserts.wall, 0.9999),
        us(&inserts.wall, 1.0),
        us(&inserts.on_cpu, 0.9999),
        us(&inserts.on_cpu, 1.0),
        preempted,
    );
}

/// The same configuration on Go's `sync.Map` and on a Go map behind a `sync.RWMutex`, each run
/// by `tools/gobench` in a process of its own (`GOMAP_BENCH_GO`; see [`common::GoPeer`]).
/// Go 1.19's `sync.Map` has no `Swap` or `CompareAndSwap`: its insert is `LoadOrStore`, its
/// update a `Load` and a `Store`.
fn measure_go(peer: &common::GoPeer, config: &Config, w: Workload, threads: usize, presized: bool) {
    for (map, name) in [("sync.Map", "Go sync.Map"), ("RWMutex map", "Go map + RWMutex")] {
        if config.maps.as_ref().is_some_and(|m| !m.iter().any(|m| name.contains(m.as_str()))) {
            continue;
        }
        let (threads_arg, cap_arg, repeat_arg) =
            (threads.to_string(), config.cap_log2.to_string(), config.repeat.to_string());
        let mut args = vec!["-mode", "mix", "-map", map, "-workload", w.name, "-threads", &threads_arg];
        args.extend(["-cap-log2", &cap_arg, "-repeat", &repeat_arg]);
        if presized {
            args.push("-presized");
        }
        if !config.latency {
            args.push("-latency=false");
        }
        let r = peer.run(&args).numbers("MIX");
        let us = |ns: f64| if ns < 0.0 { f64::NAN } else { ns / 1e3 };
        println!(
            "| {} | {} | {threads} | {name} | {:.2} | — | {:.1} | {:.1} | — | — | — |",
            w.name,
            if presized { "presized" } else { "from empty" },
            r[0],
            us(r[1]),
            us(r[2]),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run a tiny smoke
    // configuration then, so that the tests exercise this file.
    let smoke = !std::env::args().any(|a| a == "--bench");
    let cap_log2: u32 =
        std::env::var("CAP_LOG2").ok().and_then(|v| v.parse().ok()).unwrap_or(if smoke { 10 } else { 22 });
    let threads: Vec<usize> =
        env_list("THREADS").map_or(vec![1, 2], |t| t.iter().map(|t| t.parse().unwrap()).collect());
    let repeat = std::env::var("REPEAT").ok().and_then(|v| v.parse().ok()).unwrap_or(if smoke { 1 } else { 3 });
    let latency = std::env::var("LATENCY").map_or(true, |v| v != "0");
    let config = Config { maps: env_list("MAPS"), cap_log2, repeat, latency };
    let workloads = env_list("WORKLOADS");
    let go_peer = common::GoPeer::from_env();
    println!("capacity 2^{cap_log2}, operations = capacity, threads {threads:?}, best of {repeat} for Mops/s");
    if let Some(peer) = &go_peer {
        println!("Go rows: {} (tools/gobench; no on-CPU figures)", peer.version);
    }
    println!(
        "| workload | sizing | threads | map | Mops/s | Mops/s on-CPU | insert p99.99 (µs) | insert max (µs) \
         | on-CPU insert p99.99 (µs) | on-CPU insert max (µs) | preemptions |"
    );
    println!("|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for w in WORKLOADS {
        if workloads.as_ref().is_some_and(|ws| !ws.iter().any(|n| n == w.name)) {
            continue;
        }
        for presized in [true, false] {
            for &t in &threads {
                measure::<ShardedMap<u64, u64, Hasher>>(&config, w, t, presized);
                measure::<GoSyncMap>(&config, w, t, presized);
                measure::<RwLockGoMap>(&config, w, t, presized);
                measure::<Actor>(&config, w, t, presized);
                measure::<dashmap::DashMap<u64, u64, Hasher>>(&config, w, t, presized);
                measure::<papaya::HashMap<u64, u64, Hasher>>(&config, w, t, presized);
                measure::<scc::HashMap<u64, u64, Hasher>>(&config, w, t, presized);
                measure::<RwLockStd>(&config, w, t, presized);
                measure::<MutexStd>(&config, w, t, presized);
                if let Some(peer) = &go_peer {
                    measure_go(peer, &config, w, t, presized);
                }
            }
        }
    }
}

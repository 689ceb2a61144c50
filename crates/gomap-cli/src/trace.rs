//! `gomap trace`: run a workload on a map and write a Chrome trace-event file of it, with a
//! GODEBUG-style line per growth on stderr.
//!
//! Growths are not guessed from the outside: gomap's `tracing` feature emits an event when a
//! growth starts, finishes or is abandoned, and a small [`Subscriber`] here ([`Recorder`])
//! collects them with their time and the worker thread they happened on. That works the
//! same for a `GoMap` and for the sync maps, whose inner maps are out of reach.
//!
//! The trace file (the JSON object format of the Chrome trace-event format, which Perfetto
//! and chrome://tracing open):
//!
//! * pid 1; tid `1 + w` for worker `w`, tid `10000 + m` for the growths of map `m` (the
//!   `map` number of gomap's events; a sharded map has one per shard);
//! * per worker, a `workload` span (B/E) holding one complete slice (X) per recorded
//!   operation, and instants (i) where the worker started or finished a growth;
//! * per map, one span (B/E) per growth, from the write that started it to the one that
//!   finished it (or abandoned it, or the end of the run);
//! * counters (C): `growths in progress`, the map's `len` (for a `GoMap` also `B`,
//!   `load factor`, `bytes`), and per worker the mean and max latency of each window of
//!   operations;
//! * `otherData`: the command's parameters, per-operation latency percentiles and totals.
//!
//! Size cap: every operation is timed into a histogram, but at most `--max-op-events`
//! slices are written: all operations if they fit, else a regular sample for half the
//! budget and the slowest operations for the other half. Growth spans stop at
//! [`MAX_GROWTH_SPANS`]; counter tracks have at most [`COUNTER_SAMPLES`] points each.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::sync::{mpsc, Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use gomap::sync::{CheckedMap, CowMap, ShardedMap, SyncMap};
use gomap::GoMap;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

use crate::growth::{human_bytes, thousands};
use crate::{Dist, MapKind, Mix, TraceArgs};

/// Most growth spans written (a `CowMap` copies its map on every write, and each copy that
/// grows is a map of its own).
pub const MAX_GROWTH_SPANS: usize = 20_000;
/// Points per counter track (per worker for the latency windows).
pub const COUNTER_SAMPLES: u64 = 1_000;
/// Runs of at least this many operations get a progress bar.
const PROGRESS_MIN_OPS: u64 = 250_000;
/// Workers report progress in batches of this many operations.
const PROGRESS_BATCH: u64 = 4096;
/// Thread ids of the growth tracks: this plus the map's number.
const MAP_TID_BASE: u64 = 10_000;

// ------------------------------------------------------------------------------------------
// The workload
// ------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Insert = 0,
    Get = 1,
    Remove = 2,
}

const OPS: [Op; 3] = [Op::Insert, Op::Get, Op::Remove];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Get => "get",
            Op::Remove => "remove",
        }
    }
}

/// splitmix64: a small, fast generator; the workload only needs it to be deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift; the bias is below 2^-40 for our n).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl Mix {
    fn total(&self) -> u64 {
        u64::from(self.insert) + u64::from(self.get) + u64::from(self.remove)
    }

    fn pick(&self, rng: &mut Rng) -> Op {
        let r = rng.below(self.total());
        if r < u64::from(self.insert) {
            Op::Insert
        } else if r < u64::from(self.insert) + u64::from(self.get) {
            Op::Get
        } else {
            Op::Remove
        }
    }

    fn describe(&self) -> String {
        let total = self.total() as f64;
        let pct = |w: u32| f64::from(w) * 100.0 / total;
        format!("insert {:.0}%, get {:.0}%, remove {:.0}%", pct(self.insert), pct(self.get), pct(self.remove))
    }
}

/// Zipf's distribution over ranks `1..=n` by rejection-inversion (W. Hörmann and
/// G. Derflinger, "Rejection-inversion to generate variates from monotone discrete
/// distributions", 1996): O(1) memory and expected time for any `n`.
struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    cut: f64,
}

impl Zipf {
    fn new(n: u64, s: f64) -> Self {
        let mut z = Zipf { n: n as f64, s, h_x1: 0.0, h_n: 0.0, cut: 0.0 };
        z.h_x1 = z.h_integral(1.5) - 1.0;
        z.h_n = z.h_integral(z.n + 0.5);
        z.cut = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// A rank in `1..=n`; rank 1 is the most likely.
    fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_n + rng.unit() * (self.h_x1 - self.h_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.cut || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
    }

    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, continuous at 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, continuous at 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

/// Where the operations' keys come from.
enum Keys {
    /// Inserts take keys in order from the worker's start (wrapping at n); gets and removes
    /// pick uniformly among the keys the worker has inserted so far.
    Sequential(u64),
    Uniform(u64),
    Zipf(Zipf),
}

/// One worker's position in the key stream.
struct KeyCursor {
    first: u64,
    inserted: u64,
}

impl Keys {
    fn key(&self, op: Op, cursor: &mut KeyCursor, rng: &mut Rng) -> u64 {
        match self {
            Keys::Sequential(n) => {
                let offset = if op == Op::Insert {
                    cursor.inserted += 1;
                    cursor.inserted - 1
                } else {
                    rng.below(cursor.inserted.clamp(1, *n))
                };
                (cursor.first + offset) % n
            }
            Keys::Uniform(n) => rng.below(*n),
            Keys::Zipf(z) => z.sample(rng) - 1,
        }
    }
}

/// A map the workload can drive: one operation, and the gauges worth plotting.
trait Target {
    /// Runs `op` on `key`; true if the key was there.
    fn apply(&mut self, op: Op, key: u64) -> bool;
    fn gauges(&mut self) -> Vec<(&'static str, f64)>;
}

impl Target for GoMap<u64, u64> {
    #[inline]
    fn apply(&mut self, op: Op, key: u64) -> bool {
        match op {
            Op::Insert => self.insert(key, key).is_some(),
            Op::Get => self.get(&key).is_some(),
            Op::Remove => self.remove(&key).is_some(),
        }
    }

    fn gauges(&mut self) -> Vec<(&'static str, f64)> {
        let s = self.stats();
        vec![("len", s.len as f64), ("B", f64::from(s.b)), ("load factor", s.load_factor), ("bytes", s.bytes as f64)]
    }
}

/// The maps several threads can share.
trait Shared: Sync {
    fn insert(&self, key: u64) -> bool;
    fn get(&self, key: u64) -> bool;
    fn remove(&self, key: u64) -> bool;
    fn len(&self) -> usize;
}

impl<M: Shared> Target for &M {
    #[inline]
    fn apply(&mut self, op: Op, key: u64) -> bool {
        match op {
            Op::Insert => self.insert(key),
            Op::Get => self.get(key),
            Op::Remove => self.remove(key),
        }
    }

    fn gauges(&mut self) -> Vec<(&'static str, f64)> {
        vec![("len", self.len() as f64)]
    }
}

impl Shared for ShardedMap<u64, u64> {
    fn insert(&self, key: u64) -> bool {
        ShardedMap::insert(self, key, key).is_some()
    }
    fn get(&self, key: u64) -> bool {
        ShardedMap::get(self, &key).is_some()
    }
    fn remove(&self, key: u64) -> bool {
        ShardedMap::remove(self, &key).is_some()
    }
    fn len(&self) -> usize {
        ShardedMap::len(self)
    }
}

impl Shared for SyncMap<u64, u64> {
    fn insert(&self, key: u64) -> bool {
        self.swap(key, key).is_some()
    }
    fn get(&self, key: u64) -> bool {
        self.load(&key).is_some()
    }
    fn remove(&self, key: u64) -> bool {
        self.load_and_delete(&key).is_some()
    }
    fn len(&self) -> usize {
        SyncMap::len(self)
    }
}

impl Shared for CowMap<u64, u64> {
    fn insert(&self, key: u64) -> bool {
        CowMap::insert(self, key, key).is_some()
    }
    fn get(&self, key: u64) -> bool {
        CowMap::get(self, &key).is_some()
    }
    fn remove(&self, key: u64) -> bool {
        CowMap::remove(self, &key).is_some()
    }
    fn len(&self) -> usize {
        CowMap::len(self)
    }
}

impl Shared for CheckedMap<u64, u64> {
    fn insert(&self, key: u64) -> bool {
        CheckedMap::insert(self, key, key).is_some()
    }
    fn get(&self, key: u64) -> bool {
        CheckedMap::get(self, &key).is_some()
    }
    fn remove(&self, key: u64) -> bool {
        CheckedMap::remove(self, &key).is_some()
    }
    fn len(&self) -> usize {
        CheckedMap::len(self)
    }
}

// ------------------------------------------------------------------------------------------
// Workers
// ------------------------------------------------------------------------------------------

thread_local! {
    /// The worker running on this thread, for the events it causes.
    static WORKER: Cell<Option<usize>> = const { Cell::new(None) };
}

/// What every worker shares.
struct Plan {
    epoch: Instant,
    mix: Mix,
    keys: Keys,
    seed: u64,
    progress: ProgressBar,
}

/// One worker's share.
struct Share {
    worker: usize,
    first_op: u64,
    ops: u64,
    /// Slices it may write.
    budget: u64,
    /// Whether it samples the map's gauges.
    gauges: bool,
}

/// One recorded operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Slice {
    dur_ns: u64,
    index: u64,
    start_ns: u64,
    key: u64,
    op: u8,
    hit: bool,
}

/// Latency of one window of operations.
struct Window {
    end_ns: u64,
    max_ns: u64,
    mean_ns: f64,
}

struct WorkerOut {
    worker: usize,
    start_ns: u64,
    end_ns: u64,
    slices: Vec<Slice>,
    histograms: [Histogram<u64>; 3],
    hits: [u64; 3],
    windows: Vec<Window>,
    gauges: Vec<(u64, Vec<(&'static str, f64)>)>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn histogram() -> Histogram<u64> {
    // 1 ns to 60 s at 3 significant digits; longer operations count as 60 s.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid histogram bounds")
}

fn run_worker(plan: &Plan, share: &Share, target: &mut impl Target) -> WorkerOut {
    WORKER.with(|w| w.set(Some(share.worker)));
    let mut rng = Rng(plan.seed ^ (share.worker as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    // All operations if they fit; else every `stride`-th one for half the budget and the
    // slowest of the others for the other half.
    let (stride, slowest_cap) = match share.budget {
        0 => (u64::MAX, 0),
        b if share.ops <= b => (1, 0),
        b => (share.ops.div_ceil((b / 2).max(1)), (b - b / 2) as usize),
    };
    let window = share.ops.div_ceil(COUNTER_SAMPLES).max(1);
    let gauge_every = if share.gauges { window } else { u64::MAX };

    let mut out = WorkerOut {
        worker: share.worker,
        start_ns: nanos(plan.epoch.elapsed()),
        end_ns: 0,
        slices: Vec::new(),
        histograms: [histogram(), histogram(), histogram()],
        hits: [0; 3],
        windows: Vec::new(),
        gauges: Vec::new(),
    };
    let mut slowest: BinaryHeap<Reverse<Slice>> = BinaryHeap::with_capacity(slowest_cap + 1);
    let (mut window_max, mut window_sum, mut window_n) = (0u64, 0u64, 0u64);
    let mut cursor = KeyCursor { first: share.first_op, inserted: 0 };
    for j in 0..share.ops {
        let index = share.first_op + j;
        let op = plan.mix.pick(&mut rng);
        let key = plan.keys.key(op, &mut cursor, &mut rng);
        let t0 = Instant::now();
        let hit = target.apply(op, key);
        let t1 = Instant::now();
        let dur_ns = nanos(t1 - t0);

        out.histograms[op as usize].saturating_record(dur_ns.max(1));
        out.hits[op as usize] += u64::from(hit);
        let on_stride = stride != u64::MAX && j % stride == 0;
        // Among the slowest so far: while the heap has room, any operation is.
        let among_slowest = slowest_cap > 0
            && (slowest.len() < slowest_cap || slowest.peek().is_some_and(|Reverse(s)| dur_ns > s.dur_ns));
        if on_stride || among_slowest {
            let slice = Slice { dur_ns, index, start_ns: nanos(t0.duration_since(plan.epoch)), key, op: op as u8, hit };
            if on_stride {
                out.slices.push(slice);
            } else {
                slowest.push(Reverse(slice));
                if slowest.len() > slowest_cap {
                    slowest.pop();
                }
            }
        }

        window_max = window_max.max(dur_ns);
        window_sum += dur_ns;
        window_n += 1;
        if window_n == window || j + 1 == share.ops {
            let end_ns = nanos(t1.duration_since(plan.epoch));
            out.windows.push(Window { end_ns, max_ns: window_max, mean_ns: window_sum as f64 / window_n as f64 });
            (window_max, window_sum, window_n) = (0, 0, 0);
        }
        if j % gauge_every == 0 || (share.gauges && j + 1 == share.ops) {
            let gauges = target.gauges();
            out.gauges.push((nanos(plan.epoch.elapsed()), gauges));
        }
        if (j + 1) % PROGRESS_BATCH == 0 {
            plan.progress.inc(PROGRESS_BATCH);
        }
    }
    plan.progress.inc(share.ops % PROGRESS_BATCH);
    out.end_ns = nanos(plan.epoch.elapsed());
    out.slices.extend(slowest.into_iter().map(|Reverse(s)| s));
    out.slices.sort_by_key(|s| s.start_ns);
    out
}

// ------------------------------------------------------------------------------------------
// The growth events
// ------------------------------------------------------------------------------------------

/// The fields of one of gomap's events.
#[derive(Clone, Debug, Default)]
struct Fields {
    nums: BTreeMap<&'static str, u64>,
    strs: BTreeMap<&'static str, String>,
}

impl Visit for Fields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.nums.insert(field.name(), value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.nums.insert(field.name(), value.max(0) as u64);
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.nums.insert(field.name(), u64::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.strs.insert(field.name(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.strs.insert(field.name(), format!("{value:?}"));
    }
}

/// One of gomap's growth events, as recorded.
#[derive(Clone, Debug)]
struct GrowthEvent {
    /// `growth_started`, `growth_finished` or `growth_abandoned`.
    name: &'static str,
    /// Order of the growth's start among all growths of the run, from 1.
    seq: u64,
    ts_ns: u64,
    worker: Option<usize>,
    fields: Fields,
}

impl GrowthEvent {
    fn num(&self, field: &str) -> u64 {
        self.fields.nums.get(field).copied().unwrap_or(0)
    }

    fn str(&self, field: &str) -> &str {
        self.fields.strs.get(field).map_or("", String::as_str)
    }

    /// Names the growth: (map, the map's growth number).
    fn growth(&self) -> (u64, u64) {
        (self.num("map"), self.num("growth"))
    }
}

#[derive(Default)]
struct Recorded {
    events: Vec<GrowthEvent>,
    /// Sequence numbers of the growths started and not yet ended.
    open: HashMap<(u64, u64), u64>,
    started: u64,
    log: Option<mpsc::Sender<GrowthEvent>>,
}

/// A `tracing` subscriber for gomap's INFO events (growth started, finished, abandoned).
struct Recorder {
    epoch: Instant,
    recorded: Mutex<Recorded>,
}

impl Recorder {
    fn lock(&self) -> std::sync::MutexGuard<'_, Recorded> {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target() == "gomap" && *metadata.level() <= Level::INFO
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut event =
            GrowthEvent { name: event.metadata().name(), seq: 0, ts_ns: 0, worker: WORKER.with(Cell::get), fields };
        // One lock for the time, the numbering, the record and the log, so that all of them
        // see one order.
        let mut recorded = self.lock();
        event.ts_ns = nanos(self.epoch.elapsed());
        let growth = event.growth();
        event.seq = match event.name {
            "growth_started" => {
                recorded.started += 1;
                let seq = recorded.started;
                recorded.open.insert(growth, seq);
                seq
            }
            _ => match recorded.open.remove(&growth) {
                Some(seq) => seq,
                None => return, // a growth that started before the run
            },
        };
        if let Some(log) = &recorded.log {
            // The printer only goes away when the run is over.
            let _ = log.send(event.clone());
        }
        recorded.events.push(event);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The GODEBUG-style line of one growth: `end` is its finished or abandoned event, or
/// `None` if it was still running when the run ended.
fn growth_line(start: &GrowthEvent, end: Option<&GrowthEvent>) -> String {
    let head = format!(
        "growth {} @{:.3}s map {}: B {}->{} {}, {} entries, {}",
        start.seq,
        start.ts_ns as f64 / 1e9,
        start.num("map"),
        start.num("old_b"),
        start.num("new_b"),
        start.str("trigger"),
        start.num("len"),
        human_bytes(start.num("bytes") as usize),
    );
    let ms = |ns: u64| format!("{:.3} ms", ns as f64 / 1e6);
    match end {
        Some(end) if end.name == "growth_finished" => {
            let explicit = end.num("explicit");
            let buckets = if explicit > 0 {
                format!("{} buckets ({explicit} explicit)", end.num("buckets"))
            } else {
                format!("{} buckets", end.num("buckets"))
            };
            format!(
                "{head}: {} writes, {buckets}, {} moved, {}",
                end.num("writes"),
                end.num("entries_moved"),
                ms(end.num("elapsed_ns"))
            )
        }
        Some(end) => format!(
            "{head}: abandoned ({}) at {}/{} buckets after {}",
            end.str("reason"),
            end.num("evacuated"),
            end.num("old_buckets"),
            ms(end.ts_ns.saturating_sub(start.ts_ns))
        ),
        None => format!("{head}: still running at the end of the run"),
    }
}

/// Prints a line per growth as it ends, above the progress bar; returns the starts of the
/// growths still running when the channel closes.
fn print_log(events: mpsc::Receiver<GrowthEvent>, progress: ProgressBar) -> Vec<GrowthEvent> {
    let mut open: HashMap<(u64, u64), GrowthEvent> = HashMap::new();
    for event in events {
        if event.name == "growth_started" {
            open.insert(event.growth(), event);
        } else if let Some(start) = open.remove(&event.growth()) {
            let line = growth_line(&start, Some(&event));
            // A closed stderr is no reason to stop the workload.
            progress.suspend(|| writeln!(io::stderr(), "{line}")).ok();
        }
    }
    let mut running: Vec<GrowthEvent> = open.into_values().collect();
    running.sort_by_key(|e| e.seq);
    running
}

// ------------------------------------------------------------------------------------------
// The run
// ------------------------------------------------------------------------------------------

/// Where the trace goes.
enum Output {
    File(std::path::PathBuf, File),
    Stdout,
}

fn map_description(args: &TraceArgs) -> String {
    match args.map {
        MapKind::Gomap => "GoMap<u64, u64>".to_string(),
        MapKind::SyncMap => "sync::SyncMap<u64, u64>".to_string(),
        MapKind::Sharded => {
            format!("sync::ShardedMap<u64, u64> ({} shards)", ShardedMap::<u64, u64>::new().shard_count())
        }
        MapKind::Cow => "sync::CowMap<u64, u64>".to_string(),
        MapKind::Checked => "sync::CheckedMap<u64, u64>".to_string(),
    }
}

pub fn run(args: &TraceArgs) -> io::Result<()> {
    // Fail before the run, not after it.
    let output = if args.out.as_os_str() == "-" {
        Output::Stdout
    } else {
        let file = File::create(&args.out).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create the trace file {}: {e}", args.out.display()))
        })?;
        Output::File(args.out.clone(), file)
    };
    let ops = args.ops.unwrap_or(args.keys);
    let threads = args.threads;
    let description = map_description(args);

    let progress = if args.quiet || ops < PROGRESS_MIN_OPS {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(ops), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} ops ({per_sec}, {eta} left)",
            )
            .expect("valid progress template")
            .progress_chars("=> "),
        );
        bar
    };

    let epoch = Instant::now();
    let (log_tx, log_rx) = mpsc::channel();
    let recorder =
        Arc::new(Recorder { epoch, recorded: Mutex::new(Recorded { log: Some(log_tx), ..Recorded::default() }) });
    let dispatch = tracing::Dispatch::from(recorder.clone());
    let printer = {
        let progress = progress.clone();
        thread::Builder::new().name("growth-log".into()).spawn(move || print_log(log_rx, progress))?
    };

    let keys = match args.dist {
        Dist::Sequential => Keys::Sequential(args.keys),
        Dist::Uniform => Keys::Uniform(args.keys),
        Dist::Zipf => Keys::Zipf(Zipf::new(args.keys, args.zipf_exponent.unwrap_or(1.0))),
    };
    let plan = Plan { epoch, mix: args.mix, keys, seed: args.seed, progress: progress.clone() };
    let shares: Vec<Share> = (0..threads)
        .map(|w| {
            let first_op = ops * w as u64 / threads as u64;
            let end = ops * (w as u64 + 1) / threads as u64;
            let budget =
                args.max_op_events / threads as u64 + u64::from((w as u64) < args.max_op_events % threads as u64);
            Share { worker: w, first_op, ops: end - first_op, budget, gauges: w == 0 }
        })
        .collect();

    let (outs, failures) = match args.map {
        MapKind::Gomap => {
            let mut map = GoMap::new();
            let out = tracing::dispatcher::with_default(&dispatch, || run_worker(&plan, &shares[0], &mut map));
            // Dropped outside the recorder: a growth still running stays "running".
            drop(map);
            (vec![out], Vec::new())
        }
        MapKind::SyncMap => run_shared(&SyncMap::new(), &plan, &shares, &dispatch),
        MapKind::Sharded => run_shared(&ShardedMap::new(), &plan, &shares, &dispatch),
        MapKind::Cow => run_shared(&CowMap::new(), &plan, &shares, &dispatch),
        MapKind::Checked => run_shared(&CheckedMap::new(), &plan, &shares, &dispatch),
    };
    let elapsed = epoch.elapsed();
    progress.finish_and_clear();

    // Close the log and print the growths still running.
    let recorded = {
        let mut recorded = recorder.lock();
        recorded.log = None;
        std::mem::take(&mut recorded.events)
    };
    let running = printer.join().unwrap_or_default();
    for start in &running {
        writeln!(io::stderr(), "{}", growth_line(start, None)).ok();
    }

    let run = Run { args, ops, elapsed, description: &description, outs: &outs, events: &recorded, running: &running };
    let trace = run.trace();
    let events = trace["traceEvents"].as_array().map_or(0, Vec::len);
    let (bytes, summary_to_stdout) = match output {
        Output::File(path, file) => {
            let mut w = BufWriter::new(file);
            serde_json::to_writer(&mut w, &trace)?;
            w.flush()?;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            (Some((path, bytes)), true)
        }
        Output::Stdout => {
            let mut w = BufWriter::new(io::stdout().lock());
            serde_json::to_writer(&mut w, &trace)?;
            writeln!(w)?;
            w.flush()?;
            (None, false)
        }
    };
    let summary = run.summary(events, bytes.as_ref().map(|(p, b)| (p.as_path(), *b)));
    if summary_to_stdout {
        io::stdout().lock().write_all(summary.as_bytes())?;
    } else {
        io::stderr().lock().write_all(summary.as_bytes())?;
    }

    if failures.is_empty() {
        Ok(())
    } else {
        let mut message = failures.join("; ");
        if args.map == MapKind::Checked {
            message += " (a CheckedMap panics when threads use it at the same time, as Go's runtime does: \
                        use --threads 1, or a map made for sharing such as --map sharded)";
        }
        Err(io::Error::other(message))
    }
}

/// Runs the workers on their own threads, each with the recorder as its subscriber.
/// Returns the outputs of the workers that finished and the messages of those that
/// panicked (a `CheckedMap` shared by several threads does, by design).
fn run_shared<M: Shared>(
    map: &M,
    plan: &Plan,
    shares: &[Share],
    dispatch: &tracing::Dispatch,
) -> (Vec<WorkerOut>, Vec<String>) {
    let previous_hook = Arc::new(std::panic::take_hook());
    {
        // Workers' panics are reported once, below, not with a backtrace note each.
        let previous_hook = previous_hook.clone();
        std::panic::set_hook(Box::new(move |info| {
            if !thread::current().name().is_some_and(|name| name.starts_with("worker ")) {
                previous_hook(info);
            }
        }));
    }
    let results: Vec<thread::Result<WorkerOut>> = thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                thread::Builder::new()
                    .name(format!("worker {}", share.worker))
                    .spawn_scoped(scope, move || {
                        tracing::dispatcher::with_default(dispatch, || run_worker(plan, share, &mut &*map))
                    })
                    .expect("spawning a worker thread")
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    drop(std::panic::take_hook());
    if let Ok(hook) = Arc::try_unwrap(previous_hook) {
        std::panic::set_hook(hook);
    }

    let mut outs = Vec::new();
    let mut failures = Vec::new();
    for (share, result) in shares.iter().zip(results) {
        match result {
            Ok(out) => outs.push(out),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panicked".to_string());
                failures.push(format!("worker {} stopped: {message}", share.worker));
            }
        }
    }
    (outs, failures)
}

// ------------------------------------------------------------------------------------------
// The trace file and the summary
// ------------------------------------------------------------------------------------------

struct Run<'a> {
    args: &'a TraceArgs,
    ops: u64,
    elapsed: Duration,
    description: &'a str,
    outs: &'a [WorkerOut],
    events: &'a [GrowthEvent],
    running: &'a [GrowthEvent],
}

/// Microseconds, the trace format's unit, from nanoseconds.
fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

impl Run<'_> {
    fn merged(&self, op: Op) -> Histogram<u64> {
        let mut h = histogram();
        for out in self.outs {
            h.add(&out.histograms[op as usize]).expect("histograms of equal bounds");
        }
        h
    }

    fn latency_json(&self) -> Value {
        let mut per_op = serde_json::Map::new();
        for op in OPS {
            let h = self.merged(op);
            if h.is_empty() {
                continue;
            }
            let hits: u64 = self.outs.iter().map(|o| o.hits[op as usize]).sum();
            per_op.insert(
                op.name().to_string(),
                json!({
                    "count": h.len(),
                    "hits": hits,
                    "mean_ns": h.mean().round(),
                    "p50_ns": h.value_at_quantile(0.5),
                    "p90_ns": h.value_at_quantile(0.9),
                    "p99_ns": h.value_at_quantile(0.99),
                    "p999_ns": h.value_at_quantile(0.999),
                    "max_ns": h.max(),
                }),
            );
        }
        Value::Object(per_op)
    }

    fn growth_counts(&self) -> (u64, u64, u64) {
        let count = |name: &str| self.events.iter().filter(|e| e.name == name).count() as u64;
        (count("growth_started"), count("growth_finished"), count("growth_abandoned"))
    }

    fn end_ns(&self) -> u64 {
        let workers = self.outs.iter().map(|o| o.end_ns).max().unwrap_or(0);
        let events = self.events.last().map_or(0, |e| e.ts_ns);
        workers.max(events)
    }

    /// The whole trace-event JSON object.
    fn trace(&self) -> Value {
        let mut events: Vec<Value> = Vec::new();
        let meta = |tid: u64, name: &str, value: Value| json!({"name": name, "ph": "M", "pid": 1, "tid": tid, "args": {"name": value}});
        events.push(meta(0, "process_name", json!(format!("gomap trace: {}", self.description))));

        // Worker tracks: the workload span, the operations, growth instants.
        for out in self.outs {
            let tid = 1 + out.worker as u64;
            events.push(meta(tid, "thread_name", json!(format!("worker {}", out.worker))));
            events.push(json!({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid,
                "args": {"sort_index": tid}}));
            events.push(json!({"name": "workload", "cat": "workload", "ph": "B", "pid": 1, "tid": tid,
                "ts": us(out.start_ns), "args": {"ops": out.histograms.iter().map(Histogram::len).sum::<u64>()}}));
            let mut instants = self.events.iter().filter(|e| e.worker == Some(out.worker)).peekable();
            for s in &out.slices {
                while let Some(e) = instants.next_if(|e| e.ts_ns <= s.start_ns) {
                    events.push(self.instant(e, tid));
                }
                events.push(json!({"name": OPS[s.op as usize].name(), "cat": "op", "ph": "X", "pid": 1,
                    "tid": tid, "ts": us(s.start_ns), "dur": us(s.dur_ns),
                    "args": {"op": s.index, "key": s.key, "hit": s.hit}}));
            }
            for e in instants.filter(|e| e.ts_ns <= out.end_ns) {
                events.push(self.instant(e, tid));
            }
            events.push(json!({"name": "workload", "cat": "workload", "ph": "E", "pid": 1, "tid": tid,
                "ts": us(out.end_ns)}));
        }

        // Growth tracks: one span per growth, on the track of its map.
        let end_ns = self.end_ns();
        let mut open: HashMap<(u64, u64), &GrowthEvent> = HashMap::new();
        let mut named_tracks = std::collections::HashSet::new();
        let mut spans = 0usize;
        let mut in_progress = 0i64;
        for e in self.events {
            let tid = MAP_TID_BASE + e.num("map");
            if e.name == "growth_started" {
                in_progress += 1;
                if spans < MAX_GROWTH_SPANS {
                    spans += 1;
                    if named_tracks.insert(tid) {
                        events.push(meta(tid, "thread_name", json!(format!("map {} growths", e.num("map")))));
                        events.push(json!({"name": "thread_sort_index", "ph": "M", "pid": 1, "tid": tid,
                            "args": {"sort_index": tid}}));
                    }
                    open.insert(e.growth(), e);
                    events.push(json!({"name": span_name(e), "cat": "growth", "ph": "B", "pid": 1, "tid": tid,
                        "ts": us(e.ts_ns), "args": {
                            "growth": e.seq, "map": e.num("map"), "kind": e.str("kind"),
                            "trigger": e.str("trigger"), "old_b": e.num("old_b"), "new_b": e.num("new_b"),
                            "len": e.num("len"), "noverflow": e.num("noverflow"), "bytes": e.num("bytes"),
                            "worker": e.worker}}));
                }
            } else {
                in_progress -= 1;
                if let Some(start) = open.remove(&e.growth()) {
                    let args = if e.name == "growth_finished" {
                        json!({"outcome": "finished", "writes": e.num("writes"), "buckets": e.num("buckets"),
                            "by_writes": e.num("by_writes"), "explicit": e.num("explicit"),
                            "entries_moved": e.num("entries_moved"), "elapsed_ns": e.num("elapsed_ns"),
                            "len": e.num("len"), "worker": e.worker})
                    } else {
                        json!({"outcome": "abandoned", "reason": e.str("reason"), "evacuated": e.num("evacuated"),
                            "old_buckets": e.num("old_buckets"), "worker": e.worker})
                    };
                    events.push(json!({"name": span_name(start), "cat": "growth", "ph": "E", "pid": 1, "tid": tid,
                        "ts": us(e.ts_ns), "args": args}));
                }
            }
            events.push(json!({"name": "growths in progress", "ph": "C", "pid": 1, "ts": us(e.ts_ns),
                "args": {"growths": in_progress}}));
        }
        let mut still_open: Vec<&GrowthEvent> = open.into_values().collect();
        still_open.sort_by_key(|e| e.seq);
        for start in still_open {
            events.push(json!({"name": span_name(start), "cat": "growth", "ph": "E", "pid": 1,
                "tid": MAP_TID_BASE + start.num("map"), "ts": us(end_ns.max(start.ts_ns)),
                "args": {"outcome": "still running at the end of the run"}}));
        }

        // Counter tracks.
        for out in self.outs {
            for (ts, gauges) in &out.gauges {
                for (name, value) in gauges {
                    events.push(json!({"name": name, "ph": "C", "pid": 1, "ts": us(*ts), "args": {*name: value}}));
                }
            }
            let name = format!("latency, worker {} (ns)", out.worker);
            for w in &out.windows {
                events.push(json!({"name": name, "ph": "C", "pid": 1, "ts": us(w.end_ns),
                    "args": {"max": w.max_ns, "mean": w.mean_ns.round()}}));
            }
        }

        let (started, finished, abandoned) = self.growth_counts();
        let slices: usize = self.outs.iter().map(|o| o.slices.len()).sum();
        json!({
            "traceEvents": events,
            "displayTimeUnit": "ns",
            "otherData": {
                "generator": format!("gomap trace {}", env!("CARGO_PKG_VERSION")),
                "map": self.description,
                "threads": self.args.threads,
                "keys": self.args.keys,
                "ops": self.ops,
                "dist": format!("{:?}", self.args.dist).to_lowercase(),
                "zipf_exponent": self.args.zipf_exponent,
                "mix": {"insert": self.args.mix.insert, "get": self.args.mix.get, "remove": self.args.mix.remove},
                "seed": self.args.seed,
                "elapsed_ns": nanos(self.elapsed),
                "op_slices": {"written": slices, "max": self.args.max_op_events},
                "growths": {"started": started, "finished": finished, "abandoned": abandoned,
                    "running": self.running.len(), "spans_written": spans},
                "latency": self.latency_json(),
            }
        })
    }

    fn instant(&self, e: &GrowthEvent, tid: u64) -> Value {
        let verb = match e.name {
            "growth_started" => "starts",
            "growth_finished" => "finishes",
            _ => "abandoned",
        };
        json!({"name": format!("growth {} {verb}", e.seq), "cat": "growth", "ph": "i", "s": "t", "pid": 1,
            "tid": tid, "ts": us(e.ts_ns), "args": {"map": e.num("map"), "growth": e.seq}})
    }

    /// The human summary: the workload, latency percentiles, growths, the file.
    fn summary(&self, events: usize, file: Option<(&std::path::Path, u64)>) -> String {
        let a = self.args;
        let mut s = String::new();
        let dist = match a.dist {
            Dist::Sequential => "sequential".to_string(),
            Dist::Uniform => "uniform".to_string(),
            Dist::Zipf => format!("zipf (s = {})", a.zipf_exponent.unwrap_or(1.0)),
        };
        let secs = self.elapsed.as_secs_f64();
        s += &format!(
            "gomap trace: {}, {} thread{}, {} ops on {dist} keys 0..{} ({})\n",
            self.description,
            a.threads,
            if a.threads == 1 { "" } else { "s" },
            thousands(self.ops),
            thousands(a.keys),
            a.mix.describe()
        );
        let done: u64 = self.outs.iter().flat_map(|o| o.histograms.iter().map(Histogram::len)).sum();
        s += &format!(
            "  ran {} ops in {:.3} s ({:.2} M ops/s)\n",
            thousands(done),
            secs,
            if secs > 0.0 { done as f64 / secs / 1e6 } else { 0.0 }
        );
        s += &format!(
            "  {:<8}{:>12}{:>10}{:>10}{:>10}{:>10}{:>12}   (ns)\n",
            "latency", "count", "p50", "p90", "p99", "p99.9", "max"
        );
        for op in OPS {
            let h = self.merged(op);
            if h.is_empty() {
                continue;
            }
            s += &format!(
                "  {:<8}{:>12}{:>10}{:>10}{:>10}{:>10}{:>12}\n",
                op.name(),
                thousands(h.len()),
                h.value_at_quantile(0.5),
                h.value_at_quantile(0.9),
                h.value_at_quantile(0.99),
                h.value_at_quantile(0.999),
                thousands(h.max())
            );
        }
        let (started, finished, abandoned) = self.growth_counts();
        s += &format!(
            "  growths: {started} started, {finished} finished, {abandoned} abandoned, {} running (one line each on stderr)\n",
            self.running.len()
        );
        match file {
            Some((path, bytes)) => {
                s += &format!(
                    "  trace: {} ({} events, {}); open it in https://ui.perfetto.dev or chrome://tracing\n",
                    path.display(),
                    thousands(events as u64),
                    human_bytes(bytes as usize)
                );
            }
            None => s += &format!("  trace: written to stdout ({} events)\n", thousands(events as u64)),
        }
        s
    }
}

/// A growth span's name: `growth 12: B 8->9`.
fn span_name(start: &GrowthEvent) -> String {
    format!("growth {}: B {}->{}", start.seq, start.num("old_b"), start.num("new_b"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_ranks_are_in_range_and_skewed() {
        let n = 1000;
        let zipf = Zipf::new(n, 1.0);
        let mut rng = Rng(7);
        let mut counts = vec![0u64; n as usize + 1];
        let draws = 200_000;
        for _ in 0..draws {
            let k = zipf.sample(&mut rng);
            assert!((1..=n).contains(&k), "rank {k} out of 1..={n}");
            counts[k as usize] += 1;
        }
        // P(1) = 1 / H_1000 = 0.1336 for s = 1.
        let p1 = counts[1] as f64 / draws as f64;
        assert!((0.125..0.142).contains(&p1), "P(rank 1) = {p1}");
        // P(k) ~ 1/k: rank 2 about half of rank 1, rank 10 about a tenth.
        let ratio2 = counts[2] as f64 / counts[1] as f64;
        let ratio10 = counts[10] as f64 / counts[1] as f64;
        assert!((0.45..0.55).contains(&ratio2), "P(2)/P(1) = {ratio2}");
        assert!((0.08..0.12).contains(&ratio10), "P(10)/P(1) = {ratio10}");
    }

    #[test]
    fn zipf_handles_one_key_and_steep_exponents() {
        let mut rng = Rng(1);
        let one = Zipf::new(1, 1.0);
        assert!((0..100).all(|_| one.sample(&mut rng) == 1));
        let steep = Zipf::new(1_000_000, 3.0);
        let ones = (0..10_000).filter(|_| steep.sample(&mut rng) == 1).count();
        assert!(ones > 8_000, "s = 3 puts ~83% on rank 1, got {ones}/10000");
    }

    #[test]
    fn mix_picks_in_proportion() {
        let mix = Mix { insert: 3, get: 1, remove: 0 };
        let mut rng = Rng(3);
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[mix.pick(&mut rng) as usize] += 1;
        }
        assert_eq!(counts[2], 0);
        assert!((29_000..31_000).contains(&counts[0]), "{counts:?}");
    }

    #[test]
    fn growth_lines_read_like_godebug() {
        let mut fields = Fields::default();
        for (k, v) in [("map", 3), ("growth", 2), ("old_b", 8), ("new_b", 9), ("len", 1664), ("bytes", 84_000)] {
            fields.nums.insert(k, v);
        }
        fields.strs.insert("trigger", "load".into());
        let start = GrowthEvent { name: "growth_started", seq: 5, ts_ns: 2_600_000, worker: Some(0), fields };
        let mut end = start.clone();
        end.name = "growth_finished";
        for (k, v) in
            [("writes", 177), ("buckets", 256), ("explicit", 0), ("entries_moved", 1664), ("elapsed_ns", 412_000)]
        {
            end.fields.nums.insert(k, v);
        }
        assert_eq!(
            growth_line(&start, Some(&end)),
            "growth 5 @0.003s map 3: B 8->9 load, 1664 entries, 82.0 KiB: 177 writes, 256 buckets, 1664 moved, 0.412 ms"
        );
        assert!(growth_line(&start, None).ends_with("still running at the end of the run"));
    }
}

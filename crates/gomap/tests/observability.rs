//! The growth counters (`MapStats::growth`), the `tracing` events and the `metrics`
//! publication, each checked against an independent count: growths recognised from the
//! `B`, `growing` and `overflow_buckets` fields after every write, and the events a test
//! subscriber collects.

use gomap::{GoMap, GrowthCounters, MapStats};

/// Sizes: Miri runs every test at a fraction of the size.
const fn size(native: usize, miri: usize) -> usize {
    if cfg!(miri) {
        miri
    } else {
        native
    }
}

/// One growth as seen from outside: from the `MapStats` before and after each write.
#[derive(Debug, Clone, PartialEq)]
struct SeenGrowth {
    same_size: bool,
    old_b: u8,
    new_b: u8,
    /// `len` just before the write that started it.
    len_at_start: usize,
    /// Writes that did growth work: the one that started it up to the one that finished
    /// it (or the last one seen).
    writes: u64,
    finished: bool,
}

/// Watches a map write by write, recognising growths from the stats alone.
#[derive(Default)]
struct Watcher {
    growths: Vec<SeenGrowth>,
    growth_writes: u64,
    /// Overflow buckets attached, from the increments of `overflow_buckets` (exact below
    /// B = 16; reset to 0 when a growth starts).
    overflow: u64,
}

impl Watcher {
    /// Call with the stats before and after a write (insert or remove).
    fn write(&mut self, before: &MapStats, after: &MapStats) {
        assert!(after.b < 16, "the overflow count is only exact below B = 16");
        let started = !before.growing && (after.growing || after.b != before.b);
        assert!(started || before.growing || after.overflow_buckets >= before.overflow_buckets);
        if started {
            let same_size = after.b == before.b;
            self.growths.push(SeenGrowth {
                same_size,
                old_b: before.b,
                new_b: after.b,
                len_at_start: before.len,
                writes: 0,
                finished: false,
            });
            self.overflow += after.overflow_buckets as u64;
        } else {
            self.overflow += (after.overflow_buckets - before.overflow_buckets) as u64;
        }
        if started || before.growing {
            self.growth_writes += 1;
            let growth = self.growths.last_mut().expect("a growth in progress");
            growth.writes += 1;
            growth.finished = !after.growing;
        }
    }

    fn started(&self, same_size: bool) -> u64 {
        self.growths.iter().filter(|g| g.same_size == same_size).count() as u64
    }

    fn finished(&self, same_size: bool) -> u64 {
        self.growths.iter().filter(|g| g.same_size == same_size && g.finished).count() as u64
    }

    /// Old buckets of the finished growths: each evacuates its whole old array.
    fn old_buckets_finished(&self) -> u64 {
        self.growths.iter().filter(|g| g.finished).map(|g| 1u64 << g.old_b).sum()
    }

    /// Checks the map's counters against what was seen, for a run without `clear`,
    /// `reserve` or explicit evacuation.
    fn check(&self, counters: &GrowthCounters, growing: bool) {
        assert_eq!(counters.doublings_started, self.started(false), "{counters:?}");
        assert_eq!(counters.same_size_started, self.started(true), "{counters:?}");
        assert_eq!(counters.doublings_finished, self.finished(false), "{counters:?}");
        assert_eq!(counters.same_size_finished, self.finished(true), "{counters:?}");
        assert_eq!(counters.growths_abandoned, 0);
        assert_eq!(counters.growths_started(), counters.growths_finished() + u64::from(growing));
        assert_eq!(counters.growth_writes, self.growth_writes, "{counters:?}");
        assert_eq!(counters.evacuated_explicitly, 0);
        assert_eq!(counters.buckets_evacuated, counters.evacuated_by_writes);
        assert_eq!(counters.overflow_allocated, self.overflow, "{counters:?}");
        assert_eq!(counters.bulk_resizes, 0);
        let finished_buckets = self.old_buckets_finished();
        if growing {
            let running = 1u64 << self.growths.last().unwrap().old_b;
            assert!(
                counters.buckets_evacuated >= finished_buckets
                    && counters.buckets_evacuated < finished_buckets + running
            );
        } else {
            assert_eq!(counters.buckets_evacuated, finished_buckets, "{counters:?}");
        }
    }
}

fn insert_watched(map: &mut GoMap<u64, u64>, watcher: &mut Watcher, key: u64) {
    let before = map.stats();
    map.insert(key, key);
    watcher.write(&before, &map.stats());
}

fn remove_watched(map: &mut GoMap<u64, u64>, watcher: &mut Watcher, key: u64) {
    let before = map.stats();
    map.remove(&key);
    watcher.write(&before, &map.stats());
}

/// Same-size growths need tombstones and overflow chains: FIFO churn at a fixed size.
/// Keys are pseudo-random so that chains fill as under Go's hash.
fn churn_key(i: u64) -> u64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[test]
fn counters_agree_with_b_changes_while_filling() {
    let n = size(20_000, 1_700) as u64;
    let mut map = GoMap::new();
    let mut watcher = Watcher::default();
    for i in 0..n {
        insert_watched(&mut map, &mut watcher, i);
        if i % 997 == 0 {
            map.check_invariants();
        }
    }
    let stats = map.stats();
    watcher.check(&stats.growth, stats.growing);
    assert_eq!(stats.growth.doublings_started, u64::from(stats.b), "one doubling per B from 0");
    // Inserts of new keys only: each growth moves the entries the map held when it started.
    let moved_by_finished: u64 = watcher.growths.iter().filter(|g| g.finished).map(|g| g.len_at_start as u64).sum();
    if !stats.growing {
        assert_eq!(stats.growth.entries_moved, moved_by_finished);
    }
    map.check_invariants();

    // finish_growth evacuates the rest explicitly.
    map.finish_growth();
    let after = map.stats().growth;
    assert_eq!(after.doublings_finished, u64::from(stats.b));
    assert_eq!(after.buckets_evacuated, (1 << stats.b) - 1, "2^0 + 2^1 + ... + 2^(B-1) old buckets");
    let moved: u64 = watcher.growths.iter().map(|g| g.len_at_start as u64).sum();
    assert_eq!(after.entries_moved, moved);
    assert_eq!(after.growth_writes, stats.growth.growth_writes, "finish_growth is not a write");
    assert_eq!(after.evacuated_by_writes, stats.growth.evacuated_by_writes);
    assert_eq!(after.evacuated_explicitly, after.buckets_evacuated - after.evacuated_by_writes);
    map.check_invariants();
}

#[test]
fn counters_agree_with_same_size_growths_under_churn() {
    let live = size(800, 100) as u64;
    let mut map = GoMap::with_capacity(live as usize);
    let mut watcher = Watcher::default();
    for i in 0..live {
        insert_watched(&mut map, &mut watcher, churn_key(i));
    }
    // Churn until the third same-size growth has started (a few thousand pairs).
    let mut i = 0;
    while watcher.started(true) < 3 && i < 1_000_000 {
        remove_watched(&mut map, &mut watcher, churn_key(i));
        insert_watched(&mut map, &mut watcher, churn_key(live + i));
        i += 1;
    }
    let stats = map.stats();
    assert!(watcher.started(true) == 3, "the churn should cause same-size growths: {:?}", stats.growth);
    assert_eq!(watcher.started(false), 0, "a map sized for its live keys never doubles");
    watcher.check(&stats.growth, stats.growing);
    map.check_invariants();
}

#[test]
fn explicit_evacuation_is_counted_apart_from_writes() {
    let mut map = GoMap::new();
    for i in 0..1665u64 {
        map.insert(i, i); // the 1665th insert starts the growth 256 -> 512 buckets
    }
    let start = map.stats();
    assert!(start.growing && start.old_buckets == 256);
    let mut steps = 0;
    while !map.evacuate_step(1) {
        steps += 1;
    }
    steps += 1; // the call that returned true moved the last bucket
    let end = map.stats().growth;
    assert_eq!(end.evacuated_explicitly - start.growth.evacuated_explicitly, steps);
    assert_eq!(end.evacuated_by_writes, start.growth.evacuated_by_writes);
    assert_eq!(end.buckets_evacuated, 511);
    assert_eq!(end.doublings_finished, 9);
    assert!(map.evacuate_step(1), "nothing left to do");
    assert_eq!(map.stats().growth, end);
}

#[test]
fn clear_drain_and_reserve_abandon_a_growth() {
    let mut map: GoMap<u64, u64> = GoMap::new();
    let grow = |map: &mut GoMap<u64, u64>| {
        let start = map.stats().growth.growths_started();
        let mut i = 0;
        while map.stats().growth.growths_started() == start || !map.stats().growing {
            map.insert(i, i);
            i += 1;
        }
        assert!(map.stats().growing);
    };

    grow(&mut map);
    let before = map.stats().growth;
    map.clear();
    let after = map.stats().growth;
    assert_eq!(after.growths_abandoned, 1);
    assert_eq!(after.growths_started(), after.growths_finished() + 1);
    assert_eq!(after.buckets_evacuated, before.buckets_evacuated, "clear kept the counters");
    map.check_invariants();

    grow(&mut map);
    map.drain().take(3).for_each(drop);
    assert_eq!(map.stats().growth.growths_abandoned, 2);
    map.check_invariants();

    grow(&mut map);
    let len = map.len();
    map.reserve(len * 4);
    let after = map.stats().growth;
    assert_eq!(after.growths_abandoned, 3);
    assert_eq!(after.bulk_resizes, 1);
    assert!(!map.stats().growing);
    map.check_invariants();

    // Not growing: nothing is abandoned.
    map.clear();
    map.reserve(100);
    let last = map.stats().growth;
    assert_eq!((last.growths_abandoned, last.bulk_resizes), (3, 1), "an empty map that is big enough does not resize");
    let fresh: GoMap<u64, u64> = map.clone();
    assert_eq!(fresh.stats().growth, GrowthCounters::default(), "a clone starts from zero");
}

#[test]
fn separately_allocated_overflow_buckets_are_counted() {
    // A hasher that sends every key to bucket 0: one long chain, far beyond the pool.
    #[derive(Default, Clone)]
    struct Zero;
    impl std::hash::BuildHasher for Zero {
        type Hasher = ZeroHasher;
        fn build_hasher(&self) -> ZeroHasher {
            ZeroHasher(0)
        }
    }
    struct ZeroHasher(u64);
    impl std::hash::Hasher for ZeroHasher {
        fn finish(&self) -> u64 {
            // Keep the tophash varied, the bucket index 0.
            self.0 << 56
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(b));
            }
        }
    }
    let mut map = GoMap::with_capacity_and_hasher(size(200, 40), Zero);
    let b = map.stats().b;
    for i in 0..size(200, 40) as u64 {
        map.insert(i, i);
    }
    let stats = map.stats();
    assert_eq!(stats.b, b, "sized for the keys: no doubling");
    let chain = (stats.len as u64).div_ceil(8) - 1;
    assert!(stats.growth.overflow_allocated >= chain, "{:?}", stats.growth);
    let pool = if b >= 4 { 1u64 << (b - 4) } else { 0 };
    assert!(stats.growth.overflow_allocated_separately >= stats.growth.overflow_allocated.saturating_sub(pool));
    assert!(stats.growth.overflow_allocated_separately > 0);
    map.check_invariants();
}

#[cfg(feature = "tracing")]
mod events {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use gomap::GoMap;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::{insert_watched, remove_watched, size, Watcher};

    #[derive(Debug, Clone, PartialEq)]
    enum Value {
        U64(u64),
        Bool(bool),
        Str(String),
    }

    #[derive(Debug, Clone)]
    struct Seen {
        name: &'static str,
        level: Level,
        target: String,
        fields: BTreeMap<&'static str, Value>,
    }

    impl Seen {
        fn u64(&self, field: &str) -> u64 {
            match self.fields.get(field) {
                Some(Value::U64(v)) => *v,
                other => panic!("{}: field {field} is {other:?}", self.name),
            }
        }

        fn str(&self, field: &str) -> &str {
            match self.fields.get(field) {
                Some(Value::Str(v)) => v,
                other => panic!("{}: field {field} is {other:?}", self.name),
            }
        }
    }

    impl Visit for Seen {
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.fields.insert(field.name(), Value::U64(value));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.fields.insert(field.name(), Value::U64(value as u64));
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.fields.insert(field.name(), Value::Bool(value));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.fields.insert(field.name(), Value::Str(value.to_string()));
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.fields.insert(field.name(), Value::Str(format!("{value:?}")));
        }
    }

    /// A minimal subscriber that keeps every event up to `max_level`.
    struct Collector {
        max_level: Level,
        events: Mutex<Vec<Seen>>,
    }

    impl Collector {
        fn new(max_level: Level) -> Arc<Self> {
            Arc::new(Collector { max_level, events: Mutex::new(Vec::new()) })
        }

        fn named(&self, name: &str) -> Vec<Seen> {
            self.events.lock().unwrap().iter().filter(|e| e.name == name).cloned().collect()
        }
    }

    impl Subscriber for Collector {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            *metadata.level() <= self.max_level
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let meta = event.metadata();
            let mut seen = Seen {
                name: meta.name(),
                level: *meta.level(),
                target: meta.target().to_string(),
                fields: BTreeMap::new(),
            };
            event.record(&mut seen);
            self.events.lock().unwrap().push(seen);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    #[test]
    fn events_agree_with_the_counters_and_the_stats() {
        let collector = Collector::new(Level::DEBUG);
        let n = size(12_000, 900) as u64;
        let (map, watcher) = tracing::subscriber::with_default(collector.clone(), || {
            let mut map = GoMap::new();
            let mut watcher = Watcher::default();
            for i in 0..n {
                insert_watched(&mut map, &mut watcher, i);
            }
            // Some removes during a growth, then an explicit finish.
            for i in 0..n / 4 {
                remove_watched(&mut map, &mut watcher, i * 3);
            }
            map.finish_growth();
            (map, watcher)
        });
        let counters = map.stats().growth;
        let all = collector.events.lock().unwrap().clone();
        assert!(all.iter().all(|e| e.target == "gomap"));

        let started = collector.named("growth_started");
        let finished = collector.named("growth_finished");
        assert_eq!(started.len() as u64, counters.growths_started());
        assert_eq!(finished.len() as u64, counters.growths_finished());
        assert_eq!(started.len(), watcher.growths.len());
        let map_id = started[0].u64("map");
        for (k, ((start, finish), seen)) in started.iter().zip(&finished).zip(&watcher.growths).enumerate() {
            assert_eq!(start.level, Level::INFO);
            assert_eq!(start.u64("map"), map_id);
            assert_eq!(finish.u64("map"), map_id);
            assert_eq!(start.u64("growth"), k as u64 + 1);
            assert_eq!(finish.u64("growth"), k as u64 + 1);
            assert_eq!(start.str("kind"), if seen.same_size { "same_size" } else { "doubling" });
            assert_eq!(start.str("trigger"), "load");
            assert_eq!((start.u64("old_b"), start.u64("new_b")), (u64::from(seen.old_b), u64::from(seen.new_b)));
            assert_eq!(start.u64("len"), seen.len_at_start as u64);
            assert!(start.u64("bytes") > 0);
            assert_eq!(finish.u64("buckets"), 1 << seen.old_b, "a finished growth evacuates its old array");
            assert_eq!(finish.u64("by_writes") + finish.u64("explicit"), finish.u64("buckets"));
            assert!(finish.fields.contains_key("elapsed_ns"));
            if seen.finished {
                // Finished by a write: the writes seen from outside.
                assert_eq!(finish.u64("writes"), seen.writes, "growth {}", k + 1);
                assert_eq!(finish.u64("explicit"), 0);
            } else {
                // Finished by finish_growth after the writes seen so far.
                assert_eq!(finish.u64("writes"), seen.writes);
                assert!(finish.u64("explicit") > 0);
            }
        }
        let moved: u64 = finished.iter().map(|e| e.u64("entries_moved")).sum();
        assert_eq!(moved, counters.entries_moved);

        let buckets = collector.named("bucket_evacuated");
        assert_eq!(buckets.len() as u64, counters.buckets_evacuated);
        assert!(buckets.iter().all(|e| e.level == Level::DEBUG));
        assert_eq!(buckets.iter().map(|e| e.u64("entries")).sum::<u64>(), counters.entries_moved);
        let by_write = buckets.iter().filter(|e| e.str("by") == "write").count() as u64;
        assert_eq!(by_write, counters.evacuated_by_writes);
        assert_eq!(buckets.len() as u64 - by_write, counters.evacuated_explicitly);

        let overflow = collector.named("overflow_allocated");
        assert_eq!(overflow.len() as u64, counters.overflow_allocated);
        let separately = overflow.iter().filter(|e| e.fields.get("separately") == Some(&Value::Bool(true))).count();
        assert_eq!(separately as u64, counters.overflow_allocated_separately);
    }

    #[test]
    fn info_subscribers_see_no_debug_events_and_maps_are_told_apart() {
        let collector = Collector::new(Level::INFO);
        tracing::subscriber::with_default(collector.clone(), || {
            let mut a = GoMap::new();
            let mut b = GoMap::new();
            // The 1665th insert starts a growth from 256 buckets (the 209th one from 32).
            for i in 0..size(1_700, 210) as u64 {
                a.insert(i, ());
                b.insert(i, ());
            }
            assert!(a.stats().growing);
            a.clear();
            b.finish_growth();
        });
        let events = collector.events.lock().unwrap().clone();
        assert!(events.iter().all(|e| e.level == Level::INFO), "only INFO events reach an INFO subscriber");
        let maps: std::collections::BTreeSet<u64> = events.iter().map(|e| e.u64("map")).collect();
        assert_eq!(maps.len(), 2, "two maps, two numbers");
        let abandoned = collector.named("growth_abandoned");
        assert_eq!(abandoned.len(), 1, "clearing `a` mid-growth abandons it");
        assert_eq!(abandoned[0].str("reason"), "clear");
        assert!(abandoned[0].u64("evacuated") < abandoned[0].u64("old_buckets"));
    }

    /// Whether a growth reports its buckets is decided when it starts: a DEBUG subscriber
    /// installed mid-growth sees that growth finish but none of its buckets, and every
    /// bucket of the next growth.
    #[test]
    fn bucket_events_are_decided_when_a_growth_starts() {
        let mut map = GoMap::new();
        let mut i = 0u64;
        while map.stats().b < 5 || !map.stats().growing {
            map.insert(i, ());
            i += 1;
        }
        let first = map.stats();
        let collector = Collector::new(Level::DEBUG);
        let counters = tracing::subscriber::with_default(collector.clone(), || {
            map.finish_growth();
            // One more growth, from start to finish, under the subscriber.
            while map.stats().growth.doublings_started == first.growth.doublings_started {
                map.insert(i, ());
                i += 1;
            }
            map.finish_growth();
            map.stats().growth
        });
        let finished = collector.named("growth_finished");
        assert_eq!(finished.len(), 2, "both growths report their end");
        let buckets = collector.named("bucket_evacuated");
        let growths: std::collections::BTreeSet<u64> = buckets.iter().map(|e| e.u64("growth")).collect();
        assert_eq!(growths, [counters.growths_started()].into(), "only the growth that started under the subscriber");
        assert_eq!(buckets.len(), 1 << (map.stats().b - 1), "every old bucket of that growth, once");
    }

    #[test]
    fn same_size_growths_are_reported_with_their_trigger() {
        let collector = Collector::new(Level::INFO);
        let live = size(800, 100) as u64;
        let counters = tracing::subscriber::with_default(collector.clone(), || {
            let mut map = GoMap::with_capacity(live as usize);
            for i in 0..live {
                map.insert(super::churn_key(i), ());
            }
            let mut i = 0;
            while map.stats().growth.same_size_started < 2 && i < 1_000_000 {
                map.remove(&super::churn_key(i));
                map.insert(super::churn_key(live + i), ());
                i += 1;
            }
            map.stats().growth
        });
        let started = collector.named("growth_started");
        assert_eq!(started.len() as u64, counters.same_size_started);
        assert!(counters.same_size_started >= 2);
        for e in &started {
            assert_eq!((e.str("kind"), e.str("trigger")), ("same_size", "overflow"));
            assert_eq!(e.u64("old_b"), e.u64("new_b"));
            assert!(e.u64("noverflow") >= 1 << e.u64("old_b").min(15), "the trigger: noverflow >= 2^min(B, 15)");
        }
    }
}

#[cfg(feature = "metrics")]
mod metrics_facade {
    use std::collections::BTreeMap;

    use gomap::GoMap;
    use metrics_exporter_prometheus::PrometheusBuilder;

    /// Parses Prometheus text: `name{labels} value` lines into a map keyed by `name{labels}`.
    fn parse(text: &str) -> BTreeMap<String, f64> {
        text.lines()
            .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
            .map(|line| {
                let (key, value) = line.rsplit_once(' ').expect("name value");
                (key.to_string(), value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")))
            })
            .collect()
    }

    #[test]
    #[cfg_attr(miri, ignore = "the Prometheus recorder reads its clock with inline assembly, which Miri does not run")]
    fn published_metrics_match_the_stats() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let mut map = GoMap::new();
        for i in 0..1665u64 {
            map.insert(i, i);
        }
        let stats = map.stats();
        metrics::with_local_recorder(&recorder, || {
            gomap::describe_metrics();
            map.publish_metrics("users");
            GoMap::<u8, u8>::new().publish_metrics("empty");
        });
        let text = handle.render();
        let values = parse(&text);
        let get = |key: &str| *values.get(key).unwrap_or_else(|| panic!("{key} missing in\n{text}"));
        assert_eq!(get(r#"gomap_len{map="users"}"#), stats.len as f64);
        assert_eq!(get(r#"gomap_b{map="users"}"#), f64::from(stats.b));
        assert_eq!(get(r#"gomap_buckets{map="users"}"#), stats.buckets as f64);
        assert_eq!(get(r#"gomap_bytes{map="users"}"#), stats.bytes as f64);
        assert_eq!(get(r#"gomap_load_factor{map="users"}"#), stats.load_factor);
        assert_eq!(get(r#"gomap_growing{map="users"}"#), 1.0);
        assert_eq!(get(r#"gomap_old_buckets{map="users"}"#), 256.0);
        assert_eq!(get(r#"gomap_growths_started_total{map="users",kind="doubling"}"#), 9.0);
        assert_eq!(get(r#"gomap_growths_finished_total{map="users",kind="doubling"}"#), 8.0);
        assert_eq!(get(r#"gomap_growths_started_total{map="users",kind="same_size"}"#), 0.0);
        assert_eq!(
            get(r#"gomap_buckets_evacuated_total{map="users",by="write"}"#),
            stats.growth.evacuated_by_writes as f64
        );
        assert_eq!(get(r#"gomap_entries_moved_total{map="users"}"#), stats.growth.entries_moved as f64);
        assert_eq!(get(r#"gomap_len{map="empty"}"#), 0.0);
        assert!(text.contains("# HELP gomap_load_factor"), "described:\n{text}");

        // Publishing again after more work moves the counters to the new totals.
        map.finish_growth();
        metrics::with_local_recorder(&recorder, || map.publish_metrics("users"));
        let values = parse(&handle.render());
        assert_eq!(values[r#"gomap_growths_finished_total{map="users",kind="doubling"}"#], 9.0);
        assert_eq!(values[r#"gomap_growing{map="users"}"#], 0.0);
        assert_eq!(
            values[r#"gomap_buckets_evacuated_total{map="users",by="explicit"}"#],
            map.stats().growth.evacuated_explicitly as f64
        );
    }
}

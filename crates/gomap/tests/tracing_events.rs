//! gomap's `tracing` events (feature `tracing`), collected by a test subscriber and checked
//! against the growth counters and against growths recognised from the stats.
#![cfg(feature = "tracing")]

mod common;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, Once};

use common::watcher::{churn_key, insert_watched, remove_watched, Watcher};
use common::{scale, DropLog, FnBuild};
use gomap::GoMap;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

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

/// Keeps every event up to `max_level` that gomap emits on the thread running [`collect`].
struct Collector {
    max_level: Level,
    events: Mutex<Vec<Seen>>,
    /// The events the collector panics on, after keeping them (a subscriber is user code,
    /// and user code may panic).
    panic_on: Mutex<Vec<&'static str>>,
}

impl Collector {
    /// A collector for one test. Create it before the test touches a map: that installs
    /// the [`Router`] first (see there).
    fn new(max_level: Level) -> Arc<Self> {
        static ROUTER: Once = Once::new();
        ROUTER.call_once(|| tracing::subscriber::set_global_default(Router).expect("no other global subscriber"));
        Arc::new(Collector { max_level, events: Mutex::new(Vec::new()), panic_on: Mutex::new(Vec::new()) })
    }

    fn named(&self, name: &str) -> Vec<Seen> {
        self.events.lock().unwrap().iter().filter(|e| e.name == name).cloned().collect()
    }

    fn event(&self, event: &Event<'_>) {
        let meta = event.metadata();
        let mut seen = Seen {
            name: meta.name(),
            level: *meta.level(),
            target: meta.target().to_string(),
            fields: BTreeMap::new(),
        };
        event.record(&mut seen);
        let name = seen.name;
        self.events.lock().unwrap().push(seen);
        if self.panic_on.lock().unwrap().contains(&name) {
            panic!("the test subscriber panics on {name}");
        }
    }
}

thread_local! {
    /// The collector of the test running on this thread, if it is collecting.
    static COLLECTING: RefCell<Option<Arc<Collector>>> = const { RefCell::new(None) };
}

/// Runs `f` with `collector` collecting the events of this thread.
fn collect<R>(collector: &Arc<Collector>, f: impl FnOnce() -> R) -> R {
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            COLLECTING.with(|c| c.borrow_mut().take());
        }
    }
    COLLECTING.with(|c| *c.borrow_mut() = Some(collector.clone()));
    let _stop = Stop;
    f()
}

/// The one subscriber of this test binary, global, handing each event to the collector of
/// the thread that emits it.
///
/// Not a scoped subscriber per test (`tracing::subscriber::with_default`): `tracing`
/// caches at each callsite whether any subscriber could want its events, and that cache
/// is computed from the subscribers registered at the moment. With tests registering and
/// dropping subscribers on parallel threads, a callsite first reached on one thread could
/// cache "never" while another thread's subscriber wanted it (this failed CI once: a DEBUG
/// subscriber that received no DEBUG events). One global subscriber that answers
/// "sometimes" for every callsite leaves each decision to `enabled`, per event.
struct Router;

impl Subscriber for Router {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        COLLECTING.with(|c| c.borrow().as_ref().is_some_and(|c| *metadata.level() <= c.max_level))
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        COLLECTING.with(|c| {
            if let Some(collector) = &*c.borrow() {
                collector.event(event);
            }
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn events_agree_with_the_counters_and_the_stats() {
    let collector = Collector::new(Level::DEBUG);
    let n = scale(12_000, 900) as u64;
    let (map, watcher) = collect(&collector, || {
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
    collect(&collector, || {
        let mut a = GoMap::new();
        let mut b = GoMap::new();
        // The 1665th insert starts a growth from 256 buckets (the 209th one from 32).
        for i in 0..scale(1_700, 210) as u64 {
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
    let collector = Collector::new(Level::DEBUG);
    let mut map = GoMap::new();
    let mut i = 0u64;
    while map.stats().b < 5 || !map.stats().growing {
        map.insert(i, ());
        i += 1;
    }
    let first = map.stats();
    let counters = collect(&collector, || {
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
    let live = scale(800, 100) as u64;
    let counters = collect(&collector, || {
        let mut map = GoMap::with_capacity(live as usize);
        for i in 0..live {
            map.insert(churn_key(i), ());
        }
        let mut i = 0;
        while map.stats().growth.same_size_started < 2 && i < 1_000_000 {
            map.remove(&churn_key(i));
            map.insert(churn_key(live + i), ());
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

/// A value that records its drop.
struct Tracked {
    id: usize,
    log: Arc<DropLog>,
}

impl Tracked {
    fn new(log: &Arc<DropLog>) -> Tracked {
        Tracked { id: log.new_id(), log: log.clone() }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.log.dropped(self.id);
    }
}

/// Four chains in an array of four buckets: the hash of key `k` is `(seed ^ k)` mixed
/// (`FnBuild` hashes the map's seed first), and its low two bits, `(seed ^ k) & 3`, pick
/// the bucket, so keys equal modulo 4 share a chain whatever the seed; the tophash varies.
fn four_chains(h: u64) -> u64 {
    (h & 3) | h.wrapping_mul(0x9E37_79B9_7F4A_7C15) << 40
}

/// A four-bucket map (B = 2) with chains of 9, 9 and 8 entries (keys 0, 1 and 2 modulo 4),
/// then a key of the empty fourth chain, which starts a doubling: that write moves its own
/// (empty) chain and the one at the mark, bucket 0, so at least one 9-entry chain is left,
/// and moving it into one new bucket needs an overflow bucket. Then runs `act` with a
/// subscriber that panics in `overflow_allocated`: the panic stays inside gomap, and the
/// map stays sound and whole (every key still found, the invariants holding, every value
/// dropped exactly once).
fn subscriber_panics_during(act: impl FnOnce(&mut GoMap<u64, Tracked, FnBuild>)) {
    let collector = Collector::new(Level::DEBUG);
    let log = Arc::new(DropLog::default());
    let mut map = GoMap::with_capacity_and_hasher(26, FnBuild(four_chains));
    assert_eq!(map.stats().b, 2);
    // Not collecting yet: no event, no panic.
    let keys: Vec<u64> =
        (0..9).map(|i| 4 * i).chain((0..9).map(|i| 4 * i + 1)).chain((0..8).map(|i| 4 * i + 2)).collect();
    for &k in &keys {
        map.insert(k, Tracked::new(&log));
    }
    assert!(!map.stats().growing);
    map.insert(3, Tracked::new(&log));
    assert!(map.stats().growing);
    collector.panic_on.lock().unwrap().push("overflow_allocated");
    let outcome = collect(&collector, || catch_unwind(AssertUnwindSafe(|| act(&mut map))));
    assert!(outcome.is_ok(), "a subscriber's panic is contained at the event");
    assert!(!collector.named("overflow_allocated").is_empty(), "the subscriber did panic");

    map.check_invariants();
    assert_eq!(map.len(), keys.len() + 1);
    for k in keys.iter().chain([&3]) {
        assert!(map.get(k).is_some(), "key {k} lost");
    }
    log.assert_no_double_drop();
    assert_eq!(log.alive(), keys.len() + 1);
    map.finish_growth();
    map.check_invariants();
    drop(map);
    log.assert_all_dropped_once();
}

/// Incremental evacuation attaches overflow buckets while the entries it has copied are
/// still in their old slots too.
#[test]
fn a_subscriber_panicking_during_an_evacuation_leaves_the_map_whole() {
    subscriber_panics_during(|map| map.finish_growth());
}

/// The same for `reserve`, which moves every entry into a new array at once.
#[test]
fn a_subscriber_panicking_during_a_bulk_resize_leaves_the_map_whole() {
    subscriber_panics_during(|map| map.reserve(1_000));
}

/// A subscriber that panics on every event, through every kind of growth work: inserts that
/// start growths and move chains, removes, `finish_growth`, `reserve`, `clear` and drop
/// during a growth. Every event kind is seen (so every panic happened), the map stays whole
/// after each step, and every value is dropped exactly once.
#[test]
fn a_subscriber_panicking_on_every_event_cannot_break_a_map() {
    let collector = Collector::new(Level::DEBUG);
    *collector.panic_on.lock().unwrap() =
        vec!["growth_started", "bucket_evacuated", "growth_finished", "growth_abandoned", "overflow_allocated"];
    let log = Arc::new(DropLog::default());
    let tracked = || Tracked::new(&log);
    let n = scale(300, 60) as u64;
    collect(&collector, || {
        let mut map = GoMap::with_capacity_and_hasher(26, FnBuild(four_chains));
        let fill_until_growing = |map: &mut GoMap<u64, Tracked, FnBuild>, from: u64| {
            let mut k = from;
            while !map.stats().growing {
                map.insert(k, tracked());
                k += 1;
            }
            k
        };
        for k in 0..n {
            map.insert(k, tracked());
        }
        for k in (0..n).step_by(3) {
            assert!(map.remove(&k).is_some());
        }
        map.finish_growth();
        map.check_invariants();
        assert!((0..n).all(|k| map.contains_key(&k) == (k % 3 != 0)));

        let end = fill_until_growing(&mut map, n);
        map.reserve(end as usize);
        map.check_invariants();
        assert!((0..end).all(|k| map.contains_key(&k) == (k >= n || k % 3 != 0)));

        map.finish_growth();
        fill_until_growing(&mut map, end);
        map.clear();
        map.check_invariants();
        assert!(map.is_empty());

        fill_until_growing(&mut map, 0);
        drop(map);
    });
    for name in ["growth_started", "bucket_evacuated", "growth_finished", "growth_abandoned", "overflow_allocated"] {
        assert!(!collector.named(name).is_empty(), "no {name} event");
    }
    log.assert_all_dropped_once();
}

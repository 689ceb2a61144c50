//! The growth counters (`MapStats::growth`) and the `metrics` publication, checked against
//! an independent count: growths recognised from the `B`, `growing` and `overflow_buckets`
//! fields after every write (`common::watcher`). The `tracing` events have their own test
//! binary, `tracing_events.rs`, which installs a global subscriber.

mod common;

use common::scale;
use common::watcher::{churn_key, insert_watched, remove_watched, Watcher};
use gomap::{GoMap, GrowthCounters};

#[test]
fn counters_agree_with_b_changes_while_filling() {
    let n = scale(20_000, 1_700) as u64;
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
    let live = scale(800, 100) as u64;
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
    let mut map = GoMap::with_capacity_and_hasher(scale(200, 40), Zero);
    let b = map.stats().b;
    for i in 0..scale(200, 40) as u64 {
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

/// After a doubling finishes, what is left of the old array, and the slabs of its lone
/// overflow buckets, go back a piece per write: `stats().bytes` falls write by write, never
/// rises, and settles (within 64 writes here) once the old array is gone; the entries are
/// untouched throughout.
#[test]
fn old_array_is_given_back_piece_by_piece() {
    // Natively, fill until the doubling from 2^14 buckets (2.4 MB: mapped) to 2^15 ends.
    let b = if cfg!(miri) { 6 } else { 15 };
    let mut map = GoMap::new();
    let mut n = 0u64;
    loop {
        map.insert(n, n);
        n += 1;
        let stats = map.stats();
        if stats.b == b && !stats.growing {
            break;
        }
    }
    // Rewriting present keys: writes that release, but allocate nothing.
    let mut bytes = map.stats().bytes;
    let mut falls = 0;
    for i in 0..64 {
        map.insert(i, i + 1);
        let now = map.stats().bytes;
        assert!(now <= bytes, "bytes rose from {bytes} to {now} on a rewrite");
        falls += usize::from(now < bytes);
        bytes = now;
    }
    // Natively: what the evacuation mark had not yet given back of the 2.4 MB (the
    // unfinished 256 KiB pieces of each region, the overflow pool), 512 KiB per write, then
    // the slabs of its lone overflow buckets, one per write. Under Miri the array is a heap
    // allocation and goes whole at the first write, then its slabs.
    assert!(falls >= 1, "nothing given back after the growth");
    // Settled: more writes change nothing.
    map.insert(0, 0);
    assert_eq!(map.stats().bytes, bytes);
    assert_eq!(map.len(), n as usize);
    assert!((0..n).all(|i| map.get(&i).is_some()));
    map.check_invariants();
}

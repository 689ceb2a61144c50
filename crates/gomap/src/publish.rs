//! The `metrics` feature: a map's [`MapStats`] as gauges and counters of the
//! [`metrics`](https://docs.rs/metrics) facade.

use metrics::{counter, describe_counter, describe_gauge, gauge, SharedString, Unit};

use crate::{GoMap, MapStats};

/// Gauges: the map's shape now. Name, unit, description.
const GAUGES: [(&str, Unit, &str); 10] = [
    ("gomap_len", Unit::Count, "Live entries"),
    ("gomap_b", Unit::Count, "log2 of the number of buckets (Go's B)"),
    ("gomap_buckets", Unit::Count, "Buckets in the current array (2^B)"),
    ("gomap_overflow_buckets", Unit::Count, "Go's noverflow: overflow buckets since the last growth started"),
    ("gomap_tombstones", Unit::Count, "Deleted slots not yet reclaimed"),
    ("gomap_load_factor", Unit::Count, "Entries per bucket; a doubling starts above 6.5"),
    ("gomap_bytes", Unit::Bytes, "Heap bytes held by the table"),
    ("gomap_growing", Unit::Count, "1 while a growth is in progress, else 0"),
    ("gomap_old_buckets", Unit::Count, "Buckets of the old array while growing, else 0"),
    ("gomap_evacuated", Unit::Count, "The evacuation mark (Go's nevacuate) while growing, else 0"),
];

/// Counters: running totals since the map was created. Name, description.
const COUNTERS: [(&str, &str); 8] = [
    ("gomap_growths_started_total", "Growths started, by kind (doubling, same_size)"),
    ("gomap_growths_finished_total", "Growths whose evacuation completed, by kind"),
    ("gomap_growths_abandoned_total", "Growths ended unfinished by clear, drain, reserve or shrink_to"),
    ("gomap_buckets_evacuated_total", "Old buckets evacuated, by what drove it (write, explicit)"),
    ("gomap_entries_moved_total", "Entries moved by incremental evacuation"),
    ("gomap_growth_writes_total", "Writes that did growth work"),
    ("gomap_overflow_allocated_total", "Overflow buckets attached, by source (pool, separate)"),
    ("gomap_bulk_resizes_total", "Times reserve or shrink_to moved every entry at once"),
];

/// Registers a description and unit for every metric [`MapStats::publish_metrics`] sets,
/// so that exporters can show them (Prometheus: `# HELP` lines). Call once, after
/// installing the recorder; optional.
///
/// ```
/// use metrics_exporter_prometheus::PrometheusBuilder;
///
/// let recorder = PrometheusBuilder::new().build_recorder();
/// let handle = recorder.handle();
/// metrics::with_local_recorder(&recorder, || {
///     gomap::describe_metrics();
///     let users: gomap::GoMap<u64, u64> = (0..100).map(|i| (i, i)).collect();
///     users.publish_metrics("users");
/// });
/// let text = handle.render();
/// assert!(text.contains("# HELP gomap_len"));
/// assert!(text.contains("gomap_len{map=\"users\"} 100"));
/// ```
pub fn describe_metrics() {
    for (name, unit, help) in GAUGES {
        describe_gauge!(name, unit, help);
    }
    for (name, help) in COUNTERS {
        describe_counter!(name, Unit::Count, help);
    }
}

impl MapStats {
    /// Sets every gauge and counter of this snapshot in the installed `metrics` recorder,
    /// labelled `map = name` (so several maps can be published side by side).
    ///
    /// Gauges (the shape now): `gomap_len`, `gomap_b`, `gomap_buckets`,
    /// `gomap_overflow_buckets`, `gomap_tombstones`, `gomap_load_factor`, `gomap_bytes`,
    /// `gomap_growing`, `gomap_old_buckets`, `gomap_evacuated`.
    ///
    /// Counters (the [`GrowthCounters`](crate::GrowthCounters), set to their absolute
    /// values): `gomap_growths_started_total{kind}`, `gomap_growths_finished_total{kind}`
    /// (`kind` is `doubling` or `same_size`), `gomap_growths_abandoned_total`,
    /// `gomap_buckets_evacuated_total{by}` (`by` is `write` or `explicit`),
    /// `gomap_entries_moved_total`, `gomap_growth_writes_total`,
    /// `gomap_overflow_allocated_total{source}` (`source` is `pool` or `separate`),
    /// `gomap_bulk_resizes_total`.
    ///
    /// Publishing is a snapshot, O(number of metrics) plus the recorder's cost: call it
    /// periodically (say once a second, from the thread that owns the map), not on every
    /// operation. Without a recorder installed it does nothing.
    ///
    /// ```
    /// let mut sessions = gomap::GoMap::new();
    /// sessions.insert(1u64, "alice");
    /// sessions.stats().publish_metrics("sessions");
    /// ```
    pub fn publish_metrics(&self, name: &str) {
        let map: SharedString = name.to_owned().into();
        let labels = [("map", map.clone())];
        let set = |metric: &'static str, value: f64| gauge!(metric, &labels).set(value);
        set("gomap_len", self.len as f64);
        set("gomap_b", f64::from(self.b));
        set("gomap_buckets", self.buckets as f64);
        set("gomap_overflow_buckets", self.overflow_buckets as f64);
        set("gomap_tombstones", self.tombstones as f64);
        set("gomap_load_factor", self.load_factor);
        set("gomap_bytes", self.bytes as f64);
        set("gomap_growing", f64::from(u8::from(self.growing)));
        set("gomap_old_buckets", self.old_buckets as f64);
        set("gomap_evacuated", self.evacuated as f64);

        let g = &self.growth;
        let total = |metric: &'static str, extra: Option<(&'static str, &'static str)>, value: u64| {
            let mut labels = vec![("map", map.clone())];
            labels.extend(extra.map(|(k, v)| (k, SharedString::from(v))));
            counter!(metric, &labels).absolute(value);
        };
        total("gomap_growths_started_total", Some(("kind", "doubling")), g.doublings_started);
        total("gomap_growths_started_total", Some(("kind", "same_size")), g.same_size_started);
        total("gomap_growths_finished_total", Some(("kind", "doubling")), g.doublings_finished);
        total("gomap_growths_finished_total", Some(("kind", "same_size")), g.same_size_finished);
        total("gomap_growths_abandoned_total", None, g.growths_abandoned);
        total("gomap_buckets_evacuated_total", Some(("by", "write")), g.evacuated_by_writes);
        total("gomap_buckets_evacuated_total", Some(("by", "explicit")), g.evacuated_explicitly);
        total("gomap_entries_moved_total", None, g.entries_moved);
        total("gomap_growth_writes_total", None, g.growth_writes);
        let pool = g.overflow_allocated - g.overflow_allocated_separately;
        total("gomap_overflow_allocated_total", Some(("source", "pool")), pool);
        total("gomap_overflow_allocated_total", Some(("source", "separate")), g.overflow_allocated_separately);
        total("gomap_bulk_resizes_total", None, g.bulk_resizes);
    }
}

impl<K, V, S> GoMap<K, V, S> {
    /// Publishes [`stats()`](GoMap::stats) through the `metrics` facade, labelled
    /// `map = name`: see [`MapStats::publish_metrics`] for the metrics. O(1) in the map's
    /// size; call it periodically.
    ///
    /// ```
    /// let map: gomap::GoMap<u64, u64> = (0..1000).map(|i| (i, i)).collect();
    /// map.publish_metrics("users");
    /// ```
    pub fn publish_metrics(&self, name: &str) {
        self.stats().publish_metrics(name);
    }
}

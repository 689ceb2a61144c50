//! Observability: every growth counter and every `tracing` event of the raw table.
//!
//! The growth code calls the `note_*` methods below at the few points where growth state
//! changes (a growth starts, a write does growth work, an old chain is evacuated, the mark
//! passes the end, a growth is abandoned, an overflow bucket is attached). Each bumps plain
//! integer counters ([`GrowthCounters`], reported by `stats()`) and, with the `tracing`
//! feature, emits an event with target `gomap`:
//!
//! | event name | level | fields |
//! |---|---|---|
//! | `growth_started` | INFO | `map`, `growth`, `kind`, `trigger`, `old_b`, `new_b`, `len`, `noverflow`, `bytes` |
//! | `bucket_evacuated` | DEBUG | `map`, `growth`, `bucket`, `entries`, `by` |
//! | `growth_finished` | INFO | `map`, `growth`, `kind`, `old_b`, `new_b`, `len`, `writes`, `buckets`, `by_writes`, `explicit`, `entries_moved`, `elapsed_ns` |
//! | `growth_abandoned` | INFO | `map`, `growth`, `kind`, `reason` (`clear`, `reserve`, `shrink`, `drop`), `evacuated`, `old_buckets` |
//! | `overflow_allocated` | DEBUG | `map`, `b`, `separately` |
//!
//! `map` is a process-unique number given to a table the first time it emits an event;
//! `growth` numbers the table's growths from 1 (so `(map, growth)` names one growth).
//! Without the feature the event code is compiled out and a table carries no per-growth
//! clock. Nothing here runs on a lookup or on a write while no growth is in progress.
//!
//! Whether `bucket_evacuated` events are wanted is asked once per growth, when it starts,
//! and kept in the observer: evacuation is the one hot path with an event, and a byte
//! test there costs less than asking `tracing` for every bucket. So a subscriber installed
//! in the middle of a growth gets the per-bucket events from the next growth on (every
//! other event is decided when it happens).
//!
//! Events are sent at points where the table may be between two consistent states, so a
//! panic inside a subscriber is contained at the event (see `events::send`): the map
//! stays sound and whole, and that event is lost.

use super::grow::BulkResize;
use super::table::RawTable;
use crate::GrowthCounters;

/// What made an old chain move: the work every write does during a growth (Go's
/// `growWork`), or an explicit request (`finish_growth`, `evacuate_step`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Driver {
    Write,
    Explicit,
}

/// The counters, and with the `tracing` feature the state the events need (out of line,
/// allocated at the first growth or overflow bucket, so that the table stays small).
#[derive(Default)]
pub(crate) struct Observer {
    pub(super) counters: GrowthCounters,
    #[cfg(feature = "tracing")]
    trace: Option<Box<events::TraceState>>,
    /// Whether the growth in progress emits `bucket_evacuated` events (see the module
    /// documentation).
    #[cfg(feature = "tracing")]
    bucket_events: bool,
}

impl Observer {
    /// An overflow bucket was linked to a chain of an array of `2^b` buckets (Go's
    /// `newoverflow`); `separately`: a lone bucket, beyond the pool.
    #[inline]
    pub(super) fn note_overflow(&mut self, b: u8, separately: bool) {
        self.counters.overflow_allocated += 1;
        self.counters.overflow_allocated_separately += u64::from(separately);
        #[cfg(feature = "tracing")]
        events::overflow_allocated(&mut self.trace, b, separately);
        #[cfg(not(feature = "tracing"))]
        let _ = b;
    }
}

impl<K, V> RawTable<K, V> {
    /// The growth counters, for `stats()`.
    pub(super) fn growth_counters(&self) -> GrowthCounters {
        let mut counters = self.observer.counters;
        // Kept as its two parts only: one increment less per evacuated bucket.
        counters.buckets_evacuated = counters.evacuated_by_writes + counters.evacuated_explicitly;
        counters
    }

    /// `hash_grow` made the new array current (`b`, `same_size_grow` are the new growth's;
    /// `noverflow` is still the count that may have triggered it).
    pub(super) fn note_growth_started(&mut self) {
        let counters = &mut self.observer.counters;
        if self.same_size_grow {
            counters.same_size_started += 1;
        } else {
            counters.doublings_started += 1;
        }
        #[cfg(feature = "tracing")]
        events::growth_started(self);
    }

    /// A write is doing growth work (Go's `growWork`).
    #[inline]
    pub(super) fn note_growth_write(&mut self) {
        self.observer.counters.growth_writes += 1;
    }

    /// Old chain `oi` and its `entries` moved to the new array.
    #[inline]
    pub(super) fn note_chain_evacuated(&mut self, oi: usize, entries: usize, by: Driver) {
        let counters = &mut self.observer.counters;
        counters.entries_moved += entries as u64;
        match by {
            Driver::Write => counters.evacuated_by_writes += 1,
            Driver::Explicit => counters.evacuated_explicitly += 1,
        }
        #[cfg(feature = "tracing")]
        if self.observer.bucket_events {
            events::bucket_evacuated(self, oi, entries, by);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = oi;
    }

    /// The mark passed the end: call while the growth's state (`b`, `same_size_grow`) is
    /// still set.
    pub(super) fn note_growth_finished(&mut self) {
        let counters = &mut self.observer.counters;
        if self.same_size_grow {
            counters.same_size_finished += 1;
        } else {
            counters.doublings_finished += 1;
        }
        #[cfg(feature = "tracing")]
        events::growth_finished(self);
    }

    /// The growth in progress, if any, ends unfinished (`clear`, `drain`, a bulk resize, or
    /// the map is dropped): call before its state is reset.
    pub(super) fn note_growth_abandoned(&mut self, reason: &'static str) {
        if !self.is_growing() {
            return;
        }
        self.observer.counters.growths_abandoned += 1;
        #[cfg(feature = "tracing")]
        events::growth_abandoned(self, reason);
        #[cfg(not(feature = "tracing"))]
        let _ = reason;
    }

    /// `resize` is about to move every entry into a fresh table: counts it, and abandons a
    /// growth in progress.
    pub(super) fn note_bulk_resize(&mut self, why: BulkResize) {
        self.note_growth_abandoned(match why {
            BulkResize::Reserve => "reserve",
            BulkResize::Shrink => "shrink",
        });
        self.observer.counters.bulk_resizes += 1;
    }

    /// Checks the counters against each other and against the table (for
    /// `check_invariants`).
    pub(super) fn check_counters(&self) {
        let c = self.growth_counters();
        let growing = u64::from(self.is_growing());
        assert_eq!(
            c.growths_started(),
            c.growths_finished() + c.growths_abandoned + growing,
            "counters: growths started != finished + abandoned + in progress ({c:?})"
        );
        assert!(c.buckets_evacuated <= c.growth_writes * 2 + c.evacuated_explicitly, "counters: {c:?}");
        assert!(c.overflow_allocated >= c.overflow_allocated_separately, "counters: {c:?}");
        if self.b < 16 {
            assert!(c.overflow_allocated >= u64::from(self.overflow.noverflow), "counters: {c:?}");
        }
    }
}

/// The `tracing` events. Only this module names the `tracing` crate.
#[cfg(feature = "tracing")]
mod events {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Instant;

    use super::{Driver, RawTable};

    /// Where the next table's `map` number comes from.
    static NEXT_MAP: AtomicU64 = AtomicU64::new(1);

    /// Per-table state the events need: the table's number, and where the growth in
    /// progress started.
    #[derive(Default)]
    pub(super) struct TraceState {
        /// 0 until the table's first event.
        map: u64,
        growth: Option<GrowthStart>,
    }

    struct GrowthStart {
        at: Instant,
        growth_writes: u64,
        entries_moved: u64,
        by_writes: u64,
        explicit: u64,
    }

    impl TraceState {
        fn map(&mut self) -> u64 {
            if self.map == 0 {
                self.map = NEXT_MAP.fetch_add(1, Ordering::Relaxed);
            }
            self.map
        }
    }

    fn kind(same_size: bool) -> &'static str {
        if same_size {
            "same_size"
        } else {
            "doubling"
        }
    }

    fn by(driver: Driver) -> &'static str {
        match driver {
            Driver::Write => "write",
            Driver::Explicit => "explicit",
        }
    }

    /// Sends one event. The subscriber is user code and may panic, and gomap sends events
    /// in the middle of its own state changes (an evacuation attaching overflow buckets, a
    /// growth being retired, a clear under way); unwinding from there would leave the table
    /// inconsistent (entries in two arrays, a dropped entry still counted). So a panic
    /// inside the subscriber stops at this call: the event is lost, the panic hook has
    /// already reported the panic, and the map carries on.
    #[inline(always)]
    fn send(event: impl FnOnce()) {
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(event));
    }

    /// `b` before the growth in progress.
    fn old_b<K, V>(table: &RawTable<K, V>) -> u8 {
        table.b - u8::from(!table.same_size_grow)
    }

    /// The table's trace state, allocated on first use.
    fn state<K, V>(table: &mut RawTable<K, V>) -> &mut TraceState {
        table.observer.trace.get_or_insert_with(Box::default)
    }

    pub(super) fn growth_started<K, V>(table: &mut RawTable<K, V>) {
        let c = table.observer.counters;
        if tracing::enabled!(target: "gomap", tracing::Level::INFO) {
            emit_growth_started(table);
        }
        table.observer.bucket_events = tracing::enabled!(target: "gomap", tracing::Level::DEBUG);
        // After the event, so that the growth's wall time leaves out the subscriber's.
        state(table).growth = Some(GrowthStart {
            at: Instant::now(),
            growth_writes: c.growth_writes,
            entries_moved: c.entries_moved,
            by_writes: c.evacuated_by_writes,
            explicit: c.evacuated_explicitly,
        });
    }

    fn emit_growth_started<K, V>(table: &mut RawTable<K, V>) {
        let c = table.observer.counters;
        let map = state(table).map();
        let same_size = table.same_size_grow;
        send(|| {
            tracing::info!(
                name: "growth_started",
                target: "gomap",
                map,
                growth = c.growths_started(),
                kind = kind(same_size),
                trigger = if same_size { "overflow" } else { "load" },
                old_b = old_b(table),
                new_b = table.b,
                len = table.count as u64,
                noverflow = table.overflow.noverflow,
                bytes = table.stats().bytes as u64,
                "map growth started"
            );
        });
    }

    /// Out of line: evacuation, which calls it, is a hot loop.
    #[cold]
    #[inline(never)]
    pub(super) fn bucket_evacuated<K, V>(table: &mut RawTable<K, V>, oi: usize, entries: usize, driver: Driver) {
        let map = state(table).map();
        send(|| {
            tracing::debug!(
                name: "bucket_evacuated",
                target: "gomap",
                map,
                growth = table.observer.counters.growths_started(),
                bucket = oi as u64,
                entries = entries as u64,
                by = by(driver),
                "old bucket evacuated"
            );
        });
    }

    pub(super) fn growth_finished<K, V>(table: &mut RawTable<K, V>) {
        let Some(start) = state(table).growth.take() else { return };
        if !tracing::enabled!(target: "gomap", tracing::Level::INFO) {
            return;
        }
        let c = table.observer.counters;
        let by_writes = c.evacuated_by_writes - start.by_writes;
        let explicit = c.evacuated_explicitly - start.explicit;
        let map = state(table).map();
        send(|| {
            tracing::info!(
                name: "growth_finished",
                target: "gomap",
                map,
                growth = c.growths_started(),
                kind = kind(table.same_size_grow),
                old_b = old_b(table),
                new_b = table.b,
                len = table.count as u64,
                writes = c.growth_writes - start.growth_writes,
                buckets = by_writes + explicit,
                by_writes,
                explicit,
                entries_moved = c.entries_moved - start.entries_moved,
                elapsed_ns = u64::try_from(start.at.elapsed().as_nanos()).unwrap_or(u64::MAX),
                "map growth finished"
            );
        });
    }

    pub(super) fn growth_abandoned<K, V>(table: &mut RawTable<K, V>, reason: &'static str) {
        // Only a growth this table saw start (not one whose observer moved elsewhere, as
        // in `resize`).
        let started = table.observer.trace.as_mut().and_then(|state| state.growth.take());
        if started.is_none() || !tracing::enabled!(target: "gomap", tracing::Level::INFO) {
            return;
        }
        let map = state(table).map();
        send(|| {
            tracing::info!(
                name: "growth_abandoned",
                target: "gomap",
                map,
                growth = table.observer.counters.growths_started(),
                kind = kind(table.same_size_grow),
                reason,
                evacuated = table.nevacuate as u64,
                old_buckets = table.old_buckets() as u64,
                "map growth abandoned"
            );
        });
    }

    /// Asks `tracing` first, so that nothing else runs (not even the trace state's
    /// allocation) when no one wants the event.
    #[inline]
    pub(super) fn overflow_allocated(trace: &mut Option<Box<TraceState>>, b: u8, separately: bool) {
        if tracing::enabled!(target: "gomap", tracing::Level::DEBUG) {
            emit_overflow_allocated(trace.get_or_insert_with(Box::default), b, separately);
        }
    }

    /// Out of line, like `bucket_evacuated`.
    #[cold]
    #[inline(never)]
    fn emit_overflow_allocated(trace: &mut TraceState, b: u8, separately: bool) {
        let map = trace.map();
        send(|| {
            tracing::debug!(name: "overflow_allocated", target: "gomap", map, b, separately, "overflow bucket attached");
        });
    }
}

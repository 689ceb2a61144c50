//! Overhead of the growth counters and of the `tracing` feature, on insert and lookup.
//!
//! The same benchmarks are built three ways and compared (BENCHMARKS.md, "Observability
//! overhead", has the commands and the results):
//!
//! * without counters: `raw/observe.rs` replaced by no-op hooks and a zero-sized observer;
//! * counters, `tracing` off;
//! * counters, `tracing` compiled in (`--features tracing`), no subscriber.
//!
//! With `tracing` on, the `*_subscriber_*` benchmarks add a subscriber that accepts gomap's
//! INFO (growth start and end) or also DEBUG (every evacuated bucket and overflow bucket)
//! events and discards them: the cost of actually listening.
//!
//! `insert_grow` fills an empty map (17 doublings on the way to 100,000 entries: every
//! growth path runs), `insert_presized` fills a map made big enough (no growth: the hot
//! path), `get_hit` and `get_miss` look keys up in a full map.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gomap::GoMap;

const N: u64 = 100_000;

/// Distinct, scattered keys.
fn key(i: u64) -> u64 {
    let mut z = i.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fill(map: &mut GoMap<u64, u64>, keys: &[u64]) {
    for &k in keys {
        map.insert(k, k);
    }
}

fn bench_insert(c: &mut Criterion, keys: &[u64], suffix: &str) {
    let mut group = c.benchmark_group("observability");
    group.throughput(Throughput::Elements(N));
    group.bench_function(format!("insert_grow{suffix}"), |b| {
        b.iter_batched(
            GoMap::new,
            |mut map| {
                fill(&mut map, keys);
                map
            },
            BatchSize::LargeInput,
        )
    });
    group.bench_function(format!("insert_presized{suffix}"), |b| {
        b.iter_batched(
            || GoMap::with_capacity(N as usize),
            |mut map| {
                fill(&mut map, keys);
                map
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

fn bench_get(c: &mut Criterion, keys: &[u64]) {
    let mut map = GoMap::new();
    fill(&mut map, keys);
    map.finish_growth();
    let misses: Vec<u64> = (N..2 * N).map(key).collect();
    let mut group = c.benchmark_group("observability");
    group.throughput(Throughput::Elements(N));
    group.bench_function("get_hit", |b| {
        b.iter(|| keys.iter().map(|k| *map.get(black_box(k)).unwrap()).fold(0u64, u64::wrapping_add))
    });
    group.bench_function("get_miss", |b| b.iter(|| misses.iter().filter(|k| map.get(black_box(*k)).is_some()).count()));
    group.finish();
}

fn benches(c: &mut Criterion) {
    let keys: Vec<u64> = (0..N).map(key).collect();
    bench_insert(c, &keys, "");
    bench_get(c, &keys);
    #[cfg(feature = "tracing")]
    {
        use sink::Sink;
        for (level, name) in [(tracing::Level::INFO, "_subscriber_info"), (tracing::Level::DEBUG, "_subscriber_debug")]
        {
            tracing::subscriber::with_default(Sink(level), || bench_insert(c, &keys, name));
        }
    }
}

/// A subscriber that takes gomap's events up to a level and throws them away after
/// visiting their fields (as a real one would read them).
#[cfg(feature = "tracing")]
mod sink {
    use criterion::black_box;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    pub struct Sink(pub Level);

    struct Fields(u64);

    impl Visit for Fields {
        fn record_u64(&mut self, _: &Field, value: u64) {
            self.0 = self.0.wrapping_add(value);
        }
        fn record_debug(&mut self, _: &Field, value: &dyn std::fmt::Debug) {
            black_box(value);
        }
    }

    impl Subscriber for Sink {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "gomap" && *metadata.level() <= self.0
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut fields = Fields(0);
            event.record(&mut fields);
            black_box(fields.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

criterion_group! {
    name = observability;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_secs(1));
    targets = benches
}
criterion_main!(observability);

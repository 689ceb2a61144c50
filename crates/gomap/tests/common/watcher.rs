//! Growths recognised from outside a map: from its `MapStats` before and after every write.
//! The observability tests check the growth counters and the `tracing` events against it.

use gomap::{GoMap, GrowthCounters, MapStats};

/// One growth as seen from outside: from the `MapStats` before and after each write.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenGrowth {
    pub same_size: bool,
    pub old_b: u8,
    pub new_b: u8,
    /// `len` just before the write that started it.
    pub len_at_start: usize,
    /// Writes that did growth work: the one that started it up to the one that finished
    /// it (or the last one seen).
    pub writes: u64,
    pub finished: bool,
}

/// Watches a map write by write, recognising growths from the stats alone.
#[derive(Default)]
pub struct Watcher {
    pub growths: Vec<SeenGrowth>,
    pub growth_writes: u64,
    /// Overflow buckets attached, from the increments of `overflow_buckets` (exact below
    /// B = 16; reset to 0 when a growth starts).
    pub overflow: u64,
}

impl Watcher {
    /// Call with the stats before and after a write (insert or remove).
    pub fn write(&mut self, before: &MapStats, after: &MapStats) {
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

    pub fn started(&self, same_size: bool) -> u64 {
        self.growths.iter().filter(|g| g.same_size == same_size).count() as u64
    }

    pub fn finished(&self, same_size: bool) -> u64 {
        self.growths.iter().filter(|g| g.same_size == same_size && g.finished).count() as u64
    }

    /// Old buckets of the finished growths: each evacuates its whole old array.
    pub fn old_buckets_finished(&self) -> u64 {
        self.growths.iter().filter(|g| g.finished).map(|g| 1u64 << g.old_b).sum()
    }

    /// Checks the map's counters against what was seen, for a run without `clear`,
    /// `reserve` or explicit evacuation.
    pub fn check(&self, counters: &GrowthCounters, growing: bool) {
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

pub fn insert_watched(map: &mut GoMap<u64, u64>, watcher: &mut Watcher, key: u64) {
    let before = map.stats();
    map.insert(key, key);
    watcher.write(&before, &map.stats());
}

pub fn remove_watched(map: &mut GoMap<u64, u64>, watcher: &mut Watcher, key: u64) {
    let before = map.stats();
    map.remove(&key);
    watcher.write(&before, &map.stats());
}

/// Same-size growths need tombstones and overflow chains: FIFO churn at a fixed size.
/// Keys are pseudo-random so that chains fill as under Go's hash.
pub fn churn_key(i: u64) -> u64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

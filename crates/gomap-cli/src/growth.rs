//! Shared by the subcommands: detecting growths from `GoMap::stats()` snapshots
//! taken after every write, and formatting helpers.

use std::io::{self, Write};

use gomap::MapStats;

/// The `MapStats` fields the growth detector needs, copied out of the stats.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub len: usize,
    pub b: u8,
    pub overflow: usize,
    pub tombstones: usize,
    pub growing: bool,
    pub same_size: bool,
    pub evacuated: usize,
}

impl From<&MapStats> for Snapshot {
    fn from(s: &MapStats) -> Self {
        Snapshot {
            len: s.len,
            b: s.b,
            overflow: s.overflow_buckets,
            tombstones: s.tombstones,
            growing: s.growing,
            same_size: s.same_size_growth,
            evacuated: s.evacuated,
        }
    }
}

/// One growth, from the write that started it to the write that finished it.
#[derive(Debug, Clone)]
pub struct Growth {
    /// 1-based growth number.
    pub number: usize,
    pub old_b: u8,
    pub new_b: u8,
    pub same_size: bool,
    /// Write (1-based, counting every insert and delete) that started it.
    pub start_write: u64,
    /// Caller's operation number for that write (insert # or pair #).
    pub start_op: u64,
    /// Map state just before the triggering write.
    pub before: Snapshot,
    /// Write that finished it (the one after which `growing` was false), if it did.
    pub end_write: Option<u64>,
    pub end_op: Option<u64>,
    /// Map state right after the finishing write (`None` if unfinished, or if another
    /// growth started within that same write so the state in between was never seen).
    pub after: Option<Snapshot>,
    /// Last state seen while the growth was still running.
    pub last_running: Option<Snapshot>,
}

impl Growth {
    pub fn trigger(&self) -> &'static str {
        if self.same_size {
            "overflow"
        } else {
            "load"
        }
    }

    pub fn old_buckets(&self) -> u64 {
        1u64 << self.old_b
    }

    /// Writes from the triggering insert to the finishing write, both inclusive.
    pub fn writes(&self) -> Option<u64> {
        self.end_write.map(|end| end - self.start_write + 1)
    }

    /// `writes / 2^oldB` (Go: about 0.69 for large maps, between 0.5 and 1.0).
    pub fn writes_per_old_bucket(&self) -> Option<f64> {
        self.writes().map(|w| w as f64 / self.old_buckets() as f64)
    }
}

/// Watches the stats after each write and reports growths as they finish.
pub struct Tracker {
    prev: Snapshot,
    current: Option<Growth>,
    started: usize,
    /// Growths finished so far, by kind.
    pub doublings: usize,
    pub same_size: usize,
    /// Writes made while a growth was running (counting a growth still running as of
    /// [`Tracker::finish`]).
    pub growing_writes: u64,
}

impl Tracker {
    pub fn new(initial: &MapStats) -> Self {
        Tracker {
            prev: Snapshot::from(initial),
            current: None,
            started: 0,
            doublings: 0,
            same_size: 0,
            growing_writes: 0,
        }
    }

    /// The summary line of a run of `writes` writes (`noun`: what a write is called), after
    /// [`Tracker::finish`]: `"3 growths (2 doubling, 0 same-size, 1 still running); a growth
    /// was in progress during 1,234 of 5,000 inserts (24.7%)"`.
    pub fn summary(&self, writes: u64, noun: &str) -> String {
        let running = self.started - self.doublings - self.same_size;
        format!(
            "{} growth{} ({} doubling, {} same-size{}); a growth was in progress during {} of {} {noun} ({:.1}%)",
            self.started,
            if self.started == 1 { "" } else { "s" },
            self.doublings,
            self.same_size,
            if running == 0 { String::new() } else { format!(", {running} still running") },
            thousands(self.growing_writes),
            thousands(writes),
            100.0 * self.growing_writes as f64 / writes as f64
        )
    }

    /// Ends the run after write `last_write`: returns the growth still running, if any,
    /// with its writes so far counted in `growing_writes`.
    pub fn finish(&mut self, last_write: u64) -> Option<Growth> {
        let g = self.current.take()?;
        self.growing_writes += last_write - g.start_write + 1;
        Some(g)
    }

    /// Call after every write with the map's stats, the 1-based write number and
    /// the caller's operation number. Returns the growths that finished at this
    /// write, oldest first (almost always none or one).
    ///
    /// How growths are recognised (Go semantics, spec sections 2.2 and 3):
    /// * not growing before, and now growing or B changed: a growth started
    ///   (a growth of 1 or 2 old buckets finishes inside its triggering insert,
    ///   so `growing` may already be false again);
    /// * same B, not growing before or after, but fewer overflow buckets: a
    ///   same-size growth that started and finished within this write (overflow
    ///   buckets are only ever freed by a growth or `clear`);
    /// * growing before: it finished when `growing` turns false, or when a new
    ///   growth is visibly under way (B or kind changed, or `evacuated` went
    ///   backwards), meaning one ended and the next started in the same write.
    pub fn observe(&mut self, stats: &MapStats, write: u64, op: u64) -> Vec<Growth> {
        let done = self.detect(stats, write, op);
        for g in &done {
            self.growing_writes += g.writes().unwrap_or(0);
            if g.same_size {
                self.same_size += 1;
            } else {
                self.doublings += 1;
            }
        }
        done
    }

    /// The growths that finished at this write (see [`Tracker::observe`]).
    fn detect(&mut self, stats: &MapStats, write: u64, op: u64) -> Vec<Growth> {
        let cur = Snapshot::from(stats);
        let prev = std::mem::replace(&mut self.prev, cur);
        let mut done = Vec::new();
        let mut reference_b = prev.b;

        if let Some(mut g) = self.current.take() {
            let restarted =
                cur.growing && (cur.b != g.new_b || cur.same_size != g.same_size || cur.evacuated < prev.evacuated);
            if cur.growing && !restarted {
                g.last_running = Some(cur);
                self.current = Some(g);
                return done;
            }
            // `g` finished at this write; did another growth start in it too?
            let another = restarted || cur.b != g.new_b;
            g.end_write = Some(write);
            g.end_op = Some(op);
            g.after = (!another).then_some(cur);
            reference_b = g.new_b;
            done.push(g);
            if !another {
                return done;
            }
        } else if !(cur.growing || cur.b != prev.b || cur.overflow < prev.overflow) {
            return done;
        }

        // A new growth started at this write.
        self.started += 1;
        let same_size = if cur.growing { cur.same_size } else { cur.b == reference_b };
        let mut g = Growth {
            number: self.started,
            old_b: if same_size { cur.b } else { cur.b - 1 },
            new_b: cur.b,
            same_size,
            start_write: write,
            start_op: op,
            before: prev,
            end_write: None,
            end_op: None,
            after: None,
            last_running: None,
        };
        if cur.growing {
            g.last_running = Some(cur);
            self.current = Some(g);
        } else {
            // Started and finished inside this one write.
            g.end_write = Some(write);
            g.end_op = Some(op);
            g.after = Some(cur);
            done.push(g);
        }
        done
    }
}

/// The line under a growth still running at the end of a run.
pub fn write_still_running(out: &mut impl Write, g: &Growth, stats: &MapStats) -> io::Result<()> {
    writeln!(
        out,
        "      (growth {} still running: evacuation mark (Go's nevacuate) at {} of {} old buckets)",
        g.number,
        thousands(stats.evacuated as u64),
        thousands(stats.old_buckets as u64)
    )
}

/// `1234567` -> `"1,234,567"`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `52_428_800` -> `"50.0 MiB"`.
pub fn human_bytes(n: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The overflow-bucket line of the final stats: Go's `noverflow` is exact below
/// B = 16 and a 1-in-2^(B-15) sample from there on.
pub fn describe_overflow(overflow: usize, b: u8) -> String {
    if b < 16 {
        format!("{}  (exact count)", thousands(overflow as u64))
    } else {
        let scale = 1u64 << (b - 15);
        format!(
            "{}  (Go's noverflow: for B >= 16 counts 1 in {scale} new overflow buckets, so ~{} real)",
            thousands(overflow as u64),
            thousands(overflow as u64 * scale)
        )
    }
}

/// Prints every `MapStats` field, one per line, plus bytes per entry and capacity.
pub fn write_stats(out: &mut impl Write, s: &MapStats, capacity: usize) -> io::Result<()> {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let row = |out: &mut dyn Write, name: &str, value: String| writeln!(out, "  {name:<18}{value}");
    row(out, "len", thousands(s.len as u64))?;
    row(out, "B", format!("{}  (2^B buckets of 8 slots)", s.b))?;
    row(out, "buckets", thousands(s.buckets as u64))?;
    row(out, "overflow buckets", describe_overflow(s.overflow_buckets, s.b))?;
    row(out, "tombstones", format!("{}  (deleted slots not yet reused)", thousands(s.tombstones as u64)))?;
    row(out, "load factor", format!("{:.3}  (len / buckets; a doubling starts above 6.5)", s.load_factor))?;
    row(out, "capacity", format!("{}  (len that fits before the next doubling)", thousands(capacity as u64)))?;
    row(out, "growing", yes_no(s.growing).to_string())?;
    row(out, "same-size growth", yes_no(s.same_size_growth).to_string())?;
    row(out, "old buckets", format!("{}  (0 when not growing)", thousands(s.old_buckets as u64)))?;
    row(out, "evacuated", format!("{}  (Go's nevacuate; 0 when not growing)", thousands(s.evacuated as u64)))?;
    row(out, "bytes", format!("{}  ({} held by the table)", thousands(s.bytes as u64), human_bytes(s.bytes)))?;
    let per_entry = if s.len == 0 {
        "-".to_string()
    } else {
        format!("{:.1}  (16 bytes of key + value)", s.bytes as f64 / s.len as f64)
    };
    row(out, "bytes/entry", per_entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }

    #[test]
    fn human_bytes_picks_a_unit() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(50 << 20), "50.0 MiB");
    }
}

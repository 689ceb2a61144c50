//! `gomap tour`: grow a `GoMap<u64, u64>` from empty to N keys and print one
//! line per growth, then the final stats.

use std::io::{self, Write};
use std::time::Instant;

use gomap::GoMap;

use crate::growth::{thousands, write_stats, write_still_running, Growth, Tracker};
use crate::TourArgs;

pub fn run(args: &TourArgs) -> io::Result<()> {
    let out = &mut io::stdout().lock();
    let mut map: GoMap<u64, u64> = GoMap::new();
    let n = args.keys;
    let order = args.key_order;

    writeln!(
        out,
        "gomap tour: insert {} {} into an empty GoMap<u64, u64> (random hash seed)",
        thousands(n),
        order.describe()
    )?;
    writeln!(
        out,
        "One line per growth, read from map.stats() after every insert. trigger: load = doubling, B+1 \
         (len+1 > 8 and > 6.5*2^B);"
    )?;
    writeln!(
        out,
        "overflow = same size (overflow buckets >= 2^min(B,15)). writes: inserts from start to done, \
         both inclusive (Go: ~0.69*2^oldB)."
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>4}  {:<12}  {:<8}  {:>13}  {:>10}  {:>12}  {:>9}  {:>13}",
        "#", "oldB -> newB", "trigger", "start insert#", "len before", "done insert#", "writes", "writes/2^oldB"
    )?;

    let mut tracker = Tracker::new(&map.stats());
    let started = Instant::now();
    for i in 1..=n {
        map.insert(order.key(i), i);
        for g in tracker.observe(&map.stats(), i, i) {
            write_row(out, &g)?;
            if args.common.check {
                map.check_invariants();
            }
        }
    }
    let elapsed = started.elapsed();

    if let Some(g) = tracker.finish(n) {
        write_row(out, &g)?;
        write_still_running(out, &g, &map.stats())?;
    }
    if args.common.check {
        map.check_invariants();
    }

    let stats = map.stats();
    writeln!(out)?;
    writeln!(out, "{}", tracker.summary(n, "inserts"))?;
    writeln!(
        out,
        "final stats after {} inserts (took {:.1} ms, {:.0} ns/insert including a stats() call each):",
        thousands(n),
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e9 / n as f64
    )?;
    write_stats(out, &stats, map.capacity())?;
    if args.common.check {
        writeln!(out, "check_invariants(): ok")?;
    }
    Ok(())
}

fn write_row(out: &mut impl Write, g: &Growth) -> io::Result<()> {
    let dash = || "-".to_string();
    writeln!(
        out,
        "{:>4}  {:>4} -> {:<4}  {:<8}  {:>13}  {:>10}  {:>12}  {:>9}  {:>13}",
        g.number,
        g.old_b,
        g.new_b,
        g.trigger(),
        thousands(g.start_op),
        thousands(g.before.len as u64),
        g.end_op.map_or_else(dash, thousands),
        g.writes().map_or_else(|| "running".to_string(), thousands),
        g.writes_per_old_bucket().map_or_else(dash, |r| format!("{r:.3}")),
    )
}

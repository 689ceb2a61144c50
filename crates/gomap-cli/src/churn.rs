//! `gomap churn`: hold a `GoMap<u64, u64>` at a fixed size under FIFO churn
//! (delete the oldest key, insert a new one) and print one line per growth.
//! Deletes leave tombstones and never free overflow buckets, so this shows
//! Go's same-size growth (spec section 3.6 and Appendix B.2 part 3).

use std::io::{self, Write};
use std::time::Instant;

use gomap::GoMap;

use crate::growth::{thousands, write_stats, write_still_running, Growth, Tracker};
use crate::ChurnArgs;

pub fn run(args: &ChurnArgs) -> io::Result<()> {
    let out = &mut io::stdout().lock();
    let (live, pairs) = (args.live, args.pairs);
    let capacity = usize::try_from(live).expect("--live is capped well below usize::MAX");
    let mut map: GoMap<u64, u64> = GoMap::with_capacity(capacity);
    let order = args.key_order;
    let made = map.stats();

    writeln!(
        out,
        "gomap churn: GoMap<u64, u64>::with_capacity({live}) (B = {}), filled with {} keys, then {} \
         pairs of delete-oldest + insert-new",
        made.b,
        thousands(live),
        thousands(pairs)
    )?;
    writeln!(out, "keys: {} (random hash seed)", order.describe())?;
    writeln!(
        out,
        "One line per growth, read from map.stats() after every write. trigger: overflow = same size \
         (overflow buckets >= 2^min(B,15)),"
    )?;
    writeln!(
        out,
        "load = doubling. writes: deletes + inserts from start to done, both inclusive (Go: ~0.69*2^B). \
         ovf/tombs: overflow buckets"
    )?;
    writeln!(
        out,
        "and tombstones just before the growth and right after it; gap: pairs since the previous \
         growth started."
    )?;

    // Fill: writes 1..=live; op 0 stands for "during the fill".
    let mut tracker = Tracker::new(&made);
    let mut rows: Vec<Growth> = Vec::new();
    let mut write = 0u64;
    for i in 1..=live {
        map.insert(order.key(i), i);
        write += 1;
        rows.extend(tracker.observe(&map.stats(), write, 0));
    }
    let filled = map.stats();
    writeln!(
        out,
        "after the fill: len {}, B {}, {} overflow buckets, growing: {}",
        thousands(filled.len as u64),
        filled.b,
        thousands(filled.overflow_buckets as u64),
        if filled.growing { "yes" } else { "no" }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:>4}  {:<12}  {:<8}  {:>11}  {:>7}  {:>6}  {:>13}  {:>10}  {:>17}  {:>19}",
        "#",
        "oldB -> newB",
        "trigger",
        "start pair#",
        "gap",
        "writes",
        "writes/2^oldB",
        "done pair#",
        "ovf before->after",
        "tombs before->after"
    )?;

    let mut last_start = 0u64;
    let mut print = |out: &mut io::StdoutLock<'_>, g: &Growth| -> io::Result<()> {
        let gap = g.start_op - last_start;
        last_start = g.start_op;
        write_row(out, g, gap)
    };
    for g in rows.drain(..) {
        print(out, &g)?;
    }

    let started = Instant::now();
    for p in 1..=pairs {
        for (op_is_insert, key_index) in [(false, p), (true, live + p)] {
            let key = order.key(key_index);
            if op_is_insert {
                map.insert(key, key_index);
            } else {
                map.remove(&key);
            }
            write += 1;
            for g in tracker.observe(&map.stats(), write, p) {
                print(out, &g)?;
                if args.common.check {
                    map.check_invariants();
                }
            }
        }
    }
    let elapsed = started.elapsed();

    if let Some(g) = tracker.finish(write) {
        print(out, &g)?;
        write_still_running(out, &g, &map.stats())?;
    }
    if args.common.check {
        map.check_invariants();
    }

    let stats = map.stats();
    writeln!(out)?;
    writeln!(out, "{}", tracker.summary(write, "writes"))?;
    writeln!(
        out,
        "final stats after {} pairs (took {:.1} ms, {:.0} ns/pair including two stats() calls):",
        thousands(pairs),
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e9 / pairs as f64
    )?;
    write_stats(out, &stats, map.capacity())?;
    if args.common.check {
        writeln!(out, "check_invariants(): ok")?;
    }
    Ok(())
}

fn write_row(out: &mut impl Write, g: &Growth, gap: u64) -> io::Result<()> {
    let dash = || "-".to_string();
    let op = |p: u64| {
        if p == 0 {
            "fill".to_string()
        } else {
            thousands(p)
        }
    };
    let before_after = |before: usize, after: Option<usize>| {
        let after = after.map_or_else(dash, |a| thousands(a as u64));
        format!("{} -> {after}", thousands(before as u64))
    };
    writeln!(
        out,
        "{:>4}  {:>4} -> {:<4}  {:<8}  {:>11}  {:>7}  {:>6}  {:>13}  {:>10}  {:>17}  {:>19}",
        g.number,
        g.old_b,
        g.new_b,
        g.trigger(),
        op(g.start_op),
        thousands(gap),
        g.writes().map_or_else(|| "running".to_string(), thousands),
        g.writes_per_old_bucket().map_or_else(dash, |r| format!("{r:.3}")),
        g.end_op.map_or_else(dash, op),
        before_after(g.before.overflow, g.after.map(|a| a.overflow)),
        before_after(g.before.tombstones, g.after.map(|a| a.tombstones)),
    )
}

//! `gomap shrink`: grow a `GoMap<u64, u64>` to N keys, delete all but M of them, and give
//! the memory back with `shrink_to_fit`, which Go's maps cannot do (golang/go#20135).

use std::io::{self, Write};
use std::time::Instant;

use gomap::{GoMap, MapStats};

use crate::growth::{human_bytes, thousands, write_stats};
use crate::ShrinkArgs;

pub fn run(args: &ShrinkArgs) -> io::Result<()> {
    let out = &mut io::stdout().lock();
    let (n, keep, order) = (args.grow.keys, args.keep, args.grow.key_order);
    let mut map: GoMap<u64, u64> = GoMap::new();

    writeln!(
        out,
        "gomap shrink: insert {} {} into an empty GoMap<u64, u64>, delete all but the first {}, then \
         call shrink_to_fit()",
        thousands(n),
        order.describe(),
        thousands(keep)
    )?;
    writeln!(out, "Go's maps never give memory back (golang/go#20135): a Go map stays as it is after the deletes.")?;

    let check = args.grow.common.check;
    for i in 1..=n {
        map.insert(order.key(i), i);
    }
    map.finish_growth();
    report(out, &map, check, &format!("after {} inserts", thousands(n)))?;

    for i in keep + 1..=n {
        map.remove(&order.key(i));
    }
    let thinned =
        report(out, &map, check, &format!("after deleting all but {} (where a Go map stays)", thousands(keep)))?;

    let started = Instant::now();
    map.shrink_to_fit();
    let took = started.elapsed();
    let shrunk = report(out, &map, check, &format!("after shrink_to_fit() (took {:.2} ms)", took.as_secs_f64() * 1e3))?;

    if check {
        let lost = (1..=keep).filter(|&i| map.get(&order.key(i)) != Some(&i)).count();
        assert_eq!(lost, 0, "gomap internal error: shrink_to_fit lost {lost} entries");
        writeln!(out, "check_invariants() and every kept entry: ok")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "memory held: {} -> {} (B {} -> {}, the B of Go's make(map, {}))",
        human_bytes(thinned.bytes),
        human_bytes(shrunk.bytes),
        thinned.b,
        shrunk.b,
        thousands(keep)
    )
}

/// One step's block: `title`, then the map's stats (after `check_invariants` with `check`).
fn report(out: &mut impl Write, map: &GoMap<u64, u64>, check: bool, title: &str) -> io::Result<MapStats> {
    if check {
        map.check_invariants();
    }
    let stats = map.stats();
    writeln!(out)?;
    writeln!(out, "{title}:")?;
    write_stats(out, &stats, map.capacity())?;
    Ok(stats)
}

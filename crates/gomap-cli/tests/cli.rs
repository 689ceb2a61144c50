//! End-to-end tests of the `gomap` binary: run it, parse what it prints.

use std::process::{Command, Output};

fn gomap(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gomap")).args(args).output().expect("failed to run the gomap binary")
}

/// Runs and expects success; returns stdout.
fn gomap_ok(args: &[&str]) -> String {
    let out = gomap(args);
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "gomap {args:?} failed with {}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    stdout
}

/// Runs and expects a usage error; returns stderr.
fn gomap_err(args: &[&str]) -> String {
    let out = gomap(args);
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    assert!(
        !out.status.success(),
        "gomap {args:?} should have failed; stdout:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(2), "clap usage errors exit with 2");
    assert!(out.stdout.is_empty(), "nothing on stdout for a usage error");
    assert!(stderr.starts_with("error: "), "clear message on stderr:\n{stderr}");
    stderr
}

fn num(s: &str) -> u64 {
    s.replace(',', "").parse().unwrap_or_else(|_| panic!("not a number: {s:?}"))
}

/// One table row: `#  oldB -> newB  trigger  start  ...`, columns kept as text.
#[derive(Debug)]
struct Row {
    number: u64,
    old_b: u64,
    new_b: u64,
    trigger: String,
    rest: Vec<String>,
}

fn parse_rows(stdout: &str) -> Vec<Row> {
    stdout
        .lines()
        .filter_map(|line| {
            let t: Vec<&str> = line.split_whitespace().collect();
            if t.len() < 6 || t[2] != "->" || t[0].parse::<u64>().is_err() {
                return None;
            }
            Some(Row {
                number: num(t[0]),
                old_b: num(t[1]),
                new_b: num(t[3]),
                trigger: t[4].to_string(),
                rest: t[5..].iter().map(|s| s.to_string()).collect(),
            })
        })
        .collect()
}

/// The value of a line `  name   value  (comment)` in the final stats block.
fn stat(stdout: &str, name: &str) -> String {
    stdout
        .lines()
        .find_map(|line| {
            let rest = line.strip_prefix("  ")?.strip_prefix(name)?;
            rest.starts_with("  ").then(|| rest.split_whitespace().next().unwrap_or("").to_string())
        })
        .unwrap_or_else(|| panic!("no stat line {name:?} in:\n{stdout}"))
}

/// Go 1.19: the doubling from B starts on insert 9 (B = 0), else 13 * 2^(B-1) + 1.
const GO_STARTS: [u64; 12] = [9, 14, 27, 53, 105, 209, 417, 833, 1665, 3329, 6657, 13313];

/// Checks a tour's doubling rows: B sequence, Go's start inserts, writes and ratio.
fn check_tour_rows(stdout: &str, keys: u64) -> Vec<Row> {
    let rows = parse_rows(stdout);
    assert!(!rows.is_empty(), "no growth rows in:\n{stdout}");
    for (i, row) in rows.iter().enumerate() {
        let i = i as u64;
        assert_eq!(row.number, i + 1, "{row:?}");
        assert_eq!((row.old_b, row.new_b), (i, i + 1), "B sequence: {row:?}");
        assert_eq!(row.trigger, "load", "{row:?}");
        let [start, len_before, done, writes, ratio] = &row.rest[..] else {
            panic!("tour row has 10 columns: {row:?}");
        };
        let start = num(start);
        assert_eq!(start, GO_STARTS[i as usize], "Go's threshold for B = {i}");
        assert_eq!(num(len_before), start - 1, "{row:?}");
        if done == "-" {
            // Only the last growth may still be running at the end.
            assert_eq!(row.number as usize, rows.len(), "{row:?}");
            assert_eq!(writes, "running");
            continue;
        }
        let (done, writes) = (num(done), num(writes));
        assert!(done >= start && done <= keys, "{row:?}");
        assert_eq!(writes, done - start + 1, "writes are inclusive: {row:?}");
        // Each write evacuates 1 or 2 old buckets (at most 2, and it always
        // advances the sweep): between 2^oldB / 2 and 2^oldB writes.
        let old = 1u64 << row.old_b;
        assert!(2 * writes >= old && writes <= old, "{row:?}");
        let printed: f64 = ratio.parse().unwrap();
        let exact = writes as f64 / old as f64;
        assert!((printed - exact).abs() < 0.0006, "{row:?}");
    }
    rows
}

#[test]
fn tour_20000_matches_go_growth_thresholds() {
    let stdout = gomap_ok(&["tour", "--keys", "20000", "--check"]);
    let rows = check_tour_rows(&stdout, 20_000);
    // 13,313 <= 20,000 < 26,625: twelve doublings, 0 -> 1 up to 11 -> 12, all done.
    assert_eq!(rows.len(), 12, "{stdout}");
    assert!(rows.iter().all(|r| r.rest[2] != "-"), "{stdout}");
    // The first two growths finish inside their triggering insert.
    assert_eq!(rows[0].rest[3], "1");
    assert_eq!(rows[1].rest[3], "1");

    assert_eq!(num(&stat(&stdout, "len")), 20_000);
    assert_eq!(num(&stat(&stdout, "B")), 12);
    assert_eq!(num(&stat(&stdout, "buckets")), 4096);
    assert_eq!(stat(&stdout, "growing"), "no");
    assert_eq!(num(&stat(&stdout, "tombstones")), 0);
    assert_eq!(stat(&stdout, "load factor"), format!("{:.3}", 20_000.0 / 4096.0));
    assert!(num(&stat(&stdout, "bytes")) >= 4096 * 144, "2^12 buckets of 144 bytes");
    assert!(stdout.contains("sequential keys"), "says which keys:\n{stdout}");
    assert!(stdout.contains("check_invariants(): ok"), "{stdout}");
}

#[test]
fn tour_reports_a_growth_still_running_at_the_end() {
    // The growth 10 -> 11 starts on insert 6,657 and needs >= 512 writes.
    let stdout = gomap_ok(&["tour", "--keys", "6700"]);
    let rows = check_tour_rows(&stdout, 6700);
    assert_eq!(rows.len(), 11, "{stdout}");
    assert_eq!(rows[10].rest[2], "-", "{stdout}");
    assert!(stdout.contains("still running"), "{stdout}");
    assert_eq!(num(&stat(&stdout, "len")), 6700);
    assert_eq!(stat(&stdout, "growing"), "yes");
    assert_eq!(num(&stat(&stdout, "old buckets")), 1024);
}

#[test]
fn tour_with_splitmix64_keys_has_the_same_growth_starts() {
    let stdout = gomap_ok(&["tour", "--keys", "5e3", "--key-order", "splitmix64"]);
    let rows = check_tour_rows(&stdout, 5000);
    assert_eq!(rows.len(), 10, "{stdout}");
    assert_eq!(num(&stat(&stdout, "len")), 5000);
    assert!(stdout.contains("splitmix64 keys"), "says which keys:\n{stdout}");
}

#[test]
fn churn_shows_same_size_growths() {
    let stdout = gomap_ok(&["churn", "--pairs", "200000", "--check"]);
    let rows = parse_rows(&stdout);
    // Go 1.19: one same-size growth every ~60,000-75,000 pairs.
    assert!(!rows.is_empty(), "no growth in 200,000 pairs:\n{stdout}");
    for row in &rows {
        assert_eq!((row.old_b, row.new_b), (10, 10), "{row:?}");
        assert_eq!(row.trigger, "overflow", "{row:?}");
        // start pair#, gap, writes, ratio, done pair#, ovf before -> after, tombs ...
        let writes = &row.rest[2];
        if writes == "running" {
            continue;
        }
        let writes = num(writes);
        assert!((512..=1024).contains(&writes), "{row:?}");
        assert_eq!(row.rest[5], "1,024", "starts exactly at 2^B overflow buckets: {row:?}");
    }
    assert_eq!(num(&stat(&stdout, "len")), 6144);
    assert_eq!(num(&stat(&stdout, "B")), 10);
    assert!(stdout.contains("check_invariants(): ok"), "{stdout}");
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    let e = gomap_err(&["tour", "--keys", "0"]);
    assert!(e.contains("'--keys <N>'") && e.contains("at least 1"), "{e}");

    let e = gomap_err(&["tour", "--keys", "abc"]);
    assert!(e.contains("'abc'") && e.contains("not a whole number"), "{e}");

    let e = gomap_err(&["tour", "--keys", "-3"]);
    assert!(e.contains("'-3' is not a whole number"), "{e}");

    let e = gomap_err(&["tour", "--keys", "1e12"]);
    assert!(e.contains("limit"), "{e}");

    let e = gomap_err(&["frobnicate"]);
    assert!(e.contains("unrecognized subcommand 'frobnicate'"), "{e}");

    let e = gomap_err(&["tour", "--bogus"]);
    assert!(e.contains("unexpected argument '--bogus'"), "{e}");

    let e = gomap_err(&["churn", "--pairs", "0"]);
    assert!(e.contains("'--pairs <N>'") && e.contains("at least 1"), "{e}");

    let e = gomap_err(&["tour", "--key-order", "shuffled"]);
    assert!(e.contains("sequential") && e.contains("splitmix64"), "{e}");
}

/// The values of every line `  name   value  (comment)`, one per stats block, in order.
fn stats_all(stdout: &str, name: &str) -> Vec<u64> {
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("  ")?.strip_prefix(name)?;
            rest.starts_with("  ").then(|| num(rest.split_whitespace().next().unwrap_or("")))
        })
        .collect()
}

#[test]
fn shrink_gives_the_memory_back() {
    let out = gomap_ok(&["shrink", "--keys", "20000", "--keep", "100", "--check"]);
    // After the inserts, after the deletes (a Go map's size), after shrink_to_fit.
    assert_eq!(stats_all(&out, "len"), [20_000, 100, 100], "{out}");
    assert_eq!(stats_all(&out, "B"), [12, 12, 4], "B of Go's make(map, 20000) and make(map, 100):\n{out}");
    let bytes = stats_all(&out, "bytes");
    assert_eq!(bytes[0], bytes[1], "deleting gives nothing back:\n{out}");
    assert!(bytes[2] * 50 < bytes[1], "{out}");
    assert!(out.contains("check_invariants() and every kept entry: ok"), "{out}");

    let out = gomap_ok(&["shrink", "--keys", "5000", "--keep", "0", "--key-order", "splitmix64"]);
    assert_eq!(stats_all(&out, "len"), [5_000, 0, 0], "{out}");
    assert_eq!(*stats_all(&out, "B").last().unwrap(), 0, "{out}");
    assert_eq!(*stats_all(&out, "bytes").last().unwrap(), 0, "an emptied map gives back everything:\n{out}");

    let e = gomap_err(&["shrink", "--keys", "100", "--keep", "101"]);
    assert!(e.contains("--keep 101 is more than --keys 100"), "{e}");
    let e = gomap_err(&["shrink", "--keep", "-1"]);
    assert!(e.contains("'-1' is not a whole number"), "{e}");
}

#[test]
fn no_subcommand_prints_usage_and_fails() {
    let out = gomap(&[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("Usage: gomap <COMMAND>"), "{stderr}");
}

#[test]
fn help_describes_the_subcommands() {
    let top = gomap_ok(&["--help"]);
    for word in ["tour", "churn", "shrink", "Examples:"] {
        assert!(top.contains(word), "{word:?} missing from:\n{top}");
    }
    let tour = gomap_ok(&["tour", "--help"]);
    for word in ["--keys <N>", "[default: 1000000]", "--check", "--key-order", "load factor"] {
        assert!(tour.contains(word), "{word:?} missing from:\n{tour}");
    }
    let churn = gomap_ok(&["help", "churn"]);
    for word in ["--live <N>", "--pairs <N>", "same-size", "[default: 6144]"] {
        assert!(churn.contains(word), "{word:?} missing from:\n{churn}");
    }
    assert!(gomap_ok(&["--version"]).starts_with("gomap "));
}

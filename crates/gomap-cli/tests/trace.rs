//! End-to-end tests of `gomap trace`: run the binary, then check the trace file against
//! the Chrome trace-event format (valid JSON, known phases, B/E spans that nest per
//! track, slices inside their spans) and against the growth log on stderr.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// A fresh directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gomap-trace-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    dir
}

fn gomap_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gomap")).args(args).current_dir(dir).output().expect("run the gomap binary")
}

/// Runs `gomap trace ARGS --out DIR/trace.json` and expects success; returns the parsed
/// trace and stderr.
fn trace_ok(name: &str, args: &[&str]) -> (Value, String) {
    let dir = temp_dir(name);
    let mut all = vec!["trace", "--quiet", "--out", "trace.json"];
    all.extend_from_slice(args);
    let out = gomap_in(&dir, &all);
    let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
    let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
    assert!(out.status.success(), "gomap {all:?} failed ({}):\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("trace: trace.json"), "the summary names the file:\n{stdout}");
    let text = std::fs::read_to_string(dir.join("trace.json")).expect("the trace file exists");
    let trace: Value = serde_json::from_str(&text).expect("the trace file is valid JSON");
    let _ = std::fs::remove_dir_all(&dir);
    (trace, stderr)
}

/// A span, from its B to its E event.
#[derive(Debug, Clone)]
struct Span {
    tid: u64,
    name: String,
    begin: f64,
    end: f64,
    begin_args: Value,
    end_args: Value,
}

/// What a valid trace holds.
#[derive(Debug, Default)]
struct Checked {
    spans: Vec<Span>,
    /// Complete slices (X) per tid.
    slices: BTreeMap<u64, usize>,
    instants: usize,
    /// Values of each counter track, in order.
    counters: BTreeMap<String, Vec<f64>>,
    thread_names: HashMap<u64, String>,
}

const SLACK_US: f64 = 1e-3;

/// A B event not yet closed: name, ts, args, and the latest end of a slice inside it.
type Open = (String, f64, Value, f64);

/// Checks the trace-event format and the nesting of every track; panics on the first
/// violation.
fn check_trace(trace: &Value) -> Checked {
    let events = trace["traceEvents"].as_array().expect("a traceEvents array");
    assert!(!events.is_empty());
    let mut checked = Checked::default();
    // Per track: the open B events, and the last timestamp seen.
    let mut stacks: HashMap<(u64, u64), Vec<Open>> = HashMap::new();
    let mut last_ts: HashMap<(u64, u64), f64> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("event {i} has no ph: {e}"));
        let pid = e["pid"].as_u64().unwrap_or_else(|| panic!("event {i} has no pid: {e}"));
        let name = e["name"].as_str().unwrap_or_else(|| panic!("event {i} has no name: {e}")).to_string();
        if ph == "M" {
            assert!(e["args"].is_object(), "metadata without args: {e}");
            if name == "thread_name" {
                let tid = e["tid"].as_u64().expect("tid");
                checked.thread_names.insert(tid, e["args"]["name"].as_str().expect("a thread name").to_string());
            }
            continue;
        }
        let ts = e["ts"].as_f64().unwrap_or_else(|| panic!("event {i} has no ts: {e}"));
        assert!(ts.is_finite() && ts >= 0.0, "bad ts: {e}");
        if ph == "C" {
            let args = e["args"].as_object().expect("a counter has args");
            assert!(!args.is_empty() && args.values().all(Value::is_number), "counter values are numbers: {e}");
            checked.counters.entry(name).or_default().push(args.values().next().unwrap().as_f64().unwrap());
            continue;
        }
        let tid = e["tid"].as_u64().unwrap_or_else(|| panic!("event {i} has no tid: {e}"));
        let track = (pid, tid);
        let last = last_ts.entry(track).or_insert(0.0);
        assert!(ts + SLACK_US >= *last, "time goes backwards on track {track:?} at event {i}: {e}");
        *last = ts;
        let stack = stacks.entry(track).or_default();
        match ph {
            "B" => stack.push((name, ts, e["args"].clone(), ts)),
            "E" => {
                let (open, begin, begin_args, slices_end) =
                    stack.pop().unwrap_or_else(|| panic!("E without a B on track {track:?}: {e}"));
                assert_eq!(open, name, "E closes a different span than the innermost B");
                assert!(ts + SLACK_US >= begin);
                assert!(ts + SLACK_US >= slices_end, "a slice ends after its span {name:?}");
                checked.spans.push(Span { tid, name, begin, end: ts, begin_args, end_args: e["args"].clone() });
            }
            "X" => {
                let dur = e["dur"].as_f64().unwrap_or_else(|| panic!("X without dur: {e}"));
                assert!(dur >= 0.0);
                let (_, begin, _, slices_end) =
                    stack.last_mut().unwrap_or_else(|| panic!("slice outside any span: {e}"));
                assert!(ts + SLACK_US >= *begin, "slice starts before its span: {e}");
                *slices_end = slices_end.max(ts + dur);
                *checked.slices.entry(tid).or_default() += 1;
            }
            "i" => {
                assert!(matches!(e["s"].as_str(), Some("t" | "p" | "g")), "instant scope: {e}");
                checked.instants += 1;
            }
            other => panic!("unexpected phase {other:?}: {e}"),
        }
    }
    for (track, stack) in stacks {
        assert!(stack.is_empty(), "spans left open on track {track:?}: {stack:?}");
    }
    checked
}

/// The growth spans, in order of their growth number.
fn growth_spans(checked: &Checked) -> Vec<Span> {
    let mut spans: Vec<Span> = checked.spans.iter().filter(|s| s.name.starts_with("growth ")).cloned().collect();
    spans.sort_by_key(|s| s.begin_args["growth"].as_u64().unwrap());
    spans
}

/// The GODEBUG-style lines of stderr: `growth N @T.TTTs map M: B a->b ...`.
fn log_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("growth ")).collect()
}

#[test]
fn a_growing_gomap_gives_one_nested_span_and_one_log_line_per_doubling() {
    // 5000 inserts of new keys into an empty map: B goes 0 -> 10, one doubling at a time.
    let (trace, stderr) = trace_ok("gomap", &["--keys", "5000", "--mix", "1:0:0"]);
    let checked = check_trace(&trace);
    let spans = growth_spans(&checked);
    assert_eq!(spans.len(), 10, "{spans:#?}");
    for (k, span) in spans.iter().enumerate() {
        assert_eq!(span.name, format!("growth {}: B {k}->{}", k + 1, k + 1));
        assert_eq!(span.begin_args["kind"], "doubling");
        assert_eq!(span.begin_args["trigger"], "load");
        assert_eq!(span.end_args["outcome"], "finished");
        assert_eq!(span.end_args["buckets"], 1u64 << k, "a growth evacuates its whole old array");
        assert!(span.end_args["writes"].as_u64().unwrap() >= 1);
        assert!(span.tid >= 10_000, "growths go on their map's track");
        assert_eq!(checked.thread_names[&span.tid], "map 1 growths");
    }
    // Growths of one map never overlap.
    assert!(spans.windows(2).all(|w| w[0].end <= w[1].begin + SLACK_US));

    // Every operation fits under the default cap, inside the worker's workload span.
    assert_eq!(checked.slices.get(&1), Some(&5000));
    assert_eq!(checked.thread_names[&1], "worker 0");
    assert!(checked.spans.iter().any(|s| s.name == "workload" && s.tid == 1));
    assert_eq!(checked.instants, 20, "one instant where each growth started and one where it finished");
    assert_eq!(checked.counters["len"].last(), Some(&5000.0), "the last len sample is the final len");
    assert_eq!(checked.counters["B"].last(), Some(&10.0));

    let other = &trace["otherData"];
    assert_eq!(other["ops"], 5000);
    assert_eq!(other["latency"]["insert"]["count"], 5000);
    assert_eq!(other["growths"]["finished"], 10);

    let lines = log_lines(&stderr);
    assert_eq!(lines.len(), 10, "one log line per growth:\n{stderr}");
    for (k, line) in lines.iter().enumerate() {
        let prefix = format!("growth {} @", k + 1);
        assert!(line.starts_with(&prefix), "{line}");
        assert!(line.contains(&format!("map 1: B {k}->{} load, ", k + 1)), "{line}");
        assert!(line.contains(&format!(" {} buckets, ", 1u64 << k)), "{line}");
        assert!(line.ends_with(" ms"), "{line}");
    }
}

#[test]
fn op_slices_are_capped_and_latency_is_still_complete() {
    let (trace, _) = trace_ok("cap", &["--keys", "20000", "--max-op-events", "1000"]);
    let checked = check_trace(&trace);
    // Half a regular sample, half the slowest operations.
    assert_eq!(checked.slices.values().sum::<usize>(), 1000);
    let latency = &trace["otherData"]["latency"];
    let counted: u64 = ["insert", "get", "remove"].iter().map(|op| latency[op]["count"].as_u64().unwrap_or(0)).sum();
    assert_eq!(counted, 20_000, "the histograms count every operation");

    let (trace, _) = trace_ok("nocap", &["--keys", "3000", "--max-op-events", "0"]);
    let checked = check_trace(&trace);
    assert!(checked.slices.is_empty());
    assert!(checked.counters.keys().any(|name| name.starts_with("latency, worker 0")));
}

#[test]
fn a_sharded_map_on_two_threads() {
    let (trace, stderr) =
        trace_ok("sharded", &["--map", "sharded", "--threads", "2", "--keys", "20000", "--dist", "uniform"]);
    let checked = check_trace(&trace);
    assert_eq!(checked.thread_names[&1], "worker 0");
    assert_eq!(checked.thread_names[&2], "worker 1");
    assert_eq!(checked.spans.iter().filter(|s| s.name == "workload").count(), 2);
    let spans = growth_spans(&checked);
    let maps: std::collections::BTreeSet<u64> = spans.iter().map(|s| s.tid).collect();
    assert!(maps.len() > 1, "each shard is a map of its own, with its own track");
    assert_eq!(log_lines(&stderr).len(), spans.len());
    assert_eq!(trace["otherData"]["threads"], 2);
}

#[test]
fn every_sync_map_can_be_traced() {
    for map in ["sync-map", "cow", "checked"] {
        let (trace, _) = trace_ok(map, &["--map", map, "--keys", "3000", "--dist", "zipf", "--zipf-exponent", "1.1"]);
        let checked = check_trace(&trace);
        assert!(!checked.spans.is_empty(), "{map}");
        assert!(trace["otherData"]["map"].as_str().unwrap().contains("sync::"), "{map}");
    }
}

#[test]
fn a_checked_map_shared_by_threads_fails_clearly_when_it_catches_them() {
    let dir = temp_dir("checked-threads");
    let out = gomap_in(&dir, &["trace", "--map", "checked", "--threads", "2", "--keys", "50000", "--out", "t.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Whether the two threads overlap is up to the scheduler; when they do, Go's check fires.
    if !out.status.success() {
        assert_eq!(out.status.code(), Some(1));
        assert!(stderr.contains("CheckedMap panics when threads use it at the same time"), "{stderr}");
        assert!(stderr.contains("concurrent map"), "{stderr}");
    }
    let text = std::fs::read_to_string(dir.join("t.json")).expect("the trace is written either way");
    check_trace(&serde_json::from_str(&text).expect("valid JSON"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_trace_can_go_to_stdout_and_has_a_default_file() {
    let dir = temp_dir("stdout");
    let out = gomap_in(&dir, &["trace", "--keys", "2000", "--out", "-"]);
    assert!(out.status.success());
    let trace: Value = serde_json::from_slice(&out.stdout).expect("stdout is the JSON trace alone");
    check_trace(&trace);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("trace: written to stdout"), "the summary goes to stderr:\n{stderr}");

    let out = gomap_in(&dir, &["trace", "--keys", "2000"]);
    assert!(out.status.success());
    let text = std::fs::read_to_string(dir.join("gomap-trace.json")).expect("the default file");
    check_trace(&serde_json::from_str(&text).expect("valid JSON"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_exit_2_with_a_clear_message() {
    let dir = temp_dir("bad");
    let cases: &[(&[&str], &str)] = &[
        (&["--threads", "2"], "needs a map that threads can share"),
        (&["--map", "btree"], "invalid value 'btree' for '--map <MAP>'"),
        (&["--dist", "pareto"], "invalid value 'pareto' for '--dist <DIST>'"),
        (&["--mix", "1:2"], "is not insert:get:remove weights"),
        (&["--mix", "0:0:0"], "must be positive"),
        (&["--keys", "0"], "must be at least 1"),
        (&["--keys", "1e12"], "more than the limit"),
        (&["--threads", "0"], "must be at least 1"),
        (&["--zipf-exponent", "1.5"], "only applies to --dist zipf"),
        (&["--dist", "zipf", "--zipf-exponent", "-1"], "must be above 0"),
        (&["--map", "sharded", "--threads", "4", "--ops", "3"], "fewer than --threads"),
        (&["--max-op-events", "lots"], "is not a whole number"),
        (&["--bogus"], "unexpected argument '--bogus'"),
    ];
    for (args, expected) in cases {
        let mut all = vec!["trace"];
        all.extend_from_slice(args);
        let out = gomap_in(&dir, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "gomap {all:?} should be a usage error:\n{stderr}");
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(stderr.contains(expected), "gomap {all:?}: expected {expected:?} in\n{stderr}");
        assert!(out.stdout.is_empty());
    }
    assert!(!dir.join("gomap-trace.json").exists(), "no trace for a bad command line");

    // A trace file that cannot be created: a run-time error, reported before the run.
    let out = gomap_in(&dir, &["trace", "--out", "no/such/dir/t.json"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.starts_with("gomap: cannot create the trace file no/such/dir/t.json"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing ran");
    let _ = std::fs::remove_dir_all(&dir);
}

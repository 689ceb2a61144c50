//! `gomap`: watch a Go 1.19-style hash map ([`gomap::GoMap`]) grow.
//!
//! This file holds the command-line definitions (clap derive) and the dispatch;
//! each subcommand lives in its own module.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

mod churn;
mod growth;
mod shrink;
mod tour;
mod trace;

/// Largest `--keys` / `--live` accepted: a map of about 4 GiB (6 GiB while it doubles).
const MAX_LIVE_KEYS: u64 = 100_000_000;

#[derive(Debug, Parser)]
#[command(
    name = "gomap",
    version,
    about = "Watch a Go 1.19-style hash map (gomap::GoMap) grow",
    long_about = "Watch a Go 1.19-style hash map (gomap::GoMap) grow.\n\n\
        GoMap is a port of Go 1.19's classic runtime map: 2^B buckets of 8 slots, \
        chained overflow buckets, and incremental growth. A growth starts on the insert \
        of a new key; from then on every write (insert, update or delete) evacuates up \
        to two old buckets into the new array until all 2^oldB old buckets are moved.\n\n\
        These subcommands drive a GoMap<u64, u64>, read map.stats() (O(1)) after every \
        write, and print one line per growth.",
    after_help = "Examples:\n  \
        gomap tour                         grow 0 -> 1,000,000 keys, one line per doubling\n  \
        gomap tour --keys 20000 --check    smaller, checking the map's invariants as it goes\n  \
        gomap churn                        same-size growths under FIFO delete+insert churn\n  \
        gomap trace                        write a Chrome/Perfetto trace of a workload's growths\n  \
        gomap shrink                       delete most keys, then give the memory back\n  \
        gomap help tour                    all options of a subcommand"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Grow a map from empty to N keys, printing one line per growth (doubling)
    #[command(long_about = "Grow a GoMap<u64, u64> from empty to N keys, printing one line per growth.\n\n\
            A doubling growth (B -> B+1, trigger \"load\") starts on the insert of a new key, \
            when no growth is in progress, if len+1 > 8 and len+1 > 13*(2^B/2), i.e. the load \
            factor would exceed 6.5. A same-size growth (trigger \"overflow\") starts instead \
            when overflow buckets >= 2^min(B,15); see `gomap churn`.\n\n\
            For each growth the table shows the insert that started it, the insert that \
            finished the evacuation, the writes it took (both inclusive) and writes/2^oldB \
            (about 0.69 for large maps in Go). The start inserts are deterministic \
            (9, 14, 27, 53, 105, ...); the finishing inserts depend on the map's hash seed, \
            which is random per map (Go's hash0), so they vary from run to run. \
            The final MapStats follow the table.")]
    Tour(TourArgs),

    /// Hold a map at a fixed size under FIFO churn to show same-size growths
    #[command(long_about = "Hold a GoMap<u64, u64> at a fixed size under FIFO churn (delete the oldest \
            key, insert a new one) and print one line per growth.\n\n\
            The map is made with capacity --live (Go's make(map, hint) sizing), filled with \
            --live keys, then runs --pairs delete+insert pairs. Deletes leave tombstones and \
            never free overflow buckets, so the overflow count creeps up until it reaches \
            2^min(B,15); the next insert of a new key then starts a same-size growth \
            (trigger \"overflow\"), which packs the live entries densely into a fresh array of \
            the same 2^B buckets. In Go 1.19 (6144 keys, B = 10) that happens every \
            ~60,000-75,000 pairs and each growth takes ~710 writes (~0.69 * 2^B).")]
    Churn(ChurnArgs),

    /// Run a workload and write a Chrome trace (Perfetto) of its growths and op latencies
    #[command(
        long_about = "Run a workload on a map and write a Chrome trace-event file of it (open it in \
            https://ui.perfetto.dev or chrome://tracing), with a GODEBUG-style line per growth on stderr.\n\n\
            The workload: --ops operations (insert, get or remove, drawn by the --mix weights) on keys \
            drawn from 0..--keys by --dist, split over --threads worker threads. With the defaults a \
            GoMap grows to about 80,000 keys, and gets and removes find keys inserted before them. The map is a GoMap, or \
            one of gomap::sync's maps (--map); only those can be shared by several threads.\n\n\
            Growths are learnt from the map's own tracing events (gomap's `tracing` feature): the trace \
            shows each growth as a span (B/E) on a track of its map, from the insert that started it \
            to the write that finished it, with instants on the worker that started or finished it. \
            Every operation is timed: the trace gets per-operation slices (X) for every operation up to \
            --max-op-events, else a regular sample of half that many plus the slowest operations for the \
            other half, and counter tracks (C) of the map's len (for a GoMap also B, load factor and \
            bytes) and of per-window latency. Latency percentiles per operation go in the summary and \
            in the trace's otherData.\n\n\
            Each growth line on stderr reads: growth N @start map M: B old->new trigger, entries and \
            bytes at its start: writes it took, old buckets evacuated (those moved by finish_growth or \
            evacuate_step, Go has none, in parentheses), entries moved, wall time.",
        after_help = "Examples:\n  \
            gomap trace --keys 1e6                                grow a GoMap to ~800,000 keys\n  \
            gomap trace --map sharded --threads 4 --dist zipf     a ShardedMap under skewed keys\n  \
            gomap trace --mix 50:0:50 --ops 2e6 --keys 1e5        churn: same-size growths\n  \
            gomap trace --out - --quiet | jq '.otherData'         the trace on stdout"
    )]
    Trace(TraceArgs),

    /// Delete most of a map's keys, then give the memory back with shrink_to_fit
    #[command(long_about = "Grow a GoMap<u64, u64> to N keys, delete all but the first M, and call \
            shrink_to_fit(), printing the map's stats after each step.\n\n\
            A Go map never shrinks (golang/go#20135): after the deletes it keeps its 2^B buckets, \
            and with them its memory. shrink_to_fit() moves the entries left into the array \
            Go's make(map, M) would allocate, in one bulk pass (like reserve). Keys are 1..N in \
            --key-order; the first M inserted are kept.")]
    Shrink(ShrinkArgs),
}

/// Options shared by all subcommands.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Call GoMap::check_invariants() after every growth and at the end
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct TourArgs {
    /// Number of distinct keys to insert (accepts 20000, 1_000_000, 1e6)
    #[arg(
        long,
        value_name = "N",
        default_value = "1000000",
        value_parser = parse_live_keys,
        allow_negative_numbers = true
    )]
    pub keys: u64,

    /// Which u64 keys to insert
    #[arg(long, value_name = "ORDER", value_enum, default_value_t = KeyOrder::Sequential)]
    pub key_order: KeyOrder,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ChurnArgs {
    /// Number of live keys the map holds (also its capacity hint)
    #[arg(
        long,
        value_name = "N",
        default_value = "6144",
        value_parser = parse_live_keys,
        allow_negative_numbers = true
    )]
    pub live: u64,

    /// Number of delete-oldest + insert-new pairs to run (accepts 2e6 etc.)
    #[arg(
        long,
        value_name = "N",
        default_value = "2000000",
        value_parser = parse_pairs,
        allow_negative_numbers = true
    )]
    pub pairs: u64,

    /// Which u64 keys to insert. The default is pseudo-random because foldhash spreads
    /// sequential u64 keys over the buckets unevenly from seed to seed (often more evenly
    /// than random), which makes same-size growths rarer and erratic; with splitmix64 keys
    /// the map behaves like Go's (whose hash makes any keys look random)
    #[arg(long, value_name = "ORDER", value_enum, default_value_t = KeyOrder::Splitmix64)]
    pub key_order: KeyOrder,

    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The map to shrink: grown as `gomap tour` grows one
    #[command(flatten)]
    pub grow: TourArgs,

    /// Number of keys to keep (the first inserted; 0 empties the map); at most --keys
    #[arg(long, value_name = "M", default_value = "10000", value_parser = parse_whole, allow_negative_numbers = true)]
    pub keep: u64,
}

impl ShrinkArgs {
    /// Checks what one argument's parser cannot.
    fn validate(&self) -> Result<(), String> {
        if self.keep > self.grow.keys {
            return Err(format!("--keep {} is more than --keys {}: keep at most every key", self.keep, self.grow.keys));
        }
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct TraceArgs {
    /// Keys are drawn from 0..N (accepts 20000, 1_000_000, 1e6)
    #[arg(
        long,
        value_name = "N",
        default_value = "100000",
        value_parser = parse_live_keys,
        allow_negative_numbers = true
    )]
    pub keys: u64,

    /// Operations in all, over all threads [default: the --keys value]
    #[arg(long, value_name = "N", value_parser = parse_ops, allow_negative_numbers = true)]
    pub ops: Option<u64>,

    /// How operations pick their key
    #[arg(long, value_name = "DIST", value_enum, default_value_t = Dist::Sequential)]
    pub dist: Dist,

    /// Exponent s of --dist zipf: key k (k = 0, 1, ...) is drawn with probability
    /// proportional to 1/(k+1)^s [default: 1]
    #[arg(long, value_name = "S", value_parser = parse_exponent, allow_negative_numbers = true)]
    pub zipf_exponent: Option<f64>,

    /// Operation mix: insert:get:remove weights (e.g. 80:15:5, or 1:0:1)
    #[arg(long, value_name = "I:G:R", default_value = "80:15:5", value_parser = parse_mix)]
    pub mix: Mix,

    /// The map to drive
    #[arg(long = "map", value_name = "MAP", value_enum, default_value_t = MapKind::Gomap)]
    pub map: MapKind,

    /// Worker threads sharing the map (--map sync-map, sharded, cow or checked)
    #[arg(long, value_name = "T", default_value = "1", value_parser = parse_threads, allow_negative_numbers = true)]
    pub threads: usize,

    /// Trace file to write ("-": standard output, the summary then goes to stderr)
    #[arg(long, short, value_name = "FILE", default_value = "gomap-trace.json")]
    pub out: PathBuf,

    /// Most per-operation slices in the trace (0: none, latency counters and percentiles only)
    #[arg(long, value_name = "N", default_value = "50000", value_parser = parse_event_cap)]
    pub max_op_events: u64,

    /// Seed of the workload's random numbers (the map's hash seed is random regardless)
    #[arg(long, value_name = "SEED", default_value_t = 1)]
    pub seed: u64,

    /// Don't draw the progress bar (drawn on runs of 250,000 operations or more, when stderr
    /// is a terminal)
    #[arg(long, short)]
    pub quiet: bool,
}

impl TraceArgs {
    /// Checks that need several arguments at once.
    fn validate(&self) -> Result<(), String> {
        if self.threads > 1 && self.map == MapKind::Gomap {
            return Err(format!(
                "--threads {} needs a map that threads can share: --map sharded, sync-map, cow or checked \
                 (a GoMap needs &mut to write)",
                self.threads
            ));
        }
        if self.zipf_exponent.is_some() && self.dist != Dist::Zipf {
            return Err("--zipf-exponent only applies to --dist zipf".to_string());
        }
        let ops = self.ops.unwrap_or(self.keys);
        if (ops as u128) < self.threads as u128 {
            return Err(format!("--ops {ops} is fewer than --threads {}: give every thread work", self.threads));
        }
        Ok(())
    }
}

/// How `gomap trace` picks each operation's key from 0..keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dist {
    /// Inserts take keys in order (0, 1, 2, ..., wrapping at --keys; thread t starts at
    /// t*ops/threads); gets and removes pick uniformly among the keys the thread inserted
    Sequential,
    /// Uniformly random keys
    Uniform,
    /// Zipf-distributed keys: a few hot keys, a long tail (see --zipf-exponent)
    Zipf,
}

/// The map `gomap trace` drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MapKind {
    /// gomap::GoMap, on one thread
    Gomap,
    /// gomap::sync::SyncMap (Go's sync.Map)
    SyncMap,
    /// gomap::sync::ShardedMap (read-write-locked GoMap shards)
    Sharded,
    /// gomap::sync::CowMap (copy on write: every write copies the map)
    Cow,
    /// gomap::sync::CheckedMap (panics on concurrent use, as Go's runtime does)
    Checked,
}

/// insert:get:remove weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub insert: u32,
    pub get: u32,
    pub remove: u32,
}

/// Parses `I:G:R`, three whole-number weights, not all zero.
fn parse_mix(s: &str) -> Result<Mix, String> {
    let parts: Vec<&str> = s.split(':').map(str::trim).collect();
    let bad = || format!("'{s}' is not insert:get:remove weights (examples: 80:15:5, 1:0:1)");
    if parts.len() != 3 {
        return Err(bad());
    }
    let mut w = [0u32; 3];
    for (slot, part) in w.iter_mut().zip(&parts) {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        *slot = part.parse().map_err(|_| format!("'{part}' is too large a weight"))?;
    }
    if w.iter().map(|&x| u64::from(x)).sum::<u64>() == 0 {
        return Err("at least one of the insert:get:remove weights must be positive".to_string());
    }
    Ok(Mix { insert: w[0], get: w[1], remove: w[2] })
}

/// Parses the Zipf exponent: a finite number above 0.
fn parse_exponent(s: &str) -> Result<f64, String> {
    let x: f64 = s.trim().parse().map_err(|_| format!("'{s}' is not a number (example: 1.1)"))?;
    if !(x.is_finite() && x > 0.0 && x <= 100.0) {
        return Err(format!("the exponent must be above 0 and at most 100, not {s}"));
    }
    Ok(x)
}

/// Largest `--ops` accepted.
const MAX_OPS: u64 = 10_000_000_000;

fn parse_ops(s: &str) -> Result<u64, String> {
    let n = parse_count(s)?;
    if n > MAX_OPS {
        return Err(format!(
            "{} operations is more than the limit of {}",
            growth::thousands(n),
            growth::thousands(MAX_OPS)
        ));
    }
    Ok(n)
}

/// Largest `--threads` accepted.
const MAX_THREADS: u64 = 1024;

fn parse_threads(s: &str) -> Result<usize, String> {
    let n = parse_count(s)?;
    if n > MAX_THREADS {
        return Err(format!("{n} threads is more than the limit of {MAX_THREADS}"));
    }
    Ok(n as usize)
}

/// `--max-op-events`: 0 allowed, at most 10 million (about 1 GB of JSON).
fn parse_event_cap(s: &str) -> Result<u64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    let n = parse_count(s)?;
    if n > 10_000_000 {
        return Err(format!("{} slices is more than the limit of 10,000,000", growth::thousands(n)));
    }
    Ok(n)
}

/// The key stream. Both orders produce distinct keys, so insert #i makes len == i.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyOrder {
    /// 1, 2, 3, ...
    Sequential,
    /// splitmix64(1), splitmix64(2), ... (a fixed pseudo-random, duplicate-free stream)
    Splitmix64,
}

impl KeyOrder {
    /// The `i`-th key (`i` counts from 1).
    pub fn key(self, i: u64) -> u64 {
        match self {
            KeyOrder::Sequential => i,
            KeyOrder::Splitmix64 => splitmix64(i),
        }
    }

    /// Human description for the output's header line.
    pub fn describe(self) -> &'static str {
        match self {
            KeyOrder::Sequential => "sequential keys 1, 2, 3, ...",
            KeyOrder::Splitmix64 => "splitmix64 keys (fixed stream: splitmix64(1), splitmix64(2), ...)",
        }
    }
}

/// splitmix64's output function applied to state `i * golden gamma`: a bijection
/// on u64, so distinct `i` give distinct keys.
fn splitmix64(i: u64) -> u64 {
    let mut z = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Parses a positive whole number: `20000`, `1_000_000`, `1,000,000` or `1e6`.
fn parse_count(s: &str) -> Result<u64, String> {
    match parse_whole(s)? {
        0 => Err("must be at least 1".to_string()),
        n => Ok(n),
    }
}

/// Parses a whole number, 0 included, spelt as [`parse_count`] accepts.
fn parse_whole(s: &str) -> Result<u64, String> {
    let cleaned: String = s.trim().chars().filter(|c| *c != '_' && *c != ',').collect();
    let bad = || format!("'{s}' is not a whole number (examples: 20000, 1_000_000, 1e6)");
    let (mantissa, exponent) = match cleaned.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<u32>().map_err(|_| bad())?),
        None => (cleaned.as_str(), 0),
    };
    if mantissa.is_empty() || !mantissa.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let too_big = || format!("'{s}' is too large");
    let base = mantissa.parse::<u64>().map_err(|_| too_big())?;
    let scale = 10u64.checked_pow(exponent).ok_or_else(too_big)?;
    base.checked_mul(scale).ok_or_else(too_big)
}

fn parse_live_keys(s: &str) -> Result<u64, String> {
    let n = parse_count(s)?;
    if n > MAX_LIVE_KEYS {
        return Err(format!(
            "{} keys is more than the limit of {}",
            growth::thousands(n),
            growth::thousands(MAX_LIVE_KEYS)
        ));
    }
    Ok(n)
}

fn parse_pairs(s: &str) -> Result<u64, String> {
    parse_count(s)
}

/// Exits with clap's usage error for `subcommand` (status 2, the message on stderr).
fn usage_error(subcommand: &str, message: String) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let sub = cli.find_subcommand_mut(subcommand).expect("a defined subcommand");
    sub.error(ErrorKind::ArgumentConflict, message).exit()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Tour(args) => tour::run(args),
        Command::Churn(args) => churn::run(args),
        Command::Trace(args) => {
            if let Err(message) = args.validate() {
                usage_error("trace", message);
            }
            trace::run(args)
        }
        Command::Shrink(args) => {
            if let Err(message) = args.validate() {
                usage_error("shrink", message);
            }
            shrink::run(args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `gomap tour | head`: the reader went away; nothing left to say.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gomap: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parse_count_accepts_common_spellings() {
        assert_eq!(parse_count("20000"), Ok(20_000));
        assert_eq!(parse_count("1_000_000"), Ok(1_000_000));
        assert_eq!(parse_count("1,000,000"), Ok(1_000_000));
        assert_eq!(parse_count("1e6"), Ok(1_000_000));
        assert_eq!(parse_count(" 7 "), Ok(7));
        assert_eq!(parse_whole("0"), Ok(0));
        assert_eq!(parse_whole("2e3"), Ok(2_000));
    }

    #[test]
    fn parse_count_rejects_garbage_zero_and_overflow() {
        assert!(parse_count("abc").is_err());
        assert!(parse_count("").is_err());
        assert!(parse_count("-5").is_err());
        assert!(parse_count("1.5").is_err());
        assert!(parse_count("e6").is_err());
        assert_eq!(parse_count("0"), Err("must be at least 1".to_string()));
        assert_eq!(parse_count("0e9"), Err("must be at least 1".to_string()));
        assert!(parse_count("99999999999999999999").is_err());
        assert!(parse_count("1e30").is_err());
        assert!(parse_live_keys("1e9").is_err());
    }

    #[test]
    fn parse_mix_accepts_weights_and_rejects_the_rest() {
        assert_eq!(parse_mix("80:15:5"), Ok(Mix { insert: 80, get: 15, remove: 5 }));
        assert_eq!(parse_mix("1:0:1"), Ok(Mix { insert: 1, get: 0, remove: 1 }));
        assert!(parse_mix("0:0:0").unwrap_err().contains("positive"));
        for bad in ["", "1:2", "1:2:3:4", "a:b:c", "-1:2:3", "1.5:1:1", "1::1", "99999999999:1:1"] {
            assert!(parse_mix(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn trace_argument_combinations_are_checked() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from(["gomap", "trace"].iter().chain(args)).expect("parses");
            match cli.command {
                Command::Trace(trace) => trace.validate(),
                _ => unreachable!(),
            }
        };
        assert!(parse(&[]).is_ok());
        assert!(parse(&["--map", "sharded", "--threads", "4"]).is_ok());
        assert!(parse(&["--threads", "2"]).unwrap_err().contains("--map sharded"));
        assert!(parse(&["--zipf-exponent", "1.2"]).unwrap_err().contains("--dist zipf"));
        assert!(parse(&["--dist", "zipf", "--zipf-exponent", "1.2"]).is_ok());
        assert!(parse(&["--map", "cow", "--threads", "8", "--ops", "4"]).unwrap_err().contains("fewer"));
        assert!(parse_exponent("0").is_err() && parse_exponent("nan").is_err() && parse_exponent("x").is_err());
        assert_eq!(parse_event_cap("0"), Ok(0));
        assert!(parse_threads("2000").is_err());
    }

    #[test]
    fn splitmix64_is_duplicate_free_on_a_prefix() {
        let mut seen = std::collections::HashSet::new();
        assert!((1..=100_000u64).all(|i| seen.insert(splitmix64(i))));
        assert_eq!(KeyOrder::Sequential.key(42), 42);
    }
}

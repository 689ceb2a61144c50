//! `gomap`: watch a Go 1.19-style hash map ([`gomap::GoMap`]) grow.
//!
//! This file holds the command-line definitions (clap derive) and the dispatch;
//! each subcommand lives in its own module.

use std::io;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod churn;
mod growth;
mod tour;

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
    let n = base.checked_mul(scale).ok_or_else(too_big)?;
    if n == 0 {
        return Err("must be at least 1".to_string());
    }
    Ok(n)
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Tour(args) => tour::run(args),
        Command::Churn(args) => churn::run(args),
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
    fn splitmix64_is_duplicate_free_on_a_prefix() {
        let mut seen = std::collections::HashSet::new();
        assert!((1..=100_000u64).all(|i| seen.insert(splitmix64(i))));
        assert_eq!(KeyOrder::Sequential.key(42), 42);
    }
}

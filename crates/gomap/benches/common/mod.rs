//! Helpers shared by the benches (each bench uses only some of them).
#![allow(dead_code)]

/// splitmix64: a tiny, fixed-seed PRNG so every map sees the same keys.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// The first `n` distinct values of the splitmix64 stream from a fixed seed: the same keys
/// in every bench and every run.
pub fn distinct_keys(n: usize) -> Vec<u64> {
    let mut rng = SplitMix64(0x5EED_5EED_601A_3A75);
    let mut seen = hashbrown::HashSet::with_capacity(n);
    let mut keys = Vec::with_capacity(n);
    while keys.len() < n {
        let k = rng.next_u64();
        if seen.insert(k) {
            keys.push(k);
        }
    }
    keys
}

/// Whether the command line asks for a bench's interleaved ratios (timed in alternation after
/// criterion's runs): not in criterion's `--test` or `--list` modes, and not when a filter
/// names only other benchmarks (`-- interleaved` asks for them alone).
pub fn interleaved_wanted() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    !args.iter().any(|a| a == "--test" || a == "--list")
        && (filters.is_empty() || filters.iter().any(|f| f.contains("interleaved")))
}

/// `median [lower quartile, upper quartile]` of `values`.
pub fn median_and_quartiles(mut values: Vec<f64>, decimals: usize) -> String {
    values.sort_by(f64::total_cmp);
    let at = |q: usize| values[(values.len() - 1) * q / 4];
    format!("{:.decimals$} [{:.decimals$}, {:.decimals$}]", at(2), at(1), at(3))
}

/// Go's own map as a peer: `tools/gobench`, built with the Go toolchain whose `go` command
/// `GOMAP_BENCH_GO` names (e.g. `/usr/lib/go-1.19/bin/go` after `apt-get install
/// golang-1.19-go`). Unset, the benches leave Go out. The comparison is meant for Go 1.19's
/// classic map; another version is measured all the same, and named in the output.
pub struct GoPeer {
    exe: std::path::PathBuf,
    /// What `go version` printed.
    pub version: String,
}

impl GoPeer {
    /// Builds the Go program if `GOMAP_BENCH_GO` is set; panics with the reason if that fails.
    pub fn from_env() -> Option<GoPeer> {
        let go = std::env::var_os("GOMAP_BENCH_GO")?;
        let run = |cmd: &mut std::process::Command, what: &str| {
            let out = cmd.output().unwrap_or_else(|e| panic!("GOMAP_BENCH_GO: cannot run {go:?} ({what}): {e}"));
            assert!(out.status.success(), "GOMAP_BENCH_GO: {what} failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        };
        let version = run(std::process::Command::new(&go).arg("version"), "go version");
        let exe = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("gobench");
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/gobench");
        run(std::process::Command::new(&go).arg("build").arg("-o").arg(&exe).current_dir(source), "go build");
        if !version.contains("go1.19") {
            eprintln!("note: {version} is not Go 1.19: its map is not the one gomap ports");
        }
        Some(GoPeer { exe, version })
    }

    /// Runs the Go program with `args`; its output lines start with a tag (see
    /// tools/gobench/main.go).
    pub fn run(&self, args: &[&str]) -> GoOutput {
        let out = std::process::Command::new(&self.exe)
            .args(args)
            .stderr(std::process::Stdio::inherit())
            .output()
            .expect("start tools/gobench");
        assert!(out.status.success(), "tools/gobench {args:?} failed: {}", out.status);
        GoOutput(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// What a run of tools/gobench printed.
pub struct GoOutput(String);

impl GoOutput {
    /// The numbers on the line that starts with `tag`.
    pub fn numbers(&self, tag: &str) -> Vec<f64> {
        let line = self
            .0
            .lines()
            .find_map(|l| l.strip_prefix(tag))
            .unwrap_or_else(|| panic!("tools/gobench printed no {tag} line: {}", self.0));
        line.split_whitespace().map(|v| v.parse().expect("a number from tools/gobench")).collect()
    }
}

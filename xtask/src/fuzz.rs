//! Fuzzing of everything feth parses from outside (fuzz/, cargo-fuzz with libFuzzer): each
//! target runs from its seed corpus (fuzz/seeds/TARGET, in the repository) for a bounded time
//! and must find no panic, hang (an input slower than TIMEOUT_S) or unbounded allocation
//! (RSS_LIMIT_MB). What libFuzzer finds is written to target/fuzz/TARGET; the seeds stay as
//! they are.
use crate::{
    cargo::{nightly_cargo, workspace_root},
    setup::status,
};

/// The targets of fuzz/Cargo.toml.
pub const TARGETS: &[&str] = &["record", "topology", "capture", "impair", "media", "prometheus"];
const CARGO_FUZZ_VERSION: &str = "0.13.2";
/// One input taking longer than this is a hang.
const TIMEOUT_S: u32 = 10;
/// More than this resident is an allocation out of proportion to any input.
const RSS_LIMIT_MB: u32 = 1024;
/// The longest input tried: larger than any alias, topology file or test capture needs.
const MAX_LEN: u32 = 65536;

/// Builds every target, then runs each for `seconds`.
pub fn run(seconds: u32) -> Result<(), String> {
    crate::setup::cargo_tool("cargo-fuzz", CARGO_FUZZ_VERSION)?;
    let root = workspace_root();
    status(nightly_cargo().args(["fuzz", "build", "--release"]))?;
    for target in TARGETS {
        let work = root.join("target/fuzz").join(target);
        let corpus = work.join("corpus");
        let artifacts = work.join("artifacts");
        for dir in [&corpus, &artifacts] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let seeds = root.join("fuzz/seeds").join(target);
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        // New inputs go to the first directory (target/), the seeds are only read.
        status(
            nightly_cargo()
                .args(["fuzz", "run", "--release", target])
                .arg(&corpus)
                .arg(&seeds)
                .arg("--")
                .arg(format!("-max_total_time={seconds}"))
                .arg(format!("-timeout={TIMEOUT_S}"))
                .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
                .arg(format!("-max_len={MAX_LEN}"))
                .arg(format!("-artifact_prefix={}/", artifacts.display()))
                .arg("-print_final_stats=1"),
        )
        .map_err(|e| format!("fuzz target {target} found a failure (the input is in {}): {e}", artifacts.display()))?;
    }
    Ok(())
}

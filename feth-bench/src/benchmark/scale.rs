//! Time and memory to bring many pairs up and down, in one process (what one `create` with
//! many names plus `peer` per pair does).
use std::time::Instant;

use feth_common::Mode;
use serde::Serialize;

use feth_control::{
    error::{Context as _, Result},
    kernel::context::Context,
    kernel::netns,
    ops::{self, PeerOptions, PortSpec},
    with_state,
};

use crate::benchmark::progress::Progress;

const NS: &str = "fbench-scale";

#[derive(Clone, Debug, Serialize)]
pub struct ScaleResult {
    pub pairs: usize,
    pub mode: &'static str,
    pub up_seconds: f64,
    pub down_seconds: f64,
    /// Kernel memory (unreclaimable slab + per-CPU) per pair while they were up.
    pub kib_per_pair: f64,
}

/// Kernel memory that interfaces, queues, maps and links take: unreclaimable slab plus
/// per-CPU allocations (MemAvailable swings with the page cache and hides them).
fn kernel_memory_kib() -> Result<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").context("read /proc/meminfo")?;
    let field = |name: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok(field("SUnreclaim:") + field("Percpu:"))
}

fn names(pairs: usize) -> Vec<(String, String)> {
    (0..pairs).map(|i| (format!("fsa{i}"), format!("fsb{i}"))).collect()
}

/// Each count in each mode: `up` of that many pairs in one command, then `down` of all.
pub fn scale(ctx: &Context, counts: &[usize], progress: &Progress) -> Result<Vec<ScaleResult>> {
    let section = progress.section("scale", counts.len() * 2);
    let mut results = Vec::new();
    for (&pairs, mode) in counts.iter().flat_map(|c| [Mode::Tc, Mode::Xdp].map(|m| (c, m))) {
        section.measuring(&format!("{pairs} pairs, {} mode", mode.name()));
        if netns::exists(NS) {
            netns::delete(NS)?;
        }
        netns::ensure(NS)?;
        let before = kernel_memory_kib()?;
        let start = Instant::now();
        let spec = |name: &str| PortSpec { name: name.into(), netns: Some(NS.into()), mtu: None, mode: None };
        // One `up` with every pair: one process, as `feth-loader up A B C D ...` does.
        let up = with_state(ctx, |state| {
            let pairs: Vec<(PortSpec, PortSpec)> = names(pairs).iter().map(|(a, b)| (spec(a), spec(b))).collect();
            ops::up_many(state, &pairs, PeerOptions { mode: Some(mode), hwcsum: None })
        });
        let up_seconds = start.elapsed().as_secs_f64();
        let after = kernel_memory_kib()?;
        let start = Instant::now();
        let down = with_state(ctx, |state| {
            let all: Vec<String> = names(pairs)
                .into_iter()
                .flat_map(|(a, b)| [a, b])
                .filter(|n| state.find(n).ok().flatten().is_some())
                .collect();
            let all: Vec<&str> = all.iter().map(String::as_str).collect();
            ops::destroy_many(state, &all)
        });
        let down_seconds = start.elapsed().as_secs_f64();
        netns::delete(NS)?;
        up?;
        down?;
        let r = ScaleResult {
            pairs,
            mode: mode.name(),
            up_seconds,
            down_seconds,
            kib_per_pair: after.saturating_sub(before) as f64 / pairs as f64,
        };
        section.done(&format!(
            "{} pairs ({}): up {:.2}s down {:.2}s, {:.0} KiB per pair",
            r.pairs, r.mode, r.up_seconds, r.down_seconds, r.kib_per_pair
        ));
        results.push(r);
    }
    Ok(results)
}

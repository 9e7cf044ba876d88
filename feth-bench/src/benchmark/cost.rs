//! `--program-cost`: how long the program that crosses a row's frames runs per frame, from the
//! kernel's own BPF statistics (BPF_ENABLE_STATS, 5.8). What feth's control plane costs
//! (port lookup, counters, protocol parse, switches) shows in nanoseconds next to the bare
//! redirects', without the rest of the path that the packet rate also carries. The statistics
//! are on only while the packet-rate table is measured (the kernel turns them off when the
//! last holder closes its descriptor); they time every BPF program on the machine, so the
//! rates of such a run each carry two clock reads per program run.
use std::os::fd::OwnedFd;

use aya::programs::ProgramInfo;
use feth_common::names::{PROG_TC_WIRE, PROG_XDP_WIRE};
use feth_control::{
    error::{Context as _, FethError, Result},
    kernel::context::Context,
};

use crate::{
    benchmark::rates::Row,
    object::{BenchObject, REDIRECT, TC_REDIRECT, TC_REDIRECT_PEER},
};

/// Held while the statistics are wanted.
pub struct Timing(#[allow(dead_code)] OwnedFd);

/// Turns the kernel's BPF run-time statistics on until the returned value is dropped.
pub fn enable() -> Result<Timing> {
    aya::sys::enable_stats(aya::sys::Stats::RunTime)
        .map(Timing)
        .map_err(|e| FethError::KernelFeature(format!("--program-cost needs BPF_ENABLE_STATS (Linux 5.8): {e}")))
}

/// A program's total run time and run count so far.
#[derive(Clone, Copy, Debug)]
pub struct Reading {
    ns: u64,
    runs: u64,
}

impl Reading {
    /// Nanoseconds per run between `self` and a later reading; None without runs.
    pub fn per_run_since(self, before: Reading) -> Option<f64> {
        let runs = self.runs.checked_sub(before.runs).filter(|&r| r > 0)?;
        Some(self.ns.saturating_sub(before.ns) as f64 / runs as f64)
    }
}

/// The program that crosses `row`'s frames now, if the row has one: feth's pinned programs
/// (every feth row of the bench shares one loader state), or the bench object's bare redirects.
pub fn reading(ctx: &Context, objects: &BenchObject, row: Row) -> Result<Option<Reading>> {
    let info = match row {
        Row::FethXdp | Row::FethXdpImpaired => pinned(ctx, PROG_XDP_WIRE)?,
        Row::FethTc => pinned(ctx, PROG_TC_WIRE)?,
        Row::MinimalDevmap => objects.program_info(REDIRECT)?,
        Row::MinimalTc => objects.program_info(TC_REDIRECT)?,
        Row::MinimalPeer => objects.program_info(TC_REDIRECT_PEER)?,
        Row::PlainVeth | Row::Bridge => return Ok(None),
    };
    Ok(Some(Reading { ns: info.run_time().as_nanos() as u64, runs: info.run_count() }))
}

fn pinned(ctx: &Context, name: &str) -> Result<ProgramInfo> {
    ProgramInfo::from_pin(ctx.state.pin_path(name)).context(format!("read {name}'s run time"))
}

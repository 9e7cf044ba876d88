//! One benchmark run from start to end, and its report: JSON or Markdown tables for the README.
pub mod cost;
pub mod latency;
pub mod measure;
pub mod networks;
pub mod plot;
pub mod progress;
pub mod rates;
pub mod scale;
pub mod stats;
pub mod tcp;

use std::fmt::Write as _;

use feth_control::{
    error::{FethError, Result},
    kernel::context::Context,
};
use serde::Serialize;

use self::{
    latency::LatencyResult,
    progress::Progress,
    rates::{RATIOS, RateOptions, Row, Sample},
    scale::ScaleResult,
    stats::{CostSummary, RateSummary, RatioSummary, Spread},
    tcp::TcpResult,
};

/// What to measure; 0 seconds (or no counts) skips a table.
#[derive(Clone, Debug)]
pub struct Options {
    pub rates: RateOptions,
    pub tcp_seconds: u32,
    pub latency_seconds: u32,
    pub scale: Vec<usize>,
}

#[derive(Serialize)]
pub struct Report {
    pub machine: Machine,
    pub rounds: usize,
    pub seconds_per_slice: f64,
    pub sizes: Vec<usize>,
    pub packet_rates: Vec<RateSummary>,
    pub ratios: Vec<RatioSummary>,
    /// With `--program-cost`.
    pub program_costs: Vec<CostSummary>,
    pub samples: Vec<Sample>,
    pub tcp: Option<Vec<TcpResult>>,
    pub latency: Option<Vec<LatencyResult>>,
    pub scale: Vec<ScaleResult>,
}

#[derive(Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    pub generator_cpus: Vec<usize>,
}

impl Machine {
    fn this(generator_cpus: &[usize]) -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
            generator_cpus: generator_cpus.to_vec(),
        }
    }
}

/// Frame sizes the generator can send: a live frame fits one page with its headroom.
pub const FRAME_SIZES: std::ops::RangeInclusive<usize> = 60..=3000;

/// Every table in turn: packet rates, TCP, latency, scale.
pub fn run(ctx: &Context, opts: &Options, progress: &Progress) -> Result<Report> {
    crate::object::require_live_frames(ctx, "bench")?;
    let r = &opts.rates;
    if let Some(bad) = r.sizes.iter().find(|s| !FRAME_SIZES.contains(s)) {
        return Err(FethError::Invalid(format!(
            "frame size {bad}: the generator sends {} to {} bytes (a live frame fits one page)",
            FRAME_SIZES.start(),
            FRAME_SIZES.end()
        )));
    }
    if r.rounds == 0 {
        return Err(FethError::Invalid("--rounds must be at least 1".into()));
    }
    progress.note(&format!(
        "{} rounds (more, up to {} s, until every ratio is within +/-{:.0}%) of {} s slices of every row and size, rows in turn, generator on CPUs {:?}",
        r.rounds,
        r.max_seconds,
        rates::PINNED * 100.0,
        r.seconds,
        r.cpus
    ));
    let samples = measure::packet_rates(ctx, r, progress)?;
    let tcp = optional(opts.tcp_seconds, "iperf3", "TCP", progress, |s, p| tcp::tcp_throughput(ctx, s, p))?;
    let latency = optional(opts.latency_seconds, "sockperf", "latency", progress, |s, p| latency::latency(ctx, s, p))?;
    let counts: Vec<usize> = opts.scale.iter().copied().filter(|&n| n > 0).collect();
    let scale = scale::scale(ctx, &counts, progress)?;
    Ok(Report {
        machine: Machine::this(&r.cpus),
        // What was measured: --rounds, or more until the ratios were pinned.
        rounds: samples.iter().map(|s| s.round + 1).max().unwrap_or(0),
        seconds_per_slice: r.seconds,
        sizes: r.sizes.clone(),
        packet_rates: stats::rates(&samples, &r.sizes),
        ratios: stats::ratios(&samples, &r.sizes),
        program_costs: stats::costs(&samples, &r.sizes),
        samples,
        tcp,
        latency,
        scale,
    })
}

/// A table measured with an outside tool: skipped for 0 seconds, and (with a note) when the
/// tool is not installed, which `measure` reports as `None`.
fn optional<T>(
    seconds: u32,
    tool: &str,
    table: &str,
    progress: &Progress,
    measure: impl FnOnce(u32, &Progress) -> Result<Option<T>>,
) -> Result<Option<T>> {
    if seconds == 0 {
        return Ok(None);
    }
    let measured = measure(seconds, progress)?;
    if measured.is_none() {
        progress.note(&format!("{tool} is not installed, {table} table skipped (`cargo xtask bench` installs it)"));
    }
    Ok(measured)
}

/// A table's header: the first column, one column per frame size, then `extra` columns.
fn header(out: &mut String, first: &str, sizes: &[usize], extra: &[&str]) {
    let columns: Vec<String> = std::iter::once(first.to_owned())
        .chain(sizes.iter().map(|s| format!("{s}B")))
        .chain(extra.iter().map(|e| e.to_string()))
        .collect();
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(columns.len()));
}

fn spread(s: &Spread) -> String {
    format!("{:.2} ({:.2}-{:.2})", s.median, s.min, s.max)
}

/// A ratio: its median and 95% interval, `0.94 [0.92-0.96]`, marked when the interval is
/// wider than +/-3% (rates::PINNED); the min-max spread where there were too few rounds.
fn interval(s: &Spread) -> String {
    match (s.ci_low, s.ci_high) {
        (Some(low), Some(high)) => {
            let mark = if s.pinned(rates::PINNED) { "" } else { " not pinned" };
            format!("{:.2} [{low:.2}-{high:.2}]{mark}", s.median)
        }
        _ => spread(s),
    }
}

impl Report {
    /// Markdown tables, ready for the README: medians with the min-max spread over the rounds.
    pub fn tables(&self) -> String {
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "Machine: {} CPUs, kernel {}, generator threads on CPUs {:?}; {} rounds of {} s slices, rows in turn.\n",
            m.cpus, m.kernel, m.generator_cpus, self.rounds, self.seconds_per_slice
        );
        self.rate_table(&mut out);
        self.ratio_table(&mut out);
        self.cost_table(&mut out);
        self.other_tables(&mut out);
        out
    }

    /// Each row's packet rate by frame size, and its frames unaccounted over all sizes.
    fn rate_table(&self, out: &mut String) {
        header(out, "path (Mpps: median (min-max))", &self.sizes, &["frames unaccounted"]);
        for (i, row) in Row::ALL.iter().enumerate() {
            let _ = write!(out, "| {}. {} |", i + 1, row.label());
            let mut unaccounted = None;
            for &s in &self.sizes {
                match self.packet_rates.iter().find(|x| x.row == *row && x.frame_size == s) {
                    Some(x) => {
                        unaccounted = x.unaccounted.map(|u| u + unaccounted.unwrap_or(0));
                        let _ = write!(out, " {} |", spread(&x.mpps));
                    }
                    None => {
                        let _ = write!(out, " - |");
                    }
                }
            }
            let _ = writeln!(out, " {} |", unaccounted.map_or("-".to_owned(), |u| u.to_string()));
        }
        let _ = writeln!(out);
    }

    /// Each ratio of `RATIOS` by frame size.
    fn ratio_table(&self, out: &mut String) {
        header(out, "ratio, within each round: median [95% interval]", &self.sizes, &[]);
        for (row, baseline) in RATIOS {
            let _ = write!(out, "| {} / {} |", row.label(), baseline.label());
            for &s in &self.sizes {
                match self.ratios.iter().find(|x| x.row == row && x.baseline == baseline && x.frame_size == s) {
                    Some(x) => {
                        let _ = write!(out, " {} |", interval(&x.ratio));
                    }
                    None => {
                        let _ = write!(out, " - |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }

    /// The crossing programs' run time per frame, where `--program-cost` measured it.
    fn cost_table(&self, out: &mut String) {
        if self.program_costs.is_empty() {
            return;
        }
        let _ = writeln!(out);
        header(out, "crossing program, ns per frame (bpf_stats): median (min-max)", &self.sizes, &[]);
        for row in Row::ALL {
            if !self.program_costs.iter().any(|c| c.row == row) {
                continue;
            }
            let _ = write!(out, "| {} |", row.label());
            for &s in &self.sizes {
                match self.program_costs.iter().find(|c| c.row == row && c.frame_size == s) {
                    Some(c) => {
                        let _ = write!(out, " {} |", spread(&c.ns));
                    }
                    None => {
                        let _ = write!(out, " - |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }

    /// TCP throughput, latency and scale, those that were measured.
    fn other_tables(&self, out: &mut String) {
        if let Some(tcp) = &self.tcp {
            let _ = writeln!(out, "\n| TCP (iperf3, one stream) | Gbit/s |\n|---|---|");
            for t in tcp {
                let _ = writeln!(out, "| {} | {:.2} |", t.setup, t.gbps);
            }
        }
        if let Some(latency) = &self.latency {
            let _ = writeln!(
                out,
                "\n| round trip, sockperf ping-pong (us; median (min-max) of 3 rounds) | protocol | p50 | p99 | p99.9 |\n|---|---|---|---|---|"
            );
            for l in latency {
                let (p50, p99, p999) = (spread(&l.p50_us), spread(&l.p99_us), spread(&l.p999_us));
                let _ = writeln!(out, "| {} | {} | {p50} | {p99} | {p999} |", l.setup, l.protocol);
            }
        }
        if !self.scale.is_empty() {
            let _ =
                writeln!(out, "\n| pairs | mode | up (s) | down (s) | memory per pair (KiB) |\n|---|---|---|---|---|");
            for s in &self.scale {
                let _ = writeln!(
                    out,
                    "| {} | {} | {:.2} | {:.2} | {:.0} |",
                    s.pairs, s.mode, s.up_seconds, s.down_seconds, s.kib_per_pair
                );
            }
        }
    }
}

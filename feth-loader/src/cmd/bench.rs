use std::fmt::Write as _;

use feth_loader::{
    bench::{
        self, RateOptions, Row, Sample,
        latency::LatencyResult,
        scale::ScaleResult,
        stats::{RateSummary, RatioSummary, Spread},
        tcp::TcpResult,
    },
    require_root,
};
use serde::Serialize;

/// Progress on stderr that never panics: a closed pipe must not abort the benchmark before it
/// has removed its namespaces and interfaces.
macro_rules! progress {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[derive(clap::Args)]
pub struct Args {
    /// Frame sizes in bytes (without FCS).
    #[arg(long, value_delimiter = ',', default_value = "64,512,1500")]
    sizes: Vec<usize>,
    /// Seconds measured per slice (one row at one size, after a short warm-up).
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Rounds: every row and size is measured once per round, rows taken in turn, and every
    /// ratio is computed within a round.
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// CPUs that run a generator thread each (default: every CPU).
    #[arg(long, value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// Seconds of each iperf3 run; 0 skips the TCP table.
    #[arg(long, default_value_t = 5)]
    tcp_seconds: u32,
    /// Seconds of each sockperf ping-pong run; 0 skips the latency table.
    #[arg(long, default_value_t = 2)]
    latency_seconds: u32,
    /// Pair counts for the scale table; 0 skips it.
    #[arg(long, value_delimiter = ',', default_value = "1,64,1024")]
    scale: Vec<usize>,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    machine: Machine,
    rounds: usize,
    seconds_per_slice: f64,
    packet_rates: Vec<RateSummary>,
    ratios: Vec<RatioSummary>,
    samples: Vec<Sample>,
    tcp: Option<Vec<TcpResult>>,
    latency: Option<Vec<LatencyResult>>,
    scale: Vec<ScaleResult>,
}

#[derive(Serialize)]
struct Machine {
    cpus: usize,
    kernel: String,
    generator_cpus: Vec<usize>,
}

fn machine(cpus: &[usize]) -> Machine {
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        generator_cpus: cpus.to_vec(),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    require_root()?;
    if args.sizes.iter().any(|s| !(60..=3000).contains(s)) {
        anyhow::bail!("frame sizes must be between 60 and 3000 bytes (live frames fit one page)");
    }
    let all: Vec<usize> = (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    let cpus = args.cpus.clone().unwrap_or(all);
    if args.rounds == 0 {
        anyhow::bail!("--rounds must be at least 1");
    }
    let opts =
        RateOptions { sizes: args.sizes.clone(), seconds: args.seconds, rounds: args.rounds, cpus: cpus.clone() };
    let total = Row::ALL.len() * opts.sizes.len() * opts.rounds;
    let mut done = 0;
    progress!(
        "bench: {total} packet-rate slices of {}s ({} rounds of every row and size) on CPUs {cpus:?}",
        args.seconds,
        args.rounds
    );
    let samples = bench::packet_rates(&opts, |m| {
        done += 1;
        let counted = m
            .accounting
            .as_ref()
            .map(|a| format!(", generated {} received {} unaccounted {}", a.generated, a.received, a.unaccounted))
            .unwrap_or_default();
        progress!(
            "bench: [{done}/{total}] round {} {} {}B: {:.2} Mpps{counted}",
            m.round + 1,
            m.row.label(),
            m.frame_size,
            m.mpps
        );
    })?;
    let rates = bench::stats::rates(&samples, &args.sizes);
    let ratios = bench::stats::ratios(&samples, &args.sizes);
    let tcp = if args.tcp_seconds > 0 {
        progress!("bench: TCP throughput, {}s per setup", args.tcp_seconds);
        let t = bench::tcp::tcp_throughput(args.tcp_seconds, |r| {
            progress!("bench: tcp {}: {:.2} Gbit/s", r.setup, r.gbps)
        })?;
        if t.is_none() {
            progress!("bench: iperf3 is not installed, TCP table skipped (`cargo xtask bench` installs it)");
        }
        t
    } else {
        None
    };
    let latency = if args.latency_seconds > 0 {
        progress!("bench: round-trip latency, {}s per run", args.latency_seconds);
        let l = bench::latency::latency(args.latency_seconds, |r| {
            progress!("bench: latency {} {}: p50 {:.1} us", r.setup, r.protocol, r.p50_us.median)
        })?;
        if l.is_none() {
            progress!("bench: sockperf is not installed, latency table skipped (`cargo xtask bench` installs it)");
        }
        l
    } else {
        None
    };
    let counts: Vec<usize> = args.scale.iter().copied().filter(|&n| n > 0).collect();
    let scale = bench::scale::scale(&counts, |r| {
        progress!("bench: scale {} pairs ({}): up {:.2}s down {:.2}s", r.pairs, r.mode, r.up_seconds, r.down_seconds)
    })?;
    let report = Report {
        machine: machine(&cpus),
        rounds: args.rounds,
        seconds_per_slice: args.seconds,
        packet_rates: rates,
        ratios,
        samples,
        tcp,
        latency,
        scale,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", tables(&report, &args.sizes));
    }
    Ok(())
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

/// Markdown tables, ready for the README: medians with the min-max spread over the rounds.
fn tables(r: &Report, sizes: &[usize]) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(
        out,
        "Machine: {} CPUs, kernel {}, generator threads on CPUs {:?}; {} rounds of {} s slices, rows in turn.\n",
        m.cpus, m.kernel, m.generator_cpus, r.rounds, r.seconds_per_slice
    );
    header(&mut out, "path (Mpps: median (min-max))", sizes, &["frames unaccounted"]);
    for (i, row) in Row::ALL.iter().enumerate() {
        let _ = write!(out, "| {}. {} |", i + 1, row.label());
        let mut unaccounted = None;
        for &s in sizes {
            match r.packet_rates.iter().find(|x| x.row == *row && x.frame_size == s) {
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
    header(&mut out, "ratio, within each round: median (min-max)", sizes, &[]);
    for (row, baseline) in bench::RATIOS {
        let _ = write!(out, "| {} / {} |", row.label(), baseline.label());
        for &s in sizes {
            match r.ratios.iter().find(|x| x.row == row && x.baseline == baseline && x.frame_size == s) {
                Some(x) => {
                    let _ = write!(out, " {} |", spread(&x.ratio));
                }
                None => {
                    let _ = write!(out, " - |");
                }
            }
        }
        let _ = writeln!(out);
    }
    if let Some(tcp) = &r.tcp {
        let _ = writeln!(out, "\n| TCP (iperf3, one stream) | Gbit/s |\n|---|---|");
        for t in tcp {
            let _ = writeln!(out, "| {} | {:.2} |", t.setup, t.gbps);
        }
    }
    if let Some(latency) = &r.latency {
        let _ = writeln!(
            out,
            "\n| round trip, sockperf ping-pong (us; median (min-max) of 3 rounds) | protocol | p50 | p99 | p99.9 |\n|---|---|---|---|---|"
        );
        for l in latency {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                l.setup,
                l.protocol,
                spread(&l.p50_us),
                spread(&l.p99_us),
                spread(&l.p999_us)
            );
        }
    }
    if !r.scale.is_empty() {
        let _ = writeln!(out, "\n| pairs | mode | up (s) | down (s) | memory per pair (KiB) |\n|---|---|---|---|---|");
        for s in &r.scale {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {:.2} | {:.0} |",
                s.pairs, s.mode, s.up_seconds, s.down_seconds, s.kib_per_pair
            );
        }
    }
    out
}

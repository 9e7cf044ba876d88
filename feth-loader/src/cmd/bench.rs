use std::fmt::Write as _;

use feth_loader::{
    bench::{self, Measurement, RateOptions, Row, scale::ScaleResult, tcp::TcpResult},
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
    /// Seconds measured per row and size (after a short warm-up).
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// CPUs that run a generator thread each (default: every CPU).
    #[arg(long, value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// Seconds of each iperf3 run; 0 skips the TCP table.
    #[arg(long, default_value_t = 5)]
    tcp_seconds: u32,
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
    packet_rates: Vec<Measurement>,
    tcp: Option<Vec<TcpResult>>,
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
    let opts = RateOptions { sizes: args.sizes.clone(), seconds: args.seconds, cpus: cpus.clone() };
    let total = Row::ALL.len() * opts.sizes.len();
    let mut done = 0;
    progress!("bench: {total} packet-rate measurements of {}s on CPUs {cpus:?}", args.seconds);
    let rates = bench::packet_rates(&opts, |m| {
        done += 1;
        let counted =
            m.feth_delivered.map(|n| format!(", feth counters {n} / sink {}", m.received)).unwrap_or_default();
        progress!("bench: [{done}/{total}] {} {}B: {:.2} Mpps{counted}", m.row.label(), m.frame_size, m.mpps);
    })?;
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
    let counts: Vec<usize> = args.scale.iter().copied().filter(|&n| n > 0).collect();
    let scale = bench::scale::scale(&counts, |r| {
        progress!("bench: scale {} pairs ({}): up {:.2}s down {:.2}s", r.pairs, r.mode, r.up_seconds, r.down_seconds)
    })?;
    let report = Report { machine: machine(&cpus), packet_rates: rates, tcp, scale };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", tables(&report, &args.sizes));
    }
    Ok(())
}

fn find(rates: &[Measurement], row: Row, size: usize) -> Option<&Measurement> {
    rates.iter().find(|m| m.row == row && m.frame_size == size)
}

/// Markdown tables, ready for the README.
fn tables(r: &Report, sizes: &[usize]) -> String {
    let mut out = String::new();
    let m = &r.machine;
    let _ = writeln!(
        out,
        "Machine: {} CPUs, kernel {}, generator threads on CPUs {:?}\n",
        m.cpus, m.kernel, m.generator_cpus
    );
    let _ = write!(out, "| path |");
    for s in sizes {
        let _ = write!(out, " {s}B Mpps | {s}B Gbit/s |");
    }
    let _ = write!(out, "\n|---|");
    for _ in sizes {
        let _ = write!(out, "---|---|");
    }
    let _ = writeln!(out);
    for (i, row) in Row::ALL.iter().enumerate() {
        let _ = write!(out, "| {}. {} |", i + 1, row.label());
        for &s in sizes {
            match find(&r.packet_rates, *row, s) {
                Some(x) => {
                    let _ = write!(out, " {:.2} | {:.2} |", x.mpps, x.gbps);
                }
                None => {
                    let _ = write!(out, " - | - |");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "\n| feth row, as a ratio of | size | plain veth (3) | minimal devmap (4) | bridge (5) |\n|---|---|---|---|---|"
    );
    for row in [Row::FethXdp, Row::FethTc] {
        for &s in sizes {
            let ratio = |other: Row| match (find(&r.packet_rates, row, s), find(&r.packet_rates, other, s)) {
                (Some(a), Some(b)) if b.mpps > 0.0 => format!("{:.2}", a.mpps / b.mpps),
                _ => "-".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {s}B | {} | {} | {} |",
                row.label(),
                ratio(Row::PlainVeth),
                ratio(Row::MinimalDevmap),
                ratio(Row::Bridge)
            );
        }
    }
    if let Some(tcp) = &r.tcp {
        let _ = writeln!(out, "\n| TCP (iperf3, one stream) | Gbit/s |\n|---|---|");
        for t in tcp {
            let _ = writeln!(out, "| {} | {:.2} |", t.setup, t.gbps);
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

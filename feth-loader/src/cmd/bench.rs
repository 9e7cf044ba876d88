//! `feth-loader bench`: the user's entry to the benchmark, which lives in feth-bench.
use std::path::PathBuf;

use feth_control::kernel::context::Context;

use feth_bench::{Options, RateOptions, Row, benchmark::progress::Progress};

#[derive(clap::Args)]
pub struct Args {
    /// Frame sizes in bytes (without FCS).
    #[arg(long, value_delimiter = ',', default_value = "64,512,1500")]
    sizes: Vec<usize>,
    /// Seconds measured per slice (one row at one size, after a short warm-up).
    #[arg(long, default_value_t = 0.5)]
    seconds: f64,
    /// Rounds at least: every row and size is measured once per round, rows taken in turn, and
    /// every ratio is computed within a round. (15 short slices: three runs in a row agreed
    /// within 5% on this noisy machine, where 7 slices of 1 s did not.)
    #[arg(long, default_value_t = 15)]
    rounds: usize,
    /// Seconds the packet-rate table may take: after --rounds, rounds go on until the 95%
    /// interval of every ratio's median is within +/-3% of it, or until this cap (0: exactly
    /// --rounds). A ratio that did not get there is marked "not pinned".
    #[arg(long, default_value_t = 600.0, value_name = "S")]
    max_seconds: f64,
    /// CPUs that run a generator thread each (default: every CPU).
    #[arg(long, value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// Rows of the packet-rate table to measure (default: all; a ratio needs both its rows):
    /// feth_xdp, feth_xdp_impaired, feth_tc, plain_veth, minimal_devmap, minimal_tc,
    /// minimal_peer, bridge.
    #[arg(long, value_delimiter = ',', value_parser = row)]
    rows: Option<Vec<Row>>,
    /// Also time the program that crosses each row's frames (the kernel's BPF statistics,
    /// on while the packet-rate table is measured): what feth's control plane costs per frame
    /// next to the bare redirects. Every BPF program then pays two clock reads per run.
    #[arg(long)]
    program_cost: bool,
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
    /// Also draw the packet-rate table as a grouped bar chart (SVG) with the spread as error bars.
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

fn row(name: &str) -> Result<Row, String> {
    Row::by_name(name).ok_or_else(|| {
        let names: Vec<&str> = Row::ALL.iter().map(|r| r.name()).collect();
        format!("no row {name}; the rows are {}", names.join(", "))
    })
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    feth_control::kernel::privilege::require(&feth_control::kernel::privilege::CHANGE)?;
    feth_control::kernel::privilege::require_root("bench")?;
    let all: Vec<usize> = (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    let opts = Options {
        rates: RateOptions {
            sizes: args.sizes,
            seconds: args.seconds,
            rounds: args.rounds,
            max_seconds: args.max_seconds,
            cpus: args.cpus.unwrap_or(all),
            // In table order, each once, however they were given.
            rows: Row::ALL.into_iter().filter(|r| args.rows.as_ref().is_none_or(|given| given.contains(r))).collect(),
            program_cost: args.program_cost,
        },
        tcp_seconds: args.tcp_seconds,
        latency_seconds: args.latency_seconds,
        scale: args.scale,
    };
    let report = feth_bench::run(ctx, &opts, &Progress::new())?;
    if let Some(path) = &args.plot {
        feth_bench::benchmark::plot::plot(&report, path)?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.tables());
    }
    Ok(())
}

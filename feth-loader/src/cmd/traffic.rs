//! `gen` and `sink`: traffic for a bench (feth_bench::traffic, the benchmark's generator).
use std::io::IsTerminal as _;

use feth_bench::traffic::{self, GenOptions, IMIX};
use feth_control::{FethError, impair};

#[derive(clap::Args)]
pub struct GenArgs {
    name: String,
    /// Frame size in bytes, without FCS (60 up to the MTU plus 14, at most 3520).
    #[arg(long, default_value_t = 64, conflicts_with_all = ["imix", "sizes"])]
    size: usize,
    /// The simple IMIX: 64, 594 and 1518-byte frames (with FCS; 60, 590, 1514 without) in the
    /// proportion 7:4:1.
    #[arg(long, conflicts_with = "sizes")]
    imix: bool,
    /// Several sizes in equal numbers, e.g. 64,512,1500.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// Frames per second (100kpps, 2mpps) or bits per second (500mbit, 5gbit); as fast as the
    /// machine allows without.
    #[arg(long, value_name = "RATE")]
    rate: Option<String>,
    /// Stop after this many frames.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    count: Option<u64>,
    /// Stop after this long, e.g. 10s (without --count or --duration: until Ctrl-C).
    #[arg(long, value_name = "D")]
    duration: Option<String>,
    /// CPUs that send, one thread each (default: every CPU).
    #[arg(long, value_delimiter = ',')]
    cpus: Option<Vec<usize>>,
    /// Replay the frames of a pcap or pcapng file, in order, at their own timing (or --rate).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["size", "imix", "sizes", "count", "duration", "cpus"])]
    pcap: Option<std::path::PathBuf>,
    /// Replay the file this many times.
    #[arg(long = "loop", value_name = "N", default_value_t = 1, requires = "pcap")]
    loops: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct SinkArgs {
    name: String,
    /// Stop after this long, e.g. 10s (default: until Ctrl-C).
    #[arg(long, value_name = "D")]
    duration: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Frames per second from `100kpps`/`2mpps`/`1000pps`, or from a bit rate and the mean size.
fn parse_rate(name: &str, text: &str, mean_size: f64) -> anyhow::Result<f64> {
    let lower = text.trim().to_ascii_lowercase();
    for (unit, scale) in [("mpps", 1e6), ("kpps", 1e3), ("pps", 1.0)] {
        if let Some(number) = lower.strip_suffix(unit) {
            let value: f64 = number
                .parse()
                .map_err(|_| FethError::Invalid(format!("{name}: rate {text:?}: not a number of frames per second")))?;
            return Ok(value * scale);
        }
    }
    Ok(impair::parse_rate(name, text)? as f64 / mean_size)
}

fn duration(name: &str, text: Option<&str>) -> anyhow::Result<Option<std::time::Duration>> {
    Ok(match text {
        Some(t) => Some(impair::parse_duration(&format!("{name}: --duration"), t)?),
        None => None,
    })
}

fn progress_line(line: String) {
    if std::io::stderr().is_terminal() {
        eprint!("\r{line}   ");
    } else {
        eprintln!("{line}");
    }
}

pub fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    let progress = |sent: u64, secs: f64| {
        progress_line(format!("gen {}: {sent} frames in {secs:.1} s ({:.0} pps)", args.name, sent as f64 / secs));
    };
    let report = match &args.pcap {
        Some(path) => {
            let frames = traffic::read_capture(path)?;
            let mean = frames.iter().map(|(_, f)| f.len() as f64).sum::<f64>() / frames.len() as f64;
            let rate_pps = args.rate.as_deref().map(|r| parse_rate(&args.name, r, mean)).transpose()?;
            traffic::replay(&args.name, &frames, args.loops, rate_pps, super::stop_on_signals(), progress)?
        }
        None => generate(&args, progress)?,
    };
    print_report(&report, args.json)
}

fn generate(args: &GenArgs, progress: impl Fn(u64, f64) + Sync) -> anyhow::Result<traffic::GenReport> {
    let sizes: Vec<(usize, u64)> = if args.imix {
        IMIX.to_vec()
    } else if let Some(list) = &args.sizes {
        list.iter().map(|s| (*s, 1)).collect()
    } else {
        vec![(args.size, 1)]
    };
    let weight: u64 = sizes.iter().map(|(_, w)| w).sum();
    let mean = sizes.iter().map(|(s, w)| (*s * *w as usize) as f64).sum::<f64>() / weight as f64;
    let rate_pps = args.rate.as_deref().map(|r| parse_rate(&args.name, r, mean)).transpose()?;
    let all: Vec<usize> = (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect();
    let opts = GenOptions {
        sizes,
        count: args.count,
        duration: duration(&args.name, args.duration.as_deref())?,
        rate_pps,
        cpus: args.cpus.clone().unwrap_or(all),
    };
    Ok(traffic::generate(&args.name, &opts, super::stop_on_signals(), progress)?)
}

fn print_report(r: &traffic::GenReport, json: bool) -> anyhow::Result<()> {
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    if json {
        println!("{}", serde_json::to_string_pretty(r)?);
        return Ok(());
    }
    println!(
        "gen {} -> {}: sent {} frames in {:.2} s ({:.3} Mpps, {:.3} Gbit/s)",
        r.interface,
        r.peer.as_deref().unwrap_or("(no peer)"),
        r.sent,
        r.seconds,
        r.rate_pps / 1e6,
        r.rate_bps / 1e9
    );
    println!(
        "\tdelivered {}  tx_refused {}  no_peer {}  redirect_error {}  loss {}  loss_every {}  rx_refused {}  duplicated {}  unaccounted {}",
        r.delivered,
        r.tx_refused,
        r.no_peer,
        r.redirect_error,
        r.loss,
        r.loss_every,
        r.rx_refused,
        r.duplicated,
        r.unaccounted
    );
    let sizes: Vec<String> = r.sizes.iter().map(|(s, n)| format!("{s}B {n}")).collect();
    println!("\tsizes {}", sizes.join("  "));
    Ok(())
}

pub fn run_sink(args: SinkArgs) -> anyhow::Result<()> {
    let report = traffic::sink(
        &args.name,
        duration(&args.name, args.duration.as_deref())?,
        super::stop_on_signals(),
        || eprintln!("feth-loader: sink on {}: counting and dropping what it receives", args.name),
        |total, pps| progress_line(format!("sink {}: {total} frames ({pps:.0} pps)", args.name)),
    )?;
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "sink {}: received {} frames in {:.2} s ({:.3} Mpps)",
            report.interface,
            report.received,
            report.seconds,
            report.rate_pps / 1e6
        );
    }
    Ok(())
}

//! `gen` and `sink`: traffic for a bench (feth_bench::traffic, the benchmark's generator).
use std::io::IsTerminal as _;

use feth_bench::{
    frames::{self, IMIX},
    traffic::{self, GenOptions},
};
use feth_control::{FethError, kernel::context::Context, port::impair};

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
    /// What goes above Ethernet.
    #[arg(long, value_enum, default_value = "udp")]
    proto: ProtoArg,
    /// Source IPv4 address or range A-B (default 198.18.0.1); a range varies it per frame.
    #[arg(long, value_name = "A[-B]")]
    src_ip: Option<String>,
    /// Destination IPv4 address or range (default 198.18.0.2).
    #[arg(long, value_name = "A[-B]")]
    dst_ip: Option<String>,
    /// Source port or range P-Q (default 1024).
    #[arg(long, value_name = "P[-Q]")]
    src_port: Option<String>,
    /// Destination port or range (default 9, discard), e.g. 1000-1999 for 1000 flows.
    #[arg(long, value_name = "P[-Q]")]
    dst_port: Option<String>,
    /// Destination MAC (default: the peer's).
    #[arg(long, value_name = "MAC")]
    dst_mac: Option<String>,
    /// Replay the frames of a pcap or pcapng file, in order, at their own timing (or --rate).
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with_all = ["size", "imix", "sizes", "count", "duration", "cpus", "src_ip", "dst_ip", "src_port", "dst_port", "dst_mac"]
    )]
    pcap: Option<std::path::PathBuf>,
    /// Replay the file this many times.
    #[arg(long = "loop", value_name = "N", default_value_t = 1, requires = "pcap")]
    loops: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum ProtoArg {
    /// UDP/IPv4.
    Udp,
    /// TCP/IPv4 SYNs.
    TcpSyn,
    /// Ethernet frames with EtherType 0x88b5, nothing above.
    Raw,
}

/// `A` or `A-B` as (first, count), each parsed by `one`.
fn range<T: Copy + Into<u64>>(
    name: &str,
    what: &str,
    text: &str,
    one: impl Fn(&str) -> Option<T>,
) -> anyhow::Result<(T, u32)> {
    let bad = || FethError::Invalid(format!("{name}: {what} {text:?}: not a value or a range A-B with A <= B"));
    let (a, b) = text.split_once('-').map_or((text, text), |(a, b)| (a, b));
    let (a, b) = (one(a.trim()).ok_or_else(bad)?, one(b.trim()).ok_or_else(bad)?);
    let (lo, hi) = (a.into(), b.into());
    if hi < lo || hi - lo >= u64::from(u32::MAX) {
        return Err(bad().into());
    }
    Ok((a, (hi - lo + 1) as u32))
}

fn flows(args: &GenArgs) -> anyhow::Result<frames::Flows> {
    let mut f = frames::Flows::default();
    let ip = |s: &str| s.parse::<std::net::Ipv4Addr>().ok().map(u32::from);
    let port = |s: &str| s.parse::<u16>().ok();
    if let Some(t) = &args.src_ip {
        f.src_ip = range(&args.name, "--src-ip", t, ip)?;
    }
    if let Some(t) = &args.dst_ip {
        f.dst_ip = range(&args.name, "--dst-ip", t, ip)?;
    }
    if let Some(t) = &args.src_port {
        f.src_port = range(&args.name, "--src-port", t, port)?;
    }
    if let Some(t) = &args.dst_port {
        f.dst_port = range(&args.name, "--dst-port", t, port)?;
    }
    Ok(f)
}

fn mac(name: &str, text: &str) -> anyhow::Result<[u8; 6]> {
    let bytes: Vec<u8> = text.split(':').filter_map(|b| u8::from_str_radix(b, 16).ok()).collect();
    bytes.try_into().map_err(|_| {
        FethError::Invalid(format!("{name}: --dst-mac {text:?}: not a MAC address like 02:00:00:00:00:01")).into()
    })
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

pub fn run_gen(args: GenArgs, ctx: &Context) -> anyhow::Result<()> {
    let progress = |sent: u64, secs: f64| {
        progress_line(format!("gen {}: {sent} frames in {secs:.1} s ({:.0} pps)", args.name, sent as f64 / secs));
    };
    let report = match &args.pcap {
        Some(path) => {
            let frames = traffic::read_capture(path)?;
            let mean = frames.iter().map(|(_, f)| f.len() as f64).sum::<f64>() / frames.len() as f64;
            let rate_pps = args.rate.as_deref().map(|r| parse_rate(&args.name, r, mean)).transpose()?;
            traffic::replay(ctx, &args.name, &frames, args.loops, rate_pps, super::stop_on_signals(), progress)?
        }
        None => generate(ctx, &args, progress)?,
    };
    print_report(&report, args.json)?;
    // A rate this machine cannot keep is said, not hidden in the numbers; a run of fewer frames
    // than two paced bursts (0.2 s at that rate) is one call's worth, whose own cost decides.
    let mean = report.rate_bps / 8.0 / report.rate_pps.max(1.0);
    if let Some(asked) = args.rate.as_deref().and_then(|r| parse_rate(&args.name, r, mean).ok())
        && report.sent as f64 >= asked * 0.2
        && report.rate_pps < asked * 0.98
    {
        eprintln!(
            "feth-loader: gen {}: the rate asked, {asked:.0} frames/s, was not met: {:.0} frames/s (the machine's limit here; more --cpus may help)",
            args.name, report.rate_pps
        );
    }
    Ok(())
}

fn generate(ctx: &Context, args: &GenArgs, progress: impl Fn(u64, f64) + Sync) -> anyhow::Result<traffic::GenReport> {
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
        proto: match args.proto {
            ProtoArg::Udp => frames::Proto::Udp,
            ProtoArg::TcpSyn => frames::Proto::TcpSyn,
            ProtoArg::Raw => frames::Proto::Raw,
        },
        flows: flows(args)?,
        dst_mac: args.dst_mac.as_deref().map(|m| mac(&args.name, m)).transpose()?,
    };
    Ok(traffic::generate(ctx, &args.name, &opts, super::stop_on_signals(), progress)?)
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
        "\tdelivered {}  tx_refused {}  link_down {}  no_peer {}  redirect_error {}  loss {}  loss_every {}  rx_refused {}  duplicated {}  unaccounted {}",
        r.frames.delivered,
        r.frames.tx_refused,
        r.frames.link_down,
        r.frames.no_peer,
        r.frames.redirect_error,
        r.frames.loss,
        r.frames.loss_every,
        r.frames.rx_refused,
        r.frames.duplicated,
        r.unaccounted
    );
    let sizes: Vec<String> = r.sizes.iter().map(|(s, n)| format!("{s}B {n}")).collect();
    println!("\tsizes {}", sizes.join("  "));
    Ok(())
}

pub fn run_sink(args: SinkArgs, ctx: &Context) -> anyhow::Result<()> {
    let report = traffic::sink(
        ctx,
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

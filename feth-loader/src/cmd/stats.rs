use std::{
    io::IsTerminal as _,
    time::{Duration, Instant},
};

use feth_control::{
    kernel::context::Context,
    observe::counters::{PortSnapshot, snapshot},
    observe::prometheus,
    read_state,
};
use serde::Serialize;

#[derive(Clone, Copy, Debug, clap::ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Prometheus,
}

#[derive(clap::Args)]
pub struct Args {
    /// Only this interface.
    name: Option<String>,
    /// Same as --format json.
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Print rates (packets/s, bits/s) every interval until stopped.
    #[arg(long)]
    watch: bool,
    /// Seconds between two samples of --watch.
    #[arg(long, default_value_t = 1.0)]
    interval: f64,
    /// Stop --watch after this many samples.
    #[arg(long)]
    count: Option<u64>,
}

#[derive(Serialize)]
struct Rate {
    name: String,
    tx_pps: f64,
    tx_bps: f64,
    rx_pps: f64,
    rx_bps: f64,
    drops_per_s: f64,
}

fn read(ctx: &Context, name: Option<&str>) -> anyhow::Result<Vec<PortSnapshot>> {
    Ok(read_state(ctx, |state| snapshot(state, name))?)
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let format = if args.json { Format::Json } else { args.format };
    if !args.watch {
        let ports = read(ctx, args.name.as_deref())?;
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&ports)?),
            Format::Prometheus => print!("{}", prometheus::render(&ports)),
            Format::Text => print_totals(&ports),
        }
        return Ok(());
    }
    if !args.interval.is_finite() || args.interval <= 0.0 {
        anyhow::bail!("--interval must be a positive number of seconds");
    }
    let interval = Duration::from_secs_f64(args.interval);
    let in_place = std::io::stdout().is_terminal() && format == Format::Text;
    let mut before = read(ctx, args.name.as_deref())?;
    let mut at = Instant::now();
    let mut samples = 0;
    while args.count.is_none_or(|c| samples < c) {
        std::thread::sleep(interval.saturating_sub(at.elapsed()));
        let now = read(ctx, args.name.as_deref())?;
        let secs = at.elapsed().as_secs_f64();
        at = Instant::now();
        let rates: Vec<Rate> = now.iter().map(|p| rate(p, before.iter().find(|b| b.name == p.name), secs)).collect();
        match format {
            Format::Json => println!("{}", serde_json::to_string(&rates)?),
            Format::Prometheus => print!("{}", prometheus::render(&now)),
            Format::Text => {
                if in_place {
                    print!("\x1b[H\x1b[2J");
                    print_totals(&now);
                }
                for r in &rates {
                    println!(
                        "{}: tx {:.0} pkt/s {} rx {:.0} pkt/s {} drops {:.0}/s",
                        r.name,
                        r.tx_pps,
                        human_bits(r.tx_bps),
                        r.rx_pps,
                        human_bits(r.rx_bps),
                        r.drops_per_s
                    );
                }
            }
        }
        before = now;
        samples += 1;
    }
    Ok(())
}

fn rate(now: &PortSnapshot, before: Option<&PortSnapshot>, secs: f64) -> Rate {
    let d = |f: fn(&PortSnapshot) -> u64| before.map_or(0, |b| f(now).saturating_sub(f(b))) as f64 / secs;
    Rate {
        name: now.name.clone(),
        tx_pps: d(|p| p.counters.tx.packets),
        tx_bps: 8.0 * d(|p| p.counters.tx.bytes),
        rx_pps: d(|p| p.counters.rx.packets),
        rx_bps: 8.0 * d(|p| p.counters.rx.bytes),
        drops_per_s: d(|p| p.counters.drops.tx_total().packets + p.counters.drops.rx_refused.packets),
    }
}

fn human_bits(bps: f64) -> String {
    match bps {
        b if b >= 1e9 => format!("{:.2} Gbit/s", b / 1e9),
        b if b >= 1e6 => format!("{:.2} Mbit/s", b / 1e6),
        b if b >= 1e3 => format!("{:.2} kbit/s", b / 1e3),
        b => format!("{b:.0} bit/s"),
    }
}

fn print_totals(ports: &[PortSnapshot]) {
    for p in ports {
        let c = &p.counters;
        let peer = match (&p.peer, &p.remote) {
            (Some(peer), _) => peer.clone(),
            (None, Some(r)) => format!("remote {}", r.text),
            (None, None) => "-".to_owned(),
        };
        println!("{}: peer {peer} mode {} link {}", p.name, p.mode, if p.link_up { "up" } else { "down" });
        if let Some(r) = &p.remote {
            println!(
                "\tremote handed {} sent {} refused {} received {}",
                r.handed.packets, r.sent.packets, r.refused, r.received.packets
            );
        }
        println!("\ttx {} packets {} bytes", c.tx.packets, c.tx.bytes);
        println!("\trx {} packets {} bytes", c.rx.packets, c.rx.bytes);
        println!(
            "\tdrops tx refused {} link-down {} no-peer {} redirect-error {} loss {} loss-every {} rate {}  rx refused {}",
            c.drops.tx_refused,
            c.drops.tx_link_down,
            c.drops.tx_no_peer.packets,
            c.drops.tx_redirect_error.packets,
            c.drops.tx_loss.packets,
            c.drops.tx_loss_every.packets,
            c.drops.tx_rate,
            c.drops.rx_refused.packets
        );
        println!("\timpaired corrupted {} duplicated {}", c.corrupted.packets, c.duplicated.packets);
        let pr = &c.tx_protocols;
        println!(
            "\ttx protocols arp {} ipv4 {} ipv6 {} other {}  tcp {} udp {} icmp {} icmpv6 {}",
            pr.arp, pr.ipv4, pr.ipv6, pr.other, pr.tcp, pr.udp, pr.icmp, pr.icmpv6
        );
    }
}

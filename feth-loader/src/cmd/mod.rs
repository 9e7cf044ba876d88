//! Subcommands: one module each, each with a `run`.
use clap::{Parser, Subcommand};

mod bench;
mod create;
mod destroy;
mod flap;
mod impair;
mod log;
mod media;
mod monitor;
mod options;
mod peer;
mod repair;
mod show;
mod stats;
mod up;

#[derive(Parser)]
#[command(name = "feth-loader", version, about = "feth: fake-ethernet crossover interfaces for Linux, on eBPF")]
pub struct Cli {
    /// Directory of feth's pinned state and lock on bpffs [env: FETH_BPFFS] [default: /sys/fs/bpf/feth].
    #[arg(long, global = true, value_name = "DIR")]
    bpffs: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create A and B if missing and peer them (several pairs at once: A B C D ...); a no-op
    /// when already so.
    Up(up::Args),
    /// Destroy interfaces (unpeering first); names that do not exist are skipped.
    Down(destroy::DownArgs),
    /// Create unpeered feth interfaces.
    Create(create::Args),
    /// Destroy feth interfaces (unpeering first).
    Destroy(destroy::Args),
    /// Cross two feth interfaces over.
    Peer(peer::PeerArgs),
    /// Disconnect an interface and its peer.
    Unpeer(peer::UnpeerArgs),
    /// Show feth interfaces: peer, link, mode, media, MTU, MAC, namespace, counters.
    Show(show::Args),
    /// Impair what an interface transmits: loss, loss-every, corruption, duplication, rate;
    /// without options, print them.
    Impair(impair::Args),
    /// Take a link down and up on a schedule (carrier off on both ends), in the foreground.
    Flap(flap::Args),
    /// Show or set an interface's media list and current media.
    Media(media::Args),
    /// Counters: totals, or rates with --watch; text, JSON or Prometheus.
    Stats(stats::Args),
    /// Rebuild the pinned state from the interfaces and finish or roll back whatever a killed
    /// command left; prints each change (--dry-run only lists them).
    Repair(repair::Args),
    /// Stream link events (created, peered, unpeered, carrier, destroyed) as they happen; also
    /// repairs, live, what a deletion behind feth's back leaves (a peer unpeered).
    Monitor(monitor::Args),
    /// feth's debug log: per-frame logs from the data path, switched at runtime.
    Log(log::Args),
    /// Measure packet rates, TCP throughput and scale against plain veth, a minimal devmap
    /// crossover and a Linux bridge, in one run.
    Bench(bench::Args),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    feth_control::bpffs::choose(cli.bpffs);
    match cli.command {
        Command::Repair(args) => repair::run(args),
        Command::Up(args) => up::run(args),
        Command::Down(args) => destroy::run_down(args),
        Command::Create(args) => create::run(args),
        Command::Destroy(args) => destroy::run(args),
        Command::Peer(args) => peer::run_peer(args),
        Command::Unpeer(args) => peer::run_unpeer(args),
        Command::Show(args) => show::run(args),
        Command::Media(args) => media::run(args),
        Command::Impair(args) => impair::run(args),
        Command::Flap(args) => flap::run(args),
        Command::Stats(args) => stats::run(args),
        Command::Monitor(args) => monitor::run(args),
        Command::Log(args) => log::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

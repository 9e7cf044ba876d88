//! Subcommands: one module each, each with a `run`.
use clap::{CommandFactory as _, Parser, Subcommand};

#[cfg(feature = "traffic")]
mod bench;
mod capture;
mod create;
mod destroy;
mod docs;
mod exporter;
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
mod topology;
#[cfg(feature = "traffic")]
mod traffic;
mod up;
#[cfg(not(feature = "traffic"))]
mod without_traffic;
#[cfg(not(feature = "traffic"))]
use without_traffic::{self as traffic, bench};

/// The exit status of every command (main.rs maps errors to them), for `--help` and the man
/// page.
pub const EXIT_STATUS: [(u8, &str); 6] = [
    (0, "done (or nothing to do)"),
    (
        1,
        "refused: a bad argument, or a state that does not allow it (unknown or non-feth interface, busy peer, MTU or media out of range, ...); nothing was changed",
    ),
    (2, "usage: the command line does not parse"),
    (3, "not permitted: a capability or file permission is missing (the message names it)"),
    (4, "the kernel lacks a feature feth needs (the message names it)"),
    (
        5,
        "failed: the kernel or the system refused an operation midway; `feth-loader repair` finishes or rolls back what was cut short",
    ),
];

/// The command line as users get it: the version of this build, the exit statuses in `--help`.
pub fn command() -> clap::Command {
    let mut help = String::from("Exit status:");
    for (code, what) in EXIT_STATUS {
        // Wrapped at 96 columns, continuation lines under the text.
        let mut line = format!("\n  {code} ");
        for word in what.split(' ') {
            if line.len() + word.len() >= 96 {
                help.push_str(&line);
                line = "\n    ".to_owned();
            }
            line.push(' ');
            line.push_str(word);
        }
        help.push_str(&line);
    }
    Cli::command().version(crate::version()).after_long_help(help)
}

#[derive(Parser)]
#[command(name = "feth-loader", version, about = "feth: fake-ethernet crossover interfaces for Linux, on eBPF")]
pub struct Cli {
    /// Directory of feth's pinned state and lock on bpffs [env: FETH_BPFFS] [default: /sys/fs/bpf/feth].
    #[arg(long, global = true, value_name = "DIR")]
    bpffs: Option<std::path::PathBuf>,
    /// Refuse a named network namespace that does not exist instead of creating it (for
    /// scripts: a mistyped name then fails).
    #[arg(long, global = true)]
    no_create_netns: bool,
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
    /// Cross two feth interfaces over, or one with a feth interface on another host (--remote).
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
    /// Record what an interface transmits at the crossover, dropped frames included, with what
    /// happened to each (pcapng with -w, or one line per frame).
    Capture(capture::Args),
    /// Send frames as if an interface transmitted them: line rate, a rate, a count or a
    /// duration, fixed sizes or IMIX; reports where every frame went.
    Gen(traffic::GenArgs),
    /// Count and drop what an interface receives (at XDP), with rates.
    Sink(traffic::SinkArgs),
    /// Make the machine match a topology file (interfaces, namespaces, peers, modes, MTU, media,
    /// impairments), changing only what differs and printing each change.
    Apply(topology::ApplyArgs),
    /// Print the running state as a topology file (`apply` of it changes nothing).
    Export,
    /// Serve every port's counters to Prometheus (/metrics, the families of stats --format
    /// prometheus) for as long as it runs.
    Exporter(exporter::Args),
    /// Stream link events (created, peered, unpeered, carrier, destroyed) as they happen; also
    /// repairs, live, what a deletion behind feth's back leaves (a peer unpeered).
    Monitor(monitor::Args),
    /// feth's debug log: per-frame logs from the data path, switched at runtime.
    Log(log::Args),
    /// Measure packet rates, TCP throughput and scale against plain veth, a minimal devmap
    /// crossover and a Linux bridge, in one run.
    Bench(bench::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(docs::CompletionsArgs),
    /// Write man pages for every command into a directory (for packaging).
    #[command(hide = true)]
    Man(docs::ManArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = &feth_control::kernel::context::Context::for_command(cli.bpffs, cli.no_create_netns);
    match cli.command {
        Command::Repair(args) => repair::run(args, ctx),
        Command::Up(args) => up::run(args, ctx),
        Command::Down(args) => destroy::run_down(args, ctx),
        Command::Create(args) => create::run(args, ctx),
        Command::Destroy(args) => destroy::run(args, ctx),
        Command::Peer(args) => peer::run_peer(args, ctx),
        Command::Unpeer(args) => peer::run_unpeer(args, ctx),
        Command::Show(args) => show::run(args, ctx),
        Command::Media(args) => media::run(args, ctx),
        Command::Impair(args) => impair::run(args, ctx),
        Command::Flap(args) => flap::run(args, ctx),
        Command::Stats(args) => stats::run(args, ctx),
        Command::Monitor(args) => monitor::run(args, ctx),
        Command::Exporter(args) => exporter::run(args, ctx),
        Command::Apply(args) => topology::apply(args, ctx),
        Command::Capture(args) => capture::run(args, ctx),
        Command::Gen(args) => traffic::run_gen(args, ctx),
        Command::Sink(args) => traffic::run_sink(args, ctx),
        Command::Export => topology::export(ctx),
        Command::Log(args) => log::run(args, ctx),
        Command::Bench(args) => bench::run(args, ctx),
        Command::Completions(args) => docs::completions(args),
        Command::Man(args) => docs::man(args),
    }
}

/// Set by Ctrl-C or SIGTERM once `stop_on_signals` ran: long-running commands (capture, gen,
/// sink) end cleanly, with their report and their switches off.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_stop_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// Ctrl-C and SIGTERM set the returned flag instead of ending the process.
fn stop_on_signals() -> &'static std::sync::atomic::AtomicBool {
    // SAFETY: the handler only stores to an atomic.
    unsafe {
        libc::signal(libc::SIGINT, on_stop_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_stop_signal as *const () as libc::sighandler_t);
    }
    &STOP
}

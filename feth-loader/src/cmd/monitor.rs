use std::io::Write as _;

use feth_control::kernel::context::Context;

#[derive(clap::Args)]
pub struct Args {
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Streams link events (created, peered, unpeered, carrier, destroyed), one line each,
/// until stopped. "monitoring" on stderr says the subscription is live.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    // It repairs what a deletion behind feth's back leaves, live: a changing command.
    feth_control::kernel::privilege::require(&feth_control::kernel::privilege::CHANGE)?;
    let mut out = std::io::stdout().lock();
    feth_control::observe::monitor::run(
        ctx,
        || eprintln!("feth-loader: monitoring link events"),
        |event| {
            let line =
                if args.json { serde_json::to_string(event).expect("event serialises") } else { event.to_string() };
            // A closed pipe ends the monitor like any line-oriented tool.
            if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                std::process::exit(0);
            }
        },
    )?;
    Ok(())
}

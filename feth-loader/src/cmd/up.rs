use feth_loader::{ops, with_state};

use super::options::Crossing;

#[derive(clap::Args)]
pub struct Args {
    a: String,
    b: String,
    /// Named network namespace for A's user end (created if missing).
    #[arg(long)]
    netns_a: Option<String>,
    /// Named network namespace for B's user end (created if missing).
    #[arg(long)]
    netns_b: Option<String>,
    /// MTU of both user ends (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
    #[command(flatten)]
    crossing: Crossing,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let a = ops::PortSpec { name: args.a, netns: args.netns_a, mtu: args.mtu };
    let b = ops::PortSpec { name: args.b, netns: args.netns_b, mtu: args.mtu };
    with_state(|state| ops::up(state, &a, &b, args.crossing.into()))?;
    Ok(())
}

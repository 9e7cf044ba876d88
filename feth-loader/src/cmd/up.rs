use feth_control::{kernel::context::Context, ops, with_state};

use super::options::Crossing;

#[derive(clap::Args)]
pub struct Args {
    /// A B, or several pairs A B C D ...: each pair is created if missing and peered.
    #[arg(required = true, num_args = 2.., value_name = "A B")]
    names: Vec<String>,
    /// Network namespace of the first interface of each pair: NAME (created if missing),
    /// pid:PID, path:FILE, docker:CONTAINER or podman:CONTAINER.
    #[arg(long, value_name = "NS")]
    netns_a: Option<String>,
    /// Network namespace of the second interface of each pair (as --netns-a).
    #[arg(long, value_name = "NS")]
    netns_b: Option<String>,
    /// MTU of every user end (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
    #[command(flatten)]
    crossing: Crossing,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    if !args.names.len().is_multiple_of(2) {
        anyhow::bail!("{}: has no partner: up takes pairs of names", args.names.last().expect("at least two"));
    }
    let spec = |name: &String, netns: &Option<String>| ops::PortSpec {
        name: name.clone(),
        netns: netns.clone(),
        mtu: args.mtu,
        mode: None,
    };
    let pairs: Vec<(ops::PortSpec, ops::PortSpec)> =
        args.names.chunks(2).map(|p| (spec(&p[0], &args.netns_a), spec(&p[1], &args.netns_b))).collect();
    with_state(ctx, |state| ops::up_many(state, &pairs, args.crossing.into()))?;
    Ok(())
}

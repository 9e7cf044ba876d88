use feth_control::{ops, with_state};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    names: Vec<String>,
    /// Named network namespace for the user ends (created if missing).
    #[arg(long)]
    netns: Option<String>,
    /// MTU of the user ends (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let specs: Vec<ops::PortSpec> = args
        .names
        .iter()
        .map(|name| ops::PortSpec { name: name.clone(), netns: args.netns.clone(), mtu: args.mtu })
        .collect();
    with_state(|state| ops::create_many(state, &specs))?;
    Ok(())
}

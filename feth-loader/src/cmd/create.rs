use feth_control::{kernel::context::Context, ops, with_state};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    names: Vec<String>,
    /// Network namespace of the user ends: NAME (created if missing), pid:PID, path:FILE,
    /// docker:CONTAINER or podman:CONTAINER.
    #[arg(long, value_name = "NS")]
    netns: Option<String>,
    /// MTU of the user ends (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
    /// Datapath the new interfaces start in (default tc); netkit makes netkit pairs.
    #[arg(long, value_enum)]
    mode: Option<super::options::ModeArg>,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let specs: Vec<ops::PortSpec> = args
        .names
        .iter()
        .map(|name| ops::PortSpec {
            name: name.clone(),
            netns: args.netns.clone(),
            mtu: args.mtu,
            mode: args.mode.map(Into::into),
        })
        .collect();
    with_state(ctx, |state| ops::create_many(state, &specs))?;
    Ok(())
}

use feth_control::{ops, with_state};

use super::options::Crossing;

#[derive(clap::Args)]
pub struct PeerArgs {
    a: String,
    b: String,
    #[command(flatten)]
    crossing: Crossing,
}

#[derive(clap::Args)]
pub struct UnpeerArgs {
    name: String,
}

pub fn run_peer(args: PeerArgs) -> anyhow::Result<()> {
    with_state(|state| ops::peer(state, &args.a, &args.b, args.crossing.into()))?;
    Ok(())
}

pub fn run_unpeer(args: UnpeerArgs) -> anyhow::Result<()> {
    with_state(|state| ops::unpeer(state, &args.name))?;
    Ok(())
}

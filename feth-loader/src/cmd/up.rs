use feth_loader::{FethError, ops, pair, with_state};

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
    let spec_a = ops::PortSpec { name: args.a.clone(), netns: args.netns_a, mtu: args.mtu };
    let spec_b = ops::PortSpec { name: args.b.clone(), netns: args.netns_b, mtu: args.mtu };
    let opts: ops::PeerOptions = args.crossing.into();
    with_state(|state| {
        if args.a == args.b {
            return Err(FethError::SelfPeer(args.a.clone()));
        }
        // Everything is checked before anything is created.
        let exists_a = ops::check_create(state, &spec_a)?;
        let exists_b = ops::check_create(state, &spec_b)?;
        opts.check(&args.a, state.find(&args.a).map_or(ops::DEFAULT_MODE, |p| p.mode()))?;
        if exists_a && exists_b {
            ops::check_peer(state, &args.a, &args.b)?;
        } else {
            for (exists, name) in [(exists_a, &args.a), (exists_b, &args.b)] {
                let busy = state.find(name).and_then(|p| state.peer_of(p).map(|q| q.name.clone()));
                if let (true, Some(peer)) = (exists, busy) {
                    return Err(FethError::Busy { name: name.clone(), peer });
                }
            }
        }
        let mut made = Vec::new();
        let result = (|| {
            for (exists, spec) in [(exists_a, &spec_a), (exists_b, &spec_b)] {
                if !exists {
                    ops::create(state, spec)?;
                    made.push(spec.name.clone());
                } else if let Some(mtu) = spec.mtu {
                    ops::set_mtu(state, &spec.name, mtu)?;
                }
            }
            ops::peer(state, &args.a, &args.b, opts)?;
            for name in [&args.a, &args.b] {
                pair::set_user_up(name, state.find(name).and_then(|p| p.netns.as_deref()))?;
            }
            Ok(())
        })();
        if result.is_err() {
            for name in &made {
                let _ = ops::destroy(state, name);
            }
        }
        result
    })?;
    Ok(())
}

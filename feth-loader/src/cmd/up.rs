use feth_loader::{FethError, ops, pair, with_state};

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
    /// MTU of both user ends when they are created (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let spec_a = ops::PortSpec { name: args.a.clone(), netns: args.netns_a, mtu: args.mtu };
    let spec_b = ops::PortSpec { name: args.b.clone(), netns: args.netns_b, mtu: args.mtu };
    with_state(|state| {
        if args.a == args.b {
            return Err(FethError::SelfPeer(args.a.clone()));
        }
        // Everything is checked before anything is created.
        let exists_a = ops::check_create(state, &spec_a)?;
        let exists_b = ops::check_create(state, &spec_b)?;
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
                }
            }
            ops::peer(state, &args.a, &args.b)?;
            pair::set_user_up(&spec_a.name, state.find(&args.a).and_then(|p| p.netns.as_deref()))?;
            pair::set_user_up(&spec_b.name, state.find(&args.b).and_then(|p| p.netns.as_deref()))
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

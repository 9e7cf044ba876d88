//! `flap`'s cable between a port and its peer.
use crate::{
    datapath::crossover::Crossover,
    error::{FethError, Result},
    state::{Port, State},
};

/// The link between a port and its peer, for `flap`: pulled (carrier off on both user ends)
/// and plugged back by setting both wire ends down and up. Not recorded: the next changing
/// command, or `repair`, plugs a pulled cable back in.
///
/// What a user end sends while its cable is pulled, its veth refuses (`tx_dropped`). Nothing
/// else makes it refuse then (no frame moves), so `flap` counts the refusals of each down
/// period as `tx_link_down` in `FETH_SHARED`: the user end's `tx_dropped` when the link went
/// down, and at the end the difference (counters::read adds that of a period still open).
pub struct Cable {
    ends: [CableEnd; 2],
    rtnl: crate::kernel::rtnl::Rtnl,
    state: crate::kernel::bpffs::StateDir,
}

struct CableEnd {
    name: String,
    slot: u32,
    wire: u32,
    netns: crate::kernel::netns::Netns,
    user: Option<u32>,
}

impl CableEnd {
    fn of(p: &Port) -> CableEnd {
        CableEnd {
            name: p.name(),
            slot: p.slot,
            wire: p.wire.index,
            netns: p.netns.clone(),
            user: p.user.as_ref().map(|u| u.index),
        }
    }

    /// What the user end has refused to send so far (0 when it cannot be read).
    fn tx_dropped(&self) -> u64 {
        let Some(index) = self.user else { return 0 };
        let read = self.netns.run(|| crate::kernel::rtnl::Rtnl::open()?.link_by_index(index));
        read.ok().flatten().map_or(0, |l| l.tx_dropped)
    }
}

impl Cable {
    pub fn of(state: &State, name: &str) -> Result<Cable> {
        let p = state.port(name)?;
        let Some(peer) = state.peer_of(p) else {
            let reason = if p.record.remote.is_some() {
                "its peer is remote: flap needs a local peer (the underlay is the remote link)"
            } else {
                "not peered: there is no link to flap"
            };
            return Err(FethError::Refused { name: name.to_owned(), reason: reason.into() });
        };
        Ok(Cable {
            ends: [CableEnd::of(p), CableEnd::of(peer)],
            rtnl: crate::kernel::rtnl::Rtnl::open()?,
            state: state.ctx.state.clone(),
        })
    }

    /// Under the exclusive lock, but without a state read: a flap keeps its schedule.
    pub fn set(&self, up: bool) -> Result<()> {
        let _lock = self.state.lock_exclusive()?;
        let mut crossover = Crossover::open_existing(&self.state)?;
        for end in &self.ends {
            // The snapshot just before the end goes down; the sum just before it comes up.
            if let Some(c) = crossover.as_mut() {
                let mut shared = c.shared(end.slot)?;
                let dropped = end.tx_dropped();
                if up {
                    if shared.down != 0 {
                        shared.link_down += dropped.saturating_sub(shared.link_down_base);
                    }
                    shared.down = 0;
                } else {
                    shared.link_down_base = dropped;
                    shared.down = 1;
                }
                c.set_shared(end.slot, &shared)?;
            }
            let what = format!("{}: set wire end {}", end.name, if up { "up" } else { "down" });
            self.rtnl.set_up(end.wire, up, &what)?;
        }
        Ok(())
    }
}

//! Making a plan's changes, through the same operations as the commands.
use super::plan::Change;
use crate::{
    error::Result,
    ops::{self, PeerOptions},
    state::State,
};

/// Makes the changes, in order.
pub fn apply(state: &mut State, changes: &[Change]) -> Result<()> {
    for change in changes {
        match change {
            Change::Unpeer(n) => ops::unpeer(state, n)?,
            Change::Destroy(n) => ops::destroy_many(state, &[n.as_str()])?,
            Change::Create(spec) => {
                ops::create_many(state, std::slice::from_ref(spec))?;
            }
            Change::Mtu(n, mtu) => ops::set_mtu(state, n, *mtu)?,
            Change::Media(n, m) => ops::set_media(state, n, m.clone())?,
            Change::Impair(n, i) => ops::set_impair(state, n, *i)?,
            Change::Peer(a, b, mode, hwcsum) => {
                ops::peer(state, a, b, PeerOptions { mode: Some(*mode), hwcsum: *hwcsum })?;
                // As `up` does: a peered pair is ready for traffic.
                for name in [a, b] {
                    let p = state.port(name)?;
                    crate::datapath::pair::set_user_up(name, &p.netns)?;
                }
                ops::hops::follow(state, &[a, b])?;
            }
            Change::PeerRemote(n, r) => {
                ops::peer_remote(state, n, r.clone())?;
                let p = state.port(n)?;
                crate::datapath::pair::set_user_up(n, &p.netns)?;
            }
        }
    }
    Ok(())
}

//! The one hop of TC mode (`feth_common::port::hop`) is decided from what the loader saw of the
//! receiving user end: its MTU, whether it is up, its address. When feth itself changes a user
//! end (`up`, MTU, `sink`'s XDP program) it brings its peer's map entry up to date at once;
//! what others change behind its back is followed by the next changing command or `repair`.
use crate::{
    error::Result,
    kernel::rtnl::Rtnl,
    repair::{self, Run},
    state::State,
};

/// Reads the user ends of `names` again and rewrites the map entries of their peers.
pub fn follow(state: &mut State, names: &[&str]) -> Result<()> {
    let mut slots = Vec::new();
    for name in names {
        let p = state.port(name)?;
        let (slot, netns) = (p.slot, p.netns.clone());
        let Some(user) = p.user.as_ref().map(|u| u.name.clone()) else { continue };
        let seen = netns.run(|| Rtnl::open()?.link_by_name(&user))?;
        state.by_slot_mut(slot).expect("found above").user = seen;
        slots.push(slot);
    }
    if slots.is_empty() || !state.ctx.features.one_hop {
        return Ok(());
    }
    repair::converge(state, &mut Run::ports(&slots))
}

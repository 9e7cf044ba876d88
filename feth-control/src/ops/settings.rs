//! A port's settings: MTU, media and impairments.
use crate::{
    datapath::pair,
    datapath::shaper,
    error::{FethError, Result},
    port::impair::Impairment,
    port::media::PortMedia,
    port::mtu,
    port::record::Record,
    repair::{self, Run},
    state::State,
};

/// Sets the MTU of a port's user end, within feth's range.
pub fn set_mtu(state: &mut State, name: &str, mtu: u32) -> Result<()> {
    mtu::check(name, mtu)?;
    let p = state.port(name)?;
    mtu::check_xdp(name, p.mode(), mtu, &state.ctx.features)?;
    if let Some(tunnel) = state.tunnels.get(&p.slot).filter(|_| p.record.remote.is_some())
        && mtu > tunnel.mtu
    {
        return Err(FethError::Refused {
            name: name.to_owned(),
            reason: format!(
                "MTU {mtu} is above {}, what its VXLAN device {} carries over the underlay; raise the underlay's MTU first",
                tunnel.mtu, tunnel.name
            ),
        });
    }
    // The one hop skips the receiver's MTU check, so its peer stops sending frames above a
    // lower MTU through it before the MTU comes down, and starts sending them after it went
    // up. A limit below the MTU is only slower: such frames take the veth, which checks.
    let lowering = p.user.as_ref().is_some_and(|u| mtu < u.mtu);
    let netns = p.netns.clone();
    if lowering && state.ctx.features.one_hop {
        let slot = p.slot;
        if let Some(user) = state.by_slot_mut(slot).and_then(|p| p.user.as_mut()) {
            user.mtu = mtu;
        }
        repair::converge(state, &mut Run::ports(&[slot]))?;
    }
    pair::set_user_mtu(name, &netns, mtu)?;
    if lowering { Ok(()) } else { super::hops::follow(state, &[name]) }
}

/// Replaces a port's media (already checked by `media::apply`).
pub fn set_media(state: &mut State, name: &str, media: PortMedia) -> Result<()> {
    let port = state.port(name)?;
    let record = Record { media, ..port.record.clone() };
    state.write_record(port.slot, record)
}

/// Replaces the impairments of what `name` transmits (all zero clears them). They are kept in
/// its record, so they survive unpeer, peer and mode switches.
pub fn set_impair(state: &mut State, name: &str, impair: Impairment) -> Result<()> {
    let p = state.port(name)?.clone();
    impair.check(name, p.mode(), &state.ctx.features)?;
    let record = Record { impair, ..p.record.clone() };
    if record == p.record {
        return Ok(());
    }
    // The queue first: a refusal (someone else's qdisc, no netem) then changes nothing, and a
    // command cut short leaves the record's old settings, which the next repair puts back.
    if let Some(user) = &p.user
        && (impair.queue() != p.record.impair.queue())
    {
        shaper::apply(&user.name, &p.netns, &impair)?;
    }
    if impair.loss_every != p.record.impair.loss_every {
        // `loss-every N` counts from this command on, before the data path sees the setting.
        let crossover = state.crossover()?;
        let shared = feth_common::SharedCounters { loss_every_seen: 0, ..crossover.shared(p.slot)? };
        crossover.set_shared(p.slot, &shared)?;
    }
    state.write_record(p.slot, record)?;
    repair::converge(state, &mut Run::ports(&[p.slot]))
}

//! Crossing ports over: `peer` (locally, or to another host through a VXLAN device) and
//! `unpeer`, with the checks that come first.
use feth_common::Mode;

use crate::{
    datapath::pair,
    datapath::tunnel,
    error::{FethError, Result},
    fault,
    port::mtu,
    port::record::{self, Record},
    port::remote::{Endpoint, Remote},
    repair::{self, Run},
    state::{Port, State},
};

/// How a pair is to be crossed over: `None` keeps what the ports have.
#[derive(Clone, Copy, Debug, Default)]
pub struct PeerOptions {
    pub mode: Option<Mode>,
    /// feth's hwcsum: transmit checksum offload on the user ends (TC mode only).
    pub hwcsum: Option<bool>,
}

impl PeerOptions {
    /// Refuses combinations feth cannot honour, before anything changes.
    pub fn check(&self, name: &str, current: Mode) -> Result<()> {
        if let Err(why) = record::hwcsum_fits(self.hwcsum, self.mode.unwrap_or(current)) {
            return Err(FethError::Refused {
                name: name.to_owned(),
                reason: format!("hwcsum on needs --mode tc or netkit: {why}"),
            });
        }
        Ok(())
    }
}

/// Checks a peering without doing it. `Ok(true)` when `a` and `b` are already peered.
pub fn check_peer(state: &State, a: &str, b: &str) -> Result<bool> {
    if a == b {
        return Err(FethError::SelfPeer(a.to_owned()));
    }
    let (pa, pb) = (state.port(a)?, state.port(b)?);
    if pa.slot == pb.slot {
        return Err(FethError::SelfPeer(a.to_owned()));
    }
    if state.peer_of(pa).is_some_and(|p| p.slot == pb.slot) {
        return Ok(true);
    }
    check_free_for(state, a, b)?;
    check_free_for(state, b, a)?;
    Ok(false)
}

/// "busy" when `name` exists and is peered with anything but `other`.
pub fn check_free_for(state: &State, name: &str, other: &str) -> Result<()> {
    let Some(port) = state.find(name)? else { return Ok(()) };
    if let Some(remote) = &port.record.remote {
        return Err(FethError::Busy { name: name.to_owned(), peer: remote.at.label() });
    }
    match state.peer_of(port) {
        Some(peer) if peer.user.as_ref().is_none_or(|u| u.name != other) => {
            Err(FethError::Busy { name: name.to_owned(), peer: peer.name() })
        }
        _ => Ok(()),
    }
}

/// Crosses `a` and `b` over (or, when already peered, applies `opts`). Both records are
/// written first (a peering cut short between them is one-sided and rolled back), then the
/// data path follows.
pub fn peer(state: &mut State, a: &str, b: &str, opts: PeerOptions) -> Result<()> {
    check_peer(state, a, b)?;
    let (pa, pb) = (state.port(a)?.clone(), state.port(b)?.clone());
    opts.check(a, pa.mode())?;
    // Both sides of a pair share one mode: the asked one, else the one A has (a new port
    // starts in DEFAULT_MODE, an unpeered one keeps its last). hwcsum is kept per port unless
    // asked.
    let mode = opts.mode.unwrap_or(pa.mode());
    for p in [&pa, &pb] {
        p.check_mode(mode)?;
        if let Some(user) = &p.user {
            mtu::check_xdp(&user.name, mode, user.mtu, &state.ctx.features)?;
        }
    }
    let records: Vec<(&Port, Record)> = [(&pa, &pb), (&pb, &pa)]
        .into_iter()
        .map(|(me, other)| {
            let record = Record {
                peer: Some(other.slot),
                mode,
                hwcsum: opts.hwcsum.unwrap_or(me.record.hwcsum),
                ..me.record.clone()
            };
            record.impair.check(&me.name(), mode, &state.ctx.features).map(|()| (me, record))
        })
        .collect::<Result<_>>()?;
    for (me, record) in records {
        if record != me.record {
            state.write_record(me.slot, record)?;
            fault::point("peer:first-record");
        }
    }
    repair::converge(state, &mut Run::ports(&[pa.slot, pb.slot]))?;
    tell_capture(state)
}

/// A running capture learns its port's new peer MTU with the peering change: by itself it
/// looks again only about once a second, and until then a frame sent right after `peer` or
/// `unpeer` was judged against the MTU of the peer before (or of none): captured as crossed
/// although the new peer refuses it, which is what a 5.10 test saw.
fn tell_capture(state: &mut State) -> Result<()> {
    let Some(crossover) = state.crossover.as_ref() else { return Ok(()) };
    let captured = crossover.settings()?.capture & feth_common::capture::SLOT_MASK;
    if captured == 0 {
        return Ok(());
    }
    let mtu = state.peer_user_mtu(captured - 1);
    state.crossover.as_mut().map_or(Ok(()), |c| c.update_settings(|s| s.capture_mtu = mtu))
}

/// Crosses `name` over to a feth interface on another host through a VXLAN device
/// (crate::port::remote). Everything is checked first; the record is written, then the data path
/// follows; if the kernel refuses the VXLAN device the record is put back.
pub fn peer_remote(state: &mut State, name: &str, at: Endpoint) -> Result<()> {
    let p = state.port(name)?.clone();
    if let Some(peer) = state.peer_of(&p) {
        return Err(FethError::Busy { name: name.to_owned(), peer: peer.name() });
    }
    if let Some(r) = &p.record.remote {
        if r.at == at {
            return Ok(());
        }
        return Err(FethError::Busy { name: name.to_owned(), peer: r.at.label() });
    }
    let slot = state.free_slot().ok_or(FethError::NoFreeSlot(feth_common::MAX_PORTS))?;
    tunnel::check(&at, name, &state.rtnl)?;
    if let Some(other) = state.ports.iter().find(|o| o.record.remote.as_ref().is_some_and(|r| r.at.clashes_with(&at))) {
        return Err(FethError::Refused {
            name: name.to_owned(),
            reason: format!("VNI {} on port {} is already in use by {}", at.vni, at.port, other.name()),
        });
    }
    let remote = Remote { at, slot, lowered_mtu: None };
    p.record.impair.check(name, Mode::Tc, &state.ctx.features)?;
    let before = p.record.clone();
    state.write_record(p.slot, Record { remote: Some(remote), ..p.record.clone() })?;
    let done =
        repair::grow(state, state.slots_needed()).and_then(|()| repair::converge(state, &mut Run::ports(&[p.slot])));
    if let Err(e) = done {
        // Best effort: the refusal is what the user needs to read.
        let _ = state.write_record(p.slot, before).and_then(|()| repair::converge(state, &mut Run::ports(&[p.slot])));
        return Err(e);
    }
    // Frames larger than the VXLAN device carries would be lost in the underlay: the user end's
    // MTU goes down to it (`show` says why under "set by feth").
    // The record remembers the MTU before, which unpeer puts back.
    let (Some(tunnel), Some(user)) = (state.tunnels.get(&p.slot), &p.user) else { return Ok(()) };
    if user.mtu > tunnel.mtu {
        pair::set_user_mtu(&user.name, &p.netns, tunnel.mtu)?;
        let record = state.port(name)?.record.clone();
        let remote = record.remote.clone().map(|r| Remote { lowered_mtu: Some((user.mtu, tunnel.mtu)), ..r });
        state.write_record(p.slot, Record { remote, ..record })?;
    }
    Ok(())
}

/// Disconnects `name` and its peer (both sides), links go down. No-op when not peered.
pub fn unpeer(state: &mut State, name: &str) -> Result<()> {
    let slot = state.port(name)?.slot;
    unpeer_slot(state, slot)
}

pub fn unpeer_slot(state: &mut State, slot: u32) -> Result<()> {
    let port = state.by_slot(slot).expect("a port").clone();
    if let Some(remote) = &port.record.remote {
        state.write_record(slot, Record { remote: None, ..port.record.clone() })?;
        repair::converge(state, &mut Run::ports(&[slot]))?;
        // The MTU feth lowered for the tunnel goes back, unless someone has set another since.
        if let (Some((before, set)), Some(user)) = (remote.lowered_mtu, &port.user)
            && user.mtu == set
        {
            pair::set_user_mtu(&user.name, &port.netns, before)?;
        }
        return Ok(());
    }
    let sides: Vec<Port> = std::iter::once(port.clone()).chain(state.peer_of(&port).cloned()).collect();
    if port.record.peer.is_none() {
        return Ok(());
    }
    for p in &sides {
        state.write_record(p.slot, Record { peer: None, ..p.record.clone() })?;
        fault::point("unpeer:first-record");
    }
    let slots: Vec<u32> = sides.iter().map(|p| p.slot).collect();
    repair::converge(state, &mut Run::ports(&slots))?;
    tell_capture(state)
}

//! The data path of each port: tunnel ends of remote peers, the programs on the wire ends and
//! the user ends' offloads, the maps, stale links and tunnels, carrier and shaping qdiscs.
use std::collections::{HashMap, HashSet};

use feth_common::{Mode, PortConfig, WIRE_IFINDEX_BASE};

use super::{change::Change, run::Run};
use crate::{
    datapath::{attach, crossover::Crossover, pair, shaper},
    error::Result,
    kernel::{ethtool, netns::Netns},
    port::remote::Remote,
    state::{Port, State},
};

/// The touched ports with a remote peer, with it.
fn remote_ports<'a>(state: &'a State, run: &Run) -> Vec<(&'a Port, &'a Remote)> {
    run.touched(state).into_iter().filter_map(|p| Some((p, p.record.remote.as_ref()?))).collect()
}

/// Every remote port has its tunnel end: created (replacing one of another ifindex) before the
/// port's own configuration points at it.
pub fn create_tunnels(state: &State, run: &Run) -> Vec<Change> {
    remote_ports(state, run)
        .into_iter()
        .filter(|(p, r)| !state.tunnels.get(&p.slot).is_some_and(|t| t.index == WIRE_IFINDEX_BASE + r.slot))
        .map(|(p, r)| Change::CreateTunnel { slot: p.slot, name: p.name(), remote: r.clone() })
        .collect()
}

/// A remote port's tunnel end has the TC program on its ingress and is up.
pub fn link_tunnels(state: &State, run: &Run) -> Vec<Change> {
    let mut changes = Vec::new();
    for (p, r) in remote_ports(state, run) {
        let Some(tunnel) = state.tunnels.get(&p.slot).filter(|t| t.index == WIRE_IFINDEX_BASE + r.slot) else {
            continue;
        };
        if !attach::is_attached(&state.ctx.state, &tunnel.name, tunnel.index, Mode::Tc) {
            changes.push(Change::AttachTunnel { name: p.name(), tunnel: tunnel.clone() });
        }
        if !tunnel.admin_up {
            changes.push(Change::TunnelUp { name: p.name(), tunnel: tunnel.clone() });
        }
    }
    changes
}

/// A tunnel end is registered in the data path as a pseudo-port whose peer is the port, so
/// frames arriving from the remote cross to the port's wire end. Read from the map only when
/// the run makes changes (a dry run may have nothing loaded).
pub fn register_tunnels(state: &mut State, run: &Run) -> Result<Vec<Change>> {
    if !run.apply {
        return Ok(Vec::new());
    }
    let wanted: Vec<(String, String, PortConfig)> = remote_ports(state, run)
        .into_iter()
        .filter_map(|(p, r)| {
            let tunnel = state.tunnels.get(&p.slot)?;
            let config =
                PortConfig { peer_slot: p.slot, peer_ifindex: p.wire.index, ..PortConfig::unpeered(r.slot, Mode::Tc) };
            Some((p.name(), tunnel.name.clone(), config))
        })
        .collect();
    let crossover = state.crossover()?;
    let mut changes = Vec::new();
    for (name, tunnel, config) in wanted {
        let now = crossover.port(config.slot)?;
        if now != config {
            changes.push(Change::RegisterTunnel { name, tunnel, config, fresh: !now.is_registered() });
        }
    }
    Ok(changes)
}

/// Each port's program for its recorded mode is attached, and its wire end's GRO and its user
/// end's offloads set for that mode, before the map can send frames that way.
pub fn attach_programs(state: &State, run: &Run) -> Result<Vec<Change>> {
    let ports = run.touched(state);
    let mut changes = Vec::new();
    for port in &ports {
        let (name, wire) = (port.name(), port.wire.name.clone());
        if !attach::is_attached(&state.ctx.state, &port.wire.name, port.wire.index, port.mode()) {
            let (wire, wire_index, mode) = (wire.clone(), port.wire.index, port.mode());
            changes.push(Change::Attach { name: name.clone(), wire, wire_index, mode });
        }
        let on = port.wants_wire_gro();
        if ethtool::get(&port.wire.name, ethtool::Feature::Gro)? != on {
            changes.push(Change::WireGro { name: name.clone(), wire, on });
        }
        if wants_user_rx(state, port) && port.user.as_ref().is_some_and(|u| u.xdp_prog_id.is_none()) {
            changes.push(Change::UserRx { slot: port.slot, name, netns: port.netns.clone(), on: true });
        }
    }
    changes.extend(user_offloads(&ports)?);
    Ok(changes)
}

/// Whether a port's user end needs feth's pass-through XDP program: in XDP mode on a kernel
/// whose veth takes redirected frames only with one (before 5.13; `Features::veth_napi`).
fn wants_user_rx(state: &State, port: &Port) -> bool {
    port.mode() == Mode::Xdp && !state.ctx.features.veth_napi
}

/// User ends whose offloads differ from what their mode wants. Offloads are read one namespace
/// at a time (one thread enters each).
fn user_offloads(ports: &[&Port]) -> Result<Vec<Change>> {
    let mut by_netns: HashMap<&Netns, Vec<&Port>> = HashMap::new();
    for port in ports.iter().filter(|p| p.user.is_some()) {
        by_netns.entry(&port.netns).or_default().push(port);
    }
    let mut changes = Vec::new();
    for (netns, ports) in by_netns {
        let names: Vec<&str> = ports.iter().map(|p| p.user.as_ref().expect("filtered").name.as_str()).collect();
        let have = pair::user_offloads_many(&names, netns)?;
        for (port, have) in ports.into_iter().zip(have) {
            let tx_checksum = port.wants_tx_checksum();
            if have != (tx_checksum, true) {
                let (name, netns, mode) = (port.name(), port.netns.clone(), port.mode());
                changes.push(Change::UserOffloads { name, netns, tx_checksum, mode });
            }
        }
    }
    Ok(changes)
}

/// `FETH_PORTS` and the devmap follow the records; entries of slots without a wire end go.
/// A slot registered now starts with zeroed counters, so it never inherits an old port's.
pub fn sync_maps(state: &mut State, run: &Run) -> Result<Vec<Change>> {
    if state.crossover.is_none() && !run.apply {
        let touched = run.touched(state);
        return Ok(touched
            .into_iter()
            .map(|p| Change::SetPort { name: p.name(), config: state.config_of(p), now: None })
            .collect());
    }
    if state.ports.is_empty() && state.crossover.is_none() {
        return Ok(Vec::new());
    }
    // A port's entry holds what it saw of its peer's user end (`feth_common::port::hop`), so a
    // command that changes one port brings its peer's entry up to date too.
    let mut touched = run.touched(state);
    let peers: Vec<&crate::state::Port> = touched.iter().filter_map(|p| state.peer_of(p)).collect();
    touched.extend(peers);
    touched.sort_by_key(|p| p.slot);
    touched.dedup_by_key(|p| p.slot);
    let slots: Vec<u32> = touched.iter().map(|p| p.slot).collect();
    let wanted: Vec<(String, PortConfig)> = touched.into_iter().map(|p| (p.name(), state.config_of(p))).collect();
    // Tunnel ends' pseudo-ports are the tunnel steps'.
    let tunnel_slots: Vec<u32> = state.tunnels.values().filter_map(|t| feth_common::wire_slot_of(t.index)).collect();
    let crossover = state.crossover()?;
    let registered = registered_configs(crossover, run.only.as_ref().map(|_| slots.as_slice()))?;
    let by_slot: HashMap<u32, PortConfig> = registered.iter().copied().collect();
    let mut changes = Vec::new();
    for (name, config) in &wanted {
        let now = by_slot.get(&config.slot).copied();
        // The devmap may have been rebuilt empty while FETH_PORTS survived.
        let devmap_ok = !config.is_peered() || crossover.crossover_of(config.slot) == config.peer_ifindex;
        if now != Some(*config) || !devmap_ok {
            changes.push(Change::SetPort { name: name.clone(), config: *config, now });
        }
    }
    if run.is_whole() {
        let live: HashSet<u32> = wanted.iter().map(|(_, c)| c.slot).chain(tunnel_slots).collect();
        let gone = registered.iter().map(|(s, _)| *s).filter(|s| !live.contains(s));
        changes.extend(gone.map(|slot| Change::ForgetSlot { slot }));
    }
    Ok(changes)
}

/// The registered entries of `FETH_PORTS`: of `only` (a command's own ports: one map read
/// each, not the whole table, when bringing up many pairs), or all.
fn registered_configs(crossover: &Crossover, only: Option<&[u32]>) -> Result<Vec<(u32, PortConfig)>> {
    match only {
        Some(slots) => slots
            .iter()
            .map(|s| Ok((*s, crossover.port(*s)?)))
            .filter(|r| r.as_ref().map_or(true, |(_, c)| c.is_registered()))
            .collect(),
        None => crossover.ports(),
    }
}

/// Tunnel ends no port wants (unpeered, peered anew, or its port gone) are deleted, once the
/// port's configuration no longer points at them.
pub fn remove_stale_tunnels(state: &State, run: &Run) -> Vec<Change> {
    let mut stale: Vec<Change> = state
        .tunnels
        .iter()
        .filter(|(owner, _)| run.only.as_ref().is_none_or(|only| only.contains(owner)))
        .filter(|(owner, tunnel)| {
            let wanted = state.by_slot(**owner).and_then(|p| p.record.remote.as_ref());
            !wanted.is_some_and(|r| WIRE_IFINDEX_BASE + r.slot == tunnel.index)
        })
        .map(|(owner, tunnel)| Change::DeleteTunnel { owner: *owner, tunnel: tunnel.clone() })
        .collect();
    stale.sort_by_key(|c| if let Change::DeleteTunnel { owner, .. } = c { *owner } else { 0 });
    stale
}

/// Programs of a mode a port left (after the map flipped), the pass-through program of a user
/// end that left XDP mode, and pinned links of wire ends that are gone.
pub fn detach_stale_links(state: &State, run: &Run) -> Vec<Change> {
    let mut changes = Vec::new();
    let user_rx = attach::user_rx_id(&state.ctx.state);
    for port in run.touched(state) {
        for left in [Mode::Xdp, Mode::Tc, Mode::Netkit].into_iter().filter(|m| *m != port.mode()) {
            if attach::is_attached(&state.ctx.state, &port.wire.name, port.wire.index, left) {
                let (name, wire, wire_index) = (port.name(), port.wire.name.clone(), port.wire.index);
                changes.push(Change::Detach { name, wire, wire_index, mode: left });
            }
        }
        let ours = port.user.as_ref().and_then(|u| u.xdp_prog_id).filter(|id| Some(*id) == user_rx);
        if ours.is_some() && !wants_user_rx(state, port) {
            changes.push(Change::UserRx { slot: port.slot, name: port.name(), netns: port.netns.clone(), on: false });
        }
    }
    if !run.is_whole() {
        return changes;
    }
    for (wire, mode) in attach::attached_links(&state.ctx.state) {
        if !state.ports.iter().any(|p| p.wire.name == wire) && !state.tunnels.values().any(|t| t.name == wire) {
            changes.push(Change::UnpinLink { wire, mode });
        }
    }
    changes
}

/// Link state follows peering: a wire end is up exactly while its port is linked, and the user
/// end's carrier follows it.
pub fn sync_carrier(state: &State, run: &Run) -> Vec<Change> {
    run.touched(state)
        .into_iter()
        .filter(|p| p.wire.admin_up != state.is_linked(p))
        .map(|p| Change::Carrier { slot: p.slot, wire_index: p.wire.index, name: p.name(), up: state.is_linked(p) })
        .collect()
}

/// Every port with a rate or delay has feth's qdisc at the root of its user end (a namespace
/// move resets a device's qdiscs; a command cut short may not have installed it).
pub fn sync_shapers(state: &State, run: &Run) -> Result<Vec<Change>> {
    let mut changes = Vec::new();
    for p in run.touched(state).into_iter().filter(|p| p.record.impair.queue().is_some()) {
        let Some(user) = &p.user else { continue };
        if !shaper::in_step(&shaper::root(&user.name, &p.netns)?, &p.record.impair) {
            changes.push(Change::Shaper { user: user.name.clone(), netns: p.netns.clone(), impair: p.record.impair });
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{port, state_of};

    #[test]
    fn carrier_follows_peering() {
        let mut a = port(0, "feth0");
        let mut b = port(1, "feth1");
        let c = port(2, "feth2");
        (a.record.peer, b.record.peer) = (Some(1), Some(0));
        a.wire.admin_up = true;
        let mut state = state_of(vec![a, b, c]);
        let changes = sync_carrier(&state, &Run::all(false));
        let lines: Vec<String> = changes.iter().flat_map(Change::describe).collect();
        assert_eq!(lines, ["feth1: carrier on (peered)"]);
        changes.iter().for_each(|c| c.record_in(&mut state));
        assert!(sync_carrier(&state, &Run::all(false)).is_empty());
        // A command's own run looks at its own ports only.
        state.by_slot_mut(1).unwrap().record.peer = None;
        assert_eq!(sync_carrier(&state, &Run::ports(&[2])).len(), 0);
        assert_eq!(sync_carrier(&state, &Run::ports(&[0, 1])).len(), 2, "both sides of a one-sided peering");
    }

    #[test]
    fn a_tunnel_nobody_wants_goes_and_a_wanted_one_is_made() {
        let mut remote = port(0, "feth0");
        let at = crate::port::remote::Endpoint {
            addr: "198.18.9.2".parse().unwrap(),
            vni: 100,
            port: 4789,
            local: None,
            dev: None,
        };
        remote.record.remote = Some(Remote { at, slot: 5, lowered_mtu: None });
        let mut state = state_of(vec![remote, port(1, "feth1")]);
        let stale =
            crate::kernel::rtnl::LinkView { index: WIRE_IFINDEX_BASE + 9, name: "fvx1".into(), ..Default::default() };
        state.tunnels.insert(1, stale);
        let run = Run::all(false);
        let created: Vec<String> = create_tunnels(&state, &run).iter().flat_map(Change::describe).collect();
        assert_eq!(created, ["feth0: create fvx0, VXLAN to 198.18.9.2 vni 100 port 4789 via fvx0"]);
        let removed = remove_stale_tunnels(&state, &run);
        assert_eq!(
            removed.iter().flat_map(Change::describe).collect::<Vec<_>>(),
            ["delete fvx1, the VXLAN device of a port no longer peered with it"]
        );
        removed.iter().for_each(|c| c.record_in(&mut state));
        assert!(state.tunnels.is_empty() && remove_stale_tunnels(&state, &run).is_empty());
        assert!(link_tunnels(&state, &run).is_empty(), "nothing to link before the tunnel exists");
    }
}

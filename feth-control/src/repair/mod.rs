//! Bringing every kernel object in line with the wire ends' records: the one way state changes
//! reach the data path, and the repair of whatever a killed command, a lost pin or a deletion
//! behind our back left (ARCHITECTURE.md, "Repair").
//!
//! Each step is named and reports what it changes; in a dry run it changes the in-memory state
//! only, so later steps list what they would do after the earlier ones. Nothing here deletes an
//! interface a user made: only the VXLAN devices of remote peers (crate::port::remote), which the
//! loader owns, are created and deleted here.
use feth_common::{DEFAULT_MODE, Mode, PortConfig};

use crate::{
    datapath::crossover::{Crossover, OldLayout},
    datapath::pair,
    error::Result,
    port::record::{Record, Recorded},
    state::State,
};

/// One pass of repairs.
pub struct Run {
    /// Make the changes (false: only list them).
    pub apply: bool,
    /// Restrict the data-path steps to these slots (a command's own ports); `None` for all.
    pub only: Option<Vec<u32>>,
    /// What was (or would be) changed, one sentence each.
    pub changes: Vec<String>,
}

impl Run {
    pub fn all(apply: bool) -> Run {
        Run { apply, only: None, changes: Vec::new() }
    }

    pub fn ports(slots: &[u32]) -> Run {
        Run { apply: true, only: Some(slots.to_vec()), changes: Vec::new() }
    }

    /// The ports this run touches: the listed ones (found by slot), or all.
    fn touched<'a>(&self, state: &'a State) -> Vec<&'a crate::state::Port> {
        match &self.only {
            Some(slots) => slots.iter().filter_map(|s| state.by_slot(*s)).collect(),
            None => state.ports.iter().collect(),
        }
    }
}

/// Makes the per-slot maps hold `slots` slots: loads larger ones when they are too small,
/// keeps every port's counters and re-registers and re-attaches every port (frames that arrive
/// in that instant are not crossed). Done once before a command creates many ports.
pub fn grow(state: &mut State, slots: u32) -> Result<()> {
    let Some(crossover) = state.crossover.as_ref() else { return Ok(()) };
    if crossover.capacity() >= slots {
        return Ok(());
    }
    let saved: Vec<_> = state
        .ends()
        .iter()
        .filter_map(|(_, index)| feth_common::wire_slot_of(*index))
        .map(|slot| Ok((slot, crossover.stats_per_cpu(slot)?, crossover.shared(slot)?)))
        .collect::<Result<_>>()?;
    let wires = state.ends();
    state.crossover = None;
    Crossover::unpin_programs_and_links(&wires)?;
    Crossover::unpin_slot_maps()?;
    state.crossover = Some(Crossover::open_or_load(crate::datapath::crossover::capacity_for(slots))?);
    converge(state, &mut Run::all(true))?;
    let crossover = state.crossover()?;
    for (slot, values, shared) in saved {
        crossover.set_stats_per_cpu(slot, values)?;
        crossover.set_shared(slot, &shared)?;
    }
    Ok(())
}

/// Every repair, in order. Commands that change state run this first; `repair` runs it alone.
pub fn everything(state: &mut State, run: &mut Run) -> Result<()> {
    finish_records(state, run)?;
    roll_back_one_sided_peers(state, run)?;
    converge(state, run)?;
    clear_stale_capture(state, run)
}

/// A capture killed without switching the data path's capture off leaves it on; nobody holds
/// the layout directory then (crate::datapath::capture_switch).
fn clear_stale_capture(state: &mut State, run: &mut Run) -> Result<()> {
    let Some(crossover) = state.crossover.as_mut() else { return Ok(()) };
    let mut settings = crossover.settings()?;
    if crate::datapath::capture_switch::clear_if_stale(&mut settings)? {
        note(run, "switch off the capture of a capture that is no longer running".into());
        if run.apply {
            crossover.set_settings(&settings)?;
        }
    }
    Ok(())
}

/// The data-path steps: what `peer`, `unpeer`, a mode switch or `create` use after writing
/// records. Order keeps every frame accounted: the new program is attached (and the user end's
/// offloads set) before the map flips to it, the old one detached after, carrier last.
pub fn converge(state: &mut State, run: &mut Run) -> Result<()> {
    retire_old_layouts(state, run)?;
    load_pins(state, run)?;
    sync_tunnels(state, run)?;
    attach_programs(state, run)?;
    fault_point(run, "converge:attached");
    sync_maps(state, run)?;
    fault_point(run, "converge:maps");
    remove_stale_tunnels(state, run)?;
    detach_stale_links(state, run)?;
    sync_carrier(state, run)?;
    sync_shapers(state, run)?;
    unload_if_empty(state, run)
}

/// Every remote port has its tunnel end: created, up, with the TC program on its ingress, and
/// registered in the data path as a pseudo-port whose peer is the port (frames arriving from
/// the remote cross to the port's wire end). Created before the port's own configuration
/// points at it.
fn sync_tunnels(state: &mut State, run: &mut Run) -> Result<()> {
    let wanted: Vec<(u32, String, u32, crate::port::remote::Remote)> = run
        .touched(state)
        .into_iter()
        .filter_map(|p| Some((p.slot, p.name(), p.wire.index, p.record.remote.clone()?)))
        .collect();
    for (slot, name, wire_index, remote) in wanted {
        let tunnel_name = crate::datapath::tunnel::name(slot);
        let index = feth_common::WIRE_IFINDEX_BASE + remote.slot;
        if !state.tunnels.get(&slot).is_some_and(|t| t.index == index) {
            note(run, format!("{name}: create {tunnel_name}, VXLAN to {}", remote.at.describe(&tunnel_name)));
            if !run.apply {
                continue;
            }
            if let Some(old) = state.tunnels.remove(&slot) {
                state.rtnl.del(old.index, &format!("{}: delete the VXLAN device", old.name))?;
            }
            let tunnel = crate::datapath::tunnel::create(&state.rtnl, slot, &remote)?;
            state.tunnels.insert(slot, tunnel);
        }
        let tunnel = state.tunnels[&slot].clone();
        if !Crossover::is_attached(&tunnel.name, tunnel.index, Mode::Tc) {
            note(run, format!("{name}: attach the tc program to {}", tunnel.name));
            if run.apply {
                state.crossover()?.attach(&tunnel.name, tunnel.index, Mode::Tc)?;
            }
        }
        if !tunnel.admin_up {
            note(run, format!("{name}: set {} up", tunnel.name));
            if run.apply {
                state.rtnl.set_up(tunnel.index, true, &format!("{}: set up", tunnel.name))?;
            }
        }
        let config =
            PortConfig { peer_slot: slot, peer_ifindex: wire_index, ..PortConfig::unpeered(remote.slot, Mode::Tc) };
        if !run.apply {
            continue;
        }
        let crossover = state.crossover()?;
        let now = crossover.port(remote.slot)?;
        if now != config {
            run.changes.push(format!("{}: data path crosses to {name}", tunnel.name));
            if !now.is_registered() {
                crossover.reset_stats(remote.slot)?;
            }
            crossover.set_port(&config)?;
        }
    }
    Ok(())
}

/// Tunnel ends no port wants (unpeered, peered anew, or its port gone) are deleted, once the
/// port's configuration no longer points at them.
fn remove_stale_tunnels(state: &mut State, run: &mut Run) -> Result<()> {
    let stale: Vec<(u32, crate::kernel::rtnl::LinkView)> = state
        .tunnels
        .iter()
        .filter(|(owner, _)| run.only.as_ref().is_none_or(|only| only.contains(owner)))
        .filter(|(owner, tunnel)| {
            let wanted = state.by_slot(**owner).and_then(|p| p.record.remote.as_ref());
            !wanted.is_some_and(|r| feth_common::WIRE_IFINDEX_BASE + r.slot == tunnel.index)
        })
        .map(|(owner, tunnel)| (*owner, tunnel.clone()))
        .collect();
    for (owner, tunnel) in stale {
        note(run, format!("delete {}, the VXLAN device of a port no longer peered with it", tunnel.name));
        if run.apply {
            delete_tunnel(state, &tunnel)?;
        }
        state.tunnels.remove(&owner);
    }
    Ok(())
}

/// Deletes a tunnel end with what the data path has of it.
pub fn delete_tunnel(state: &mut State, tunnel: &crate::kernel::rtnl::LinkView) -> Result<()> {
    Crossover::detach(&tunnel.name, tunnel.index, Mode::Tc)?;
    state.rtnl.del(tunnel.index, &format!("{}: delete the VXLAN device", tunnel.name))?;
    Crossover::unpin(&tunnel.name, Mode::Tc)?;
    if let (Some(crossover), Some(slot)) = (state.crossover.as_mut(), feth_common::wire_slot_of(tunnel.index)) {
        crossover.remove_port(slot)?;
    }
    Ok(())
}

/// Every port with a rate or delay has feth's qdisc at the root of its user end (a namespace
/// move resets a device's qdiscs; a command cut short may not have installed it).
fn sync_shapers(state: &mut State, run: &mut Run) -> Result<()> {
    let wanted: Vec<(String, crate::kernel::netns::Netns, crate::port::impair::Impairment)> = run
        .touched(state)
        .into_iter()
        .filter(|p| p.record.impair.queue().is_some())
        .filter_map(|p| Some((p.user.as_ref()?.name.clone(), p.netns.clone(), p.record.impair)))
        .collect();
    for (user, ns, impair) in wanted {
        if crate::datapath::shaper::in_step(&crate::datapath::shaper::root(&user, &ns)?, &impair) {
            continue;
        }
        note(run, format!("{user}: put back the root qdisc for {}", impair.describe().join(", ")));
        if run.apply {
            crate::datapath::shaper::apply(&user, &ns, &impair)?;
        }
    }
    Ok(())
}

/// Fault points of a command's own changes (not of the repair every command starts with).
fn fault_point(run: &Run, name: &str) {
    if run.only.is_some() {
        crate::fault::point(name);
    }
}

fn note(run: &mut Run, text: String) {
    run.changes.push(text);
}

/// A wire end without a record is a creation cut short after the veth pair was made: finish it
/// with the defaults. Layout 1's alias is upgraded to a record, keeping the peer and mode the
/// old pins hold. A batched destroy cut short leaves wire ends in the doomed group: they stay.
pub fn finish_records(state: &mut State, run: &mut Run) -> Result<()> {
    let old = old_layout_configs();
    let slots: Vec<u32> = state.ports.iter().map(|p| p.slot).collect();
    for slot in slots {
        let port = state.by_slot(slot).expect("listed").clone();
        if port.wire.group == pair::DOOMED_GROUP {
            note(run, format!("{}: keep {} (a destroy was cut short before deleting it)", port.name(), port.wire.name));
            if run.apply {
                state.rtnl.set_group(port.wire.index, 0, &format!("{}: unmark", port.wire.name))?;
            }
            state.by_slot_mut(slot).expect("listed").wire.group = 0;
        }
        let record = match port.recorded {
            Recorded::Current => continue,
            Recorded::Missing => {
                note(
                    run,
                    format!("{}: finish a creation cut short (record defaults on {})", port.name(), port.wire.name),
                );
                Record::default()
            }
            Recorded::V1 => {
                note(run, format!("{}: upgrade {}'s record from layout 1", port.name(), port.wire.name));
                let mut record = Record::default();
                if let Some(c) = old.iter().find(|c| c.slot == slot && c.is_registered()) {
                    record.mode = Mode::from_raw(c.mode).unwrap_or(record.mode);
                    record.peer = c.is_peered().then_some(c.peer_slot);
                }
                // Layout 1 kept hwcsum nowhere but on the user end itself.
                if record.mode == Mode::Tc
                    && let Some(user) = &port.user
                {
                    record.hwcsum = pair::user_offloads(&user.name, &port.netns).map_or(true, |(csum, _)| csum);
                }
                record
            }
        };
        set_record(state, run, slot, record)?;
    }
    Ok(())
}

/// Peering must be mutual; a one-sided record is a `peer` or `unpeer` cut short between its two
/// record writes: it is rolled back (which also finishes an `unpeer`).
pub fn roll_back_one_sided_peers(state: &mut State, run: &mut Run) -> Result<()> {
    let one_sided: Vec<u32> =
        state.ports.iter().filter(|p| p.record.peer.is_some() && state.peer_of(p).is_none()).map(|p| p.slot).collect();
    for slot in one_sided {
        let port = state.by_slot(slot).expect("listed");
        note(run, format!("{}: roll back a one-sided peering", port.name()));
        let record = Record { peer: None, ..port.record.clone() };
        set_record(state, run, slot, record)?;
    }
    Ok(())
}

fn set_record(state: &mut State, run: &mut Run, slot: u32, record: Record) -> Result<()> {
    if run.apply {
        state.write_record(slot, record)
    } else {
        state.by_slot_mut(slot).expect("listed").record = record;
        Ok(())
    }
}

/// Peers and modes layout 1 kept in its `FETH_PORTS` (same value layout as today's).
/// Layout 1's (and 2's) `FETH_PORTS` value: the first four fields of today's `PortConfig`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct PortConfigV1 {
    slot: u32,
    peer_slot: u32,
    mode: u32,
    peer_ifindex: u32,
}

// SAFETY: plain integers, no padding.
unsafe impl aya::Pod for PortConfigV1 {}

fn old_layout_configs() -> Vec<PortConfig> {
    let path = crate::kernel::bpffs::dir().join(feth_common::names::MAP_PORTS);
    let Ok(data) = aya::maps::MapData::from_pin(&path) else { return Vec::new() };
    let Ok(map) = aya::maps::Array::<_, PortConfigV1>::try_from(aya::maps::Map::Array(data)) else { return Vec::new() };
    map.iter()
        .filter_map(|c| c.ok())
        .map(|c| PortConfig {
            peer_slot: c.peer_slot,
            mode: c.mode,
            peer_ifindex: c.peer_ifindex,
            ..PortConfig::unpeered(c.slot, DEFAULT_MODE)
        })
        .collect()
}

/// Pins of another layout: their links are detached (an XDP link would keep the current
/// layout's off the wire end) and their maps and programs unpinned. The records already hold
/// what they knew.
fn retire_old_layouts(state: &mut State, run: &mut Run) -> Result<()> {
    if run.only.is_some() {
        return Ok(());
    }
    for old in OldLayout::find() {
        note(run, format!("remove the pins of an older layout in {}", old.path.display()));
        if run.apply {
            old.remove()?;
        }
    }
    let _ = state;
    Ok(())
}

/// Missing pins (removed, bpffs remounted, a load cut short) are loaded again; maps that still
/// exist are reused with their contents. Programs keep the maps they were loaded with, so when
/// any pin is missing the programs are reloaded and every wire end re-attached to them (frames
/// that arrive in that instant are not crossed).
fn load_pins(state: &mut State, run: &mut Run) -> Result<()> {
    if state.ports.is_empty() {
        return Ok(());
    }
    let missing = Crossover::missing_pins();
    if missing.is_empty() && state.crossover.is_some() {
        return Ok(());
    }
    if !missing.is_empty() {
        note(run, format!("load and pin {} in {}", missing.join(", "), crate::kernel::bpffs::layout_dir().display()));
        if Crossover::any_pinned() {
            note(run, "reload the programs and re-attach every wire end to them".into());
        }
    }
    if run.apply {
        if !missing.is_empty() {
            Crossover::unpin_programs_and_links(&state.ends())?;
        }
        state.crossover = None;
        state.crossover()?;
    }
    Ok(())
}

/// Each port's program for its recorded mode is attached, and its user end's offloads set for
/// that mode, before the map can send frames that way.
fn attach_programs(state: &mut State, run: &mut Run) -> Result<()> {
    let ports: Vec<_> = run.touched(state).into_iter().cloned().collect();
    for port in &ports {
        if !Crossover::is_attached(&port.wire.name, port.wire.index, port.mode()) {
            note(run, format!("{}: attach the {} program to {}", port.name(), port.mode().name(), port.wire.name));
            if run.apply {
                state.crossover()?.attach(&port.wire.name, port.wire.index, port.mode())?;
            }
        }
        let gro = port.wants_wire_gro();
        if crate::kernel::ethtool::get(&port.wire.name, crate::kernel::ethtool::Feature::Gro)? != gro {
            let why = if gro { "" } else { " while TC mode corrupts frames" };
            note(run, format!("{}: set gro {} on {}{why}", port.name(), on_off(gro), port.wire.name));
            if run.apply {
                crate::kernel::ethtool::set(&port.wire.name, crate::kernel::ethtool::Feature::Gro, gro)?;
            }
        }
    }
    // Offloads are read one namespace at a time (one thread enters each).
    let mut by_netns: std::collections::HashMap<&crate::kernel::netns::Netns, Vec<&crate::state::Port>> =
        std::collections::HashMap::new();
    for port in ports.iter().filter(|p| p.user.is_some()) {
        by_netns.entry(&port.netns).or_default().push(port);
    }
    for (netns, ports) in by_netns {
        let names: Vec<&str> = ports.iter().map(|p| p.user.as_ref().expect("filtered").name.as_str()).collect();
        let have = pair::user_offloads_many(&names, netns)?;
        for (port, have) in ports.into_iter().zip(have) {
            let want = (port.wants_tx_checksum(), true);
            if have == want {
                continue;
            }
            note(
                run,
                format!(
                    "{}: set tx-checksumming {} and gro on for {} mode",
                    port.name(),
                    on_off(want.0),
                    port.mode().name()
                ),
            );
            if run.apply {
                pair::configure_user(&port.name(), &port.netns, want.0)?;
            }
        }
    }
    Ok(())
}

/// `FETH_PORTS` and the devmap follow the records; entries of slots without a wire end go.
/// A slot registered now starts with zeroed counters, so it never inherits an old port's.
fn sync_maps(state: &mut State, run: &mut Run) -> Result<()> {
    if state.crossover.is_none() && !run.apply {
        let listed: Vec<String> = run
            .touched(state)
            .into_iter()
            .map(|p| format!("{}: register slot {} in the data path", p.name(), p.slot))
            .collect();
        run.changes.extend(listed);
        return Ok(());
    }
    if state.ports.is_empty() && state.crossover.is_none() {
        return Ok(());
    }
    let wanted: Vec<(String, PortConfig)> =
        run.touched(state).into_iter().map(|p| (p.name(), state.config_of(p))).collect();
    // Tunnel ends' pseudo-ports are sync_tunnels' (and remove_stale_tunnels').
    let tunnel_slots: Vec<u32> = state.tunnels.values().filter_map(|t| feth_common::wire_slot_of(t.index)).collect();
    let crossover = state.crossover()?;
    let registered = registered_configs(crossover, run.only.as_deref())?;
    let by_slot: std::collections::HashMap<u32, PortConfig> = registered.iter().copied().collect();
    for (name, config) in &wanted {
        let (name, config) = (name.as_str(), *config);
        let now = by_slot.get(&config.slot).copied();
        // The devmap may have been rebuilt empty while FETH_PORTS survived.
        let devmap_ok = !config.is_peered() || crossover.crossover_of(config.slot) == config.peer_ifindex;
        if now == Some(config) && devmap_ok {
            continue;
        }
        run.changes.push(match (now, config.is_peered()) {
            (None, _) => format!("{name}: register slot {} in the data path", config.slot),
            (Some(_), true) => {
                format!("{name}: data path crosses to slot {} in {} mode", config.peer_slot, mode_name(&config))
            }
            (Some(_), false) => format!("{name}: data path unpeered in {} mode", mode_name(&config)),
        });
        if run.apply {
            if now.is_none() {
                crossover.reset_stats(config.slot)?;
            }
            if config.is_peered() {
                // Devmap entry first: it is unused until the config says peered.
                crossover.set_crossover(config.slot, config.peer_ifindex)?;
            }
            crossover.set_port(&config)?;
        }
    }
    if run.only.is_none() {
        let live = wanted.iter().map(|(_, c)| c.slot).chain(tunnel_slots);
        forget_gone_slots(crossover, run, &registered, live.collect())?;
    }
    Ok(())
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

/// Entries of `registered` whose slot is not `live` (its wire end is gone) are removed.
fn forget_gone_slots(
    crossover: &mut Crossover,
    run: &mut Run,
    registered: &[(u32, PortConfig)],
    live: std::collections::HashSet<u32>,
) -> Result<()> {
    for slot in registered.iter().map(|(s, _)| *s).filter(|s| !live.contains(s)) {
        run.changes.push(format!("forget slot {slot}: its wire end is gone"));
        if run.apply {
            crossover.remove_port(slot)?;
        }
    }
    Ok(())
}

fn mode_name(config: &PortConfig) -> &'static str {
    Mode::from_raw(config.mode).map_or("?", Mode::name)
}

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Programs of a mode a port left (after the map flipped), and pinned links of wire ends that
/// are gone.
fn detach_stale_links(state: &mut State, run: &mut Run) -> Result<()> {
    let ports: Vec<_> = run.touched(state).into_iter().cloned().collect();
    for port in ports {
        let left = if port.mode() == Mode::Xdp { Mode::Tc } else { Mode::Xdp };
        if Crossover::is_attached(&port.wire.name, port.wire.index, left) {
            note(run, format!("{}: detach the {} program from {}", port.name(), left.name(), port.wire.name));
            if run.apply {
                Crossover::detach(&port.wire.name, port.wire.index, left)?;
            }
        }
    }
    if run.only.is_some() {
        return Ok(());
    }
    for (wire, mode) in Crossover::attached_links() {
        if state.ports.iter().any(|p| p.wire.name == wire) || state.tunnels.values().any(|t| t.name == wire) {
            continue;
        }
        note(run, format!("unpin the {} link of {wire}, which is gone", mode.name()));
        if run.apply {
            Crossover::unpin(&wire, mode)?;
        }
    }
    Ok(())
}

/// Link state follows peering: a wire end is up exactly while its port is peered, and the user
/// end's carrier follows it.
fn sync_carrier(state: &mut State, run: &mut Run) -> Result<()> {
    let changes: Vec<(u32, u32, String, bool)> = run
        .touched(state)
        .into_iter()
        .map(|p| (p.slot, p.wire.index, p.name(), state.is_linked(p)))
        .filter(|(slot, _, _, up)| state.by_slot(*slot).is_some_and(|p| p.wire.admin_up != *up))
        .collect();
    for (slot, index, name, up) in changes {
        note(run, format!("{name}: carrier {}", if up { "on (peered)" } else { "off (unpeered)" }));
        if run.apply {
            state.rtnl.set_up(index, up, &format!("{name}: set wire end {}", if up { "up" } else { "down" }))?;
            if up {
                end_link_down(state, slot)?;
            }
        }
        state.by_slot_mut(slot).expect("listed").wire.admin_up = up;
    }
    Ok(())
}

/// A cable plugged back in by the repair (its `flap` was killed during a down period): the
/// period's mark goes, so that later refusals are not taken for link-down ones (what it
/// refused stays `tx_refused`, ops::Cable).
fn end_link_down(state: &mut State, slot: u32) -> Result<()> {
    let Some(crossover) = state.crossover.as_mut() else { return Ok(()) };
    let shared = crossover.shared(slot)?;
    if shared.down != 0 {
        crossover.set_shared(slot, &feth_common::SharedCounters { down: 0, ..shared })?;
    }
    Ok(())
}

/// When no port is left, nothing of feth is: every pin and the state directory go.
pub fn unload_if_empty(state: &mut State, run: &mut Run) -> Result<()> {
    if !state.ports.is_empty() {
        return Ok(());
    }
    if Crossover::any_pinned() || !OldLayout::find().is_empty() {
        note(run, "no feth interface is left: remove every pin".into());
    }
    if run.apply {
        state.crossover = None;
        Crossover::unload()?;
        for old in OldLayout::find() {
            old.remove()?;
        }
        crate::kernel::bpffs::remove_layout_if_empty();
    }
    Ok(())
}

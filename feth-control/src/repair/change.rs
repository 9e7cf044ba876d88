//! The repair's changes as values: each says what it changes in one sentence, makes the change
//! in the kernel, and records in the in-memory state what the change leaves (in a dry run too,
//! so that later steps plan as if it had been made).
use feth_common::{Mode, PortConfig, SharedCounters};

use crate::{
    datapath::{attach, legacy::OldLayout, load, pair, shaper, tunnel},
    error::Result,
    kernel::{ethtool, netns::Netns, rtnl::LinkView},
    port::{impair::Impairment, on_off, record::Record, remote::Remote},
    state::State,
};

/// One change a repair makes.
#[derive(Clone, Debug)]
pub enum Change {
    /// A wire end left in the doomed group by a destroy cut short goes back to group 0.
    KeepDoomed {
        slot: u32,
        name: String,
        wire: String,
        wire_index: u32,
    },
    /// A port's record is written; `why` is the sentence.
    WriteRecord {
        slot: u32,
        record: Record,
        why: String,
    },
    /// The data path's capture switch goes off (a killed capture left it on).
    ClearCapture {
        settings: feth_common::Settings,
    },
    /// An older layout's pins are removed.
    RetireLayout {
        old: crate::datapath::legacy::OldLayout,
    },
    /// Missing pins are loaded (the programs reloaded and every wire end re-attached when
    /// others are still pinned); with nothing missing, the pinned maps are only opened.
    LoadPins {
        missing: Vec<&'static str>,
        reattach: bool,
        /// Where they are pinned (the layout directory), for the sentence.
        layout: std::path::PathBuf,
    },
    /// A remote port's tunnel end is created (replacing another of that slot).
    CreateTunnel {
        slot: u32,
        name: String,
        remote: Remote,
    },
    /// The TC program is attached to a tunnel end.
    AttachTunnel {
        name: String,
        tunnel: LinkView,
    },
    TunnelUp {
        name: String,
        tunnel: LinkView,
    },
    /// A tunnel end's pseudo-port is registered, crossing to its port.
    RegisterTunnel {
        name: String,
        tunnel: String,
        config: PortConfig,
        fresh: bool,
    },
    /// A port's program for its mode is attached to its wire end.
    Attach {
        name: String,
        wire: String,
        wire_index: u32,
        mode: Mode,
    },
    WireGro {
        name: String,
        wire: String,
        on: bool,
    },
    /// The pass-through XDP program goes on a user end (`on`, XDP mode before 5.13) or off.
    UserRx {
        slot: u32,
        name: String,
        netns: Netns,
        on: bool,
    },
    UserOffloads {
        name: String,
        netns: Netns,
        tx_checksum: bool,
        mode: Mode,
    },
    /// `FETH_PORTS` (and the devmap) follow a port's record; `now` is what the map held.
    SetPort {
        name: String,
        config: PortConfig,
        now: Option<PortConfig>,
    },
    ForgetSlot {
        slot: u32,
    },
    DeleteTunnel {
        owner: u32,
        tunnel: LinkView,
    },
    Detach {
        name: String,
        wire: String,
        wire_index: u32,
        mode: Mode,
    },
    UnpinLink {
        wire: String,
        mode: Mode,
    },
    Carrier {
        slot: u32,
        wire_index: u32,
        name: String,
        up: bool,
    },
    Shaper {
        user: String,
        netns: Netns,
        impair: Impairment,
    },
    /// No port is left: every pin goes; `noted` when there was anything to remove.
    Unload {
        noted: bool,
    },
}

fn user_rx_sentence(name: &str, on: bool) -> String {
    if on {
        format!(
            "{name}: attach a pass-through XDP program (before Linux 5.13 a veth takes XDP-redirected frames only with one)"
        )
    } else {
        format!("{name}: detach the pass-through XDP program")
    }
}

fn mode_name(config: &PortConfig) -> &'static str {
    Mode::from_raw(config.mode).map_or("?", Mode::name)
}

impl Change {
    /// The sentences `repair` prints for this change (none for a change users need not see).
    pub fn describe(&self) -> Vec<String> {
        let one = |s: String| vec![s];
        match self {
            Change::KeepDoomed { name, wire, .. } => {
                one(format!("{name}: keep {wire} (a destroy was cut short before deleting it)"))
            }
            Change::WriteRecord { why, .. } => one(why.clone()),
            Change::ClearCapture { .. } => one("switch off the capture of a capture that is no longer running".into()),
            Change::RetireLayout { old } => one(format!("remove the pins of an older layout in {old}")),
            Change::LoadPins { missing, .. } if missing.is_empty() => vec![],
            Change::LoadPins { missing, reattach, layout } => {
                let mut lines = vec![format!("load and pin {} in {}", missing.join(", "), layout.display())];
                if *reattach {
                    lines.push("reload the programs and re-attach every wire end to them".into());
                }
                lines
            }
            Change::CreateTunnel { slot, name, remote } => {
                let tunnel = tunnel::name(*slot);
                one(format!("{name}: create {tunnel}, VXLAN to {}", remote.at.describe(&tunnel)))
            }
            Change::AttachTunnel { name, tunnel } => one(format!("{name}: attach the tc program to {}", tunnel.name)),
            Change::TunnelUp { name, tunnel } => one(format!("{name}: set {} up", tunnel.name)),
            Change::RegisterTunnel { name, tunnel, .. } => one(format!("{tunnel}: data path crosses to {name}")),
            Change::Attach { name, wire, mode, .. } => {
                one(format!("{name}: attach the {} program to {wire}", mode.name()))
            }
            Change::WireGro { name, wire, on } => {
                let why = if *on { "" } else { " while TC mode corrupts frames" };
                one(format!("{name}: set gro {} on {wire}{why}", on_off(*on)))
            }
            Change::UserRx { name, on, .. } => one(user_rx_sentence(name, *on)),
            Change::UserOffloads { name, tx_checksum, mode, .. } => {
                one(format!("{name}: set tx-checksumming {} and gro on for {} mode", on_off(*tx_checksum), mode.name()))
            }
            Change::SetPort { name, config, now } => one(describe_set_port(name, config, now.as_ref())),
            Change::ForgetSlot { slot } => one(format!("forget slot {slot}: its wire end is gone")),
            Change::DeleteTunnel { tunnel, .. } => {
                one(format!("delete {}, the VXLAN device of a port no longer peered with it", tunnel.name))
            }
            Change::Detach { name, wire, mode, .. } => {
                one(format!("{name}: detach the {} program from {wire}", mode.name()))
            }
            Change::UnpinLink { wire, mode } => one(format!("unpin the {} link of {wire}, which is gone", mode.name())),
            Change::Carrier { name, up, .. } => {
                one(format!("{name}: carrier {}", if *up { "on (peered)" } else { "off (unpeered)" }))
            }
            Change::Shaper { user, impair, .. } => {
                one(format!("{user}: put back the root qdisc for {}", impair.describe().join(", ")))
            }
            Change::Unload { noted: true } => one("no feth interface is left: remove every pin".into()),
            Change::Unload { noted: false } => vec![],
        }
    }

    /// Makes the change in the kernel.
    pub fn apply(&self, state: &mut State) -> Result<()> {
        match self {
            Change::KeepDoomed { wire, wire_index, .. } => {
                state.rtnl.set_group(*wire_index, 0, &format!("{wire}: unmark"))
            }
            Change::WriteRecord { slot, record, .. } => state.write_record(*slot, record.clone()),
            Change::ClearCapture { settings } => match state.crossover.as_mut() {
                Some(c) => c.set_settings(settings),
                None => Ok(()),
            },
            Change::RetireLayout { old } => old.remove(),
            Change::LoadPins { missing, .. } => {
                if !missing.is_empty() {
                    load::unpin_programs_and_links(&state.ctx, &state.ends())?;
                }
                state.crossover = None;
                state.crossover().map(drop)
            }
            Change::Unload { .. } => {
                state.crossover = None;
                load::unload(&state.ctx.state)?;
                for old in OldLayout::find(&state.ctx.state) {
                    old.remove()?;
                }
                state.ctx.state.remove_layout_if_empty();
                Ok(())
            }
            _ => self.apply_to_ports(state),
        }
    }

    /// The changes of the ports' own data path: tunnels, programs, offloads, maps, carrier,
    /// qdiscs.
    fn apply_to_ports(&self, state: &mut State) -> Result<()> {
        match self {
            Change::CreateTunnel { slot, remote, .. } => {
                if let Some(old) = state.tunnels.remove(slot) {
                    state.rtnl.del(old.index, &format!("{}: delete the VXLAN device", old.name))?;
                }
                let made = tunnel::create(&state.rtnl, *slot, remote)?;
                state.tunnels.insert(*slot, made);
                Ok(())
            }
            Change::AttachTunnel { tunnel, .. } => state
                .crossover()
                .map(drop)
                .and_then(|()| attach::attach(&state.ctx, &tunnel.name, tunnel.index, Mode::Tc)),
            Change::TunnelUp { tunnel, .. } => {
                state.rtnl.set_up(tunnel.index, true, &format!("{}: set up", tunnel.name))
            }
            Change::RegisterTunnel { config, fresh, .. } => {
                let crossover = state.crossover()?;
                if *fresh {
                    crossover.reset_stats(config.slot)?;
                }
                crossover.set_port(config)
            }
            Change::Attach { wire, wire_index, mode, .. } => {
                state.crossover().map(drop).and_then(|()| attach::attach(&state.ctx, wire, *wire_index, *mode))
            }
            Change::WireGro { wire, on, .. } => ethtool::set(wire, ethtool::Feature::Gro, *on),
            Change::UserRx { slot, name, netns, on } => {
                let wire = state.by_slot(*slot).map(|p| p.wire.clone()).unwrap_or_default();
                state.crossover().map(drop)?;
                attach::user_rx(&state.ctx.state, &state.rtnl, &wire, name, netns, *on)
            }
            Change::UserOffloads { name, netns, tx_checksum, .. } => pair::configure_user(name, netns, *tx_checksum),
            Change::SetPort { config, now, .. } => {
                let crossover = state.crossover()?;
                if now.is_none() {
                    crossover.reset_stats(config.slot)?;
                }
                if config.is_peered() {
                    // Devmap entry first: it is unused until the config says peered.
                    crossover.set_crossover(config.slot, config.peer_ifindex)?;
                }
                crossover.set_port(config)
            }
            Change::ForgetSlot { slot } => state.crossover()?.remove_port(*slot),
            Change::DeleteTunnel { tunnel, .. } => delete_tunnel(state, tunnel),
            Change::Detach { wire, wire_index, mode, .. } => attach::detach(&state.ctx, wire, *wire_index, *mode),
            Change::UnpinLink { wire, mode } => attach::unpin(&state.ctx.state, wire, *mode),
            Change::Carrier { slot, wire_index, name, up } => {
                let what = format!("{name}: set wire end {}", if *up { "up" } else { "down" });
                state.rtnl.set_up(*wire_index, *up, &what)?;
                if *up { end_link_down(state, *slot) } else { Ok(()) }
            }
            Change::Shaper { user, netns, impair } => shaper::apply(user, netns, impair),
            _ => unreachable!("apply handles the other changes"),
        }
    }

    /// Records in `state` what the change leaves, made or not.
    pub fn record_in(&self, state: &mut State) {
        match self {
            Change::KeepDoomed { slot, .. } => {
                if let Some(p) = state.by_slot_mut(*slot) {
                    p.wire.group = 0;
                }
            }
            Change::WriteRecord { slot, record, .. } => {
                if let Some(p) = state.by_slot_mut(*slot) {
                    p.record = record.clone();
                }
            }
            Change::DeleteTunnel { owner, .. } => drop(state.tunnels.remove(owner)),
            Change::UserRx { slot, on, .. } => {
                let id = if *on { attach::user_rx_id(&state.ctx.state) } else { None };
                if let Some(user) = state.by_slot_mut(*slot).and_then(|p| p.user.as_mut()) {
                    user.xdp_prog_id = id;
                }
            }
            Change::Carrier { slot, up, .. } => {
                if let Some(p) = state.by_slot_mut(*slot) {
                    p.wire.admin_up = *up;
                }
            }
            _ => {}
        }
    }
}

/// Deletes a tunnel end with what the data path has of it.
pub fn delete_tunnel(state: &mut State, tunnel: &LinkView) -> Result<()> {
    attach::detach(&state.ctx, &tunnel.name, tunnel.index, Mode::Tc)?;
    state.rtnl.del(tunnel.index, &format!("{}: delete the VXLAN device", tunnel.name))?;
    attach::unpin(&state.ctx.state, &tunnel.name, Mode::Tc)?;
    if let (Some(crossover), Some(slot)) = (state.crossover.as_mut(), feth_common::wire_slot_of(tunnel.index)) {
        crossover.remove_port(slot)?;
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
        crossover.set_shared(slot, &SharedCounters { down: 0, ..shared })?;
    }
    Ok(())
}

/// What a `Change::SetPort` does.
fn describe_set_port(name: &str, config: &PortConfig, now: Option<&PortConfig>) -> String {
    match (now, config.is_peered()) {
        (None, _) => format!("{name}: register slot {} in the data path", config.slot),
        (Some(now), true)
            if now != config
                && PortConfig { hop: config.hop, peer_limit: config.peer_limit, peer_mac: config.peer_mac, ..*now }
                    == *config =>
        {
            // Only what it saw of its peer's user end changed (`ops::hops`).
            let hops = if config.hop == 0 { "two hops" } else { "one hop" };
            format!("{name}: data path follows its peer's user end: {hops}")
        }
        (Some(_), true) => {
            format!("{name}: data path crosses to slot {} in {} mode", config.peer_slot, mode_name(config))
        }
        (Some(_), false) => format!("{name}: data path unpeered in {} mode", mode_name(config)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_says_what_it_does() {
        let config = PortConfig { peer_slot: 1, peer_ifindex: 7, ..PortConfig::unpeered(0, Mode::Xdp) };
        let port = |now| Change::SetPort { name: "feth0".into(), config, now };
        assert_eq!(port(None).describe(), ["feth0: register slot 0 in the data path"]);
        assert_eq!(port(Some(config)).describe(), ["feth0: data path crosses to slot 1 in xdp mode"]);
        let two_hops = PortConfig { mode: Mode::Tc as u32, ..config };
        let one_hop = PortConfig { hop: feth_common::port::hop::ONE, peer_limit: 1518, ..two_hops };
        let follows = Change::SetPort { name: "feth0".into(), config: one_hop, now: Some(two_hops) };
        assert_eq!(follows.describe(), ["feth0: data path follows its peer's user end: one hop"]);
        let gro = Change::WireGro { name: "feth0".into(), wire: "fwire0".into(), on: false };
        assert_eq!(gro.describe(), ["feth0: set gro off on fwire0 while TC mode corrupts frames"]);
        let carrier = Change::Carrier { slot: 0, wire_index: 1, name: "feth0".into(), up: true };
        assert_eq!(carrier.describe(), ["feth0: carrier on (peered)"]);
        assert!(Change::LoadPins { missing: vec![], reattach: false, layout: "/v9".into() }.describe().is_empty());
        assert!(Change::Unload { noted: false }.describe().is_empty());
    }
}

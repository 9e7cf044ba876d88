//! The feth bench as the kernel knows it: wire ends (with their aliases) plus the pinned maps.
//!
//! Every command starts by reading this state and repairing what a killed command or a
//! deletion behind our back left half-done, so the kernel objects stay the only truth.
use feth_common::{MAX_PORTS, Mode, PortConfig, port::NO_PEER, wire_slot_of};

use crate::{
    crossover::Crossover,
    error::Result,
    names::wire_slot,
    pair::parse_wire_alias,
    rtnl::{LinkView, Rtnl},
};

/// A feth interface.
#[derive(Clone, Debug)]
pub struct Port {
    pub name: String,
    pub netns: Option<String>,
    pub slot: u32,
    pub wire: LinkView,
    pub config: PortConfig,
}

impl Port {
    pub fn mode(&self) -> Mode {
        Mode::from_raw(self.config.mode).unwrap_or(Mode::Xdp)
    }
}

pub struct State {
    /// rtnetlink in the loader's namespace, where the wire ends live.
    pub rtnl: Rtnl,
    pub crossover: Option<Crossover>,
    pub ports: Vec<Port>,
}

impl State {
    /// Reads and repairs the state. Call with the lock held.
    pub fn load() -> Result<State> {
        let rtnl = Rtnl::open()?;
        let crossover = Crossover::open_existing()?;
        let mut state = State { rtnl, crossover, ports: Vec::new() };
        state.reconcile()?;
        Ok(state)
    }

    pub fn find(&self, name: &str) -> Option<&Port> {
        self.ports.iter().find(|p| p.name == name)
    }

    pub fn by_slot(&self, slot: u32) -> Option<&Port> {
        self.ports.iter().find(|p| p.slot == slot)
    }

    pub fn peer_of(&self, port: &Port) -> Option<&Port> {
        port.config.is_peered().then(|| self.by_slot(port.config.peer_slot)).flatten()
    }

    /// Lowest slot no wire end uses.
    pub fn free_slot(&self) -> Option<u32> {
        let mut used = vec![false; MAX_PORTS as usize];
        self.ports.iter().for_each(|p| used[p.slot as usize] = true);
        used.iter().position(|u| !u).map(|s| s as u32)
    }

    pub fn crossover(&mut self) -> Result<&mut Crossover> {
        if self.crossover.is_none() {
            match Crossover::open_or_load() {
                Ok(c) => self.crossover = Some(c),
                Err(e) => {
                    // A load that failed half-way (the verifier, a missing feature) leaves no pins.
                    let _ = self.unload_if_empty();
                    return Err(e);
                }
            }
        }
        Ok(self.crossover.as_mut().expect("just loaded"))
    }

    /// When no port is left, nothing of feth is: every pin goes.
    pub fn unload_if_empty(&mut self) -> Result<()> {
        if !self.ports.is_empty() {
            return Ok(());
        }
        self.crossover = None;
        Crossover::unload()
    }

    /// Records what a command just wrote for a port, so later steps of the same command see it.
    pub fn update(&mut self, slot: u32, config: PortConfig, wire_up: Option<bool>) {
        if let Some(port) = self.ports.iter_mut().find(|p| p.slot == slot) {
            port.config = config;
            if let Some(up) = wire_up {
                port.wire.admin_up = up;
            }
        }
    }

    fn reconcile(&mut self) -> Result<()> {
        let links = self.rtnl.links()?;
        let mut wires = Vec::new();
        for mut link in links {
            let Some(slot) = wire_slot(&link.name) else { continue };
            if link.group == crate::pair::DOOMED_GROUP {
                // A destroy killed between marking and deleting: the port stays.
                self.rtnl.set_group(link.index, 0, &format!("{}: unmark", link.name))?;
                link.group = 0;
            }
            match link.alias.as_deref().and_then(parse_wire_alias) {
                Some((name, netns)) if link.is_veth && wire_slot_of(link.index) == Some(slot) => {
                    wires.push((name, netns, slot, link))
                }
                // A wire end whose creation was cut short before it got its alias (or one the
                // data path could not find): finish the rollback by deleting the pair.
                _ if link.is_veth => {
                    self.rtnl.del(link.index, &format!("{}: remove unfinished wire end", link.name))?
                }
                _ => {}
            }
        }

        let Some(crossover) = self.crossover.as_mut() else {
            // Wire ends without the pinned state cannot cross anything, and pins without all of
            // it are a load cut short: remove both.
            for (_, _, _, wire) in &wires {
                self.rtnl.del(wire.index, &format!("{}: remove wire end without crossover", wire.name))?;
            }
            return self.unload_if_empty();
        };

        let mut configs = crossover.ports()?;
        // Map entries whose wire end is gone (interface deleted behind our back).
        for (slot, _) in configs.iter().filter(|(s, _)| !wires.iter().any(|w| w.2 == *s)) {
            crossover.remove_port(*slot)?;
        }
        configs.retain(|(s, _)| wires.iter().any(|w| w.2 == *s));

        self.ports = wires
            .into_iter()
            .map(|(name, netns, slot, wire)| {
                let config = configs.iter().find(|(s, _)| *s == slot).map(|(_, c)| *c);
                let registered = config.is_some();
                let config = config.unwrap_or(PortConfig::unpeered(slot, crate::ops::DEFAULT_MODE));
                if !registered {
                    // Created but never registered: start from zeroed counters.
                    crossover.reset_stats(slot)?;
                    crossover.set_media(slot, &crate::media::default_media())?;
                    crossover.set_port(&config)?;
                }
                Ok(Port { name, netns, slot, wire, config })
            })
            .collect::<Result<_>>()?;

        // Peering must be mutual; a one-sided entry is a peer command cut short: roll it back.
        let slots: Vec<(u32, u32)> = self.ports.iter().map(|p| (p.slot, p.config.peer_slot)).collect();
        for port in &mut self.ports {
            let peer = port.config.peer_slot;
            let mutual = slots.iter().any(|(s, p)| *s == peer && *p == port.slot);
            if port.config.is_peered() && !mutual {
                port.config.peer_slot = NO_PEER;
                port.config.peer_ifindex = 0;
                crossover.set_port(&port.config)?;
            }
        }

        // Links pinned for wire ends that no longer exist, or for the mode a port left (a mode
        // switch cut short before its last step).
        for (wire, mode) in Crossover::attached_links() {
            if self.ports.iter().any(|p| p.wire.name == wire && p.mode() == mode) {
                continue;
            }
            Crossover::detach(&wire, mode)?;
            // The switch may have changed the user end's offloads already: set them back for
            // the mode the port is in.
            if let Some(p) = self.ports.iter().find(|p| p.wire.name == wire) {
                crate::pair::configure_user(&p.name, p.netns.as_deref(), p.mode(), true)?;
            }
        }
        for port in &mut self.ports {
            crossover.attach(&port.wire.name, port.wire.index, port.mode())?;
            // Link state follows peering: the user end has carrier only while its wire end is up.
            let want_up = port.config.is_peered();
            if port.wire.admin_up != want_up {
                self.rtnl.set_up(
                    port.wire.index,
                    want_up,
                    &format!("{}: set wire end {}", port.name, if want_up { "up" } else { "down" }),
                )?;
                port.wire.admin_up = want_up;
            }
        }

        self.unload_if_empty()
    }
}

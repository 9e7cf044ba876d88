//! The feth ports of one state directory as the kernel knows them, read without changing
//! anything.
//!
//! A port *is* its wire end: a veth (or, in netkit mode, a netkit primary) in the loader's
//! namespace with ifindex `WIRE_IFINDEX_BASE + slot`. Its configuration is the record in the
//! wire end's alias; its user end is found through the pair's link (ifindex and
//! link-netnsid), wherever it has been renamed or moved to. The pinned maps are a cache of
//! the records (ARCHITECTURE.md, "State"); `repair` makes them agree.
use std::collections::HashMap;

use feth_common::{Mode, PortConfig, wire_slot_of};

use crate::{
    datapath::crossover::Crossover,
    error::{FethError, Result},
    kernel::context::Context,
    kernel::netns::{self, Netns},
    kernel::rtnl::{LinkView, Rtnl},
    port::record::{Record, Recorded},
};

/// A feth interface.
#[derive(Clone, Debug)]
pub struct Port {
    pub slot: u32,
    pub wire: LinkView,
    pub record: Record,
    pub recorded: Recorded,
    /// Where the user end is now.
    pub netns: Netns,
    /// The user end as its namespace reports it, if that namespace can be entered.
    pub user: Option<LinkView>,
}

impl Port {
    /// The user end's current name (what every command accepts).
    pub fn name(&self) -> String {
        self.user.as_ref().map_or_else(|| format!("{}-user", self.wire.name), |u| u.name.clone())
    }

    /// The data path this port uses: netkit for a netkit pair whatever its record says (the
    /// kind of pair is fixed when it is made), otherwise the recorded one, except that a
    /// remote port always uses TC (a VXLAN device takes no XDP redirect;
    /// crate::port::remote) and a veth pair cannot run netkit mode.
    pub fn mode(&self) -> Mode {
        match (self.wire.is_netkit, &self.record.remote, self.record.mode) {
            (true, _, _) => Mode::Netkit,
            (false, Some(_), _) | (false, None, Mode::Netkit) => Mode::Tc,
            (false, None, mode) => mode,
        }
    }

    /// Refuses `mode` for this port when its kind of pair cannot run it: a netkit pair runs
    /// netkit mode only, a veth pair every mode but netkit.
    pub fn check_mode(&self, mode: Mode) -> Result<()> {
        if self.wire.is_netkit == (mode == Mode::Netkit) {
            return Ok(());
        }
        let reason = if self.wire.is_netkit {
            format!(
                "it is a netkit pair, which runs netkit mode only, not {}; destroy it and create it again with --mode {}",
                mode.name(),
                mode.name()
            )
        } else {
            "it is a veth pair; netkit mode is chosen when an interface is created (destroy it and bring it up again with --mode netkit)".to_owned()
        };
        Err(FethError::Refused { name: self.name(), reason })
    }

    /// Transmit checksum offload the user end should have: never in XDP mode, and not while
    /// TC mode corrupts what it sends (a frame must be checksummed before it is damaged).
    pub fn wants_tx_checksum(&self) -> bool {
        self.record.hwcsum && self.mode().is_skb() && !self.corrupts_in_tc()
    }

    /// GRO on the wire end, off only while TC mode corrupts: GRO would merge checksummed
    /// frames into a CHECKSUM_PARTIAL super-frame, whose damage the receiver cannot see.
    pub fn wants_wire_gro(&self) -> bool {
        !self.corrupts_in_tc()
    }

    fn corrupts_in_tc(&self) -> bool {
        self.mode().is_skb() && self.record.impair.corrupt_ppm != 0
    }
}

pub struct State {
    /// What the command runs with (state directory, namespace policy, TC path, features).
    pub ctx: Context,
    /// rtnetlink in the loader's namespace, where the wire ends live.
    pub rtnl: Rtnl,
    pub crossover: Option<Crossover>,
    /// Every port, by slot. Changed only through `add_port` and `remove_ports`, which keep the
    /// indexes below in step (a command may bring up thousands of ports).
    pub ports: Vec<Port>,
    /// The VXLAN devices of remote peers (crate::port::remote), by the slot of the port they belong to.
    pub tunnels: HashMap<u32, LinkView>,
    /// Position in `ports` of each slot.
    index: HashMap<u32, usize>,
    /// Slots of the ports whose user end has each name.
    names: HashMap<String, Vec<u32>>,
}

impl State {
    /// Reads the state; writes nothing.
    pub fn read(ctx: &Context) -> Result<State> {
        let rtnl = Rtnl::open()?;
        let crossover = Crossover::open_existing(&ctx.state)?;
        let links = rtnl.links()?;
        let tunnels = links
            .iter()
            .filter(|l| l.is_vxlan && wire_slot_of(l.index).is_some())
            .filter_map(|l| Some((crate::datapath::tunnel::owner(&l.name)?, l.clone())))
            .collect();
        let ports = read_ports(&rtnl, &links)?;
        let mut state =
            State { ctx: ctx.clone(), rtnl, crossover, ports, tunnels, index: HashMap::new(), names: HashMap::new() };
        state.reindex();
        Ok(state)
    }

    fn reindex(&mut self) {
        self.ports.sort_by_key(|p| p.slot);
        self.index = self.ports.iter().enumerate().map(|(i, p)| (p.slot, i)).collect();
        self.names.clear();
        for p in &self.ports {
            if let Some(u) = &p.user {
                self.names.entry(u.name.clone()).or_default().push(p.slot);
            }
        }
    }

    /// Records a port a command just created.
    pub fn add_port(&mut self, port: Port) {
        if self.ports.last().is_some_and(|last| last.slot > port.slot) {
            self.ports.push(port);
            self.reindex();
            return;
        }
        self.index.insert(port.slot, self.ports.len());
        if let Some(u) = &port.user {
            self.names.entry(u.name.clone()).or_default().push(port.slot);
        }
        self.ports.push(port);
    }

    /// Forgets the ports whose slots are listed (their interfaces are gone).
    pub fn remove_ports(&mut self, slots: &[u32]) {
        let gone: std::collections::HashSet<u32> = slots.iter().copied().collect();
        self.ports.retain(|p| !gone.contains(&p.slot));
        self.reindex();
    }

    /// The port whose user end is now called `name`. Two ports whose user ends share a name
    /// (in different namespaces) make the name ambiguous.
    pub fn find(&self, name: &str) -> Result<Option<&Port>> {
        let slots = self.names.get(name).map_or(&[][..], Vec::as_slice);
        let mut found = slots.iter().filter_map(|s| self.by_slot(*s));
        let first = found.next();
        if let (Some(a), Some(b)) = (first, found.next()) {
            return Err(FethError::Ambiguous { name: name.to_owned(), a: a.netns.to_string(), b: b.netns.to_string() });
        }
        Ok(first)
    }

    /// The port whose user end is now called `name`, or the error for a name that is not a
    /// feth interface.
    pub fn port(&self, name: &str) -> Result<&Port> {
        crate::port::names::validate(name).map_err(|_| self.not_a_port(name))?;
        self.find(name)?.ok_or_else(|| self.not_a_port(name))
    }

    /// "invalid" when something else has the name in the loader's namespace, "no such
    /// interface" otherwise.
    pub fn not_a_port(&self, name: &str) -> FethError {
        match self.rtnl.link_by_name(name) {
            Ok(Some(_)) => FethError::NotFeth(name.to_owned()),
            _ => FethError::NoSuchInterface(name.to_owned()),
        }
    }

    /// Whether the port has a link: a local peer, or the tunnel end of a remote one.
    pub fn is_linked(&self, port: &Port) -> bool {
        self.peer_of(port).is_some() || self.tunnels.contains_key(&port.slot)
    }

    pub fn by_slot(&self, slot: u32) -> Option<&Port> {
        self.index.get(&slot).map(|i| &self.ports[*i])
    }

    pub fn by_slot_mut(&mut self, slot: u32) -> Option<&mut Port> {
        self.index.get(&slot).map(|i| &mut self.ports[*i])
    }

    /// The MTU of the user end of `slot`'s peer, above which its veth refuses frames (0
    /// without a local peer).
    pub fn peer_user_mtu(&self, slot: u32) -> u32 {
        let peer = self.by_slot(slot).and_then(|p| self.peer_of(p));
        peer.and_then(|p| p.user.as_ref()).map_or(0, |u| u.mtu)
    }

    /// The peer, when both records name each other (a one-sided record is a peering cut
    /// short, which counts as unpeered until repaired).
    pub fn peer_of(&self, port: &Port) -> Option<&Port> {
        let peer = self.by_slot(port.record.peer?)?;
        (peer.record.peer == Some(port.slot)).then_some(peer)
    }

    /// What the data path should hold for `port`.
    pub fn config_of(&self, port: &Port) -> PortConfig {
        let mut config = PortConfig::unpeered(port.slot, port.mode());
        if let Some(peer) = self.peer_of(port) {
            config.peer_slot = peer.slot;
            config.peer_ifindex = peer.wire.index;
            if let Some(user) = peer.user.as_ref().filter(|_| port.mode() == Mode::Tc) {
                // The wire end's link-netnsid says the user end is in another namespace.
                let one_hop = self.ctx.features.one_hop
                    && peer.wire.link_netnsid.is_some()
                    && user.admin_up
                    && user.xdp_prog_id.is_none();
                if let (true, Ok(mac)) = (one_hop, <[u8; 6]>::try_from(user.mac.as_slice())) {
                    config.hop = feth_common::port::hop::ONE;
                    // ETH_HLEN and VLAN_HLEN over the MTU: veth's is_skb_forwardable.
                    config.peer_limit = user.mtu + 18;
                    config.peer_mac = mac;
                }
            }
        } else if let (Some(remote), Some(tunnel)) = (&port.record.remote, self.tunnels.get(&port.slot)) {
            config.peer_slot = remote.slot;
            config.peer_ifindex = tunnel.index;
        }
        port.record.impair.apply_to(&mut config);
        config
    }

    /// The `n` lowest slots no wire end or tunnel end uses or is recorded for (fewer when the
    /// table is full).
    pub fn free_slots(&self, n: usize) -> Vec<u32> {
        let tunnels = self.tunnel_slots();
        (0..feth_common::MAX_PORTS).filter(|s| !self.index.contains_key(s) && !tunnels.contains(s)).take(n).collect()
    }

    /// (name, ifindex) of every device a feth program is attached to: the wire ends and the
    /// tunnel ends of remote peers.
    pub fn ends(&self) -> Vec<(String, u32)> {
        let wires = self.ports.iter().map(|p| (p.wire.name.clone(), p.wire.index));
        wires.chain(self.tunnels.values().map(|t| (t.name.clone(), t.index))).collect()
    }

    /// Slots of tunnel ends, recorded or present.
    pub fn tunnel_slots(&self) -> std::collections::HashSet<u32> {
        let recorded = self.ports.iter().filter_map(|p| Some(p.record.remote.as_ref()?.slot));
        let present = self.tunnels.values().filter_map(|t| wire_slot_of(t.index));
        recorded.chain(present).collect()
    }

    /// Lowest slot no wire end uses.
    pub fn free_slot(&self) -> Option<u32> {
        self.free_slots(1).first().copied()
    }

    /// Slots the maps must hold for every port there is.
    pub fn slots_needed(&self) -> u32 {
        let tunnels = self.tunnel_slots().into_iter().max().map_or(0, |s| s + 1);
        self.ports.last().map_or(0, |p| p.slot + 1).max(tunnels)
    }

    /// Opens the pinned state, loading and pinning it first when it is missing or partial.
    pub fn crossover(&mut self) -> Result<&mut Crossover> {
        if self.crossover.is_none() {
            let capacity = crate::datapath::load::capacity_for(self.slots_needed());
            self.crossover = Some(Crossover::open_or_load(&self.ctx, capacity)?);
        }
        Ok(self.crossover.as_mut().expect("just loaded"))
    }

    /// Writes a port's record to its wire end's alias, and keeps the in-memory copy in step.
    pub fn write_record(&mut self, slot: u32, record: Record) -> Result<()> {
        let port = self.by_slot(slot).ok_or_else(|| FethError::NoSuchInterface(format!("slot {slot}")))?;
        if !record.fits() {
            return Err(FethError::Refused {
                name: port.name(),
                reason: format!(
                    "its media list, impairments and remote peer would not fit the {} bytes of its record; set fewer media words",
                    crate::port::record::ALIAS_MAX
                ),
            });
        }
        let what = format!("{}: record the configuration on {}", port.name(), port.wire.name);
        self.rtnl.set_alias(port.wire.index, record.encode(), &what)?;
        let port = self.by_slot_mut(slot).expect("found above");
        port.record = record;
        port.recorded = Recorded::Current;
        Ok(())
    }
}

/// Every wire end in the loader's namespace, with its record and its user end.
fn read_ports(rtnl: &Rtnl, links: &[LinkView]) -> Result<Vec<Port>> {
    let own: HashMap<u32, &LinkView> = links.iter().map(|l| (l.index, l)).collect();
    let wires: Vec<&LinkView> = links.iter().filter(|l| l.is_pair_end() && wire_slot_of(l.index).is_some()).collect();
    let mut ids: Vec<i32> = wires.iter().filter_map(|w| w.link_netnsid).collect();
    ids.sort();
    ids.dedup();
    let spaces = netns::resolve(rtnl, &ids);
    // One link dump per namespace that holds user ends.
    let mut users: HashMap<Netns, HashMap<u32, LinkView>> = HashMap::new();
    for space in spaces.values() {
        if matches!(space, Netns::Unreachable(_)) {
            continue;
        }
        let links = space.run(|| Rtnl::open()?.links()).unwrap_or_default();
        users.insert(space.clone(), links.into_iter().map(|l| (l.index, l)).collect());
    }
    let mut ports: Vec<Port> = wires
        .into_iter()
        .map(|wire| {
            let slot = wire_slot_of(wire.index).expect("filtered");
            let (record, recorded) = Record::parse(wire.alias.as_deref());
            let netns = wire.link_netnsid.map_or(Netns::Own, |id| spaces[&id].clone());
            let user = wire.link.and_then(|index| match &netns {
                Netns::Own => own.get(&index).map(|l| (*l).clone()),
                other => users.get(other).and_then(|m| m.get(&index)).cloned(),
            });
            Port { slot, wire: wire.clone(), record, recorded, netns, user }
        })
        .collect();
    ports.sort_by_key(|p| p.slot);
    Ok(ports)
}

/// Ports and states built in memory, for the unit tests of what plans on them (the repair).
#[cfg(test)]
pub mod testing {
    use super::*;

    /// An unpeered port in slot `slot` whose user end `name` is in the loader's namespace.
    pub fn port(slot: u32, name: &str) -> Port {
        let wire = LinkView {
            index: feth_common::WIRE_IFINDEX_BASE + slot,
            name: crate::port::names::wire_name(slot),
            is_veth: true,
            ..Default::default()
        };
        let user = LinkView { index: 100 + slot, name: name.into(), mtu: 1500, is_veth: true, ..Default::default() };
        Port { slot, wire, record: Record::default(), recorded: Recorded::Current, netns: Netns::Own, user: Some(user) }
    }

    /// A context whose state directory does not exist, on a kernel with every feature and TC
    /// through netlink: what a test of a plan needs, nothing it could change.
    pub fn context() -> Context {
        let features = crate::kernel::features::Features::ALL;
        Context {
            state: crate::kernel::bpffs::StateDir::new("/nonexistent/feth-unit-test".into()),
            create_missing_netns: false,
            tc_path: crate::kernel::context::TcPath::Netlink,
            features,
        }
    }

    /// A state directory of a test's own (a plain directory, removed when dropped): a plan
    /// that reads the pins sees only what the test put there.
    pub struct ScratchDir(pub std::path::PathBuf);

    impl ScratchDir {
        pub fn new(test: &str) -> ScratchDir {
            let dir = std::env::temp_dir().join(format!("feth-unit-{}-{test}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create a scratch directory");
            ScratchDir(dir)
        }

        /// Puts an empty file at `path` below the directory (a pin, as far as a plan can tell).
        pub fn touch(&self, path: &str) {
            let path = self.0.join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create the parent");
            std::fs::write(path, b"").expect("write a file");
        }
    }

    impl Drop for ScratchDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `state_of(ports)` whose state directory is `dir`.
    pub fn state_in(dir: &ScratchDir, ports: Vec<Port>) -> State {
        let mut state = state_of(ports);
        state.ctx.state = crate::kernel::bpffs::StateDir::new(dir.0.clone());
        state
    }

    /// A state of `ports`, with no tunnels and nothing loaded.
    pub fn state_of(ports: Vec<Port>) -> State {
        let rtnl = Rtnl::open().expect("a netlink socket");
        let mut state = State {
            ctx: context(),
            rtnl,
            crossover: None,
            ports,
            tunnels: HashMap::new(),
            index: HashMap::new(),
            names: HashMap::new(),
        };
        state.reindex();
        state
    }
}

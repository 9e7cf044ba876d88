//! State changes of the feth bench. Each checks everything before it touches anything, writes
//! the records (the wire ends' aliases) first and then lets `repair::converge` bring the data
//! path in line, so a command killed half-way leaves what the next one finishes or rolls back.
use std::collections::HashSet;

use feth_common::{DEFAULT_MODE, Mode};

use crate::{
    datapath::crossover::Crossover,
    datapath::pair,
    datapath::{shaper, tunnel},
    error::{FethError, Result},
    fault,
    kernel::features,
    kernel::netns,
    kernel::netns::Netns,
    port::impair::Impairment,
    port::media::PortMedia,
    port::mtu,
    port::names,
    port::record::{Record, Recorded},
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
        if self.hwcsum == Some(true) && self.mode.unwrap_or(current) == Mode::Xdp {
            return Err(FethError::Refused {
                name: name.to_owned(),
                reason:
                    "hwcsum on needs --mode tc: XDP_REDIRECT loses CHECKSUM_PARTIAL, so XDP mode checksums in software"
                        .into(),
            });
        }
        Ok(())
    }
}

/// What to create.
#[derive(Clone, Debug)]
pub struct PortSpec {
    pub name: String,
    pub netns: Option<String>,
    pub mtu: Option<u32>,
}

/// Checks a creation without doing it. `Ok(true)` when the port already exists as asked.
pub fn check_create(state: &State, spec: &PortSpec) -> Result<bool> {
    names::validate(&spec.name)?;
    if let Some(mtu) = spec.mtu {
        mtu::check(&spec.name, mtu)?;
    }
    let wanted = Netns::from_arg(spec.netns.as_deref())?;
    if let Some(existing) = state.find(&spec.name)? {
        if spec.netns.is_some() && !existing.netns.same_as(&wanted) {
            return Err(FethError::WrongNetns {
                name: spec.name.clone(),
                actual: existing.netns.to_string(),
                wanted: wanted.to_string(),
            });
        }
        return Ok(true);
    }
    if pair::link_in(&spec.name, &wanted)?.is_some() {
        return Err(FethError::NameTaken(spec.name.clone()));
    }
    if state.free_slot().is_none() {
        return Err(FethError::NoFreeSlot(feth_common::MAX_PORTS));
    }
    Ok(false)
}

/// Creates a port in `slot` (after [`check_create`] said it does not exist) and registers it.
/// On failure, whatever this call made is removed again.
pub fn create(state: &mut State, spec: &PortSpec, slot: u32, taken: &HashSet<Vec<u8>>) -> Result<u32> {
    let ns = Netns::from_arg(spec.netns.as_deref())?;
    if let Netns::Named(name) = &ns
        && netns::ensure(name)?
    {
        // A mistyped name would otherwise make an empty namespace silently.
        eprintln!("feth-loader: created network namespace {name}");
    }
    let mac = names::mac_address(&spec.name, slot, |m| taken.contains(&m[..]));
    let mtu = spec.mtu.unwrap_or(mtu::DEFAULT);
    let made = pair::create(&state.rtnl, slot, &spec.name, &ns, mtu, mac).and_then(|wire| {
        let user = pair::link_in(&spec.name, &ns)?;
        state.add_port(Port { slot, wire, record: Record::default(), recorded: Recorded::Current, netns: ns, user });
        repair::converge(state, &mut Run::ports(&[slot]))
    });
    if let Err(e) = made {
        if let Some(p) = state.by_slot(slot) {
            let _ = state.rtnl.del(p.wire.index, &format!("{}: delete veth pair", spec.name));
        }
        state.remove_ports(&[slot]);
        let _ = repair::unload_if_empty(state, &mut Run::all(true));
        return Err(e);
    }
    Ok(slot)
}

/// Creates every spec that does not exist yet (all checked first, so a refusal changes
/// nothing); on a failure the ones made are destroyed again. Returns the names it made.
pub fn create_many(state: &mut State, specs: &[PortSpec]) -> Result<Vec<String>> {
    let mut todo: Vec<&PortSpec> = Vec::new();
    for spec in specs {
        if !check_create(state, spec)? && !todo.iter().any(|s| s.name == spec.name) {
            todo.push(spec);
        }
    }
    // New ports take the lowest free slots; room for all of them is made once.
    if !todo.is_empty() {
        let slots = state.slots_needed().max((state.ports.len() + todo.len()) as u32);
        if state.crossover.is_some() {
            repair::grow(state, slots)?;
        } else {
            state.crossover = Some(Crossover::open_or_load(crate::datapath::crossover::capacity_for(slots))?);
        }
    }
    let slots = state.free_slots(todo.len());
    if slots.len() < todo.len() {
        return Err(FethError::NoFreeSlot(feth_common::MAX_PORTS));
    }
    let mut taken: HashSet<Vec<u8>> =
        state.ports.iter().filter_map(|p| p.user.as_ref().map(|u| u.mac.clone())).collect();
    let mut made = Vec::new();
    for (spec, slot) in todo.into_iter().zip(slots) {
        let created = create(state, spec, slot, &taken);
        if let Some(mac) = state.by_slot(slot).and_then(|p| p.user.as_ref()).map(|u| u.mac.clone()) {
            taken.insert(mac);
        }
        if let Err(e) = created {
            let _ = destroy_many(state, &made.iter().map(String::as_str).collect::<Vec<_>>());
            return Err(e);
        }
        made.push(spec.name.clone());
    }
    Ok(made)
}

/// Destroys ports (each unpeered first). Their veth pairs are deleted in one batch, which
/// is what makes tearing down a large bench fast.
pub fn destroy_many(state: &mut State, names: &[&str]) -> Result<()> {
    let doomed: Vec<Port> = names.iter().map(|n| state.port(n).cloned()).collect::<Result<_>>()?;
    // Peers that stay are unpeered first (their records, carrier off); ports that go need
    // nothing written: the deletion takes their records along.
    let staying: Vec<u32> = doomed
        .iter()
        .filter_map(|p| state.peer_of(p))
        .filter(|peer| !doomed.iter().any(|d| d.slot == peer.slot))
        .map(|peer| peer.slot)
        .collect();
    for slot in staying {
        unpeer_slot(state, slot)?;
    }
    for p in &doomed {
        state.rtnl.set_group(p.wire.index, pair::DOOMED_GROUP, &format!("{}: mark for deletion", p.name()))?;
    }
    for p in &doomed {
        if let Some(tunnel) = state.tunnels.remove(&p.slot) {
            repair::delete_tunnel(state, &tunnel)?;
        }
    }
    fault::point("destroy:marked");
    state.rtnl.del_group(pair::DOOMED_GROUP, "delete veth pairs")?;
    fault::point("destroy:deleted");
    for p in &doomed {
        // The wire ends are gone (and any netlink filter with them): only pins are left.
        Crossover::unpin(&p.wire.name, Mode::Xdp)?;
        Crossover::unpin(&p.wire.name, Mode::Tc)?;
        if let Some(crossover) = state.crossover.as_mut() {
            crossover.remove_port(p.slot)?;
        }
    }
    state.remove_ports(&doomed.iter().map(|p| p.slot).collect::<Vec<_>>());
    repair::unload_if_empty(state, &mut Run::all(true))
}

/// `down`: destroys the named ports; names that do not exist are already down, a name that
/// exists but is not a feth interface is still refused (before anything is destroyed).
pub fn down(state: &mut State, names: &[&str]) -> Result<()> {
    let mut present = Vec::new();
    for &name in names {
        match state.port(name) {
            Ok(_) if !present.contains(&name) => present.push(name),
            Ok(_) | Err(FethError::NoSuchInterface(_)) => {}
            Err(e) => return Err(e),
        }
    }
    destroy_many(state, &present)
}

/// `up`: creates what is missing, peers, and sets both user ends up. Idempotent; everything
/// is checked before anything is created, and what this call created goes again on failure.
pub fn up(state: &mut State, a: &PortSpec, b: &PortSpec, opts: PeerOptions) -> Result<()> {
    up_many(state, &[(a.clone(), b.clone())], opts)
}

/// `up` of many pairs in one command: every pair checked first, every missing port created in
/// one batch, then each pair peered and set up.
pub fn up_many(state: &mut State, pairs: &[(PortSpec, PortSpec)], opts: PeerOptions) -> Result<()> {
    let mut named: Vec<&str> = Vec::new();
    for (a, b) in pairs {
        if a.name == b.name {
            return Err(FethError::SelfPeer(a.name.clone()));
        }
        for (spec, other) in [(a, b), (b, a)] {
            if named.contains(&spec.name.as_str()) {
                return Err(FethError::Refused { name: spec.name.clone(), reason: "named in two pairs".into() });
            }
            named.push(&spec.name);
            check_create(state, spec)?;
            check_free_for(state, &spec.name, &other.name)?;
        }
        let mode = opts.mode.unwrap_or(state.find(&a.name)?.map_or(DEFAULT_MODE, Port::mode));
        opts.check(&a.name, mode)?;
        for spec in [a, b] {
            if let Some(mtu) = spec.mtu {
                mtu::check_xdp(&spec.name, mode, mtu, &features::get())?;
            }
        }
    }
    let specs: Vec<PortSpec> = pairs.iter().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    let made = create_many(state, &specs)?;
    let result = (|| {
        for spec in &specs {
            if let (false, Some(mtu)) = (made.contains(&spec.name), spec.mtu) {
                set_mtu(state, &spec.name, mtu)?;
            }
        }
        for (a, b) in pairs {
            peer(state, &a.name, &b.name, opts)?;
            for name in [&a.name, &b.name] {
                let p = state.port(name)?;
                pair::set_user_up(name, &p.netns)?;
            }
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = destroy_many(state, &made.iter().map(String::as_str).collect::<Vec<_>>());
    }
    result
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
fn check_free_for(state: &State, name: &str, other: &str) -> Result<()> {
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
        if let Some(user) = &p.user {
            mtu::check_xdp(&user.name, mode, user.mtu, &features::get())?;
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
            record.impair.check(&me.name(), mode).map(|()| (me, record))
        })
        .collect::<Result<_>>()?;
    for (me, record) in records {
        if record != me.record {
            state.write_record(me.slot, record)?;
            fault::point("peer:first-record");
        }
    }
    repair::converge(state, &mut Run::ports(&[pa.slot, pb.slot]))
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
    p.record.impair.check(name, Mode::Tc)?;
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

/// Sets the MTU of a port's user end, within feth's range.
pub fn set_mtu(state: &State, name: &str, mtu: u32) -> Result<()> {
    mtu::check(name, mtu)?;
    let p = state.port(name)?;
    mtu::check_xdp(name, p.mode(), mtu, &features::get())?;
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
    pair::set_user_mtu(name, &p.netns, mtu)
}

/// Disconnects `name` and its peer (both sides), links go down. No-op when not peered.
pub fn unpeer(state: &mut State, name: &str) -> Result<()> {
    let slot = state.port(name)?.slot;
    unpeer_slot(state, slot)
}

fn unpeer_slot(state: &mut State, slot: u32) -> Result<()> {
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
    repair::converge(state, &mut Run::ports(&slots))
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
    impair.check(name, p.mode())?;
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
        Ok(Cable { ends: [CableEnd::of(p), CableEnd::of(peer)], rtnl: crate::kernel::rtnl::Rtnl::open()? })
    }

    /// Under the exclusive lock, but without a state read: a flap keeps its schedule.
    pub fn set(&self, up: bool) -> Result<()> {
        let _lock = crate::kernel::bpffs::lock_exclusive()?;
        let mut crossover = Crossover::open_existing()?;
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

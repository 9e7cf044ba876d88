//! State changes of the feth bench. Each checks everything before it touches anything, and
//! orders its steps so that a command killed half-way leaves what `State::load` repairs.
use feth_common::{Mode, PortConfig, port::NO_PEER};

use crate::{
    crossover::Crossover,
    error::{FethError, Result},
    media, names, netns, pair,
    pair::{MTU_MAX, MTU_MIN},
    state::{Port, State},
};

/// Datapath of a new pair when none is asked for (README: "Choosing a mode").
pub const DEFAULT_MODE: Mode = Mode::Tc;

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

pub fn check_mtu(name: &str, mtu: u32) -> Result<()> {
    if (MTU_MIN..=MTU_MAX).contains(&mtu) {
        Ok(())
    } else {
        Err(FethError::MtuOutOfRange { name: name.to_owned(), mtu, min: MTU_MIN, max: MTU_MAX })
    }
}

/// The error for a name that is not a feth interface: "invalid" when something else has the
/// name in the loader's namespace, "no such interface" otherwise.
pub fn not_a_port(state: &State, name: &str) -> FethError {
    match state.rtnl.link_by_name(name) {
        Ok(Some(_)) => FethError::NotFeth(name.to_owned()),
        _ => FethError::NoSuchInterface(name.to_owned()),
    }
}

pub fn port<'a>(state: &'a State, name: &str) -> Result<&'a Port> {
    names::validate(name).map_err(|_| not_a_port(state, name))?;
    state.find(name).ok_or_else(|| not_a_port(state, name))
}

/// Checks a creation without doing it. `Ok(true)` when the port already exists as asked.
pub fn check_create(state: &State, spec: &PortSpec) -> Result<bool> {
    names::validate(&spec.name)?;
    if let Some(mtu) = spec.mtu {
        check_mtu(&spec.name, mtu)?;
    }
    if let Some(existing) = state.find(&spec.name) {
        if spec.netns.is_some() && existing.netns != spec.netns {
            return Err(FethError::WrongNetns {
                name: spec.name.clone(),
                actual: existing.netns.clone().unwrap_or_else(|| "(the loader's)".into()),
                wanted: spec.netns.clone().unwrap_or_default(),
            });
        }
        return Ok(true);
    }
    if let Some(ns) = &spec.netns
        && (ns.is_empty() || ns.contains('/') || ns.len() > 255)
    {
        return Err(FethError::NoSuchNetns(ns.clone()));
    }
    if pair::user_link(&spec.name, spec.netns.as_deref())?.is_some() {
        return Err(FethError::NameTaken(spec.name.clone()));
    }
    if state.free_slot().is_none() {
        return Err(FethError::NoFreeSlot(feth_common::MAX_PORTS));
    }
    Ok(false)
}

/// Creates a port (after [`check_create`] said it does not exist). On failure, whatever this
/// call made is removed again.
pub fn create(state: &mut State, spec: &PortSpec) -> Result<()> {
    let slot = state.free_slot().ok_or(FethError::NoFreeSlot(feth_common::MAX_PORTS))?;
    if let Some(ns) = &spec.netns {
        netns::ensure(ns)?;
    }
    state.crossover()?;
    let mtu = spec.mtu.unwrap_or(pair::MTU_DEFAULT);
    let wire = match pair::create(&state.rtnl, slot, &spec.name, spec.netns.as_deref(), mtu) {
        Ok(wire) => wire,
        Err(e) => {
            let _ = state.unload_if_empty();
            return Err(e);
        }
    };
    let config = PortConfig::unpeered(slot, DEFAULT_MODE);
    let port = Port { name: spec.name.clone(), netns: spec.netns.clone(), slot, wire, config };
    let finish = |state: &mut State| -> Result<()> {
        pair::configure_user(&port.name, port.netns.as_deref(), port.mode(), true)?;
        let crossover = state.crossover()?;
        crossover.reset_stats(slot)?;
        crossover.set_media(slot, &media::default_media())?;
        crossover.set_port(&port.config)?;
        crossover.attach(&port.wire.name, port.wire.index, port.mode())
    };
    match finish(state) {
        Ok(()) => {
            state.ports.push(port);
            Ok(())
        }
        Err(e) => {
            let _ = state.rtnl.del(port.wire.index, &format!("{}: delete veth pair", port.name));
            let _ = forget(state, &port);
            let _ = state.unload_if_empty();
            Err(e)
        }
    }
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
    let mut made = Vec::new();
    for spec in todo {
        if let Err(e) = create(state, spec) {
            let _ = destroy_many(state, &made.iter().map(String::as_str).collect::<Vec<_>>());
            return Err(e);
        }
        made.push(spec.name.clone());
    }
    Ok(made)
}

/// Removes what feth keeps about a port whose veth pair is gone: its links and its slot.
fn forget(state: &mut State, port: &Port) -> Result<()> {
    Crossover::detach(&port.wire.name, Mode::Xdp)?;
    Crossover::detach(&port.wire.name, Mode::Tc)?;
    if let Some(crossover) = state.crossover.as_mut() {
        crossover.remove_port(port.slot)?;
    }
    Ok(())
}

/// Destroys a port, unpeering first; the last port takes the pinned state with it.
pub fn destroy(state: &mut State, name: &str) -> Result<()> {
    destroy_many(state, &[name])
}

/// Destroys ports (each unpeered first). Their veth pairs are deleted in one batch, which
/// is what makes tearing down a large bench fast.
pub fn destroy_many(state: &mut State, names: &[&str]) -> Result<()> {
    let doomed: Vec<Port> = names.iter().map(|n| port(state, n).cloned()).collect::<Result<_>>()?;
    for p in &doomed {
        unpeer(state, &p.name)?;
    }
    for p in &doomed {
        state.rtnl.set_group(p.wire.index, pair::DOOMED_GROUP, &format!("{}: mark for deletion", p.name))?;
    }
    state.rtnl.del_group(pair::DOOMED_GROUP, "delete veth pairs")?;
    for p in &doomed {
        forget(state, p)?;
    }
    state.ports.retain(|p| !doomed.iter().any(|d| d.slot == p.slot));
    state.unload_if_empty()
}

/// `down`: destroys the named ports; names that do not exist are already down, a name that
/// exists but is not a feth interface is still refused (before anything is destroyed).
pub fn down(state: &mut State, names: &[&str]) -> Result<()> {
    let mut present = Vec::new();
    for &name in names {
        match port(state, name) {
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
    if a.name == b.name {
        return Err(FethError::SelfPeer(a.name.clone()));
    }
    for (spec, other) in [(a, b), (b, a)] {
        check_create(state, spec)?;
        check_free_for(state, &spec.name, &other.name)?;
    }
    opts.check(&a.name, state.find(&a.name).map_or(DEFAULT_MODE, Port::mode))?;
    let made = create_many(state, &[a.clone(), b.clone()])?;
    let result = (|| {
        for spec in [a, b] {
            if let (false, Some(mtu)) = (made.contains(&spec.name), spec.mtu) {
                set_mtu(state, &spec.name, mtu)?;
            }
        }
        peer(state, &a.name, &b.name, opts)?;
        for name in [&a.name, &b.name] {
            pair::set_user_up(name, state.find(name).and_then(|p| p.netns.as_deref()))?;
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
    let (pa, pb) = (port(state, a)?, port(state, b)?);
    if pa.config.peer_slot == pb.slot && pb.config.peer_slot == pa.slot {
        return Ok(true);
    }
    check_free_for(state, a, b)?;
    check_free_for(state, b, a)?;
    Ok(false)
}

/// "busy" when `name` exists and is peered with anything but `other`.
fn check_free_for(state: &State, name: &str, other: &str) -> Result<()> {
    let current = state.find(name).and_then(|p| state.peer_of(p));
    match current {
        Some(peer) if peer.name != other => Err(FethError::Busy { name: name.to_owned(), peer: peer.name.clone() }),
        _ => Ok(()),
    }
}

/// Crosses `a` and `b` over (or, when already peered, applies `opts`). Order: devmap
/// entries (unused until configured), then each side's config, then the wire ends up (link
/// state). A half-done peering is one-sided and is rolled back by `State::load`.
pub fn peer(state: &mut State, a: &str, b: &str, opts: PeerOptions) -> Result<()> {
    let already = check_peer(state, a, b)?;
    let (pa, pb) = (port(state, a)?.clone(), port(state, b)?.clone());
    opts.check(a, pa.mode())?;
    // Both sides of a pair share one mode: the asked one, else the one A has (a new port
    // starts in DEFAULT_MODE, an unpeered one keeps its last).
    let mode = opts.mode.unwrap_or(pa.mode());
    for p in [&pa, &pb] {
        if p.mode() != mode || opts.hwcsum.is_some() {
            set_mode(state, &p.name, mode, opts.hwcsum.unwrap_or(true))?;
        }
    }
    if already {
        return Ok(());
    }
    let (pa, pb) = (port(state, a)?.clone(), port(state, b)?.clone());
    let crossover = state.crossover()?;
    crossover.set_crossover(pa.slot, pb.wire.index)?;
    crossover.set_crossover(pb.slot, pa.wire.index)?;
    let ca = PortConfig { peer_slot: pb.slot, peer_ifindex: pb.wire.index, ..pa.config };
    let cb = PortConfig { peer_slot: pa.slot, peer_ifindex: pa.wire.index, ..pb.config };
    crossover.set_port(&ca)?;
    crossover.set_port(&cb)?;
    for (p, c) in [(&pa, ca), (&pb, cb)] {
        state.rtnl.set_up(p.wire.index, true, &format!("{}: set wire end up", p.name))?;
        state.update(p.slot, c, Some(true));
    }
    Ok(())
}

/// Moves one port to `mode` without losing frames: the new program is attached before the
/// mode flips (the XDP program passes frames to TC while the mode says TC), the old one is
/// detached after. The wire ends keep NAPI through GRO, so no ring is purged on the way.
pub fn set_mode(state: &mut State, name: &str, mode: Mode, hwcsum: bool) -> Result<()> {
    let p = port(state, name)?.clone();
    let old = p.mode();
    let crossover = state.crossover()?;
    crossover.attach(&p.wire.name, p.wire.index, mode)?;
    // Offloads change before the flip: checksums must be complete before a frame can take
    // the XDP path.
    pair::configure_user(&p.name, p.netns.as_deref(), mode, hwcsum)?;
    let config = PortConfig { mode: mode as u32, ..p.config };
    crossover.set_port(&config)?;
    if old != mode {
        Crossover::detach(&p.wire.name, old)?;
    }
    state.update(p.slot, config, None);
    Ok(())
}

/// Sets the MTU of a port's user end, within feth's range.
pub fn set_mtu(state: &State, name: &str, mtu: u32) -> Result<()> {
    check_mtu(name, mtu)?;
    let p = port(state, name)?;
    pair::set_user_mtu(&p.name, p.netns.as_deref(), mtu)
}

/// Disconnects `name` and its peer (both sides), links go down. No-op when not peered.
pub fn unpeer(state: &mut State, name: &str) -> Result<()> {
    let pa = port(state, name)?.clone();
    let sides: Vec<Port> = std::iter::once(pa.clone()).chain(state.peer_of(&pa).cloned()).collect();
    if !pa.config.is_peered() {
        return Ok(());
    }
    for p in &sides {
        let config = PortConfig { peer_slot: NO_PEER, peer_ifindex: 0, ..p.config };
        state.crossover()?.set_port(&config)?;
        state.rtnl.set_up(p.wire.index, false, &format!("{}: set wire end down", p.name))?;
        state.update(p.slot, config, Some(false));
    }
    Ok(())
}

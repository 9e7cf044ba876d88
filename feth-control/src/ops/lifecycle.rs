//! Creating and destroying ports: `create`, `destroy`, `up` and `down`, one port or many in one
//! batch (what makes many ports come up and go down fast).
use std::collections::HashSet;

use feth_common::{DEFAULT_MODE, Mode};

use crate::{
    datapath::pair,
    datapath::{attach, crossover::Crossover},
    error::{FethError, Result},
    fault,
    kernel::netns::Netns,
    ops::{
        peering::{self, PeerOptions},
        settings,
    },
    port::mtu,
    port::names,
    port::record::{Record, Recorded},
    repair::{self, Run},
    state::{Port, State},
};

/// What to create.
#[derive(Clone, Debug)]
pub struct PortSpec {
    pub name: String,
    pub netns: Option<String>,
    pub mtu: Option<u32>,
    /// The mode a new port starts in (netkit makes a netkit pair instead of a veth pair);
    /// `None` for the default. An existing port must be able to run it.
    pub mode: Option<Mode>,
}

/// Checks a creation without doing it. `Ok(true)` when the port already exists as asked.
pub fn check_create(state: &State, spec: &PortSpec) -> Result<bool> {
    names::validate(&spec.name)?;
    if let Some(mtu) = spec.mtu {
        mtu::check(&spec.name, mtu)?;
        if let Some(mode) = spec.mode {
            mtu::check_xdp(&spec.name, mode, mtu, &state.ctx.features)?;
        }
    }
    let wanted = Netns::from_arg(spec.netns.as_deref())?;
    if let Some(existing) = state.find(&spec.name)? {
        if let Some(mode) = spec.mode {
            existing.check_mode(mode)?;
        }
        if spec.netns.is_some() && !existing.netns.same_as(&wanted) {
            return Err(FethError::WrongNetns {
                name: spec.name.clone(),
                actual: existing.netns.to_string(),
                wanted: wanted.to_string(),
            });
        }
        return Ok(true);
    }
    if spec.mode == Some(Mode::Netkit) && !state.ctx.features.netkit {
        return Err(FethError::KernelFeature(format!(
            "{}: netkit mode needs netkit devices (Linux 6.7 or later, built with CONFIG_NETKIT); this kernel ({}) has none, so use --mode tc or xdp",
            spec.name,
            crate::kernel::features::release()
        )));
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
        && state.ctx.ensure_netns(name)?
    {
        // A mistyped name would otherwise make an empty namespace silently.
        eprintln!("feth-loader: created network namespace {name}");
    }
    let mac = names::mac_address(&spec.name, slot, |m| taken.contains(&m[..]));
    let mtu = spec.mtu.unwrap_or(mtu::DEFAULT);
    let mode = spec.mode.unwrap_or(DEFAULT_MODE);
    let made = pair::create(&state.rtnl, slot, &spec.name, &ns, mtu, mac, mode).and_then(|wire| {
        let user = pair::link_in(&spec.name, &ns)?;
        state.add_port(Port {
            slot,
            wire,
            record: Record { mode, ..Record::default() },
            recorded: Recorded::Current,
            netns: ns,
            user,
        });
        repair::converge(state, &mut Run::ports(&[slot]))
    });
    if let Err(e) = made {
        if let Some(p) = state.by_slot(slot) {
            let _ = state.rtnl.del(p.wire.index, &format!("{}: delete the pair", spec.name));
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
            state.crossover = Some(Crossover::open_or_load(&state.ctx, crate::datapath::load::capacity_for(slots))?);
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
/// is what makes tearing down many ports fast.
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
        peering::unpeer_slot(state, slot)?;
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
        for mode in [Mode::Xdp, Mode::Tc, Mode::Netkit] {
            attach::unpin(&state.ctx.state, &p.wire.name, mode)?;
        }
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

/// The mode a pair comes up in: the asked one, else the one its first existing port has, else
/// the default.
fn pair_mode(state: &State, a: &PortSpec, b: &PortSpec, opts: PeerOptions) -> Result<Mode> {
    let existing = match state.find(&a.name)? {
        Some(p) => Some(p),
        None => state.find(&b.name)?,
    };
    Ok(opts.mode.unwrap_or(existing.map_or(DEFAULT_MODE, Port::mode)))
}

/// `up` of many pairs in one command: every pair checked first, every missing port created in
/// one batch, then each pair peered and set up.
pub fn up_many(state: &mut State, pairs: &[(PortSpec, PortSpec)], opts: PeerOptions) -> Result<()> {
    let mut named: Vec<&str> = Vec::new();
    // New ports are made for their pair's mode (a netkit pair for netkit mode).
    let mut specs: Vec<PortSpec> = Vec::new();
    for (a, b) in pairs {
        if a.name == b.name {
            return Err(FethError::SelfPeer(a.name.clone()));
        }
        let mode = pair_mode(state, a, b, opts)?;
        for (spec, other) in [(a, b), (b, a)] {
            if named.contains(&spec.name.as_str()) {
                return Err(FethError::Refused { name: spec.name.clone(), reason: "named in two pairs".into() });
            }
            named.push(&spec.name);
            let spec = PortSpec { mode: Some(mode), ..spec.clone() };
            check_create(state, &spec)?;
            peering::check_free_for(state, &spec.name, &other.name)?;
            specs.push(spec);
        }
        opts.check(&a.name, mode)?;
    }
    let made = create_many(state, &specs)?;
    let result = (|| {
        for spec in &specs {
            if let (false, Some(mtu)) = (made.contains(&spec.name), spec.mtu) {
                settings::set_mtu(state, &spec.name, mtu)?;
            }
        }
        for (a, b) in pairs {
            peering::peer(state, &a.name, &b.name, opts)?;
            for name in [&a.name, &b.name] {
                let p = state.port(name)?;
                pair::set_user_up(name, &p.netns)?;
            }
            super::hops::follow(state, &[&a.name, &b.name])?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = destroy_many(state, &made.iter().map(String::as_str).collect::<Vec<_>>());
    }
    result
}

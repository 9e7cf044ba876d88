//! One feth interface = one veth pair: the user end (named as asked, possibly in another
//! namespace) and the hidden wire end `fwire<slot>` that stays in the loader's namespace.
use std::os::fd::AsRawFd as _;

use feth_common::{Mode, names::WIRE_ALIAS_PREFIX};
use rtnetlink::{
    LinkMessageBuilder, LinkUnspec, LinkVeth,
    packet_route::link::{InfoData, InfoVeth, LinkAttribute},
};

use crate::{
    error::{Context as _, Result},
    ethtool::{self, Feature},
    names::{mac_address, wire_name},
    netns,
    rtnl::{LinkView, Rtnl},
};

/// Interface group wire ends join just before a batched deletion ("feth" in ASCII). Only
/// ever set under the lock; `State::load` takes leftovers back to group 0.
pub const DOOMED_GROUP: u32 = 0x6665_7468;

/// feth's MTU range (if_fake.c: FETH_MTU_MIN .. FETH_MTU_MAX).
pub const MTU_MIN: u32 = 72;
pub const MTU_MAX: u32 = 16370;
pub const MTU_DEFAULT: u32 = 1500;

/// The wire end never limits a frame: the user ends' MTUs are what count.
const WIRE_MTU: u32 = MTU_MAX;

/// What the kernel records on the wire end about its user end: `feth:<name>[@<netns>]`.
pub fn wire_alias(name: &str, netns: Option<&str>) -> String {
    match netns {
        Some(ns) => format!("{WIRE_ALIAS_PREFIX}{name}@{ns}"),
        None => format!("{WIRE_ALIAS_PREFIX}{name}"),
    }
}

/// Inverse of [`wire_alias`].
pub fn parse_wire_alias(alias: &str) -> Option<(String, Option<String>)> {
    let rest = alias.strip_prefix(WIRE_ALIAS_PREFIX)?;
    Some(match rest.split_once('@') {
        Some((name, ns)) => (name.to_owned(), Some(ns.to_owned())),
        None => (rest.to_owned(), None),
    })
}

/// One queue per CPU on both ends, so traffic from several cores does not share one ring
/// (and veth XDP needs rx queues >= the peer's tx queues).
pub fn queues() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Creates the veth pair in one netlink request; the user end is born in its namespace with
/// feth's MAC and MTU. Returns the wire end.
pub fn create(rtnl: &Rtnl, slot: u32, name: &str, ns: Option<&str>, mtu: u32) -> Result<LinkView> {
    let wire = wire_name(slot);
    let ns_file = ns.map(netns::open).transpose()?;
    let q = queues();
    let mut user = LinkMessageBuilder::<LinkUnspec>::new()
        .name(name.to_owned())
        .address(mac_address(name, slot).to_vec())
        .mtu(mtu)
        .append_extra_attribute(LinkAttribute::NumTxQueues(q))
        .append_extra_attribute(LinkAttribute::NumRxQueues(q));
    if let Some(f) = &ns_file {
        user = user.setns_by_fd(f.as_raw_fd());
    }
    let msg = LinkVeth::new(&wire, name)
        .index(feth_common::WIRE_IFINDEX_BASE + slot)
        .mtu(WIRE_MTU)
        .append_extra_attribute(LinkAttribute::NumTxQueues(q))
        .append_extra_attribute(LinkAttribute::NumRxQueues(q))
        .set_info_data(InfoData::Veth(InfoVeth::Peer(user.build())))
        .build();
    rtnl.add(msg, &format!("{name}: create veth pair ({wire})"))?;
    let view = rtnl.require(&wire)?;
    // The alias is the kernel's record of which feth interface this wire belongs to; a wire
    // end without it is an unfinished creation. (Setting it raises no link notification; the
    // feature change below does, so `monitor` sees the new interface with its name.)
    rtnl.set(
        LinkUnspec::new_with_index(view.index).alias(wire_alias(name, ns)).build(),
        &format!("{wire}: set alias"),
    )?;
    configure_wire(&wire)?;
    Ok(view)
}

/// A wire end carries only crossed frames: no IPv6 of its own (no link-local address, no
/// router solicitations leaking into the user end), and GRO on so the veth keeps NAPI (and
/// its ring) while XDP is detached during a mode switch.
fn configure_wire(wire: &str) -> Result<()> {
    let sysctl = format!("/proc/sys/net/ipv6/conf/{wire}/disable_ipv6");
    if std::path::Path::new(&sysctl).exists() {
        std::fs::write(&sysctl, "1").context(format!("{wire}: disable IPv6"))?;
    }
    ethtool::set(wire, Feature::Gro, true)
}

/// Offload settings the datapath needs on the user end. `hwcsum` is feth's simulated
/// hardware checksum: transmit checksum offload, which XDP mode cannot keep.
pub fn configure_user(name: &str, ns: Option<&str>, mode: Mode, hwcsum: bool) -> Result<()> {
    netns::run_in(ns, || {
        ethtool::set(name, Feature::Gro, true)?;
        ethtool::set(name, Feature::TxChecksum, hwcsum && mode != Mode::Xdp)
    })
}

pub fn set_user_mtu(name: &str, ns: Option<&str>, mtu: u32) -> Result<()> {
    netns::run_in(ns, || {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(name)?;
        if link.mtu != mtu {
            rtnl.set_mtu(link.index, mtu, &format!("{name}: set MTU {mtu}"))?;
        }
        Ok(())
    })
}

/// The user end as seen in its namespace.
pub fn user_link(name: &str, ns: Option<&str>) -> Result<Option<LinkView>> {
    if ns.is_some_and(|ns| !netns::exists(ns)) {
        return Ok(None);
    }
    netns::run_in(ns, || Rtnl::open()?.link_by_name(name))
}

/// Offloads as the user end reports them: (tx checksum, gro).
pub fn user_offloads(name: &str, ns: Option<&str>) -> Result<(bool, bool)> {
    netns::run_in(ns, || Ok((ethtool::get(name, Feature::TxChecksum)?, ethtool::get(name, Feature::Gro)?)))
}

pub fn set_user_up(name: &str, ns: Option<&str>) -> Result<()> {
    netns::run_in(ns, || {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(name)?;
        if !link.admin_up {
            rtnl.set_up(link.index, true, &format!("{name}: set up"))?;
        }
        Ok(())
    })
}

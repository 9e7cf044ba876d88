//! One feth interface = one veth pair (or, in netkit mode, one netkit pair): the user end
//! (named as asked, possibly in another namespace) and the hidden wire end `fwire<slot>` that
//! stays in the loader's namespace.
use std::os::fd::AsRawFd as _;

use feth_common::Mode;
use rtnetlink::{
    LinkMessageBuilder, LinkNetkit, LinkUnspec, LinkVeth,
    packet_route::link::{
        InfoData, InfoKind, InfoNetkit, InfoVeth, LinkAttribute, LinkMessage, LinkXdp, NetkitMode, NetkitPolicy,
    },
};

use crate::{
    error::{Context as _, Result},
    kernel::ethtool::{self, Feature},
    kernel::netns::Netns,
    kernel::rtnl::{LinkView, Rtnl},
    port::record::Record,
    port::{mtu, names::wire_name},
};

/// Interface group wire ends join just before a batched deletion ("feth" in ASCII). Only
/// ever set under the lock; the repair takes leftovers back to group 0.
pub const DOOMED_GROUP: u32 = 0x6665_7468;

/// The wire end never limits a frame: the user ends' MTUs are what count.
const WIRE_MTU: u32 = mtu::MAX;

/// One queue per CPU on both ends, so traffic from several cores does not share one ring
/// (and veth XDP needs rx queues >= the peer's tx queues).
pub fn queues() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as u32)
}

/// Creates the veth pair (a netkit pair for netkit mode) in one netlink request (the user end is
/// born in its namespace with its MAC and MTU), then writes the record on the wire end. A wire
/// end without a record is a creation cut short, which the repair finishes. Returns the wire
/// end.
pub fn create(rtnl: &Rtnl, slot: u32, name: &str, ns: &Netns, mtu: u32, mac: [u8; 6], mode: Mode) -> Result<LinkView> {
    let netkit = mode == Mode::Netkit;
    let wire = wire_name(slot);
    let ns_file = match ns.path() {
        Some(path) => Some(
            std::fs::File::open(path)
                .map_err(|_| crate::error::FethError::NoSuchNetns(ns.label().unwrap_or_default()))?,
        ),
        None => None,
    };
    let q = queues();
    let mut user = LinkMessageBuilder::<LinkUnspec>::new()
        .name(name.to_owned())
        .address(mac.to_vec())
        .mtu(mtu)
        .append_extra_attribute(LinkAttribute::NumTxQueues(q))
        .append_extra_attribute(LinkAttribute::NumRxQueues(q));
    if let Some(f) = &ns_file {
        user = user.setns_by_fd(f.as_raw_fd());
    }
    let (msg, kind) = if netkit {
        (wire_end(netkit_pair(&wire, user.build()), slot, q).build(), "netkit")
    } else {
        (wire_end(veth_pair(&wire, user.build()), slot, q).build(), "veth")
    };
    rtnl.add(msg, &format!("{name}: create {kind} pair ({wire})"))?;
    let mut view = rtnl.require(&wire)?;
    crate::fault::point("create:veth-made");
    configure_wire(&wire)?;
    // (Setting the alias raises no link notification; the feature change above does, so
    // `monitor` sees the new interface.)
    let record = Record { mode, ..Record::default() };
    rtnl.set_alias(view.index, record.encode(), &format!("{wire}: record the configuration"))?;
    view.alias = Some(record.encode());
    Ok(view)
}

/// The wire end's own attributes: its ifindex in the wire range, an MTU that never limits,
/// one queue per CPU.
fn wire_end<T>(pair: LinkMessageBuilder<T>, slot: u32, queues: u32) -> LinkMessageBuilder<T> {
    pair.index(feth_common::WIRE_IFINDEX_BASE + slot)
        .mtu(WIRE_MTU)
        .append_extra_attribute(LinkAttribute::NumTxQueues(queues))
        .append_extra_attribute(LinkAttribute::NumRxQueues(queues))
}

fn veth_pair(wire: &str, user: LinkMessage) -> LinkMessageBuilder<LinkVeth> {
    LinkMessageBuilder::<LinkVeth>::new_with_info_kind(InfoKind::Veth)
        .name(wire.to_owned())
        .set_info_data(InfoData::Veth(InfoVeth::Peer(user)))
}

/// A netkit pair in L2 mode (Ethernet frames, MAC addresses, ARP) whose primary is the wire
/// end. The primary passes what it is given to the user end (what the crossover redirects to
/// it); the user end drops what it sends until the crossover program is attached, rather
/// than passing it to the wire end in the loader's namespace (counted as its `tx_dropped`,
/// feth's `tx_refused`).
fn netkit_pair(wire: &str, user: LinkMessage) -> LinkMessageBuilder<LinkNetkit> {
    let info = vec![
        InfoNetkit::Mode(NetkitMode::L2),
        InfoNetkit::Policy(NetkitPolicy::Pass),
        InfoNetkit::PeerPolicy(NetkitPolicy::Drop),
        InfoNetkit::Peer(user),
    ];
    LinkMessageBuilder::<LinkNetkit>::new_with_info_kind(InfoKind::Netkit)
        .name(wire.to_owned())
        .set_info_data(InfoData::Netkit(info))
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

/// Offload settings the datapath needs on the user end: GRO on, transmit checksum offload as
/// the mode and feth's hwcsum allow (XDP mode cannot keep it).
pub fn configure_user(name: &str, ns: &Netns, tx_checksum: bool) -> Result<()> {
    ns.run(|| {
        ethtool::set(name, Feature::Gro, true)?;
        ethtool::set(name, Feature::TxChecksum, tx_checksum)
    })
}

pub fn set_user_mtu(name: &str, ns: &Netns, mtu: u32) -> Result<()> {
    ns.run(|| {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(name)?;
        if link.mtu != mtu {
            rtnl.set_mtu(link.index, mtu, &format!("{name}: set MTU {mtu}"))?;
        }
        Ok(())
    })
}

/// A link by name in a named namespace (`None` when either does not exist).
pub fn link_in(name: &str, ns: &Netns) -> Result<Option<LinkView>> {
    if let Netns::Named(n) = ns
        && !crate::kernel::netns::exists(n)
    {
        return Ok(None);
    }
    ns.run(|| Rtnl::open()?.link_by_name(name))
}

/// Offloads as the user end reports them: (tx checksum, gro).
pub fn user_offloads(name: &str, ns: &Netns) -> Result<(bool, bool)> {
    Ok(user_offloads_many(&[name], ns)?[0])
}

/// Offloads of several user ends in one namespace, entered once.
pub fn user_offloads_many(names: &[&str], ns: &Netns) -> Result<Vec<(bool, bool)>> {
    ns.run(|| {
        names
            .iter()
            .map(|name| Ok((ethtool::get(name, Feature::TxChecksum)?, ethtool::get(name, Feature::Gro)?)))
            .collect()
    })
}

pub fn set_user_up(name: &str, ns: &Netns) -> Result<()> {
    ns.run(|| {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(name)?;
        if !link.admin_up {
            rtnl.set_up(link.index, true, &format!("{name}: set up"))?;
        }
        Ok(())
    })
}

/// `include/uapi/linux/if_link.h`: native mode, attach only where none is, replace only the
/// expected program.
const XDP_FLAGS_UPDATE_IF_NOEXIST: u32 = 1 << 0;
const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
const XDP_FLAGS_REPLACE: u32 = 1 << 4;

/// The MTU a 5.10 veth accepts on its peer while it has an XDP program (`veth_xdp_set`: a page
/// less headroom, Ethernet header and `skb_shared_info`, 3506 on x86_64), rounded down to what
/// XDP mode allows a user end anyway.
const WIRE_MTU_UNDER_USER_XDP: u32 = mtu::XDP_LINEAR;

/// Puts `prog` (feth's pass-through, `datapath::load`) on a user end through netlink, never
/// over a program someone else attached there. Before 5.13 a veth takes redirected frames only
/// with an XDP program of its own, and refuses one while its peer's MTU exceeds a page: the
/// wire end's MTU comes down first (it limits nothing in XDP mode: frames are redirected
/// into the user end, whose own MTU counts).
pub fn attach_user_rx(rtnl: &Rtnl, wire: &LinkView, name: &str, ns: &Netns, prog: i32) -> Result<()> {
    if wire.mtu > WIRE_MTU_UNDER_USER_XDP {
        rtnl.set_mtu(wire.index, WIRE_MTU_UNDER_USER_XDP, &format!("{}: set MTU for {name}'s XDP program", wire.name))?;
    }
    let flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST;
    ns.run(|| {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(name)?;
        let msg = LinkUnspec::new_with_index(link.index)
            .append_extra_attribute(LinkAttribute::Xdp(vec![LinkXdp::Fd(prog), LinkXdp::Flags(flags)]))
            .build();
        rtnl.set(msg, &format!("{name}: attach the pass-through XDP program"))
    })
}

/// Takes feth's pass-through program off a user end (only if it is still the one there), then
/// gives the wire end back the MTU that lets TC mode cross jumbo frames.
pub fn detach_user_rx(rtnl: &Rtnl, wire: &LinkView, name: &str, ns: &Netns, prog: i32) -> Result<()> {
    let flags = XDP_FLAGS_DRV_MODE | XDP_FLAGS_REPLACE;
    ns.run(|| {
        let rtnl = Rtnl::open()?;
        let Some(link) = rtnl.link_by_name(name)? else { return Ok(()) };
        let xdp = vec![LinkXdp::Fd(-1), LinkXdp::ExpectedFd(prog as u32), LinkXdp::Flags(flags)];
        let msg = LinkUnspec::new_with_index(link.index).append_extra_attribute(LinkAttribute::Xdp(xdp)).build();
        rtnl.set(msg, &format!("{name}: detach the pass-through XDP program"))
    })?;
    if wire.mtu != WIRE_MTU {
        rtnl.set_mtu(wire.index, WIRE_MTU, &format!("{}: set MTU {WIRE_MTU}", wire.name))?;
    }
    Ok(())
}

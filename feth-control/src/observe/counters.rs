//! A port's counters as users read them: the data path's per-CPU counters summed, plus the
//! kernel's own veth counters for frames no program sees.
use feth_common::PortStats;
use serde::Serialize;

use crate::{
    error::Result,
    kernel::rtnl::LinkView,
    state::{Port, State},
};

/// Frames by protocol, as transmitted into the crossover.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Protocols {
    pub arp: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub other: u64,
    pub tcp: u64,
    pub udp: u64,
    pub icmp: u64,
    pub icmpv6: u64,
}

#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Direction {
    pub packets: u64,
    pub bytes: u64,
}

/// Drops by reason, packets and bytes. `tx_*` are frames this port sent; `rx_*` frames sent to
/// this port.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Drops {
    /// Refused by the user end's veth before the crossover, so not part of `tx`: sent while the
    /// link was down (unpeered), or while its queue toward the crossover was full (a generator
    /// outrunning it). Packets only: the kernel does not count their bytes.
    pub tx_refused: u64,
    /// Of those refused, sent while `flap` held the link down (ops::Cable); not in
    /// `tx_refused`. Packets only, as `tx_refused`.
    pub tx_link_down: u64,
    /// Reached the crossover while the port had no peer (a race with unpeer).
    pub tx_no_peer: Direction,
    /// The kernel refused the redirect (the peer's wire end is gone).
    pub tx_redirect_error: Direction,
    /// Crossed toward this port but not received by its user end: larger than its MTU, sent
    /// while it was administratively down, or its receive queue was full.
    pub rx_refused: Direction,
    /// Impairments (`feth-loader impair`) of what this port sent: lost at random, lost as
    /// every N-th frame.
    pub tx_loss: Direction,
    pub tx_loss_every: Direction,
    /// Dropped by the rate shaper's queue (`impair --rate`) before the crossover, so not part
    /// of `tx`; packets only (a qdisc counts no bytes of its drops). Its own counter: it starts
    /// again when the rate is set anew.
    pub tx_rate: u64,
}

impl Drops {
    /// This port's frames dropped inside the crossover, for every reason.
    pub fn tx_total(&self) -> Direction {
        let all = [&self.tx_no_peer, &self.tx_redirect_error, &self.tx_loss, &self.tx_loss_every];
        Direction { packets: all.iter().map(|d| d.packets).sum(), bytes: all.iter().map(|d| d.bytes).sum() }
    }
}

/// Invariant at rest, per direction A -> B, for packets and for bytes:
/// `A.tx + A.duplicated == B.rx + A.drops.tx_total() + B.drops.rx_refused`
/// (when B receives only from A). `tx` is what entered the crossover, `rx` what the user end
/// received; corrupted frames are delivered (and counted as such), duplicates are extra.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PortCounters {
    pub tx: Direction,
    pub rx: Direction,
    pub drops: Drops,
    /// Frames of this port with a bit flipped on the way (still crossed).
    pub corrupted: Direction,
    /// Frames of this port sent twice: each is one extra frame on the peer's side.
    pub duplicated: Direction,
    pub tx_protocols: Protocols,
}

impl PortCounters {
    /// `stats`: the data path's counters; `user`: the user end's kernel counters.
    pub fn from_parts(s: &PortStats, user: Option<&LinkView>) -> Self {
        let (delivered, refused) = user.map_or((Direction::default(), 0), |u| {
            (Direction { packets: u.rx_packets, bytes: u.rx_bytes }, u.tx_dropped)
        });
        // Delivered frames are a subset of crossed ones; a user end that already had counters
        // (reused slot, reloaded maps) cannot make this negative.
        let rx_refused = Direction {
            packets: s.rx_crossed_packets.saturating_sub(delivered.packets),
            bytes: s.rx_crossed_bytes.saturating_sub(delivered.bytes),
        };
        PortCounters {
            tx: Direction { packets: s.tx_packets, bytes: s.tx_bytes },
            rx: delivered,
            drops: Drops {
                tx_refused: refused,
                tx_link_down: 0,
                tx_no_peer: Direction { packets: s.drop_no_peer, bytes: s.drop_no_peer_bytes },
                tx_redirect_error: Direction { packets: s.drop_redirect, bytes: s.drop_redirect_bytes },
                rx_refused,
                tx_loss: Direction { packets: s.drop_loss, bytes: s.drop_loss_bytes },
                tx_loss_every: Direction { packets: s.drop_loss_every, bytes: s.drop_loss_every_bytes },
                tx_rate: 0,
            },
            corrupted: Direction { packets: s.corrupted, bytes: s.corrupted_bytes },
            duplicated: Direction { packets: s.duplicated, bytes: s.duplicated_bytes },
            tx_protocols: Protocols {
                arp: s.tx_arp,
                ipv4: s.tx_ipv4,
                ipv6: s.tx_ipv6,
                other: s.tx_other,
                tcp: s.tx_tcp,
                udp: s.tx_udp,
                icmp: s.tx_icmp,
                icmpv6: s.tx_icmpv6,
            },
        }
    }
}

/// A port's counters: the data path's (zero when the pins are missing) and the user end's own,
/// as `State::read` found it (every reading command reads the state afresh).
pub fn read(state: &State, port: &Port) -> Result<PortCounters> {
    let (stats, shared) = match &state.crossover {
        Some(c) => (c.stats(port.slot)?, c.shared(port.slot)?),
        None => Default::default(),
    };
    let mut counters = PortCounters::from_parts(&stats, port.user.as_ref());
    let mut link_down = shared.link_down;
    // A down period `flap` has open (a flap killed meanwhile leaves the mark: it counts only
    // while the wire end really is down).
    if shared.down != 0 && !port.wire.admin_up {
        link_down += counters.drops.tx_refused.saturating_sub(shared.link_down_base);
    }
    counters.drops.tx_link_down = link_down.min(counters.drops.tx_refused);
    counters.drops.tx_refused -= counters.drops.tx_link_down;
    if port.record.impair.queue().is_some()
        && let Some(user) = &port.user
    {
        counters.drops.tx_rate = crate::datapath::shaper::drops(&user.name, &port.netns);
    }
    Ok(counters)
}

/// A remote peer and what its VXLAN device (the tunnel end) did. For what this port sends:
/// `tx + duplicated = handed + drops`, and `handed = sent + refused`. `received` is what
/// arrived from the remote and crossed to this port (its `rx` plus `rx_refused`).
#[derive(Clone, Debug, Serialize)]
pub struct RemoteReport {
    pub addr: String,
    pub vni: u32,
    pub port: u16,
    pub local: Option<String>,
    pub dev: Option<String>,
    /// The VXLAN device feth made for it (absent until a repair makes it again).
    pub tunnel: String,
    pub tunnel_ifindex: Option<u32>,
    pub tunnel_mtu: Option<u32>,
    pub text: String,
    /// Frames the crossover handed to the tunnel end.
    pub handed: Direction,
    /// Frames the tunnel end encapsulated and sent (the kernel's count).
    pub sent: Direction,
    /// Handed but not sent: refused by the VXLAN device or its underlay. Packets only.
    pub refused: u64,
    /// Frames that arrived from the remote on the VNI.
    pub received: Direction,
}

/// The remote peer of `port` and its tunnel end's counters, if it has one.
pub fn remote_report(state: &State, port: &Port) -> Result<Option<RemoteReport>> {
    let Some(remote) = &port.record.remote else { return Ok(None) };
    let name = crate::datapath::tunnel::name(port.slot);
    let tunnel = state.tunnels.get(&port.slot);
    let stats = match &state.crossover {
        Some(c) => c.stats(remote.slot)?,
        None => Default::default(),
    };
    let handed = Direction { packets: stats.rx_crossed_packets, bytes: stats.rx_crossed_bytes };
    let sent = tunnel.map_or_else(Default::default, |t| Direction { packets: t.tx_packets, bytes: t.tx_bytes });
    Ok(Some(RemoteReport {
        addr: remote.at.addr.to_string(),
        vni: remote.at.vni,
        port: remote.at.port,
        local: remote.at.local.map(|a| a.to_string()),
        dev: remote.at.dev.clone(),
        tunnel: name.clone(),
        tunnel_ifindex: tunnel.map(|t| t.index),
        tunnel_mtu: tunnel.map(|t| t.mtu),
        text: remote.at.describe(&name),
        refused: handed.packets.saturating_sub(sent.packets),
        handed,
        sent,
        received: Direction { packets: stats.tx_packets, bytes: stats.tx_bytes },
    }))
}

/// One port's counters with what identifies it, as `stats` prints them.
#[derive(Clone, Debug, Serialize)]
pub struct PortSnapshot {
    pub name: String,
    pub peer: Option<String>,
    pub mode: &'static str,
    pub link_up: bool,
    /// The user end is administratively up (IFF_UP).
    pub admin_up: bool,
    /// The user end has carrier (peered, and the peer's wire end up).
    pub carrier: bool,
    pub counters: PortCounters,
    /// The peer on another host and its VXLAN device's counters, if any.
    pub remote: Option<RemoteReport>,
}

/// Counters of every port, or of `only`.
pub fn snapshot(state: &State, only: Option<&str>) -> Result<Vec<PortSnapshot>> {
    let ports: Vec<&Port> = match only {
        Some(name) => vec![state.port(name)?],
        None => state.ports.iter().collect(),
    };
    ports
        .into_iter()
        .map(|p| {
            let remote = remote_report(state, p)?;
            Ok(PortSnapshot {
                name: p.name(),
                peer: state.peer_of(p).map(Port::name),
                mode: p.mode().name(),
                link_up: state.is_linked(p),
                admin_up: p.user.as_ref().is_some_and(|u| u.admin_up),
                carrier: p.user.as_ref().is_some_and(|u| u.carrier),
                counters: read(state, p)?,
                remote,
            })
        })
        .collect()
}

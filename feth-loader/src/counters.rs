//! A port's counters as users read them: the data path's per-CPU counters summed, plus the
//! kernel's own veth counters for frames no program sees.
use feth_common::PortStats;
use serde::Serialize;

use crate::{
    error::Result,
    pair,
    rtnl::LinkView,
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
    /// Bytes of the frames that reached the crossover (frames dropped with the link down
    /// are counted in packets only: the kernel does not count their bytes).
    pub bytes: u64,
}

/// Drops by reason. `tx_*` are frames this port sent; `rx_*` frames sent to this port.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Drops {
    /// Sent while the link was down (unpeered): refused by the veth before the crossover.
    pub tx_link_down: u64,
    /// Reached the crossover while the port had no peer (a race with unpeer).
    pub tx_no_peer: u64,
    /// The kernel refused the redirect.
    pub tx_redirect_error: u64,
    /// Crossed toward this port but refused by its veth: larger than its MTU (or its receive
    /// queue was full).
    pub rx_too_big: u64,
}

impl Drops {
    pub fn tx_total(&self) -> u64 {
        self.tx_link_down + self.tx_no_peer + self.tx_redirect_error
    }
}

/// Invariant at rest, per direction A -> B:
/// `A.tx.packets == B.rx.packets + A.drops.tx_total() + B.drops.rx_too_big`.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct PortCounters {
    pub tx: Direction,
    pub rx: Direction,
    pub drops: Drops,
    pub tx_protocols: Protocols,
}

impl PortCounters {
    /// `stats`: the data path's counters; `user_tx_dropped`: the user end's kernel tx_dropped;
    /// `wire_tx_dropped`: the wire end's kernel tx_dropped.
    pub fn from_parts(s: &PortStats, user_tx_dropped: u64, wire_tx_dropped: u64) -> Self {
        PortCounters {
            tx: Direction { packets: s.tx_packets + user_tx_dropped, bytes: s.tx_bytes },
            rx: Direction { packets: s.rx_packets.saturating_sub(wire_tx_dropped), bytes: s.rx_bytes },
            drops: Drops {
                tx_link_down: user_tx_dropped,
                tx_no_peer: s.drop_no_peer,
                tx_redirect_error: s.drop_redirect,
                rx_too_big: wire_tx_dropped,
            },
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

/// Reads a port's counters now (fresh kernel reads, not the state's snapshot).
pub fn read(state: &State, port: &Port) -> Result<PortCounters> {
    let user = pair::user_link(&port.name, port.netns.as_deref())?;
    read_with_user(state, port, user.as_ref())
}

/// Same, with the user end already read by the caller.
pub fn read_with_user(state: &State, port: &Port, user: Option<&LinkView>) -> Result<PortCounters> {
    let stats = match &state.crossover {
        Some(c) => c.stats(port.slot)?,
        None => PortStats::default(),
    };
    let wire = state.rtnl.link_by_index(port.wire.index)?;
    Ok(PortCounters::from_parts(&stats, user.map_or(0, |u| u.tx_dropped), wire.map_or(0, |w| w.tx_dropped)))
}

/// One port's counters with what identifies it, as `stats` prints them.
#[derive(Clone, Debug, Serialize)]
pub struct PortSnapshot {
    pub name: String,
    pub peer: Option<String>,
    pub mode: &'static str,
    pub link_up: bool,
    pub counters: PortCounters,
}

/// Counters of every port, or of `only`.
pub fn snapshot(state: &State, only: Option<&str>) -> Result<Vec<PortSnapshot>> {
    let ports: Vec<&Port> = match only {
        Some(name) => vec![crate::ops::port(state, name)?],
        None => state.ports.iter().collect(),
    };
    ports
        .into_iter()
        .map(|p| {
            Ok(PortSnapshot {
                name: p.name.clone(),
                peer: state.peer_of(p).map(|q| q.name.clone()),
                mode: p.mode().name(),
                link_up: p.config.is_peered(),
                counters: read(state, p)?,
            })
        })
        .collect()
}

//! What `show` reports about a port, as text and as JSON.
use feth_common::{Mode, PortStats};
use serde::Serialize;

use crate::{error::Result, names::format_mac, pair, state::{Port, State}};

#[derive(Debug, Serialize)]
pub struct Offloads {
    pub tx_checksum: bool,
    pub gro: bool,
}

#[derive(Debug, Serialize)]
pub struct Counters {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    pub drop_no_peer: u64,
    pub drop_too_big: u64,
    pub drop_redirect: u64,
}

impl From<PortStats> for Counters {
    fn from(s: PortStats) -> Self {
        Counters {
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            drop_no_peer: s.drop_no_peer,
            drop_too_big: s.drop_too_big,
            drop_redirect: s.drop_redirect,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct PortReport {
    pub name: String,
    /// Named network namespace of the user end; null for the loader's own.
    pub netns: Option<String>,
    pub ifindex: Option<u32>,
    pub mac: String,
    pub mtu: u32,
    pub admin_up: bool,
    /// "up" while peered and carrier is on, "down" otherwise.
    pub link: &'static str,
    pub peer: Option<String>,
    pub mode: &'static str,
    pub wire: String,
    pub wire_ifindex: u32,
    pub slot: u32,
    pub offloads: Offloads,
    /// Settings feth changed on the user end, and why.
    pub changed: Vec<String>,
    pub counters: Counters,
}

pub fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Xdp => "xdp",
        Mode::Tc => "tc",
    }
}

/// Why feth changes each setting (DESIGN.md section 5).
fn changes(mode: Mode) -> Vec<String> {
    let mut v = vec!["gro on: a veth needs NAPI to receive XDP-redirected frames".to_owned()];
    if mode == Mode::Xdp {
        v.push("tx-checksumming off: XDP_REDIRECT loses CHECKSUM_PARTIAL, so the stack must checksum TCP/UDP itself".to_owned());
    }
    v
}

pub fn port_report(state: &State, port: &Port) -> Result<PortReport> {
    let user = pair::user_link(&port.name, port.netns.as_deref())?;
    let (tx_checksum, gro) = match &user {
        Some(_) => pair::user_offloads(&port.name, port.netns.as_deref())?,
        None => (false, false),
    };
    let counters = match &state.crossover {
        Some(c) => c.stats(port.slot)?,
        None => PortStats::default(),
    };
    let carrier = user.as_ref().is_some_and(|u| u.carrier);
    Ok(PortReport {
        name: port.name.clone(),
        netns: port.netns.clone(),
        ifindex: user.as_ref().map(|u| u.index),
        mac: user.as_ref().map(|u| format_mac(&u.mac)).unwrap_or_default(),
        mtu: user.as_ref().map_or(0, |u| u.mtu),
        admin_up: user.as_ref().is_some_and(|u| u.admin_up),
        link: if port.config.is_peered() && carrier { "up" } else { "down" },
        peer: state.peer_of(port).map(|p| p.name.clone()),
        mode: mode_name(port.mode()),
        wire: port.wire.name.clone(),
        wire_ifindex: port.wire.index,
        slot: port.slot,
        offloads: Offloads { tx_checksum, gro },
        changed: changes(port.mode()),
        counters: counters.into(),
    })
}

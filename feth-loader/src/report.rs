//! What `show` reports about a port, as text and as JSON.
use feth_common::Mode;
use serde::Serialize;

use crate::{
    counters::{self, PortCounters},
    error::Result,
    media::format_word,
    names::format_mac,
    pair,
    state::{Port, State},
};

#[derive(Debug, Serialize)]
pub struct Offloads {
    pub tx_checksum: bool,
    pub gro: bool,
}

#[derive(Debug, Serialize)]
pub struct Media {
    pub current: String,
    pub list: Vec<String>,
    /// feth's IFM_ACTIVE: set only while peered.
    pub active: bool,
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
    pub media: Media,
    pub offloads: Offloads,
    /// Settings feth changed on the user end, and why.
    pub changed: Vec<String>,
    pub counters: PortCounters,
}

/// Why feth changes each setting (DESIGN.md section 5).
fn changes(mode: Mode, tx_checksum: bool) -> Vec<String> {
    let mut v = vec!["gro on: a veth needs NAPI to receive XDP-redirected frames".to_owned()];
    match (mode, tx_checksum) {
        (Mode::Xdp, _) => v.push(
            "tx-checksumming off: XDP_REDIRECT loses CHECKSUM_PARTIAL, so the stack must checksum TCP/UDP itself (GSO is off too)"
                .to_owned(),
        ),
        (Mode::Tc, false) => v.push("tx-checksumming off: hwcsum off was asked".to_owned()),
        (Mode::Tc, true) => {}
    }
    v
}

pub fn port_report(state: &State, port: &Port) -> Result<PortReport> {
    let user = pair::user_link(&port.name, port.netns.as_deref())?;
    let (tx_checksum, gro) = match &user {
        Some(_) => pair::user_offloads(&port.name, port.netns.as_deref())?,
        None => (false, false),
    };
    let counters = counters::read_with_user(state, port, user.as_ref())?;
    let media = match &state.crossover {
        Some(c) => c.media(port.slot)?,
        None => crate::media::default_media(),
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
        mode: port.mode().name(),
        wire: port.wire.name.clone(),
        wire_ifindex: port.wire.index,
        slot: port.slot,
        media: Media {
            current: format_word(media.current),
            list: media.words().iter().map(|w| format_word(*w)).collect(),
            active: port.config.is_peered(),
        },
        offloads: Offloads { tx_checksum, gro },
        changed: changes(port.mode(), tx_checksum),
        counters,
    })
}

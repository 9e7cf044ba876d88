//! What `show` reports about a port, as text and as JSON.
use feth_common::Mode;
use serde::Serialize;

use crate::{
    datapath::pair,
    error::Result,
    kernel::rtnl::LinkView,
    observe::counters::{self, PortCounters, RemoteReport, remote_report},
    port::impair::Impairment,
    port::media::format_word,
    port::names::format_mac,
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
    /// Network namespace of the user end now: a name, `pid:N` for one only a process holds,
    /// `nsid:N` for one feth cannot enter; null for the loader's own.
    pub netns: Option<String>,
    pub ifindex: Option<u32>,
    pub mac: String,
    pub mtu: u32,
    pub admin_up: bool,
    /// "up" while peered and carrier is on, "down" otherwise.
    pub link: &'static str,
    pub peer: Option<String>,
    pub mode: &'static str,
    /// How TC mode crosses to a local peer now: 1 (`bpf_redirect_peer` into the peer's user
    /// end), or 2 (through the peer's wire end, a veth); null otherwise
    /// (`feth_common::port::hop`).
    pub hops: Option<u32>,
    /// feth's hwcsum as recorded (honoured in TC mode).
    pub hwcsum: bool,
    pub wire: String,
    pub wire_ifindex: u32,
    pub slot: u32,
    pub media: Media,
    pub offloads: Offloads,
    /// Settings feth changed on the user end, and why.
    pub changed: Vec<String>,
    /// Impairments of what this port transmits (`feth-loader impair`); all zero is none.
    pub impair: ImpairReport,
    /// The peer on another host, if any (`peer NAME --remote`).
    pub remote: Option<RemoteReport>,
    pub counters: PortCounters,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImpairReport {
    pub loss_percent: f64,
    pub loss_every: u32,
    pub corrupt_percent: f64,
    pub duplicate_percent: f64,
    /// Bits per second; 0 is no limit.
    pub rate_bits: u64,
    pub burst_bytes: u64,
    pub delay_us: u64,
    pub jitter_us: u64,
    /// The same, as `impair` spells it (empty: none).
    pub text: Vec<String>,
}

impl From<&Impairment> for ImpairReport {
    fn from(i: &Impairment) -> Self {
        let percent = |ppm: u32| f64::from(ppm) / f64::from(feth_common::PPM) * 100.0;
        ImpairReport {
            loss_percent: percent(i.loss_ppm),
            loss_every: i.loss_every,
            corrupt_percent: percent(i.corrupt_ppm),
            duplicate_percent: percent(i.duplicate_ppm),
            rate_bits: i.rate_bytes * 8,
            burst_bytes: i.burst_bytes,
            delay_us: i.delay_us,
            jitter_us: i.jitter_us,
            text: i.describe(),
        }
    }
}

/// Why feth changes each setting (ARCHITECTURE.md, "Datapaths"), judged from what the user
/// end reports now.
fn changes(mode: Mode, hwcsum: bool, corrupting: bool, tx_checksum: bool) -> Vec<String> {
    let gro = match mode {
        Mode::Netkit => "gro on: as on every feth user end (a netkit has no NAPI of its own; it changes nothing)",
        _ => "gro on: a veth needs NAPI to receive XDP-redirected frames",
    };
    let mut v = vec![gro.to_owned()];
    match (mode, hwcsum, tx_checksum) {
        (_, _, true) => {}
        (Mode::Xdp, _, false) => v.push(
            "tx-checksumming off: XDP_REDIRECT loses CHECKSUM_PARTIAL, so the stack must checksum TCP/UDP itself (GSO is off too)"
                .to_owned(),
        ),
        (Mode::Tc | Mode::Netkit, false, false) => v.push("tx-checksumming off: hwcsum off was asked".to_owned()),
        (Mode::Tc | Mode::Netkit, true, false) if corrupting => v.push(
            "tx-checksumming off: impair --corrupt damages frames whose checksum is computed first (GSO is off too)"
                .to_owned(),
        ),
        (Mode::Tc | Mode::Netkit, true, false) => {}
    }
    if mode == Mode::Tc && corrupting {
        v.push("wire end's gro off: merged frames would carry an unverified checksum past --corrupt".to_owned());
    }
    v
}

pub fn port_report(state: &State, port: &Port) -> Result<PortReport> {
    let user = port.user.as_ref();
    let (tx_checksum, gro) = match user {
        Some(u) => pair::user_offloads(&u.name, &port.netns).unwrap_or((false, false)),
        None => (false, false),
    };
    let counters = counters::read(state, port)?;
    let media = &port.record.media;
    let carrier = user.is_some_and(|u| u.carrier);
    let remote = remote_report(state, port)?;
    let peered = state.is_linked(port);
    // From the data path, or without its pins, what the records and the peer say it holds.
    // A netkit pair always delivers in one hop: the peer's netkit hands the frame over.
    let hops = if port.mode() == Mode::Netkit && state.peer_of(port).is_some() {
        Some(1)
    } else if port.mode() == Mode::Tc && state.peer_of(port).is_some() {
        let config = state.crossover.as_ref().map_or_else(|| Ok(state.config_of(port)), |c| c.port(port.slot))?;
        Some(if config.hop & feth_common::port::hop::ONE != 0 { 1 } else { 2 })
    } else {
        None
    };
    Ok(PortReport {
        name: port.name(),
        netns: port.netns.label(),
        ifindex: user.map(|u| u.index),
        mac: user.map(|u| format_mac(&u.mac)).unwrap_or_default(),
        mtu: user.map_or(0, |u| u.mtu),
        admin_up: user.is_some_and(|u| u.admin_up),
        link: if peered && carrier { "up" } else { "down" },
        peer: state.peer_of(port).map(Port::name),
        mode: port.mode().name(),
        hops,
        hwcsum: port.record.hwcsum,
        wire: port.wire.name.clone(),
        wire_ifindex: port.wire.index,
        slot: port.slot,
        media: Media {
            current: format_word(media.current),
            list: media.words().iter().map(|w| format_word(*w)).collect(),
            active: peered,
        },
        offloads: Offloads { tx_checksum, gro },
        changed: user.map_or_else(Vec::new, |u| changed_by_feth(state, port, u, tx_checksum, remote.as_ref())),
        impair: ImpairReport::from(&port.record.impair),
        remote,
        counters,
    })
}

/// What feth set on the user end `u` of `port`, and why (show's "set by feth").
fn changed_by_feth(
    state: &State,
    port: &Port,
    u: &LinkView,
    tx_checksum: bool,
    remote: Option<&RemoteReport>,
) -> Vec<String> {
    let mut changed = changes(port.mode(), port.record.hwcsum, port.record.impair.corrupt_ppm != 0, tx_checksum);
    let max = crate::port::mtu::xdp_max(&state.ctx.features);
    if port.mode() == Mode::Xdp && u.mtu > max {
        changed.push(format!(
            "frames over MTU {max} are not crossed: multi-buffer XDP redirect needs Linux 6.3 (use --mode tc)"
        ));
    }
    if let Some(r) = remote {
        if port.record.mode == Mode::Xdp {
            changed.push("tc path while the peer is remote: a VXLAN device takes no XDP redirect".to_owned());
        }
        if let Some(mtu) = r.tunnel_mtu {
            changed.push(format!(
                "mtu at most {mtu}: {} carries the frames over the underlay, {} bytes of VXLAN around each",
                r.tunnel,
                port.record.remote.as_ref().map_or(0, |r| r.at.overhead())
            ));
        }
    }
    changed.extend(queue_change(&port.record.impair));
    changed
}

/// The root qdisc feth installed for `impair --delay` or `--rate`, if any.
fn queue_change(i: &Impairment) -> Option<String> {
    if i.delay_us != 0 {
        let queue: Vec<String> =
            i.describe().into_iter().filter(|d| d.starts_with("rate") || d.starts_with("delay")).collect();
        Some(format!("root qdisc netem ({}): the queue of impair --delay", queue.join(", ")))
    } else if i.rate_bytes != 0 {
        Some(format!(
            "root qdisc tbf rate {} burst {}B: the shaper of impair --rate",
            crate::port::impair::rate(i.rate_bytes),
            i.burst_bytes
        ))
    } else {
        None
    }
}

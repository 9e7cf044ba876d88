//! `feth-loader gen` and `sink`: the benchmark's live-frames generator and its sink
//! (generator.rs), pointed at any feth interface. `gen NAME` transmits as if NAME sent the
//! frames (BPF_PROG_RUN with live frames on NAME, the program answering XDP_TX): they enter the
//! crossover like anything NAME transmits and are counted in NAME's `tx`. `sink NAME` counts
//! and drops what NAME receives, at XDP.
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use feth_common::Mode;
use feth_control::{
    error::{FethError, Result},
    kernel::netns::Netns,
    observe::counters::{self, PortCounters},
    read_state,
};
use serde::Serialize;

use crate::{
    generator::{BenchObject, ifindex_here, pin_to_cpu},
    probe,
};

/// The largest frame BPF_PROG_RUN with live frames takes: one page less the XDP headroom and
/// the skb_shared_info tail (4096 - 256 - 320).
pub const LIVE_FRAME_MAX: usize = 3520;
/// The smallest Ethernet frame without FCS (larger than any header `gen` writes: 54 bytes for
/// TCP).
pub const FRAME_MIN: usize = 60;
/// Frames per BPF_PROG_RUN call when not paced: a call has a fixed cost of 10-35 ms here, so
/// 4096 frames a call gave one CPU 0.17 Mpps and this 6 Mpps.
const CHUNK: u64 = 1 << 18;

/// Frames per BPF_PROG_RUN call for a thread sending `pps` (as fast as it can without). Each call
/// costs 10-35 ms of its own here, whatever its size (measured with strace): paced, a call
/// carries 100 ms of frames (sent in a burst, the average kept); otherwise large calls.
fn chunk(pps: Option<f64>) -> u64 {
    pps.map_or(CHUNK, |r| ((r / 10.0) as u64).clamp(1, CHUNK))
}

/// How far the machine's speed moves between two moments (2x within a minute on this shared
/// machine; the probe under QEMU measured 121-166 kpps where gen then sent 98 kpps): a rate is
/// refused only beyond this many times what the bare path carried, so that a slow moment
/// during the probe does not refuse a rate the run would keep.
const NOISE: f64 = 2.0;

/// Refuses `pps` (`whose` says where it comes from, if not from --rate) beyond NOISE times what
/// the kernel's bare path carried just now (`bare`), sending `how`.
fn refuse_above(name: &str, pps: f64, whose: &str, bare: &probe::BareRate, how: &str) -> Result<()> {
    if pps <= bare.pps * NOISE {
        return Ok(());
    }
    Err(FethError::Invalid(format!(
        "{name}: a rate of {pps:.0} frames/s{whose} cannot be met: it is more than {NOISE} times the {:.0} frames/s of these frames the kernel's bare {} carried {how} just now (on a scratch path of its own, {:.1} s), and feth's crossover does more; nothing was sent",
        bare.pps, bare.path, bare.seconds
    )))
}

/// The classic simple IMIX: 7 frames of 64 bytes, 4 of 594, 1 of 1518, as IMIX counts them on
/// the wire (with the 4-byte FCS): here, as every size here, without it.
pub const IMIX: [(usize, u64); 3] = [(60, 7), (590, 4), (1514, 1)];

/// What `gen` sends.
pub struct GenOptions {
    /// Frame sizes (without FCS) with their weights.
    pub sizes: Vec<(usize, u64)>,
    /// Stop after this many frames (split by weight exactly), or after `duration`, or when
    /// `stop` is set.
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    /// Frames per second over all CPUs; as fast as possible without.
    pub rate_pps: Option<f64>,
    pub cpus: Vec<usize>,
    pub proto: Proto,
    pub flows: Flows,
    /// Destination MAC (default: the peer's, broadcast without a peer).
    pub dst_mac: Option<[u8; 6]>,
}

/// Where every generated frame went, from the counters of NAME and its peer.
#[derive(Debug, Serialize)]
pub struct GenReport {
    pub interface: String,
    pub peer: Option<String>,
    pub sent: u64,
    /// Frames sent of each size.
    pub sizes: Vec<(usize, u64)>,
    pub seconds: f64,
    pub rate_pps: f64,
    pub rate_bps: f64,
    /// Entered the crossover (NAME's `tx`).
    pub tx: u64,
    /// Delivered to the peer.
    pub delivered: u64,
    /// Refused by NAME's own queue toward the crossover (the generator outran it).
    pub tx_refused: u64,
    /// Refused because `flap` held the link down.
    pub link_down: u64,
    pub no_peer: u64,
    pub redirect_error: u64,
    pub loss: u64,
    pub loss_every: u64,
    /// Crossed but refused by the peer (larger than its MTU, queue full, admin down).
    pub rx_refused: u64,
    /// Extra copies made by `impair --duplicate` (delivered too).
    pub duplicated: u64,
    /// `sent + duplicated - delivered - every drop`: 0 when every frame is accounted for.
    pub unaccounted: i64,
}

/// NAME's port as `gen`/`sink` need it: namespace, user end name, MAC, MTU, the peer's name and
/// MAC, mode.
struct Target {
    netns: Netns,
    mac: Vec<u8>,
    mtu: u32,
    peer: Option<(String, Vec<u8>)>,
    /// How the port crosses over (TC for a remote peer).
    mode: Mode,
    /// What takes the frames at the peer: an XDP program on its user end, or its stack (an
    /// XDP program, the least work, when feth cannot tell: a remote peer).
    receiver: probe::Receiver,
}

fn target(name: &str) -> Result<Target> {
    read_state(|state| {
        let port = state.port(name)?;
        let user = port.user.as_ref().ok_or_else(|| FethError::Refused {
            name: name.to_owned(),
            reason: "its user end cannot be reached (its namespace has no name or process)".into(),
        })?;
        let peer_user = state.peer_of(port).map(|p| (p.name(), p.user.as_ref()));
        let receiver = match peer_user {
            Some((_, Some(user))) if user.xdp_prog_id.is_none() => probe::Receiver::Stack,
            _ => probe::Receiver::Xdp,
        };
        let peer = peer_user.map(|(name, user)| (name, user.map(|u| u.mac.clone()).unwrap_or_default()));
        Ok(Target {
            netns: port.netns.clone(),
            mac: user.mac.clone(),
            mtu: user.mtu,
            peer,
            mode: port.mode(),
            receiver,
        })
    })
}

fn counters_of(name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    read_state(|state| {
        let me = counters::read(state, state.port(name)?)?;
        let other = match peer {
            Some(p) => Some(counters::read(state, state.port(p)?)?),
            None => None,
        };
        Ok((me, other))
    })
}

/// What goes above Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// UDP/IPv4 to the discard port by default.
    Udp,
    /// TCP/IPv4 SYNs (a SYN flood, as a device under test sees one).
    TcpSyn,
    /// Ethernet only: EtherType 0x88b5 (local experimental) and filler.
    Raw,
}

/// Addresses and ports of the generated frames: each a first value and how many (1: fixed).
#[derive(Clone, Copy, Debug)]
pub struct Flows {
    pub src_ip: (u32, u32),
    pub dst_ip: (u32, u32),
    pub src_port: (u16, u32),
    pub dst_port: (u16, u32),
}

impl Default for Flows {
    /// 198.18.0.1:1024 -> 198.18.0.2:9 (the discard port), one flow.
    fn default() -> Flows {
        Flows {
            src_ip: (u32::from_be_bytes([198, 18, 0, 1]), 1),
            dst_ip: (u32::from_be_bytes([198, 18, 0, 2]), 1),
            src_port: (1024, 1),
            dst_port: (9, 1),
        }
    }
}

impl Flows {
    pub fn varies(&self) -> bool {
        self.src_ip.1 > 1 || self.dst_ip.1 > 1 || self.src_port.1 > 1 || self.dst_port.1 > 1
    }
}

/// A frame of `size` bytes with the flows' first addresses and ports, and correct IPv4 and
/// UDP/TCP checksums.
pub fn build_frame(proto: Proto, src: &[u8], dst: &[u8], size: usize, flows: &Flows) -> Vec<u8> {
    let mut f = Vec::with_capacity(size);
    f.extend_from_slice(dst);
    f.extend_from_slice(src);
    if proto == Proto::Raw {
        f.extend_from_slice(&0x88b5u16.to_be_bytes());
        f.resize(size, 0x5a);
        return f;
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (size - 14) as u16;
    let l4_len = ip_len - 20;
    let protocol = if proto == Proto::TcpSyn { 6 } else { 17 };
    let (saddr, daddr) = (flows.src_ip.0.to_be_bytes(), flows.dst_ip.0.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip.extend_from_slice(&saddr);
    ip.extend_from_slice(&daddr);
    let sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut l4 = Vec::with_capacity(l4_len as usize);
    l4.extend_from_slice(&flows.src_port.0.to_be_bytes());
    l4.extend_from_slice(&flows.dst_port.0.to_be_bytes());
    let csum_at = if proto == Proto::TcpSyn {
        // Sequence number, no ack, header of 5 words, SYN, a full window, checksum, urgent.
        l4.extend_from_slice(&0x1000_0000u32.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
        16
    } else {
        l4.extend_from_slice(&l4_len.to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        6
    };
    l4.resize(l4_len as usize, 0x5a);
    // Pseudo-header: addresses, protocol, L4 length.
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&saddr);
    pseudo.extend_from_slice(&daddr);
    pseudo.extend_from_slice(&[0, protocol]);
    pseudo.extend_from_slice(&l4_len.to_be_bytes());
    let mut sum = checksum(&l4, sum_words(&pseudo, 0));
    if sum == 0 && proto == Proto::Udp {
        sum = 0xffff;
    }
    l4[csum_at..csum_at + 2].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&l4);
    f
}

/// The generator program's view of `flows` for frames built by `build_frame`.
fn flow_config(proto: Proto, flows: &Flows, frame: &[u8]) -> feth_common::flows::Flows {
    use feth_common::flows::{IP_CSUM_AT, TCP_CSUM_AT, UDP_CSUM_AT};
    let l4_at = if proto == Proto::TcpSyn { TCP_CSUM_AT } else { UDP_CSUM_AT };
    let at = |i: usize| u32::from(u16::from_be_bytes([frame[i], frame[i + 1]]));
    feth_common::flows::Flows {
        src_ip: flows.src_ip.0,
        src_ip_span: flows.src_ip.1,
        dst_ip: flows.dst_ip.0,
        dst_ip_span: flows.dst_ip.1,
        src_port: u32::from(flows.src_port.0),
        src_port_span: flows.src_port.1,
        dst_port: u32::from(flows.dst_port.0),
        dst_port_span: flows.dst_port.1,
        l4_csum_at: l4_at as u32,
        ip_csum: at(IP_CSUM_AT),
        l4_csum: at(l4_at),
        _pad: 0,
    }
}

fn sum_words(data: &[u8], mut acc: u32) -> u32 {
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    acc
}

/// The Internet checksum of `data` with `partial` already summed.
fn checksum(data: &[u8], partial: u32) -> u16 {
    let mut acc = sum_words(data, partial);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Refuses what cannot be sent, before anything is.
fn check(name: &str, opts: &GenOptions, mtu: u32) -> Result<()> {
    let max = LIVE_FRAME_MAX.min(mtu as usize + 14);
    for (size, _) in &opts.sizes {
        if *size < FRAME_MIN || *size > max {
            return Err(FethError::Invalid(format!(
                "{name}: frames of {size} bytes cannot be sent: {FRAME_MIN}..={max} bytes (the interface's MTU {mtu} plus the Ethernet header, and at most {LIVE_FRAME_MAX}, the largest live frame BPF_PROG_RUN takes)"
            )));
        }
    }
    if opts.rate_pps.is_some_and(|r| !(r.is_finite() && r >= 1.0)) {
        return Err(FethError::Invalid(format!("{name}: the rate must be at least 1 frame per second")));
    }
    if opts.count == Some(0) {
        return Err(FethError::Invalid(format!("{name}: --count must be at least 1")));
    }
    if opts.cpus.is_empty() {
        return Err(FethError::Invalid(format!("{name}: no CPU to run on")));
    }
    if opts.flows.varies() && (opts.proto == Proto::Raw || opts.sizes.len() > 1) {
        return Err(FethError::Invalid(format!(
            "{name}: address and port ranges need --proto udp or tcp-syn and one frame size"
        )));
    }
    Ok(())
}

/// Splits `total` by the weights exactly (the remainder to the first sizes).
fn split(total: u64, weights: &[(usize, u64)]) -> Vec<u64> {
    let sum: u64 = weights.iter().map(|(_, w)| w).sum();
    let mut parts: Vec<u64> = weights.iter().map(|(_, w)| total * w / sum).collect();
    let mut left = total - parts.iter().sum::<u64>();
    for p in parts.iter_mut() {
        if left == 0 {
            break;
        }
        *p += 1;
        left -= 1;
    }
    parts
}

/// Sends as `opts` says; `progress(sent, seconds)` is called about every second.
pub fn generate(
    name: &str,
    opts: &GenOptions,
    stop: &AtomicBool,
    progress: impl Fn(u64, f64) + Sync,
) -> Result<GenReport> {
    let t = target(name)?;
    check(name, opts, t.mtu)?;
    // A rate for a time is a number of frames, spread over that time.
    let count = match (opts.count, opts.rate_pps, opts.duration) {
        (None, Some(pps), Some(d)) => Some((pps * d.as_secs_f64()).round().max(1.0) as u64),
        (count, ..) => count,
    };
    let dst = match opts.dst_mac {
        Some(mac) => mac.to_vec(),
        None => t.peer.as_ref().map_or(vec![0xff; 6], |(_, mac)| mac.clone()),
    };
    let frames: Vec<Vec<u8>> =
        opts.sizes.iter().map(|(size, _)| build_frame(opts.proto, &t.mac, &dst, *size, &opts.flows)).collect();
    let mut object = BenchObject::load()?;
    if opts.flows.varies() {
        // Every size's frame has the same addresses, ports and so checksum words but for
        // lengths: each size needs its own base checksums, so flows take one size.
        object.set_flows(Some(flow_config(opts.proto, &opts.flows, &frames[0])))?;
    }
    let threads = opts.cpus.len() as u64;
    let per_thread_pps = opts.rate_pps.map(|r| r / threads as f64);
    let chunk = chunk(per_thread_pps);
    if let Some(pps) = opts.rate_pps {
        let bare = probe::bare_rate(&mut object, t.mode, t.receiver, &frames, &opts.sizes, chunk, &opts.cpus)?;
        refuse_above(name, pps, "", &bare, &format!("from {} CPU(s)", opts.cpus.len()))?;
    }
    let object = object;
    let peer = t.peer.as_ref().map(|(p, _)| p.clone());
    let before = counters_of(name, peer.as_deref())?;
    // Each thread's share of the count, by size.
    let shares: Option<Vec<Vec<u64>>> = count.map(|count| {
        split(count, &vec![(0, 1); threads as usize]).into_iter().map(|mine| split(mine, &opts.sizes)).collect()
    });
    let sent = AtomicU64::new(0);
    let sent_by_size: Vec<AtomicU64> = opts.sizes.iter().map(|_| AtomicU64::new(0)).collect();
    let start = Instant::now();
    // A count (given, or a rate times a duration) ends the run by itself.
    let deadline = if count.is_none() { opts.duration.map(|d| start + d) } else { None };
    let result: Result<()> = std::thread::scope(|scope| {
        let workers: Vec<_> = opts
            .cpus
            .iter()
            .enumerate()
            .map(|(i, &cpu)| {
                let (t, frames, object, sent, sent_by_size) = (&t, &frames, &object, &sent, &sent_by_size);
                let share = shares.as_ref().map(|s| s[i].clone());
                scope.spawn(move || {
                    t.netns.run(|| {
                        pin_to_cpu(cpu);
                        let dev = ifindex_here(name)?;
                        send_loop(
                            object,
                            dev,
                            frames,
                            &opts.sizes,
                            share,
                            per_thread_pps,
                            chunk,
                            deadline,
                            stop,
                            sent,
                            sent_by_size,
                        )
                    })
                })
            })
            .collect();
        let mut last = Instant::now();
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            if last.elapsed() >= Duration::from_secs(1) {
                progress(sent.load(Ordering::Relaxed), start.elapsed().as_secs_f64());
                last = Instant::now();
            }
        }
        workers.into_iter().try_for_each(|w| w.join().expect("generator thread"))
    });
    result?;
    let by_size = opts.sizes.iter().zip(&sent_by_size).map(|((s, _), n)| (*s, n.load(Ordering::Relaxed))).collect();
    account(name, peer, &before, by_size, start.elapsed().as_secs_f64())
}

/// The report: what was sent (by size), and where it went from the counters' growth since
/// `before` (read again once frames in flight have landed).
fn account(
    name: &str,
    peer: Option<String>,
    before: &(PortCounters, Option<PortCounters>),
    sizes: Vec<(usize, u64)>,
    seconds: f64,
) -> Result<GenReport> {
    let after = settle(name, peer.as_deref())?;
    let d = |a: u64, b: u64| a.saturating_sub(b);
    let (me0, peer0) = before;
    let (me1, peer1) = &after;
    let (delivered, rx_refused) = match (peer0, peer1) {
        (Some(p0), Some(p1)) => {
            (d(p1.rx.packets, p0.rx.packets), d(p1.drops.rx_refused.packets, p0.drops.rx_refused.packets))
        }
        _ => (0, 0),
    };
    let sent: u64 = sizes.iter().map(|(_, n)| n).sum();
    let bits: f64 = sizes.iter().map(|(s, n)| *s as f64 * 8.0 * *n as f64).sum();
    let mut report = GenReport {
        interface: name.to_owned(),
        peer,
        sent,
        sizes,
        seconds,
        rate_pps: sent as f64 / seconds,
        rate_bps: bits / seconds,
        tx: d(me1.tx.packets, me0.tx.packets),
        delivered,
        tx_refused: d(me1.drops.tx_refused, me0.drops.tx_refused),
        link_down: d(me1.drops.tx_link_down, me0.drops.tx_link_down),
        no_peer: d(me1.drops.tx_no_peer.packets, me0.drops.tx_no_peer.packets),
        redirect_error: d(me1.drops.tx_redirect_error.packets, me0.drops.tx_redirect_error.packets),
        loss: d(me1.drops.tx_loss.packets, me0.drops.tx_loss.packets),
        loss_every: d(me1.drops.tx_loss_every.packets, me0.drops.tx_loss_every.packets),
        rx_refused,
        duplicated: d(me1.duplicated.packets, me0.duplicated.packets),
        unaccounted: 0,
    };
    report.unaccounted = (report.sent + report.duplicated) as i64
        - (report.delivered
            + report.tx_refused
            + report.link_down
            + report.no_peer
            + report.redirect_error
            + report.loss
            + report.loss_every
            + report.rx_refused) as i64;
    Ok(report)
}

/// The frames of a pcap or pcapng file (Ethernet only), with their times from the first.
pub fn read_capture(path: &std::path::Path) -> Result<Vec<(Duration, Vec<u8>)>> {
    let shown = path.display().to_string();
    // With the caller's own permissions (feth_control::kernel::caller).
    let bytes = feth_control::kernel::caller::read(path)
        .map_err(|e| FethError::Invalid(format!("{shown}: cannot read it: {e}")))?;
    parse_capture(&shown, &bytes)
}

/// The frames of pcap or pcapng `bytes` (see `read_capture`); `shown` names them in errors.
/// Anything may be in them: it refuses, never panics (fuzz target `capture`).
pub fn parse_capture(shown: &str, bytes: &[u8]) -> Result<Vec<(Duration, Vec<u8>)>> {
    use pcap_file::{
        DataLink,
        pcap::PcapReader,
        pcapng::{Block, PcapNgReader, blocks::interface_description::InterfaceDescriptionOption},
    };
    let bad = |why: String| FethError::Invalid(format!("{shown}: {why}"));
    let mut frames: Vec<(Duration, Vec<u8>)> = Vec::new();
    if bytes.starts_with(&[0x0a, 0x0d, 0x0d, 0x0a]) {
        let mut reader = PcapNgReader::new(bytes).map_err(|e| bad(format!("not a pcapng file: {e}")))?;
        // Each interface's time unit (if_tsresol: 10^-N seconds, microseconds by default).
        let mut units: Vec<u64> = Vec::new();
        while let Some(block) = reader.next_block() {
            match block.map_err(|e| bad(format!("not a pcapng file: {e}")))? {
                Block::InterfaceDescription(idb) => {
                    if idb.linktype != DataLink::ETHERNET {
                        return Err(bad(format!("link type {:?}: only Ethernet frames can be sent", idb.linktype)));
                    }
                    let exp = idb
                        .options
                        .iter()
                        .find_map(|o| match o {
                            InterfaceDescriptionOption::IfTsResol(r) if r & 0x80 == 0 => Some(u32::from(*r)),
                            _ => None,
                        })
                        .unwrap_or(6);
                    units.push(10u64.pow(9u32.saturating_sub(exp.min(9))));
                }
                Block::EnhancedPacket(epb) => {
                    let unit = units.get(epb.interface_id as usize).copied().unwrap_or(1000);
                    // The reader hands the raw timestamp over as nanoseconds.
                    let at = Duration::from_nanos((epb.timestamp.as_nanos() as u64).saturating_mul(unit));
                    frames.push((at, epb.data.into_owned()));
                }
                Block::SimplePacket(spb) => {
                    let at = frames.last().map_or(Duration::ZERO, |(t, _)| *t);
                    frames.push((at, spb.data.into_owned()));
                }
                _ => {}
            }
        }
    } else {
        let mut reader = PcapReader::new(bytes).map_err(|e| bad(format!("not a pcap or pcapng file: {e}")))?;
        if reader.header().datalink != DataLink::ETHERNET {
            return Err(bad(format!("link type {:?}: only Ethernet frames can be sent", reader.header().datalink)));
        }
        while let Some(packet) = reader.next_packet() {
            let packet = packet.map_err(|e| bad(format!("not a pcap file: {e}")))?;
            frames.push((packet.timestamp, packet.data.into_owned()));
        }
    }
    if frames.is_empty() {
        return Err(bad("holds no frame".into()));
    }
    let first = frames.iter().map(|(t, _)| *t).min().unwrap_or_default();
    for (t, _) in frames.iter_mut() {
        *t = t.saturating_sub(first);
    }
    Ok(frames)
}

/// Replays `frames` from `name`, in order, `loops` times, at their own timing or `rate_pps`.
pub fn replay(
    name: &str,
    frames: &[(Duration, Vec<u8>)],
    loops: u64,
    rate_pps: Option<f64>,
    stop: &AtomicBool,
    progress: impl Fn(u64, f64) + Sync,
) -> Result<GenReport> {
    let t = target(name)?;
    let max = LIVE_FRAME_MAX.min(t.mtu as usize + 14);
    if let Some((i, (_, f))) = frames.iter().enumerate().find(|(_, (_, f))| f.len() < 14 || f.len() > max) {
        return Err(FethError::Invalid(format!(
            "{name}: frame {} of the capture has {} bytes: {name} sends 14..={max} (its MTU {} plus the Ethernet header, at most {LIVE_FRAME_MAX}, the largest live frame)",
            i + 1,
            f.len(),
            t.mtu
        )));
    }
    if rate_pps.is_some_and(|r| !(r.is_finite() && r >= 1.0)) || loops == 0 {
        return Err(FethError::Invalid(format!(
            "{name}: the rate must be at least 1 frame per second and --loop at least 1"
        )));
    }
    // One thread on one CPU, so the frames leave in the file's order: on another CPU they would
    // take another of the veth's receive queues, whose NAPI may overtake the first (seen under
    // QEMU). The CPU the command started on.
    // SAFETY: sched_getcpu has no arguments and no failure but -1.
    let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).unwrap_or(0);
    let mut object = BenchObject::load()?;
    // The rate asked, or the capture's own over its span (none when every frame has one time).
    let span = frames.iter().map(|(at, _)| *at).max().unwrap_or_default().as_secs_f64();
    let (pps, whose) = match rate_pps {
        Some(pps) => (Some(pps), ""),
        None if span > 0.0 => {
            (Some((frames.len() - 1) as f64 / span), " (the capture's own timing; --rate sets another)")
        }
        None => (None, ""),
    };
    if let (Some(pps), Some((_, frame))) = (pps, frames.first()) {
        // One frame per call, from that CPU, as below.
        let one = std::slice::from_ref(frame);
        let bare = probe::bare_rate(&mut object, t.mode, t.receiver, one, &[(frame.len(), 1)], 1, &[cpu])?;
        refuse_above(name, pps, whose, &bare, "one frame per BPF_PROG_RUN call, from one thread")?;
    }
    let object = object;
    let peer = t.peer.as_ref().map(|(p, _)| p.clone());
    let before = counters_of(name, peer.as_deref())?;
    let start = Instant::now();
    let mut sizes: std::collections::BTreeMap<usize, u64> = std::collections::BTreeMap::new();
    let sent = t.netns.run(|| {
        pin_to_cpu(cpu);
        let dev = ifindex_here(name)?;
        let (mut sent, mut last) = (0u64, Instant::now());
        'all: for _ in 0..loops {
            let loop_start = Instant::now();
            for (at, frame) in frames {
                if stop.load(Ordering::Relaxed) {
                    break 'all;
                }
                let due = match rate_pps {
                    Some(r) => start + Duration::from_secs_f64(sent as f64 / r),
                    None => loop_start + *at,
                };
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                object.transmit(dev, frame, 1)?;
                sent += 1;
                *sizes.entry(frame.len()).or_default() += 1;
                if last.elapsed() >= Duration::from_secs(1) {
                    progress(sent, start.elapsed().as_secs_f64());
                    last = Instant::now();
                }
            }
        }
        Ok(sent)
    })?;
    debug_assert_eq!(sent, sizes.values().sum::<u64>());
    account(name, peer, &before, sizes.into_iter().collect(), start.elapsed().as_secs_f64())
}

/// Sends `frames` in proportion to their weights in `sizes`, in BPF_PROG_RUN calls of `chunk`
/// frames, `share` of each (as many as `deadline` or `stop` allow without), at `pps` if given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn send_loop(
    object: &BenchObject,
    dev: u32,
    frames: &[Vec<u8>],
    sizes: &[(usize, u64)],
    share: Option<Vec<u64>>,
    pps: Option<f64>,
    chunk: u64,
    deadline: Option<Instant>,
    stop: &AtomicBool,
    sent: &AtomicU64,
    sent_by_size: &[AtomicU64],
) -> Result<()> {
    let mut left = share;
    let start = Instant::now();
    let mut mine = 0u64;
    let over = || stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| Instant::now() >= d);
    loop {
        let mut any = false;
        for (i, frame) in frames.iter().enumerate() {
            if over() {
                return Ok(());
            }
            // Sizes in proportion: `weight` chunks of each per round.
            let mut n = chunk * sizes[i].1;
            if let Some(left) = left.as_mut() {
                n = n.min(left[i]);
                left[i] -= n;
            }
            if n == 0 {
                continue;
            }
            any = true;
            let mut rest = n;
            while rest > 0 {
                if over() {
                    return Ok(());
                }
                let now = rest.min(chunk) as u32;
                object.transmit(dev, frame, now)?;
                rest -= u64::from(now);
                mine += u64::from(now);
                sent.fetch_add(u64::from(now), Ordering::Relaxed);
                sent_by_size[i].fetch_add(u64::from(now), Ordering::Relaxed);
                if let Some(r) = pps {
                    let due = start + Duration::from_secs_f64(mine as f64 / r);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        if !any {
            return Ok(());
        }
    }
}

/// Reads the counters until two reads 100 ms apart agree (bounded by 3 s).
fn settle(name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    let mut last = counters_of(name, peer)?;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let now = counters_of(name, peer)?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// What `sink` counted.
#[derive(Debug, Serialize)]
pub struct SinkReport {
    pub interface: String,
    pub received: u64,
    pub seconds: f64,
    pub rate_pps: f64,
}

/// Counts and drops what `name` receives until `duration` passes or `stop` is set;
/// `ready()` once the sink is attached, `progress(total, pps)` every second.
pub fn sink(
    name: &str,
    duration: Option<Duration>,
    stop: &AtomicBool,
    ready: impl FnOnce(),
    progress: impl Fn(u64, f64),
) -> Result<SinkReport> {
    let t = target(name)?;
    let mut object = BenchObject::load()?;
    let dev = name.to_owned();
    t.netns.run(|| object.attach_sink_here(&dev))?;
    ready();
    let start = Instant::now();
    let (mut last_total, mut last) = (0u64, Instant::now());
    while !stop.load(Ordering::Relaxed) && duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= Duration::from_secs(1) {
            let total = object.count(2)?;
            progress(total, (total - last_total) as f64 / last.elapsed().as_secs_f64());
            (last_total, last) = (total, Instant::now());
        }
    }
    let received = object.count(2)?;
    object.detach_all();
    let seconds = start.elapsed().as_secs_f64();
    Ok(SinkReport { interface: name.to_owned(), received, seconds, rate_pps: received as f64 / seconds })
}

//! `gen NAME --pcap FILE`: the frames of a capture, in order, at their own timing or a rate.
use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use feth_control::{
    error::{FethError, Result},
    kernel::context::Context,
};

use super::{
    generate::{GenReport, account},
    probe,
    target::{counters_of, refuse_above, target},
};
use crate::{
    frames::LIVE_FRAME_MAX,
    object::{BenchObject, ifindex_here, pin_to_cpu},
};

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
    ctx: &Context,
    name: &str,
    frames: &[(Duration, Vec<u8>)],
    loops: u64,
    rate_pps: Option<f64>,
    stop: &AtomicBool,
    progress: impl Fn(u64, f64) + Sync,
) -> Result<GenReport> {
    crate::object::require_live_frames(ctx, "gen")?;
    let t = target(ctx, name)?;
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
    let before = counters_of(ctx, name, peer.as_deref())?;
    let start = Instant::now();
    let timing = Timing { loops, rate_pps, start };
    let sizes = t.netns.run(|| {
        pin_to_cpu(cpu);
        send_in_order(&object, ifindex_here(name)?, frames, &timing, stop, &progress)
    })?;
    account(ctx, name, peer, &before, sizes.into_iter().collect(), start.elapsed().as_secs_f64())
}

/// When replayed frames leave: `loops` times over, at `rate_pps` from `start` or at the
/// capture's own times from each loop's start.
struct Timing {
    loops: u64,
    rate_pps: Option<f64>,
    start: Instant,
}

/// Sends `frames` one per call from `dev`, in order, as `timing` says, until done or `stop`;
/// `progress(sent, seconds)` about every second. Returns what was sent of each size.
fn send_in_order(
    object: &BenchObject,
    dev: u32,
    frames: &[(Duration, Vec<u8>)],
    timing: &Timing,
    stop: &AtomicBool,
    progress: &impl Fn(u64, f64),
) -> Result<BTreeMap<usize, u64>> {
    let mut sizes: BTreeMap<usize, u64> = BTreeMap::new();
    let (mut sent, mut last) = (0u64, Instant::now());
    for _ in 0..timing.loops {
        let loop_start = Instant::now();
        for (at, frame) in frames {
            if stop.load(Ordering::Relaxed) {
                return Ok(sizes);
            }
            let due = match timing.rate_pps {
                Some(r) => timing.start + Duration::from_secs_f64(sent as f64 / r),
                None => loop_start + *at,
            };
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            object.transmit(dev, frame, 1)?;
            sent += 1;
            *sizes.entry(frame.len()).or_default() += 1;
            if last.elapsed() >= Duration::from_secs(1) {
                progress(sent, timing.start.elapsed().as_secs_f64());
                last = Instant::now();
            }
        }
    }
    Ok(sizes)
}

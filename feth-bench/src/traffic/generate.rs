//! `gen NAME`: frames of the sizes, protocol and flows asked, from every chosen CPU, for a
//! count, a time or until stopped, paced or not; then where each of them went.
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use feth_control::{
    error::{FethError, Result},
    kernel::context::Context,
    observe::{counters::PortCounters, delivery::Delivery},
};
use serde::Serialize;

use super::{
    probe,
    target::{Target, counters_at_rest, counters_of, refuse_above, target},
};
use crate::{
    frames::{FRAME_MIN, Flows, LIVE_FRAME_MAX, Proto, build_frame, flow_config},
    object::{BenchObject, ifindex_here, pin_to_cpu},
    send::{SendPlan, Tally, chunk},
};

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
    /// Where the frames went (NAME's `tx`, delivered to the peer, or dropped by reason),
    /// from the counters of NAME and its peer.
    #[serde(flatten)]
    pub frames: Delivery,
    /// `sent + duplicated - delivered - every drop`: 0 when every frame is accounted for.
    pub unaccounted: i64,
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
    ctx: &Context,
    name: &str,
    opts: &GenOptions,
    stop: &AtomicBool,
    progress: impl Fn(u64, f64) + Sync,
) -> Result<GenReport> {
    crate::object::require_live_frames(ctx, "gen")?;
    let t = target(ctx, name)?;
    check(name, opts, t.mtu)?;
    // A rate for a time is a number of frames, spread over that time.
    let count = match (opts.count, opts.rate_pps, opts.duration) {
        (None, Some(pps), Some(d)) => Some((pps * d.as_secs_f64()).round().max(1.0) as u64),
        (count, ..) => count,
    };
    let frames = frames_for(&t, opts);
    let mut object = BenchObject::load()?;
    if opts.flows.varies() {
        // Every size's frame has the same addresses, ports and so checksum words but for
        // lengths: each size needs its own base checksums, so flows take one size.
        object.set_flows(Some(flow_config(opts.proto, &opts.flows, &frames[0])))?;
    }
    let per_thread_pps = opts.rate_pps.map(|r| r / opts.cpus.len() as f64);
    let chunk = chunk(per_thread_pps);
    if let Some(pps) = opts.rate_pps {
        let bare = probe::bare_rate(&mut object, t.mode, t.receiver, &frames, &opts.sizes, chunk, &opts.cpus)?;
        refuse_above(name, pps, "", &bare, &format!("from {} CPU(s)", opts.cpus.len()))?;
    }
    let peer = t.peer.as_ref().map(|(p, _)| p.clone());
    let before = counters_of(ctx, name, peer.as_deref())?;
    // Each thread's share of the count, by size.
    let shares: Option<Vec<Vec<u64>>> = count.map(|count| {
        split(count, &vec![(0, 1); opts.cpus.len()]).into_iter().map(|mine| split(mine, &opts.sizes)).collect()
    });
    let start = Instant::now();
    // A count (given, or a rate times a duration) ends the run by itself.
    let deadline = if count.is_none() { opts.duration.map(|d| start + d) } else { None };
    let plan = |i: usize| SendPlan {
        frames: &frames,
        sizes: &opts.sizes,
        share: shares.as_ref().map(|s| s[i].clone()),
        pps: per_thread_pps,
        chunk,
        deadline,
    };
    let by_size = send_from_every_cpu(name, &t, &object, &opts.cpus, plan, stop, |sent| {
        progress(sent, start.elapsed().as_secs_f64())
    })?;
    let by_size = opts.sizes.iter().zip(by_size).map(|((s, _), n)| (*s, n)).collect();
    account(ctx, name, peer, &before, by_size, start.elapsed().as_secs_f64())
}

/// One frame of each size of `opts`, to the destination it names (the peer's MAC, broadcast
/// without a peer).
fn frames_for(t: &Target, opts: &GenOptions) -> Vec<Vec<u8>> {
    let dst = match opts.dst_mac {
        Some(mac) => mac.to_vec(),
        None => t.peer.as_ref().map_or(vec![0xff; 6], |(_, mac)| mac.clone()),
    };
    opts.sizes.iter().map(|(size, _)| build_frame(opts.proto, &t.mac, &dst, *size, &opts.flows)).collect()
}

/// One thread per CPU, each pinned to it in `name`'s namespace and sending `plan(i)`;
/// `progress(sent)` about every second. Returns what was sent of each size.
fn send_from_every_cpu<'a>(
    name: &str,
    t: &Target,
    object: &BenchObject,
    cpus: &[usize],
    plan: impl Fn(usize) -> SendPlan<'a> + Sync,
    stop: &AtomicBool,
    progress: impl Fn(u64),
) -> Result<Vec<u64>> {
    let sent = AtomicU64::new(0);
    let by_size: Vec<AtomicU64> = (0..plan(0).sizes.len()).map(|_| AtomicU64::new(0)).collect();
    let tally = Tally { sent: &sent, by_size: &by_size };
    std::thread::scope(|scope| {
        let workers: Vec<_> = cpus
            .iter()
            .enumerate()
            .map(|(i, &cpu)| {
                let (plan, tally) = (plan(i), &tally);
                scope.spawn(move || {
                    t.netns.run(|| {
                        pin_to_cpu(cpu);
                        plan.send(object, ifindex_here(name)?, stop, tally)
                    })
                })
            })
            .collect();
        let mut last = Instant::now();
        while !workers.iter().all(|w| w.is_finished()) {
            std::thread::sleep(Duration::from_millis(50));
            if last.elapsed() >= Duration::from_secs(1) {
                progress(sent.load(Ordering::Relaxed));
                last = Instant::now();
            }
        }
        workers.into_iter().try_for_each(|w| w.join().expect("generator thread"))
    })?;
    Ok(by_size.iter().map(|n| n.load(Ordering::Relaxed)).collect())
}

/// The report: what was sent (by size), and where it went from the counters' growth since
/// `before` (read again once frames in flight have landed).
pub(super) fn account(
    ctx: &Context,
    name: &str,
    peer: Option<String>,
    before: &(PortCounters, Option<PortCounters>),
    sizes: Vec<(usize, u64)>,
    seconds: f64,
) -> Result<GenReport> {
    let after = counters_at_rest(ctx, name, peer.as_deref())?;
    let d = Delivery::between((&before.0, before.1.as_ref()), (&after.0, after.1.as_ref()));
    let sent: u64 = sizes.iter().map(|(_, n)| n).sum();
    let bits: f64 = sizes.iter().map(|(s, n)| *s as f64 * 8.0 * *n as f64).sum();
    let report = GenReport {
        interface: name.to_owned(),
        peer,
        sent,
        sizes,
        seconds,
        rate_pps: sent as f64 / seconds,
        rate_bps: bits / seconds,
        unaccounted: d.unaccounted(sent),
        frames: d,
    };
    Ok(report)
}

//! What the kernel's bare path carries on this machine now: `gen --rate` and pcap replay refuse
//! a rate above it before sending anything. The generator drives, for a moment and with the
//! very calls it is about to make, the bare redirect feth's crossover is built on (the
//! benchmark's devmap or TC row) into the kind of receiver the peer has (an XDP program, or the
//! kernel's stack), in a namespace of its own that vanishes with it. feth does all the bare
//! path does and more (its ratio rows stay at or below 1), and a real receiver does more than
//! drop, so a rate above this cannot be met (crate::traffic refuses beyond twice it, for the
//! machine's noise); a rate below that which the real path still cannot take is reported as
//! not met.
use std::{
    sync::atomic::{AtomicBool, AtomicU64},
    time::{Duration, Instant},
};

use feth_common::Mode;
use feth_control::{
    error::Result,
    kernel::ethtool::{self, Feature},
    kernel::netns,
    kernel::rtnl::Rtnl,
};

use crate::{
    benchmark::{
        networks::{attach_bare_here, bare_pairs_here},
        rates::Row,
    },
    object::{BenchObject, Count, ifindex_here, pin_to_cpu},
    send::{SendPlan, Tally},
};

/// How long the scratch path is driven (at least one call per thread either way).
const SPAN: Duration = Duration::from_millis(300);

/// What takes the frames at the far end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// An XDP program (the probe uses the sink, which drops at once).
    Xdp,
    /// The kernel's stack (the probe's end has no address, so it drops them on entry).
    Stack,
}

/// What the bare path carried.
pub struct BareRate {
    /// Which path: "XDP devmap redirect into an XDP program", ...
    pub path: String,
    /// Frames per second that arrived at the far end.
    pub pps: f64,
    pub seconds: f64,
}

/// Drives the bare path of `mode` into `receiver` with `frames` in proportion to `sizes`, in
/// calls of `chunk` frames, one thread pinned to each of `cpus`, for `SPAN`;
/// counts what arrives at its far end. Uses `object`'s sink and bare redirect, and leaves them
/// detached.
pub fn bare_rate(
    object: &mut BenchObject,
    mode: Mode,
    receiver: Receiver,
    frames: &[Vec<u8>],
    sizes: &[(usize, u64)],
    chunk: u64,
    cpus: &[usize],
) -> Result<BareRate> {
    let (row, redirect) = match mode {
        Mode::Xdp => (Row::MinimalDevmap, "XDP devmap redirect"),
        // A netkit port's frames are skbs redirected by the TC program, as in TC mode.
        Mode::Tc | Mode::Netkit => (Row::MinimalTc, "TC redirect"),
    };
    let path = match receiver {
        Receiver::Xdp => format!("{redirect} into an XDP program"),
        Receiver::Stack => format!("{redirect} into the stack"),
    };
    let ns = netns::private()?;
    let ready = netns::run_in_file(&ns, || {
        bare_pairs_here(row)?;
        match receiver {
            Receiver::Xdp => object.attach_sink_here("b0")?,
            // b0 takes the frames b1 sends as XDP frames only with NAPI, which GRO gives it.
            Receiver::Stack => ethtool::set("b0", Feature::Gro, true)?,
        }
        attach_bare_here(object, row)
    });
    let result = ready.and_then(|()| drive(object, &ns, receiver, frames, sizes, chunk, cpus));
    object.detach_all();
    let (pps, seconds) = result?;
    Ok(BareRate { path, pps, seconds })
}

/// Frames per second counted at b0 while the threads send from a0, and the seconds it took.
fn drive(
    object: &BenchObject,
    ns: &std::fs::File,
    receiver: Receiver,
    frames: &[Vec<u8>],
    sizes: &[(usize, u64)],
    chunk: u64,
    cpus: &[usize],
) -> Result<(f64, f64)> {
    // The sink's count, or what the kernel says b0 received.
    let arrived = || match receiver {
        Receiver::Xdp => object.count(Count::AllAtSink),
        Receiver::Stack => netns::run_in_file(ns, || Ok(Rtnl::open()?.require("b0")?.rx_packets)),
    };
    let before = arrived()?;
    let (never, sent) = (AtomicBool::new(false), AtomicU64::new(0));
    let by_size: Vec<AtomicU64> = sizes.iter().map(|_| AtomicU64::new(0)).collect();
    let tally = Tally { sent: &sent, by_size: &by_size };
    let start = Instant::now();
    let deadline = start + SPAN;
    std::thread::scope(|scope| {
        let threads: Vec<_> = cpus
            .iter()
            .map(|cpu| {
                let (never, tally) = (&never, &tally);
                scope.spawn(move || {
                    netns::run_in_file(ns, || {
                        pin_to_cpu(*cpu);
                        let a0 = ifindex_here("a0")?;
                        // One call whatever the time, so that a thread that started late is
                        // measured too; then calls until the deadline.
                        let one_call =
                            Some(sizes.iter().enumerate().map(|(i, _)| if i == 0 { chunk } else { 0 }).collect());
                        let plan = |share, deadline| SendPlan { frames, sizes, share, pps: None, chunk, deadline };
                        plan(one_call, None).send(object, a0, never, tally)?;
                        plan(None, Some(deadline)).send(object, a0, never, tally)
                    })
                })
            })
            .collect();
        threads.into_iter().try_for_each(|t| t.join().expect("probe thread"))
    })?;
    let seconds = start.elapsed().as_secs_f64();
    let arrived = arrived()? - before;
    Ok((arrived as f64 / seconds, seconds))
}

//! Sending frames from one thread: in BPF_PROG_RUN calls of a chunk of frames, the sizes in
//! proportion to their weights, paced or as fast as the kernel takes them.
use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use feth_control::error::Result;

use crate::object::BenchObject;

/// Frames per BPF_PROG_RUN call when not paced: a call has a fixed cost of its own (tens of
/// milliseconds, docs/traffic.md), so only large calls let that cost vanish in the rate.
const CHUNK: u64 = 1 << 18;

/// Frames per BPF_PROG_RUN call for a thread sending `pps` (as fast as it can without). Each call
/// has a fixed cost whatever its size: paced, a call carries 100 ms of frames (sent in a burst,
/// the average kept), long enough for that cost not to decide the rate; otherwise large calls.
pub fn chunk(pps: Option<f64>) -> u64 {
    pps.map_or(CHUNK, |r| ((r / 10.0) as u64).clamp(1, CHUNK))
}

/// What one thread sends: `frames` in proportion to their weights in `sizes`, in BPF_PROG_RUN
/// calls of `chunk` frames, `share` of each (as many as `deadline` or a stop allow without),
/// at `pps` if given.
pub struct SendPlan<'a> {
    pub frames: &'a [Vec<u8>],
    pub sizes: &'a [(usize, u64)],
    pub share: Option<Vec<u64>>,
    pub pps: Option<f64>,
    pub chunk: u64,
    pub deadline: Option<Instant>,
}

/// What every thread has sent so far, in all and by size (shared between the threads).
pub struct Tally<'a> {
    pub sent: &'a AtomicU64,
    pub by_size: &'a [AtomicU64],
}

impl Tally<'_> {
    fn add(&self, size: usize, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
        self.by_size[size].fetch_add(n, Ordering::Relaxed);
    }
}

impl SendPlan<'_> {
    /// Sends from `dev` (an ifindex of the calling thread's namespace) until the plan is done,
    /// its deadline passes or `stop` is set.
    pub fn send(self, object: &BenchObject, dev: u32, stop: &AtomicBool, tally: &Tally) -> Result<()> {
        let mut left = self.share.clone();
        let start = Instant::now();
        let mut mine = 0u64;
        let over = || stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d);
        loop {
            let mut any = false;
            for (i, frame) in self.frames.iter().enumerate() {
                // Sizes in proportion: `weight` chunks of each per round.
                let mut n = self.chunk * self.sizes[i].1;
                if let Some(left) = left.as_mut() {
                    n = n.min(left[i]);
                    left[i] -= n;
                }
                if over() {
                    return Ok(());
                }
                any |= n > 0;
                let mut rest = n;
                while rest > 0 && !over() {
                    let now = rest.min(self.chunk) as u32;
                    object.transmit(dev, frame, now)?;
                    rest -= u64::from(now);
                    mine += u64::from(now);
                    tally.add(i, u64::from(now));
                    self.pace(start, mine);
                }
            }
            if !any || over() {
                return Ok(());
            }
        }
    }

    /// Waits until `sent` frames are due at the plan's rate.
    fn pace(&self, start: Instant, sent: u64) {
        if let Some(r) = self.pps {
            let due = start + Duration::from_secs_f64(sent as f64 / r);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
        }
    }
}

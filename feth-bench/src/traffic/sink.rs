//! `sink NAME`: counts and drops at XDP what NAME receives.
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use feth_control::{error::Result, kernel::context::Context};
use serde::Serialize;

use super::target::target;
use crate::object::{BenchObject, Count};

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
    ctx: &Context,
    name: &str,
    duration: Option<Duration>,
    stop: &AtomicBool,
    ready: impl FnOnce(),
    progress: impl Fn(u64, f64),
) -> Result<SinkReport> {
    crate::object::require_live_frames(ctx, "sink")?;
    let t = target(ctx, name)?;
    let mut object = BenchObject::load()?;
    let dev = name.to_owned();
    t.netns.run(|| object.attach_sink_here(&dev))?;
    // An XDP program on the receiver takes its peer's frames off the one hop of TC mode, which
    // passes the XDP hook by (feth_common::port::hop): the repair every changing command makes
    // first sees the program and moves them to the veth, and back once the sink is gone.
    if let Err(e) = feth_control::session::repair_now(ctx) {
        object.detach_all();
        return Err(e);
    }
    ready();
    let start = Instant::now();
    let (mut last_total, mut last) = (0u64, Instant::now());
    while !stop.load(Ordering::Relaxed) && duration.is_none_or(|d| start.elapsed() < d) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= Duration::from_secs(1) {
            let total = object.count(Count::AllAtSink)?;
            progress(total, (total - last_total) as f64 / last.elapsed().as_secs_f64());
            (last_total, last) = (total, Instant::now());
        }
    }
    let received = object.count(Count::AllAtSink)?;
    object.detach_all();
    let seconds = start.elapsed().as_secs_f64();
    feth_control::session::repair_now(ctx)?;
    Ok(SinkReport { interface: name.to_owned(), received, seconds, rate_pps: received as f64 / seconds })
}

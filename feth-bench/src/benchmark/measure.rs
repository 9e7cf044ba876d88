//! The packet-rate table measured: every row's network standing at once, slices taken in turn
//! (every row and size once per round). A slice is the generator on every chosen CPU into one
//! row's network for a short window, the sink's rate over it, and for feth rows where every
//! generated frame went.
use std::{
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use feth_control::{
    error::{Context as _, Result},
    kernel::context::Context,
    kernel::netns,
    observe::{counters::PortCounters, delivery::Delivery},
};

use crate::{
    benchmark::{
        cost,
        networks::{self, Network, Networks},
        progress::Progress,
        rates::{Accounting, RateOptions, Row, Sample},
    },
    object::{BenchObject, Count, ifindex_here, pin_to_cpu},
};

/// Builds every network, then measures rows in turn (every row and size once per round) for
/// `rounds` rounds, and more until every ratio is pinned or the time cap has passed.
pub fn packet_rates(ctx: &Context, opts: &RateOptions, progress: &Progress) -> Result<Vec<Sample>> {
    let per_round = opts.rows.len() * opts.sizes.len();
    let section = progress.section("packet rate", per_round * opts.rounds);
    let mut objects = BenchObject::load()?;
    let topologies = Networks::build(ctx, &mut objects)?;
    let timing = if opts.program_cost { Some(cost::enable()?) } else { None };
    let started = Instant::now();
    let measured = (|| {
        let mut samples = Vec::new();
        for round in 0.. {
            if round >= opts.rounds && !more_rounds(&samples, opts, started, progress) {
                break;
            }
            if round >= opts.rounds {
                section.extend(per_round);
            }
            for &row in &opts.rows {
                for &size in &opts.sizes {
                    section.measuring(&format!("round {} {} {size}B", round + 1, row.label()));
                    let sample = measure(ctx, &objects, topologies.get(row), size, round, opts)?;
                    section.done(&sample.line());
                    samples.push(sample);
                }
            }
        }
        Ok(samples)
    })();
    drop(timing);
    // Torn down whether or not the measurement worked.
    topologies.teardown(ctx, &mut objects)?;
    measured
}

/// Whether another round is wanted: some ratio is not pinned yet and the cap leaves time for
/// it (judged by the rounds so far).
fn more_rounds(samples: &[Sample], opts: &RateOptions, started: Instant, progress: &Progress) -> bool {
    let loose = crate::benchmark::stats::ratios(samples, &opts.sizes)
        .iter()
        .filter(|r| !r.ratio.pinned(crate::benchmark::rates::PINNED))
        .count();
    if loose == 0 {
        return false;
    }
    let rounds = samples.iter().map(|s| s.round + 1).max().unwrap_or(1);
    let per_round = started.elapsed().as_secs_f64() / rounds as f64;
    let more = started.elapsed().as_secs_f64() + per_round <= opts.max_seconds;
    if !more {
        progress.note(&format!(
            "{loose} ratios not within +/-{:.0}% after {rounds} rounds; stopping at the {:.0} s cap",
            crate::benchmark::rates::PINNED * 100.0,
            opts.max_seconds
        ));
    }
    more
}

/// Frames per BPF_PROG_RUN call (about 10 ms at a few Mpps).
const REPEAT: u32 = 1 << 15;
/// Sending before the window opens, so that it sees the steady rate.
const WARMUP: Duration = Duration::from_millis(300);

/// One generated frame of `size` bytes (no FCS) to `dst`.
fn frame(dst: &[u8], size: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(size);
    f.extend_from_slice(if dst.len() == 6 { dst } else { &[0xff; 6] });
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.resize(size.max(60), 0x5a);
    f
}

/// A feth row's counters now: (sender, receiver).
fn feth_counters(ctx: &Context, row: Row) -> Result<Option<(PortCounters, PortCounters)>> {
    let Some((a, b)) = networks::feth_names(row) else { return Ok(None) };
    feth_control::read_state(ctx, |state| {
        let a = feth_control::observe::counters::read(state, state.port(a)?)?;
        let b = feth_control::observe::counters::read(state, state.port(b)?)?;
        Ok(Some((a, b)))
    })
}

/// Waits (bounded) until the sink count stops moving: frames in flight have landed.
fn sink_count_at_rest(objects: &BenchObject) -> Result<u64> {
    let mut last = objects.count(Count::GenAtSink)?;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(10));
        let now = objects.count(Count::GenAtSink)?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// One slice: the generator on every chosen CPU, the sink's rate over the window, and for feth
/// rows where every generated frame went.
pub fn measure(
    ctx: &Context,
    objects: &BenchObject,
    topo: &Network,
    size: usize,
    round: usize,
    opts: &RateOptions,
) -> Result<Sample> {
    let data = frame(&topo.sink_mac, size);
    let before = feth_counters(ctx, topo.row)?;
    let cost_before = if opts.program_cost { cost::reading(ctx, objects, topo.row)? } else { None };
    let sink_start = sink_count_at_rest(objects)?;
    let (pps, generated) = generate_for_window(objects, topo, &data, opts)?;
    let received = sink_count_at_rest(objects)? - sink_start;
    let program_ns = match cost_before {
        Some(b) => cost::reading(ctx, objects, topo.row)?.and_then(|a| a.per_run_since(b)),
        None => None,
    };
    let accounting = match (before, feth_counters(ctx, topo.row)?) {
        (Some((a0, b0)), Some((a1, b1))) => Some(account(generated, received, (&a0, &b0), (&a1, &b1))),
        _ => None,
    };
    Ok(Sample {
        row: topo.row,
        frame_size: size,
        round,
        mpps: pps / 1e6,
        gbps: pps * size as f64 * 8.0 / 1e9,
        accounting,
        program_ns,
    })
}

/// Runs the generator on every CPU of `opts` from the row's sending end, and returns the
/// sink's rate over the window (after a warm-up) and how many frames were generated.
fn generate_for_window(objects: &BenchObject, topo: &Network, data: &[u8], opts: &RateOptions) -> Result<(f64, u64)> {
    let stop = AtomicBool::new(false);
    let window = Duration::from_secs_f64(opts.seconds);
    std::thread::scope(|scope| {
        let workers: Vec<_> = opts
            .cpus
            .iter()
            .map(|&cpu| {
                let stop = &stop;
                scope.spawn(move || {
                    let file = netns::open(&topo.gen_ns)?;
                    netns::enter(&file).context(format!("enter {}", topo.gen_ns))?;
                    pin_to_cpu(cpu);
                    let dev = ifindex_here(topo.gen_dev)?;
                    let mut generated = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        objects.transmit(dev, data, REPEAT)?;
                        generated += u64::from(REPEAT);
                    }
                    Ok::<u64, feth_control::FethError>(generated)
                })
            })
            .collect();
        std::thread::sleep(WARMUP);
        let sink0 = objects.count(Count::GenAtSink)?;
        let start = Instant::now();
        std::thread::sleep(window);
        let sink1 = objects.count(Count::GenAtSink)?;
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut generated = 0;
        for w in workers {
            generated += w.join().expect("generator thread")?;
        }
        Ok(((sink1 - sink0) as f64 / secs, generated))
    })
}

/// Where a feth row's generated frames went: `received` by the sink, the rest by drop reason
/// (`Delivery`, the accounting `gen` uses). Link-down refusals count as refused here: the
/// benchmark never flaps.
fn account(
    generated: u64,
    received: u64,
    before: (&PortCounters, &PortCounters),
    after: (&PortCounters, &PortCounters),
) -> Accounting {
    let d = Delivery::between((before.0, Some(before.1)), (after.0, Some(after.1)));
    Accounting {
        generated,
        received,
        tx_refused: d.tx_refused + d.link_down,
        tx_no_peer: d.no_peer,
        tx_redirect_error: d.redirect_error,
        tx_impaired: d.loss + d.loss_every,
        rx_refused: d.rx_refused,
        unaccounted: (generated + d.duplicated) as i64 - (received + d.dropped()) as i64,
    }
}

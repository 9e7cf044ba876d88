//! Cable faults on what a port transmits (`feth-loader impair`): loss at random, exactly one
//! frame in N, a rate limit, corruption and duplication. Each impaired frame is counted under
//! its reason, so `A.tx + A.duplicated = B.rx + A's drops + B's refusals` holds exactly.
//! The data path only comes here when `PortConfig::impair` is non-zero.
use aya_ebpf::helpers::{bpf_get_prandom_u32, bpf_ktime_get_ns};
use feth_common::{ImpairState, PPM, PortConfig, impair};

use crate::{counters::count, maps::FETH_IMPAIR_STATE};

const NS_PER_SEC: u64 = 1_000_000_000;

/// True with probability `ppm` parts per million.
#[inline(always)]
pub fn chance(ppm: u32) -> bool {
    // SAFETY: plain helper call.
    let r = unsafe { bpf_get_prandom_u32() } % PPM;
    r < ppm
}

/// Decides whether the frame is dropped by loss, `loss_every` or the rate limit, and counts
/// the drop. Corruption and duplication are the program's (they touch the frame).
#[inline(always)]
pub fn drops(port: &PortConfig, bytes: u64) -> bool {
    if port.impair & impair::LOSS_EVERY != 0 && loss_every(port) {
        count(port.slot, |s| {
            s.drop_loss_every += 1;
            s.drop_loss_every_bytes += bytes;
        });
        return true;
    }
    if port.impair & impair::LOSS != 0 && chance(port.loss_ppm) {
        count(port.slot, |s| {
            s.drop_loss += 1;
            s.drop_loss_bytes += bytes;
        });
        return true;
    }
    if port.impair & impair::RATE != 0 && over_rate(port, bytes) {
        count(port.slot, |s| {
            s.drop_rate += 1;
            s.drop_rate_bytes += bytes;
        });
        return true;
    }
    false
}

#[inline(always)]
fn state(slot: u32) -> Option<*mut ImpairState> {
    FETH_IMPAIR_STATE.get_ptr_mut(slot)
}

/// Every N-th frame of each CPU. (Exact across CPUs would need an atomic fetch-and-add,
/// which the kernel accepts but bpf-linker's default CPU model cannot emit.)
#[inline(always)]
fn loss_every(port: &PortConfig) -> bool {
    let mut seen = 0;
    count(port.slot, |s| {
        s.loss_every_seen += 1;
        seen = s.loss_every_seen;
    });
    // checked_rem: no panic path (the verifier refuses one), and 0 never drops.
    seen.checked_rem(u64::from(port.loss_every)) == Some(0)
}

/// A token bucket of `burst_bytes`, filled at `rate_bytes` per second. CPUs race on the bucket
/// (no lock on the data path): the rate is approximate under contention, the count exact.
#[inline(always)]
fn over_rate(port: &PortConfig, bytes: u64) -> bool {
    let Some(s) = state(port.slot) else { return false };
    // SAFETY: plain helper call.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: a map value lives as long as the map; a torn update only misplaces tokens.
    let s = unsafe { &mut *s };
    let elapsed = now.wrapping_sub(s.filled_ns);
    let tokens = if elapsed >= NS_PER_SEC {
        // A second or more fills any bucket (and keeps elapsed * rate within u64).
        s.filled_ns = now;
        port.burst_bytes
    } else {
        let added = elapsed * port.rate_bytes / NS_PER_SEC;
        // The clock moves on by the time those whole tokens took: the remainder is kept.
        // (rate_bytes is non-zero whenever the RATE bit is set.)
        s.filled_ns += (added * NS_PER_SEC).checked_div(port.rate_bytes).unwrap_or(0);
        let t = s.tokens + added;
        if t > port.burst_bytes { port.burst_bytes } else { t }
    };
    if tokens < bytes {
        s.tokens = tokens;
        return true;
    }
    s.tokens = tokens - bytes;
    false
}

/// Counts a frame that was corrupted and still crosses.
#[inline(always)]
pub fn count_corrupted(slot: u32, bytes: u64) {
    count(slot, |s| {
        s.corrupted += 1;
        s.corrupted_bytes += bytes;
    });
}

/// Counts a frame sent twice (the extra copy).
#[inline(always)]
pub fn count_duplicated(slot: u32, bytes: u64) {
    count(slot, |s| {
        s.duplicated += 1;
        s.duplicated_bytes += bytes;
    });
}

//! Cable faults on what a port transmits (`feth-loader impair`): loss at random, exactly one
//! frame in N, corruption and duplication (the rate limit is a qdisc before the crossover, see
//! the loader's `shaper`). Each impaired frame is counted under its reason, so
//! `A.tx + A.duplicated = B.rx + A's drops + B's refusals` holds exactly.
//! The data path only comes here when `PortConfig::impair` is non-zero.
use aya_ebpf::helpers::bpf_get_prandom_u32;
use feth_common::{PPM, PortConfig, capture::reason, impair};

use crate::{counters::count_one, maps::FETH_SHARED};

/// True with probability `ppm` parts per million.
#[inline(always)]
pub fn chance(ppm: u32) -> bool {
    // SAFETY: plain helper call.
    let r = unsafe { bpf_get_prandom_u32() } % PPM;
    r < ppm
}

/// Decides whether the frame is dropped by loss or `loss_every`, counts the drop, and says
/// which (a `capture::reason`). Corruption and duplication are the program's (they touch the
/// frame). `FETCH`: the kernel has atomic fetch-and-add (5.12), which `loss_every` needs; the
/// loader refuses `loss-every` on kernels without it.
#[inline(always)]
pub fn drops<const FETCH: bool>(port: &PortConfig, bytes: u64) -> Option<u32> {
    if FETCH && port.impair & impair::LOSS_EVERY != 0 && loss_every(port) {
        count_one(port.slot, bytes, |s| (&mut s.drop_loss_every, &mut s.drop_loss_every_bytes));
        return Some(reason::LOSS_EVERY);
    }
    if port.impair & impair::LOSS != 0 && chance(port.loss_ppm) {
        count_one(port.slot, bytes, |s| (&mut s.drop_loss, &mut s.drop_loss_bytes));
        return Some(reason::LOSS);
    }
    None
}

/// Every N-th frame the port transmits, counted on all CPUs together.
#[inline(always)]
fn loss_every(port: &PortConfig) -> bool {
    let Some(shared) = FETH_SHARED.get_ptr_mut(port.slot) else { return false };
    // SAFETY: a valid map value; the CPUs only touch this field atomically (the loader resets
    // it when `loss-every` is set, the count then starts again).
    let seen = unsafe { fetch_add_one(&raw mut (*shared).loss_every_seen) } + 1;
    // checked_rem: no panic path (the verifier refuses one), and 0 never drops.
    seen.checked_rem(u64::from(port.loss_every)) == Some(0)
}

/// Adds one to `counter` atomically and returns the value before: BPF_ATOMIC | BPF_FETCH
/// (Linux 5.12). Written as assembly because LLVM only selects it for CPU v3 and rustc links
/// eBPF for the generic CPU, whose locked add returns nothing; the rest of the object keeps
/// the CPU model every supported kernel's verifier is tested with.
#[inline(always)]
unsafe fn fetch_add_one(counter: *mut u64) -> u64 {
    let mut value: u64 = 1;
    // SAFETY: the caller hands a valid, aligned map value; the instruction touches only it.
    unsafe {
        core::arch::asm!(
            "{value} = atomic_fetch_add((u64 *)({counter} + 0), {value})",
            counter = in(reg) counter,
            value = inout(reg) value,
            options(nostack),
        );
    }
    value
}

/// Counts a frame that was corrupted and still crosses.
#[inline(always)]
pub fn count_corrupted(slot: u32, bytes: u64) {
    count_one(slot, bytes, |s| (&mut s.corrupted, &mut s.corrupted_bytes));
}

/// Counts a frame sent twice (the extra copy).
#[inline(always)]
pub fn count_duplicated(slot: u32, bytes: u64) {
    count_one(slot, bytes, |s| (&mut s.duplicated, &mut s.duplicated_bytes));
}

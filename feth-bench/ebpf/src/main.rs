//! Benchmark programs (`feth-loader bench`), a package and object apart from the product's:
//! a live-frames generator, a counting sink, and the minimal devmap crossover the design is
//! measured against.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_TX},
    btf_maps::{Array, DevMap, PerCpuArray},
    macros::{btf_map, xdp},
    programs::XdpContext,
};

/// Frames seen by the sink: the generator's (index 0), every frame (index 2, `feth-loader
/// sink`); by the minimal crossover (index 1).
#[btf_map(name = "BENCH_COUNT")]
static BENCH_COUNT: PerCpuArray<u64, 3> = PerCpuArray::new();

/// The minimal crossover's one target.
#[btf_map(name = "BENCH_CROSSOVER")]
static BENCH_CROSSOVER: DevMap<1> = DevMap::new();

/// The bare TC redirect's one target (an ifindex).
#[btf_map(name = "BENCH_TC_TARGET")]
static BENCH_TC_TARGET: Array<u32, 1> = Array::new();

#[inline(always)]
fn bump(index: u32) {
    if let Some(c) = BENCH_COUNT.get_ptr_mut(index) {
        // SAFETY: per-CPU slot, only this CPU writes it now.
        unsafe { *c += 1 };
    }
}

/// Run with BPF_PROG_RUN live frames on a veth end: every frame is transmitted to its peer.
#[xdp]
pub fn feth_bench_gen(_ctx: XdpContext) -> u32 {
    XDP_TX
}

/// EtherType of the generator's frames (IEEE local experimental).
const BENCH_ETHERTYPE: u16 = 0x88b5;

/// Counts the generator's frames that reach the far end (nothing else: a stray frame from the
/// namespaces must not spoil the accounting) and drops everything.
#[xdp(frags)]
pub fn feth_bench_sink(ctx: XdpContext) -> u32 {
    bump(2);
    let at = ctx.data() + 12;
    if at + 2 <= ctx.data_end() {
        // SAFETY: bounds checked against data_end just above.
        let ethertype = u16::from_be(unsafe { core::ptr::read_unaligned(at as *const u16) });
        if ethertype == BENCH_ETHERTYPE {
            bump(0);
        }
    }
    XDP_DROP
}

/// A devmap redirect with one counter and no control plane: the design's limit.
#[xdp(frags)]
pub fn feth_bench_redirect(_ctx: XdpContext) -> u32 {
    bump(1);
    BENCH_CROSSOVER.redirect(0, 0).unwrap_or(XDP_DROP)
}

/// TC mode's own baseline, in a module of its own as the product's TC program is (the
/// classifier macro's entry point then is not public API).
mod tc_baseline {
    use aya_ebpf::{bindings::TC_ACT_SHOT, helpers::bpf_redirect, macros::classifier, programs::TcContext};

    use super::{BENCH_TC_TARGET, bump};

    /// A TC redirect to the egress of one device with one counter and no control plane: TC
    /// mode's own baseline, as the devmap redirect is XDP mode's.
    #[classifier]
    pub fn feth_bench_tc_redirect(_ctx: TcContext) -> i32 {
        bump(1);
        match BENCH_TC_TARGET.get(0) {
            // SAFETY: plain helper call.
            Some(&target) => unsafe { bpf_redirect(target, 0) as i32 },
            None => TC_ACT_SHOT,
        }
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

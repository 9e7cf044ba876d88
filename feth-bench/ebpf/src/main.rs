//! Benchmark programs (`feth-loader bench`), a package and object apart from the product's:
//! a live-frames generator, a counting sink (at XDP, or at TC ingress), and the bare redirects
//! the design is measured against.
#![no_std]
#![no_main]

use aya_ebpf::{
    bindings::xdp_action::{XDP_DROP, XDP_TX},
    btf_maps::{Array, DevMap, PerCpuArray},
    macros::{btf_map, xdp},
    programs::XdpContext,
};
use feth_common::bench::{COUNT_SLOTS, Count};
use feth_common::flows::{DST_IP_AT, DST_PORT_AT, Flows, IP_CSUM_AT, SRC_IP_AT, SRC_PORT_AT, TCP_CSUM_AT, UDP_CSUM_AT};

/// Frames seen by the sink and by the minimal crossover, one slot per `Count`.
#[btf_map(name = "BENCH_COUNT")]
static BENCH_COUNT: PerCpuArray<u64, COUNT_SLOTS> = PerCpuArray::new();

/// The minimal crossover's one target.
#[btf_map(name = "BENCH_CROSSOVER")]
static BENCH_CROSSOVER: DevMap<1> = DevMap::new();

/// The bare TC redirect's one target (an ifindex).
#[btf_map(name = "BENCH_TC_TARGET")]
static BENCH_TC_TARGET: Array<u32, 1> = Array::new();

#[inline(always)]
fn bump(count: Count) {
    if let Some(c) = BENCH_COUNT.get_ptr_mut(count as u32) {
        // SAFETY: per-CPU slot, only this CPU writes it now.
        unsafe { *c += 1 };
    }
}

/// Run with BPF_PROG_RUN live frames on a veth end: every frame is transmitted to its peer.
#[xdp]
pub fn feth_bench_gen(_ctx: XdpContext) -> u32 {
    XDP_TX
}

/// `feth-loader gen`'s flow ranges (feth_common::flows).
#[btf_map(name = "BENCH_FLOWS")]
static BENCH_FLOWS: Array<Flows, 1> = Array::new();

/// Frames the flows generator made on this CPU: which flow comes next.
#[btf_map(name = "BENCH_FLOW_SEQ")]
static BENCH_FLOW_SEQ: PerCpuArray<u64, 1> = PerCpuArray::new();

/// `feth_bench_gen` that also writes each frame's addresses and ports from `BENCH_FLOWS` and
/// mends the IPv4 and L4 checksums: one flow after another, per CPU.
#[xdp]
pub fn feth_bench_gen_flows(ctx: XdpContext) -> u32 {
    let (Some(f), Some(seq)) = (BENCH_FLOWS.get(0), BENCH_FLOW_SEQ.get_ptr_mut(0)) else { return XDP_TX };
    // SAFETY: per-CPU slot, only this CPU touches it now.
    let n = unsafe {
        let n = *seq;
        *seq = n + 1;
        n
    };
    // Destination ports vary fastest; a span of 0 counts as 1 (checked_*: no panic path).
    let pick = |rest: &mut u64, first: u32, span: u32| -> u32 {
        let span = u64::from(span.max(1));
        let v = first.wrapping_add(rest.checked_rem(span).unwrap_or(0) as u32);
        *rest = rest.checked_div(span).unwrap_or(0);
        v
    };
    let mut rest = n;
    let dport = pick(&mut rest, f.dst_port, f.dst_port_span) as u16;
    let sport = pick(&mut rest, f.src_port, f.src_port_span) as u16;
    let daddr = pick(&mut rest, f.dst_ip, f.dst_ip_span);
    let saddr = pick(&mut rest, f.src_ip, f.src_ip_span);
    let (data, end) = (ctx.data(), ctx.data_end());
    let tcp = f.l4_csum_at as usize == TCP_CSUM_AT;
    if data + UDP_CSUM_AT + 2 > end {
        return XDP_TX;
    }
    // RFC 1624: from the checksum for the first values, one 16-bit word at a time. Written
    // out, not looped: Linux 6.1's verifier refuses the back-edge LLVM makes of such a loop.
    let word = |sum: u32, old: u16, new: u16| sum + u32::from(!old) + u32::from(new);
    let addr =
        |sum: u32, old: u32, new: u32| word(word(sum, (old >> 16) as u16, (new >> 16) as u16), old as u16, new as u16);
    let ip = addr(addr(u32::from(!(f.ip_csum as u16)), f.src_ip, saddr), f.dst_ip, daddr);
    let l4sum = addr(addr(u32::from(!(f.l4_csum as u16)), f.src_ip, saddr), f.dst_ip, daddr);
    let l4sum = word(word(l4sum, f.src_port as u16, sport), f.dst_port as u16, dport);
    let fold = |mut s: u32| {
        s = (s & 0xffff) + (s >> 16);
        s = (s & 0xffff) + (s >> 16);
        !(s as u16)
    };
    let mut l4csum = fold(l4sum);
    if !tcp && l4csum == 0 {
        l4csum = 0xffff;
    }
    // SAFETY: every write below is within data..data + UDP_CSUM_AT + 2, checked above (TCP's
    // checksum after its own check).
    unsafe {
        let put16 = |at: usize, v: u16| core::ptr::write_unaligned((data + at) as *mut u16, v.to_be());
        let put32 = |at: usize, v: u32| core::ptr::write_unaligned((data + at) as *mut u32, v.to_be());
        put32(SRC_IP_AT, saddr);
        put32(DST_IP_AT, daddr);
        put16(SRC_PORT_AT, sport);
        put16(DST_PORT_AT, dport);
        put16(IP_CSUM_AT, fold(ip));
        if tcp {
            // Checked here, next to the write: checked earlier, the compiler may merge the two
            // write paths and leave the verifier the shorter bound.
            if data + TCP_CSUM_AT + 2 > end {
                return XDP_TX;
            }
            put16(TCP_CSUM_AT, l4csum);
        } else {
            put16(UDP_CSUM_AT, l4csum);
        }
    }
    XDP_TX
}

/// EtherType of the generator's frames (IEEE local experimental).
const BENCH_ETHERTYPE: u16 = 0x88b5;

/// Counts the generator's frames that reach the far end (nothing else: a stray frame from the
/// namespaces must not spoil the accounting) and drops everything.
#[xdp(frags)]
pub fn feth_bench_sink(ctx: XdpContext) -> u32 {
    let at = ctx.data() + 12;
    // SAFETY: bounds checked against data_end first.
    sunk((at + 2 <= ctx.data_end()).then(|| u16::from_be(unsafe { core::ptr::read_unaligned(at as *const u16) })));
    XDP_DROP
}

/// The sink's count, of a frame whose EtherType is `ethertype`.
#[inline(always)]
fn sunk(ethertype: Option<u16>) {
    bump(Count::AllAtSink);
    if ethertype == Some(BENCH_ETHERTYPE) {
        bump(Count::GenAtSink);
    }
}

/// A devmap redirect with one counter and no control plane: the design's limit.
#[xdp(frags)]
pub fn feth_bench_redirect(_ctx: XdpContext) -> u32 {
    bump(Count::BareCrossed);
    BENCH_CROSSOVER.redirect(0, 0).unwrap_or(XDP_DROP)
}

/// TC mode's own baseline, in a module of its own as the product's TC program is (the
/// classifier macro's entry point then is not public API).
mod tc_baseline {
    use aya_ebpf::{
        bindings::TC_ACT_SHOT,
        helpers::{bpf_redirect, bpf_redirect_peer},
        macros::classifier,
        programs::TcContext,
    };

    use super::{BENCH_TC_TARGET, Count, bump, sunk};

    /// `bpf_redirect_peer` into the ingress of one device's veth peer in another namespace,
    /// with one counter and no control plane: the baseline of TC mode's one hop.
    #[classifier]
    pub fn feth_bench_tc_redirect_peer(_ctx: TcContext) -> i32 {
        // SAFETY: plain helper call.
        redirect_to_target(|target| unsafe { bpf_redirect_peer(target, 0) })
    }

    /// The sink at TC ingress, for rows whose frames arrive after the XDP hook (one hop by
    /// `bpf_redirect_peer`) and the rows they are compared with.
    #[classifier]
    pub fn feth_bench_tc_sink(ctx: TcContext) -> i32 {
        sunk(ctx.load::<u16>(12).ok().map(u16::from_be));
        TC_ACT_SHOT
    }

    /// A TC redirect to the egress of one device with one counter and no control plane: TC
    /// mode's own baseline, as the devmap redirect is XDP mode's.
    #[classifier]
    pub fn feth_bench_tc_redirect(_ctx: TcContext) -> i32 {
        // SAFETY: plain helper call.
        redirect_to_target(|target| unsafe { bpf_redirect(target, 0) })
    }

    /// Counts the frame and redirects it with `redirect` to `BENCH_TC_TARGET`'s one target.
    #[inline(always)]
    fn redirect_to_target(redirect: impl FnOnce(u32) -> i64) -> i32 {
        bump(Count::BareCrossed);
        BENCH_TC_TARGET.get(0).map_or(TC_ACT_SHOT, |&target| redirect(target) as i32)
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

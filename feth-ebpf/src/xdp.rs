//! XDP datapath: what a user end transmits arrives on its wire end, and is redirected through
//! the crossover devmap to the peer's wire end, whose veth delivers it to the peer's user end.
use aya_ebpf::{
    bindings::xdp_action::{XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT},
    helpers::generated::{bpf_xdp_get_buff_len, bpf_xdp_load_bytes, bpf_xdp_store_bytes},
    macros::xdp,
    programs::XdpContext,
};
use feth_common::{Mode, capture::reason};

use crate::{
    capture,
    counters::{count_no_peer, count_redirect_error, count_rx, count_tx},
    impair,
    maps::{FETH_CROSSOVER, port, settings},
    parsing::{Frame, classify},
};

impl Frame for XdpContext {
    /// The one bounds-checked access to packet memory (headers live in the linear part).
    #[inline(always)]
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let start = self.data() + offset;
        if start + core::mem::size_of::<T>() > self.data_end() {
            return None;
        }
        // SAFETY: bounds checked against data_end just above; unaligned read of plain bytes.
        Some(unsafe { core::ptr::read_unaligned(start as *const T) })
    }
}

// `frags`: without it a veth caps its peer's MTU near 3.5 KB (ARCHITECTURE.md, Datapaths).
// Multi-buffer XDP and its helpers came in Linux 5.18; the loader loads this one there.
#[xdp(frags)]
pub fn feth_xdp_wire(ctx: XdpContext) -> u32 {
    try_crossover::<true, true>(&ctx).unwrap_or(XDP_ABORTED)
}

/// For 5.12 to 5.17: single-buffer frames, the exact `loss-every` counter.
#[xdp]
pub fn feth_xdp_linear(ctx: XdpContext) -> u32 {
    try_crossover::<false, true>(&ctx).unwrap_or(XDP_ABORTED)
}

/// For 5.10 and 5.11: single-buffer frames, and no `loss-every` (the loader refuses it there).
#[xdp]
pub fn feth_xdp_510(ctx: XdpContext) -> u32 {
    try_crossover::<false, false>(&ctx).unwrap_or(XDP_ABORTED)
}

/// On the user ends in XDP mode, before 5.13 only: a veth then takes frames redirected into it
/// (the peer wire end's `ndo_xdp_xmit`) only while it has an XDP program of its own, which
/// gets them after the crossover has counted them, so it passes every one to the stack.
#[xdp]
pub fn feth_xdp_user_rx(_ctx: XdpContext) -> u32 {
    XDP_PASS
}

/// `FRAGS`: multi-buffer frames (5.18); `FETCH`: atomic fetch-and-add (5.12). Each variant
/// holds only instructions and helpers its kernels know: the verifier refuses the others even
/// on a path never taken.
#[inline(always)]
fn try_crossover<const FRAGS: bool, const FETCH: bool>(ctx: &XdpContext) -> Result<u32, ()> {
    let Some(port) = port(ctx.ingress_ifindex() as u32) else {
        // A wire end the loader has not registered yet: let the kernel account for the frame.
        return Ok(XDP_PASS);
    };
    if port.mode != Mode::Xdp as u32 {
        // TC mode (or a switch in progress): the TC program on this wire crosses it.
        return Ok(XDP_PASS);
    }
    let len = if FRAGS {
        // SAFETY: ctx.ctx is the live xdp_md of this invocation.
        unsafe { bpf_xdp_get_buff_len(ctx.ctx) }
    } else {
        (ctx.data_end() - ctx.data()) as u64
    };
    count_tx(port.slot, 1, len, classify(ctx));
    let settings = settings();
    frame_log!(ctx, settings, "xdp slot {} -> slot {} len {}", port.slot, port.peer_slot, len);
    let captured = capture::on(&settings, port.slot);
    if !port.is_peered() {
        count_no_peer(port.slot, len);
        if captured {
            capture::frame(ctx, &settings, port.slot, reason::NO_PEER, len);
        }
        return Ok(XDP_DROP);
    }
    let mut crossed = reason::CROSSED;
    if port.impair != 0 {
        if let Some(why) = impair::drops::<FETCH>(port, len) {
            if captured {
                capture::frame(ctx, &settings, port.slot, why, len);
            }
            return Ok(XDP_DROP);
        }
        // Duplication is refused in XDP mode by the loader (one xdp_buff goes one way).
        if port.impair & feth_common::impair::CORRUPT != 0
            && impair::chance(port.corrupt_ppm)
            && corrupt::<FRAGS>(ctx, len)
        {
            impair::count_corrupted(port.slot, len);
            crossed = reason::CORRUPTED;
        }
    }
    match FETH_CROSSOVER.redirect(port.slot, 0) {
        Ok(XDP_REDIRECT) => {
            count_rx(port.peer_slot, 1, len);
            if captured {
                capture::frame(ctx, &settings, port.slot, capture::fate(&settings, crossed, len, false), len);
            }
            Ok(XDP_REDIRECT)
        }
        _ => {
            count_redirect_error(port.slot, len);
            if captured {
                capture::frame(ctx, &settings, port.slot, reason::REDIRECT_ERROR, len);
            }
            Ok(XDP_DROP)
        }
    }
}

/// Flips one random bit of the frame's last byte (of its last fragment, for a multi-buffer
/// frame): past the headers of any frame long enough to carry a payload, so the receiver's
/// checksum sees it. Through the load/store helpers (the verifier refuses arithmetic on
/// data_end), or where they do not exist (before 5.18, single-buffer only) directly at a
/// bounded offset from data.
#[inline(always)]
fn corrupt<const FRAGS: bool>(ctx: &XdpContext, len: u64) -> bool {
    let Some(at) = len.checked_sub(1) else { return false };
    if !FRAGS {
        // The last two bytes, from a base the mask bounds below the verifier's 64 KiB packet limit
        // (no single-buffer frame is longer than a page):
        // a check of one byte at a variable offset gives 5.10's verifier no range to trust.
        let Some(before) = at.checked_sub(1) else { return false };
        let base = ctx.data() + (before as usize & 0x3fff);
        if base + 2 > ctx.data_end() {
            return false;
        }
        // SAFETY: the frame's last byte, bounds checked against data_end just above.
        unsafe {
            let last = (base + 1) as *mut u8;
            *last ^= 1u8 << (aya_ebpf::helpers::bpf_get_prandom_u32() & 7);
        }
        return true;
    }
    let mut byte = 0u8;
    // SAFETY: the live xdp_md, a one-byte buffer on the stack.
    if unsafe { bpf_xdp_load_bytes(ctx.ctx, at as u32, (&raw mut byte).cast(), 1) } != 0 {
        return false;
    }
    // SAFETY: plain helper call.
    byte ^= 1u8 << (unsafe { aya_ebpf::helpers::bpf_get_prandom_u32() } & 7);
    // SAFETY: as above.
    unsafe { bpf_xdp_store_bytes(ctx.ctx, at as u32, (&raw mut byte).cast(), 1) == 0 }
}

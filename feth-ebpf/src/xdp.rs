//! XDP datapath: what a user end transmits arrives on its wire end, and is redirected through
//! the crossover devmap to the peer's wire end, whose veth delivers it to the peer's user end.
use aya_ebpf::{
    bindings::xdp_action::{XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT},
    helpers::generated::bpf_xdp_get_buff_len,
    macros::xdp,
    programs::XdpContext,
};
use feth_common::Mode;

use crate::{
    counters::{count_no_peer, count_redirect_error, count_rx, count_tx},
    maps::{FETH_CROSSOVER, port},
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
#[xdp(frags)]
pub fn feth_xdp_wire(ctx: XdpContext) -> u32 {
    try_crossover(&ctx).unwrap_or(XDP_ABORTED)
}

#[inline(always)]
fn try_crossover(ctx: &XdpContext) -> Result<u32, ()> {
    let Some(port) = port(ctx.ingress_ifindex() as u32) else {
        // A wire end the loader has not registered yet: let the kernel account for the frame.
        return Ok(XDP_PASS);
    };
    if port.mode != Mode::Xdp as u32 {
        // TC mode (or a switch in progress): the TC program on this wire crosses it.
        return Ok(XDP_PASS);
    }
    // SAFETY: ctx.ctx is the live xdp_md of this invocation.
    let len = unsafe { bpf_xdp_get_buff_len(ctx.ctx) };
    count_tx(port.slot, 1, len, classify(ctx));
    frame_log!(ctx, "xdp slot {} -> slot {} len {}", port.slot, port.peer_slot, len);
    if !port.is_peered() {
        count_no_peer(port.slot, len);
        return Ok(XDP_DROP);
    }
    match FETH_CROSSOVER.redirect(port.slot, 0) {
        Ok(XDP_REDIRECT) => {
            count_rx(port.peer_slot, 1, len);
            Ok(XDP_REDIRECT)
        }
        _ => {
            count_redirect_error(port.slot, len);
            Ok(XDP_DROP)
        }
    }
}

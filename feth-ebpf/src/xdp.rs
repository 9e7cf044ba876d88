//! XDP datapath: what a user end transmits arrives on its wire end, and is redirected through
//! the crossover devmap to the peer's wire end, whose veth delivers it to the peer's user end.
use aya_ebpf::{
    bindings::xdp_action::{XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_REDIRECT},
    helpers::generated::bpf_xdp_get_buff_len,
    macros::xdp,
    programs::XdpContext,
};
use feth_common::port::NO_PEER;

use crate::{
    counters::count,
    maps::{FETH_CROSSOVER, FETH_PORTS},
};

/// Ethernet header plus one VLAN tag: what veth allows above the MTU.
const L2_OVERHEAD: u64 = 14 + 4;

// `frags`: without it a veth caps its peer's MTU near 3.5 KB (DESIGN.md section 5).
#[xdp(frags)]
pub fn feth_xdp_wire(ctx: XdpContext) -> u32 {
    try_crossover(&ctx).unwrap_or(XDP_ABORTED)
}

#[inline(always)]
fn try_crossover(ctx: &XdpContext) -> Result<u32, ()> {
    let ifindex = ctx.ingress_ifindex() as u32;
    // SAFETY: entries are replaced whole by the loader; a torn read only misroutes one frame.
    let Some(port) = (unsafe { FETH_PORTS.get(&ifindex) }) else {
        // A wire end the loader has not registered yet: let the kernel account for the frame.
        return Ok(XDP_PASS);
    };
    let (slot, peer_slot, peer_mtu) = (port.slot, port.peer_slot, port.peer_mtu);
    // SAFETY: ctx.ctx is the live xdp_md of this invocation.
    let len = unsafe { bpf_xdp_get_buff_len(ctx.ctx) };

    count(slot, |s| {
        s.tx_packets += 1;
        s.tx_bytes += len;
    });
    if peer_slot == NO_PEER {
        count(slot, |s| s.drop_no_peer += 1);
        return Ok(XDP_DROP);
    }
    if len > u64::from(peer_mtu) + L2_OVERHEAD {
        count(slot, |s| s.drop_too_big += 1);
        return Ok(XDP_DROP);
    }
    match FETH_CROSSOVER.redirect(slot, 0) {
        Ok(action) if action == XDP_REDIRECT => {
            count(peer_slot, |s| {
                s.rx_packets += 1;
                s.rx_bytes += len;
            });
            Ok(XDP_REDIRECT)
        }
        _ => {
            count(slot, |s| s.drop_redirect += 1);
            Ok(XDP_DROP)
        }
    }
}

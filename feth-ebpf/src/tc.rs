//! TC datapath: an ingress program on the wire end (a cls_bpf filter, or a TCX link with
//! `FETH_TC_ATTACH=tcx`) crosses the skb over in one hop, straight into the ingress of the
//! peer's user end (`bpf_redirect_peer`), where the port allows it (`feth_common::port::hop`),
//! and otherwise in two: to the egress of the peer's wire end, whose veth delivers it to the
//! peer's user end. The skb keeps GSO/TSO and CHECKSUM_PARTIAL either way, so TCP runs with
//! offloads on (feth's hwcsum mode).
//!
//! In netkit mode the same program runs at the transmit of the user end (a netkit peer
//! program, where the kernel has already made the wire end, the netkit primary, the skb's
//! device) and redirects to the egress of the peer's wire end, whose netkit hands the frame
//! to the peer's user end: one hop, judged there by `feth_netkit_rx`. The return codes are
//! the same (NETKIT_PASS is TC_ACT_OK, NETKIT_DROP TC_ACT_SHOT, NETKIT_REDIRECT
//! TC_ACT_REDIRECT), except for a drop (`drop`).
use aya_ebpf::{
    EbpfContext as _,
    bindings::{__sk_buff, BPF_CSUM_LEVEL_RESET, BPF_F_RECOMPUTE_CSUM, TC_ACT_OK, TC_ACT_SHOT},
    helpers::{bpf_check_mtu, bpf_csum_level, bpf_redirect, bpf_redirect_peer, bpf_skb_change_type},
    macros::classifier,
    programs::TcContext,
};
use feth_common::capture::{SLOT_MASK, reason};

use crate::{
    capture,
    counters::{count_no_peer, count_redirect_error, count_rx, count_tx},
    impair,
    maps::{FETH_SHARED, port, settings},
    parsing::{Frame, classify},
};

const TC_ACT_REDIRECT: i32 = 7;

impl Frame for TcContext {
    /// Direct packet access where the headers are in the linear part (the common case), a
    /// `bpf_skb_load_bytes` only where they are not.
    #[inline(always)]
    fn read<T: Copy>(&self, offset: usize) -> Option<T> {
        let start = self.data() + offset;
        if start + core::mem::size_of::<T>() <= self.data_end() {
            // SAFETY: bounds checked against data_end just above; unaligned read of plain bytes.
            return Some(unsafe { core::ptr::read_unaligned(start as *const T) });
        }
        self.load::<T>(offset).ok()
    }
}

#[classifier]
pub fn feth_tc_wire(ctx: TcContext) -> i32 {
    try_crossover::<true>(&ctx).unwrap_or(TC_ACT_SHOT)
}

/// For 5.10 and 5.11: no `bpf_check_mtu` and no atomic fetch-and-add (5.12).
#[classifier]
pub fn feth_tc_510(ctx: TcContext) -> i32 {
    try_crossover::<false>(&ctx).unwrap_or(TC_ACT_SHOT)
}

/// `V5_12`: the kernel has `bpf_check_mtu` and atomic fetch-and-add (Linux 5.12).
#[inline(always)]
fn try_crossover<const V5_12: bool>(ctx: &TcContext) -> Result<i32, ()> {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the live __sk_buff of this invocation; these fields are readable from TC.
    let (ifindex, len) = unsafe { ((*skb).ifindex, (*skb).len) };
    let Some(port) = port(ifindex) else {
        return Ok(TC_ACT_OK);
    };
    // Whatever reaches this program is crossed, whatever the mode: in XDP mode only frames the
    // XDP program passed during a mode switch get here. A GSO super-frame counts as one packet,
    // as in the kernel's own interface counters, so the receiver's counters can be compared.
    let bytes = u64::from(len);
    count_tx(port.slot, 1, bytes, classify(ctx));
    let settings = settings();
    frame_log!(ctx, settings, "tc slot {} -> slot {} len {}", port.slot, port.peer_slot, len);
    let captured = capture::on(&settings, port.slot);
    if !port.is_peered() {
        count_no_peer(port.slot, bytes);
        if captured {
            capture::frame(ctx, &settings, port.slot, reason::NO_PEER, bytes);
        }
        return Ok(drop(port));
    }
    let mut crossed = reason::CROSSED;
    if port.impair != 0 {
        if let Some(why) = impair::drops::<V5_12>(port, bytes) {
            if captured {
                capture::frame(ctx, &settings, port.slot, why, bytes);
            }
            return Ok(drop(port));
        }
        if port.impair & feth_common::impair::CORRUPT != 0 && impair::chance(port.corrupt_ppm) && corrupt(ctx, skb) {
            impair::count_corrupted(port.slot, bytes);
            crossed = reason::CORRUPTED;
        }
    }
    // bpf_redirect cannot fail on a missing device (the skb is freed later, uncounted), so
    // check that the peer's wire end still exists: it may be deleted behind the loader's back.
    // bpf_check_mtu looks the device up and says -EINVAL when it is gone. (A devmap lookup,
    // which the kernel keeps in step with unregistered devices, is refused by the kernel for
    // a TC program.) Before 5.12 there is no such check: a frame sent in the instant between
    // the deletion and the repair is lost uncounted (docs/kernels.md).
    let mut mtu = 0u32;
    // SAFETY: the live skb, a valid out-pointer.
    if V5_12 && unsafe { bpf_check_mtu(ctx.as_ptr(), port.peer_ifindex, &mut mtu, 0, 0) } < 0 {
        count_redirect_error(port.slot, bytes);
        if captured {
            capture::frame(ctx, &settings, port.slot, reason::REDIRECT_ERROR, bytes);
        }
        return Ok(drop(port));
    }
    if port.impair & feth_common::impair::DUPLICATE != 0
        && impair::chance(port.duplicate_ppm)
        && ctx.clone_redirect(port.peer_ifindex, 0).is_ok()
    {
        // The copy went to the peer wire's egress as the original will.
        impair::count_duplicated(port.slot, bytes);
        count_rx(port.peer_slot, 1, bytes);
        if captured {
            capture::frame(ctx, &settings, port.slot, reason::DUPLICATED, bytes);
        }
    }
    // The two hops leave the receiver's judgement (its MTU and whether it is up, as they are
    // when the frame arrives) to its veth; the one hop is taken only by frames that judgement
    // would pass (one_hop). Either way what the receiver did not get is not in its rx
    // counters, so it shows as `rx_refused` (crossed minus received).
    let action = if one_hop(ctx, port) {
        // SAFETY: a helper call with the peer wire end's ifindex; it only sets the target
        // (the kernel takes that device's veth peer).
        unsafe { bpf_redirect_peer(port.peer_ifindex, 0) }
    } else {
        // SAFETY: a helper call with an ifindex and no flags; it only sets the redirect target.
        unsafe { bpf_redirect(port.peer_ifindex, 0) }
    } as i32;
    if action == TC_ACT_REDIRECT {
        count_rx(port.peer_slot, 1, bytes);
        if captured {
            // SAFETY: the live __sk_buff of this invocation; gso_segs is readable from TC.
            let gso = unsafe { (*skb).gso_segs } > 1;
            capture::frame(ctx, &settings, port.slot, capture::fate(&settings, crossed, bytes, gso), bytes);
        }
        Ok(action)
    } else {
        count_redirect_error(port.slot, bytes);
        if captured {
            capture::frame(ctx, &settings, port.slot, reason::REDIRECT_ERROR, bytes);
        }
        Ok(drop(port))
    }
}

/// Whether this frame takes the one hop into the peer's user end: not when it is longer than
/// the receiver accepts (the veth of the two hops refuses and counts it, against the MTU the
/// receiver has at that moment), nor when it is for another address. Its packet type was set by
/// the sender's wire end, against that device's own address: a group frame's is right for any
/// receiver, a unicast frame's only after it is judged against the receiver's address here
/// (before 6.15 the kernel keeps the type through the hop; since, it makes every frame
/// PACKET_HOST). A frame for any other address takes the two hops, so the receiving veth
/// judges it against the address it has now.
#[inline(always)]
fn one_hop(ctx: &TcContext, port: &feth_common::PortConfig) -> bool {
    if port.hop & feth_common::port::hop::ONE == 0 {
        return false;
    }
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the live __sk_buff of this invocation; len and gso_size are readable from TC.
    let (len, gso) = unsafe { ((*skb).len, (*skb).gso_size) };
    if len > port.peer_limit && gso == 0 {
        return false;
    }
    let Some(dest) = ctx.read::<[u8; 6]>(0) else { return false };
    if dest[0] & 1 != 0 {
        return true;
    }
    // SAFETY: the live skb; PACKET_HOST (0) is one of the types the helper allows.
    dest == port.peer_mac && unsafe { bpf_skb_change_type(ctx.as_ptr().cast(), 0) } == 0
}

/// What the program returns for a frame it drops (counted by its reason already). At a wire
/// end's ingress that is TC_ACT_SHOT, which the sender never learns of, as a frame lost on a
/// cable. At a netkit's transmit NETKIT_DROP would fail the sender's `send` with ENOBUFS (ping
/// was seen sending again) and count in its `tx_dropped` (`tx_refused`), so a netkit port's
/// frame is redirected to ifindex 0 instead: no device has it, and the kernel frees the
/// frame without a word, as `bpf_redirect` to a device that is gone does.
#[inline(always)]
fn drop(port: &feth_common::PortConfig) -> i32 {
    if port.mode == feth_common::Mode::Netkit as u32 {
        // SAFETY: a helper call with no flags; it only sets the redirect target.
        return unsafe { bpf_redirect(0, 0) } as i32;
    }
    TC_ACT_SHOT
}

/// Flips one random bit of the frame's last byte, past the headers of any frame that carries
/// a payload, so the receiver's checksum sees it. Only frames whose checksum was computed
/// before the crossover can be damaged honestly: a super-frame (GSO, or merged by the wire's
/// GRO) carries CHECKSUM_PARTIAL, which a veth receiver trusts unverified, so it is left alone.
/// While corruption is set in TC mode the loader turns transmit checksum offload off on the
/// user end and GRO off on the wire end, so that every frame arrives here checksummed.
#[inline(always)]
fn corrupt(ctx: &TcContext, skb: *const __sk_buff) -> bool {
    // SAFETY: the live __sk_buff of this invocation; gso_segs and len are readable from TC.
    let (segs, len) = unsafe { ((*skb).gso_segs, (*skb).len) };
    if segs > 1 {
        return false;
    }
    let Some(at) = (len as usize).checked_sub(1) else { return false };
    let Ok(mut byte) = ctx.load::<u8>(at) else { return false };
    // SAFETY: plain helper call.
    byte ^= 1u8 << (unsafe { aya_ebpf::helpers::bpf_get_prandom_u32() } & 7);
    // RECOMPUTE_CSUM keeps a CHECKSUM_COMPLETE sum in step with the bytes (the receiver then
    // finds the damage); the level reset takes back a "verified" mark the wire's GRO may have
    // set (CHECKSUM_UNNECESSARY), so the receiver checks the sum.
    if ctx.store(at, &byte, u64::from(BPF_F_RECOMPUTE_CSUM)).is_err() {
        return false;
    }
    // SAFETY: the live skb; RESET only clears a verified mark.
    unsafe { bpf_csum_level(ctx.as_ptr().cast(), u64::from(BPF_CSUM_LEVEL_RESET)) };
    true
}

/// netkit mode's receiving side: the primary program of a netkit pair runs when the crossover
/// redirects a frame to the wire end, with the user end already the skb's device. A netkit
/// delivers whatever it is given, so this program judges as a receiving veth does
/// (`is_skb_forwardable`): a frame longer than the user end's MTU, as it is now, plus an
/// Ethernet header and a VLAN tag is refused, a GSO super-frame never. A refused frame was
/// counted as handed over, so it shows in the receiver's `rx_refused`; the sender never
/// learns of it (the redirect that brought it here does not report the verdict).
#[classifier]
pub fn feth_netkit_rx(ctx: TcContext) -> i32 {
    let skb = ctx.as_ptr().cast::<__sk_buff>();
    // SAFETY: the live __sk_buff of this invocation; len and gso_size are readable from TC.
    let (len, gso) = unsafe { ((*skb).len, (*skb).gso_size) };
    if gso != 0 {
        return TC_ACT_OK;
    }
    let mut mtu = 0u32;
    // SAFETY: the live skb; ifindex 0 is the skb's own device; a valid out-pointer.
    if unsafe { bpf_check_mtu(ctx.as_ptr(), 0, &mut mtu, 0, 0) } < 0 {
        return TC_ACT_OK;
    }
    if len > mtu + 18 { TC_ACT_SHOT } else { TC_ACT_OK }
}

/// `feth_netkit_rx` for 5.10 and 5.11 (no `bpf_check_mtu`): loaded so every kernel pins the
/// same programs, never attached (netkit came in 6.7).
#[classifier]
pub fn feth_netkit_rx_510(_ctx: TcContext) -> i32 {
    TC_ACT_OK
}

/// Attached by a running `capture` to its port's user end, at egress, which runs before the
/// queue the kernel swaps in while the link has no carrier: frames the user end sends while
/// `flap` holds the link down reach no crossover program, so this one captures them. It never
/// changes a frame's fate.
#[classifier]
pub fn feth_tc_user_egress(ctx: TcContext) -> i32 {
    let settings = settings();
    let Some(slot) = (settings.capture & SLOT_MASK).checked_sub(1) else { return TC_ACT_OK };
    if FETH_SHARED.get(slot).is_some_and(|s| s.down != 0) {
        capture::frame(&ctx, &settings, slot, reason::LINK_DOWN, u64::from(ctx.len()));
    }
    TC_ACT_OK
}

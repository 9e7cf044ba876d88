//! `feth-loader capture`: while it runs (`Settings::capture` names the port), each frame of
//! that port goes to user space with what the crossover did with it. While no capture runs
//! this costs one comparison of a value already read for the log switch.
use aya_ebpf::{EbpfContext, helpers::bpf_ktime_get_ns};
use feth_common::{
    Settings,
    capture::{CaptureMeta, DROPS_ONLY, SLOT_MASK, SNAPLEN, TOO_BIG_SLACK, reason},
};

use crate::maps::FETH_CAPTURE;

/// Whether frames of `slot` are captured now.
#[inline(always)]
pub fn on(settings: &Settings, slot: u32) -> bool {
    settings.capture & SLOT_MASK == slot.wrapping_add(1)
}

/// What becomes of a frame the crossover hands to the peer (`crossed`: CROSSED or
/// CORRUPTED): TOO_BIG when the peer's veth will refuse it for its length. A GSO super-frame
/// is cut into segments that fit, so it is never too big.
#[inline(always)]
pub fn fate(settings: &Settings, crossed: u32, len: u64, gso: bool) -> u32 {
    let mtu = settings.capture_mtu;
    if mtu != 0 && !gso && len > u64::from(mtu) + u64::from(TOO_BIG_SLACK) { reason::TOO_BIG } else { crossed }
}

/// Hands the frame (its first SNAPLEN bytes, copied by the kernel from the context) and why
/// to user space. A full ring loses the record, not the frame.
#[inline(always)]
pub fn frame<C: EbpfContext>(ctx: &C, settings: &Settings, slot: u32, why: u32, len: u64) {
    if why == reason::CROSSED && settings.capture & DROPS_ONLY != 0 {
        return;
    }
    let caplen = if len > u64::from(SNAPLEN) { SNAPLEN } else { len as u32 };
    // SAFETY: plain helper call.
    let ts_ns = unsafe { bpf_ktime_get_ns() };
    let meta = CaptureMeta { ts_ns, slot, reason: why, len: len as u32, caplen };
    FETH_CAPTURE.output(ctx, &meta, caplen);
}

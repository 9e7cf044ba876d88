//! `feth-loader capture`: what the data path hands to user space for each captured frame.
//!
//! While a capture runs, `Settings::capture` names its port; the data path then writes a
//! `CaptureMeta` followed by the frame's first `caplen` bytes into the `FETH_CAPTURE` perf
//! event array (one ring per CPU), for frames it crosses and for frames it drops, with why.

/// Frames longer than this are cut (TC mode's GSO super-frames reach 64 KiB; a perf record
/// holds less): the capture file keeps their original length.
pub const SNAPLEN: u32 = 16384;

/// Bytes a veth accepts beyond its MTU: the Ethernet header and one VLAN tag (the kernel's
/// `is_skb_forwardable`, and `veth_xdp_xmit` for XDP frames).
pub const TOO_BIG_SLACK: u32 = 18;

/// `Settings::capture` bit: only dropped, corrupted or duplicated frames are captured.
pub const DROPS_ONLY: u32 = 1 << 31;
/// `Settings::capture` bits holding the captured slot plus one (0: no capture).
pub const SLOT_MASK: u32 = !DROPS_ONLY;

/// Why a frame was captured: what the crossover did with it.
pub mod reason {
    /// Crossed to the peer.
    pub const CROSSED: u32 = 0;
    pub const NO_PEER: u32 = 1;
    pub const REDIRECT_ERROR: u32 = 2;
    pub const LOSS: u32 = 3;
    pub const LOSS_EVERY: u32 = 4;
    /// Crossed with one bit flipped (`impair --corrupt`); the bytes are the damaged ones.
    pub const CORRUPTED: u32 = 5;
    /// Crossed twice (`impair --duplicate`): this record is the extra copy.
    pub const DUPLICATED: u32 = 6;
    /// Crossed, but longer than the peer's MTU allows (`TOO_BIG_SLACK`): the peer's veth
    /// refuses it, and it is counted in the peer's `rx_refused`.
    pub const TOO_BIG: u32 = 7;
    /// Sent while `flap` held the link down: the user end's veth refuses it before the
    /// crossover (counted as `tx_link_down`).
    pub const LINK_DOWN: u32 = 8;

    /// The name `capture` writes in a frame's comment, as `stats` names the counter.
    pub fn name(reason: u32) -> &'static str {
        match reason {
            CROSSED => "crossed",
            NO_PEER => "dropped: no_peer",
            REDIRECT_ERROR => "dropped: redirect_error",
            LOSS => "dropped: loss",
            LOSS_EVERY => "dropped: loss_every",
            CORRUPTED => "corrupted",
            DUPLICATED => "duplicated",
            TOO_BIG => "dropped: too_big",
            LINK_DOWN => "dropped: link_down",
            _ => "unknown",
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureMeta {
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) when the frame was seen.
    pub ts_ns: u64,
    pub slot: u32,
    pub reason: u32,
    /// The frame's length on the wire.
    pub len: u32,
    /// How many of its bytes follow.
    pub caplen: u32,
}

const _: () = assert!(core::mem::size_of::<CaptureMeta>() == 24);

//! The contract between the feth eBPF programs and the loader: every name and memory layout
//! that both sides use lives here, once.
#![no_std]

pub mod bench;
pub mod capture;
pub mod flows;
pub mod names;
pub mod port;
pub mod settings;
pub mod stats;

pub use port::{DEFAULT_MODE, Mode, PPM, PortConfig, impair};
pub use settings::Settings;
pub use stats::{PortStats, SharedCounters};

/// The most feth interfaces there can be: the size of Apple's interface table. The per-slot
/// maps are declared this large, but the loader sizes them when it loads them (starting small
/// and growing with the bench), so memory follows the ports that exist.
pub const MAX_PORTS: u32 = 32768;

/// Wire end of slot `s` is created with ifindex `WIRE_IFINDEX_BASE + s`, so the data path
/// finds a port with an array lookup (ingress ifindex minus this base) instead of a hash.
/// High enough never to meet the ifindexes the kernel hands out by itself.
pub const WIRE_IFINDEX_BASE: u32 = 0x4000_0000;

/// The slot of a wire end's ifindex, if it is in the wire range.
#[inline(always)]
pub const fn wire_slot_of(ifindex: u32) -> Option<u32> {
    let slot = ifindex.wrapping_sub(WIRE_IFINDEX_BASE);
    if slot < MAX_PORTS { Some(slot) } else { None }
}

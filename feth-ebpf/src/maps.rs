//! The pinned maps that form the control plane (names from `feth_common::names`).
//!
//! BTF-defined maps: the kernel then knows the key and value types, so
//! `bpftool map dump pinned /sys/fs/bpf/feth/v2/FETH_STATS` prints field names.
use aya_ebpf::{
    btf_maps::{Array, DevMap, PerCpuArray, PerfEventArray},
    macros::btf_map,
};
use feth_common::{PortConfig, PortStats, Settings, SharedCounters, wire_slot_of};

// `MAX_PORTS` of feth-common, as the const generic BTF maps take; the loader sets the real
// size at load time (`EbpfLoader::set_max_entries`).
const MAX: usize = feth_common::MAX_PORTS as usize;

/// Port configuration by slot (the wire end's ifindex minus `WIRE_IFINDEX_BASE`).
#[btf_map(name = "FETH_PORTS", pin_by_name)]
pub static FETH_PORTS: Array<PortConfig, MAX> = Array::new();

/// Own slot -> peer's wire end, for `bpf_redirect_map` in XDP mode (the kernel empties an
/// entry when its device goes away).
#[btf_map(name = "FETH_CROSSOVER", pin_by_name)]
pub static FETH_CROSSOVER: DevMap<MAX> = DevMap::new();

/// Per-CPU counters by slot: no atomics on the hot path, user space sums the CPUs.
#[btf_map(name = "FETH_STATS", pin_by_name)]
pub static FETH_STATS: PerCpuArray<PortStats, MAX> = PerCpuArray::new();

/// Counters the CPUs share, by slot (`loss-every` counts here with an atomic add).
#[btf_map(name = "FETH_SHARED", pin_by_name)]
pub static FETH_SHARED: Array<SharedCounters, MAX> = Array::new();

/// Global switches.
#[btf_map(name = "FETH_SETTINGS", pin_by_name)]
pub static FETH_SETTINGS: Array<Settings, 1> = Array::new();

/// Captured frames for `feth-loader capture` (sized to the CPUs by the loader).
#[btf_map(name = "FETH_CAPTURE", pin_by_name)]
pub static FETH_CAPTURE: PerfEventArray<0, 0> = PerfEventArray::new();

/// The global switches, read once per frame.
#[inline(always)]
pub fn settings() -> Settings {
    FETH_SETTINGS.get(0).copied().unwrap_or_default()
}

/// The port of a wire end, if registered: one array lookup, no hashing on the hot path. The
/// fields are read in the map where the frame needs them, not copied first (the copy cost
/// 26 instructions per frame). A frame that meets the loader's write of a port may see old
/// and new fields, as it could with the copy, which was not atomic either.
#[inline(always)]
pub fn port(wire_ifindex: u32) -> Option<&'static PortConfig> {
    let slot = wire_slot_of(wire_ifindex)?;
    FETH_PORTS.get(slot).filter(|p| p.is_registered())
}

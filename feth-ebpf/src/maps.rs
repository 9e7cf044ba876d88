//! The pinned maps that form the control plane (names from `feth_common::names`).
use aya_ebpf::{
    macros::map,
    maps::{Array, DevMap, HashMap, PerCpuArray},
};
use feth_common::{MAX_PORTS, PortConfig, PortMedia, PortStats, Settings};

/// Port configuration keyed by the wire end's ifindex.
#[map(name = "FETH_PORTS")]
pub static FETH_PORTS: HashMap<u32, PortConfig> = HashMap::pinned(MAX_PORTS, 0);

/// Own slot -> peer's wire end, for `bpf_redirect_map` in XDP mode.
#[map(name = "FETH_CROSSOVER")]
pub static FETH_CROSSOVER: DevMap = DevMap::pinned(MAX_PORTS, 0);

/// Per-CPU counters by slot: no atomics on the hot path, user space sums the CPUs.
#[map(name = "FETH_STATS")]
pub static FETH_STATS: PerCpuArray<PortStats> = PerCpuArray::pinned(MAX_PORTS, 0);

/// Media per slot. Only the control plane reads it; it lives here so it is pinned with the rest.
#[map(name = "FETH_MEDIA")]
pub static FETH_MEDIA: Array<PortMedia> = Array::pinned(MAX_PORTS, 0);

/// Global switches.
#[map(name = "FETH_SETTINGS")]
pub static FETH_SETTINGS: Array<Settings> = Array::pinned(1, 0);

/// The port of a wire end, if registered.
#[inline(always)]
pub fn port(wire_ifindex: u32) -> Option<PortConfig> {
    // SAFETY: entries are replaced whole by the loader; a torn read only misroutes one frame.
    unsafe { FETH_PORTS.get(&wire_ifindex) }.copied()
}

#[inline(always)]
pub fn log_enabled() -> bool {
    FETH_SETTINGS.get(0).is_some_and(|s| s.log != 0)
}

//! The pinned maps that form the control plane (names from `feth_common::names`).
use aya_ebpf::{
    macros::map,
    maps::{DevMap, HashMap, PerCpuArray},
};
use feth_common::{MAX_PORTS, PortConfig, PortStats};

/// Port configuration keyed by the wire end's ifindex.
#[map(name = "FETH_PORTS")]
pub static FETH_PORTS: HashMap<u32, PortConfig> = HashMap::pinned(MAX_PORTS, 0);

/// Own slot -> peer's wire end. Peering is one write here plus the two `FETH_PORTS` entries.
#[map(name = "FETH_CROSSOVER")]
pub static FETH_CROSSOVER: DevMap = DevMap::pinned(MAX_PORTS, 0);

/// Per-CPU counters by slot: no atomics on the hot path, user space sums the CPUs.
#[map(name = "FETH_STATS")]
pub static FETH_STATS: PerCpuArray<PortStats> = PerCpuArray::pinned(MAX_PORTS, 0);

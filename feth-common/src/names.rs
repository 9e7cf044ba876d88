//! Map, program and pin names. The loader never spells one of these twice.

/// bpffs directory holding every pinned object of feth.
pub const PIN_DIR: &str = "/sys/fs/bpf/feth";
/// Sub-directory of [`PIN_DIR`] holding the pinned links, `<wire>_xdp` and `<wire>_tc`.
pub const LINK_DIR: &str = "links";

/// Per-port configuration indexed by slot (`PortConfig`; all-zero = no port).
pub const MAP_PORTS: &str = "FETH_PORTS";
/// Devmap indexed by a port's slot; the value is the ifindex of the *peer's* wire end.
pub const MAP_CROSSOVER: &str = "FETH_CROSSOVER";
/// Per-CPU counters indexed by a port's slot (`PortStats`).
pub const MAP_STATS: &str = "FETH_STATS";
/// Media list and current media indexed by a port's slot (`PortMedia`).
pub const MAP_MEDIA: &str = "FETH_MEDIA";
/// Global switches (`Settings`, one entry).
pub const MAP_SETTINGS: &str = "FETH_SETTINGS";
/// aya-log's ring buffer; pinned so `feth-loader log --follow` can read it after loading.
pub const MAP_LOG: &str = "AYA_LOGS";

/// Every map pinned under [`PIN_DIR`].
pub const MAPS: [&str; 5] = [MAP_PORTS, MAP_CROSSOVER, MAP_STATS, MAP_MEDIA, MAP_SETTINGS];

/// XDP program on the wire ends in XDP mode.
pub const PROG_XDP_WIRE: &str = "feth_xdp_wire";
/// TCX ingress program on the wire ends in TC mode.
pub const PROG_TC_WIRE: &str = "feth_tc_wire";

/// Prefix of the hidden wire ends in the loader's namespace: `fwire<slot>`.
/// User-facing names with this prefix are refused so the two can never collide.
pub const WIRE_PREFIX: &str = "fwire";
/// `ifalias` prefix on a wire end; the rest names its user end (`feth:<name>`), so the
/// kernel itself records which feth interface a wire end belongs to.
pub const WIRE_ALIAS_PREFIX: &str = "feth:";

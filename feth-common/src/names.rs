//! Map, program and pin names. The loader never spells one of these twice.

/// Default directory of feth's state on bpffs (`--bpffs DIR` or `FETH_BPFFS` choose another).
/// The directory itself is the lock (flock), as libxdp does with `LIBXDP_BPFFS`.
pub const DEFAULT_BPFFS_DIR: &str = "/sys/fs/bpf/feth";
/// Environment variable naming the state directory.
pub const BPFFS_ENV: &str = "FETH_BPFFS";
/// Environment variable choosing how TC programs attach: `tcx` for TCX where the kernel has
/// it, anything else for a cls_bpf filter through netlink.
pub const TC_ATTACH_ENV: &str = "FETH_TC_ATTACH";

/// Version of the pinned layout. Pins live in `<dir>/v<LAYOUT_VERSION>/`; a binary that finds
/// another version's pins rebuilds the current layout from the interfaces and removes the old.
/// Layout 1 (before versions) pinned everything directly in `<dir>`; layout 2 had no
/// impairments (a smaller `PortConfig` and `PortStats`); layout 3 had no `FETH_SHARED` (and
/// counted `loss_every` per CPU in `PortStats`); layout 4 had no one-hop fields in `PortConfig`.
pub const LAYOUT_VERSION: u32 = 5;
/// The layout directory's name, `v<LAYOUT_VERSION>`.
pub const LAYOUT_DIR: &str = "v5";
const _: () = assert!(LAYOUT_DIR.len() == 2 && LAYOUT_DIR.as_bytes()[1] == b'0' + LAYOUT_VERSION as u8);
/// Sub-directory of the layout directory holding the pinned links, `<wire>_<mode>` (xdp, tc, netkit).
pub const LINK_DIR: &str = "links";

/// Per-port configuration indexed by slot (`PortConfig`; all-zero = no port).
pub const MAP_PORTS: &str = "FETH_PORTS";
/// Devmap indexed by a port's slot; the value is the ifindex of the *peer's* wire end.
pub const MAP_CROSSOVER: &str = "FETH_CROSSOVER";
/// Per-CPU counters indexed by a port's slot (`PortStats`).
pub const MAP_STATS: &str = "FETH_STATS";
/// Counters all CPUs share, indexed by a port's slot (`SharedCounters`).
pub const MAP_SHARED: &str = "FETH_SHARED";
/// Global switches (`Settings`, one entry).
pub const MAP_SETTINGS: &str = "FETH_SETTINGS";
/// Perf event array (one ring per CPU) the data path writes captured frames to while
/// `feth-loader capture` runs (`capture::CaptureMeta` + the frame).
pub const MAP_CAPTURE: &str = "FETH_CAPTURE";
/// aya-log's ring buffer; pinned so `feth-loader log --follow` can read it after loading.
pub const MAP_LOG: &str = "AYA_LOGS";

/// Every map pinned in the layout directory.
pub const MAPS: [&str; 6] = [MAP_PORTS, MAP_CROSSOVER, MAP_STATS, MAP_SHARED, MAP_SETTINGS, MAP_CAPTURE];

/// XDP program on the wire ends in XDP mode (pinned under this name, whichever variant below
/// the kernel takes).
pub const PROG_XDP_WIRE: &str = "feth_xdp_wire";
/// The XDP variant for kernels without multi-buffer XDP (5.12 to 5.17).
pub const PROG_XDP_LINEAR: &str = "feth_xdp_linear";
/// The XDP variant for 5.10 and 5.11 (no atomic fetch-and-add either).
pub const PROG_XDP_510: &str = "feth_xdp_510";
/// XDP_PASS program on the user ends in XDP mode where a veth needs one to take redirected
/// frames (before 5.13), attached through netlink, so nothing pins it to the device.
pub const PROG_XDP_USER_RX: &str = "feth_xdp_user_rx";
/// TC ingress program on the wire ends in TC mode (pinned under this name, whichever variant).
pub const PROG_TC_WIRE: &str = "feth_tc_wire";
/// The TC variant for 5.10 and 5.11 (no `bpf_check_mtu`, no atomic fetch-and-add).
pub const PROG_TC_510: &str = "feth_tc_510";
/// netkit mode: the program each netkit pair runs as its primary's program, where the frames
/// the crossover redirects to the wire end are handed to the user end; it refuses what the
/// user end's MTU does not allow, as a veth does (pinned under this name, whichever variant).
pub const PROG_NETKIT_RX: &str = "feth_netkit_rx";
/// Its variant for 5.10 and 5.11, which have no netkit and no `bpf_check_mtu`: never attached.
pub const PROG_NETKIT_RX_510: &str = "feth_netkit_rx_510";
/// TCX egress program a running `capture` attaches to its port's user end (kernels with TCX):
/// it sees the frames the user end's own veth refuses while `flap` holds the link down.
pub const PROG_TC_USER_EGRESS: &str = "feth_tc_user_egress";

/// Prefix of the hidden wire ends in the loader's namespace: `fwire<slot>`.
/// User-facing names with this prefix are refused so the two can never collide.
pub const WIRE_PREFIX: &str = "fwire";
/// Prefix of the VXLAN devices of remote peers (tunnel ends, `fvx<port slot>`), which live
/// next to the wire ends; refused for user-facing names as `fwire` is.
pub const TUNNEL_PREFIX: &str = "fvx";
/// `ifalias` prefix of a wire end's durable record (record format 2, whatever the layout): `feth/2 peer=.. mode=..`.
/// The kernel keeps the alias exactly as long as the interface, so it is the configuration's
/// source of truth; the pinned maps are rebuilt from it.
pub const WIRE_RECORD_PREFIX: &str = "feth/2";
/// Layout 1's alias, `feth:<name>[@<netns>]`: read once, then upgraded to a record.
pub const WIRE_ALIAS_V1_PREFIX: &str = "feth:";

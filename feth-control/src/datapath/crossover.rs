//! The crossover's kernel objects: the pinned maps, programs and per-wire links on bpffs.
//!
//! Maps are pinned by name by the object itself (`pin_by_name` in feth-ebpf); the programs
//! and the links (`links/<wire>_xdp`, `links/<wire>_tc`) are pinned here, all in the layout
//! directory (`bpffs::layout_dir`), so the crossover keeps working after the loader exits.
//! Everything here is a cache of the wire ends' records and can be rebuilt from them.
use std::{
    fs,
    path::{Path, PathBuf},
};

use aya::{
    EbpfLoader,
    maps::{Array, DevMap, Map, MapData, PerCpuArray, PerCpuValues},
    programs::{
        LinkOrder, SchedClassifier, TcAttachType, Xdp, XdpMode,
        links::{FdLink, PinnedLink},
        tc::{NlOptions, TcAttach, TcError, qdisc_add_clsact, qdisc_detach_program},
    },
    util::nr_cpus,
};
use aya_obj::programs::XdpAttachType;
use feth_common::{
    Mode, PortConfig, PortStats, Settings, SharedCounters,
    names::{
        MAP_CROSSOVER, MAP_PORTS, MAP_SETTINGS, MAP_SHARED, MAP_STATS, MAPS, PROG_TC_USER_EGRESS, PROG_TC_WIRE,
        PROG_XDP_WIRE,
    },
};
use futures::TryStreamExt as _;
use rtnetlink::packet_route::tc::TcAttribute;

use crate::{
    error::{Context as _, FethError, Result},
    kernel::bpffs::{self, link_dir, pin_path},
};

/// The eBPF object built by build.rs with aya-build.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/feth"));

/// Which eBPF object this binary carries (FNV-1a of its bytes), for `--version` and bug
/// reports: two builds with the same id load the same programs.
pub fn object_id() -> String {
    let hash =
        EBPF_OBJECT.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    format!("{hash:016x}")
}

/// How TC programs attach to the wire ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcPath {
    /// A TCX bpf_link, pinned with the rest (kernel 6.6+).
    Tcx,
    /// A `clsact` qdisc with a `cls_bpf` filter in direct-action mode (any kernel feth runs
    /// on). The filter lives on the device, so nothing is pinned for it.
    Netlink,
}

/// Chosen once per process: netlink, on every kernel. A TCX attach waits for an RCU grace
/// period under the RTNL lock, and so does its detach, while a cls_bpf filter does not, which
/// is what makes many ports come up and go down fast (docs/kernels.md); both keep every guarantee feth gives
/// (the filter stays on the device after the loader exits, and the repair finds and replaces
/// it). `FETH_TC_ATTACH=tcx` picks TCX where the kernel has it (6.6+); the test suite runs
/// once that way so both paths stay covered.
pub fn tc_path() -> TcPath {
    static PATH: std::sync::OnceLock<TcPath> = std::sync::OnceLock::new();
    *PATH.get_or_init(|| match std::env::var("FETH_TC_ATTACH").as_deref() {
        Ok("tcx") if crate::kernel::features::get().tcx => TcPath::Tcx,
        _ => TcPath::Netlink,
    })
}

/// Whether a cls_bpf filter sits on the wire end's clsact ingress (the netlink path).
fn netlink_filter_attached(wire_ifindex: u32) -> bool {
    // One connection per thread (wire ends live in the loader's namespace, where the calling
    // thread is): bringing up many pairs asks this for each.
    thread_local! {
        static RTNL: Option<crate::kernel::rtnl::Rtnl> = crate::kernel::rtnl::Rtnl::open().ok();
    }
    RTNL.with(|rtnl| rtnl.as_ref().is_some_and(|rtnl| filter_attached(rtnl, wire_ifindex)))
}

fn filter_attached(rtnl: &crate::kernel::rtnl::Rtnl, wire_ifindex: u32) -> bool {
    rtnl.block_on(async {
        let mut filters = rtnl.handle().clone().traffic_filter(wire_ifindex as i32).get().ingress().execute();
        while let Ok(Some(filter)) = filters.try_next().await {
            if filter.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "bpf")) {
                return true;
            }
        }
        false
    })
}

fn link_pin_path(wire: &str, mode: Mode) -> PathBuf {
    // bpffs refuses names with dots.
    link_dir().join(format!("{wire}_{}", mode.name()))
}

/// Slots of a first load: memory follows the ports that exist, and the maps grow (doubling)
/// when a command needs more.
pub const INITIAL_CAPACITY: u32 = 256;

/// Map size for `slots` slots: a power of two, at least the initial size, at most the
/// interface table.
pub fn capacity_for(slots: u32) -> u32 {
    slots.next_power_of_two().clamp(INITIAL_CAPACITY, feth_common::MAX_PORTS)
}

/// Slots the pinned per-slot maps hold, if they are pinned.
pub fn pinned_capacity() -> Option<u32> {
    MapData::from_pin(pin_path(MAP_PORTS)).ok()?.info().ok().map(|i| i.max_entries())
}

/// Every pin a complete layout has, programs and maps.
fn pins() -> impl Iterator<Item = &'static str> {
    [PROG_XDP_WIRE, PROG_TC_WIRE, PROG_TC_USER_EGRESS].into_iter().chain(MAPS)
}

pub struct Crossover {
    ports: Array<MapData, PortConfig>,
    crossover: DevMap<MapData>,
    stats: PerCpuArray<MapData, PortStats>,
    shared: Array<MapData, SharedCounters>,
    settings: Array<MapData, Settings>,
    capacity: u32,
}

impl Crossover {
    /// True when every map and program of this layout is pinned.
    pub fn is_loaded() -> bool {
        pins().all(|name| pin_path(name).exists())
    }

    /// True when anything of this layout is pinned.
    pub fn any_pinned() -> bool {
        pins().any(|name| pin_path(name).exists()) || !Self::attached_links().is_empty()
    }

    /// Unpins the programs and every link (the kernel detaches each link as its pin goes) and
    /// removes the netlink filters of `wires`, keeping the maps: the first step of reloading a
    /// partial layout.
    pub fn unpin_programs_and_links(wires: &[(String, u32)]) -> Result<()> {
        for (wire, mode) in Self::attached_links() {
            unpin_link(&link_pin_path(&wire, mode))?;
        }
        for (wire, ifindex) in wires {
            Self::detach(wire, *ifindex, Mode::Tc)?;
        }
        for name in [PROG_XDP_WIRE, PROG_TC_WIRE, PROG_TC_USER_EGRESS] {
            remove_pin(&pin_path(name))?;
        }
        Ok(())
    }

    /// Pins of this layout that are missing (empty when loaded).
    pub fn missing_pins() -> Vec<&'static str> {
        pins().filter(|name| !pin_path(name).exists()).collect()
    }

    /// Opens the pinned state, loading and pinning it first if absent, with room for
    /// `capacity` slots (or as many as the pinned maps already hold, which a load must match).
    pub fn open_or_load(capacity: u32) -> Result<Self> {
        if !Self::is_loaded() {
            load_and_pin(pinned_capacity().unwrap_or(capacity))?;
        }
        Self::open()
    }

    /// Slots the per-slot maps hold.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }

    /// Every counter of `slot`, per CPU (kept across a reload that grows the maps).
    pub fn stats_per_cpu(&self, slot: u32) -> Result<PerCpuValues<PortStats>> {
        self.stats.get(&slot, 0).context(format!("read FETH_STATS[{slot}]"))
    }

    pub fn set_stats_per_cpu(&mut self, slot: u32, values: PerCpuValues<PortStats>) -> Result<()> {
        self.stats.set(slot, values, 0).context(format!("write FETH_STATS[{slot}]"))
    }

    /// Unpins the per-slot maps (before loading larger ones).
    pub fn unpin_slot_maps() -> Result<()> {
        for name in [MAP_PORTS, MAP_CROSSOVER, MAP_STATS, MAP_SHARED] {
            remove_pin(&pin_path(name))?;
        }
        Ok(())
    }

    /// Opens the pinned state, or `None` when nothing is pinned.
    pub fn open_existing() -> Result<Option<Self>> {
        if Self::is_loaded() { Self::open().map(Some) } else { Ok(None) }
    }

    fn open() -> Result<Self> {
        fn pinned(name: &str) -> Result<Map> {
            let path = pin_path(name);
            let data = match MapData::from_pin(&path) {
                // A reader the state directory's group lets in (crate::kernel::privilege) may only
                // read the pins: open them read-only.
                Err(aya::maps::MapError::SyscallError(e))
                    if e.io_error.kind() == std::io::ErrorKind::PermissionDenied =>
                {
                    let fd = open_pin_read_only(&path).context(format!("open pinned map {name} read-only"))?;
                    MapData::from_fd(fd).context(format!("open pinned map {name}"))?
                }
                other => other.context(format!("open pinned map {name}"))?,
            };
            Map::from_map_data(data).context(format!("open pinned map {name}"))
        }
        Ok(Crossover {
            capacity: pinned_capacity().unwrap_or(0),
            ports: Array::try_from(pinned(MAP_PORTS)?).context(MAP_PORTS)?,
            crossover: DevMap::try_from(pinned(MAP_CROSSOVER)?).context(MAP_CROSSOVER)?,
            stats: PerCpuArray::try_from(pinned(MAP_STATS)?).context(MAP_STATS)?,
            shared: Array::try_from(pinned(MAP_SHARED)?).context(MAP_SHARED)?,
            settings: Array::try_from(pinned(MAP_SETTINGS)?).context(MAP_SETTINGS)?,
        })
    }

    /// Every registered port: slot and configuration.
    pub fn ports(&self) -> Result<Vec<(u32, PortConfig)>> {
        let all: Vec<PortConfig> = self.ports.iter().collect::<Result<_, _>>().context("read FETH_PORTS")?;
        Ok((0..).zip(all).filter(|(_, c)| c.is_registered()).collect())
    }

    pub fn port(&self, slot: u32) -> Result<PortConfig> {
        self.ports.get(&slot, 0).context(format!("read FETH_PORTS[{slot}]"))
    }

    pub fn set_port(&mut self, config: &PortConfig) -> Result<()> {
        self.ports.set(config.slot, config, 0).context(format!("write FETH_PORTS[{}]", config.slot))
    }

    /// Unregisters a slot (an all-zero entry).
    pub fn remove_port(&mut self, slot: u32) -> Result<()> {
        let empty = PortConfig { peer_slot: 0, mode: 0, ..PortConfig::unpeered(0, Mode::Tc) };
        self.ports.set(slot, &empty, 0).context(format!("clear FETH_PORTS[{slot}]"))
    }

    /// Points `slot`'s crossover entry at the peer's wire end.
    pub fn set_crossover(&mut self, slot: u32, peer_wire_ifindex: u32) -> Result<()> {
        self.crossover.set(slot, peer_wire_ifindex, None, 0).context(format!("write FETH_CROSSOVER[{slot}]"))
    }

    /// The peer wire end `slot`'s devmap entry points at (0 when empty).
    pub fn crossover_of(&self, slot: u32) -> u32 {
        self.crossover.get(slot, 0).map_or(0, |v| v.if_index)
    }

    pub fn stats(&self, slot: u32) -> Result<PortStats> {
        let per_cpu = self.stats.get(&slot, 0).context(format!("read FETH_STATS[{slot}]"))?;
        let mut total = PortStats::default();
        per_cpu.iter().for_each(|cpu| total.accumulate(cpu));
        Ok(total)
    }

    /// Zeroes a slot's counters so a new port does not inherit an old one's.
    pub fn reset_stats(&mut self, slot: u32) -> Result<()> {
        let cpus = nr_cpus().map_err(|(_, e)| e).context("count possible CPUs")?;
        let zero =
            PerCpuValues::try_from(vec![PortStats::default(); cpus.get() as usize]).context("per-CPU zero value")?;
        self.stats.set(slot, zero, 0).context(format!("reset FETH_STATS[{slot}]"))?;
        self.set_shared(slot, &SharedCounters::default())
    }

    pub fn shared(&self, slot: u32) -> Result<SharedCounters> {
        self.shared.get(&slot, 0).context(format!("read FETH_SHARED[{slot}]"))
    }

    /// Writes a slot's shared counters whole: callers hold the exclusive lock, and the data path
    /// only adds to `loss_every_seen` (an add racing this write is lost, which only moves
    /// where `loss-every` counts from).
    pub fn set_shared(&mut self, slot: u32, value: &SharedCounters) -> Result<()> {
        self.shared.set(slot, value, 0).context(format!("write FETH_SHARED[{slot}]"))
    }

    pub fn settings(&self) -> Result<Settings> {
        self.settings.get(&0, 0).context("read FETH_SETTINGS")
    }

    pub fn set_settings(&mut self, settings: &Settings) -> Result<()> {
        self.settings.set(0, settings, 0).context("write FETH_SETTINGS")
    }

    /// Reads the settings, lets `f` change them, and writes them back.
    pub fn update_settings(&mut self, f: impl FnOnce(&mut Settings)) -> Result<()> {
        let mut settings = self.settings()?;
        f(&mut settings);
        self.set_settings(&settings)
    }

    /// Attaches `mode`'s program to a wire end (pinning the link, or leaving a netlink filter
    /// on the device). Idempotent.
    pub fn attach(&self, wire: &str, wire_ifindex: u32, mode: Mode) -> Result<()> {
        if Self::is_attached(wire, wire_ifindex, mode) {
            return Ok(());
        }
        let path = link_pin_path(wire, mode);
        let link = match mode {
            Mode::Xdp => {
                let mut prog = Xdp::from_pin(pin_path(PROG_XDP_WIRE), XdpAttachType::Interface)
                    .context(format!("open pinned program {PROG_XDP_WIRE}"))?;
                let id = prog.attach(wire_ifindex, XdpMode::Driver).context(format!("{wire}: attach native XDP"))?;
                let link = prog.take_link(id).context(format!("{wire}: take XDP link"))?;
                FdLink::try_from(link).context(format!("{wire}: XDP link is not a bpf_link"))?
            }
            Mode::Tc => {
                let mut prog = SchedClassifier::from_pin(pin_path(PROG_TC_WIRE))
                    .context(format!("open pinned program {PROG_TC_WIRE}"))?;
                if tc_path() == TcPath::Netlink {
                    match qdisc_add_clsact(wire_ifindex) {
                        Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                        other => other.context(format!("{wire}: add the clsact qdisc"))?,
                    }
                    let netlink =
                        TcAttach::Netlink { parent: TcAttachType::Ingress.into(), options: NlOptions::default() };
                    let id = prog.attach(wire_ifindex, netlink).context(format!("{wire}: attach cls_bpf ingress"))?;
                    // The filter stays on the device after this process exits; dropping the link
                    // would detach it.
                    std::mem::forget(prog.take_link(id).context(format!("{wire}: take cls_bpf link"))?);
                    return Ok(());
                }
                let tcx = TcAttach::Tcx { attach_type: TcAttachType::Ingress, order: LinkOrder::default() };
                let id = prog.attach(wire_ifindex, tcx).context(format!("{wire}: attach TCX ingress"))?;
                let link = prog.take_link(id).context(format!("{wire}: take TCX link"))?;
                FdLink::try_from(link).context(format!("{wire}: TCX link is not a bpf_link"))?
            }
        };
        link.pin(&path).context(format!("{wire}: pin {} link", mode.name()))?;
        Ok(())
    }

    /// Whether `mode`'s program is attached to the wire end (by either TC path).
    pub fn is_attached(wire: &str, wire_ifindex: u32, mode: Mode) -> bool {
        link_pin_path(wire, mode).exists() || mode == Mode::Tc && netlink_filter_attached(wire_ifindex)
    }

    /// Detaches `mode`'s program from a wire end: unpins its link (the kernel detaches it once
    /// no fd holds it) and, for TC, removes a netlink filter.
    pub fn detach(wire: &str, wire_ifindex: u32, mode: Mode) -> Result<()> {
        if mode == Mode::Xdp
            && !crate::kernel::features::get().xdp_detach_under_gro
            && link_pin_path(wire, mode).exists()
        {
            // Without GRO the kernel deletes the wire's NAPI (waiting for its poll) before it
            // unregisters the XDP queue info, instead of racing it (features.rs).
            crate::kernel::ethtool::set(wire, crate::kernel::ethtool::Feature::Gro, false)?;
            let detached = unpin_link(&link_pin_path(wire, mode));
            crate::kernel::ethtool::set(wire, crate::kernel::ethtool::Feature::Gro, true)?;
            return detached;
        }
        unpin_link(&link_pin_path(wire, mode))?;
        if mode == Mode::Tc && netlink_filter_attached(wire_ifindex) {
            match qdisc_detach_program(wire_ifindex, TcAttachType::Ingress.into(), PROG_TC_WIRE) {
                Err(TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other.context(format!("{wire}: remove the cls_bpf filter"))?,
            }
        }
        Ok(())
    }

    /// Unpins a pinned link of a wire end that may be gone.
    pub fn unpin(wire: &str, mode: Mode) -> Result<()> {
        unpin_link(&link_pin_path(wire, mode))
    }

    /// Wire ends and modes that have a pinned link.
    pub fn attached_links() -> Vec<(String, Mode)> {
        links_in(&link_dir())
    }

    /// Id of the pinned XDP program (aya-log finds its log buffer through it).
    pub fn program_ids() -> Result<Vec<u32>> {
        let xdp = Xdp::from_pin(pin_path(PROG_XDP_WIRE), XdpAttachType::Interface).context(PROG_XDP_WIRE)?;
        let tc = SchedClassifier::from_pin(pin_path(PROG_TC_WIRE)).context(PROG_TC_WIRE)?;
        Ok(vec![xdp.info().context(PROG_XDP_WIRE)?.id(), tc.info().context(PROG_TC_WIRE)?.id()])
    }

    /// Removes every pin of this layout. Only called when no feth interface is left.
    pub fn unload() -> Result<()> {
        for (wire, mode) in Self::attached_links() {
            Self::unpin(&wire, mode)?;
        }
        for name in pins() {
            remove_pin(&pin_path(name))?;
        }
        bpffs::remove_layout_if_empty();
        Ok(())
    }
}

/// `(wire, mode)` of every link pinned in `dir`.
fn links_in(dir: &Path) -> Vec<(String, Mode)> {
    let names: Vec<String> = fs::read_dir(dir)
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .filter_map(|n| match n.rsplit_once('_')? {
            (wire, "xdp") => Some((wire.to_owned(), Mode::Xdp)),
            (wire, "tc") => Some((wire.to_owned(), Mode::Tc)),
            _ => None,
        })
        .collect()
}

fn unpin_link(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let link = PinnedLink::from_pin(path).context(format!("open pinned link {}", path.display()))?;
    link.unpin().context(format!("unpin link {}", path.display()))?;
    Ok(())
}

fn remove_pin(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.context(format!("unpin {}", path.display())),
    }
}

/// An older layout's pins: its links (in `links/`) and the rest. Old links are detached first,
/// so the wire end is free for the current layout's XDP link.
pub struct OldLayout {
    pub path: PathBuf,
}

impl OldLayout {
    /// Every older layout found in the state directory (layout 1's pins lie directly in it).
    pub fn find() -> Vec<OldLayout> {
        let others = bpffs::other_layouts();
        let mut found: Vec<OldLayout> =
            others.iter().filter(|p| is_versioned(p)).map(|p| OldLayout { path: p.clone() }).collect();
        if others.iter().any(|p| !is_versioned(p)) {
            found.push(OldLayout { path: bpffs::dir().to_path_buf() });
        }
        found
    }

    /// Links of wire ends that this layout still holds.
    pub fn links(&self) -> Vec<(String, Mode)> {
        links_in(&self.path.join(feth_common::names::LINK_DIR))
    }

    pub fn detach(&self, wire: &str, mode: Mode) -> Result<()> {
        unpin_link(&self.path.join(feth_common::names::LINK_DIR).join(format!("{wire}_{}", mode.name())))
    }

    /// Removes every pin of this layout (never another layout's).
    pub fn remove(&self) -> Result<()> {
        for (wire, mode) in self.links() {
            self.detach(&wire, mode)?;
        }
        let _ = fs::remove_dir(self.path.join(feth_common::names::LINK_DIR));
        let root = self.path == bpffs::dir();
        let entries: Vec<PathBuf> =
            fs::read_dir(&self.path).map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect()).unwrap_or_default();
        for entry in entries {
            if root && is_versioned(&entry) {
                continue;
            }
            if entry.is_dir() {
                let _ = fs::remove_dir(&entry);
            } else {
                remove_pin(&entry)?;
            }
        }
        if !root {
            let _ = fs::remove_dir(&self.path);
        }
        Ok(())
    }
}

/// `v<N>`: a layout directory.
fn is_versioned(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix('v'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Loads the object (maps pin themselves by name in the layout directory, reusing existing pins) and pins
/// the programs. A load killed half-way leaves pins the next load reuses.
fn load_and_pin(capacity: u32) -> Result<()> {
    bpffs::ensure_mounted()?;
    fs::create_dir_all(link_dir()).context(format!("create {}", link_dir().display()))?;
    let mut ebpf = EbpfLoader::new()
        .default_map_pin_directory(bpffs::layout_dir())
        .map_max_entries(MAP_PORTS, capacity)
        .map_max_entries(MAP_CROSSOVER, capacity)
        .map_max_entries(MAP_STATS, capacity)
        .map_max_entries(MAP_SHARED, capacity)
        .load(EBPF_OBJECT)
        .context("load the feth eBPF object")?;
    let missing = |name: &str| FethError::KernelFeature(format!("program {name} missing from the object"));
    let prog = ebpf.program_mut(PROG_XDP_WIRE).ok_or_else(|| missing(PROG_XDP_WIRE))?;
    let xdp = <&mut Xdp>::try_from(prog).context(PROG_XDP_WIRE)?;
    xdp.load().context(format!("load {PROG_XDP_WIRE} (verifier)"))?;
    pin_program_once(xdp.pin(pin_path(PROG_XDP_WIRE)), PROG_XDP_WIRE)?;
    let prog = ebpf.program_mut(PROG_TC_WIRE).ok_or_else(|| missing(PROG_TC_WIRE))?;
    let tc = <&mut SchedClassifier>::try_from(prog).context(PROG_TC_WIRE)?;
    tc.load().context(format!("load {PROG_TC_WIRE} (verifier)"))?;
    pin_program_once(tc.pin(pin_path(PROG_TC_WIRE)), PROG_TC_WIRE)?;
    let prog = ebpf.program_mut(PROG_TC_USER_EGRESS).ok_or_else(|| missing(PROG_TC_USER_EGRESS))?;
    let egress = <&mut SchedClassifier>::try_from(prog).context(PROG_TC_USER_EGRESS)?;
    egress.load().context(format!("load {PROG_TC_USER_EGRESS} (verifier)"))?;
    pin_program_once(egress.pin(pin_path(PROG_TC_USER_EGRESS)), PROG_TC_USER_EGRESS)?;
    Ok(())
}

/// A program already pinned by an earlier, interrupted load is kept.
fn pin_program_once(result: Result<(), aya::pin::PinError>, name: &str) -> Result<()> {
    match result {
        Err(_) if pin_path(name).exists() => Ok(()),
        other => other.context(format!("pin {name}")),
    }
}

/// BPF_OBJ_GET with BPF_F_RDONLY: what a pin readable but not writable by this user allows
/// (aya opens pins read-write only).
fn open_pin_read_only(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::{fd::FromRawFd as _, unix::ffi::OsStrExt as _};
    /// The BPF_OBJ_* part of `union bpf_attr`.
    #[repr(C)]
    struct ObjGet {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    const BPF_OBJ_GET: libc::c_long = 7;
    const BPF_F_RDONLY: u32 = 1 << 3;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut attr = ObjGet { pathname: path.as_ptr() as u64, bpf_fd: 0, file_flags: BPF_F_RDONLY };
    // SAFETY: attr is a valid bpf_attr prefix for BPF_OBJ_GET; path outlives the call.
    let fd = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_OBJ_GET, &raw mut attr, std::mem::size_of::<ObjGet>() as libc::c_uint)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: BPF_OBJ_GET returned a new file descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) })
}

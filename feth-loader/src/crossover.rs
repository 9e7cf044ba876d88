//! The crossover's kernel objects: the pinned maps, program and per-wire links on bpffs.
//!
//! Maps are pinned by name by the object itself (`pinned(...)` in feth-ebpf); the program and
//! one XDP link per wire end are pinned here, so the crossover keeps working after the loader
//! exits and every later command finds the same state.
use std::{
    fs,
    path::{Path, PathBuf},
};

use aya::{
    EbpfLoader,
    maps::{DevMap, HashMap, Map, MapData, PerCpuArray, PerCpuValues},
    programs::{Xdp, XdpMode, links::{FdLink, PinnedLink}},
    util::nr_cpus,
};
use aya_obj::programs::XdpAttachType;
use feth_common::{
    PortConfig, PortStats,
    names::{LINK_DIR, MAP_CROSSOVER, MAP_PORTS, MAP_STATS, PIN_DIR, PROG_XDP_WIRE},
};

use crate::error::{Context as _, FethError, Result};

/// The eBPF object built by build.rs with aya-build.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/feth"));

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
const BPF_FS_ROOT: &str = "/sys/fs/bpf";

fn pin_path(name: &str) -> PathBuf {
    Path::new(PIN_DIR).join(name)
}

fn link_pin_path(wire: &str) -> PathBuf {
    Path::new(PIN_DIR).join(LINK_DIR).join(wire)
}

pub struct Crossover {
    ports: HashMap<MapData, u32, PortConfig>,
    crossover: DevMap<MapData>,
    stats: PerCpuArray<MapData, PortStats>,
}

impl Crossover {
    /// True when the maps and program are pinned (some feth interface exists or existed).
    pub fn is_loaded() -> bool {
        pin_path(PROG_XDP_WIRE).exists() && pin_path(MAP_PORTS).exists()
    }

    /// Opens the pinned state, loading and pinning it first if absent.
    pub fn open_or_load() -> Result<Self> {
        if !Self::is_loaded() {
            load_and_pin()?;
        }
        Self::open()
    }

    /// Opens the pinned state, or `None` when nothing is pinned.
    pub fn open_existing() -> Result<Option<Self>> {
        if Self::is_loaded() { Self::open().map(Some) } else { Ok(None) }
    }

    fn open() -> Result<Self> {
        fn pinned(name: &str) -> Result<Map> {
            let data = MapData::from_pin(pin_path(name)).context(format!("open pinned map {name}"))?;
            Map::from_map_data(data).context(format!("open pinned map {name}"))
        }
        Ok(Crossover {
            ports: HashMap::try_from(pinned(MAP_PORTS)?).context(MAP_PORTS)?,
            crossover: DevMap::try_from(pinned(MAP_CROSSOVER)?).context(MAP_CROSSOVER)?,
            stats: PerCpuArray::try_from(pinned(MAP_STATS)?).context(MAP_STATS)?,
        })
    }

    /// Every registered port: wire ifindex and its configuration.
    pub fn ports(&self) -> Result<Vec<(u32, PortConfig)>> {
        self.ports.iter().collect::<Result<_, _>>().context("read FETH_PORTS")
    }

    pub fn set_port(&mut self, wire_ifindex: u32, config: &PortConfig) -> Result<()> {
        self.ports.insert(&wire_ifindex, config, 0).context(format!("write FETH_PORTS[{wire_ifindex}]"))
    }

    pub fn remove_port(&mut self, wire_ifindex: u32) -> Result<()> {
        match self.ports.remove(&wire_ifindex) {
            Err(aya::maps::MapError::KeyNotFound) => Ok(()),
            other => other.context(format!("remove FETH_PORTS[{wire_ifindex}]")),
        }
    }

    /// Points `slot`'s crossover entry at the peer's wire end.
    pub fn set_crossover(&mut self, slot: u32, peer_wire_ifindex: u32) -> Result<()> {
        self.crossover
            .set(slot, peer_wire_ifindex, None, 0)
            .context(format!("write FETH_CROSSOVER[{slot}]"))
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
        let zero = PerCpuValues::try_from(vec![PortStats::default(); cpus.get() as usize]).context("per-CPU zero value")?;
        self.stats.set(slot, zero, 0).context(format!("reset FETH_STATS[{slot}]"))
    }

    /// Attaches the XDP crossover program to a wire end and pins the link. Idempotent.
    pub fn attach_xdp(&self, wire: &str, wire_ifindex: u32) -> Result<()> {
        let path = link_pin_path(wire);
        if path.exists() {
            return Ok(());
        }
        let mut prog = Xdp::from_pin(pin_path(PROG_XDP_WIRE), XdpAttachType::Interface)
            .context(format!("open pinned program {PROG_XDP_WIRE}"))?;
        let id = prog
            .attach(wire_ifindex, XdpMode::Driver)
            .context(format!("{wire}: attach native XDP"))?;
        let link = prog.take_link(id).context(format!("{wire}: take XDP link"))?;
        let link = FdLink::try_from(link).context(format!("{wire}: XDP link is not a bpf_link"))?;
        link.pin(&path).context(format!("{wire}: pin XDP link"))?;
        Ok(())
    }

    /// Unpins a wire end's link; the kernel detaches it once no fd holds it.
    pub fn detach(wire: &str) -> Result<()> {
        let path = link_pin_path(wire);
        if !path.exists() {
            return Ok(());
        }
        let link = PinnedLink::from_pin(&path).context(format!("{wire}: open pinned link"))?;
        link.unpin().context(format!("{wire}: unpin link"))?;
        Ok(())
    }

    /// Wire ends that have a pinned link.
    pub fn attached_wires() -> Vec<String> {
        fs::read_dir(Path::new(PIN_DIR).join(LINK_DIR))
            .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default()
    }

    /// Removes every pin of feth. Only called when no feth interface is left.
    pub fn unload() -> Result<()> {
        for wire in Self::attached_wires() {
            Self::detach(&wire)?;
        }
        for name in [PROG_XDP_WIRE, MAP_PORTS, MAP_CROSSOVER, MAP_STATS] {
            match fs::remove_file(pin_path(name)) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other.context(format!("unpin {name}"))?,
            }
        }
        let _ = fs::remove_dir(Path::new(PIN_DIR).join(LINK_DIR));
        let _ = fs::remove_dir(PIN_DIR);
        Ok(())
    }
}

/// Mounts bpffs at /sys/fs/bpf if something else (or nothing) is there.
fn ensure_bpffs() -> Result<()> {
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let root = c"/sys/fs/bpf";
    // SAFETY: valid C string and out-pointer.
    let ok = unsafe { libc::statfs(root.as_ptr(), &mut st) } == 0;
    if ok && st.f_type as i64 == BPF_FS_MAGIC {
        return Ok(());
    }
    fs::create_dir_all(BPF_FS_ROOT).context("create /sys/fs/bpf")?;
    // SAFETY: constant C strings.
    let rc = unsafe { libc::mount(c"bpf".as_ptr(), root.as_ptr(), c"bpf".as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(FethError::KernelFeature(format!(
            "cannot mount bpffs on /sys/fs/bpf: {}",
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// Loads the object (maps pin themselves by name under PIN_DIR, reusing existing pins) and pins
/// the program. A load killed half-way leaves pins the next load reuses.
fn load_and_pin() -> Result<()> {
    ensure_bpffs()?;
    fs::create_dir_all(Path::new(PIN_DIR).join(LINK_DIR)).context(format!("create {PIN_DIR}"))?;
    let mut ebpf = EbpfLoader::new()
        .default_map_pin_directory(PIN_DIR)
        .load(EBPF_OBJECT)
        .map_err(|e| kernel_feature_or(e, "load the feth eBPF object"))?;
    let prog = ebpf
        .program_mut(PROG_XDP_WIRE)
        .ok_or_else(|| FethError::KernelFeature(format!("program {PROG_XDP_WIRE} missing from the object")))?;
    let prog = <&mut Xdp>::try_from(prog).context(PROG_XDP_WIRE)?;
    prog.load().context(format!("load {PROG_XDP_WIRE} (verifier)"))?;
    prog.pin(pin_path(PROG_XDP_WIRE)).context(format!("pin {PROG_XDP_WIRE}"))?;
    Ok(())
}

fn kernel_feature_or(e: aya::EbpfError, what: &str) -> FethError {
    FethError::Bpf { context: what.to_owned(), cause: Box::new(e) }
}

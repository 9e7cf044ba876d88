//! The crossover's kernel objects: the pinned maps, programs and per-wire links on bpffs.
//!
//! Maps are pinned by name by the object itself (`pinned(...)` in feth-ebpf); the programs
//! and the links (`links/<wire>_xdp`, `links/<wire>_tc`) are pinned here, so the crossover
//! keeps working after the loader exits and every later command finds the same state.
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
        tc::TcAttach,
    },
    util::nr_cpus,
};
use aya_obj::programs::XdpAttachType;
use feth_common::{
    Mode, PortConfig, PortMedia, PortStats, Settings,
    names::{
        LINK_DIR, MAP_CROSSOVER, MAP_MEDIA, MAP_PORTS, MAP_SETTINGS, MAP_STATS, MAPS, PIN_DIR, PROG_TC_WIRE,
        PROG_XDP_WIRE,
    },
};

use crate::error::{Context as _, FethError, Result};

/// The eBPF object built by build.rs with aya-build.
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/feth"));

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;

fn pin_path(name: &str) -> PathBuf {
    Path::new(PIN_DIR).join(name)
}

fn link_pin_path(wire: &str, mode: Mode) -> PathBuf {
    // bpffs refuses names with dots.
    Path::new(PIN_DIR).join(LINK_DIR).join(format!("{wire}_{}", mode.name()))
}

pub struct Crossover {
    ports: Array<MapData, PortConfig>,
    crossover: DevMap<MapData>,
    stats: PerCpuArray<MapData, PortStats>,
    media: Array<MapData, PortMedia>,
    settings: Array<MapData, Settings>,
}

impl Crossover {
    /// True when the maps and programs are pinned (some feth interface exists or existed).
    pub fn is_loaded() -> bool {
        [PROG_XDP_WIRE, PROG_TC_WIRE].into_iter().chain(MAPS).all(|name| pin_path(name).exists())
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
            ports: Array::try_from(pinned(MAP_PORTS)?).context(MAP_PORTS)?,
            crossover: DevMap::try_from(pinned(MAP_CROSSOVER)?).context(MAP_CROSSOVER)?,
            stats: PerCpuArray::try_from(pinned(MAP_STATS)?).context(MAP_STATS)?,
            media: Array::try_from(pinned(MAP_MEDIA)?).context(MAP_MEDIA)?,
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
        let empty = PortConfig { slot: 0, peer_slot: 0, mode: 0, peer_ifindex: 0 };
        self.ports.set(slot, &empty, 0).context(format!("clear FETH_PORTS[{slot}]"))
    }

    /// Points `slot`'s crossover entry at the peer's wire end.
    pub fn set_crossover(&mut self, slot: u32, peer_wire_ifindex: u32) -> Result<()> {
        self.crossover.set(slot, peer_wire_ifindex, None, 0).context(format!("write FETH_CROSSOVER[{slot}]"))
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
        self.stats.set(slot, zero, 0).context(format!("reset FETH_STATS[{slot}]"))
    }

    pub fn media(&self, slot: u32) -> Result<PortMedia> {
        self.media.get(&slot, 0).context(format!("read FETH_MEDIA[{slot}]"))
    }

    pub fn set_media(&mut self, slot: u32, media: &PortMedia) -> Result<()> {
        self.media.set(slot, media, 0).context(format!("write FETH_MEDIA[{slot}]"))
    }

    pub fn settings(&self) -> Result<Settings> {
        self.settings.get(&0, 0).context("read FETH_SETTINGS")
    }

    pub fn set_settings(&mut self, settings: &Settings) -> Result<()> {
        self.settings.set(0, settings, 0).context("write FETH_SETTINGS")
    }

    /// Attaches `mode`'s program to a wire end and pins the link. Idempotent.
    pub fn attach(&self, wire: &str, wire_ifindex: u32, mode: Mode) -> Result<()> {
        let path = link_pin_path(wire, mode);
        if path.exists() {
            return Ok(());
        }
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
                let tcx = TcAttach::Tcx { attach_type: TcAttachType::Ingress, order: LinkOrder::default() };
                let id = prog.attach(wire_ifindex, tcx).map_err(|e| {
                    FethError::KernelFeature(format!("{wire}: TCX ingress attach failed (kernel 6.6+ needed): {e}"))
                })?;
                let link = prog.take_link(id).context(format!("{wire}: take TCX link"))?;
                FdLink::try_from(link).context(format!("{wire}: TCX link is not a bpf_link"))?
            }
        };
        link.pin(&path).context(format!("{wire}: pin {} link", mode.name()))?;
        Ok(())
    }

    pub fn is_attached(wire: &str, mode: Mode) -> bool {
        link_pin_path(wire, mode).exists()
    }

    /// Unpins a wire end's link; the kernel detaches it once no fd holds it.
    pub fn detach(wire: &str, mode: Mode) -> Result<()> {
        let path = link_pin_path(wire, mode);
        if !path.exists() {
            return Ok(());
        }
        let link = PinnedLink::from_pin(&path).context(format!("{wire}: open pinned link"))?;
        link.unpin().context(format!("{wire}: unpin link"))?;
        Ok(())
    }

    /// Wire ends and modes that have a pinned link.
    pub fn attached_links() -> Vec<(String, Mode)> {
        let names: Vec<String> = fs::read_dir(Path::new(PIN_DIR).join(LINK_DIR))
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

    /// Id of the pinned XDP program (aya-log finds its log buffer through it).
    pub fn program_ids() -> Result<Vec<u32>> {
        let xdp = Xdp::from_pin(pin_path(PROG_XDP_WIRE), XdpAttachType::Interface).context(PROG_XDP_WIRE)?;
        let tc = SchedClassifier::from_pin(pin_path(PROG_TC_WIRE)).context(PROG_TC_WIRE)?;
        Ok(vec![xdp.info().context(PROG_XDP_WIRE)?.id(), tc.info().context(PROG_TC_WIRE)?.id()])
    }

    /// Removes every pin of feth. Only called when no feth interface is left.
    pub fn unload() -> Result<()> {
        for (wire, mode) in Self::attached_links() {
            Self::detach(&wire, mode)?;
        }
        for name in [PROG_XDP_WIRE, PROG_TC_WIRE].into_iter().chain(MAPS) {
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
    let root = c"/sys/fs/bpf";
    // SAFETY: zeroed statfs is a valid out-value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid C string and out-pointer.
    let ok = unsafe { libc::statfs(root.as_ptr(), &mut st) } == 0;
    if ok && st.f_type == BPF_FS_MAGIC {
        return Ok(());
    }
    fs::create_dir_all("/sys/fs/bpf").context("create /sys/fs/bpf")?;
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
/// the programs. A load killed half-way leaves pins the next load reuses.
fn load_and_pin() -> Result<()> {
    ensure_bpffs()?;
    fs::create_dir_all(Path::new(PIN_DIR).join(LINK_DIR)).context(format!("create {PIN_DIR}"))?;
    let mut ebpf =
        EbpfLoader::new().default_map_pin_directory(PIN_DIR).load(EBPF_OBJECT).context("load the feth eBPF object")?;
    let missing = |name: &str| FethError::KernelFeature(format!("program {name} missing from the object"));
    let prog = ebpf.program_mut(PROG_XDP_WIRE).ok_or_else(|| missing(PROG_XDP_WIRE))?;
    let xdp = <&mut Xdp>::try_from(prog).context(PROG_XDP_WIRE)?;
    xdp.load().context(format!("load {PROG_XDP_WIRE} (verifier)"))?;
    pin_program_once(xdp.pin(pin_path(PROG_XDP_WIRE)), PROG_XDP_WIRE)?;
    let prog = ebpf.program_mut(PROG_TC_WIRE).ok_or_else(|| missing(PROG_TC_WIRE))?;
    let tc = <&mut SchedClassifier>::try_from(prog).context(PROG_TC_WIRE)?;
    tc.load().context(format!("load {PROG_TC_WIRE} (verifier)"))?;
    pin_program_once(tc.pin(pin_path(PROG_TC_WIRE)), PROG_TC_WIRE)?;
    Ok(())
}

/// A program already pinned by an earlier, interrupted load is kept.
fn pin_program_once(result: Result<(), aya::pin::PinError>, name: &str) -> Result<()> {
    match result {
        Err(_) if pin_path(name).exists() => Ok(()),
        other => other.context(format!("pin {name}")),
    }
}

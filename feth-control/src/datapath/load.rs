//! Loading the crossover's eBPF object and pinning it (maps, programs) in the layout
//! directory, and removing it again: what is pinned, what is missing, how large the maps are.
use std::fs;

use aya::{
    EbpfLoader,
    maps::MapData,
    programs::{Program, SchedClassifier, Xdp},
};
use aya_obj::programs::XdpAttachType;
use feth_common::{
    Mode,
    names::{
        MAP_CROSSOVER, MAP_PORTS, MAP_SHARED, MAP_STATS, MAPS, PROG_NETKIT_RX, PROG_NETKIT_RX_510, PROG_TC_510,
        PROG_TC_USER_EGRESS, PROG_TC_WIRE, PROG_XDP_510, PROG_XDP_LINEAR, PROG_XDP_USER_RX, PROG_XDP_WIRE,
    },
};

use crate::{
    datapath::{attach, pins::remove_pin},
    error::{Context as _, FethError, Result},
    kernel::{bpffs::StateDir, context::Context, features::Features},
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

/// Slots of a first load: memory follows the ports that exist, and the maps grow (doubling)
/// when a command needs more.
pub const INITIAL_CAPACITY: u32 = 256;

/// Map size for `slots` slots: a power of two, at least the initial size, at most the
/// interface table.
pub fn capacity_for(slots: u32) -> u32 {
    slots.next_power_of_two().clamp(INITIAL_CAPACITY, feth_common::MAX_PORTS)
}

/// Slots the pinned per-slot maps hold, if they are pinned.
pub fn pinned_capacity(dir: &StateDir) -> Option<u32> {
    MapData::from_pin(dir.pin_path(MAP_PORTS)).ok()?.info().ok().map(|i| i.max_entries())
}

/// The names every program is pinned under.
const PROGRAMS: [&str; 5] = [PROG_XDP_WIRE, PROG_TC_WIRE, PROG_TC_USER_EGRESS, PROG_XDP_USER_RX, PROG_NETKIT_RX];

/// Every pin a complete layout has, programs and maps.
fn pins() -> impl Iterator<Item = &'static str> {
    PROGRAMS.into_iter().chain(MAPS)
}

/// True when every map and program of this layout is pinned.
pub fn is_loaded(dir: &StateDir) -> bool {
    pins().all(|name| dir.pin_path(name).exists())
}

/// True when anything of this layout is pinned.
pub fn any_pinned(dir: &StateDir) -> bool {
    pins().any(|name| dir.pin_path(name).exists()) || !attach::attached_links(dir).is_empty()
}

/// Unpins the programs and every link (the kernel detaches each link as its pin goes) and
/// removes the netlink filters of `wires`, keeping the maps: the first step of reloading a
/// partial layout.
pub fn unpin_programs_and_links(ctx: &Context, wires: &[(String, u32)]) -> Result<()> {
    let dir = &ctx.state;
    for (wire, mode) in attach::attached_links(dir) {
        attach::unpin(dir, &wire, mode)?;
    }
    for (wire, ifindex) in wires {
        attach::detach(ctx, wire, *ifindex, Mode::Tc)?;
    }
    for name in PROGRAMS {
        remove_pin(&dir.pin_path(name))?;
    }
    Ok(())
}

/// Pins of this layout that are missing (empty when loaded).
pub fn missing_pins(dir: &StateDir) -> Vec<&'static str> {
    pins().filter(|name| !dir.pin_path(name).exists()).collect()
}

/// Unpins the per-slot maps (before loading larger ones).
pub fn unpin_slot_maps(dir: &StateDir) -> Result<()> {
    for name in [MAP_PORTS, MAP_CROSSOVER, MAP_STATS, MAP_SHARED] {
        remove_pin(&dir.pin_path(name))?;
    }
    Ok(())
}

/// Id of the pinned XDP program (aya-log finds its log buffer through it).
pub fn program_ids(dir: &StateDir) -> Result<Vec<u32>> {
    let xdp = Xdp::from_pin(dir.pin_path(PROG_XDP_WIRE), XdpAttachType::Interface).context(PROG_XDP_WIRE)?;
    let tc = SchedClassifier::from_pin(dir.pin_path(PROG_TC_WIRE)).context(PROG_TC_WIRE)?;
    Ok(vec![xdp.info().context(PROG_XDP_WIRE)?.id(), tc.info().context(PROG_TC_WIRE)?.id()])
}

/// Removes every pin of this layout. Only called when no feth interface is left.
pub fn unload(dir: &StateDir) -> Result<()> {
    for (wire, mode) in attach::attached_links(dir) {
        attach::unpin(dir, &wire, mode)?;
    }
    for name in pins() {
        remove_pin(&dir.pin_path(name))?;
    }
    dir.remove_layout_if_empty();
    Ok(())
}

/// The variant of each program the kernel takes (feth-ebpf: each holds only what its kernels
/// know), and the name it is pinned under whichever it is.
pub fn variants(features: &Features) -> [(&'static str, &'static str); 5] {
    let xdp = if features.xdp_frags {
        PROG_XDP_WIRE
    } else if features.atomic_fetch {
        PROG_XDP_LINEAR
    } else {
        PROG_XDP_510
    };
    let tc = if features.atomic_fetch { PROG_TC_WIRE } else { PROG_TC_510 };
    let netkit_rx = if features.atomic_fetch { PROG_NETKIT_RX } else { PROG_NETKIT_RX_510 };
    [
        (xdp, PROG_XDP_WIRE),
        (tc, PROG_TC_WIRE),
        (PROG_TC_USER_EGRESS, PROG_TC_USER_EGRESS),
        (PROG_XDP_USER_RX, PROG_XDP_USER_RX),
        (netkit_rx, PROG_NETKIT_RX),
    ]
}

/// Loads the object (maps pin themselves by name in the layout directory, reusing existing pins) and pins
/// the programs. A load killed half-way leaves pins the next load reuses.
pub fn load_and_pin(ctx: &Context, capacity: u32) -> Result<()> {
    let dir = &ctx.state;
    dir.ensure_mounted()?;
    fs::create_dir_all(dir.link_dir()).context(format!("create {}", dir.link_dir().display()))?;
    let mut ebpf = EbpfLoader::new()
        .default_map_pin_directory(dir.layout_dir())
        .map_max_entries(MAP_PORTS, capacity)
        .map_max_entries(MAP_CROSSOVER, capacity)
        .map_max_entries(MAP_STATS, capacity)
        .map_max_entries(MAP_SHARED, capacity)
        .load(EBPF_OBJECT)
        .context("load the feth eBPF object")?;
    let missing = |name: &str| FethError::KernelFeature(format!("program {name} missing from the object"));
    for (name, pinned) in variants(&ctx.features) {
        let prog = ebpf.program_mut(name).ok_or_else(|| missing(name))?;
        let loaded = match prog {
            Program::Xdp(p) => p.load(),
            Program::SchedClassifier(p) => p.load(),
            _ => return Err(missing(name)),
        };
        loaded.context(format!("load {name} (verifier)"))?;
        pin_program_once(dir, prog.pin(dir.pin_path(pinned)), pinned)?;
    }
    Ok(())
}

/// A program already pinned by an earlier, interrupted load is kept.
fn pin_program_once(dir: &StateDir, result: Result<(), aya::pin::PinError>, name: &str) -> Result<()> {
    match result {
        Err(_) if dir.pin_path(name).exists() => Ok(()),
        other => other.context(format!("pin {name}")),
    }
}

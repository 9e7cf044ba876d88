//! The crossover's pinned maps, opened as one typed handle: ports, devmap, counters, shared
//! counters and settings. Maps are pinned by name by the object itself (`pin_by_name` in
//! feth-ebpf) in the layout directory (`StateDir::layout_dir`), so the crossover keeps working after
//! the loader exits; `datapath::load` loads and pins them, `datapath::attach` puts the programs
//! on the wire ends. Everything here is a cache of the wire ends' records and can be rebuilt from
//! them.
use aya::{
    maps::{Array, DevMap, Map, MapData, PerCpuArray, PerCpuValues},
    util::nr_cpus,
};
use feth_common::{
    Mode, PortConfig, PortStats, Settings, SharedCounters,
    names::{MAP_CROSSOVER, MAP_PORTS, MAP_SETTINGS, MAP_SHARED, MAP_STATS},
};

use crate::{
    datapath::{load, pins::open_pin_read_only},
    error::{Context as _, Result},
    kernel::{bpffs::StateDir, context::Context},
};

pub struct Crossover {
    ports: Array<MapData, PortConfig>,
    crossover: DevMap<MapData>,
    stats: PerCpuArray<MapData, PortStats>,
    shared: Array<MapData, SharedCounters>,
    settings: Array<MapData, Settings>,
    capacity: u32,
}

impl Crossover {
    /// Opens the pinned state, loading and pinning it first if absent, with room for
    /// `capacity` slots (or as many as the pinned maps already hold, which a load must match).
    pub fn open_or_load(ctx: &Context, capacity: u32) -> Result<Self> {
        let dir = &ctx.state;
        if !load::is_loaded(dir) {
            load::load_and_pin(ctx, load::pinned_capacity(dir).unwrap_or(capacity))?;
        }
        Self::open(dir)
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

    /// Opens the pinned state, or `None` when nothing is pinned.
    pub fn open_existing(dir: &StateDir) -> Result<Option<Self>> {
        if load::is_loaded(dir) { Self::open(dir).map(Some) } else { Ok(None) }
    }

    fn open(dir: &StateDir) -> Result<Self> {
        let pinned = |name: &str| -> Result<Map> {
            let path = dir.pin_path(name);
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
        };
        Ok(Crossover {
            capacity: load::pinned_capacity(dir).unwrap_or(0),
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
}

//! Older layouts: their pins, found and removed so that the current layout takes the wire
//! ends, and what layout 1 kept of each port in its own `FETH_PORTS`.
use std::{
    fs,
    path::{Path, PathBuf},
};

use feth_common::{DEFAULT_MODE, Mode, PortConfig};

use crate::{
    datapath::pins::{links_in, remove_pin, unpin_link},
    error::Result,
    kernel::bpffs::StateDir,
};

/// An older layout's pins: its links (in `links/`) and the rest. Old links are detached first,
/// so the wire end is free for the current layout's XDP link.
#[derive(Clone, Debug)]
pub struct OldLayout {
    pub path: PathBuf,
    /// Layout 1's pins lie in the state directory itself, among the `v<N>` of the others.
    root: bool,
}

impl OldLayout {
    /// Every older layout found in the state directory (layout 1's pins lie directly in it).
    pub fn find(state: &StateDir) -> Vec<OldLayout> {
        let others = state.other_layouts();
        let mut found: Vec<OldLayout> =
            others.iter().filter(|p| is_versioned(p)).map(|p| OldLayout { path: p.clone(), root: false }).collect();
        if others.iter().any(|p| !is_versioned(p)) {
            found.push(OldLayout { path: state.dir().to_path_buf(), root: true });
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
        let root = self.root;
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

/// Where its pins are.
impl std::fmt::Display for OldLayout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.path.display().fmt(f)
    }
}

/// `v<N>`: a layout directory.
fn is_versioned(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix('v'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Layout 1's (and 2's) `FETH_PORTS` value: the first four fields of today's `PortConfig`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct PortConfigV1 {
    slot: u32,
    peer_slot: u32,
    mode: u32,
    peer_ifindex: u32,
}

// SAFETY: plain integers, no padding.
unsafe impl aya::Pod for PortConfigV1 {}

/// Peers and modes layout 1 kept in its `FETH_PORTS`, pinned directly in the state directory.
pub fn old_layout_configs(state: &StateDir) -> Vec<PortConfig> {
    let path = state.dir().join(feth_common::names::MAP_PORTS);
    let Ok(data) = aya::maps::MapData::from_pin(&path) else { return Vec::new() };
    let Ok(map) = aya::maps::Array::<_, PortConfigV1>::try_from(aya::maps::Map::Array(data)) else { return Vec::new() };
    map.iter()
        .filter_map(|c| c.ok())
        .map(|c| PortConfig {
            peer_slot: c.peer_slot,
            mode: c.mode,
            peer_ifindex: c.peer_ifindex,
            ..PortConfig::unpeered(c.slot, DEFAULT_MODE)
        })
        .collect()
}

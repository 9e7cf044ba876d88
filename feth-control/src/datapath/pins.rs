//! Paths and removal of pins in the layout directory: links by wire end and mode, and
//! opening a pin read-only (what a reader the state directory's group lets in may do).
use std::{
    collections::HashSet,
    fs,
    os::fd::AsFd as _,
    path::{Path, PathBuf},
};

use aya::programs::links::PinnedLink;
use feth_common::Mode;

use crate::{
    error::{Context as _, Result},
    kernel::{bpf_syscall, bpffs::StateDir},
};

pub fn link_pin_path(dir: &StateDir, wire: &str, mode: Mode) -> PathBuf {
    // bpffs refuses names with dots.
    dir.link_dir().join(format!("{wire}_{}", mode.name()))
}

/// netkit mode's second link of a wire end: `feth_netkit_rx` as the pair's primary program.
pub fn netkit_rx_pin_path(dir: &StateDir, wire: &str) -> PathBuf {
    dir.link_dir().join(format!("{wire}_{NETKIT_RX}"))
}

/// The suffix of [`netkit_rx_pin_path`].
const NETKIT_RX: &str = "netkitrx";

/// Every link `mode` pins for a wire end: one, or in netkit mode two (its peer and primary
/// programs).
pub fn link_pin_paths(dir: &StateDir, wire: &str, mode: Mode) -> Vec<PathBuf> {
    let mut paths = vec![link_pin_path(dir, wire, mode)];
    if mode == Mode::Netkit {
        paths.push(netkit_rx_pin_path(dir, wire));
    }
    paths
}

/// `(wire, mode)` of every link pinned in `dir`: a netkit pair's two links once (its second
/// alone, as a netkit link, when a command was cut short between them).
pub fn links_in(dir: &Path) -> Vec<(String, Mode)> {
    let names: HashSet<String> = fs::read_dir(dir)
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names
        .iter()
        .filter_map(|n| {
            let (wire, mode) = n.rsplit_once('_')?;
            if mode == NETKIT_RX {
                let main = format!("{wire}_{}", Mode::Netkit.name());
                return (!names.contains(&main)).then(|| (wire.to_owned(), Mode::Netkit));
            }
            Some((wire.to_owned(), mode.parse().ok()?))
        })
        .collect()
}

/// Detaches a pinned link and removes its pin. The detach is explicit (BPF_LINK_DETACH, 5.9+):
/// removing the pin alone releases the link only after an RCU grace period and a work item
/// (bpffs frees its inodes that way), so the program would stay attached for a moment after
/// the command returned. On 5.10 the kernel then refused an MTU above a page on a user end
/// whose wire end had just left XDP mode, and the GRO-off detach below 6.6 (attach::detach)
/// turned GRO back on before the detach it guards had happened.
pub fn unpin_link(path: &Path) -> Result<()> {
    if !path.exists() {
        return Ok(());
    }
    let link = PinnedLink::from_pin(path).context(format!("open pinned link {}", path.display()))?;
    // A link whose device is gone has nothing to detach; a kernel without BPF_LINK_DETACH for
    // this link type falls back on the release when the pin goes.
    let _ = bpf_syscall::obj_get(path, 0).and_then(|fd| bpf_syscall::link_detach(fd.as_fd()));
    link.unpin().context(format!("unpin link {}", path.display()))?;
    Ok(())
}

pub fn remove_pin(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        other => other.context(format!("unpin {}", path.display())),
    }
}

/// BPF_OBJ_GET with BPF_F_RDONLY: what a pin readable but not writable by this user allows
/// (aya opens pins read-write only).
pub fn open_pin_read_only(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    const BPF_F_RDONLY: u32 = 1 << 3;
    bpf_syscall::obj_get(path, BPF_F_RDONLY)
}

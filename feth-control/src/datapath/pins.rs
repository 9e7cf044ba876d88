//! Paths and removal of pins in the layout directory: links by wire end and mode, and
//! opening a pin read-only (what a reader the state directory's group lets in may do).
use std::{
    fs,
    path::{Path, PathBuf},
};

use aya::programs::links::PinnedLink;
use feth_common::Mode;

use crate::{
    error::{Context as _, Result},
    kernel::bpffs::StateDir,
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

/// `(wire, mode)` of every link pinned in `dir` (a netkit pair's two links once).
pub fn links_in(dir: &Path) -> Vec<(String, Mode)> {
    let names: Vec<String> = fs::read_dir(dir)
        .map(|dir| dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names
        .into_iter()
        .filter_map(|n| {
            let (wire, mode) = n.rsplit_once('_')?;
            let mode = if mode == NETKIT_RX { Mode::Netkit } else { mode.parse().ok()? };
            Some((wire.to_owned(), mode))
        })
        .fold(Vec::new(), |mut links, link| {
            if !links.contains(&link) {
                links.push(link);
            }
            links
        })
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
    let _ = open_pin(path, 0).and_then(|fd| link_detach(&fd));
    link.unpin().context(format!("unpin link {}", path.display()))?;
    Ok(())
}

/// BPF_LINK_DETACH: the program leaves its hook now; the link object lives on while held.
fn link_detach(link: &std::os::fd::OwnedFd) -> std::io::Result<()> {
    use std::os::fd::AsRawFd as _;
    /// The BPF_LINK_DETACH part of `union bpf_attr`.
    #[repr(C)]
    struct LinkDetach {
        link_fd: u32,
    }
    const BPF_LINK_DETACH: libc::c_long = 34;
    let mut attr = LinkDetach { link_fd: link.as_raw_fd() as u32 };
    // SAFETY: attr is a valid bpf_attr prefix for BPF_LINK_DETACH.
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_LINK_DETACH, &raw mut attr, std::mem::size_of::<LinkDetach>() as libc::c_uint)
    };
    if rc < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
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
    open_pin(path, BPF_F_RDONLY)
}

/// BPF_OBJ_GET with `file_flags`, as an fd of our own (aya keeps the fds it opens private).
fn open_pin(path: &Path, file_flags: u32) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::os::{fd::FromRawFd as _, unix::ffi::OsStrExt as _};
    /// The BPF_OBJ_* part of `union bpf_attr`.
    #[repr(C)]
    struct ObjGet {
        pathname: u64,
        bpf_fd: u32,
        file_flags: u32,
    }
    const BPF_OBJ_GET: libc::c_long = 7;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    let mut attr = ObjGet { pathname: path.as_ptr() as u64, bpf_fd: 0, file_flags };
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

//! What feth needs from the kernel's permission checks, asked for by name before anything is
//! touched, so a missing capability is one sentence and not a failure midway.
//!
//! Root has everything. Without root (README, "Without root"), the binary carries file
//! capabilities and the state directory, which root made (`bpffs`), decides who may change and
//! who may only read: pins get the directory's group and its group permissions. No capability
//! is ever raised into the inheritable or ambient set: nothing feth runs inherits one.
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};

use caps::{CapSet, Capability};

use crate::{
    error::{Context as _, FethError, Result},
    kernel::bpffs::StateDir,
};

/// A capability feth uses, and what for (the sentence a user reads when it is missing).
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    pub cap: Capability,
    pub why: &'static str,
}

pub const NET_ADMIN: Cap =
    Cap { cap: Capability::CAP_NET_ADMIN, why: "create, configure and attach programs to interfaces" };
pub const SYS_ADMIN: Cap =
    Cap { cap: Capability::CAP_SYS_ADMIN, why: "enter and create network namespaces and mount bpffs" };
pub const BPF: Cap = Cap { cap: Capability::CAP_BPF, why: "load the crossover programs and read their maps" };

/// Commands that change interfaces, peers or the data path.
pub const CHANGE: [Cap; 3] = [BPF, NET_ADMIN, SYS_ADMIN];
/// Commands that only read need the same: the maps need CAP_BPF (this kernel allows no
/// unprivileged bpf()), the eBPF library probes kernel features by loading a program
/// (CAP_NET_ADMIN), and user ends in other namespaces are entered (CAP_SYS_ADMIN). What
/// separates a reader from an operator is the state directory's permissions.
pub const READ: [Cap; 3] = CHANGE;

fn has(cap: Capability) -> bool {
    caps::has_cap(None, CapSet::Effective, cap).unwrap_or(false)
}

/// Refuses, naming every missing capability and what it is for, unless all of `caps` are
/// effective.
pub fn require(caps: &[Cap]) -> Result<()> {
    let missing: Vec<String> =
        caps.iter().filter(|c| !has(c.cap)).map(|c| format!("{} (to {})", c.cap, c.why)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(FethError::NotPermitted(format!(
        "feth-loader lacks {}: run it as root, or see \"Without root\" in the README for the file capabilities",
        missing.join(" and ")
    )))
}

/// Refuses `what` to a caller without root: commands that make machine-wide objects of their
/// own (the benchmark's named namespaces and benches) are root's.
pub fn require_root(what: &str) -> Result<()> {
    if crate::kernel::caller::untrusted() {
        return Err(FethError::NotPermitted(format!(
            "{what} needs root: it creates network namespaces and feth benches of its own"
        )));
    }
    Ok(())
}

/// A changing command needs to write the state directory; a user who may only read it is told
/// so before anything is touched.
pub fn require_writable_state(state: &StateDir) -> Result<()> {
    let dir = state.dir();
    if !dir.exists() || may_write(dir) {
        return Ok(());
    }
    Err(FethError::NotPermitted(format!(
        "{} is read-only for this user: changing commands need write access to it (reading ones, such as show and stats, need only read access)",
        dir.display()
    )))
}

/// Whether this process may create files in `dir`, capabilities included (AT_EACCESS: the
/// effective ids and capabilities, as the write itself will be checked).
pub fn may_write(dir: &std::path::Path) -> bool {
    nix::unistd::faccessat(nix::fcntl::AT_FDCWD, dir, nix::unistd::AccessFlags::W_OK, nix::fcntl::AtFlags::AT_EACCESS)
        .is_ok()
}

/// Gives everything below the state directory the directory's group and the directory's
/// group permissions, hidden from others: `install -d -o root -g feth -m 0750` lets group feth
/// run `show` and `stats` (pins 0640), `-m 0770` lets group feth-ops change too (pins 0660,
/// so one operator's pins are the next one's). bpffs creates pins 0600 with the creator's
/// group, so each is set after.
pub fn share_state_with_group(state: &StateDir) -> Result<()> {
    let dir = state.dir();
    let Ok(meta) = std::fs::metadata(dir) else { return Ok(()) };
    let group_reads = meta.mode() & 0o040 != 0;
    let group_writes = group_reads && meta.mode() & 0o020 != 0;
    // feth's own directory (its group is the one pins are made with, not readable by it): no
    // one else can reach the pins, so there is nothing to set, and no walk over every pin
    // (tens of thousands with many ports) in each command.
    if !group_reads && meta.gid() == nix::unistd::getegid().as_raw() {
        return Ok(());
    }
    walk(dir, &mut |path, is_dir| {
        let m = std::fs::symlink_metadata(path).context(format!("stat {}", path.display()))?;
        let mode = match (is_dir, group_reads, group_writes) {
            (true, _, true) => 0o770,
            (false, _, true) => 0o660,
            (true, true, false) => 0o750,
            (false, true, false) => 0o640,
            (true, false, _) => 0o700,
            (false, false, _) => 0o600,
        };
        if m.gid() != meta.gid() {
            std::os::unix::fs::lchown(path, None, Some(meta.gid())).context(format!("chgrp {}", path.display()))?;
        }
        if m.mode() & 0o777 != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .context(format!("chmod {}", path.display()))?;
        }
        Ok(())
    })
}

/// Every entry below `dir` (not `dir` itself), directories before what they hold.
fn walk(dir: &std::path::Path, f: &mut impl FnMut(&std::path::Path, bool) -> Result<()>) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        f(&path, is_dir)?;
        if is_dir {
            walk(&path, f)?;
        }
    }
    Ok(())
}

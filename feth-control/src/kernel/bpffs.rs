//! Where feth's pinned state lives, and the lock that orders commands.
//!
//! One directory on bpffs (`--bpffs DIR`, `FETH_BPFFS`, default `/sys/fs/bpf/feth`) holds the
//! layout directory `v<N>/` with the maps, programs and links. The directory itself is the lock
//! (flock, as libxdp locks `LIBXDP_BPFFS`): changing commands hold it exclusively, reading
//! commands shared. flock is released by the kernel when the holder dies, so a killed command
//! never leaves a stale lock. See ARCHITECTURE.md, "State".
use std::{
    fs::File,
    os::unix::fs::{DirBuilderExt as _, MetadataExt as _},
    path::{Path, PathBuf},
};

use feth_common::names::{LAYOUT_DIR, LINK_DIR};
use nix::sys::statfs::{BPF_FS_MAGIC, statfs};

use crate::error::{Context as _, FethError, Result};

/// A state directory (`kernel::context::Context` says which).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    pub fn new(dir: PathBuf) -> StateDir {
        StateDir { dir }
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The directory of this binary's layout, `<dir>/v<LAYOUT_VERSION>`.
    pub fn layout_dir(&self) -> PathBuf {
        self.dir.join(LAYOUT_DIR)
    }

    pub fn pin_path(&self, name: &str) -> PathBuf {
        self.layout_dir().join(name)
    }

    pub fn link_dir(&self) -> PathBuf {
        self.layout_dir().join(LINK_DIR)
    }

    /// Pins of layouts other than this binary's: `v<N>` directories and, for layout 1, the
    /// objects pinned directly in the state directory.
    pub fn other_layouts(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != LAYOUT_DIR))
            .collect()
    }
}

pub fn is_bpffs(path: &Path) -> bool {
    statfs(path).is_ok_and(|st| st.filesystem_type() == BPF_FS_MAGIC)
}

/// A held lock on the state directory.
pub struct Lock {
    _dir: File,
}

/// Without root (a binary with file capabilities, `crate::kernel::caller`), the state directory decides
/// who is an operator and who a reader, so it must be one root made for the caller (README
/// "Without root"): owned by root and not writable by everyone, or owned by the caller inside
/// a directory only root writes to. A directory the caller made itself where bpffs lets users
/// write (a fresh bpffs is mode 1777) would make any reader an operator of a state directory of its own.
fn check_made_by_root(dir: &Path) -> Result<()> {
    if !crate::kernel::caller::untrusted() {
        return Ok(());
    }
    let refuse = |why: String| {
        Err(FethError::NotPermitted(format!(
            "{}: {why}; without root, feth-loader uses only a state directory root made for this user (see \"Without root\" in the README)",
            dir.display()
        )))
    };
    let Ok(meta) = std::fs::metadata(dir) else { return refuse("it does not exist".into()) };
    if !meta.is_dir() {
        return refuse("it is not a directory".into());
    }
    let uid = nix::unistd::getuid().as_raw();
    match meta.uid() {
        0 if meta.mode() & 0o002 != 0 => refuse("it is writable by everyone".into()),
        0 => Ok(()),
        owner if owner == uid => {
            let real = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            let parent = real.parent().unwrap_or(Path::new("/"));
            let parent_meta = std::fs::metadata(parent).context(format!("stat {}", parent.display()))?;
            let caller_writes = crate::kernel::caller::as_caller(|| {
                Ok(nix::unistd::access(parent, nix::unistd::AccessFlags::W_OK).is_ok())
            })
            .unwrap_or(true);
            if parent_meta.uid() != 0 || caller_writes {
                return refuse(format!(
                    "it is this user's own, inside {}, which this user may write to, so root did not make it (ask root for one: install -d -o root -g GROUP -m 0770 {})",
                    parent.display(),
                    dir.display()
                ));
            }
            Ok(())
        }
        owner => refuse(format!("it belongs to uid {owner}, neither root nor this user")),
    }
}

impl StateDir {
    /// Makes sure the state directory can hold pins: mounts bpffs at /sys/fs/bpf when the
    /// directory is below it and nothing is mounted there; refuses a directory on another
    /// filesystem.
    pub fn ensure_mounted(&self) -> Result<()> {
        let dir = self.dir();
        let existing = dir.ancestors().find(|p| p.exists()).unwrap_or(Path::new("/"));
        if is_bpffs(existing) {
            return Ok(());
        }
        let root = Path::new("/sys/fs/bpf");
        if !dir.starts_with(root) {
            return Err(FethError::NotBpffs(dir.to_path_buf()));
        }
        std::fs::create_dir_all(root).context("create /sys/fs/bpf")?;
        nix::mount::mount(Some("bpf"), root, Some("bpf"), nix::mount::MsFlags::empty(), None::<&str>)
            .map_err(|e| FethError::KernelFeature(format!("cannot mount bpffs on /sys/fs/bpf: {e}")))
    }

    /// Shared lock for commands that only read. `None` when the directory does not exist: there
    /// is then no pinned state to protect, and reading must not create it.
    pub fn lock_shared(&self) -> Result<Option<Lock>> {
        loop {
            let file = match File::open(self.dir()) {
                Ok(file) => file,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    return Err(FethError::NotPermitted(format!(
                        "{} is not readable for this user: reading commands need read access to it (its group, see \"Without root\" in the README)",
                        self.dir().display()
                    )));
                }
                Err(_) => return Ok(None),
            };
            check_made_by_root(self.dir())?;
            file.lock_shared().context(format!("lock {}", self.dir().display()))?;
            if self.still_current(&file) {
                return Ok(Some(Lock { _dir: file }));
            }
        }
    }

    /// Exclusive lock for commands that change state; creates the directory (on bpffs) first.
    pub fn lock_exclusive(&self) -> Result<Lock> {
        loop {
            // A caller without root never makes a state directory (check_made_by_root).
            if !self.dir().exists() && !crate::kernel::caller::untrusted() {
                self.ensure_mounted()?;
                // Owner only: opening it to a group is the administrator's choice (crate::kernel::privilege).
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(self.dir())
                    .context(format!("create {}", self.dir().display()))?;
            }
            check_made_by_root(self.dir())?;
            let file = File::open(self.dir()).context(format!("open {}", self.dir().display()))?;
            file.lock().context(format!("lock {}", self.dir().display()))?;
            if self.still_current(&file) {
                return Ok(Lock { _dir: file });
            }
        }
    }

    /// The last command of a state directory removes the directory while holding the lock; a waiter that
    /// opened it before then holds a lock on a removed directory and must start again.
    fn still_current(&self, file: &File) -> bool {
        match (file.metadata(), std::fs::metadata(self.dir())) {
            (Ok(held), Ok(now)) => held.ino() == now.ino() && held.dev() == now.dev(),
            _ => false,
        }
    }

    /// Removes this layout's directories when nothing is pinned in them.
    pub fn remove_layout_if_empty(&self) {
        let _ = std::fs::remove_dir(self.link_dir());
        let _ = std::fs::remove_dir(self.layout_dir());
    }

    /// Removes the state directory when it is empty, at the end of the last command of its ports
    /// (with the exclusive lock held; a waiter then starts again, see `still_current`). Never in
    /// the middle of a command: one arriving after a re-creation would lock the new directory
    /// while this one still runs. A directory root made for a caller without root, or one someone
    /// gave a group of its own (crate::kernel::privilege: not the group feth runs with), is theirs and stays.
    pub fn remove_if_empty(&self) {
        self.remove_layout_if_empty();
        // Root made it for a caller without root, and it stays for the next command.
        if crate::kernel::caller::untrusted() {
            return;
        }
        let egid = nix::unistd::getegid().as_raw();
        if std::fs::metadata(self.dir()).is_ok_and(|m| m.gid() == egid) {
            let _ = std::fs::remove_dir(self.dir());
        }
    }
}

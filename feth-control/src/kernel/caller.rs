//! Who runs feth: root, or a caller without root running a binary that carries file
//! capabilities (README "Without root"). Such a caller is untrusted, as Wireshark's dumpcap
//! treats its own: what it names (files, namespaces) is opened with its own permissions, never
//! the file's capabilities. Knows nothing of feth's policy; `privilege` and `bpffs` build on it.
use std::{fs::File, path::Path};

use caps::CapSet;

/// Whether this process holds capabilities its caller does not have: the real uid is not root
/// and some capability is effective (file capabilities, or a privileged parent that passed
/// them on). Read once: the sets do not change while feth runs.
pub fn untrusted() -> bool {
    static UNTRUSTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *UNTRUSTED.get_or_init(|| {
        !nix::unistd::getuid().is_root() && caps::read(None, CapSet::Effective).is_ok_and(|set| !set.is_empty())
    })
}

/// Runs `f` with the caller's own permissions: for an untrusted caller, on a thread of its
/// own whose effective capabilities are dropped (capability sets belong to a thread, and
/// file access is checked against the caller's uid and groups, which file capabilities do not
/// change). Root's calls run as they are.
pub fn as_caller<T: Send>(f: impl FnOnce() -> std::io::Result<T> + Send) -> std::io::Result<T> {
    if !untrusted() {
        return f();
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                caps::clear(None, CapSet::Effective).map_err(|e| std::io::Error::other(e.to_string()))?;
                f()
            })
            .join()
            .expect("caller thread panicked")
    })
}

/// Opens `path` for reading with the caller's own permissions, without waiting: a FIFO
/// named where a namespace file was expected must not hang the command.
pub fn open(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    as_caller(|| std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path))
}

/// Creates (or truncates) `path` for writing with the caller's own permissions.
pub fn create(path: &Path) -> std::io::Result<File> {
    as_caller(|| File::create(path))
}

/// Reads `path` whole with the caller's own permissions.
pub fn read(path: &Path) -> std::io::Result<Vec<u8>> {
    as_caller(|| std::fs::read(path))
}

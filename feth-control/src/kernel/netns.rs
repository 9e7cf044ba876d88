//! Network namespaces: named ones (`ip netns` style: bind mounts under /run/netns), and the one
//! a user end is in now, found from its wire end's link-netnsid.
use std::{
    collections::HashMap,
    fmt,
    fs::File,
    os::{fd::AsFd as _, unix::fs::MetadataExt as _},
    path::{Path, PathBuf},
};

use nix::{
    sched::{CloneFlags, setns},
    sys::statfs::{NSFS_MAGIC, statfs},
};

use crate::{
    error::{FethError, Result},
    kernel::rtnl::{Rtnl, runtime},
};

pub const NETNS_DIR: &str = "/run/netns";

/// Where a user end lives, as something the loader can enter.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Netns {
    /// The loader's own namespace (where the wire ends are).
    Own,
    /// A named namespace, `/run/netns/NAME`.
    Named(String),
    /// A namespace no name leads to, held by a process: `/proc/PID/ns/net`.
    Process(u32),
    /// A namespace file given by path (`path:FILE`): a bind mount outside /run/netns, or a
    /// process's `/proc/PID/ns/net`.
    File(PathBuf),
    /// A namespace with this id (relative to the loader's) that neither a name nor a process
    /// leads to: it cannot be entered.
    Unreachable(i32),
}

impl Netns {
    /// From a `--netns` argument: `NAME` (`/run/netns/NAME`, which may not exist yet),
    /// `pid:PID`, `path:FILE`, `docker:CONTAINER` or `podman:CONTAINER`; `None` is the
    /// loader's own. Everything but a name must lead to a namespace now.
    pub fn from_arg(arg: Option<&str>) -> Result<Netns> {
        let Some(arg) = arg else { return Ok(Netns::Own) };
        let ns = match arg.split_once(':') {
            Some(("pid", pid)) => {
                let pid = pid.parse().map_err(|_| FethError::Invalid(format!("{arg}: pid: takes a process id")))?;
                Netns::Process(pid)
            }
            Some(("path", path)) => Netns::File(PathBuf::from(path)),
            Some((engine @ ("docker" | "podman"), container)) => Netns::Process(container_pid(engine, container)?),
            Some((kind, _)) => {
                return Err(FethError::Invalid(format!(
                    "{arg}: unknown namespace kind {kind}: (use NAME, pid:PID, path:FILE, docker:NAME or podman:NAME)"
                )));
            }
            None => {
                check_name(arg)?;
                return Ok(Netns::Named(arg.to_owned()));
            }
        };
        // What the caller names is opened with the caller's own permissions (crate::kernel::caller):
        // a namespace of a process it does not own is not its to place interfaces in.
        let path = ns.path().expect("a pid or a file");
        match crate::kernel::caller::open(&path) {
            Ok(file) if statfs(&path).is_ok_and(|st| st.filesystem_type() == NSFS_MAGIC) => {
                drop(file);
                Ok(ns)
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Err(FethError::NotPermitted(format!(
                "{arg}: this user may not open that network namespace ({}), so feth will not place interfaces in it",
                path.display()
            ))),
            _ => Err(FethError::NoSuchNetns(arg.to_owned())),
        }
    }

    /// Whether two handles lead to the same namespace (a pid and a name may).
    pub fn same_as(&self, other: &Netns) -> bool {
        let inode = |ns: &Netns| -> Option<(u64, u64)> {
            let path = match ns {
                Netns::Own => PathBuf::from("/proc/self/ns/net"),
                other => other.path()?,
            };
            std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
        };
        self == other || inode(self).is_some_and(|i| Some(i) == inode(other))
    }

    /// The name users read (`show`): `None` for the loader's own.
    pub fn label(&self) -> Option<String> {
        match self {
            Netns::Own => None,
            Netns::Named(n) => Some(n.clone()),
            Netns::Process(pid) => Some(format!("pid:{pid}")),
            Netns::File(path) => Some(format!("path:{}", path.display())),
            Netns::Unreachable(id) => Some(format!("nsid:{id}")),
        }
    }

    pub fn path(&self) -> Option<PathBuf> {
        match self {
            Netns::Own | Netns::Unreachable(_) => None,
            Netns::Named(n) => Some(Path::new(NETNS_DIR).join(n)),
            Netns::Process(pid) => Some(PathBuf::from(format!("/proc/{pid}/ns/net"))),
            Netns::File(path) => Some(path.clone()),
        }
    }

    /// Runs `f` on a thread inside this namespace (directly for the loader's own). Netlink and
    /// ioctl sockets opened inside `f` belong to that namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
        match self.path() {
            None if *self == Netns::Own => f(),
            None => Err(FethError::UnreachableNetns(self.label().unwrap_or_default())),
            Some(path) => {
                let file = File::open(&path).map_err(|_| FethError::NoSuchNetns(self.label().unwrap_or_default()))?;
                run_in_file(&file, f)
            }
        }
    }
}

impl fmt::Display for Netns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label().unwrap_or_else(|| "the loader's namespace".into()))
    }
}

/// Moves the calling thread into the network namespace open as `ns`: the one place feth calls
/// setns. Async-signal-safe, so usable between fork and exec.
pub fn enter(ns: &File) -> std::io::Result<()> {
    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
}

/// Runs `f` on a scoped thread that has entered the network namespace open as `ns`.
pub fn run_in_file<T: Send>(ns: &File, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter(ns).map_err(|e| match e.raw_os_error() {
                    Some(libc::EPERM) => FethError::NotPermitted(
                        "entering a network namespace needs CAP_SYS_ADMIN: run as root, or see \"Without root\" in the README"
                            .into(),
                    ),
                    _ => FethError::Io { context: "enter network namespace".into(), cause: e },
                })?;
                f()
            })
            .join()
            .expect("namespace thread panicked")
    })
}

/// A new network namespace that nothing names: it lives while the returned file (or a thread
/// inside it) does, so it cannot be left behind by a crash. Made on a thread of its own, which
/// unshares and ends.
pub fn private() -> Result<File> {
    std::thread::spawn(|| {
        nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(|e| match e {
            nix::errno::Errno::EPERM => FethError::NotPermitted(
                "creating a network namespace needs CAP_SYS_ADMIN: run as root, or see \"Without root\" in the README"
                    .into(),
            ),
            e => FethError::Io { context: "create a network namespace".into(), cause: e.into() },
        })?;
        File::open("/proc/thread-self/ns/net")
            .map_err(|e| FethError::Io { context: "open the new network namespace".into(), cause: e })
    })
    .join()
    .expect("namespace thread panicked")
}

/// Opens a named namespace.
pub fn open(name: &str) -> Result<File> {
    File::open(Path::new(NETNS_DIR).join(name)).map_err(|_| FethError::NoSuchNetns(name.to_owned()))
}

/// Runs `f` inside the named namespace, or in the loader's own for `None`.
pub fn run_in<T: Send>(name: Option<&str>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    Netns::from_arg(name)?.run(f)
}

/// How long a container engine may take to say where a container is (a cold Podman on a slow
/// machine takes a second or two; a hung daemon would take forever).
const INSPECT_LIMIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The process holding a container's network namespace, from its engine's CLI (run as
/// `crate::kernel::helper` runs programs: from a system directory, clean, without capabilities).
fn container_pid(engine: &str, container: &str) -> Result<u32> {
    let refuse = |why: String| FethError::Invalid(format!("{engine}:{container}: {why}"));
    let Some(mut cmd) = crate::kernel::helper::command(engine) else {
        return Err(refuse(format!(
            "{engine} is not installed (feth runs it only from {})",
            crate::kernel::helper::DIRS.join(", ")
        )));
    };
    cmd.args(["inspect", "--format", "{{.State.Pid}}", container]);
    let out = crate::kernel::helper::output_within(&mut cmd, INSPECT_LIMIT)
        .map_err(|e| refuse(format!("the {engine} command did not run ({e})")))?
        .ok_or_else(|| refuse(format!("{engine} inspect did not answer within {} s", INSPECT_LIMIT.as_secs())))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(refuse(format!("{engine} inspect failed: {}", err.lines().next().unwrap_or("").trim())));
    }
    match String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() {
        Ok(0) => Err(refuse("the container is not running".into())),
        Ok(pid) => Ok(pid),
        Err(_) => Err(refuse(format!("{engine} inspect gave no process id"))),
    }
}

pub fn exists(name: &str) -> bool {
    Path::new(NETNS_DIR).join(name).exists()
}

pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." || name.len() > 255 {
        return Err(FethError::NoSuchNetns(name.to_owned()));
    }
    Ok(())
}

/// Creates the named namespace unless it exists; true when it did. A command asks through
/// `Context::ensure_netns`, which may refuse (`--no-create-netns`).
pub fn ensure(name: &str) -> Result<bool> {
    check_name(name)?;
    if exists(name) {
        return Ok(false);
    }
    // Named namespaces are files in /run/netns, which belongs to root.
    let dir = Path::new(NETNS_DIR);
    let parent = if dir.exists() { dir } else { dir.parent().unwrap_or(dir) };
    if !crate::kernel::privilege::may_write(parent) {
        return Err(FethError::NotPermitted(format!(
            "creating network namespace {name} needs write access to {} (CAP_DAC_OVERRIDE); create it first with `ip netns add {name}`",
            parent.display()
        )));
    }
    runtime()
        .block_on(rtnetlink::NetworkNamespace::add(name.to_owned()))
        .map_err(|source| FethError::Netlink { context: format!("create network namespace {name}"), cause: source })?;
    Ok(true)
}

/// Removes a named namespace (and every interface still in it).
pub fn delete(name: &str) -> Result<()> {
    runtime()
        .block_on(rtnetlink::NetworkNamespace::del(name.to_owned()))
        .map_err(|source| FethError::Netlink { context: format!("delete network namespace {name}"), cause: source })
}

/// Turns link-netnsids (relative to the loader's namespace) into namespaces the loader can
/// enter: named namespaces first, then any process's. An id is not a handle, so each
/// candidate is asked for its id (`RTM_GETNSID`).
pub fn resolve(rtnl: &Rtnl, ids: &[i32]) -> HashMap<i32, Netns> {
    let mut found = HashMap::new();
    if ids.is_empty() {
        return found;
    }
    let mut seen_inodes = std::collections::HashSet::new();
    let mut consider = |candidate: Netns, found: &mut HashMap<i32, Netns>| {
        let Some(path) = candidate.path() else { return };
        let Ok(file) = File::open(&path) else { return };
        if !file.metadata().is_ok_and(|m| seen_inodes.insert((m.dev(), m.ino()))) {
            return;
        }
        if let Ok(Some(id)) = rtnl.nsid_of(file.as_fd())
            && ids.contains(&id)
        {
            found.entry(id).or_insert(candidate);
        }
    };
    let mut names: Vec<String> = std::fs::read_dir(NETNS_DIR)
        .map(|d| d.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort();
    for name in names {
        consider(Netns::Named(name), &mut found);
    }
    if found.len() < ids.len() {
        let mut pids: Vec<u32> = std::fs::read_dir("/proc")
            .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
            .unwrap_or_default();
        pids.sort();
        for pid in pids {
            if found.len() == ids.len() {
                break;
            }
            consider(Netns::Process(pid), &mut found);
        }
    }
    for id in ids {
        found.entry(*id).or_insert(Netns::Unreachable(*id));
    }
    found
}

//! A test's own world: a network namespace for the loader (where its wire ends live) and a
//! mount namespace with a bpffs of its own at /sys/fs/bpf (its pins and lock). Every
//! `feth-loader` the test runs enters both, so tests run in parallel and never see or touch
//! the machine's own feth interfaces, pins or lock. Dropping the world ends its holder process
//! (by its pid) and deletes the namespace, which takes every interface made in it along.
use std::{
    cell::RefCell,
    fs::File,
    os::{fd::AsFd as _, unix::process::CommandExt as _},
    process::{Child, Command, Stdio},
    sync::Arc,
};

use nix::{
    mount::{MsFlags, mount},
    sched::{CloneFlags, setns, unshare},
};

use crate::netns::NetNs;

/// What a child process needs to enter a world.
#[derive(Clone)]
pub struct Handles {
    net: Arc<File>,
    mnt: Arc<File>,
}

thread_local! {
    static CURRENT: RefCell<Option<Handles>> = const { RefCell::new(None) };
    static CURRENT_NET: RefCell<Option<String>> = const { RefCell::new(None) };
}

pub struct World {
    /// The loader's network namespace.
    pub net: NetNs,
    holder: Child,
    handles: Handles,
}

impl World {
    /// A new world, current for the calling thread until dropped.
    pub fn new() -> World {
        World::build(false)
    }

    /// A world whose `/run/netns` is its own too: named namespaces made in it (`ip netns add`,
    /// `--netns NAME`) are invisible outside, and names the machine already uses are free in it.
    /// For scripts that pick their own namespace names (the docs' examples).
    pub fn with_own_named_netns() -> World {
        World::build(true)
    }

    fn build(own_run_netns: bool) -> World {
        if own_run_netns {
            std::fs::create_dir_all("/run/netns").expect("create /run/netns");
        }
        let net = NetNs::new("w");
        let mut holder = Command::new("sleep");
        holder.arg("infinity").stdin(Stdio::null());
        // SAFETY: only async-signal-safe calls (unshare, mount) between fork and exec.
        unsafe {
            holder.pre_exec(move || {
                // Dies with the test's thread even if the test process is killed.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                unshare(CloneFlags::CLONE_NEWNS)?;
                // Slave: the host's new mounts (named namespaces the test makes) still appear
                // here; nothing mounted here reaches the host.
                mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>)?;
                mount(Some("bpf"), "/sys/fs/bpf", Some("bpf"), MsFlags::empty(), None::<&str>)?;
                if own_run_netns {
                    mount(Some("tmpfs"), "/run/netns", Some("tmpfs"), MsFlags::empty(), Some("mode=0755"))?;
                }
                Ok(())
            });
        }
        let holder = holder.spawn().expect("start the world's mount namespace holder");
        let mnt = crate::wait_until(crate::pair::WAIT, || {
            let own = std::fs::read_link("/proc/self/ns/mnt").ok();
            std::fs::read_link(format!("/proc/{}/ns/mnt", holder.id())).ok().is_some_and(|m| Some(m) != own)
        });
        assert!(mnt, "the holder entered its own mount namespace");
        let mnt = File::open(format!("/proc/{}/ns/mnt", holder.id())).expect("open the world's mount namespace");
        let netfile = File::open(format!("/run/netns/{}", net.name)).expect("open the world's network namespace");
        let handles = Handles { net: Arc::new(netfile), mnt: Arc::new(mnt) };
        CURRENT.with(|c| *c.borrow_mut() = Some(handles.clone()));
        CURRENT_NET.with(|c| *c.borrow_mut() = Some(net.name.clone()));
        World { net, holder, handles }
    }

    pub fn handles(&self) -> Handles {
        self.handles.clone()
    }

    /// Makes this world current on another thread (one the test spawned).
    pub fn enter_thread(handles: Handles) {
        CURRENT.with(|c| *c.borrow_mut() = Some(handles));
    }
}

/// `program` set to start inside the current thread's world.
pub fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    enter_current(&mut cmd);
    cmd
}

/// A shell command run inside the current thread's world (its bpffs, its namespace); returns
/// whether it succeeded.
pub fn sh(script: &str) -> bool {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    enter_current(&mut cmd);
    cmd.status().expect("run sh").success()
}

/// stdout of a shell command run inside the current thread's world.
pub fn sh_out(script: &str) -> String {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    enter_current(&mut cmd);
    String::from_utf8(cmd.output().expect("run sh").stdout).expect("utf-8")
}

/// The current world's network namespace (where the loader keeps its wire ends).
pub fn current_net() -> NetNs {
    let name = CURRENT_NET.with(|c| c.borrow().clone()).expect("a world is current");
    NetNs::existing(&name)
}

/// Whether `mode`'s program is attached to `wire` in the current world: a pinned link, or for
/// tc a cls_bpf filter on the device (the netlink path, which pins nothing).
pub fn attached(wire: &str, mode: &str) -> bool {
    exists(&format!("{}/links/{wire}_{mode}", crate::LAYOUT))
        || mode == "tc" && sh(&format!("tc filter show dev {wire} ingress | grep -q bpf"))
}

/// Whether `path` exists in the current world's mount namespace (its bpffs).
pub fn exists(path: &str) -> bool {
    sh(&format!("test -e '{path}'"))
}

impl Default for World {
    fn default() -> Self {
        World::new()
    }
}

/// Makes `cmd` start inside the current thread's world, if it has one.
pub fn enter_current(cmd: &mut Command) {
    if let Some(handles) = CURRENT.with(|c| c.borrow().clone()) {
        enter(cmd, &handles);
    }
}

fn enter(cmd: &mut Command, handles: &Handles) {
    let handles = handles.clone();
    // SAFETY: setns is async-signal-safe; the fds stay open in the closure until exec.
    unsafe {
        cmd.pre_exec(move || {
            setns(handles.mnt.as_fd(), CloneFlags::CLONE_NEWNS)?;
            feth_control::kernel::netns::enter(&handles.net)
        });
    }
}

impl Drop for World {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
        CURRENT_NET.with(|c| *c.borrow_mut() = None);
        // Our own child, by its pid.
        let _ = self.holder.kill();
        let _ = self.holder.wait();
        // `net` drops next: deleting the namespace deletes every wire end and with it every
        // user end, wherever it was moved.
    }
}

//! Named network namespaces (`ip netns` style: bind mounts under /run/netns).
use std::{fs::File, os::fd::AsRawFd, path::PathBuf};

use crate::error::{Context as _, FethError, Result};

pub const NETNS_DIR: &str = "/run/netns";

fn path(name: &str) -> PathBuf {
    PathBuf::from(NETNS_DIR).join(name)
}

pub fn exists(name: &str) -> bool {
    path(name).exists()
}

pub fn open(name: &str) -> Result<File> {
    File::open(path(name)).map_err(|_| FethError::NoSuchNetns(name.to_owned()))
}

/// Creates the named namespace unless it exists.
pub fn ensure(name: &str) -> Result<()> {
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(FethError::NoSuchNetns(name.to_owned()));
    }
    if exists(name) {
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    rt.block_on(rtnetlink::NetworkNamespace::add(name.to_owned()))
        .map_err(|source| FethError::Netlink { context: format!("create network namespace {name}"), cause: source })
}

/// Removes a named namespace (and every interface still in it).
pub fn delete(name: &str) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
    rt.block_on(rtnetlink::NetworkNamespace::del(name.to_owned()))
        .map_err(|source| FethError::Netlink { context: format!("delete network namespace {name}"), cause: source })
}

/// Runs `f` on a thread that has entered namespace `ns` (or in the loader's own namespace for
/// `None`). Netlink and ioctl sockets opened inside `f` belong to that namespace.
pub fn run_in<T: Send>(ns: Option<&str>, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let Some(ns) = ns else { return f() };
    let file = open(ns)?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                // SAFETY: setns on an fd we own, affecting only this thread.
                if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                    return Err(std::io::Error::last_os_error()).context(format!("enter network namespace {ns}"));
                }
                f()
            })
            .join()
            .expect("namespace thread panicked")
    })
}

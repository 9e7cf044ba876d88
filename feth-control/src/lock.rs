//! One exclusive lock for every command: test benches run feth-loader in parallel.
//!
//! flock is released by the kernel when the holder dies, so a killed command never leaves a
//! stale lock; the lock file itself holds no state.
use std::{fs::File, os::fd::AsRawFd as _};

use crate::error::{Context as _, Result};

const LOCK_PATH: &str = "/run/feth-loader.lock";

pub struct Lock(#[expect(dead_code, reason = "held for its Drop")] File);

pub fn exclusive() -> Result<Lock> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(LOCK_PATH)
        .context(format!("open {LOCK_PATH}"))?;
    // SAFETY: flock on an fd we own; blocks until the previous command is done.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error()).context(format!("lock {LOCK_PATH}"));
    }
    Ok(Lock(file))
}

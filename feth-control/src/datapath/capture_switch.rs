//! The data path's capture switch (`Settings::capture`) and who holds it: a running capture
//! (`crate::observe::capture`) holds an exclusive flock on the layout directory, so a switch left
//! on with the flock free belongs to a capture that was killed.
use std::{fs::File, os::fd::AsRawFd as _};

use feth_common::{Settings, capture::SLOT_MASK};

use crate::{
    error::{Context as _, Result},
    kernel::bpffs::StateDir,
};

/// Whether a capture holds the layout directory (`Err`: none can be told).
pub fn hold(state: &StateDir) -> Result<Option<File>> {
    let dir = state.layout_dir();
    let file = File::open(&dir).context(format!("open {}", dir.display()))?;
    // SAFETY: flock on an fd we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 { Ok(Some(file)) } else { Ok(None) }
}

/// The capture switch off, and what it told the data path with it.
pub fn switch_off(settings: &mut Settings) {
    settings.capture = 0;
    settings.capture_mtu = 0;
}

/// Repair step: the capture switch is on but no capture holds the layout directory (one was
/// killed): switch it off, so frames stop paying for a capture nobody reads.
pub fn clear_if_stale(state: &StateDir, settings: &mut Settings) -> Result<bool> {
    if settings.capture & SLOT_MASK == 0 || !state.layout_dir().exists() {
        return Ok(false);
    }
    if hold(state)?.is_none() {
        return Ok(false);
    }
    switch_off(settings);
    Ok(true)
}

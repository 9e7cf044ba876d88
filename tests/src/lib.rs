//! Helpers for the kernel end-to-end tests: namespace guards, the real `feth-loader` binary,
//! rtnetlink reads inside a namespace, and raw frames through packet sockets.
//!
//! Tests use `unwrap`/`expect`: a failure should point at the line.
pub mod bench;
pub mod frames;
pub mod loader;
pub mod netns;

use std::time::{Duration, Instant};

/// Serialises the kernel tests of one binary: they share the loader's pinned state.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls `cond` until it holds or `timeout` passes; returns whether it held. Never a fixed sleep.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

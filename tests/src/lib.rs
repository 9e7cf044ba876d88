//! Helpers for the kernel end-to-end tests: namespace guards, the real `feth-loader` binary,
//! rtnetlink reads inside a namespace, and raw frames through packet sockets.
//!
//! Tests use `unwrap`/`expect`: a failure should point at the line.
/// The current layout's directory under the default state directory (what tests inspect).
pub const LAYOUT: Layout = Layout;
/// Its name, for tests that move pins around.
pub const LAYOUT_NAME: &str = feth_common::names::LAYOUT_DIR;

/// Displays as the current layout's directory, `/sys/fs/bpf/feth/v<N>`.
#[derive(Clone, Copy, Debug)]
pub struct Layout;

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{LAYOUT_NAME}", feth_common::names::DEFAULT_BPFFS_DIR)
    }
}

pub mod frames;
pub mod loader;
pub mod netns;
pub mod pair;
pub mod world;

use std::time::{Duration, Instant};

/// The test's own world (loader namespace, bpffs, lock); kernel tests start with this.
pub fn world() -> world::World {
    world::World::new()
}

/// Whether the running kernel is at least `major.minor`.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("kernel release");
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).filter_map(|p| p.parse::<u32>().ok());
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (major, minor)
}

/// Whether netkit mode runs here, asked of the loader once per test binary inside the calling
/// test's world: a kernel without netkit must refuse it in one sentence and change nothing.
pub fn netkit_here() -> bool {
    static HERE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HERE.get_or_init(|| {
        let _probe = loader::Ports::new(&["fethnkprobe"]);
        let before = loader::show_state();
        let out = loader::run(&["create", "fethnkprobe", "--mode", "netkit"]);
        if out.status.success() {
            return true;
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("netkit mode needs netkit devices") && err.lines().count() == 1, "{err}");
        assert_eq!(loader::show_state(), before, "the refusal changed nothing");
        false
    })
}

/// Whether XDP mode crosses jumbo frames here (multi-buffer XDP redirect, Linux 6.3).
pub fn xdp_jumbo() -> bool {
    kernel_at_least(6, 3)
}

/// `d` stretched by `FETH_TEST_SLOWDOWN` (default 1): under emulation (the kernel matrix runs
/// the suite in QEMU without KVM) everything takes many times longer, and every bounded wait
/// grows with it.
pub fn scaled(d: Duration) -> Duration {
    static FACTOR: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    d * *FACTOR.get_or_init(|| {
        std::env::var("FETH_TEST_SLOWDOWN").ok().and_then(|v| v.parse().ok()).filter(|f| *f >= 1).unwrap_or(1)
    })
}

/// Polls `cond` until it holds or `timeout` (scaled) passes; returns whether it held. Never a
/// fixed sleep.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + scaled(timeout);
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

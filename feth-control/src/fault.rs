//! Fault injection for the failure-matrix tests: `FETH_FAULT=<point>` makes the command kill
//! itself (SIGKILL, nothing runs after) when it reaches that point, as a user's Ctrl-C, an OOM
//! kill or a power cut would at the worst moment. Unset, each point is one environment read.
//!
//! Only builds with the `fault-points` feature (the ones `cargo xtask test` makes) read
//! `FETH_FAULT`; in every other build, the package's included, a point is nothing.

/// The points, in the order a command passes them. Tests iterate over this list.
pub const POINTS: &[&str] = &[
    "create:veth-made",
    "peer:first-record",
    "converge:attached",
    "converge:maps",
    "unpeer:first-record",
    "destroy:marked",
    "destroy:deleted",
];

/// Dies here if asked to.
#[cfg(feature = "fault-points")]
pub fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown fault point {name}");
    if std::env::var_os("FETH_FAULT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

/// Without the `fault-points` feature a point is nothing.
#[cfg(not(feature = "fault-points"))]
#[inline(always)]
pub fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown fault point {name}");
}

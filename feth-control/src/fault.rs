//! Fault injection for the failure-matrix tests: `FETH_FAULT=<point>` makes the command kill
//! itself (SIGKILL, nothing runs after) when it reaches that point, as a user's Ctrl-C, an OOM
//! kill or a power cut would at the worst moment. Unset, each point is one environment read.

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
pub fn point(name: &str) {
    debug_assert!(POINTS.contains(&name), "unknown fault point {name}");
    if std::env::var_os("FETH_FAULT").is_some_and(|v| v == name) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}

//! Topology files (`apply FILE`, the boot unit): refused with a line, or planned, never a
//! panic. `docker:`/`podman:` namespaces run the engine (a process, not a parser): left out.
#![no_main]
use feth_control::{kernel::features::Features, topology::Topology};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if text.contains("docker:") || text.contains("podman:") {
        return;
    }
    // The oldest kernel's features: the strictest checks, and no probe in a fuzz loop.
    let features = Features::NONE;
    let _ = Topology::parse("fuzz.toml", text, &features);
});

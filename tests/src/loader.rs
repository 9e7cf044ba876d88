//! The real `feth-loader` binary, as a user runs it.
use std::{
    path::PathBuf,
    process::{Command, Output},
};

/// Path of the binary under test: `FETH_LOADER` (set by `cargo xtask test`), else the release
/// build in this workspace.
pub fn binary() -> PathBuf {
    let path = std::env::var_os("FETH_LOADER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/feth-loader"));
    // Absolute: entering a world's mount namespace moves the working directory to its root.
    std::path::absolute(path).expect("absolute path of feth-loader")
}

/// `feth-loader` as the current test's world runs it (its namespaces, its bpffs).
pub fn command() -> Command {
    let mut cmd = Command::new(binary());
    crate::world::enter_current(&mut cmd);
    cmd
}

pub fn run(args: &[&str]) -> Output {
    command().args(args).output().expect("run feth-loader")
}

/// Runs and expects success; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(out.status.success(), "feth-loader {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Runs and expects failure; returns stderr (one sentence).
pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "feth-loader {args:?} unexpectedly succeeded");
    let err = String::from_utf8(out.stderr).expect("utf-8 stderr");
    assert_eq!(err.trim_end().lines().count(), 1, "error is not one line: {err:?}");
    err
}

/// `show --json` as a value.
pub fn show_json() -> serde_json::Value {
    serde_json::from_str(&ok(&["show", "--json"])).expect("show --json is JSON")
}

/// One interface's counters as `stats NAME --json` reports them.
pub fn counters(name: &str) -> serde_json::Value {
    let stats: serde_json::Value = serde_json::from_str(&ok(&["stats", name, "--json"])).expect("stats --json is JSON");
    stats[0]["counters"].clone()
}

/// `show --json` without the fields that change by themselves (counters).
pub fn show_state() -> serde_json::Value {
    let mut v = show_json();
    for port in v.as_array_mut().expect("array") {
        port.as_object_mut().expect("object").remove("counters");
    }
    v
}

/// Destroys the named feth interfaces when dropped, so a failed test leaves none behind.
pub struct Ports(pub Vec<String>);

impl Ports {
    pub fn new(names: &[&str]) -> Ports {
        Ports(names.iter().map(|s| s.to_string()).collect())
    }
}

impl Drop for Ports {
    fn drop(&mut self) {
        let mut args = vec!["down"];
        args.extend(self.0.iter().map(String::as_str));
        // Never panic here: this may run while a failed assertion unwinds.
        let _ = command().args(&args).output();
    }
}

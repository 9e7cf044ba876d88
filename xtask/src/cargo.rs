//! Builds and runs with the pinned nightly.
use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use crate::setup::{nightly, status};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// `cargo` of the pinned nightly, without what the outer (stable) cargo put in the environment.
pub fn nightly_cargo() -> Command {
    toolchain_cargo(nightly())
}

/// `cargo` of `toolchain`, without what the outer cargo put in the environment.
fn toolchain_cargo(toolchain: &str) -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", toolchain, "cargo"]).current_dir(workspace_root());
    for var in
        ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTC_WRAPPER", "RUSTDOC", "CARGO", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"]
    {
        cmd.env_remove(var);
    }
    cmd
}

/// The binary users get (`run`, `install`, `dist`): without test hooks.
pub fn build_loader() -> Result<PathBuf, String> {
    build_loader_for(&[])
}

/// The whole binary, traffic generator included: what `install` and `bench` need.
pub fn build_full_loader() -> Result<PathBuf, String> {
    build_loader_for(&[TRAFFIC_COMMANDS[0].to_owned()])
}

/// Commands of feth-loader that need its feature "traffic" (the benchmark's crate).
const TRAFFIC_COMMANDS: &[&str] = &["gen", "sink", "bench"];

/// The binary `cargo xtask run -- ARGS` needs: without the benchmark's crate, its eBPF
/// programs and its plotting unless ARGS is one of their commands, so that a first `up` on a
/// fresh machine compiles less (about 75 s of compile units in a `--timings` build). The
/// binary says how to get them if asked; switching between the two builds relinks
/// feth-loader only.
pub fn build_loader_for(args: &[String]) -> Result<PathBuf, String> {
    let mut cargo = nightly_cargo();
    cargo.args(["build", "--release", "--package", "feth-loader"]);
    if !args.first().is_some_and(|c| TRAFFIC_COMMANDS.contains(&c.as_str())) {
        cargo.arg("--no-default-features");
    }
    status(&mut cargo)?;
    Ok(workspace_root().join("target/release/feth-loader"))
}

/// The binary the packages ship: linked statically against musl, so one build runs on every
/// distribution whatever its libc (Debian 11 has glibc 2.31); the eBPF objects are embedded as
/// in every build. It lands in target/x86_64-unknown-linux-musl/release/.
pub fn build_static_loader() -> Result<PathBuf, String> {
    use crate::setup::{STATIC_TARGET, STATIC_TOOLCHAIN};
    crate::setup::static_toolchain()?;
    status(toolchain_cargo(STATIC_TOOLCHAIN).args([
        "build",
        "--release",
        "--package",
        "feth-loader",
        "--target",
        STATIC_TARGET,
    ]))?;
    Ok(static_release_dir().join("feth-loader"))
}

/// Where the static build's outputs go (cargo-deb and cargo-generate-rpm read `target/release/`
/// in their asset lists as this directory when given `--target`).
pub fn static_release_dir() -> PathBuf {
    workspace_root().join("target").join(crate::setup::STATIC_TARGET).join("release")
}

/// The feature the test builds add: the failure matrix's FETH_FAULT points (feth-control's
/// fault.rs), which the binary users get does not carry.
pub const TEST_FEATURES: &str = "feth-control/fault-points";

/// The binary the kernel tests run: `build_loader` with the test hooks, copied to a path of
/// its own so that a later build of the users' binary cannot replace it under the suite.
pub fn build_test_loader() -> Result<PathBuf, String> {
    status(nightly_cargo().args(["build", "--release", "--package", "feth-loader", "--features", TEST_FEATURES]))?;
    let built = workspace_root().join("target/release/feth-loader");
    let bin = workspace_root().join("target/release/feth-loader-test");
    // Copied beside it, then renamed over it: a suite still running the old one (another
    // kernel's VM, side by side in CI) keeps its file whole.
    let next = bin.with_extension("new");
    std::fs::copy(&built, &next).map_err(|e| format!("copy {} to {}: {e}", built.display(), next.display()))?;
    std::fs::rename(&next, &bin).map_err(|e| format!("rename {} to {}: {e}", next.display(), bin.display()))?;
    Ok(bin)
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// Runs as root: directly when we are root, through sudo otherwise.
fn as_root(program: &Path) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut cmd = Command::new("sudo");
        cmd.arg("--preserve-env=PATH").arg(program);
        cmd
    }
}

pub fn run_as_root(bin: &Path, args: &[String]) -> Result<(), String> {
    status(as_root(bin).args(args))
}

pub fn install(bin: &Path) -> Result<(), String> {
    status(as_root(Path::new("install")).args(["-m", "0755"]).arg(bin).arg("/usr/local/bin/feth-loader"))?;
    eprintln!("xtask: installed /usr/local/bin/feth-loader");
    Ok(())
}

/// rustfmt, then clippy in two passes: user space, and the eBPF crates for the bpf target.
pub fn lint() -> Result<(), String> {
    status(Command::new("cargo").args(["fmt", "--all", "--check"]).current_dir(workspace_root()))?;
    let clippy = |args: &[&str]| {
        let mut cmd = Command::new("rustup");
        cmd.args(["run", crate::setup::LINT_NIGHTLY, "cargo", "clippy"]).args(args).current_dir(workspace_root());
        for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTC_WRAPPER", "CARGO"] {
            cmd.env_remove(var);
        }
        cmd
    };
    status(&mut clippy(&[
        "--release",
        "-p",
        "feth-common",
        "-p",
        "feth-control",
        "-p",
        "feth-bench",
        "-p",
        "feth-loader",
        "-p",
        "xtask",
        "-p",
        "feth-tests",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    status(
        clippy(&[
            "-p",
            "feth-ebpf",
            "-p",
            "feth-bench-ebpf",
            "--release",
            "--target",
            "bpfel-unknown-none",
            "-Z",
            "build-std=core",
            "--target-dir",
            "target/clippy-ebpf",
            "--",
            "-D",
            "warnings",
        ])
        .env("CARGO_ENCODED_RUSTFLAGS", "--cfg=bpf_target_arch=\"x86_64\""),
    )
}

/// Unit tests of every crate, then the kernel end-to-end suite, as root, around a feth pair in
/// the machine's own state that the suite must leave untouched.
pub fn test(extra: &[String]) -> Result<(), String> {
    let bin = build_test_loader()?;
    if !is_root() {
        return Err("the kernel tests create interfaces and namespaces: run `cargo xtask test` as root".into());
    }
    let host = crate::host::HostPair::up(&bin)?;
    // Once with the default TC attach path (clsact + cls_bpf through netlink), once with TCX
    // links (6.6+), so both are covered on every run (the 6.1 VM has no TCX).
    let suite = run_suite(&bin, extra, None).and_then(|()| run_suite(&bin, extra, Some("tcx")));
    let kept = host.check(|envs| {
        let mut cmd = nightly_cargo();
        // The suite's features, so the suite's build is reused rather than redone without them.
        cmd.args(["test", "--release", "-p", "feth-tests", "--features", TEST_FEATURES, "--test", "host"])
            .args(["--", "--ignored"])
            .envs(envs.iter().copied());
        status(&mut cmd)
    });
    host.down();
    suite?;
    kept
}

fn run_suite(bin: &Path, extra: &[String], tc_attach: Option<&str>) -> Result<(), String> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let path = tc_attach.map_or("TC attach through netlink".to_owned(), |p| format!("FETH_TC_ATTACH={p}"));
    let label = format!("kernel {}, {path}; {}", kernel.trim(), container_engines());
    eprintln!("xtask: kernel suite with {label}");
    let mut cargo = nightly_cargo();
    if let Some(path) = tc_attach {
        cargo.env("FETH_TC_ATTACH", path);
    }
    let child = cargo
        // No doc tests and not xtask itself (neither has tests): the last runner line is then a
        // suite that ran.
        .args(["test", "--release", "--workspace", "--exclude", "xtask", "--no-fail-fast", "--lib", "--tests"])
        .args(["--features", TEST_FEATURES])
        .env("FETH_LOADER", bin)
        // Each kernel test owns a world (namespaces, bpffs, lock): they run in parallel. The
        // host pair's own check is ignored here and run after the suite, see `test`.
        .arg("--")
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cargo test could not start: {e}"))?;
    summarize(child, &label)
}

/// Echoes a test run's output and adds up the runners' result lines into one closing summary
/// line that names where the run happened.
pub fn summarize(mut child: std::process::Child, label: &str) -> Result<(), String> {
    let (mut passed, mut failed) = (0u64, 0u64);
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let line = line.map_err(|e| format!("reading cargo test output: {e}"))?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            passed += count_before(rest, " passed");
            failed += count_before(rest, " failed");
        }
    }
    let status = child.wait().map_err(|e| format!("cargo test: {e}"))?;
    println!("summary ({label}): {passed} passed, {failed} failed");
    if status.success() && failed == 0 && passed > 0 { Ok(()) } else { Err(format!("tests failed ({status})")) }
}

/// The number just before `label` in a `test result:` line.
fn count_before(text: &str, label: &str) -> u64 {
    text.split(';')
        .find_map(|part| part.trim().strip_suffix(label.trim_start())?.trim().rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Which container engines the suite could use (`docker:`/`podman:` namespaces are tested
/// with a container only where the engine answers; elsewhere only their refusal).
fn container_engines() -> String {
    ["docker", "podman"]
        .iter()
        .map(|engine| {
            let answers = Command::new(engine).arg("info").output().is_ok_and(|o| o.status.success());
            if answers { format!("{engine} tested") } else { format!("{engine} not running here, refusal only") }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

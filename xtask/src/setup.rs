//! Installs what a fresh machine lacks, checking first so a warm machine costs seconds.
//! Each step pins a fact checked on this machine kind: the aya crates need rustc 1.98 (the pinned
//! nightly), and bpf-linker must be built against the same LLVM major (22) as that rustc.
use std::{path::PathBuf, process::Command};

/// The pinned nightly (rustc 1.98, LLVM 22), shared with feth-loader's build script.
pub const NIGHTLY: &str = include_str!("../../nightly-toolchain");
const LLVM_PACKAGES: &[&str] = &["llvm-22-dev", "libpolly-22-dev", "libzstd-dev", "zlib1g-dev"];
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";
const BPF_LINKER_VERSION: &str = "0.13.0";

pub fn nightly() -> &'static str {
    NIGHTLY.trim()
}

/// The toolchain and bpf-linker side by side: the first is a download, the second an apt-get
/// and a build, so a fresh machine waits for the longer of the two (about 13 s less).
pub fn run() -> Result<(), String> {
    std::thread::scope(|s| {
        let toolchain = s.spawn(toolchain);
        let linker = bpf_linker();
        toolchain.join().unwrap_or_else(|_| Err("installing the toolchain panicked".into())).and(linker)
    })
}

pub(crate) fn status(cmd: &mut Command) -> Result<(), String> {
    let shown = format!("{cmd:?}");
    match cmd.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{shown} failed with {s}")),
        Err(e) => Err(format!("{shown} could not start: {e}")),
    }
}

pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// rustup's toolchain with rust-src (for `-Z build-std=core` on bpfel-unknown-none).
fn toolchain() -> Result<(), String> {
    let installed = output(Command::new("rustup").args(["component", "list", "--installed", "--toolchain", nightly()]))
        .is_some_and(|list| list.lines().any(|l| l.starts_with("rust-src")));
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing toolchain {} with rust-src", nightly());
    // clippy is not built for this nightly: only rust-src is asked for.
    status(Command::new("rustup").args([
        "toolchain",
        "install",
        nightly(),
        "--profile",
        "minimal",
        "--component",
        "rust-src",
    ]))
}

/// The toolchain of the packages' static binary: the pinned nightly has no musl standard
/// library on the registry, this stable release (rustc 1.98, which aya needs) has it. The eBPF
/// objects are still built by the pinned nightly (aya-build names it).
pub const STATIC_TOOLCHAIN: &str = "1.98.0";
pub const STATIC_TARGET: &str = "x86_64-unknown-linux-musl";

pub fn static_toolchain() -> Result<(), String> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed", "--toolchain", STATIC_TOOLCHAIN]))
            .is_some_and(|list| list.lines().any(|l| l.trim() == STATIC_TARGET));
    if installed {
        return Ok(());
    }
    eprintln!("xtask: installing toolchain {STATIC_TOOLCHAIN} with the {STATIC_TARGET} standard library");
    status(Command::new("rustup").args([
        "toolchain",
        "install",
        STATIC_TOOLCHAIN,
        "--profile",
        "minimal",
        "--target",
        STATIC_TARGET,
    ]))
}

pub fn cargo_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"));
    home.join("bin").join(name)
}

pub fn apt_install(packages: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = packages
        .iter()
        .copied()
        .filter(|p| {
            !output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: apt-get install {}", missing.join(" "));
    // Two xtask commands may install at once (CI runs two kernels side by side): the second
    // waits for dpkg's lock instead of failing on it.
    let lock = "DPkg::Lock::Timeout=600";
    status(Command::new("apt-get").args(["-o", lock, "update", "-qq"]))?;
    status(
        Command::new("apt-get")
            .args(["-o", lock, "install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

/// `cargo install TOOL --version VERSION --locked` unless `cargo-TOOL --version` says it is
/// there already (cargo-deb for the package, cargo-fuzz for the fuzz targets).
pub fn cargo_tool(tool: &str, version: &str) -> Result<(), String> {
    if output(Command::new(cargo_bin(tool)).arg("--version")).is_some_and(|v| v.contains(version)) {
        return Ok(());
    }
    eprintln!("xtask: installing {tool} {version} (about a minute)");
    status(
        Command::new("cargo").args(["install", tool, "--version", version, "--locked"]).env_remove("RUSTUP_TOOLCHAIN"),
    )
}

/// bpf-linker built against the same LLVM major as the pinned rustc.
fn bpf_linker() -> Result<(), String> {
    let current = output(Command::new(cargo_bin("bpf-linker")).arg("--version"));
    if current.is_some_and(|v| v.contains(BPF_LINKER_VERSION)) {
        return Ok(());
    }
    apt_install(LLVM_PACKAGES)?;
    eprintln!("xtask: building bpf-linker {BPF_LINKER_VERSION} against LLVM 22 (about a minute)");
    status(
        Command::new("cargo")
            .args([
                "install",
                "bpf-linker",
                "--version",
                BPF_LINKER_VERSION,
                "--locked",
                "--no-default-features",
                "--features",
                "llvm-22",
            ])
            .env("LLVM_PREFIX", LLVM_PREFIX)
            // bpf-linker's release profile carries full debug info, which only its developers
            // read; without it the build takes less time on a fresh machine.
            .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
            .env_remove("RUSTUP_TOOLCHAIN"),
    )
}

/// clippy is not published for the pinned nightly; this later one (rustc 1.99) has it and
/// can check the same code.
pub const LINT_NIGHTLY: &str = "nightly-2026-07-15";

pub fn lint_toolchain() -> Result<(), String> {
    let installed =
        output(Command::new("rustup").args(["component", "list", "--installed", "--toolchain", LINT_NIGHTLY]))
            .is_some_and(|list| {
                list.lines().any(|l| l.starts_with("clippy")) && list.lines().any(|l| l.starts_with("rust-src"))
            });
    if installed {
        return Ok(());
    }
    status(Command::new("rustup").args([
        "toolchain",
        "install",
        LINT_NIGHTLY,
        "--profile",
        "minimal",
        "--component",
        "clippy",
        "--component",
        "rust-src",
    ]))
}

/// Tools only the benchmark uses (iperf3 for the TCP table, sockperf for latency).
pub fn bench_tools() -> Result<(), String> {
    apt_install(&["iperf3", "sockperf"])
}

/// Tools the tests check feth against (bpftool reads the pinned maps' BTF; `ip` plays the
/// user who renames interfaces and edits aliases behind feth's back; Prometheus scrapes the
/// exporter; tshark reads what `capture` writes; ping crosses remote peers; Podman, with runc
/// and a busybox to make an image of, runs the container whose namespace `podman:` names).
pub fn test_tools() -> Result<(), String> {
    apt_install(&[
        "bpftool",
        "busybox-static",
        "iproute2",
        "iputils-ping",
        "podman",
        "prometheus",
        "runc",
        "tcpdump",
        "tshark",
    ])
}

//! The kernel matrix: the whole suite inside QEMU on another kernel (Debian 11's 5.10, 12's
//! 6.1, 13's 6.12), with the host's filesystem visible, so the binaries built here run there as they
//! are. `vm/run-in-vm.sh` boots the kernel (TCG: KVM cannot run a stock kernel on these
//! machines) and runs one command as root; see `vm/` for how.
use std::{
    path::PathBuf,
    process::{Command, Stdio},
};

use crate::{
    cargo::{TEST_FEATURES, build_test_loader, nightly_cargo, summarize, workspace_root},
    kernels::{self, Kernel},
    setup::apt_install,
};

/// CPU work under TCG is 16-35x slower than the host: every bounded wait in the tests grows by
/// this much (FETH_TEST_SLOWDOWN).
const SLOWDOWN: &str = "20";

/// Seconds one test binary may take in the VM and the whole suite (each binary's time is
/// printed; the whole took 11 to 15 minutes): a hang costs CI this much, not its whole budget.
const BINARY_LIMIT: u32 = 900;
const SUITE_LIMIT: &str = "2400";

/// The kernel to boot: one of the matrix (`debian-5.10`, `debian-6.1`, `debian-6.12`, fetched
/// from its Debian suite into the cache, crate::kernels) or a Debian kernel release already in
/// /boot (`6.1.0-56-amd64`).
fn kernel(name: &str) -> Result<Kernel, String> {
    // What vm/build-initramfs.sh and vm/run-in-vm.sh call, besides QEMU and a static busybox.
    apt_install(&["qemu-system-x86", "busybox-static", "cpio", "file", "kmod", "gzip", "xz-utils", "zstd"])?;
    if name.starts_with("debian-") {
        return kernels::fetch(name);
    }
    let release = name.trim_start_matches("/boot/vmlinuz-").to_owned();
    let image = PathBuf::from(format!("/boot/vmlinuz-{release}"));
    if !image.exists() || !PathBuf::from(format!("/lib/modules/{release}")).exists() {
        return Err(format!(
            "--kernel {name}: needs /boot/vmlinuz-{release} and /lib/modules/{release} (a Debian kernel package)"
        ));
    }
    Ok(Kernel { release, image, root: PathBuf::from("/") })
}

/// How QEMU runs the vCPUs for `release`. From 6.2 the kernel patches its XDP dispatcher (a
/// static call) with int3 breakpoints while other CPUs may run it; on Debian 13's 6.12 under
/// multi-threaded TCG the guest was seen to die twice on such a breakpoint nobody had placed
/// any more (an XDP program running while another was attached), never under single-threaded
/// TCG, which runs the vCPUs in turn and so sees every code write at once. Those kernels get
/// one thread; the suite took about as long there. 6.1 keeps one thread per vCPU.
fn tcg_threads(release: &str) -> &'static str {
    if version(release) >= (6, 2) { "single" } else { "multi" }
}

/// (major, minor) of a kernel release such as `6.12.118+deb13-amd64`.
fn version(release: &str) -> (u32, u32) {
    let mut parts = release.split(['.', '-', '+']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The TC attach path the suite takes on `release`: TCX links where the kernel has them (6.6),
/// else clsact + cls_bpf through netlink (the host's suite runs both, crate::cargo::test).
fn tc_attach(release: &str) -> &'static str {
    if version(release) >= (6, 6) { "tcx" } else { "netlink" }
}

/// Test executables of the workspace, built here for the VM to run.
fn test_binaries() -> Result<Vec<String>, String> {
    let out = nightly_cargo()
        .args(["test", "--release", "--workspace", "--exclude", "xtask", "--lib", "--tests", "--no-run"])
        .args(["--features", TEST_FEATURES])
        .args(["--message-format", "json-render-diagnostics"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo test --no-run: {e}"))?;
    if !out.status.success() {
        return Err("building the tests failed".into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut exes: Vec<String> = text
        .lines()
        .filter_map(|l| l.split("\"executable\":\"").nth(1)?.split('"').next().map(str::to_owned))
        .collect();
    exes.dedup();
    Ok(exes)
}

pub fn test(kernel: &str, extra: &[String]) -> Result<(), String> {
    let Kernel { release, image, root } = self::kernel(kernel)?;
    let bin = build_test_loader()?;
    let exes = test_binaries()?;
    let bounded = workspace_root().join("xtask/vm/bounded.sh");
    let mut script = format!("set -u; rc=0; . '{}'\n", bounded.display());
    for exe in &exes {
        // One binary that hangs fails alone, says where it hung, and the others still run.
        script.push_str(&format!(
            "t0=$(date +%s); bounded {BINARY_LIMIT} '{exe}' {} || rc=1; echo \"xtask: {exe} took $(( $(date +%s) - t0 )) s\" >&2\n",
            extra.join(" ")
        ));
    }
    script.push_str("exit $rc\n");
    eprintln!("xtask: booting {release} under QEMU for {} test binaries", exes.len());
    let child = Command::new("bash")
        .arg(workspace_root().join("xtask/vm/run-in-vm.sh"))
        .arg(script)
        .current_dir(workspace_root())
        .env("VM_KVER", &release)
        .env("VM_KERNEL", &image)
        .env("VM_MODROOT", &root)
        .env("VM_TCG_THREAD", tcg_threads(&release))
        .env("VM_TIMEOUT", SUITE_LIMIT)
        .env("VM_ENV", "FETH_LOADER FETH_TEST_SLOWDOWN FETH_TEST_PAIRS FETH_TC_ATTACH")
        .env("FETH_TC_ATTACH", tc_attach(&release))
        // Under emulation the scale test brings up fewer pairs; its assertions are the same.
        .env("FETH_TEST_PAIRS", "256")
        .env("FETH_LOADER", &bin)
        .env("FETH_TEST_SLOWDOWN", SLOWDOWN)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("run-in-vm.sh could not start: {e}"))?;
    summarize(child, &format!("kernel {release} in QEMU, TC attach through {}", tc_attach(&release)))
}

/// Runs `command` as root inside QEMU on `kernel`, its output streamed as it comes.
pub fn shell(kernel: &str, command: &str) -> Result<(), String> {
    let Kernel { release, image, root } = self::kernel(kernel)?;
    crate::setup::status(
        Command::new("bash")
            .arg(workspace_root().join("xtask/vm/run-in-vm.sh"))
            .arg(command)
            .env("VM_KVER", &release)
            .env("VM_KERNEL", &image)
            .env("VM_MODROOT", &root)
            .env("VM_TCG_THREAD", tcg_threads(&release))
            .env("VM_TIMEOUT", "3600"),
    )
}

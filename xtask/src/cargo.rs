//! Builds and runs with the pinned nightly.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::setup::{nightly, status};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace").to_path_buf()
}

/// `cargo` of the pinned nightly, without what the outer (stable) cargo put in the environment.
fn nightly_cargo() -> Command {
    let mut cmd = Command::new("rustup");
    cmd.args(["run", nightly(), "cargo"]).current_dir(workspace_root());
    for var in ["RUSTUP_TOOLCHAIN", "RUSTC", "RUSTC_WRAPPER", "RUSTDOC", "CARGO", "CARGO_MANIFEST_DIR", "CARGO_PKG_NAME"] {
        cmd.env_remove(var);
    }
    cmd
}

pub fn build_loader() -> Result<PathBuf, String> {
    status(nightly_cargo().args(["build", "--release", "--package", "feth-loader"]))?;
    Ok(workspace_root().join("target/release/feth-loader"))
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

/// Unit tests of every crate, then the kernel end-to-end suite (serially: the tests share the
/// loader's pinned state), as root.
pub fn test(extra: &[String]) -> Result<(), String> {
    let bin = build_loader()?;
    if !is_root() {
        return Err("the kernel tests create interfaces and namespaces: run `cargo xtask test` as root".into());
    }
    status(
        nightly_cargo()
            .args(["test", "--release", "--workspace"])
            .env("FETH_LOADER", &bin)
            .args(["--", "--test-threads=1"])
            .args(extra),
    )
}

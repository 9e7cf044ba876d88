//! `cargo xtask dist`: one static binary (musl) in a Debian package (cargo-deb) and an RPM
//! (cargo-generate-rpm), with man pages and completions generated from the clap definitions;
//! `cargo xtask test-package`: the .deb installed into clean Debian 11, 12 and 13 roots
//! (debootstrap) and the .rpm into an empty root, each used there as a user would, in
//! namespaces of its own.
mod debian;
mod rpm;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    cargo::{build_static_loader, static_release_dir, workspace_root},
    setup::{STATIC_TARGET, apt_install, cargo_bin, status},
};

const CARGO_DEB_VERSION: &str = "3.8.0";
const CARGO_GENERATE_RPM_VERSION: &str = "0.21.1";

/// The packages `dist` built.
pub struct Packages {
    pub deb: PathBuf,
    pub rpm: PathBuf,
}

/// Builds the static binary, its man pages and completions, the .deb and the .rpm.
pub fn dist() -> Result<Packages, String> {
    // strip (binutils) makes the binary smaller for cargo-deb; dpkg-dev has dpkg-shlibdeps,
    // which finds no library to depend on in a static binary.
    apt_install(&["dpkg-dev", "binutils"])?;
    crate::setup::cargo_tool("cargo-deb", CARGO_DEB_VERSION)?;
    crate::setup::cargo_tool("cargo-generate-rpm", CARGO_GENERATE_RPM_VERSION)?;
    let bin = build_static_loader()?;
    status(Command::new("strip").arg(&bin))?;
    assets(&bin)?;
    let deb = last_line_path(
        Command::new(cargo_bin("cargo-deb")).args([
            "-p",
            "feth-loader",
            "--no-build",
            "--no-strip",
            "--target",
            STATIC_TARGET,
        ]),
        "deb",
    )?;
    // An existing directory: cargo-generate-rpm writes the package into it under its own name.
    let out = workspace_root().join("target").join(STATIC_TARGET).join("generate-rpm");
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    status(
        Command::new(cargo_bin("cargo-generate-rpm"))
            .args(["-p", "feth-loader", "--target", STATIC_TARGET, "-o"])
            .arg(&out)
            .current_dir(workspace_root())
            .env_remove("RUSTUP_TOOLCHAIN"),
    )?;
    let rpm = only_file(&out, "rpm")?;
    eprintln!("xtask: built {} and {}", deb.display(), rpm.display());
    Ok(Packages { deb, rpm })
}

/// Man pages (compressed, as Debian and Fedora keep them) and completions from `bin` itself,
/// where both packages' asset lists expect them.
fn assets(bin: &Path) -> Result<(), String> {
    let assets = static_release_dir().join("dist");
    let _ = std::fs::remove_dir_all(&assets);
    std::fs::create_dir_all(assets.join("completions")).map_err(|e| format!("{}: {e}", assets.display()))?;
    status(Command::new(bin).arg("man").arg(assets.join("man")))?;
    // -n: no timestamp, so builds are reproducible.
    status(Command::new("sh").arg("-c").arg("gzip -9n \"$0\"/*.1").arg(assets.join("man")))?;
    for (shell, file) in [("bash", "feth-loader"), ("zsh", "_feth-loader"), ("fish", "feth-loader.fish")] {
        let script = Command::new(bin)
            .args(["completions", shell])
            .output()
            .map_err(|e| format!("feth-loader completions {shell}: {e}"))?;
        if !script.status.success() {
            return Err(format!("feth-loader completions {shell}: {}", script.status));
        }
        let path = assets.join("completions").join(file);
        std::fs::write(&path, script.stdout).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// Runs a packager that prints the package's path as its last line.
fn last_line_path(cmd: &mut Command, ext: &str) -> Result<PathBuf, String> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .current_dir(workspace_root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| format!("{shown} could not start: {e}"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("{shown} failed ({})", out.status));
    }
    let path = String::from_utf8_lossy(&out.stdout).lines().last().map(|l| PathBuf::from(l.trim())).unwrap_or_default();
    if path.extension().is_none_or(|e| e != ext) || !path.exists() {
        return Err(format!("{shown} printed no .{ext} path: {}", String::from_utf8_lossy(&out.stdout)));
    }
    Ok(path)
}

/// The one file ending in `.ext` in `dir`.
fn only_file(dir: &Path, ext: &str) -> Result<PathBuf, String> {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    match &found[..] {
        [one] => Ok(one.clone()),
        _ => Err(format!("{}: expected one .{ext}, found {found:?}", dir.display())),
    }
}

/// Both packages, each where users install it: the .deb into Debian 11, 12 and 13, the .rpm
/// into an empty root.
pub fn test() -> Result<(), String> {
    let Packages { deb, rpm } = dist()?;
    for suite in debian::SUITES {
        debian::test(&deb, suite)?;
    }
    rpm::test(&rpm)
}

/// Removes a test root; it never holds a mount outside the namespaces that made them.
fn remove_root(root: &Path) -> Result<(), String> {
    if root.exists() {
        status(Command::new("rm").args(["-rf", "--one-file-system"]).arg(root))?;
    }
    Ok(())
}

//! `cargo xtask dist`: the Debian package (cargo-deb), with man pages and completions generated
//! from the clap definitions; `cargo xtask test-package`: that package installed into a clean
//! Debian 12 root (debootstrap) and used there as a user would, in namespaces of its own.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::{
    cargo::{build_loader, workspace_root},
    setup::{apt_install, cargo_bin, status},
};

const CARGO_DEB_VERSION: &str = "3.8.0";
/// Where the package's generated assets go: below `target/release/`, the prefix cargo-deb
/// resolves to the real target directory (the asset list in feth-loader/Cargo.toml).
const ASSETS: &str = "target/release/dist";
const SUITE: &str = "bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";
const CHECK: &str = include_str!("check.sh");

/// Builds the .deb; returns its path.
pub fn dist() -> Result<PathBuf, String> {
    // dpkg-shlibdeps (dpkg-dev) works out the package's library dependencies; strip (binutils)
    // makes the binary smaller.
    apt_install(&["dpkg-dev", "binutils"])?;
    cargo_deb()?;
    let bin = build_loader()?;
    let assets = workspace_root().join(ASSETS);
    let _ = std::fs::remove_dir_all(&assets);
    std::fs::create_dir_all(assets.join("completions")).map_err(|e| format!("{}: {e}", assets.display()))?;
    status(Command::new(&bin).arg("man").arg(assets.join("man")))?;
    // Compressed, as Debian policy has man pages (-n: no timestamp, so builds are reproducible).
    status(Command::new("sh").arg("-c").arg("gzip -9n \"$0\"/*.1").arg(assets.join("man")))?;
    for (shell, file) in [("bash", "feth-loader"), ("zsh", "_feth-loader"), ("fish", "feth-loader.fish")] {
        let script = Command::new(&bin)
            .args(["completions", shell])
            .output()
            .map_err(|e| format!("feth-loader completions {shell}: {e}"))?;
        if !script.status.success() {
            return Err(format!("feth-loader completions {shell}: {}", script.status));
        }
        let path = assets.join("completions").join(file);
        std::fs::write(&path, script.stdout).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let out = Command::new(cargo_bin("cargo-deb"))
        .args(["-p", "feth-loader", "--no-build"])
        .current_dir(workspace_root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| format!("cargo-deb could not start: {e}"))?;
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(format!("cargo-deb failed ({})", out.status));
    }
    // cargo-deb prints the package's path as its last line.
    let deb = String::from_utf8_lossy(&out.stdout).lines().last().map(|l| PathBuf::from(l.trim())).unwrap_or_default();
    if deb.extension().is_none_or(|e| e != "deb") || !deb.exists() {
        return Err(format!("cargo-deb printed no package path: {}", String::from_utf8_lossy(&out.stdout)));
    }
    eprintln!("xtask: built {}", deb.display());
    Ok(deb)
}

fn cargo_deb() -> Result<(), String> {
    crate::setup::cargo_tool("cargo-deb", CARGO_DEB_VERSION)
}

/// The package in a clean Debian 12 root: installed with apt-get (so its declared dependencies
/// are what is installed; iproute2 is the check's own tool, feth needs none), then `check.sh`
/// there with a network namespace, a mount namespace
/// and a bpffs of its own, so it touches nothing of the machine (someone's feth0 included).
pub fn test() -> Result<(), String> {
    let deb = dist()?;
    apt_install(&["debootstrap"])?;
    let work = workspace_root().join("target/package-test");
    let root = work.join("root");
    remove_root(&root)?;
    let cache = work.join("debs");
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    eprintln!("xtask: debootstrap {SUITE} into {} (a few minutes the first time)", root.display());
    status(
        Command::new("debootstrap")
            .args(["--variant=minbase", "--include=man-db,bash-completion,iputils-ping,iproute2"])
            .arg(format!("--cache-dir={}", cache.display()))
            .args([SUITE])
            .arg(&root)
            .arg(MIRROR),
    )?;
    let file = deb.file_name().expect("a file").to_string_lossy().into_owned();
    std::fs::copy(&deb, root.join("tmp").join(&file)).map_err(|e| format!("copy {file}: {e}"))?;
    std::fs::write(root.join("tmp/check.sh"), CHECK).map_err(|e| format!("write check.sh: {e}"))?;
    let r = root.display();
    // Mounts are made in a private mount namespace and vanish with it.
    let install = format!(
        "mount -t proc proc {r}/proc && mount --rbind /dev {r}/dev && \
         DEBIAN_FRONTEND=noninteractive chroot {r} apt-get install -y -q /tmp/{file}"
    );
    let result = status(Command::new("unshare").args(["--mount", "--propagation", "private", "sh", "-ec", &install]))
        .and_then(|()| {
            // The root bind-mounted on itself: `ip netns exec` remounts / and needs a mount.
            let check = format!(
                "mount --bind {r} {r} && mount -t proc proc {r}/proc && mount -t sysfs sys {r}/sys && mount -t bpf bpf {r}/sys/fs/bpf && \
                 mount --rbind /dev {r}/dev && mount -t tmpfs tmpfs {r}/run && \
                 chroot {r} /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/bash /tmp/check.sh"
            );
            status(Command::new("unshare").args(["--net", "--mount", "--propagation", "private", "sh", "-ec", &check]))
        });
    remove_root(&root)?;
    result?;
    eprintln!("xtask: the package installs into a clean Debian 12 root and works there");
    Ok(())
}

/// Removes the test root; it never holds a mount outside the namespaces that made them.
fn remove_root(root: &Path) -> Result<(), String> {
    if root.exists() {
        status(Command::new("rm").args(["-rf", "--one-file-system"]).arg(root))?;
    }
    Ok(())
}

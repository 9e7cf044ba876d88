//! The .rpm as RHEL and Fedora users get it: its file list read with `rpm -qlp`, then installed
//! with `rpm --root` into an empty directory (nothing but the package: a static binary needs no
//! library there) and its binary run from that root by `check-rpm.sh`, in a network namespace,
//! a mount namespace and a bpffs of its own; last, `rpm -e` takes every file away again.
use std::{path::Path, process::Command};

use super::remove_root;
use crate::{
    cargo::workspace_root,
    setup::{apt_install, output, status},
};

const CHECK: &str = include_str!("check-rpm.sh");

/// What the package must hold, besides the docs.
const FILES: [&str; 7] = [
    "/usr/bin/feth-loader",
    "/usr/share/man/man1/feth-loader.1.gz",
    "/usr/share/man/man1/feth-loader-peer.1.gz",
    "/usr/share/bash-completion/completions/feth-loader",
    "/usr/share/zsh/site-functions/_feth-loader",
    "/usr/share/fish/vendor_completions.d/feth-loader.fish",
    "/usr/lib/systemd/system/feth-loader-apply.service",
];

pub fn test(rpm: &Path) -> Result<(), String> {
    // rpm itself; ip and ping are the check's tools, run from the machine.
    apt_install(&["rpm", "iproute2", "iputils-ping"])?;
    let query = |args: &[&str]| {
        output(Command::new("rpm").args(args).arg(rpm)).ok_or_else(|| format!("rpm {args:?} {} failed", rpm.display()))
    };
    let files = query(&["-qlp"])?;
    for want in FILES {
        if !files.lines().any(|l| l == want) {
            return Err(format!("{} lacks {want}; it holds:\n{files}", rpm.display()));
        }
    }
    // rpmlib(...) names features of rpm itself, not packages.
    let requires = query(&["-qp", "--requires"])?;
    if let Some(other) = requires.lines().find(|l| !l.starts_with("rpmlib(")) {
        return Err(format!("{} requires {other}: a static binary should need nothing", rpm.display()));
    }
    let root = workspace_root().join("target/package-test/rpm-root");
    remove_root(&root)?;
    std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let result = status(Command::new("rpm").arg("--root").arg(&root).arg("--initdb"))
        .and_then(|()| status(Command::new("rpm").arg("--root").arg(&root).args(["-i", "--nosignature"]).arg(rpm)))
        .and_then(|()| {
            std::fs::write(root.join("check.sh"), CHECK).map_err(|e| format!("write check.sh: {e}"))?;
            let check = format!(
                "mount -t bpf bpf /sys/fs/bpf && mount -t tmpfs tmpfs /run && exec bash {r}/check.sh {r}",
                r = root.display()
            );
            status(Command::new("unshare").args(["--net", "--mount", "--propagation", "private", "sh", "-ec", &check]))
        })
        .and_then(|()| status(Command::new("rpm").arg("--root").arg(&root).args(["-e", "feth-loader"])))
        .and_then(|()| {
            let left: Vec<_> = FILES.iter().filter(|f| root.join(f.trim_start_matches('/')).exists()).collect();
            if left.is_empty() { Ok(()) } else { Err(format!("rpm -e left {left:?} behind")) }
        });
    remove_root(&root)?;
    result?;
    eprintln!("xtask: the .rpm installs into an empty root, its binary works from there, and it uninstalls");
    Ok(())
}

//! The .deb in clean Debian roots: bullseye (11, glibc 2.31, kernel 5.10's userland), bookworm
//! (12) and trixie (13), each made by debootstrap, the package installed with apt-get (so its
//! declared dependencies are what is installed; iproute2 and ping are the check's own tools,
//! feth needs none), then `check-deb.sh` there in a network namespace, a mount namespace and a
//! bpffs of its own, so it touches nothing of the machine (someone's feth0 included).
use std::{path::Path, process::Command};

use super::remove_root;
use crate::{
    cargo::workspace_root,
    setup::{apt_install, status},
};

pub const SUITES: [&str; 3] = ["bullseye", "bookworm", "trixie"];
const MIRROR: &str = "http://deb.debian.org/debian";
const CHECK: &str = include_str!("check-deb.sh");

pub fn test(deb: &Path, suite: &str) -> Result<(), String> {
    apt_install(&["debootstrap", "debian-archive-keyring"])?;
    let work = workspace_root().join("target/package-test");
    let root = work.join(suite);
    remove_root(&root)?;
    // Each suite keeps its own downloads (debootstrap checks them against that suite's lists),
    // in the user's cache like the kernels (crate::kernels): a fresh clone does not fetch them
    // again; debootstrap fetches what is missing or outdated.
    let cache = crate::kernels::cache().join("debs").join(suite);
    std::fs::create_dir_all(&cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    eprintln!("xtask: debootstrap {suite} into {} (a few minutes the first time)", root.display());
    status(
        Command::new("debootstrap")
            .args(["--variant=minbase", "--include=man-db,bash-completion,iputils-ping,iproute2"])
            .arg(format!("--cache-dir={}", cache.display()))
            .args([suite])
            .arg(&root)
            .arg(MIRROR),
    )?;
    let file = deb.file_name().expect("a file").to_string_lossy().into_owned();
    std::fs::copy(deb, root.join("tmp").join(&file)).map_err(|e| format!("copy {file}: {e}"))?;
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
    eprintln!("xtask: the .deb installs into a clean Debian {suite} root and works there");
    Ok(())
}

//! The kernels of the matrix, fetched from Debian's archive into the project's own cache
//! (never the machine's sources or /boot): each suite's package lists go to a directory of
//! their own (apt's `Dir::Etc::sourcelist` and `Dir::State::Lists`), the suite's current
//! `linux-image-amd64` dependency is downloaded, and `dpkg-deb -x` unpacks its vmlinuz and
//! modules without installing anything.
use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::setup::{apt_install, output, status};

/// `--kernel` names: the Debian release whose kernel it is, and that release's suite.
pub const MATRIX: &[(&str, &str)] =
    &[("debian-5.10", "bullseye"), ("debian-6.1", "bookworm"), ("debian-6.12", "trixie")];

/// A kernel unpacked in the cache: boot it with `image`, its modules are below `root`.
pub struct Kernel {
    pub release: String,
    pub image: PathBuf,
    /// The directory holding `lib/modules/<release>` (with modules.dep made by depmod).
    pub root: PathBuf,
}

/// What xtask keeps across clones (kernels, their suites' lists, the package test's debs):
/// `$VM_CACHE`, else `~/.cache/feth-vm`.
pub fn cache() -> PathBuf {
    std::env::var_os("VM_CACHE").map(PathBuf::from).unwrap_or_else(|| {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap_or_default());
        std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).unwrap_or_else(|| home.join(".cache")).join("feth-vm")
    })
}

/// apt with the suite's own sources and lists, and no view of the machine's installed packages.
fn apt(tool: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(tool);
    for (key, value) in [
        ("Dir::Etc::sourcelist", dir.join("sources.list")),
        ("Dir::Etc::sourceparts", PathBuf::from("-")),
        ("Dir::State::Lists", dir.join("lists")),
        ("Dir::Cache", dir.join("cache")),
        ("Dir::State::status", PathBuf::from("/dev/null")),
        // The cache is root's own: apt's _apt user may not write there.
        ("APT::Sandbox::User", PathBuf::from("root")),
    ] {
        cmd.arg("-o").arg(format!("{key}={}", value.display()));
    }
    cmd
}

/// The suite's package lists, fetched once a day at most.
fn lists(suite: &str) -> Result<PathBuf, String> {
    let dir = cache().join("apt").join(suite);
    for sub in ["lists/partial", "cache/archives/partial"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let keyring = "/usr/share/keyrings/debian-archive-keyring.gpg";
    let sources = format!(
        "deb [signed-by={keyring}] http://deb.debian.org/debian {suite} main\n\
         deb [signed-by={keyring}] http://deb.debian.org/debian-security {suite}-security main\n"
    );
    std::fs::write(dir.join("sources.list"), sources).map_err(|e| format!("{}: {e}", dir.display()))?;
    let stamp = dir.join("lists/updated");
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() < 24 * 3600));
    if !fresh {
        eprintln!("xtask: fetching the package lists of Debian {suite}");
        status(apt("apt-get", &dir).args(["update", "-qq"]))?;
        std::fs::write(&stamp, b"").map_err(|e| format!("{}: {e}", stamp.display()))?;
    }
    Ok(dir)
}

/// The image package `linux-image-amd64` of the suite depends on, at its newest version.
fn image_package(dir: &Path, suite: &str) -> Result<String, String> {
    let shown = output(apt("apt-cache", dir).args(["show", "linux-image-amd64"]))
        .ok_or_else(|| format!("apt-cache show linux-image-amd64 failed for {suite}"))?;
    let mut versions: Vec<(String, String)> = Vec::new();
    for stanza in shown.split("\n\n") {
        let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name)).map(|v| v.trim().to_owned());
        let depends = field("Depends:").unwrap_or_default();
        if let (Some(version), Some(package)) = (field("Version:"), depends.split_whitespace().next()) {
            versions.push((version, package.to_owned()));
        }
    }
    versions.sort_by(|a, b| compare_versions(&a.0, &b.0));
    versions.pop().map(|(_, p)| p).ok_or_else(|| format!("no kernel image in Debian {suite}'s lists"))
}

/// Debian version order for the plain `A.B.C-N` kernel versions.
fn compare_versions(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |v: &str| v.split(['.', '-', '+']).map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>();
    parts(a).cmp(&parts(b))
}

/// The kernel of `--kernel name` (see MATRIX), downloaded and unpacked on first use.
pub fn fetch(name: &str) -> Result<Kernel, String> {
    let Some(&(_, suite)) = MATRIX.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = MATRIX.iter().map(|(n, _)| *n).collect();
        return Err(format!("--kernel {name}: not a kernel of the matrix ({})", known.join(", ")));
    };
    apt_install(&["debian-archive-keyring", "kmod"])?;
    let dir = lists(suite)?;
    let package = image_package(&dir, suite)?;
    let release = package.trim_start_matches("linux-image-").to_owned();
    let root = cache().join("kernels").join(&release);
    let image = root.join("boot").join(format!("vmlinuz-{release}"));
    let modules = root.join("lib/modules").join(&release);
    if !image.exists() || !modules.join("modules.dep").exists() {
        let download = dir.join("cache/archives");
        eprintln!("xtask: downloading {package} from Debian {suite}");
        status(apt("apt-get", &dir).args(["download", "-qq", &package]).current_dir(&download))?;
        let deb = std::fs::read_dir(&download)
            .map_err(|e| format!("{}: {e}", download.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_"))))
            .ok_or_else(|| format!("{package}: downloaded, but no .deb in {}", download.display()))?;
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        status(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root))?;
        // Debian 13 ships modules in /usr/lib/modules (merged /usr); depmod and the guest look
        // in /lib/modules.
        let merged = root.join("usr/lib/modules");
        if merged.exists() {
            std::fs::create_dir_all(root.join("lib")).map_err(|e| format!("{}: {e}", root.display()))?;
            std::fs::rename(&merged, root.join("lib/modules")).map_err(|e| format!("{}: {e}", merged.display()))?;
        }
        status(Command::new("depmod").arg("-b").arg(&root).arg(&release))?;
        let _ = std::fs::remove_file(&deb);
    }
    Ok(Kernel { release, image, root })
}

//! Builds the eBPF programs with aya-build; the object is embedded from OUT_DIR.
use anyhow::{Context as _, anyhow};

/// The pinned nightly, shared with xtask: the channel `nightly` on a fresh machine is too old.
const TOOLCHAIN: &str = include_str!("../nightly-toolchain");

fn main() -> anyhow::Result<()> {
    println!("cargo::rerun-if-changed=../nightly-toolchain");
    // aya-build watches feth-ebpf; the shared contract changes the object too.
    println!("cargo::rerun-if-changed=../feth-common");
    let metadata = cargo_metadata::MetadataCommand::new()
        .no_deps()
        .exec()
        .context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == "feth-ebpf")
        .ok_or_else(|| anyhow!("feth-ebpf package not found"))?;
    let root_dir = ebpf
        .manifest_path
        .parent()
        .ok_or_else(|| anyhow!("feth-ebpf manifest has no parent"))?;
    aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(TOOLCHAIN.trim()),
    )
}

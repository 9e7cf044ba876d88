//! Builds one eBPF package of the workspace with aya-build, for the build scripts of
//! feth-control (the product's programs) and feth-bench (the benchmark's); the objects are
//! embedded from OUT_DIR.
use anyhow::{Context as _, anyhow};

/// The pinned nightly, shared with xtask: the channel `nightly` on a fresh machine is too old.
const TOOLCHAIN: &str = include_str!("../nightly-toolchain");

pub fn build(package: &str) -> anyhow::Result<()> {
    println!("cargo::rerun-if-changed=../nightly-toolchain");
    // aya-build watches the eBPF package; the shared contract changes the object too.
    println!("cargo::rerun-if-changed=../feth-common");
    let metadata = cargo_metadata::MetadataCommand::new().no_deps().exec().context("cargo metadata")?;
    let ebpf = metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == package)
        .ok_or_else(|| anyhow!("{package} package not found"))?;
    let root_dir = ebpf.manifest_path.parent().ok_or_else(|| anyhow!("{package} manifest has no parent"))?;
    // FETH_EBPF_NO_LOG=1 compiles the per-frame log out, to measure what the runtime
    // switch costs while off.
    println!("cargo::rerun-if-env-changed=FETH_EBPF_NO_LOG");
    let no_log = std::env::var_os("FETH_EBPF_NO_LOG").is_some_and(|v| v == "1");
    // aya-build hands every line the inner cargo prints to `cargo::warning`: without this, a
    // build shows hundreds of "Compiling ..." warnings. Compiler warnings and errors still
    // show; FETH_BUILD_VERBOSE=1 shows everything.
    println!("cargo::rerun-if-env-changed=FETH_BUILD_VERBOSE");
    if std::env::var_os("FETH_BUILD_VERBOSE").is_none_or(|v| v != "1") {
        // SAFETY: the build script is single-threaded here; the inner cargo inherits it.
        unsafe { std::env::set_var("CARGO_TERM_QUIET", "true") };
    }
    aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            no_default_features: no_log,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(TOOLCHAIN.trim()),
    )
}

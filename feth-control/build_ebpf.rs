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
    let out_dir = std::env::var_os("OUT_DIR").ok_or_else(|| anyhow!("OUT_DIR not set"))?;
    let shared = shared_out_dir(metadata.target_directory.as_std_path(), package)?;
    // SAFETY: as above; aya-build reads OUT_DIR for where to build and copy the objects.
    unsafe { std::env::set_var("OUT_DIR", &shared) };
    let built = aya_build::build_ebpf(
        [aya_build::Package {
            name: ebpf.name.as_str(),
            root_dir: root_dir.as_str(),
            no_default_features: no_log,
            ..Default::default()
        }],
        aya_build::Toolchain::Custom(TOOLCHAIN.trim()),
    );
    // SAFETY: as above.
    unsafe { std::env::set_var("OUT_DIR", &out_dir) };
    built?;
    for bin in ebpf.targets.iter().filter(|t| t.is_bin()) {
        let (from, to) = (shared.join(&bin.name), std::path::Path::new(&out_dir).join(&bin.name));
        std::fs::copy(&from, &to).with_context(|| format!("copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

/// Where aya-build builds `package` instead of this build's OUT_DIR: one directory per eBPF
/// package under the workspace's target directory, each with its `aya-build/target/<package>`
/// pointing at one cargo target directory for both packages. aya-build keys its target
/// directory by OUT_DIR and package, so every variant of the host build (the users' binary,
/// the tests' with fault points, clippy's, the static one of the packages) and each of the two
/// packages built `core` and the eBPF crates' host build dependencies again (33 s of CPU for
/// the bench's package alone). Cargo's lock on the shared directory serialises two build
/// scripts that get there at once; what cargo finds fresh is not built again.
fn shared_out_dir(target_dir: &std::path::Path, package: &str) -> anyhow::Result<std::path::PathBuf> {
    let root = target_dir.join("ebpf");
    let out = root.join(package);
    let link = out.join("aya-build").join("target").join(package);
    std::fs::create_dir_all(root.join("target")).with_context(|| format!("create {}", root.display()))?;
    std::fs::create_dir_all(link.parent().expect("has a parent"))
        .with_context(|| format!("create {}", out.display()))?;
    if std::fs::read_link(&link).is_err() {
        // A directory left by an older layout is replaced; a link another build made is kept.
        let _ = std::fs::remove_dir_all(&link);
        match std::os::unix::fs::symlink(root.join("target"), &link) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("link {}", link.display()));
            }
            _ => {}
        }
    }
    Ok(out)
}

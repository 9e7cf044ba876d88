//! The settings every command runs with, in one value the CLI builds once: where the state
//! lives, whether a missing namespace may be created, how TC programs attach, and what the
//! running kernel can do. Nothing in the crate reads them from the process (environment,
//! statics) on its own, so a test can build a `Context` for a state in memory or a state
//! directory of its own.
use std::path::PathBuf;

use feth_common::names::{BPFFS_ENV, DEFAULT_BPFFS_DIR, TC_ATTACH_ENV};

use crate::{
    error::{FethError, Result},
    kernel::{bpffs::StateDir, features::Features, netns},
};

/// How TC programs attach to the wire ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcPath {
    /// A TCX bpf_link, pinned with the rest (kernel 6.6+).
    Tcx,
    /// A `clsact` qdisc with a `cls_bpf` filter in direct-action mode (any kernel feth runs
    /// on). The filter lives on the device, so nothing is pinned for it.
    Netlink,
}

impl TcPath {
    /// Netlink, on every kernel, unless `FETH_TC_ATTACH=tcx` asks for TCX where the kernel
    /// has it. A TCX attach waits for an RCU grace period under the RTNL lock, and so does its
    /// detach, while a cls_bpf filter does not, which is what makes many ports come up and go
    /// down fast (docs/kernels.md); both keep every guarantee feth gives (the filter stays on
    /// the device after the loader exits, and the repair finds and replaces it). The test
    /// suite runs once each way so both paths stay covered.
    pub fn choose(asked: Option<&str>, features: &Features) -> TcPath {
        match asked {
            Some("tcx") if features.tcx => TcPath::Tcx,
            _ => TcPath::Netlink,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Context {
    /// The state directory on bpffs and its lock.
    pub state: StateDir,
    /// Whether a missing named namespace is created (`--no-create-netns` says no).
    pub create_missing_netns: bool,
    pub tc_path: TcPath,
    pub features: Features,
}

impl Context {
    /// The context of a command: `--bpffs` (else `FETH_BPFFS`, else the default directory),
    /// `--no-create-netns`, `FETH_TC_ATTACH`, and the running kernel's features, probed.
    pub fn for_command(bpffs: Option<PathBuf>, no_create_netns: bool) -> Context {
        let dir = bpffs
            .or_else(|| std::env::var_os(BPFFS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_BPFFS_DIR));
        let features = Features::probe();
        let tc_path = TcPath::choose(std::env::var(TC_ATTACH_ENV).ok().as_deref(), &features);
        Context { state: StateDir::new(dir), create_missing_netns: !no_create_netns, tc_path, features }
    }

    /// Creates the named namespace unless it exists (true when it did), or says why not when
    /// the context refuses missing namespaces.
    pub fn ensure_netns(&self, name: &str) -> Result<bool> {
        if !self.check_netns(name)? {
            return Ok(false);
        }
        netns::ensure(name)
    }

    /// Whether `ensure_netns` would create the named namespace (false: it exists), or why it
    /// would refuse; changes nothing.
    pub fn check_netns(&self, name: &str) -> Result<bool> {
        netns::check_name(name)?;
        if netns::exists(name) {
            return Ok(false);
        }
        if !self.create_missing_netns {
            return Err(FethError::Invalid(format!(
                "network namespace {name} does not exist (and --no-create-netns was given)"
            )));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(tcx: bool) -> Features {
        Features { tcx, ..Features::ALL }
    }

    #[test]
    fn tcx_only_when_asked_and_the_kernel_has_it() {
        assert_eq!(TcPath::choose(None, &features(true)), TcPath::Netlink);
        assert_eq!(TcPath::choose(Some("tcx"), &features(true)), TcPath::Tcx);
        assert_eq!(TcPath::choose(Some("tcx"), &features(false)), TcPath::Netlink);
        assert_eq!(TcPath::choose(Some("netlink"), &features(true)), TcPath::Netlink);
    }

    #[test]
    fn a_context_that_refuses_missing_namespaces_creates_none() {
        let ctx = Context {
            state: StateDir::new("/nonexistent/feth-unit-test".into()),
            create_missing_netns: false,
            tc_path: TcPath::Netlink,
            features: features(false),
        };
        let name = format!("feth-unit-missing-{}", std::process::id());
        let err = ctx.ensure_netns(&name).unwrap_err().to_string();
        assert!(err.contains("does not exist (and --no-create-netns was given)"), "{err}");
        assert!(!netns::exists(&name));
        assert!(ctx.ensure_netns("a/b").is_err(), "a name with a slash is never a namespace");
    }
}

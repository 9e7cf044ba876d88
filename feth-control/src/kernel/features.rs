//! What the running kernel can do, found once per process, and the one sentence a command says
//! when something it needs is missing. The minimum kernel of each feature is in the README's
//! kernel table.
use std::sync::OnceLock;

use aya::util::KernelVersion;

#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// TCX links (6.6): otherwise TC programs attach as cls_bpf filters through netlink.
    pub tcx: bool,
    /// XDP_REDIRECT of multi-buffer frames through a devmap (6.3): otherwise XDP mode crosses
    /// frames up to `port::mtu::XDP_LINEAR` only.
    pub xdp_jumbo: bool,
    /// Detaching XDP from a veth that keeps NAPI through GRO is safe under traffic. Debian's 6.1
    /// was seen to crash (a NULL `rxq->dev` in the XDP program, from NAPI racing the detach);
    /// 6.18 never did. Below 6.6 feth turns the wire end's GRO off around the detach, so the
    /// kernel stops NAPI first.
    pub xdp_detach_under_gro: bool,
}

fn at_least(major: u8, minor: u8) -> bool {
    KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(major, minor, 0))
}

/// The running kernel's features (read once).
pub fn get() -> Features {
    static FEATURES: OnceLock<Features> = OnceLock::new();
    *FEATURES.get_or_init(|| Features {
        tcx: at_least(6, 6),
        xdp_jumbo: at_least(6, 3),
        xdp_detach_under_gro: at_least(6, 6),
    })
}

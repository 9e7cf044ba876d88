//! What the running kernel can do, found once per command. What the kernel can be asked is
//! probed, as cilium/ebpf's `features` package does (a tiny program loaded, an attach tried
//! where it cannot touch anything); what only shows in behaviour, a bug fix or a data-path
//! capability, is read from the kernel's version. The minimum kernel of each feature is in
//! docs/kernels.md.
use aya::util::KernelVersion;

use crate::kernel::bpf_syscall;

#[derive(Clone, Copy, Debug)]
pub struct Features {
    /// TCX links (6.6): otherwise TC programs attach as cls_bpf filters through netlink.
    /// Probed.
    pub tcx: bool,
    /// XDP_REDIRECT of multi-buffer frames through a devmap (6.3): otherwise XDP mode crosses
    /// frames up to `port::mtu::XDP_LINEAR` only. By version: the kernel accepts such a
    /// redirect either way and only drops the frames without it.
    pub xdp_jumbo: bool,
    /// Detaching XDP from a veth that keeps NAPI through GRO is safe under traffic. Debian's 6.1
    /// was seen to crash (a NULL `rxq->dev` in the XDP program, from NAPI racing the detach);
    /// 6.18 never did. Below 6.6 feth turns the wire end's GRO off around the detach, so the
    /// kernel stops NAPI first. By version: a bug shows only by crashing.
    pub xdp_detach_under_gro: bool,
    /// Multi-buffer XDP programs and their helpers (5.18): otherwise the single-buffer XDP
    /// program is loaded. By version: the variant is chosen before anything is loaded.
    pub xdp_frags: bool,
    /// Atomic fetch-and-add and `bpf_check_mtu` in BPF (5.12): otherwise the 5.10 variants are
    /// loaded and `loss-every` is refused. By version, as `xdp_frags`.
    pub atomic_fetch: bool,
    /// A veth receives XDP-redirected frames through its NAPI without an XDP program of its
    /// own, as long as GRO is on (5.13): otherwise XDP mode is refused. By version.
    pub veth_napi: bool,
    /// BPF_PROG_RUN with live frames (5.18), which `gen`, `sink`'s probe and the benchmark
    /// send with. By version.
    pub live_frames: bool,
    /// A frame `bpf_redirect_peer` delivers is counted in the receiver's rx counters (6.7,
    /// with veth's per-CPU counters): TC mode then crosses in one hop
    /// (`feth_common::port::hop`). Before, the hop would bypass the counters `rx` reads, so
    /// TC mode keeps the two hops through the veth. By version: only traffic shows it.
    pub one_hop: bool,
    /// netkit devices and their BPF links (6.7, where the kernel is built with them): netkit
    /// mode. Probed.
    pub netkit: bool,
}

/// The running kernel's release (`uname -r`), for sentences that name what a feature needs.
pub fn release() -> String {
    nix::sys::utsname::uname().map_or_else(|_| "unknown".into(), |u| u.release().to_string_lossy().into_owned())
}

fn at_least(major: u8, minor: u8) -> bool {
    KernelVersion::current().is_ok_and(|v| v >= KernelVersion::new(major, minor, 0))
}

impl Features {
    /// A kernel with every feature (for plans and tests that must not probe).
    pub const ALL: Features = Features {
        tcx: true,
        xdp_jumbo: true,
        xdp_detach_under_gro: true,
        xdp_frags: true,
        atomic_fetch: true,
        veth_napi: true,
        live_frames: true,
        one_hop: true,
        netkit: true,
    };
    /// The oldest kernel feth runs on (5.10): the strictest checks.
    pub const NONE: Features = Features {
        tcx: false,
        xdp_jumbo: false,
        xdp_detach_under_gro: false,
        xdp_frags: false,
        atomic_fetch: false,
        veth_napi: false,
        live_frames: false,
        one_hop: false,
        netkit: false,
    };

    /// The running kernel's features, probed now (`kernel::context::Context` keeps them for
    /// the command).
    pub fn probe() -> Features {
        Features {
            // Without the capabilities a probe needs, the version says it.
            tcx: probe_tcx().unwrap_or_else(|| at_least(6, 6)),
            xdp_jumbo: at_least(6, 3),
            xdp_detach_under_gro: at_least(6, 6),
            xdp_frags: at_least(5, 18),
            atomic_fetch: at_least(5, 12),
            veth_napi: at_least(5, 13),
            live_frames: at_least(5, 18),
            one_hop: at_least(6, 7),
            netkit: probe_netkit().unwrap_or(false),
        }
    }
}

/// `enum bpf_attach_type`'s BPF_TCX_INGRESS (6.6) and BPF_NETKIT_PEER (6.7).
const BPF_TCX_INGRESS: u32 = aya_obj::generated::bpf_attach_type::BPF_TCX_INGRESS as u32;
const BPF_NETKIT_PEER: u32 = aya_obj::generated::bpf_attach_type::BPF_NETKIT_PEER as u32;

/// TCX, asked of the kernel: a do-nothing TC program linked for TCX ingress of ifindex 0. No
/// device has that index, so nothing is attached anywhere: a kernel that knows TCX looks for
/// the device and says ENODEV, one that does not refuses the attach type with EINVAL. `None`
/// when the program cannot be loaded (no CAP_BPF) or the answer is neither.
fn probe_tcx() -> Option<bool> {
    probe_attach(BPF_TCX_INGRESS)
}

/// netkit, asked the same way: a kernel built with netkit looks for the netkit device
/// ifindex 0 and says ENODEV; one without it (before 6.7, or built without CONFIG_NETKIT, as
/// this machine's 6.18 is) says EINVAL.
fn probe_netkit() -> Option<bool> {
    probe_attach(BPF_NETKIT_PEER)
}

/// Links a do-nothing TC program for `attach_type` on ifindex 0: ENODEV means the kernel knows
/// the attach type, EINVAL that it does not.
fn probe_attach(attach_type: u32) -> Option<bool> {
    use std::os::fd::AsFd as _;
    let prog = bpf_syscall::load_probe_program().ok()?;
    match bpf_syscall::link_create(prog.as_fd(), 0, attach_type).map_err(|e| e.raw_os_error()) {
        Err(Some(libc::ENODEV)) => Some(true),
        Err(Some(libc::EINVAL)) => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe agrees with the version where it can run (as root, as `cargo xtask test`
    /// runs the unit tests); TCX came in 6.6.
    #[test]
    fn the_tcx_probe_agrees_with_the_kernel_version() {
        match probe_tcx() {
            Some(tcx) => assert_eq!(tcx, at_least(6, 6)),
            // SAFETY: geteuid has no arguments and cannot fail.
            None => assert_ne!(unsafe { libc::geteuid() }, 0, "root can load a program, so the probe answers"),
        }
    }
}

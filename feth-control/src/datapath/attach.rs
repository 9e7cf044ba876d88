//! Attaching and detaching the crossover's programs on wire ends (and tunnel ends): an XDP
//! link, a TC program, or in netkit mode the TC program as the pair's peer program, each
//! pinned as `links/<wire>_<mode>` in the layout directory, or for TC a `cls_bpf` filter on
//! the device itself (the default path, which pins nothing).
use aya::programs::{
    LinkOrder, SchedClassifier, TcAttachType, Xdp, XdpMode,
    links::FdLink,
    tc::{NlOptions, TcAttach, TcError, qdisc_add_clsact, qdisc_detach_program},
};
use aya_obj::programs::XdpAttachType;
use feth_common::{
    Mode,
    names::{PROG_NETKIT_RX, PROG_TC_510, PROG_TC_WIRE, PROG_XDP_USER_RX, PROG_XDP_WIRE},
};
use futures::TryStreamExt as _;
use rtnetlink::packet_route::tc::TcAttribute;

use crate::{
    datapath::pins::{link_pin_path, link_pin_paths, links_in, netkit_rx_pin_path, unpin_link},
    error::{Context as _, Result},
    kernel::{
        bpf_syscall,
        bpffs::StateDir,
        context::{Context, TcPath},
        netns::Netns,
        rtnl::{LinkView, Rtnl},
    },
};

/// Whether a cls_bpf filter sits on the wire end's clsact ingress (the netlink path).
fn netlink_filter_attached(wire_ifindex: u32) -> bool {
    // One connection per thread (wire ends live in the loader's namespace, where the calling
    // thread is): bringing up many pairs asks this for each.
    thread_local! {
        static RTNL: Option<crate::kernel::rtnl::Rtnl> = crate::kernel::rtnl::Rtnl::open().ok();
    }
    RTNL.with(|rtnl| rtnl.as_ref().is_some_and(|rtnl| filter_attached(rtnl, wire_ifindex)))
}

fn filter_attached(rtnl: &crate::kernel::rtnl::Rtnl, wire_ifindex: u32) -> bool {
    rtnl.block_on(async {
        let mut filters = rtnl.handle().clone().traffic_filter(wire_ifindex as i32).get().ingress().execute();
        while let Ok(Some(filter)) = filters.try_next().await {
            if filter.attributes.iter().any(|a| matches!(a, TcAttribute::Kind(k) if k == "bpf")) {
                return true;
            }
        }
        false
    })
}

/// Attaches `mode`'s program to a wire end (pinning the link, or leaving a netlink filter
/// on the device). Idempotent.
pub fn attach(ctx: &Context, wire: &str, wire_ifindex: u32, mode: Mode) -> Result<()> {
    let dir = &ctx.state;
    if is_attached(dir, wire, wire_ifindex, mode) {
        return Ok(());
    }
    let path = link_pin_path(dir, wire, mode);
    let link = match mode {
        Mode::Netkit => return attach_netkit(dir, wire, wire_ifindex, &path),
        Mode::Xdp => {
            let mut prog = Xdp::from_pin(dir.pin_path(PROG_XDP_WIRE), XdpAttachType::Interface)
                .context(format!("open pinned program {PROG_XDP_WIRE}"))?;
            let id = prog.attach(wire_ifindex, XdpMode::Driver).context(format!("{wire}: attach native XDP"))?;
            let link = prog.take_link(id).context(format!("{wire}: take XDP link"))?;
            FdLink::try_from(link).context(format!("{wire}: XDP link is not a bpf_link"))?
        }
        Mode::Tc => {
            let mut prog = SchedClassifier::from_pin(dir.pin_path(PROG_TC_WIRE))
                .context(format!("open pinned program {PROG_TC_WIRE}"))?;
            if ctx.tc_path == TcPath::Netlink {
                match qdisc_add_clsact(wire_ifindex) {
                    Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                    other => other.context(format!("{wire}: add the clsact qdisc"))?,
                }
                let netlink = TcAttach::Netlink { parent: TcAttachType::Ingress.into(), options: NlOptions::default() };
                let id = prog.attach(wire_ifindex, netlink).context(format!("{wire}: attach cls_bpf ingress"))?;
                // The filter stays on the device after this process exits; dropping the link
                // would detach it.
                std::mem::forget(prog.take_link(id).context(format!("{wire}: take cls_bpf link"))?);
                return Ok(());
            }
            let tcx = TcAttach::Tcx { attach_type: TcAttachType::Ingress, order: LinkOrder::default() };
            let id = prog.attach(wire_ifindex, tcx).context(format!("{wire}: attach TCX ingress"))?;
            let link = prog.take_link(id).context(format!("{wire}: take TCX link"))?;
            FdLink::try_from(link).context(format!("{wire}: TCX link is not a bpf_link"))?
        }
    };
    link.pin(&path).context(format!("{wire}: pin {} link", mode.name()))?;
    Ok(())
}

/// netkit mode: the TC program as the netkit peer program of the pair whose primary is the
/// wire end (it runs when the user end transmits), through a BPF link aya does not make
/// (kernel::bpf_syscall), pinned like the others.
/// The primary program, `feth_netkit_rx`, judges what the crossover hands to the user end.
fn attach_netkit(dir: &StateDir, wire: &str, wire_ifindex: u32, path: &std::path::Path) -> Result<()> {
    use aya_obj::generated::bpf_attach_type::{BPF_NETKIT_PEER, BPF_NETKIT_PRIMARY};
    let rx = netkit_rx_pin_path(dir, wire);
    if !rx.exists() {
        netkit_link(dir, PROG_NETKIT_RX, wire, wire_ifindex, BPF_NETKIT_PRIMARY as u32, &rx)?;
    }
    if !path.exists() {
        netkit_link(dir, PROG_TC_WIRE, wire, wire_ifindex, BPF_NETKIT_PEER as u32, path)?;
    }
    Ok(())
}

/// Links the pinned program `name` to the netkit pair of `wire` as `attach_type` and pins the
/// link at `path`.
fn netkit_link(
    dir: &StateDir,
    name: &str,
    wire: &str,
    ifindex: u32,
    attach_type: u32,
    path: &std::path::Path,
) -> Result<()> {
    use std::os::fd::AsFd as _;
    let prog = SchedClassifier::from_pin(dir.pin_path(name)).context(format!("open pinned program {name}"))?;
    let fd = prog.fd().context(format!("{name}: its file descriptor"))?;
    let link = bpf_syscall::link_create(fd.as_fd(), ifindex, attach_type)
        .context(format!("{wire}: attach {name} to its netkit pair"))?;
    bpf_syscall::obj_pin(link.as_fd(), path).context(format!("{wire}: pin the link of {name}"))
}

/// Whether `mode`'s program is attached to the wire end (by either TC path).
pub fn is_attached(dir: &StateDir, wire: &str, wire_ifindex: u32, mode: Mode) -> bool {
    if mode == Mode::Netkit {
        return link_pin_paths(dir, wire, mode).iter().all(|p| p.exists());
    }
    link_pin_path(dir, wire, mode).exists() || mode == Mode::Tc && netlink_filter_attached(wire_ifindex)
}

/// Detaches `mode`'s program from a wire end: unpins its link (the kernel detaches it once
/// no fd holds it) and, for TC, removes a netlink filter.
pub fn detach(ctx: &Context, wire: &str, wire_ifindex: u32, mode: Mode) -> Result<()> {
    let dir = &ctx.state;
    if mode == Mode::Xdp && !ctx.features.xdp_detach_under_gro && link_pin_path(dir, wire, mode).exists() {
        // Without GRO the kernel deletes the wire's NAPI (waiting for its poll) before it
        // unregisters the XDP queue info, instead of racing it (features.rs).
        crate::kernel::ethtool::set(wire, crate::kernel::ethtool::Feature::Gro, false)?;
        let detached = unpin_link(&link_pin_path(dir, wire, mode));
        crate::kernel::ethtool::set(wire, crate::kernel::ethtool::Feature::Gro, true)?;
        return detached;
    }
    unpin(dir, wire, mode)?;
    if mode == Mode::Tc && netlink_filter_attached(wire_ifindex) {
        // The filter carries the name of the variant that was loaded (datapath::load::variants).
        for name in [PROG_TC_WIRE, PROG_TC_510] {
            match qdisc_detach_program(wire_ifindex, TcAttachType::Ingress.into(), name) {
                Err(TcError::IoError(e)) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other.context(format!("{wire}: remove the cls_bpf filter"))?,
            }
        }
    }
    Ok(())
}

/// Unpins a pinned link of a wire end that may be gone.
pub fn unpin(dir: &StateDir, wire: &str, mode: Mode) -> Result<()> {
    link_pin_paths(dir, wire, mode).iter().try_for_each(|path| unpin_link(path))
}

/// Wire ends and modes that have a pinned link.
pub fn attached_links(dir: &StateDir) -> Vec<(String, Mode)> {
    links_in(&dir.link_dir())
}

/// Id of the pinned pass-through program user ends get in XDP mode before 5.13
/// (`datapath::pair::attach_user_rx`), if it is pinned.
pub fn user_rx_id(dir: &StateDir) -> Option<u32> {
    let prog = Xdp::from_pin(dir.pin_path(PROG_XDP_USER_RX), XdpAttachType::Interface).ok()?;
    prog.info().ok().map(|i| i.id())
}

/// Puts the pass-through program on a user end (`on`) or takes it off.
pub fn user_rx(dir: &StateDir, rtnl: &Rtnl, wire: &LinkView, name: &str, ns: &Netns, on: bool) -> Result<()> {
    use std::os::fd::{AsFd as _, AsRawFd as _};
    let prog = Xdp::from_pin(dir.pin_path(PROG_XDP_USER_RX), XdpAttachType::Interface)
        .context(format!("open pinned program {PROG_XDP_USER_RX}"))?;
    let fd = prog.fd().context(format!("{PROG_XDP_USER_RX}: its file descriptor"))?.as_fd().as_raw_fd();
    if on {
        crate::datapath::pair::attach_user_rx(rtnl, wire, name, ns, fd)
    } else {
        crate::datapath::pair::detach_user_rx(rtnl, wire, name, ns, fd)
    }
}

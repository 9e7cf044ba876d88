//! The tunnel end of a remote peer (`crate::port::remote`): a VXLAN device of the kernel's,
//! which the loader creates and owns.
//!
//! It lives next to the wire ends, in the loader's namespace, named `fvx<port slot>`, with an
//! ifindex of the wire range (`WIRE_IFINDEX_BASE +` its own slot). The data path then treats it
//! as the wire end of a pseudo-port: the port's frames are redirected to the tunnel end's egress
//! (the kernel encapsulates them), and the TC program on the tunnel end's ingress redirects what
//! arrives on the VNI to the port's wire end, with the same code and counters as a local peer. A
//! VXLAN device takes no XDP redirect, so a remote port always uses the TC path (`Port::mode`).
use std::net::{IpAddr, SocketAddr, UdpSocket};

use feth_common::{WIRE_IFINDEX_BASE, names::TUNNEL_PREFIX};
use rtnetlink::LinkVxlan;

use crate::{
    error::{FethError, Result, errno},
    kernel::rtnl::{LinkView, Rtnl},
    port::remote::{Endpoint, Remote},
};

/// The underlay MTU assumed without `--dev`.
pub const ETHERNET_MTU: u32 = 1500;

/// Checks what can be checked before anything changes: the form, an underlay that exists,
/// a local address this host has, and a route to the remote address.
pub fn check(at: &Endpoint, name: &str, rtnl: &Rtnl) -> Result<()> {
    let refuse = |reason: String| Err(FethError::Refused { name: name.to_owned(), reason });
    if let Err(reason) = at.check_form() {
        return refuse(reason);
    }
    if let Some(dev) = &at.dev
        && rtnl.link_by_name(dev)?.is_none()
    {
        return refuse(format!("underlay interface {dev} does not exist"));
    }
    // A UDP socket bound and connected as the tunnel will send: the kernel's own answer
    // to "does this host have that address" and "is there a route".
    let unspecified: IpAddr = if at.addr.is_ipv6() { "::".parse().unwrap() } else { "0.0.0.0".parse().unwrap() };
    let socket = match UdpSocket::bind(SocketAddr::new(at.local.unwrap_or(unspecified), 0)) {
        Ok(s) => s,
        Err(_) => return refuse(format!("local address {} is not an address of this host", at.local.unwrap())),
    };
    if let Some(dev) = &at.dev {
        // SO_BINDTODEVICE: the route must leave through the underlay asked for.
        use std::os::fd::AsRawFd as _;
        // SAFETY: a valid socket and a buffer of the given length.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                dev.as_ptr().cast(),
                dev.len() as libc::socklen_t,
            )
        };
    }
    if let Err(e) = socket.connect(SocketAddr::new(at.addr, at.port)) {
        return refuse(format!("remote address {} is unreachable from here ({e})", at.addr));
    }
    Ok(())
}

/// The tunnel end of the port in `port_slot`.
pub fn name(port_slot: u32) -> String {
    format!("{TUNNEL_PREFIX}{port_slot}")
}

/// The port slot a tunnel end belongs to, from its name.
pub fn owner(name: &str) -> Option<u32> {
    name.strip_prefix(TUNNEL_PREFIX)?.parse().ok()
}

/// Creates the tunnel end of the port in `port_slot`, down, without IPv6 of its own (its own
/// router solicitations would cross to the remote port as if the user had sent them), and with
/// no address learning: every frame goes to the one remote.
pub fn create(rtnl: &Rtnl, port_slot: u32, remote: &Remote) -> Result<LinkView> {
    let name = name(port_slot);
    let at = &remote.at;
    let mut link = LinkVxlan::new(&name, at.vni).port(at.port).learning(false);
    link = match at.addr {
        IpAddr::V4(a) => link.remote(a),
        IpAddr::V6(a) => link.remote6(a),
    };
    link = match at.local {
        Some(IpAddr::V4(a)) => link.local(a),
        Some(IpAddr::V6(a)) => link.local6(a),
        None => link,
    };
    if let Some(dev) = &at.dev {
        // The kernel sizes the device's MTU to the underlay's minus the overhead.
        let index = rtnl.require(dev)?.index;
        link = link.dev(index);
    } else {
        // Without an underlay named, assume Ethernet's 1500 bytes (kernels differ here).
        link = link.mtu(ETHERNET_MTU - at.overhead());
    }
    let msg = link.index(WIRE_IFINDEX_BASE + remote.slot).build();
    match rtnl.add(msg, &format!("{name}: create the VXLAN device")) {
        Err(FethError::Netlink { cause, .. }) if errno(&cause) == Some(libc::EEXIST) => {
            return Err(FethError::Refused {
                name: name.clone(),
                reason: format!("a VXLAN device for VNI {} on port {} already exists on this host", at.vni, at.port),
            });
        }
        other => other?,
    }
    let sysctl = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
    if std::path::Path::new(&sysctl).exists() {
        std::fs::write(&sysctl, "1")
            .map_err(|e| FethError::Io { context: format!("{name}: disable IPv6"), cause: e })?;
    }
    rtnl.require(&name)
}

//! Remote peers (`peer NAME --remote ADDR`): a port crossed over to a feth interface on another
//! host through a VXLAN device of the kernel's, which the loader creates and owns.
//!
//! The VXLAN device is a *tunnel end*: it lives next to the wire ends, in the loader's
//! namespace, named `fvx<port slot>`, with an ifindex of the wire range (`WIRE_IFINDEX_BASE +`
//! its own slot). The data path then treats it as the wire end of a pseudo-port: the port's
//! frames are redirected to the tunnel end's egress (the kernel encapsulates them), and the TC
//! program on the tunnel end's ingress redirects what arrives on the VNI to the port's wire
//! end, with the same code and counters as a local peer. A VXLAN device takes no XDP redirect,
//! so a remote port always uses the TC path (`Port::mode`).
use std::net::{IpAddr, SocketAddr, UdpSocket};

use feth_common::{WIRE_IFINDEX_BASE, names::TUNNEL_PREFIX};
use rtnetlink::LinkVxlan;

use crate::{
    error::{FethError, Result},
    rtnl::{LinkView, Rtnl},
};

/// IANA's VXLAN port, and the default.
pub const DEFAULT_PORT: u16 = 4789;
/// The underlay MTU assumed without `--dev`.
pub const ETHERNET_MTU: u32 = 1500;
/// The VNI when none is given.
pub const DEFAULT_VNI: u32 = 1;
/// VNIs are 24 bits.
pub const VNI_MAX: u32 = (1 << 24) - 1;

/// Where a remote peer is: what `peer --remote` and a topology file's `remote` ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The other host's underlay address.
    pub addr: IpAddr,
    pub vni: u32,
    /// UDP destination port.
    pub port: u16,
    /// Source address on this host, if chosen.
    pub local: Option<IpAddr>,
    /// Underlay interface (in the loader's namespace), if chosen.
    pub dev: Option<String>,
}

/// What `peer --remote` records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Remote {
    pub at: Endpoint,
    /// Slot of the tunnel end (its ifindex is `WIRE_IFINDEX_BASE + slot`).
    pub slot: u32,
    /// The user end's MTU before feth lowered it to what the tunnel carries, and the MTU it
    /// set: unpeer puts the first back while the second is still there.
    pub lowered_mtu: Option<(u32, u32)>,
}

impl Remote {
    /// The record's field value: `addr,vni,port,local|-,dev|-,slot,before:set|-`.
    pub fn encode(&self) -> String {
        let opt = |o: Option<String>| o.unwrap_or_else(|| "-".into());
        let at = &self.at;
        format!(
            "{},{},{},{},{},{},{}",
            at.addr,
            at.vni,
            at.port,
            opt(at.local.map(|a| a.to_string())),
            opt(at.dev.clone()),
            self.slot,
            opt(self.lowered_mtu.map(|(before, set)| format!("{before}:{set}")))
        )
    }

    pub fn decode(value: &str) -> Option<Remote> {
        let mut it = value.split(',');
        let addr = it.next()?.parse().ok()?;
        let vni = it.next()?.parse().ok()?;
        let port = it.next()?.parse().ok()?;
        let local = match it.next()? {
            "-" => None,
            a => Some(a.parse().ok()?),
        };
        let dev = match it.next()? {
            "-" => None,
            d => Some(d.to_owned()),
        };
        let slot = it.next()?.parse().ok()?;
        // Records written before feth remembered a lowered MTU end here.
        let lowered_mtu = match it.next() {
            None | Some("-") => None,
            Some(m) => {
                let (before, set) = m.split_once(':')?;
                Some((before.parse().ok()?, set.parse().ok()?))
            }
        };
        Some(Remote { at: Endpoint { addr, vni, port, local, dev }, slot, lowered_mtu })
    }
}

impl Endpoint {
    /// Bytes VXLAN adds outside the frame: outer IP, UDP and VXLAN headers plus the frame's
    /// own Ethernet header, which the underlay's MTU does not count.
    pub fn overhead(&self) -> u32 {
        if self.addr.is_ipv6() { 70 } else { 50 }
    }

    /// How a "busy" refusal names it: `remote 198.18.9.2 vni 100`.
    pub fn label(&self) -> String {
        format!("remote {} vni {}", self.addr, self.vni)
    }

    /// One line for `show`: `198.18.0.2 vni 100 port 4789 [from A] [dev D] via fvx0`.
    pub fn describe(&self, tunnel: &str) -> String {
        let mut text = format!("{} vni {} port {}", self.addr, self.vni, self.port);
        if let Some(local) = self.local {
            text.push_str(&format!(" from {local}"));
        }
        if let Some(dev) = &self.dev {
            text.push_str(&format!(" dev {dev}"));
        }
        text.push_str(&format!(" via {tunnel}"));
        text
    }

    /// Whether `other` would take the same VXLAN packets (the kernel keys a VXLAN device on
    /// VNI, port and local address).
    pub fn clashes_with(&self, other: &Endpoint) -> bool {
        self.vni == other.vni && self.port == other.port && self.local == other.local
    }

    /// What can be told from the endpoint alone (the command line and topology files check
    /// it before taking the lock): a VNI of 24 bits, a port, both addresses of one family.
    /// `Err` is the reason.
    pub fn check_form(&self) -> std::result::Result<(), String> {
        if self.vni > VNI_MAX {
            return Err(format!("VNI {} is out of range (0..={VNI_MAX})", self.vni));
        }
        if self.port == 0 {
            return Err("UDP port 0 cannot carry VXLAN".into());
        }
        if self.addr.is_unspecified() || self.addr.is_multicast() {
            return Err(format!("{} is not a remote host's address", self.addr));
        }
        if let Some(local) = self.local
            && local.is_ipv6() != self.addr.is_ipv6()
        {
            return Err(format!("local address {local} and remote address {} are of different families", self.addr));
        }
        Ok(())
    }

    /// Checks what can be checked before anything changes: the form, an underlay that exists,
    /// a local address this host has, and a route to the remote address.
    pub fn check(&self, name: &str, rtnl: &Rtnl) -> Result<()> {
        let refuse = |reason: String| Err(FethError::Refused { name: name.to_owned(), reason });
        if let Err(reason) = self.check_form() {
            return refuse(reason);
        }
        if let Some(dev) = &self.dev
            && rtnl.link_by_name(dev)?.is_none()
        {
            return refuse(format!("underlay interface {dev} does not exist"));
        }
        // A UDP socket bound and connected as the tunnel will send: the kernel's own answer
        // to "does this host have that address" and "is there a route".
        let unspecified: IpAddr = if self.addr.is_ipv6() { "::".parse().unwrap() } else { "0.0.0.0".parse().unwrap() };
        let socket = match UdpSocket::bind(SocketAddr::new(self.local.unwrap_or(unspecified), 0)) {
            Ok(s) => s,
            Err(_) => return refuse(format!("local address {} is not an address of this host", self.local.unwrap())),
        };
        if let Some(dev) = &self.dev {
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
        if let Err(e) = socket.connect(SocketAddr::new(self.addr, self.port)) {
            return refuse(format!("remote address {} is unreachable from here ({e})", self.addr));
        }
        Ok(())
    }
}

/// The tunnel end of the port in `port_slot`.
pub fn tunnel_name(port_slot: u32) -> String {
    format!("{TUNNEL_PREFIX}{port_slot}")
}

/// The port slot a tunnel end belongs to, from its name.
pub fn tunnel_owner(name: &str) -> Option<u32> {
    name.strip_prefix(TUNNEL_PREFIX)?.parse().ok()
}

/// Creates the tunnel end of the port in `port_slot`, down, without IPv6 of its own (its own
/// router solicitations would cross to the remote port as if the user had sent them), and with
/// no address learning: every frame goes to the one remote.
pub fn create(rtnl: &Rtnl, port_slot: u32, remote: &Remote) -> Result<LinkView> {
    let name = tunnel_name(port_slot);
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
        Err(FethError::Netlink { cause, .. }) if crate::rtnl::errno(&cause) == Some(libc::EEXIST) => {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip() {
        let r = Remote {
            at: Endpoint {
                addr: "2001:db8::2".parse().unwrap(),
                vni: VNI_MAX,
                port: 4789,
                local: Some("2001:db8::1".parse().unwrap()),
                dev: Some("eth-underlay0".into()),
            },
            slot: 4095,
            lowered_mtu: Some((9000, 8930)),
        };
        assert_eq!(Remote::decode(&r.encode()), Some(r.clone()));
        let at = Endpoint { local: None, dev: None, addr: "198.18.0.2".parse().unwrap(), ..r.at.clone() };
        let bare = Remote { at, lowered_mtu: None, ..r };
        assert_eq!(Remote::decode(&bare.encode()), Some(bare.clone()));
        assert_eq!(Remote::decode("198.18.0.2,1"), None);
        // A record written before the lowered MTU was remembered: six fields.
        let at = Endpoint { vni: 1, ..bare.at.clone() };
        assert_eq!(Remote::decode("198.18.0.2,1,4789,-,-,3"), Some(Remote { at, slot: 3, ..bare }));
    }
}

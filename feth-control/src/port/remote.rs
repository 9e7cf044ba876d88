//! Remote peers (`peer NAME --remote ADDR`): where the far feth interface is, and what the
//! port's record keeps of it. `crate::datapath::tunnel` makes the VXLAN device that carries it.
use std::net::IpAddr;

/// IANA's VXLAN port, and the default.
pub const DEFAULT_PORT: u16 = 4789;
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

//! Classifies a frame for the protocol counters, through network-types headers.
use network_types::{
    eth::{EthHdr, EtherType},
    ip::{IpProto, Ipv4Hdr, Ipv6Hdr},
};

/// Reads a header at a byte offset of the frame, bounds-checked by the context.
pub trait Frame {
    fn read<T: Copy>(&self, offset: usize) -> Option<T>;
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum L3 {
    Arp,
    Ipv4,
    Ipv6,
    Other,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    None,
}

#[inline(always)]
fn l4(proto: u8) -> L4 {
    match proto {
        p if p == IpProto::Tcp as u8 => L4::Tcp,
        p if p == IpProto::Udp as u8 => L4::Udp,
        p if p == IpProto::Icmp as u8 => L4::Icmp,
        p if p == IpProto::Ipv6Icmp as u8 => L4::Icmpv6,
        _ => L4::None,
    }
}

/// The frame's L3 and L4 protocols (L4 from the first header only: IPv6 extension headers
/// count as "none").
#[inline(always)]
pub fn classify(frame: &impl Frame) -> (L3, L4) {
    let Some(eth) = frame.read::<EthHdr>(0) else { return (L3::Other, L4::None) };
    match eth.ether_type() {
        Ok(EtherType::Arp) => (L3::Arp, L4::None),
        Ok(EtherType::Ipv4) => {
            let proto = frame.read::<Ipv4Hdr>(EthHdr::LEN).map_or(L4::None, |ip| l4(ip.proto));
            (L3::Ipv4, proto)
        }
        Ok(EtherType::Ipv6) => {
            let proto = frame.read::<Ipv6Hdr>(EthHdr::LEN).map_or(L4::None, |ip| l4(ip.next_hdr));
            (L3::Ipv6, proto)
        }
        _ => (L3::Other, L4::None),
    }
}

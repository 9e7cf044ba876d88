//! The frames `gen` builds: Ethernet, IPv4 and UDP or TCP SYN with correct checksums, the
//! flow ranges the generator program varies, and the sizes live frames allow.
/// The largest frame BPF_PROG_RUN with live frames takes: one page less the XDP headroom and
/// the skb_shared_info tail (4096 - 256 - 320).
pub const LIVE_FRAME_MAX: usize = 3520;
/// The smallest Ethernet frame without FCS (larger than any header `gen` writes: 54 bytes for
/// TCP).
pub const FRAME_MIN: usize = 60;
/// The classic simple IMIX: 7 frames of 64 bytes, 4 of 594, 1 of 1518, as IMIX counts them on
/// the wire (with the 4-byte FCS): here, as every size here, without it.
pub const IMIX: [(usize, u64); 3] = [(60, 7), (590, 4), (1514, 1)];

/// What goes above Ethernet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// UDP/IPv4 to the discard port by default.
    Udp,
    /// TCP/IPv4 SYNs (a SYN flood, as a device under test sees one).
    TcpSyn,
    /// Ethernet only: EtherType 0x88b5 (local experimental) and filler.
    Raw,
}

/// Addresses and ports of the generated frames: each a first value and how many (1: fixed).
#[derive(Clone, Copy, Debug)]
pub struct Flows {
    pub src_ip: (u32, u32),
    pub dst_ip: (u32, u32),
    pub src_port: (u16, u32),
    pub dst_port: (u16, u32),
}

impl Default for Flows {
    /// 198.18.0.1:1024 -> 198.18.0.2:9 (the discard port), one flow.
    fn default() -> Flows {
        Flows {
            src_ip: (u32::from_be_bytes([198, 18, 0, 1]), 1),
            dst_ip: (u32::from_be_bytes([198, 18, 0, 2]), 1),
            src_port: (1024, 1),
            dst_port: (9, 1),
        }
    }
}

impl Flows {
    pub fn varies(&self) -> bool {
        self.src_ip.1 > 1 || self.dst_ip.1 > 1 || self.src_port.1 > 1 || self.dst_port.1 > 1
    }
}

/// A frame of `size` bytes with the flows' first addresses and ports, and correct IPv4 and
/// UDP/TCP checksums.
pub fn build_frame(proto: Proto, src: &[u8], dst: &[u8], size: usize, flows: &Flows) -> Vec<u8> {
    let mut f = Vec::with_capacity(size);
    f.extend_from_slice(dst);
    f.extend_from_slice(src);
    if proto == Proto::Raw {
        f.extend_from_slice(&0x88b5u16.to_be_bytes());
        f.resize(size, 0x5a);
        return f;
    }
    f.extend_from_slice(&0x0800u16.to_be_bytes());
    let ip_len = (size - 14) as u16;
    let l4_len = ip_len - 20;
    let protocol = if proto == Proto::TcpSyn { 6 } else { 17 };
    let (saddr, daddr) = (flows.src_ip.0.to_be_bytes(), flows.dst_ip.0.to_be_bytes());
    let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, protocol, 0, 0];
    ip[2..4].copy_from_slice(&ip_len.to_be_bytes());
    ip.extend_from_slice(&saddr);
    ip.extend_from_slice(&daddr);
    let sum = checksum(&ip, 0);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&ip);
    let mut l4 = Vec::with_capacity(l4_len as usize);
    l4.extend_from_slice(&flows.src_port.0.to_be_bytes());
    l4.extend_from_slice(&flows.dst_port.0.to_be_bytes());
    let csum_at = if proto == Proto::TcpSyn {
        // Sequence number, no ack, header of 5 words, SYN, a full window, checksum, urgent.
        l4.extend_from_slice(&0x1000_0000u32.to_be_bytes());
        l4.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]);
        16
    } else {
        l4.extend_from_slice(&l4_len.to_be_bytes());
        l4.extend_from_slice(&[0, 0]);
        6
    };
    l4.resize(l4_len as usize, 0x5a);
    // Pseudo-header: addresses, protocol, L4 length.
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&saddr);
    pseudo.extend_from_slice(&daddr);
    pseudo.extend_from_slice(&[0, protocol]);
    pseudo.extend_from_slice(&l4_len.to_be_bytes());
    let mut sum = checksum(&l4, sum_words(&pseudo, 0));
    if sum == 0 && proto == Proto::Udp {
        sum = 0xffff;
    }
    l4[csum_at..csum_at + 2].copy_from_slice(&sum.to_be_bytes());
    f.extend_from_slice(&l4);
    f
}

/// The generator program's view of `flows` for frames built by `build_frame`.
pub fn flow_config(proto: Proto, flows: &Flows, frame: &[u8]) -> feth_common::flows::Flows {
    use feth_common::flows::{IP_CSUM_AT, TCP_CSUM_AT, UDP_CSUM_AT};
    let l4_at = if proto == Proto::TcpSyn { TCP_CSUM_AT } else { UDP_CSUM_AT };
    let at = |i: usize| u32::from(u16::from_be_bytes([frame[i], frame[i + 1]]));
    feth_common::flows::Flows {
        src_ip: flows.src_ip.0,
        src_ip_span: flows.src_ip.1,
        dst_ip: flows.dst_ip.0,
        dst_ip_span: flows.dst_ip.1,
        src_port: u32::from(flows.src_port.0),
        src_port_span: flows.src_port.1,
        dst_port: u32::from(flows.dst_port.0),
        dst_port_span: flows.dst_port.1,
        l4_csum_at: l4_at as u32,
        ip_csum: at(IP_CSUM_AT),
        l4_csum: at(l4_at),
        _pad: 0,
    }
}

fn sum_words(data: &[u8], mut acc: u32) -> u32 {
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    acc
}

/// The Internet checksum of `data` with `partial` already summed.
fn checksum(data: &[u8], partial: u32) -> u16 {
    let mut acc = sum_words(data, partial);
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

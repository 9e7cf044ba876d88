//! Per-port, per-CPU counters. Field names are what `bpftool map dump` shows (BTF).

/// Value of `FETH_STATS` (per-CPU array indexed by slot). All fields are u64 so the struct has
/// no padding; user space sums the per-CPU copies.
///
/// `tx_*` and the protocol counters describe frames this port's user end transmitted into
/// the crossover; `rx_*` frames the crossover handed to this port's wire end for delivery.
/// Frames that never reach a program (sent while the link is down) and frames the receiving
/// veth refuses are counted by the kernel's own interface counters; the loader adds those.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames that reached the crossover while this port had no peer.
    pub drop_no_peer: u64,
    /// Frames the kernel refused to redirect.
    pub drop_redirect: u64,
    pub tx_arp: u64,
    pub tx_ipv4: u64,
    pub tx_ipv6: u64,
    /// Any other EtherType (including VLAN-tagged frames).
    pub tx_other: u64,
    pub tx_tcp: u64,
    pub tx_udp: u64,
    pub tx_icmp: u64,
    pub tx_icmpv6: u64,
}

const _: () = assert!(core::mem::size_of::<PortStats>() == 14 * 8);

impl PortStats {
    /// Adds another CPU's copy into this one.
    pub fn accumulate(&mut self, o: &PortStats) {
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.rx_packets += o.rx_packets;
        self.rx_bytes += o.rx_bytes;
        self.drop_no_peer += o.drop_no_peer;
        self.drop_redirect += o.drop_redirect;
        self.tx_arp += o.tx_arp;
        self.tx_ipv4 += o.tx_ipv4;
        self.tx_ipv6 += o.tx_ipv6;
        self.tx_other += o.tx_other;
        self.tx_tcp += o.tx_tcp;
        self.tx_udp += o.tx_udp;
        self.tx_icmp += o.tx_icmp;
        self.tx_icmpv6 += o.tx_icmpv6;
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for PortStats {}

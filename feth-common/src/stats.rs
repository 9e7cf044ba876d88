//! Per-port, per-CPU counters. Field names are what `bpftool map dump` shows (BTF).

/// Value of `FETH_STATS` (per-CPU array indexed by slot). All fields are u64 so the struct has
/// no padding; user space sums the per-CPU copies.
///
/// `tx_*` and the protocol counters describe frames this port's user end transmitted into
/// the crossover; `rx_crossed_*` frames the crossover handed to this port's wire end for
/// delivery. What the user end then received is its own kernel counter; the loader reports
/// the difference as frames the receiver refused, so packets and bytes agree.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    pub rx_crossed_packets: u64,
    pub rx_crossed_bytes: u64,
    /// Frames that reached the crossover while this port had no peer.
    pub drop_no_peer: u64,
    pub drop_no_peer_bytes: u64,
    /// Frames the kernel refused to redirect (the peer's wire end is gone).
    pub drop_redirect: u64,
    pub drop_redirect_bytes: u64,
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

const _: () = assert!(core::mem::size_of::<PortStats>() == 16 * 8);

impl PortStats {
    /// Adds another CPU's copy into this one.
    pub fn accumulate(&mut self, o: &PortStats) {
        self.tx_packets += o.tx_packets;
        self.tx_bytes += o.tx_bytes;
        self.rx_crossed_packets += o.rx_crossed_packets;
        self.rx_crossed_bytes += o.rx_crossed_bytes;
        self.drop_no_peer += o.drop_no_peer;
        self.drop_redirect += o.drop_redirect;
        self.drop_no_peer_bytes += o.drop_no_peer_bytes;
        self.drop_redirect_bytes += o.drop_redirect_bytes;
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

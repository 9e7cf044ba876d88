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
    /// Impairments of what this port transmits (`feth-loader impair`): frames lost at random,
    /// lost by `loss_every`; frames corrupted (still delivered) and duplicated (one extra frame
    /// each). The rate limit is a qdisc before the crossover, with counters of its own.
    pub drop_loss: u64,
    pub drop_loss_bytes: u64,
    pub drop_loss_every: u64,
    pub drop_loss_every_bytes: u64,
    pub corrupted: u64,
    pub corrupted_bytes: u64,
    pub duplicated: u64,
    pub duplicated_bytes: u64,
}

const _: () = assert!(core::mem::size_of::<PortStats>() == 24 * 8);

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
        self.drop_loss += o.drop_loss;
        self.drop_loss_bytes += o.drop_loss_bytes;
        self.drop_loss_every += o.drop_loss_every;
        self.drop_loss_every_bytes += o.drop_loss_every_bytes;
        self.corrupted += o.corrupted;
        self.corrupted_bytes += o.corrupted_bytes;
        self.duplicated += o.duplicated;
        self.duplicated_bytes += o.duplicated_bytes;
    }
}

/// Value of `FETH_SHARED` (an array indexed by slot, one copy for all CPUs): what cannot be
/// counted per CPU.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SharedCounters {
    /// Frames `loss_every` has seen, counted by the data path with an atomic fetch-and-add so
    /// that exactly every N-th frame drops however frames spread over CPUs.
    pub loss_every_seen: u64,
    /// Frames the user end refused while `flap` held the link down, in finished down periods
    /// (written by `flap` only, under the state lock).
    pub link_down: u64,
    /// While `flap` holds the link down: the user end's `tx_dropped` when it went down (what
    /// it refused since then is link-down too). Meaningless while `down` is 0.
    pub link_down_base: u64,
    /// 1 while `flap` holds the link down.
    pub down: u64,
}

#[cfg(feature = "user")]
// SAFETY: plain integers of fixed size (`repr(C)`); any bit pattern is a valid value.
unsafe impl aya::Pod for PortStats {}
#[cfg(feature = "user")]
// SAFETY: plain integers of fixed size (`repr(C)`); any bit pattern is a valid value.
unsafe impl aya::Pod for SharedCounters {}

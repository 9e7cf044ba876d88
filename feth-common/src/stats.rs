//! Per-port, per-CPU counters. Field names are what `bpftool map dump` shows (BTF).

/// Value of `FETH_STATS` (per-CPU array indexed by slot). All fields are u64 so the struct has
/// no padding; user space sums the per-CPU copies.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames this port's user end transmitted into the crossover.
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Frames the crossover delivered to this port's user end from its peer.
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Frames transmitted while this port had no peer.
    pub drop_no_peer: u64,
    /// Frames larger than the peer's MTU.
    pub drop_too_big: u64,
    /// Frames the kernel refused to redirect.
    pub drop_redirect: u64,
}

const _: () = assert!(core::mem::size_of::<PortStats>() == 7 * 8);

impl PortStats {
    pub fn drops(&self) -> u64 {
        self.drop_no_peer + self.drop_too_big + self.drop_redirect
    }

    /// Adds another CPU's copy into this one.
    pub fn accumulate(&mut self, other: &PortStats) {
        self.tx_packets += other.tx_packets;
        self.tx_bytes += other.tx_bytes;
        self.rx_packets += other.rx_packets;
        self.rx_bytes += other.rx_bytes;
        self.drop_no_peer += other.drop_no_peer;
        self.drop_too_big += other.drop_too_big;
        self.drop_redirect += other.drop_redirect;
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for PortStats {}

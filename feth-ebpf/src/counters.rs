//! Counting over `FETH_STATS`.
use feth_common::PortStats;

use crate::{
    maps::FETH_STATS,
    parsing::{L3, L4},
};

/// Applies `update` to this CPU's counters of `slot`. A slot outside the map is ignored: the
/// loader never hands one out.
#[inline(always)]
pub fn count(slot: u32, update: impl FnOnce(&mut PortStats)) {
    if let Some(stats) = FETH_STATS.get_ptr_mut(slot) {
        // SAFETY: per-CPU value, only this CPU writes it while this program runs.
        update(unsafe { &mut *stats });
    }
}

/// Counts `packets` frames of `bytes` entering the crossover from `slot`'s user end.
#[inline(always)]
pub fn count_tx(slot: u32, packets: u64, bytes: u64, (l3, l4): (L3, L4)) {
    count(slot, |s| {
        s.tx_packets += packets;
        s.tx_bytes += bytes;
        match l3 {
            L3::Arp => s.tx_arp += packets,
            L3::Ipv4 => s.tx_ipv4 += packets,
            L3::Ipv6 => s.tx_ipv6 += packets,
            L3::Other => s.tx_other += packets,
        }
        match l4 {
            L4::Tcp => s.tx_tcp += packets,
            L4::Udp => s.tx_udp += packets,
            L4::Icmp => s.tx_icmp += packets,
            L4::Icmpv6 => s.tx_icmpv6 += packets,
            L4::None => {}
        }
    });
}

/// Counts one frame of `bytes` in the (packets, bytes) pair `pick` chooses.
#[inline(always)]
pub fn count_one(slot: u32, bytes: u64, pick: impl FnOnce(&mut PortStats) -> (&mut u64, &mut u64)) {
    count(slot, |s| {
        let (packets, total) = pick(s);
        *packets += 1;
        *total += bytes;
    });
}

/// Counts a frame that entered the crossover from `slot` and was dropped with no peer.
#[inline(always)]
pub fn count_no_peer(slot: u32, bytes: u64) {
    count_one(slot, bytes, |s| (&mut s.drop_no_peer, &mut s.drop_no_peer_bytes));
}

/// Counts a frame from `slot` the kernel refused to redirect.
#[inline(always)]
pub fn count_redirect_error(slot: u32, bytes: u64) {
    count_one(slot, bytes, |s| (&mut s.drop_redirect, &mut s.drop_redirect_bytes));
}

/// Counts frames handed to `slot`'s wire end for delivery.
#[inline(always)]
pub fn count_rx(slot: u32, packets: u64, bytes: u64) {
    count(slot, |s| {
        s.rx_crossed_packets += packets;
        s.rx_crossed_bytes += bytes;
    });
}

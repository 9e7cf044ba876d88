//! `feth-loader gen --src-ip/--dst-ip/--src-port/--dst-port`: the generator program writes each
//! frame's addresses and ports from ranges, and mends the checksums, so a receiver with several
//! queues sees many flows. The frame user space builds holds every range's first value and
//! checksums for them; the program adjusts those (RFC 1624), so a frame the kernel did not
//! reset between runs is still right.

/// The generator's flow ranges (one entry).
pub const MAP_FLOWS: &str = "BENCH_FLOWS";

/// Where the fields are in an Ethernet + IPv4 (no options) frame.
pub const IP_CSUM_AT: usize = 24;
pub const SRC_IP_AT: usize = 26;
pub const DST_IP_AT: usize = 30;
pub const SRC_PORT_AT: usize = 34;
pub const DST_PORT_AT: usize = 36;
/// The UDP and TCP checksums.
pub const UDP_CSUM_AT: usize = 40;
pub const TCP_CSUM_AT: usize = 50;

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flows {
    /// Each range: its first value (host order, as written in the frame) and how many values
    /// (1: fixed). Destination ports vary fastest, then source ports, destination addresses,
    /// source addresses.
    pub src_ip: u32,
    pub src_ip_span: u32,
    pub dst_ip: u32,
    pub dst_ip_span: u32,
    pub src_port: u32,
    pub src_port_span: u32,
    pub dst_port: u32,
    pub dst_port_span: u32,
    /// Offset of the L4 checksum (`UDP_CSUM_AT` or `TCP_CSUM_AT`).
    pub l4_csum_at: u32,
    /// The checksums of the frame as built (the ranges' first values).
    pub ip_csum: u32,
    pub l4_csum: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<Flows>() == 48);

#[cfg(feature = "user")]
// SAFETY: plain integers of fixed size (`repr(C)`); any bit pattern is a valid value.
unsafe impl aya::Pod for Flows {}

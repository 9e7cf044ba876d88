//! The built-in benchmark and the traffic tools built on its eBPF object.
//!
//! - `object`: the benchmark's eBPF object (generator, sink, bare redirects).
//! - `frames` and `send`: the frames `gen` builds, and sending them from one thread.
//! - `benchmark`: one live-frames generator into seven networks standing side by side (feth
//!   XDP, feth XDP impaired, feth TC, plain veth, a bare devmap redirect, a bare TC redirect, a
//!   Linux bridge), measured in short slices taken in turn so that every ratio compares slices
//!   of one round; TCP throughput with iperf3; round-trip latency with sockperf; and the cost
//!   of bringing many pairs up and down.
//! - `traffic`: `feth-loader gen` and `sink`, the same generator and sink pointed at any feth
//!   interface.
pub mod benchmark;
pub mod frames;
pub mod object;
pub mod send;
pub mod traffic;

pub use benchmark::{
    Options, Report,
    rates::{Accounting, RATIOS, RateOptions, Row, Sample},
    run,
};

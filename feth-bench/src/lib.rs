//! The built-in benchmark: one live-frames generator, six topologies standing side by side
//! (feth XDP, feth TC, plain veth, a bare devmap redirect, a bare TC redirect, a Linux bridge),
//! measured in short slices taken in turn so that every ratio compares slices of one round;
//! TCP throughput with iperf3; round-trip latency with sockperf; and the cost of bringing many
//! pairs up and down. The same generator and sink serve `feth-loader gen` and `sink`
//! (traffic.rs).
pub mod generator;
pub mod latency;
pub mod probe;
pub mod scale;
pub mod stats;
pub mod tcp;
pub mod topology;
pub mod traffic;

pub mod plot;
pub mod progress;
pub mod rates;
pub mod report;

pub use rates::{Accounting, RATIOS, RateOptions, Row, Sample};
pub use report::{Options, Report, run};

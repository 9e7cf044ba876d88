//! The built-in benchmark: one live-frames generator, six topologies standing side by side
//! (feth XDP, feth TC, plain veth, a bare devmap redirect, a bare TC redirect, a Linux bridge),
//! measured in short slices taken in turn so that every ratio compares slices of one round;
//! TCP throughput with iperf3; round-trip latency with sockperf; and the cost of bringing many
//! pairs up and down.
pub mod generator;
pub mod latency;
pub mod scale;
pub mod stats;
pub mod tcp;
pub mod topology;

use serde::Serialize;

use crate::error::Result;

/// The rows of the packet-rate table, in print order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Row {
    FethXdp,
    FethTc,
    PlainVeth,
    MinimalDevmap,
    MinimalTc,
    Bridge,
}

impl Row {
    pub const ALL: [Row; 6] =
        [Row::FethXdp, Row::FethTc, Row::PlainVeth, Row::MinimalDevmap, Row::MinimalTc, Row::Bridge];

    pub fn label(self) -> &'static str {
        match self {
            Row::FethXdp => "feth crossover, XDP mode",
            Row::FethTc => "feth crossover, TC mode",
            Row::PlainVeth => "plain veth, one hop",
            Row::MinimalDevmap => "bare devmap redirect (no control plane)",
            Row::MinimalTc => "bare TC redirect (no control plane)",
            Row::Bridge => "Linux bridge joining two veth pairs",
        }
    }

    pub fn is_feth(self) -> bool {
        matches!(self, Row::FethXdp | Row::FethTc)
    }
}

/// The ratios the report gives, each computed within a round: (row, baseline).
pub const RATIOS: [(Row, Row); 6] = [
    (Row::FethXdp, Row::MinimalDevmap),
    (Row::FethTc, Row::MinimalTc),
    (Row::FethXdp, Row::PlainVeth),
    (Row::FethTc, Row::PlainVeth),
    (Row::FethXdp, Row::Bridge),
    (Row::FethTc, Row::Bridge),
];

/// Where every frame the generator made in one slice went, for a feth row. `unaccounted` is
/// what no counter explains and must be 0.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Accounting {
    pub generated: u64,
    /// Counted by the sink on the receiving user end.
    pub received: u64,
    /// Refused by the sending user end's veth before the crossover (its queue was full).
    pub tx_refused: u64,
    pub tx_no_peer: u64,
    pub tx_redirect_error: u64,
    /// Crossed but not received by the receiving user end.
    pub rx_refused: u64,
    pub unaccounted: i64,
}

/// One slice: one row at one size in one round.
#[derive(Clone, Debug, Serialize)]
pub struct Sample {
    pub row: Row,
    pub frame_size: usize,
    pub round: usize,
    pub mpps: f64,
    pub gbps: f64,
    /// feth rows only.
    pub accounting: Option<Accounting>,
}

#[derive(Clone, Debug)]
pub struct RateOptions {
    pub sizes: Vec<usize>,
    /// Seconds measured per slice (after a short warm-up).
    pub seconds: f64,
    pub rounds: usize,
    pub cpus: Vec<usize>,
}

/// Builds every topology, then measures rows in turn (every row and size once per round) for
/// `rounds` rounds; `progress` hears each slice.
pub fn packet_rates(opts: &RateOptions, mut progress: impl FnMut(&Sample)) -> Result<Vec<Sample>> {
    let mut objects = generator::BenchObject::load()?;
    let topologies = topology::Topologies::build(&mut objects)?;
    let measured = (|| {
        let mut samples = Vec::new();
        for round in 0..opts.rounds {
            for row in Row::ALL {
                for &size in &opts.sizes {
                    let sample = generator::measure(&objects, topologies.get(row), size, round, opts)?;
                    progress(&sample);
                    samples.push(sample);
                }
            }
        }
        Ok(samples)
    })();
    // Torn down whether or not the measurement worked.
    topologies.teardown(&mut objects)?;
    measured
}

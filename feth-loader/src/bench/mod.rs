//! The built-in benchmark: one live-frames generator, five topologies measured side by side
//! (feth XDP, feth TC, plain veth, minimal devmap crossover, Linux bridge), TCP throughput
//! with iperf3, and the cost of bringing many pairs up and down.
pub mod generator;
pub mod scale;
pub mod tcp;
pub mod topology;

use serde::Serialize;

use crate::error::Result;

/// The rows of the packet-rate table, in print order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Row {
    FethXdp,
    FethTc,
    PlainVeth,
    MinimalDevmap,
    Bridge,
}

impl Row {
    pub const ALL: [Row; 5] = [Row::FethXdp, Row::FethTc, Row::PlainVeth, Row::MinimalDevmap, Row::Bridge];

    pub fn label(self) -> &'static str {
        match self {
            Row::FethXdp => "feth crossover, XDP mode",
            Row::FethTc => "feth crossover, TC mode",
            Row::PlainVeth => "plain veth, one hop",
            Row::MinimalDevmap => "minimal devmap redirect (no control plane)",
            Row::Bridge => "Linux bridge joining two veth pairs",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Measurement {
    pub row: Row,
    pub frame_size: usize,
    pub mpps: f64,
    pub gbps: f64,
    /// Frames generated over the whole run (warm-up included), and frames the sink counted
    /// in the measured window.
    pub generated: u64,
    pub received: u64,
    /// For feth rows: frames the product's own counters say were delivered.
    pub feth_delivered: Option<u64>,
}

#[derive(Clone, Debug)]
pub struct RateOptions {
    pub sizes: Vec<usize>,
    pub seconds: f64,
    pub cpus: Vec<usize>,
}

/// Measures every row at every size; `progress` hears each finished measurement.
pub fn packet_rates(opts: &RateOptions, mut progress: impl FnMut(&Measurement)) -> Result<Vec<Measurement>> {
    let mut objects = generator::BenchObject::load()?;
    let mut results = Vec::new();
    for row in Row::ALL {
        let topo = topology::Topology::build(row, &mut objects)?;
        let measured = opts.sizes.iter().try_for_each(|&size| {
            let m = generator::measure(&objects, &topo, size, opts)?;
            progress(&m);
            results.push(m);
            Ok(())
        });
        // Torn down whether or not the measurement worked.
        topo.teardown(&mut objects)?;
        measured?;
    }
    Ok(results)
}

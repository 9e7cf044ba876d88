//! The packet-rate table: its rows, their ratios, and what one slice of it measured.
use serde::Serialize;

/// The rows of the packet-rate table, in print order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Row {
    FethXdp,
    /// XDP mode with an impairment that never fires in a run (`--loss-every` 2^32-1): the
    /// impairment path on every frame, so its ratio to `FethXdp` bounds what `impair` costs.
    FethXdpImpaired,
    FethTc,
    PlainVeth,
    MinimalDevmap,
    MinimalTc,
    MinimalPeer,
    Bridge,
}

impl Row {
    pub const ALL: [Row; 8] = [
        Row::FethXdp,
        Row::FethXdpImpaired,
        Row::FethTc,
        Row::PlainVeth,
        Row::MinimalDevmap,
        Row::MinimalTc,
        Row::MinimalPeer,
        Row::Bridge,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Row::FethXdp => "feth crossover, XDP mode",
            Row::FethXdpImpaired => "feth XDP mode, impairment check taken",
            Row::FethTc => "feth crossover, TC mode",
            Row::PlainVeth => "plain veth, one hop",
            Row::MinimalDevmap => "bare devmap redirect (no control plane)",
            Row::MinimalTc => "bare TC redirect, two hops (no control plane)",
            Row::MinimalPeer => "bare TC redirect_peer, one hop (no control plane)",
            Row::Bridge => "Linux bridge joining two veth pairs",
        }
    }

    /// The row's name on the command line (`--rows`) and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Row::FethXdp => "feth_xdp",
            Row::FethXdpImpaired => "feth_xdp_impaired",
            Row::FethTc => "feth_tc",
            Row::PlainVeth => "plain_veth",
            Row::MinimalDevmap => "minimal_devmap",
            Row::MinimalTc => "minimal_tc",
            Row::MinimalPeer => "minimal_peer",
            Row::Bridge => "bridge",
        }
    }

    pub fn by_name(name: &str) -> Option<Row> {
        Row::ALL.into_iter().find(|r| r.name() == name)
    }

    pub fn is_feth(self) -> bool {
        matches!(self, Row::FethXdp | Row::FethXdpImpaired | Row::FethTc)
    }

    /// Rows whose sink counts at TC ingress: TC mode's one hop (`bpf_redirect_peer`) delivers
    /// after the receiver's XDP hook, so TC mode and its TC baselines count there; the others
    /// at XDP.
    pub fn sinks_at_tc(self) -> bool {
        matches!(self, Row::FethTc | Row::MinimalTc | Row::MinimalPeer)
    }
}

/// The JSON names the row as `--rows` does.
impl From<Row> for &'static str {
    fn from(row: Row) -> &'static str {
        row.name()
    }
}

/// The ratios the report gives, each computed within a round: (row, baseline).
pub const RATIOS: [(Row, Row); 7] = [
    (Row::FethXdp, Row::MinimalDevmap),
    (Row::FethTc, Row::MinimalPeer),
    (Row::FethXdpImpaired, Row::FethXdp),
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
    /// Lost to an impairment (loss, loss-every); none is expected in the bench.
    pub tx_impaired: u64,
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
    /// With `--program-cost`: nanoseconds per run of the program that crossed the row's
    /// frames (rows with one: benchmark::cost).
    pub program_ns: Option<f64>,
}

impl Sample {
    /// The slice as one progress line.
    pub fn line(&self) -> String {
        let counted = self
            .accounting
            .as_ref()
            .map(|a| format!(", generated {} received {} unaccounted {}", a.generated, a.received, a.unaccounted))
            .unwrap_or_default();
        format!("round {} {} {}B: {:.2} Mpps{counted}", self.round + 1, self.row.label(), self.frame_size, self.mpps)
    }
}

#[derive(Clone, Debug)]
pub struct RateOptions {
    pub sizes: Vec<usize>,
    /// Seconds measured per slice (after a short warm-up).
    pub seconds: f64,
    /// Rounds at least; then more, until every ratio is pinned (stats::Spread::pinned to
    /// PINNED) or `max_seconds` have passed since the first.
    pub rounds: usize,
    pub max_seconds: f64,
    pub cpus: Vec<usize>,
    /// The rows measured, in table order (`--rows`; default all).
    pub rows: Vec<Row>,
    /// Time the crossing programs (benchmark::cost).
    pub program_cost: bool,
}

/// How close the 95% interval of every ratio must come to its median (+/-3%) before the
/// packet-rate table stops taking rounds.
pub const PINNED: f64 = 0.03;

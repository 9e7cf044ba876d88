//! `feth-loader gen` and `sink`: the benchmark's live-frames generator and its sink
//! (crate::object), pointed at any feth interface. `gen NAME` transmits as if NAME sent the
//! frames (BPF_PROG_RUN with live frames on NAME, the program answering XDP_TX): they enter the
//! crossover like anything NAME transmits and are counted in NAME's `tx`. `sink NAME` counts
//! and drops what NAME receives, at XDP.
pub mod generate;
pub mod probe;
pub mod replay;
pub mod sink;
pub mod target;

pub use generate::{GenOptions, GenReport, generate};
pub use replay::{parse_capture, read_capture, replay};
pub use sink::{SinkReport, sink};

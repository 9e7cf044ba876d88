//! The contract between the feth eBPF programs and the loader: every name and memory layout
//! that both sides use lives here, once.
#![no_std]

pub mod media;
pub mod names;
pub mod port;
pub mod settings;
pub mod stats;

pub use media::PortMedia;
pub use port::{Mode, PortConfig};
pub use settings::Settings;
pub use stats::PortStats;

/// Ports (feth interfaces) the maps are sized for. DESIGN.md asks for at least 1024.
pub const MAX_PORTS: u32 = 4096;

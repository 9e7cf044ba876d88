//! State changes of the feth ports. Each checks everything before it touches anything, writes
//! the records (the wire ends' aliases) first and then lets `repair::converge` bring the data
//! path in line, so a command killed half-way leaves what the next one finishes or rolls back.
pub mod cable;
pub mod hops;
pub mod lifecycle;
pub mod peering;
pub mod settings;

pub use cable::Cable;
pub use lifecycle::{PortSpec, check_create, create, create_many, destroy_many, down, up, up_many};
pub use peering::{PeerOptions, check_peer, peer, peer_remote, unpeer};
pub use settings::{set_impair, set_media, set_mtu};

//! feth control plane: creates veth pairs, records each port's configuration on its wire end,
//! and keeps the pinned maps, programs and links (a cache of those records) in step.
pub mod datapath;
pub mod error;
pub mod fault;
pub mod kernel;
pub mod observe;
pub mod ops;
pub mod port;
pub mod repair;
pub mod session;
pub mod state;
pub mod topology;

pub use error::{FethError, Result};
pub use session::{pending_repairs, read_state, with_repaired_state, with_state};
pub use state::State;

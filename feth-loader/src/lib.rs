//! feth control plane: creates veth pairs, loads and pins the crossover, and keeps the pinned
//! maps, the wire ends and their link state consistent.
pub mod bench;
pub mod counters;
pub mod crossover;
pub mod error;
pub mod ethtool;
pub mod lock;
pub mod media;
pub mod monitor;
pub mod names;
pub mod netns;
pub mod ops;
pub mod pair;
pub mod prometheus;
pub mod report;
pub mod rtnl;
pub mod state;

pub use error::{FethError, Result};
pub use state::State;

/// Refuses to run without root before anything is touched.
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(FethError::NotRoot);
    }
    Ok(())
}

/// Runs `f` on freshly loaded state while holding the exclusive lock.
pub fn with_state<T>(f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    require_root()?;
    let _lock = lock::exclusive()?;
    let mut state = State::load()?;
    f(&mut state)
}

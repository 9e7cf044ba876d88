//! feth control plane: creates veth pairs, records each port's configuration on its wire end,
//! and keeps the pinned maps, programs and links (a cache of those records) in step.
pub mod bpffs;
pub mod caller;
pub mod capture;
pub mod counters;
pub mod crossover;
pub mod error;
pub mod ethtool;
pub mod fault;
pub mod features;
pub mod helper;
pub mod impair;
pub mod media;
pub mod monitor;
pub mod names;
pub mod netns;
pub mod ops;
pub mod pair;
pub mod privilege;
pub mod prometheus;
pub mod record;
pub mod remote;
pub mod repair;
pub mod report;
pub mod rtnl;
pub mod shaper;
pub mod state;
pub mod topology;

pub use error::{FethError, Result};
pub use state::State;

/// Runs a changing command: exclusive lock, then the state read and repaired (a killed
/// command's leftovers, lost pins, an older layout), then `f`; what it pinned is then shared
/// with the state directory's group (read only).
pub fn with_state<T>(f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    with_repaired_state(&mut repair::Run::all(true), f)
}

/// `with_state` with the repair's record of changes kept in `run` (for `repair`).
pub fn with_repaired_state<T>(run: &mut repair::Run, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    privilege::require(&privilege::CHANGE)?;
    privilege::require_writable_state()?;
    let _lock = bpffs::lock_exclusive()?;
    let mut state = State::read()?;
    let result = repair::everything(&mut state, run).and_then(|()| f(&mut state));
    privilege::share_state_with_group()?;
    if state.ports.is_empty() {
        bpffs::remove_if_empty();
    }
    result
}

/// Runs a reading command: shared lock, the state as it is, nothing written. Says on stderr
/// (once) when the state needs a repair, without doing it.
pub fn read_state<T>(f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
    privilege::require(&privilege::READ)?;
    let _lock = bpffs::lock_shared()?;
    let state = State::read()?;
    warn_if_needs_repair();
    f(&state)
}

/// The repairs a changing command would make now, without making them.
pub fn pending_repairs() -> Result<Vec<String>> {
    let mut state = State::read()?;
    let mut run = repair::Run::all(false);
    repair::everything(&mut state, &mut run)?;
    Ok(run.changes)
}

fn warn_if_needs_repair() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(changes) = pending_repairs()
            && let Some(first) = changes.first()
        {
            eprintln!(
                "feth-loader: note: the state needs {} repair(s) (first: {first}); `feth-loader repair` makes them",
                changes.len()
            );
        }
    });
}

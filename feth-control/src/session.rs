//! How commands meet the state: a changing command holds the exclusive lock and repairs first;
//! a reading command holds the shared lock and changes nothing.
use crate::{
    error::Result,
    kernel::{bpffs, privilege},
    repair,
    state::State,
};

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

/// A changing command that changes nothing itself: the lock and the repair every changing
/// command starts with (`monitor` after a deletion behind its back).
pub fn repair_now() -> Result<()> {
    with_state(|_| Ok(()))
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

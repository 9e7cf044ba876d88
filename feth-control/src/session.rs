//! How commands meet the state: a changing command holds the exclusive lock and repairs first;
//! a reading command holds the shared lock and changes nothing. Every entry point takes the
//! command's `Context` (which state directory, which policies, which kernel).
use crate::{
    error::Result,
    kernel::{context::Context, privilege},
    repair,
    state::State,
};

/// Runs a changing command: exclusive lock, then the state read and repaired (a killed
/// command's leftovers, lost pins, an older layout), then `f`; what it pinned is then shared
/// with the state directory's group (read only).
pub fn with_state<T>(ctx: &Context, f: impl FnOnce(&mut State) -> Result<T>) -> Result<T> {
    with_repaired_state(ctx, &mut repair::Run::all(true), f)
}

/// `with_state` with the repair's record of changes kept in `run` (for `repair`).
pub fn with_repaired_state<T>(
    ctx: &Context,
    run: &mut repair::Run,
    f: impl FnOnce(&mut State) -> Result<T>,
) -> Result<T> {
    privilege::require(&privilege::CHANGE)?;
    privilege::require_writable_state(&ctx.state)?;
    let _lock = ctx.state.lock_exclusive()?;
    let mut state = State::read(ctx)?;
    let result = repair::everything(&mut state, run).and_then(|()| f(&mut state));
    privilege::share_state_with_group(&ctx.state)?;
    if state.ports.is_empty() {
        ctx.state.remove_if_empty();
    }
    result
}

/// Runs a reading command: shared lock, the state as it is, nothing written. Says on stderr
/// (once) when the state needs a repair, without doing it.
pub fn read_state<T>(ctx: &Context, f: impl FnOnce(&State) -> Result<T>) -> Result<T> {
    privilege::require(&privilege::READ)?;
    let _lock = ctx.state.lock_shared()?;
    let state = State::read(ctx)?;
    warn_if_needs_repair(ctx);
    f(&state)
}

/// A changing command that changes nothing itself: the lock and the repair every changing
/// command starts with (`monitor` after a deletion behind its back).
pub fn repair_now(ctx: &Context) -> Result<()> {
    with_state(ctx, |_| Ok(()))
}

/// The repairs a changing command would make now, without making them.
pub fn pending_repairs(ctx: &Context) -> Result<Vec<String>> {
    let mut state = State::read(ctx)?;
    let mut run = repair::Run::all(false);
    repair::everything(&mut state, &mut run)?;
    Ok(run.changes)
}

fn warn_if_needs_repair(ctx: &Context) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(changes) = pending_repairs(ctx)
            && let Some(first) = changes.first()
        {
            eprintln!(
                "feth-loader: note: the state needs {} repair(s) (first: {first}); `feth-loader repair` makes them",
                changes.len()
            );
        }
    });
}

//! Bringing every kernel object in line with the wire ends' records: the one way state changes
//! reach the data path, and the repair of whatever a killed command, a lost pin or a deletion
//! behind our back left (ARCHITECTURE.md, "Repair").
//!
//! Repair plans as topology files do: each step looks at the state and returns the typed
//! changes it wants (`Change`), which are then made, or in a dry run only listed and recorded
//! in the in-memory state, so that later steps plan as if they had been made. Nothing here
//! deletes an interface a user made: only the VXLAN devices of remote peers
//! (crate::datapath::tunnel), which the loader owns, are created and deleted here.
use crate::{
    datapath::{crossover::Crossover, load},
    error::Result,
    state::State,
};

pub mod change;
pub mod pins;
pub mod records;
pub mod run;
pub mod wires;

pub use change::{Change, delete_tunnel};
pub use run::Run;
use run::carry_out;

/// Every repair, in order. Commands that change state run this first; `repair` runs it alone.
pub fn everything(state: &mut State, run: &mut Run) -> Result<()> {
    let finished = records::finish(state);
    carry_out(state, run, finished)?;
    let rolled_back = records::roll_back_one_sided_peers(state);
    carry_out(state, run, rolled_back)?;
    converge(state, run)?;
    let capture = pins::clear_stale_capture(state)?;
    carry_out(state, run, capture)
}

/// The data-path steps: what `peer`, `unpeer`, a mode switch or `create` use after writing
/// records. Order keeps every frame accounted: the new program is attached (and the user end's
/// offloads set) before the map flips to it, the old one detached after, carrier last.
pub fn converge(state: &mut State, run: &mut Run) -> Result<()> {
    let retired = pins::retire_old_layouts(state, run);
    carry_out(state, run, retired)?;
    let loaded = pins::load(state);
    carry_out(state, run, loaded)?;
    let created = wires::create_tunnels(state, run);
    carry_out(state, run, created)?;
    let linked = wires::link_tunnels(state, run);
    carry_out(state, run, linked)?;
    let registered = wires::register_tunnels(state, run)?;
    carry_out(state, run, registered)?;
    let attached = wires::attach_programs(state, run)?;
    carry_out(state, run, attached)?;
    fault_point(run, "converge:attached");
    let mapped = wires::sync_maps(state, run)?;
    carry_out(state, run, mapped)?;
    fault_point(run, "converge:maps");
    let stale = wires::remove_stale_tunnels(state, run);
    carry_out(state, run, stale)?;
    let detached = wires::detach_stale_links(state, run);
    carry_out(state, run, detached)?;
    let carrier = wires::sync_carrier(state, run);
    carry_out(state, run, carrier)?;
    let shapers = wires::sync_shapers(state, run)?;
    carry_out(state, run, shapers)?;
    unload_if_empty(state, run)
}

/// When no port is left, nothing of feth is: every pin and the state directory go.
pub fn unload_if_empty(state: &mut State, run: &mut Run) -> Result<()> {
    let unload = pins::unload_if_empty(state);
    carry_out(state, run, unload)
}

/// Fault points of a command's own changes (not of the repair every command starts with).
fn fault_point(run: &Run, name: &str) {
    if !run.is_whole() {
        crate::fault::point(name);
    }
}

/// Makes the per-slot maps hold `slots` slots: loads larger ones when they are too small,
/// keeps every port's counters and re-registers and re-attaches every port (frames that arrive
/// in that instant are not crossed). Done once before a command creates many ports.
pub fn grow(state: &mut State, slots: u32) -> Result<()> {
    let Some(crossover) = state.crossover.as_ref() else { return Ok(()) };
    if crossover.capacity() >= slots {
        return Ok(());
    }
    let saved: Vec<_> = state
        .ends()
        .iter()
        .filter_map(|(_, index)| feth_common::wire_slot_of(*index))
        .map(|slot| Ok((slot, crossover.stats_per_cpu(slot)?, crossover.shared(slot)?)))
        .collect::<Result<_>>()?;
    let wires = state.ends();
    state.crossover = None;
    load::unpin_programs_and_links(&state.ctx, &wires)?;
    load::unpin_slot_maps(&state.ctx.state)?;
    state.crossover = Some(Crossover::open_or_load(&state.ctx, load::capacity_for(slots))?);
    converge(state, &mut Run::all(true))?;
    let crossover = state.crossover()?;
    for (slot, values, shared) in saved {
        crossover.set_stats_per_cpu(slot, values)?;
        crossover.set_shared(slot, &shared)?;
    }
    Ok(())
}

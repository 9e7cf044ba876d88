//! The pins on bpffs: older layouts retired, missing pins loaded, everything removed when no
//! port is left, and a capture switch a killed capture left on turned off.
use super::{change::Change, run::Run};
use crate::{
    datapath::{capture_switch, legacy::OldLayout, load},
    error::Result,
    state::State,
};

/// Pins of another layout: their links are detached (an XDP link would keep the current
/// layout's off the wire end) and their maps and programs unpinned. The records already hold
/// what they knew.
pub fn retire_old_layouts(run: &Run) -> Vec<Change> {
    if !run.is_whole() {
        return Vec::new();
    }
    OldLayout::find().into_iter().map(|old| Change::RetireLayout { path: old.path }).collect()
}

/// Missing pins (removed, bpffs remounted, a load cut short) are loaded again; maps that still
/// exist are reused with their contents. Programs keep the maps they were loaded with, so when
/// any pin is missing the programs are reloaded and every wire end re-attached to them (frames
/// that arrive in that instant are not crossed). With every pin there but not yet opened, the
/// maps are only opened.
pub fn load(state: &State) -> Vec<Change> {
    if state.ports.is_empty() {
        return Vec::new();
    }
    let missing = load::missing_pins();
    if missing.is_empty() && state.crossover.is_some() {
        return Vec::new();
    }
    let reattach = !missing.is_empty() && load::any_pinned();
    vec![Change::LoadPins { missing, reattach }]
}

/// When no port is left, nothing of feth is: every pin and the state directory go.
pub fn unload_if_empty(state: &State) -> Vec<Change> {
    if !state.ports.is_empty() {
        return Vec::new();
    }
    vec![Change::Unload { noted: load::any_pinned() || !OldLayout::find().is_empty() }]
}

/// A capture killed without switching the data path's capture off leaves it on; nobody holds
/// the layout directory then (crate::datapath::capture_switch).
pub fn clear_stale_capture(state: &State) -> Result<Vec<Change>> {
    let Some(crossover) = state.crossover.as_ref() else { return Ok(Vec::new()) };
    let mut settings = crossover.settings()?;
    Ok(if capture_switch::clear_if_stale(&mut settings)? { vec![Change::ClearCapture { settings }] } else { vec![] })
}

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
pub fn retire_old_layouts(state: &State, run: &Run) -> Vec<Change> {
    if !run.is_whole() {
        return Vec::new();
    }
    OldLayout::find(&state.ctx.state).into_iter().map(|old| Change::RetireLayout { old }).collect()
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
    let missing = load::missing_pins(&state.ctx.state);
    if missing.is_empty() && state.crossover.is_some() {
        return Vec::new();
    }
    let reattach = !missing.is_empty() && load::any_pinned(&state.ctx.state);
    vec![Change::LoadPins { missing, reattach, layout: state.ctx.state.layout_dir() }]
}

/// When no port is left, nothing of feth is: every pin and the state directory go.
pub fn unload_if_empty(state: &State) -> Vec<Change> {
    if !state.ports.is_empty() {
        return Vec::new();
    }
    vec![Change::Unload { noted: load::any_pinned(&state.ctx.state) || !OldLayout::find(&state.ctx.state).is_empty() }]
}

/// A capture killed without switching the data path's capture off leaves it on; nobody holds
/// the layout directory then (crate::datapath::capture_switch).
pub fn clear_stale_capture(state: &State) -> Result<Vec<Change>> {
    let Some(crossover) = state.crossover.as_ref() else { return Ok(Vec::new()) };
    let mut settings = crossover.settings()?;
    Ok(if capture_switch::clear_if_stale(&state.ctx.state, &mut settings)? {
        vec![Change::ClearCapture { settings }]
    } else {
        vec![]
    })
}

#[cfg(test)]
mod tests {
    use feth_common::names::{LAYOUT_DIR, MAP_PORTS, PROG_XDP_WIRE};

    use super::*;
    use crate::state::testing::{ScratchDir, port, state_in};

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().flat_map(Change::describe).collect()
    }

    #[test]
    fn missing_pins_are_loaded_and_the_wires_reattached_only_when_others_remain() {
        let dir = ScratchDir::new("load");
        assert!(load(&state_in(&dir, vec![])).is_empty(), "no port, nothing to load");
        let state = state_in(&dir, vec![port(0, "feth0")]);
        let [Change::LoadPins { missing, reattach: false, .. }] = &load(&state)[..] else {
            panic!("{:?}", load(&state))
        };
        assert!(missing.contains(&PROG_XDP_WIRE) && missing.contains(&MAP_PORTS));
        // One pin left (bpffs lost the others): the programs are reloaded and re-attached.
        dir.touch(&format!("{LAYOUT_DIR}/{MAP_PORTS}"));
        let changes = load(&state);
        let [Change::LoadPins { missing, reattach: true, .. }] = &changes[..] else { panic!("{changes:?}") };
        assert!(!missing.contains(&MAP_PORTS));
        assert!(lines(&changes)[0].contains(&format!("{}/{LAYOUT_DIR}", dir.0.display())), "{:?}", lines(&changes));
    }

    #[test]
    fn older_layouts_are_retired_and_everything_goes_with_the_last_port() {
        let dir = ScratchDir::new("layouts");
        let state = state_in(&dir, vec![port(0, "feth0")]);
        assert!(retire_old_layouts(&state, &Run::all(false)).is_empty());
        assert!(unload_if_empty(&state).is_empty(), "a port is left");
        // Layout 3 in its directory, layout 1 directly in the state directory.
        dir.touch("v3/FETH_PORTS");
        dir.touch(MAP_PORTS);
        let retired = retire_old_layouts(&state, &Run::all(false));
        let mut paths: Vec<String> = lines(&retired);
        paths.sort();
        let expected = |p: &std::path::Path| format!("remove the pins of an older layout in {}", p.display());
        assert_eq!(paths, [expected(&dir.0), expected(&dir.0.join("v3"))]);
        // Retiring removes what the older layouts pinned and nothing of this one's.
        dir.touch(&format!("{LAYOUT_DIR}/{MAP_PORTS}"));
        let mut state = state;
        for change in &retired {
            change.apply(&mut state).expect("retire");
        }
        assert!(!dir.0.join("v3").exists() && !dir.0.join(MAP_PORTS).exists());
        assert!(dir.0.join(LAYOUT_DIR).join(MAP_PORTS).exists());
        assert!(retire_old_layouts(&state, &Run::all(false)).is_empty());
        dir.touch("v3/FETH_PORTS");
        // A command's own run leaves older layouts to the whole repair.
        assert!(retire_old_layouts(&state, &Run::ports(&[0])).is_empty());
        let empty = state_in(&dir, vec![]);
        assert!(matches!(unload_if_empty(&empty)[..], [Change::Unload { noted: true }]));
        let clean = ScratchDir::new("clean");
        assert!(matches!(unload_if_empty(&state_in(&clean, vec![]))[..], [Change::Unload { noted: false }]));
    }
}

//! One pass of repairs: which ports it touches, whether it makes its changes or only lists
//! them, and what it changed.
use super::change::Change;
use crate::{
    error::Result,
    state::{Port, State},
};

/// One pass of repairs.
pub struct Run {
    /// Make the changes (false: only list them).
    pub apply: bool,
    /// Restrict the data-path steps to these slots (a command's own ports); `None` for all.
    pub only: Option<Vec<u32>>,
    /// What was (or would be) changed, one sentence each.
    pub changes: Vec<String>,
}

impl Run {
    pub fn all(apply: bool) -> Run {
        Run { apply, only: None, changes: Vec::new() }
    }

    pub fn ports(slots: &[u32]) -> Run {
        Run { apply: true, only: Some(slots.to_vec()), changes: Vec::new() }
    }

    /// The ports this run touches: the listed ones (found by slot), or all.
    pub fn touched<'a>(&self, state: &'a State) -> Vec<&'a Port> {
        match &self.only {
            Some(slots) => slots.iter().filter_map(|s| state.by_slot(*s)).collect(),
            None => state.ports.iter().collect(),
        }
    }

    /// Whether this run repairs everything (not only a command's own ports).
    pub fn is_whole(&self) -> bool {
        self.only.is_none()
    }
}

/// Makes `changes` (or, in a dry run, only lists them), in order, recording what each leaves.
pub fn carry_out(state: &mut State, run: &mut Run, changes: Vec<Change>) -> Result<()> {
    for change in changes {
        run.changes.extend(change.describe());
        if run.apply {
            change.apply(state)?;
        }
        change.record_in(state);
    }
    Ok(())
}

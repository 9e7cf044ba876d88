//! A plan checked against the machine before its first change: what the file alone cannot
//! say (an underlay that is missing, a name another interface holds, a namespace that may not
//! be created) is refused here, so a refused file changes nothing. What only the change itself
//! finds out is undone by `apply`'s rollback.
use super::plan::Change;
use crate::{datapath::tunnel, error::Result, kernel::netns::Netns, ops, state::State};

/// Checks every change that creates something; the others act on ports that exist (or that
/// the checked creations make).
pub fn check(state: &State, changes: &[Change]) -> Result<()> {
    for change in changes {
        match change {
            Change::Create(spec) => {
                if let Netns::Named(name) = Netns::from_arg(spec.netns.as_deref())? {
                    state.ctx.check_netns(&name)?;
                }
                ops::check_create(state, spec)?;
            }
            Change::PeerRemote(name, at) => tunnel::check(at, name, &state.rtnl)?,
            _ => {}
        }
    }
    Ok(())
}

/// The named namespaces the changes would create (they do not exist now), which a rollback
/// removes again.
pub fn new_namespaces(changes: &[Change]) -> Vec<String> {
    let mut names: Vec<String> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Create(spec) => match Netns::from_arg(spec.netns.as_deref()) {
                Ok(Netns::Named(name)) if !crate::kernel::netns::exists(&name) => Some(name),
                _ => None,
            },
            _ => None,
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

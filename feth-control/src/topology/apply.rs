//! Making a plan's changes, through the same operations as the commands, all or none: the plan
//! is checked against the machine first (`check`), and a change that still fails midway has
//! the ones before it undone, so a refused file leaves the machine as it was.
use super::{
    check,
    file::{Topology, export},
    plan::Change,
};
use crate::{
    error::{FethError, Result},
    ops::{self, PeerOptions},
    state::State,
};

/// Checks the changes, then makes them in order; on a failure, puts back the state of before.
pub fn apply(state: &mut State, changes: &[Change]) -> Result<()> {
    check::check(state, changes)?;
    // The running state as a file: applying it with --prune is the way back (an export applied
    // changes nothing, and pruning removes what this apply created).
    let before = Topology::parse("(the state before apply)", &export(state)?, &state.ctx.features)?;
    let namespaces = check::new_namespaces(changes);
    // Made here rather than by `create`, which says so on stderr: the printed plan already
    // names them, and a rolled back apply leaves nothing to report.
    let made = namespaces.iter().try_for_each(|name| state.ctx.ensure_netns(name).map(drop));
    let Err(cause) = made.and_then(|()| make(state, changes)) else { return Ok(()) };
    match roll_back(state, &before, &namespaces) {
        Ok(()) => Err(cause),
        Err(undo) => Err(FethError::NotRolledBack { cause: Box::new(cause), undo: Box::new(undo) }),
    }
}

/// Applies `before` again and deletes the namespaces the failed apply made (none of them
/// existed before it).
fn roll_back(state: &mut State, before: &Topology, namespaces: &[String]) -> Result<()> {
    let back = before.plan(state, true)?;
    make(state, &back)?;
    for name in namespaces {
        if crate::kernel::netns::exists(name) {
            crate::kernel::netns::delete(name)?;
        }
    }
    Ok(())
}

/// Makes the changes, in order.
fn make(state: &mut State, changes: &[Change]) -> Result<()> {
    for change in changes {
        match change {
            Change::Unpeer(n) => ops::unpeer(state, n)?,
            Change::Destroy(n) => ops::destroy_many(state, &[n.as_str()])?,
            Change::Create(spec) => {
                ops::create_many(state, std::slice::from_ref(spec))?;
            }
            Change::Mtu(n, mtu) => ops::set_mtu(state, n, *mtu)?,
            Change::Media(n, m) => ops::set_media(state, n, m.clone())?,
            Change::Impair(n, i) => ops::set_impair(state, n, *i)?,
            Change::Peer(a, b, mode, hwcsum) => {
                ops::peer(state, a, b, PeerOptions { mode: Some(*mode), hwcsum: *hwcsum })?;
                // As `up` does: a peered pair is ready for traffic.
                for name in [a, b] {
                    let p = state.port(name)?;
                    crate::datapath::pair::set_user_up(name, &p.netns)?;
                }
                ops::hops::follow(state, &[a, b])?;
            }
            Change::PeerRemote(n, r) => {
                ops::peer_remote(state, n, r.clone())?;
                let p = state.port(n)?;
                crate::datapath::pair::set_user_up(n, &p.netns)?;
            }
        }
    }
    Ok(())
}

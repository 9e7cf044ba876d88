//! The records themselves: creations and upgrades cut short are finished, one-sided peerings
//! rolled back. Everything else follows the records.
use feth_common::{Mode, PortConfig};

use super::change::Change;
use crate::{
    datapath::{legacy, pair},
    port::record::{Record, Recorded},
    state::{Port, State},
};

/// A wire end without a record is a creation cut short after the veth pair was made: finish it
/// with the defaults. Layout 1's alias is upgraded to a record, keeping the peer and mode the
/// old pins hold. A batched destroy cut short leaves wire ends in the doomed group: they stay.
pub fn finish(state: &State) -> Vec<Change> {
    let old = if state.ports.iter().any(|p| p.recorded == Recorded::V1) {
        legacy::old_layout_configs(&state.ctx.state)
    } else {
        vec![]
    };
    let mut changes = Vec::new();
    for port in &state.ports {
        if port.wire.group == pair::DOOMED_GROUP {
            let (wire, wire_index) = (port.wire.name.clone(), port.wire.index);
            changes.push(Change::KeepDoomed { slot: port.slot, name: port.name(), wire, wire_index });
        }
        let (record, why) = match port.recorded {
            Recorded::Current => continue,
            Recorded::Missing => (
                Record::default(),
                format!("{}: finish a creation cut short (record defaults on {})", port.name(), port.wire.name),
            ),
            Recorded::V1 => (
                upgraded_record(port, &old),
                format!("{}: upgrade {}'s record from layout 1", port.name(), port.wire.name),
            ),
        };
        changes.push(Change::WriteRecord { slot: port.slot, record, why });
    }
    changes
}

/// A layout-1 port's record: the peer and mode its old pins hold, hwcsum from its user end
/// (layout 1 kept it nowhere else).
fn upgraded_record(port: &Port, old: &[PortConfig]) -> Record {
    let mut record = Record::default();
    if let Some(c) = old.iter().find(|c| c.slot == port.slot && c.is_registered()) {
        record.mode = Mode::from_raw(c.mode).unwrap_or(record.mode);
        record.peer = c.is_peered().then_some(c.peer_slot);
    }
    if record.mode == Mode::Tc
        && let Some(user) = &port.user
    {
        record.hwcsum = pair::user_offloads(&user.name, &port.netns).map_or(true, |(csum, _)| csum);
    }
    record
}

/// Peering must be mutual; a one-sided record is a `peer` or `unpeer` cut short between its two
/// record writes: it is rolled back (which also finishes an `unpeer`).
pub fn roll_back_one_sided_peers(state: &State) -> Vec<Change> {
    state
        .ports
        .iter()
        .filter(|p| p.record.peer.is_some() && state.peer_of(p).is_none())
        .map(|p| Change::WriteRecord {
            slot: p.slot,
            record: Record { peer: None, ..p.record.clone() },
            why: format!("{}: roll back a one-sided peering", p.name()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{port, state_of};

    #[test]
    fn a_creation_cut_short_is_finished_and_a_doomed_wire_kept() {
        let mut missing = port(0, "feth0");
        missing.recorded = Recorded::Missing;
        let mut doomed = port(1, "feth1");
        doomed.wire.group = pair::DOOMED_GROUP;
        let state = state_of(vec![missing, doomed]);
        let changes = finish(&state);
        let lines: Vec<String> = changes.iter().flat_map(Change::describe).collect();
        assert_eq!(
            lines,
            [
                "feth0: finish a creation cut short (record defaults on fwire0)",
                "feth1: keep fwire1 (a destroy was cut short before deleting it)"
            ]
        );
        assert!(matches!(&changes[0], Change::WriteRecord { slot: 0, record, .. } if *record == Record::default()));
    }

    #[test]
    fn only_one_sided_peerings_are_rolled_back() {
        let mut a = port(0, "feth0");
        let mut b = port(1, "feth1");
        let mut c = port(2, "feth2");
        a.record.peer = Some(1);
        b.record.peer = Some(0);
        c.record.peer = Some(0);
        let mut state = state_of(vec![a, b, c]);
        let changes = roll_back_one_sided_peers(&state);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].describe(), ["feth2: roll back a one-sided peering"]);
        changes[0].record_in(&mut state);
        assert!(roll_back_one_sided_peers(&state).is_empty(), "once recorded, nothing is left to roll back");
        assert!(finish(&state).is_empty(), "current records need no finishing");
    }
}

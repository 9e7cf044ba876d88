//! Counting helpers over `FETH_STATS`.
use feth_common::PortStats;

use crate::maps::FETH_STATS;

/// Applies `update` to this CPU's counters of `slot`. A slot outside the map is ignored: the
/// loader never hands one out.
#[inline(always)]
pub fn count(slot: u32, update: impl FnOnce(&mut PortStats)) {
    if let Some(stats) = FETH_STATS.get_ptr_mut(slot) {
        // SAFETY: per-CPU value, only this CPU writes it while this program runs.
        update(unsafe { &mut *stats });
    }
}

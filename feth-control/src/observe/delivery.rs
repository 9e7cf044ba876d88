//! Where a sender's frames went between two readings of its counters and its peer's: the one
//! accounting `gen` and the benchmark share, so that every frame is delivered or counted in a
//! drop reason by the same rule.
use serde::Serialize;

use crate::observe::counters::PortCounters;

/// Frames, by where they went; packets only.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// Entered the crossover (the sender's `tx`).
    pub tx: u64,
    /// Received by the peer's user end.
    pub delivered: u64,
    /// Refused by the sender's own veth before the crossover (its queue was full).
    pub tx_refused: u64,
    /// Refused while `flap` held the link down.
    pub link_down: u64,
    pub no_peer: u64,
    pub redirect_error: u64,
    pub loss: u64,
    pub loss_every: u64,
    /// Crossed but refused by the peer (larger than its MTU, queue full, admin down).
    pub rx_refused: u64,
    /// Extra copies made by `impair --duplicate` (delivered too).
    pub duplicated: u64,
}

impl Delivery {
    /// The growth of the counters from `before` to `after`: (sender, its peer if local).
    pub fn between(
        before: (&PortCounters, Option<&PortCounters>),
        after: (&PortCounters, Option<&PortCounters>),
    ) -> Delivery {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        let ((me0, peer0), (me1, peer1)) = (before, after);
        let (delivered, rx_refused) = match (peer0, peer1) {
            (Some(p0), Some(p1)) => {
                (d(p1.rx.packets, p0.rx.packets), d(p1.drops.rx_refused.packets, p0.drops.rx_refused.packets))
            }
            _ => (0, 0),
        };
        let (a0, a1) = (&me0.drops, &me1.drops);
        Delivery {
            tx: d(me1.tx.packets, me0.tx.packets),
            delivered,
            tx_refused: d(a1.tx_refused, a0.tx_refused),
            link_down: d(a1.tx_link_down, a0.tx_link_down),
            no_peer: d(a1.tx_no_peer.packets, a0.tx_no_peer.packets),
            redirect_error: d(a1.tx_redirect_error.packets, a0.tx_redirect_error.packets),
            loss: d(a1.tx_loss.packets, a0.tx_loss.packets),
            loss_every: d(a1.tx_loss_every.packets, a0.tx_loss_every.packets),
            rx_refused,
            duplicated: d(me1.duplicated.packets, me0.duplicated.packets),
        }
    }

    /// Frames dropped, for every reason.
    pub fn dropped(&self) -> u64 {
        self.tx_refused
            + self.link_down
            + self.no_peer
            + self.redirect_error
            + self.loss
            + self.loss_every
            + self.rx_refused
    }

    /// `sent + duplicated - delivered - every drop`: 0 when every one of `sent` frames is
    /// accounted for.
    pub fn unaccounted(&self, sent: u64) -> i64 {
        (sent + self.duplicated) as i64 - (self.delivered + self.dropped()) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::counters::Direction;

    fn packets(n: u64) -> Direction {
        Direction { packets: n, bytes: n * 100 }
    }

    #[test]
    fn every_frame_has_a_place() {
        let (me0, peer0) = (PortCounters::default(), PortCounters::default());
        let mut me1 = PortCounters { tx: packets(90), duplicated: packets(5), ..Default::default() };
        me1.drops.tx_refused = 10;
        me1.drops.tx_loss = packets(3);
        let mut peer1 = PortCounters { rx: packets(90), ..Default::default() };
        peer1.drops.rx_refused = packets(2);
        let d = Delivery::between((&me0, Some(&peer0)), (&me1, Some(&peer1)));
        assert_eq!((d.tx, d.delivered, d.dropped(), d.duplicated), (90, 90, 15, 5));
        assert_eq!(d.unaccounted(100), 0);
        assert_eq!(d.unaccounted(101), 1);
        let alone = Delivery::between((&me0, None), (&me1, None));
        assert_eq!((alone.delivered, alone.rx_refused), (0, 0));
    }
}

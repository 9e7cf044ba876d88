//! What `gen` and `sink` need of the interface they are pointed at: its namespace, addresses,
//! mode and peer; its counters and its peer's; and the rate its mode's bare path allows.
use std::time::Duration;

use feth_common::Mode;
use feth_control::{
    error::{FethError, Result},
    kernel::context::Context,
    kernel::netns::Netns,
    observe::counters::{self, PortCounters},
    read_state,
};

use super::probe;

/// How far a shared machine's speed moves between two moments (2x within a minute, README's
/// benchmark): a rate is refused only beyond this many times what the bare path carried, so that a slow moment
/// during the probe does not refuse a rate the run would keep.
const NOISE: f64 = 2.0;

/// Refuses `pps` (`whose` says where it comes from, if not from --rate) beyond NOISE times what
/// the kernel's bare path carried just now (`bare`), sending `how`.
pub fn refuse_above(name: &str, pps: f64, whose: &str, bare: &probe::BareRate, how: &str) -> Result<()> {
    if pps <= bare.pps * NOISE {
        return Ok(());
    }
    Err(FethError::Invalid(format!(
        "{name}: a rate of {pps:.0} frames/s{whose} cannot be met: it is more than {NOISE} times the {:.0} frames/s of these frames the kernel's bare {} carried {how} just now (on a scratch path of its own, {:.1} s), and feth's crossover does more; nothing was sent",
        bare.pps, bare.path, bare.seconds
    )))
}

/// NAME's port as `gen`/`sink` need it: namespace, user end name, MAC, MTU, the peer's name and
/// MAC, mode.
pub struct Target {
    pub netns: Netns,
    pub mac: Vec<u8>,
    pub mtu: u32,
    pub peer: Option<(String, Vec<u8>)>,
    /// How the port crosses over (TC for a remote peer).
    pub mode: Mode,
    /// What takes the frames at the peer: an XDP program on its user end, or its stack (an
    /// XDP program, the least work, when feth cannot tell: a remote peer).
    pub receiver: probe::Receiver,
}

pub fn target(ctx: &Context, name: &str) -> Result<Target> {
    read_state(ctx, |state| {
        let port = state.port(name)?;
        if port.mode() == Mode::Netkit || state.peer_of(port).is_some_and(|p| p.mode() == Mode::Netkit) {
            return Err(FethError::Refused {
                name: name.to_owned(),
                reason: "gen and sink send and count with XDP (live frames), which a netkit pair cannot transmit or run natively; use a pair in tc or xdp mode".into(),
            });
        }
        let user = port.user.as_ref().ok_or_else(|| FethError::Refused {
            name: name.to_owned(),
            reason: "its user end cannot be reached (its namespace has no name or process)".into(),
        })?;
        let peer_user = state.peer_of(port).map(|p| (p.name(), p.user.as_ref()));
        let receiver = match peer_user {
            Some((_, Some(user))) if user.xdp_prog_id.is_none() => probe::Receiver::Stack,
            _ => probe::Receiver::Xdp,
        };
        let peer = peer_user.map(|(name, user)| (name, user.map(|u| u.mac.clone()).unwrap_or_default()));
        Ok(Target {
            netns: port.netns.clone(),
            mac: user.mac.clone(),
            mtu: user.mtu,
            peer,
            mode: port.mode(),
            receiver,
        })
    })
}

pub fn counters_of(ctx: &Context, name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    read_state(ctx, |state| {
        let me = counters::read(state, state.port(name)?)?;
        let other = match peer {
            Some(p) => Some(counters::read(state, state.port(p)?)?),
            None => None,
        };
        Ok((me, other))
    })
}

/// Reads the counters until two reads 100 ms apart agree (bounded by 3 s).
pub fn counters_at_rest(ctx: &Context, name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    let mut last = counters_of(ctx, name, peer)?;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let now = counters_of(ctx, name, peer)?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

//! `feth-loader gen` and `sink`: the benchmark's live-frames generator and its sink
//! (crate::object), pointed at any feth interface. `gen NAME` transmits as if NAME sent the
//! frames (BPF_PROG_RUN with live frames on NAME, the program answering XDP_TX): they enter the
//! crossover like anything NAME transmits and are counted in NAME's `tx`. `sink NAME` counts
//! and drops what NAME receives, at XDP.
use std::time::Duration;

use feth_common::Mode;
use feth_control::{
    error::{FethError, Result},
    kernel::netns::Netns,
    observe::counters::{self, PortCounters},
    read_state,
};

pub mod generate;
pub mod probe;
pub mod replay;
pub mod sink;

pub use generate::{GenOptions, GenReport, generate};
pub use replay::{parse_capture, read_capture, replay};
pub use sink::{SinkReport, sink};

/// How far a shared machine's speed moves between two moments (2x within a minute, README's
/// benchmark): a rate is refused only beyond this many times what the bare path carried, so that a slow moment
/// during the probe does not refuse a rate the run would keep.
const NOISE: f64 = 2.0;

/// Refuses `pps` (`whose` says where it comes from, if not from --rate) beyond NOISE times what
/// the kernel's bare path carried just now (`bare`), sending `how`.
fn refuse_above(name: &str, pps: f64, whose: &str, bare: &probe::BareRate, how: &str) -> Result<()> {
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
struct Target {
    netns: Netns,
    mac: Vec<u8>,
    mtu: u32,
    peer: Option<(String, Vec<u8>)>,
    /// How the port crosses over (TC for a remote peer).
    mode: Mode,
    /// What takes the frames at the peer: an XDP program on its user end, or its stack (an
    /// XDP program, the least work, when feth cannot tell: a remote peer).
    receiver: probe::Receiver,
}

fn target(name: &str) -> Result<Target> {
    read_state(|state| {
        let port = state.port(name)?;
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

fn counters_of(name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    read_state(|state| {
        let me = counters::read(state, state.port(name)?)?;
        let other = match peer {
            Some(p) => Some(counters::read(state, state.port(p)?)?),
            None => None,
        };
        Ok((me, other))
    })
}

/// Reads the counters until two reads 100 ms apart agree (bounded by 3 s).
fn settle(name: &str, peer: Option<&str>) -> Result<(PortCounters, Option<PortCounters>)> {
    let mut last = counters_of(name, peer)?;
    for _ in 0..30 {
        std::thread::sleep(Duration::from_millis(100));
        let now = counters_of(name, peer)?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

//! What `apply` would change, as typed changes in the order it makes them.
use feth_common::{DEFAULT_MODE, Mode};

use super::file::{Topology, Wanted};
use crate::{
    error::{FethError, Result},
    kernel::netns::Netns,
    ops::PortSpec,
    port::impair::Impairment,
    port::media::{self, PortMedia},
    port::mtu,
    port::remote::Endpoint,
    state::State,
};

/// One change `apply` makes.
#[derive(Debug)]
pub enum Change {
    Unpeer(String),
    Destroy(String),
    Create(PortSpec),
    Mtu(String, u32),
    Media(String, PortMedia),
    Impair(String, Impairment),
    Peer(String, String, Mode, Option<bool>),
    PeerRemote(String, Endpoint),
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Change::Unpeer(n) => write!(f, "unpeer {n}"),
            Change::Destroy(n) => write!(f, "destroy {n}"),
            Change::Create(s) => {
                write!(f, "create {}", s.name)?;
                if let Some(ns) = &s.netns {
                    write!(f, " --netns {ns}")?;
                }
                write!(f, " --mtu {}", s.mtu.unwrap_or(mtu::DEFAULT))?;
                match s.mode {
                    Some(mode) => write!(f, " --mode {}", mode.name()),
                    None => Ok(()),
                }
            }
            Change::Mtu(n, mtu) => write!(f, "set {n} mtu {mtu}"),
            Change::Media(n, m) => write!(
                f,
                "media {n} --list {} --current {}",
                m.list.iter().map(|w| media::format_word(*w)).collect::<Vec<_>>().join(","),
                media::format_word(m.current)
            ),
            Change::Impair(n, i) => {
                let text = i.describe();
                write!(f, "impair {n} {}", if text.is_empty() { "--clear".to_owned() } else { text.join(", ") })
            }
            Change::Peer(a, b, mode, hwcsum) => {
                write!(f, "peer {a} {b} --mode {}", mode.name())?;
                match hwcsum {
                    Some(on) => write!(f, " --hwcsum {}", crate::port::on_off(*on)),
                    None => Ok(()),
                }
            }
            Change::PeerRemote(n, r) => {
                write!(f, "peer {n} --remote {} --vni {} --port {}", r.addr, r.vni, r.port)?;
                if let Some(local) = r.local {
                    write!(f, " --local {local}")?;
                }
                match &r.dev {
                    Some(dev) => write!(f, " --dev {dev}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl Topology {
    /// What `apply` would change, one line each, in the order it changes them; refuses what
    /// feth cannot do (an interface in another namespace than the file says).
    pub fn plan(&self, state: &State, prune: bool) -> Result<Vec<Change>> {
        let mut changes = self.plan_unpeers(state);
        if prune {
            let named: std::collections::HashSet<&str> = self.wanted.iter().map(|w| w.name.as_str()).collect();
            for port in state.ports.iter().filter(|p| !named.contains(p.name().as_str())) {
                changes.push(Change::Destroy(port.name()));
            }
        }
        let mut after_peering = Vec::new();
        for w in &self.wanted {
            changes.extend(w.plan_port(state)?);
            changes.extend(w.plan_settings(state, &mut after_peering)?);
        }
        changes.extend(self.plan_peers(state)?);
        changes.extend(after_peering);
        Ok(changes)
    }

    /// Peerings the file does not want go first, so that new ones find both ends free. A pair
    /// neither of whose ends the file lists is not the file's business (but --prune's).
    fn plan_unpeers(&self, state: &State) -> Vec<Change> {
        let listed = |name: &str| self.wanted.iter().any(|w| w.name == name);
        let wants = |a: &str, b: &str| {
            self.wanted.iter().any(|w| w.name == a && w.peer.as_ref().is_some_and(|(p, _, _)| p == b))
        };
        let wanted_remote = |name: &str| self.wanted.iter().find(|w| w.name == name).and_then(|w| w.remote.as_ref());
        let mut changes = Vec::new();
        for port in &state.ports {
            let Some(peer) = state.peer_of(port) else { continue };
            let (name, peer_name) = (port.name(), peer.name());
            if port.slot < peer.slot && (listed(&name) || listed(&peer_name)) && !wants(&name, &peer_name) {
                changes.push(Change::Unpeer(name));
            }
        }
        for port in &state.ports {
            let Some(remote) = &port.record.remote else { continue };
            let name = port.name();
            if listed(&name) && !wanted_remote(&name).is_some_and(|w| *w == remote.at) {
                changes.push(Change::Unpeer(name));
            }
        }
        changes
    }

    /// Local and remote peerings the file wants and the state does not have.
    fn plan_peers(&self, state: &State) -> Result<Vec<Change>> {
        let mut changes = Vec::new();
        for w in &self.wanted {
            let Some((peer, mode, hwcsum)) = &w.peer else { continue };
            if w.name > *peer {
                continue;
            }
            // A port that exists must be able to run the mode (a netkit pair runs netkit only).
            for name in [&w.name, peer] {
                if let Some(p) = state.find(name)? {
                    p.check_mode(*mode)?;
                }
            }
            let now =
                state.find(&w.name)?.and_then(|p| state.peer_of(p).map(|q| (q.name(), p.mode(), p.record.hwcsum)));
            let same = now.is_some_and(|(p, m, h)| p == *peer && m == *mode && hwcsum.is_none_or(|want| want == h));
            if !same {
                changes.push(Change::Peer(w.name.clone(), peer.clone(), *mode, *hwcsum));
            }
        }
        for w in &self.wanted {
            let Some(remote) = &w.remote else { continue };
            let now = state.find(&w.name)?.and_then(|p| p.record.remote.as_ref());
            if !now.is_some_and(|r| r.at == *remote) {
                changes.push(Change::PeerRemote(w.name.clone(), remote.clone()));
            }
        }
        Ok(changes)
    }
}

impl Wanted {
    /// The port created, or its MTU set; a port in another namespace than the file's is refused.
    fn plan_port(&self, state: &State) -> Result<Option<Change>> {
        let w = self;
        let Some(port) = state.find(&w.name)? else {
            return Ok(Some(Change::Create(PortSpec {
                name: w.name.clone(),
                netns: w.netns.clone(),
                mtu: Some(w.mtu),
                mode: w.peer.as_ref().map(|(_, mode, _)| *mode).filter(|m| *m == Mode::Netkit),
            })));
        };
        if let Some(ns) = &w.netns
            && !port.netns.same_as(&Netns::from_arg(Some(ns))?)
        {
            return Err(FethError::Refused {
                name: w.name.clone(),
                reason: format!(
                    "is in network namespace {}, the file says {ns}: destroy it first or change the file",
                    port.netns
                ),
            });
        }
        // A remote peer's tunnel bounds the MTU (`peer --remote` lowered it).
        let keeps_tunnel = port.record.remote.as_ref().zip(w.remote.as_ref()).is_some_and(|(r, w)| *w == r.at);
        let tunnel_mtu = state.tunnels.get(&port.slot).filter(|_| keeps_tunnel).map(|t| t.mtu);
        let mtu = tunnel_mtu.map_or(w.mtu, |t| w.mtu.min(t));
        Ok(port
            .user
            .as_ref()
            .filter(|user| mtu_after_unpeer(port, user.mtu, keeps_tunnel) != mtu)
            .map(|_| Change::Mtu(w.name.clone(), mtu)))
    }

    /// Media and impairments. What the mode of now cannot do (duplication in XDP mode) waits
    /// in `after_peering` for the peering that switches the mode.
    fn plan_settings(&self, state: &State, after_peering: &mut Vec<Change>) -> Result<Vec<Change>> {
        let w = self;
        let mut changes = Vec::new();
        let current = state.find(&w.name)?;
        if current.is_none_or(|p| p.record.media != w.media)
            && !(current.is_none() && w.media == media::default_media())
        {
            changes.push(Change::Media(w.name.clone(), w.media.clone()));
        }
        if current.map_or(!w.impair.is_none(), |p| p.record.impair != w.impair) {
            let mode_now = current.map_or(DEFAULT_MODE, |p| p.mode());
            if w.impair.check(&w.name, mode_now, &state.ctx.features).is_ok() {
                changes.push(Change::Impair(w.name.clone(), w.impair));
            } else {
                after_peering.push(Change::Impair(w.name.clone(), w.impair));
            }
        }
        Ok(changes)
    }
}

/// The user end's MTU once the planned changes have unpeered `port` from a remote peer it
/// does not keep: unpeer puts back an MTU `peer --remote` lowered (ops::unpeer), so the MTU
/// to compare with the file is that one.
fn mtu_after_unpeer(port: &crate::state::Port, now: u32, keeps_tunnel: bool) -> u32 {
    let lowered = port.record.remote.as_ref().filter(|_| !keeps_tunnel).and_then(|r| r.lowered_mtu);
    match lowered {
        Some((before, set)) if set == now => before,
        _ => now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::testing::{port, state_of};

    const PAIR: &str = "[interface.feth0]\nmtu = 3000\n\n[[peer]]\na = \"feth0\"\nb = \"feth1\"\nmode = \"xdp\"\n";

    fn lines(changes: &[Change]) -> Vec<String> {
        changes.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn an_empty_state_gets_everything_the_file_lists() {
        let file = Topology::parse("pair.toml", PAIR, &crate::state::testing::context().features).unwrap();
        let changes = file.plan(&state_of(vec![]), false).unwrap();
        assert_eq!(
            lines(&changes),
            ["create feth0 --mtu 3000", "create feth1 --mtu 1500", "peer feth0 feth1 --mode xdp"]
        );
    }

    #[test]
    fn a_peering_the_file_does_not_want_goes_first_and_prune_destroys_the_rest() {
        let (mut feth0, mut feth2) = (port(0, "feth0"), port(2, "feth2"));
        (feth0.record.peer, feth2.record.peer) = (Some(2), Some(0));
        feth0.user.as_mut().unwrap().mtu = 3000;
        feth0.record.mode = Mode::Xdp;
        let state = state_of(vec![feth0, port(1, "feth1"), feth2, port(3, "other")]);
        let file = Topology::parse("pair.toml", PAIR, &crate::state::testing::context().features).unwrap();
        assert_eq!(lines(&file.plan(&state, false).unwrap()), ["unpeer feth0", "peer feth0 feth1 --mode xdp"]);
        let pruned = lines(&file.plan(&state, true).unwrap());
        assert_eq!(pruned, ["unpeer feth0", "destroy feth2", "destroy other", "peer feth0 feth1 --mode xdp"]);
    }

    #[test]
    fn a_state_that_matches_needs_nothing() {
        let (mut feth0, mut feth1) = (port(0, "feth0"), port(1, "feth1"));
        (feth0.record.peer, feth1.record.peer) = (Some(1), Some(0));
        (feth0.record.mode, feth1.record.mode) = (Mode::Xdp, Mode::Xdp);
        feth0.user.as_mut().unwrap().mtu = 3000;
        let file = Topology::parse("pair.toml", PAIR, &crate::state::testing::context().features).unwrap();
        assert!(file.plan(&state_of(vec![feth0, feth1]), false).unwrap().is_empty());
    }

    #[test]
    fn a_file_error_names_its_line() {
        let bad = "[interface.feth0]\nmtu = 3000\n\n[interface.feth1]\nmtu = 99999\n";
        let err = Topology::parse("bad.toml", bad, &crate::state::testing::context().features).unwrap_err().to_string();
        assert!(err.starts_with("bad.toml:4: feth1: MTU 99999 is out of range"), "{err}");
        let self_peer = "[[peer]]\na = \"feth0\"\nb = \"feth0\"\n";
        let err = Topology::parse("self.toml", self_peer, &crate::state::testing::context().features)
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be peered with itself"), "{err}");
    }
}

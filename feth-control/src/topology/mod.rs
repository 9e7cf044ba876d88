//! A set of ports as a file: `apply FILE.toml` makes the machine match it, changing only what
//! differs; `export` writes the running state as such a file (applying an export changes
//! nothing). A listed interface is described in full: what the file leaves out takes its
//! default (MTU 1500, feth's media, no impairment, unpeered unless a `[[peer]]` names it).
//! A pair the file peers is set up, as `up` does; interfaces it does not list are left alone
//! (`--prune` destroys them).
//!
//! ```toml
//! [interface.feth0]
//! netns = "left"
//! mtu = 9000
//! impair = { loss = "1%", rate = "100mbit" }
//!
//! [interface.feth1]
//! netns = "right"
//!
//! [[peer]]
//! a = "feth0"
//! b = "feth1"
//! mode = "tc"
//!
//! [interface.feth2]
//! remote = { addr = "198.18.9.2", vni = 100, dev = "ul0" }   # a peer on another host
//! ```
use std::collections::BTreeMap;

use feth_common::{DEFAULT_MODE, Mode};
use serde::{Deserialize, Serialize};

use crate::{
    error::{FethError, Result},
    kernel::netns::Netns,
    ops::{self, PeerOptions, PortSpec},
    port::impair::{self, Impairment},
    port::media::{self, PortMedia},
    port::mtu,
    port::names,
    port::remote::Endpoint,
    state::State,
};

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct File<I, P> {
    #[serde(default = "BTreeMap::new", rename = "interface")]
    interfaces: BTreeMap<String, I>,
    #[serde(default = "Vec::new", rename = "peer", skip_serializing_if = "Vec::is_empty")]
    peers: Vec<P>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Interface {
    #[serde(skip_serializing_if = "Option::is_none")]
    netns: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mtu: Option<u32>,
    /// The current media word (`media --current`).
    #[serde(skip_serializing_if = "Option::is_none")]
    media: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    media_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    impair: Option<impair::Spec>,
    /// A peer on another host (`peer NAME --remote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    remote: Option<RemoteFile>,
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct RemoteFile {
    addr: String,
    #[serde(default = "default_vni")]
    vni: u32,
    #[serde(default = "default_port")]
    port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    local: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dev: Option<String>,
}

fn default_vni() -> u32 {
    crate::port::remote::DEFAULT_VNI
}

fn default_port() -> u16 {
    crate::port::remote::DEFAULT_PORT
}

impl RemoteFile {
    fn check(&self, name: &str) -> Result<Endpoint> {
        let addr = |flag: &str, text: &str| {
            text.parse().map_err(|_| {
                FethError::Invalid(format!("{name}: remote {flag} {text:?} is not an IPv4 or IPv6 address"))
            })
        };
        let at = Endpoint {
            addr: addr("addr", &self.addr)?,
            vni: self.vni,
            port: self.port,
            local: self.local.as_deref().map(|l| addr("local", l)).transpose()?,
            dev: self.dev.clone(),
        };
        at.check_form().map_err(|reason| FethError::Invalid(format!("{name}: {reason}")))?;
        Ok(at)
    }

    fn of(r: &Endpoint) -> RemoteFile {
        RemoteFile {
            addr: r.addr.to_string(),
            vni: r.vni,
            port: r.port,
            local: r.local.map(|a| a.to_string()),
            dev: r.dev.clone(),
        }
    }
}

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Peer {
    a: String,
    b: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hwcsum: Option<bool>,
}

/// One interface as the file wants it, checked.
#[derive(Debug)]
struct Wanted {
    name: String,
    netns: Option<String>,
    mtu: u32,
    media: PortMedia,
    impair: Impairment,
    /// Peer, mode, hwcsum (`None`: as the record has it; the file said nothing).
    peer: Option<(String, Mode, Option<bool>)>,
    /// A peer on another host instead.
    remote: Option<Endpoint>,
}

/// A checked topology file.
#[derive(Debug)]
pub struct Topology {
    wanted: Vec<Wanted>,
}

/// "FILE:LINE: reason" for a byte offset of the file.
fn at(path: &str, text: &str, offset: usize, why: impl std::fmt::Display) -> FethError {
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    FethError::Invalid(format!("{path}:{line}: {why}"))
}

impl Topology {
    /// Parses and checks the whole file; the first error is refused with its line, before
    /// anything is changed.
    pub fn parse(path: &str, text: &str) -> Result<Topology> {
        let file: File<toml::Spanned<Interface>, toml::Spanned<Peer>> = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            at(path, text, offset, e.message())
        })?;
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        for (name, spanned) in &file.interfaces {
            let offset = spanned.span().start;
            let w = spanned.get_ref().check(name).map_err(|e| at(path, text, offset, e))?;
            wanted.insert(name.clone(), w);
        }
        for spanned in &file.peers {
            let offset = spanned.span().start;
            spanned.get_ref().add_to(&mut wanted).map_err(|why| at(path, text, offset, why))?;
        }
        Ok(Topology { wanted: wanted.into_values().collect() })
    }

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

impl Interface {
    /// What the file wants of interface `name`, checked as the commands would check it.
    fn check(&self, name: &str) -> Result<Wanted> {
        let i = self;
        names::validate(name)?;
        if let Some(ns) = &i.netns {
            Netns::from_arg(Some(ns))?;
        }
        let mtu = i.mtu.unwrap_or(mtu::DEFAULT);
        mtu::check(name, mtu)?;
        let media = media::apply(name, &media::default_media(), i.media_list.as_deref(), i.media.as_deref())?;
        let impair = match &i.impair {
            Some(spec) => spec.apply(name, Impairment::default())?,
            None => Impairment::default(),
        };
        let remote = i.remote.as_ref().map(|r| r.check(name)).transpose()?;
        Ok(Wanted { name: name.to_owned(), netns: i.netns.clone(), mtu, media, impair, peer: None, remote })
    }
}

impl Peer {
    /// Adds this peering to both ends in `wanted` (an end the file does not list takes every
    /// default). `Err` is the reason it cannot be.
    fn add_to(&self, wanted: &mut BTreeMap<String, Wanted>) -> std::result::Result<(), String> {
        let p = self;
        let mode = match p.mode.as_deref() {
            None => DEFAULT_MODE,
            Some(text) => text.parse().map_err(|()| format!("mode {text:?}: xdp or tc"))?,
        };
        if let Err(why) = crate::port::record::hwcsum_fits(p.hwcsum, mode) {
            return Err(format!("{}: hwcsum needs mode tc: {why}", p.a));
        }
        if p.a == p.b {
            return Err(format!("{}: an interface cannot be peered with itself", p.a));
        }
        for (me, other) in [(&p.a, &p.b), (&p.b, &p.a)] {
            names::validate(me).map_err(|e| e.to_string())?;
            let w = wanted.entry(me.clone()).or_insert_with(|| Wanted {
                name: me.clone(),
                netns: None,
                mtu: mtu::DEFAULT,
                media: media::default_media(),
                impair: Impairment::default(),
                peer: None,
                remote: None,
            });
            if let Some((taken, _, _)) = &w.peer {
                return Err(format!("{me}: already peered with {taken} earlier in the file"));
            }
            if w.remote.is_some() {
                return Err(format!("{me}: has a remote peer in the file; it cannot also have a local one"));
            }
            w.peer = Some((other.clone(), mode, p.hwcsum));
            w.impair.check(me, mode).map_err(|e| e.to_string())?;
            mtu::check_xdp(me, mode, w.mtu, &crate::kernel::features::get()).map_err(|e| e.to_string())?;
        }
        Ok(())
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
            if w.impair.check(&w.name, mode_now).is_ok() {
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
                write!(f, " --mtu {}", s.mtu.unwrap_or(mtu::DEFAULT))
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
                    Some(on) => write!(f, " --hwcsum {}", if *on { "on" } else { "off" }),
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

/// Makes the changes, in order.
pub fn apply(state: &mut State, changes: &[Change]) -> Result<()> {
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

/// The running state as a topology file.
pub fn export(state: &State) -> Result<String> {
    let mut file: File<Interface, Peer> = File { interfaces: BTreeMap::new(), peers: Vec::new() };
    for port in &state.ports {
        let name = port.name();
        let i = &port.record;
        let default_media = media::default_media();
        file.interfaces.insert(
            name.clone(),
            Interface {
                netns: port.netns.label(),
                mtu: port.user.as_ref().map(|u| u.mtu).filter(|m| *m != mtu::DEFAULT),
                media: (i.media != default_media).then(|| media::format_word(i.media.current)),
                media_list: (i.media.list != default_media.list)
                    .then(|| i.media.list.iter().map(|w| media::format_word(*w)).collect()),
                impair: (!i.impair.is_none()).then(|| impair::Spec::of(&i.impair)),
                remote: i.remote.as_ref().map(|r| RemoteFile::of(&r.at)),
            },
        );
        if let Some(peer) = state.peer_of(port)
            && port.slot < peer.slot
        {
            file.peers.push(Peer {
                a: name,
                b: peer.name(),
                mode: Some(port.mode().name().to_owned()),
                hwcsum: (port.mode() == Mode::Tc).then_some(port.record.hwcsum),
            });
        }
    }
    let text = toml::to_string(&file).map_err(|e| FethError::Invalid(format!("cannot write the topology: {e}")))?;
    Ok(format!("# feth topology, written by `feth-loader export`; `feth-loader apply FILE` restores it\n\n{text}"))
}

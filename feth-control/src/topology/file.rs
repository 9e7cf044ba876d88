//! Topology files as written: their TOML form, checked as the commands check what they are
//! given, and the running state written back as one (`export`).
use std::collections::BTreeMap;

use feth_common::{DEFAULT_MODE, Mode};
use serde::{Deserialize, Serialize};

use crate::{
    error::{FethError, Result},
    kernel::{features::Features, netns::Netns},
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
pub(super) struct Wanted {
    pub(super) name: String,
    pub(super) netns: Option<String>,
    pub(super) mtu: u32,
    pub(super) media: PortMedia,
    pub(super) impair: Impairment,
    /// Peer, mode, hwcsum (`None`: as the record has it; the file said nothing).
    pub(super) peer: Option<(String, Mode, Option<bool>)>,
    /// A peer on another host instead.
    pub(super) remote: Option<Endpoint>,
}

/// A checked topology file.
#[derive(Debug)]
pub struct Topology {
    pub(super) wanted: Vec<Wanted>,
}

/// "FILE:LINE: reason" for a byte offset of the file.
fn at(path: &str, text: &str, offset: usize, why: impl std::fmt::Display) -> FethError {
    let line = text[..offset.min(text.len())].matches('\n').count() + 1;
    FethError::Invalid(format!("{path}:{line}: {why}"))
}

impl Topology {
    /// Parses and checks the whole file; the first error is refused with its line, before
    /// anything is changed.
    /// `features` are the running kernel's (the largest MTU XDP mode crosses depends on them).
    pub fn parse(path: &str, text: &str, features: &Features) -> Result<Topology> {
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
            spanned.get_ref().add_to(&mut wanted, features).map_err(|why| at(path, text, offset, why))?;
        }
        Ok(Topology { wanted: wanted.into_values().collect() })
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
    fn add_to(&self, wanted: &mut BTreeMap<String, Wanted>, features: &Features) -> std::result::Result<(), String> {
        let p = self;
        let mode = match p.mode.as_deref() {
            None => DEFAULT_MODE,
            Some(text) => text.parse().map_err(|()| format!("mode {text:?}: xdp, tc or netkit"))?,
        };
        if mode == Mode::Netkit && !features.netkit {
            return Err(format!(
                "mode \"netkit\" needs netkit devices (Linux 6.7 or later, built with CONFIG_NETKIT); this kernel ({}) has none",
                crate::kernel::features::release()
            ));
        }
        if let Err(why) = crate::port::record::hwcsum_fits(p.hwcsum, mode) {
            return Err(format!("{}: hwcsum needs mode tc or netkit: {why}", p.a));
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
            w.impair.check(me, mode, features).map_err(|e| e.to_string())?;
            mtu::check_xdp(me, mode, w.mtu, features).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
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
                hwcsum: port.mode().is_skb().then_some(port.record.hwcsum),
            });
        }
    }
    let text = toml::to_string(&file).map_err(|e| FethError::Invalid(format!("cannot write the topology: {e}")))?;
    Ok(format!("# feth topology, written by `feth-loader export`; `feth-loader apply FILE` restores it\n\n{text}"))
}

//! A blocking rtnetlink connection bound to the namespace of the thread that opened it.
//!
//! One tokio runtime drives every connection of the process (a socket keeps the namespace it
//! was opened in, whichever thread polls it).
use std::sync::LazyLock;

use futures::{StreamExt as _, TryStreamExt as _};
use rtnetlink::{
    Handle,
    packet_core::{NLM_F_ACK, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload},
    packet_route::{
        RouteNetlinkMessage,
        link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, LinkXdp, State},
        nsid::{NsidAttribute, NsidMessage},
    },
};

use crate::error::{Context as _, FethError, Result, errno};

/// What feth reads of a link.
#[derive(Clone, Debug, Default)]
pub struct LinkView {
    pub index: u32,
    pub name: String,
    pub alias: Option<String>,
    pub mtu: u32,
    pub mac: Vec<u8>,
    pub admin_up: bool,
    pub carrier: bool,
    pub oper_up: bool,
    pub is_veth: bool,
    /// A netkit device (feth's netkit mode: wire end and user end are a netkit pair).
    pub is_netkit: bool,
    pub is_vxlan: bool,
    /// ifindex of a veth's (or netkit's) other end (in its own namespace).
    pub link: Option<u32>,
    /// Namespace of the other end, as an id relative to this link's namespace; `None` when
    /// both ends share a namespace.
    pub link_netnsid: Option<i32>,
    pub xdp_prog_id: Option<u32>,
    /// The kernel's count of frames this interface failed to transmit (for a veth: what its
    /// other end refused, or what was sent while that end was down).
    pub tx_dropped: u64,
    /// Interface group (IFLA_GROUP).
    pub group: u32,
    /// What the kernel says this interface sent (for a tunnel end: what it encapsulated).
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// What the kernel says this interface received.
    pub rx_packets: u64,
    pub rx_bytes: u64,
}

impl LinkView {
    /// One end of a pair feth can make a port of: a veth, or a netkit (netkit mode).
    pub fn is_pair_end(&self) -> bool {
        self.is_veth || self.is_netkit
    }
}

impl From<&LinkMessage> for LinkView {
    fn from(msg: &LinkMessage) -> Self {
        let mut view = LinkView {
            index: msg.header.index,
            admin_up: msg.header.flags.contains(LinkFlags::Up),
            carrier: msg.header.flags.contains(LinkFlags::LowerUp),
            ..Default::default()
        };
        for attr in &msg.attributes {
            match attr {
                LinkAttribute::IfName(n) => view.name = n.clone(),
                LinkAttribute::IfAlias(a) => view.alias = Some(a.clone()),
                LinkAttribute::Mtu(m) => view.mtu = *m,
                LinkAttribute::Address(a) => view.mac = a.clone(),
                LinkAttribute::Carrier(c) => view.carrier = *c != 0,
                LinkAttribute::OperState(s) => view.oper_up = *s == State::Up,
                LinkAttribute::Link(l) => view.link = Some(*l),
                LinkAttribute::Stats64(st) => {
                    view.tx_dropped = st.tx_dropped;
                    view.tx_packets = st.tx_packets;
                    view.tx_bytes = st.tx_bytes;
                    view.rx_packets = st.rx_packets;
                    view.rx_bytes = st.rx_bytes;
                }
                LinkAttribute::LinkNetNsId(id) => view.link_netnsid = Some(*id),
                LinkAttribute::Group(g) => view.group = *g,
                LinkAttribute::LinkInfo(infos) => {
                    view.is_veth = infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
                    view.is_netkit = infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Netkit)));
                    view.is_vxlan = infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Vxlan)));
                }
                LinkAttribute::Xdp(xdp) => {
                    view.xdp_prog_id = xdp.iter().find_map(|x| match x {
                        LinkXdp::ProgId(id) if *id != 0 => Some(*id),
                        _ => None,
                    });
                }
                _ => {}
            }
        }
        view
    }
}

/// The process's one runtime.
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime (no I/O driver?)")
    });
    &RUNTIME
}

pub struct Rtnl {
    handle: Handle,
}

impl Rtnl {
    /// Opens a connection in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let _guard = runtime().enter();
        let (connection, handle, _) = rtnetlink::new_connection().context("open rtnetlink socket")?;
        runtime().spawn(connection);
        Ok(Rtnl { handle })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        runtime().block_on(f)
    }

    /// The id this namespace gives the namespace open as `fd` (`RTM_GETNSID`), if any.
    pub fn nsid_of(&self, fd: std::os::fd::BorrowedFd<'_>) -> Result<Option<i32>> {
        use std::os::fd::AsRawFd as _;
        let mut msg = NsidMessage::default();
        msg.attributes.push(NsidAttribute::Fd(fd.as_raw_fd() as u32));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
        req.header.flags = NLM_F_REQUEST;
        let mut replies = self.handle.clone().request(req).context("ask the namespace id")?;
        self.block_on(async {
            while let Some(reply) = replies.next().await {
                match reply.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                        let id = m.attributes.iter().find_map(|a| match a {
                            NsidAttribute::Id(id) if *id >= 0 => Some(*id),
                            _ => None,
                        });
                        return Ok(id);
                    }
                    NetlinkPayload::Error(e) if e.code.is_some() => {
                        return Err(FethError::Netlink {
                            context: "ask the namespace id".into(),
                            cause: rtnetlink::Error::NetlinkError(e),
                        });
                    }
                    _ => {}
                }
            }
            Ok(None)
        })
    }

    /// Sends one request that the kernel answers with an acknowledgement (or an error), for
    /// messages rtnetlink's builders cannot make (qdisc options it does not encode).
    pub fn request_ack(&self, message: RouteNetlinkMessage, flags: u16) -> std::result::Result<(), rtnetlink::Error> {
        let mut req = NetlinkMessage::from(message);
        req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut replies = self.handle.clone().request(req)?;
        self.block_on(async {
            while let Some(reply) = replies.next().await {
                if let NetlinkPayload::Error(e) = reply.payload
                    && e.code.is_some()
                {
                    return Err(rtnetlink::Error::NetlinkError(e));
                }
            }
            Ok(())
        })
    }

    pub fn links(&self) -> Result<Vec<LinkView>> {
        self.block_on(async { self.handle.link().get().execute().map_ok(|m| LinkView::from(&m)).try_collect().await })
            .context("list links")
    }

    pub fn link_by_name(&self, name: &str) -> Result<Option<LinkView>> {
        let found =
            self.block_on(async { self.handle.link().get().match_name(name.to_owned()).execute().try_next().await });
        not_found_is_none(found.map(|m| m.map(|m| LinkView::from(&m))), name)
    }

    /// A link that must exist: "no such interface" otherwise.
    pub fn require(&self, name: &str) -> Result<LinkView> {
        self.link_by_name(name)?.ok_or_else(|| FethError::NoSuchInterface(name.to_owned()))
    }

    pub fn link_by_index(&self, index: u32) -> Result<Option<LinkView>> {
        let found = self.block_on(async { self.handle.link().get().match_index(index).execute().try_next().await });
        not_found_is_none(found.map(|m| m.map(|m| LinkView::from(&m))), &format!("ifindex {index}"))
    }

    pub fn add(&self, msg: LinkMessage, what: &str) -> Result<()> {
        self.block_on(self.handle.link().add(msg).execute()).context(what.to_owned())
    }

    pub fn set(&self, msg: LinkMessage, what: &str) -> Result<()> {
        self.block_on(self.handle.link().set(msg).execute()).context(what.to_owned())
    }

    pub fn set_mtu(&self, index: u32, mtu: u32, what: &str) -> Result<()> {
        self.set(rtnetlink::LinkUnspec::new_with_index(index).mtu(mtu).build(), what)
    }

    pub fn set_alias(&self, index: u32, alias: String, what: &str) -> Result<()> {
        self.set(rtnetlink::LinkUnspec::new_with_index(index).alias(alias).build(), what)
    }

    pub fn set_up(&self, index: u32, up: bool, what: &str) -> Result<()> {
        let msg = rtnetlink::LinkUnspec::new_with_index(index);
        let msg = if up { msg.up() } else { msg.down() };
        self.set(msg.build(), what)
    }

    pub fn set_group(&self, index: u32, group: u32, what: &str) -> Result<()> {
        self.set(rtnetlink::LinkUnspec::new_with_index(index).link_group(group).build(), what)
    }

    /// Deletes every link of `group` in one request: the kernel unregisters them as one batch
    /// (one RCU grace period instead of one per link).
    pub fn del_group(&self, group: u32, what: &str) -> Result<()> {
        let mut msg = rtnetlink::packet_route::link::LinkMessage::default();
        msg.attributes.push(LinkAttribute::Group(group));
        self.block_on(self.handle.link().del_with_message(msg).execute()).context(what.to_owned())
    }

    pub fn del(&self, index: u32, what: &str) -> Result<()> {
        match self.block_on(self.handle.link().del(index).execute()) {
            Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
            other => other.context(what.to_owned()),
        }
    }
}

fn not_found_is_none(
    found: std::result::Result<Option<LinkView>, rtnetlink::Error>,
    what: &str,
) -> Result<Option<LinkView>> {
    match found {
        Ok(v) => Ok(v),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(cause) => Err(FethError::Netlink { context: format!("look up {what}"), cause }),
    }
}

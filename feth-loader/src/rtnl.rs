//! A blocking rtnetlink connection bound to the namespace of the thread that opened it.
use futures::TryStreamExt as _;
use rtnetlink::{
    Handle,
    packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, LinkXdp, State},
};

use crate::error::{Context as _, FethError, Result};

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
    /// ifindex of a veth's other end (in its own namespace).
    pub link: Option<u32>,
    pub xdp_prog_id: Option<u32>,
    /// The kernel's count of frames this interface failed to transmit (for a veth: what its
    /// other end refused, or what was sent while that end was down).
    pub tx_dropped: u64,
    /// Interface group (IFLA_GROUP).
    pub group: u32,
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
                LinkAttribute::Stats64(st) => view.tx_dropped = st.tx_dropped,
                LinkAttribute::Group(g) => view.group = *g,
                LinkAttribute::LinkInfo(infos) => {
                    view.is_veth = infos.iter().any(|i| matches!(i, LinkInfo::Kind(InfoKind::Veth)));
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

pub struct Rtnl {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

impl Rtnl {
    /// Opens a connection in the calling thread's network namespace.
    pub fn open() -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().context("tokio runtime")?;
        let _guard = rt.enter();
        let (connection, handle, _) = rtnetlink::new_connection().context("open rtnetlink socket")?;
        rt.spawn(connection);
        drop(_guard);
        Ok(Rtnl { rt, handle })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
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

/// The errno carried by a netlink error reply, if any.
pub fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| -c.get()),
        _ => None,
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

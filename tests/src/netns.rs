//! Network namespaces owned by a test, removed on drop even when an assertion fails.
use std::{
    fs::File,
    os::fd::AsRawFd as _,
    sync::atomic::{AtomicU32, Ordering},
};

use futures::TryStreamExt as _;
use rtnetlink::packet_route::link::{LinkAttribute, LinkFlags, LinkXdp};

const NETNS_DIR: &str = "/run/netns";

/// A named namespace (`ip netns` style) created for one test.
pub struct NetNs {
    pub name: String,
    owned: bool,
}

impl NetNs {
    /// A fresh, quiet namespace with a unique name (`ft<pid>-<n><tag>`): loopback up, IPv6
    /// disabled so no autoconfiguration frames disturb exact counts (tests craft their own
    /// IPv6 frames with packet sockets).
    pub fn new(tag: &str) -> NetNs {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!("ft{}-{}{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), tag);
        block_on(rtnetlink::NetworkNamespace::add(name.clone())).expect("create test namespace");
        let ns = NetNs { name, owned: true };
        ns.run(|| {
            block_on(async {
                let (conn, handle, _) = rtnetlink::new_connection().expect("rtnetlink");
                tokio::spawn(conn);
                let lo = handle.link().get().match_name("lo".to_owned()).execute().try_next().await.unwrap().unwrap();
                handle
                    .link()
                    .set(rtnetlink::LinkUnspec::new_with_index(lo.header.index).up().build())
                    .execute()
                    .await
                    .unwrap();
            });
            // /proc/sys/net follows the namespace of the thread that opens it.
            for key in ["all", "default"] {
                std::fs::write(format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6"), "1").expect("disable IPv6");
            }
        });
        ns
    }

    /// A unique name (as `new` gives) for a namespace a command under test is to create: not
    /// made here, deleted on drop if it exists by then.
    pub fn unmade(tag: &str) -> NetNs {
        let made = NetNs::new(tag);
        let name = made.name.clone();
        drop(made);
        NetNs { name, owned: true }
    }

    /// Whether the namespace exists (by its name).
    pub fn exists(&self) -> bool {
        std::path::Path::new(NETNS_DIR).join(&self.name).exists()
    }

    /// A handle on a namespace someone else owns (not deleted on drop).
    pub fn existing(name: &str) -> NetNs {
        NetNs { name: name.to_owned(), owned: false }
    }

    /// Runs `f` on a thread inside this namespace; sockets made there stay in it.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(format!("{NETNS_DIR}/{}", self.name)).expect("open namespace");
        std::thread::scope(|s| {
            s.spawn(|| {
                feth_control::kernel::netns::enter(&file).expect("enter the test namespace");
                f()
            })
            .join()
            .expect("thread in namespace panicked")
        })
    }

    /// A link as rtnetlink reports it inside this namespace.
    pub fn link(&self, name: &str) -> Option<Link> {
        self.run(|| link_here(name))
    }

    /// An ethtool value (`ETHTOOL_G*` command) of `dev`, e.g. 0x16 tx checksum, 0x1e TSO.
    pub fn ethtool(&self, dev: &str, cmd: u32) -> bool {
        self.run(|| {
            #[repr(C)]
            struct Value {
                cmd: u32,
                data: u32,
            }
            #[repr(C)]
            struct IfReq {
                name: [u8; 16],
                data: *mut Value,
                _pad: [u8; 16],
            }
            let mut value = Value { cmd, data: 0 };
            let mut req = IfReq { name: [0; 16], data: &mut value, _pad: [0; 16] };
            req.name[..dev.len()].copy_from_slice(dev.as_bytes());
            // SAFETY: a datagram socket for the ioctl, closed right after; req is valid.
            unsafe {
                let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
                assert!(fd >= 0);
                let rc = libc::ioctl(fd, libc::SIOCETHTOOL, &mut req);
                libc::close(fd);
                assert_eq!(rc, 0, "ethtool {cmd:#x} on {dev}: {}", std::io::Error::last_os_error());
            }
            value.data != 0
        })
    }

    /// Runs `op` with an rtnetlink handle inside this namespace and the ifindex of `dev`.
    fn on_link<T: Send, F, Fut>(&self, dev: &str, op: F) -> T
    where
        F: FnOnce(rtnetlink::Handle, u32) -> Fut + Send,
        Fut: std::future::Future<Output = T>,
    {
        self.run(|| {
            block_on(async {
                let (conn, handle, _) = rtnetlink::new_connection().expect("rtnetlink");
                tokio::spawn(conn);
                let link = handle.link().get().match_name(dev.to_owned()).execute().try_next().await;
                let index = link.ok().flatten().unwrap_or_else(|| panic!("{dev} exists")).header.index;
                op(handle, index).await
            })
        })
    }

    /// Brings `dev` up (like `ip link set dev up`).
    pub fn set_up(&self, dev: &str) {
        self.on_link(dev, |h, i| async move {
            h.link().set(rtnetlink::LinkUnspec::new_with_index(i).up().build()).execute().await.expect("set up")
        })
    }

    /// Renames `dev` (like `ip link set dev name new`), behind feth-loader's back. Down first and
    /// up again after, as Linux before 6.2 refuses to rename a running interface.
    pub fn rename(&self, dev: &str, new: &str) {
        let new = new.to_owned();
        self.on_link(dev, |h, i| async move {
            let set = |m| h.link().set(m).execute();
            set(rtnetlink::LinkUnspec::new_with_index(i).down().build()).await.expect("set down");
            set(rtnetlink::LinkUnspec::new_with_index(i).name(new).build()).await.expect("rename");
            set(rtnetlink::LinkUnspec::new_with_index(i).up().build()).await.expect("set up");
        })
    }

    /// Moves `dev` into namespace `to` (like `ip link set dev netns to`), behind feth-loader's back.
    pub fn move_to(&self, dev: &str, to: &NetNs) {
        let target = File::open(format!("{NETNS_DIR}/{}", to.name)).expect("open target namespace");
        let fd = target.as_raw_fd();
        self.on_link(dev, |h, i| async move {
            h.link()
                .set(rtnetlink::LinkUnspec::new_with_index(i).setns_by_fd(fd).build())
                .execute()
                .await
                .expect("move")
        });
        drop(target);
    }

    /// Deletes `dev` (like `ip link del dev`), behind feth-loader's back.
    pub fn delete(&self, dev: &str) {
        self.on_link(dev, |h, i| async move { h.link().del(i).execute().await.expect("delete link") })
    }

    /// Sets `dev`'s MTU through rtnetlink (like `ip link set dev mtu N`).
    pub fn set_mtu(&self, dev: &str, mtu: u32) {
        assert!(self.try_set_mtu(dev, mtu), "{dev}: set mtu {mtu}");
    }

    /// `set_mtu`, false when the kernel refuses it.
    pub fn try_set_mtu(&self, dev: &str, mtu: u32) -> bool {
        self.on_link(dev, |h, i| async move {
            h.link().set(rtnetlink::LinkUnspec::new_with_index(i).mtu(mtu).build()).execute().await.is_ok()
        })
    }

    /// Adds an address (CIDR) to `dev`.
    pub fn addr(&self, dev: &str, ip: std::net::IpAddr, prefix: u8) {
        self.on_link(dev, |h, i| async move { h.address().add(i, ip, prefix).execute().await.expect("add address") })
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        let _ = block_on(rtnetlink::NetworkNamespace::del(self.name.clone()));
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub carrier: bool,
    pub admin_up: bool,
    pub mtu: u32,
    pub mac: Vec<u8>,
    pub tx_queues: u32,
    pub rx_queues: u32,
    /// Id of the XDP program on it, if any.
    pub xdp_prog: Option<u32>,
    /// Frames it sent, as the kernel counts them.
    pub tx_packets: u64,
}

/// A link in the calling thread's namespace.
pub fn link_here(name: &str) -> Option<Link> {
    block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().expect("rtnetlink");
        tokio::spawn(conn);
        let msg = handle.link().get().match_name(name.to_owned()).execute().try_next().await.ok()??;
        let mut link = Link {
            index: msg.header.index,
            carrier: msg.header.flags.contains(LinkFlags::LowerUp),
            admin_up: msg.header.flags.contains(LinkFlags::Up),
            mtu: 0,
            mac: Vec::new(),
            tx_queues: 0,
            rx_queues: 0,
            xdp_prog: None,
            tx_packets: 0,
        };
        for attr in msg.attributes {
            match attr {
                LinkAttribute::Mtu(m) => link.mtu = m,
                LinkAttribute::Address(a) => link.mac = a,
                LinkAttribute::Carrier(c) => link.carrier = c != 0,
                LinkAttribute::NumTxQueues(q) => link.tx_queues = q,
                LinkAttribute::NumRxQueues(q) => link.rx_queues = q,
                LinkAttribute::Stats64(s) => link.tx_packets = s.tx_packets,
                LinkAttribute::Xdp(xdp) => {
                    link.xdp_prog = xdp.iter().find_map(|x| match x {
                        LinkXdp::ProgId(id) if *id != 0 => Some(*id),
                        _ => None,
                    })
                }
                _ => {}
            }
        }
        Some(link)
    })
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime").block_on(f)
}

/// Names of every link in the calling thread's namespace.
pub fn link_names_here() -> Vec<String> {
    block_on(async {
        let (conn, handle, _) = rtnetlink::new_connection().expect("rtnetlink");
        tokio::spawn(conn);
        let links: Vec<_> = handle.link().get().execute().try_collect().await.expect("list links");
        links
            .into_iter()
            .filter_map(|m| {
                m.attributes.into_iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n),
                    _ => None,
                })
            })
            .collect()
    })
}

//! The networks the benchmark measures, all standing at once, each in namespaces it creates and
//! removes, so that rows can be measured in turn.
use feth_common::Mode;
use rtnetlink::{LinkBridge, LinkUnspec, LinkVeth};

use crate::{benchmark::rates::Row, object::BenchObject};
use feth_control::{
    error::{Context as _, Result},
    kernel::context::Context,
    kernel::ethtool::{self, Feature},
    kernel::netns,
    kernel::rtnl::Rtnl,
    ops::{self, PeerOptions, PortSpec},
    port::impair::Impairment,
    with_state,
};

/// Where frames are generated and where they are counted.
pub struct Network {
    pub row: Row,
    pub gen_ns: String,
    pub gen_dev: &'static str,
    pub sink_ns: String,
    pub sink_dev: &'static str,
    /// MAC the generated frames are addressed to.
    pub sink_mac: Vec<u8>,
}

/// The feth interfaces of the two feth rows: (sender, receiver).
pub fn feth_names(row: Row) -> Option<(&'static str, &'static str)> {
    match row {
        Row::FethXdp => Some(("fbench0", "fbench1")),
        Row::FethXdpImpaired => Some(("fbench4", "fbench5")),
        Row::FethTc => Some(("fbench2", "fbench3")),
        _ => None,
    }
}

fn namespaces(row: Row) -> (String, String) {
    let tag = match row {
        Row::FethXdp => "xdp",
        Row::FethXdpImpaired => "xdpimp",
        Row::FethTc => "tc",
        Row::PlainVeth => "veth",
        Row::MinimalDevmap => "devmap",
        Row::MinimalTc => "tcredir",
        Row::MinimalPeer => "tcpeer",
        Row::Bridge => "bridge",
    };
    if row.is_feth() || row == Row::MinimalPeer {
        (format!("fbench-{tag}-a"), format!("fbench-{tag}-b"))
    } else {
        (format!("fbench-{tag}"), format!("fbench-{tag}"))
    }
}

/// `feth-loader up` of two feth interfaces, each in its namespace, in `mode`.
pub fn feth_pair(ctx: &Context, (a, ns_a): (&str, &str), (b, ns_b): (&str, &str), mode: Mode) -> Result<()> {
    let spec = |name: &str, ns: &str| PortSpec { name: name.into(), netns: Some(ns.into()), mtu: None, mode: None };
    with_state(ctx, |state| {
        ops::up(state, &spec(a, ns_a), &spec(b, ns_b), PeerOptions { mode: Some(mode), hwcsum: None })
    })
}

/// Sets a link up; returns its ifindex.
pub fn up(rtnl: &Rtnl, name: &str) -> Result<u32> {
    let index = rtnl.require(name)?.index;
    rtnl.set_up(index, true, &format!("{name}: set up"))?;
    Ok(index)
}

/// A veth pair with a queue per CPU, like feth's own.
pub fn veth(rtnl: &Rtnl, a: &str, b: &str) -> Result<()> {
    let q = feth_control::datapath::pair::queues();
    let msg = LinkVeth::new(a, b)
        .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::NumTxQueues(q))
        .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::NumRxQueues(q))
        .build();
    rtnl.add(msg, &format!("create veth {a}/{b}"))
}

/// The bare rows' two veth pairs, in the calling thread's namespace: frames generated on a0
/// arrive at a1, cross to b1 by what the row attaches there (a devmap redirect, a TC redirect,
/// a bridge), and are counted at b0.
pub fn bare_pairs_here(row: Row) -> Result<()> {
    let rtnl = Rtnl::open()?;
    veth(&rtnl, "a0", "a1")?;
    veth(&rtnl, "b0", "b1")?;
    if row == Row::Bridge {
        rtnl.add(LinkBridge::new("br0").build(), "create bridge br0")?;
        let br = up(&rtnl, "br0")?;
        for port in ["a1", "b1"] {
            let index = rtnl.require(port)?.index;
            rtnl.set(LinkUnspec::new_with_index(index).controller(br).build(), &format!("{port}: join br0"))?;
        }
    }
    // a1 receives the generator's XDP_TX frames: it needs NAPI, which GRO gives it (the devmap
    // row has an XDP program there instead).
    if row != Row::MinimalDevmap {
        ethtool::set("a1", Feature::Gro, true)?;
    }
    for dev in ["a0", "a1", "b0", "b1"] {
        up(&rtnl, dev)?;
    }
    Ok(())
}

/// The bare one-hop row's pairs: as the other bare rows' in `gen_ns`, but b0 lies in `sink_ns`,
/// as a feth receiver's user end does: bpf_redirect_peer crosses namespaces only.
fn peer_pairs(gen_ns: &str, sink_ns: &str) -> Result<()> {
    netns::run_in(Some(gen_ns), || {
        bare_pairs_here(Row::MinimalPeer)?;
        let rtnl = Rtnl::open()?;
        let b0 = rtnl.require("b0")?.index;
        let fd = std::fs::File::open(std::path::Path::new(netns::NETNS_DIR).join(sink_ns))
            .context(format!("open namespace {sink_ns}"))?;
        let msg = LinkUnspec::new_with_index(b0).setns_by_fd(std::os::fd::AsRawFd::as_raw_fd(&fd)).build();
        rtnl.set(msg, &format!("b0: move to {sink_ns}"))
    })?;
    netns::run_in(Some(sink_ns), || up(&Rtnl::open()?, "b0").map(drop))
}

impl Network {
    fn build(ctx: &Context, row: Row, objects: &mut BenchObject) -> Result<Network> {
        let (gen_ns, sink_ns) = namespaces(row);
        for ns in [&gen_ns, &sink_ns] {
            netns::ensure(ns)?;
            // No IPv6 of their own: router and neighbour solicitations would reach the sink
            // uninvited and spoil the frame accounting.
            netns::run_in(Some(ns), || {
                for key in ["all", "default"] {
                    let path = format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6");
                    if std::path::Path::new(&path).exists() {
                        std::fs::write(&path, "1").context(format!("{ns}: disable IPv6"))?;
                    }
                }
                Ok(())
            })?;
        }
        let (gen_dev, sink_dev) = match row {
            Row::FethXdp | Row::FethXdpImpaired | Row::FethTc => {
                let mode = if row == Row::FethTc { Mode::Tc } else { Mode::Xdp };
                let (a, b) = feth_names(row).expect("a feth row");
                feth_pair(ctx, (a, &gen_ns), (b, &sink_ns), mode)?;
                if row == Row::FethXdpImpaired {
                    // 2^32-1 frames per CPU never pass in a run: the check is taken on every
                    // frame (a per-CPU count each time) and nothing is dropped.
                    let never = Impairment { loss_every: u32::MAX, ..Impairment::default() };
                    with_state(ctx, |state| ops::set_impair(state, a, never))?;
                }
                (a, b)
            }
            Row::PlainVeth => {
                netns::run_in(Some(&gen_ns), || {
                    let rtnl = Rtnl::open()?;
                    veth(&rtnl, "x0", "x1")?;
                    up(&rtnl, "x0")?;
                    up(&rtnl, "x1").map(drop)
                })?;
                ("x0", "x1")
            }
            Row::MinimalDevmap | Row::MinimalTc | Row::Bridge => {
                netns::run_in(Some(&gen_ns), || bare_pairs_here(row))?;
                ("a0", "b0")
            }
            Row::MinimalPeer => {
                peer_pairs(&gen_ns, &sink_ns)?;
                ("a0", "b0")
            }
        };
        let topo = Network { row, gen_ns, gen_dev, sink_ns, sink_dev, sink_mac: vec![] };
        topo.attach(objects).map(|sink_mac| Network { sink_mac, ..topo })
    }

    /// Attaches the sink (and the bare crossover of its row); returns the sink's MAC.
    fn attach(&self, objects: &mut BenchObject) -> Result<Vec<u8>> {
        let mac = netns::run_in(Some(&self.sink_ns), || {
            if self.row.sinks_at_tc() {
                objects.attach_tc_sink_here(self.sink_dev)?;
            } else {
                objects.attach_sink_here(self.sink_dev)?;
            }
            Ok(Rtnl::open()?.link_by_name(self.sink_dev)?.map(|l| l.mac).unwrap_or_default())
        })?;
        netns::run_in(Some(&self.gen_ns), || attach_bare_here(objects, self.row))?;
        Ok(mac)
    }
}

/// What a bare row attaches between a1 and b1 (bare_pairs_here), in the calling thread's
/// namespace: the devmap redirect or the TC redirect; nothing for the other rows.
pub fn attach_bare_here(objects: &mut BenchObject, row: Row) -> Result<()> {
    match row {
        Row::MinimalTc => objects.attach_tc_redirect_here("a1", "b1", false),
        Row::MinimalPeer => objects.attach_tc_redirect_here("a1", "b1", true),
        Row::MinimalDevmap => objects.attach_devmap_redirect_here("a1", "b1"),
        _ => Ok(()),
    }
}

/// Every row's network.
pub struct Networks(Vec<Network>);

impl Networks {
    pub fn build(ctx: &Context, objects: &mut BenchObject) -> Result<Networks> {
        // Leftovers of an interrupted run go first.
        Self::remove();
        let mut built = Networks(Vec::new());
        for row in Row::ALL {
            match Network::build(ctx, row, objects) {
                Ok(t) => built.0.push(t),
                Err(e) => {
                    let _ = built.teardown(ctx, objects);
                    return Err(e);
                }
            }
        }
        Ok(built)
    }

    pub fn get(&self, row: Row) -> &Network {
        self.0.iter().find(|t| t.row == row).expect("every row is built")
    }

    pub fn teardown(self, ctx: &Context, objects: &mut BenchObject) -> Result<()> {
        objects.detach_all();
        let feth: Vec<&str> = Row::ALL.iter().filter_map(|r| feth_names(*r)).flat_map(|(a, b)| [a, b]).collect();
        let down = with_state(ctx, |state| ops::down(state, &feth));
        Self::remove();
        down
    }

    fn remove() {
        for row in Row::ALL {
            let (a, b) = namespaces(row);
            for ns in [a, b] {
                if netns::exists(&ns) {
                    let _ = netns::delete(&ns);
                }
            }
        }
    }
}

//! The networks the benchmark measures, each in namespaces it creates and removes.
use feth_common::Mode;
use rtnetlink::{LinkBridge, LinkUnspec, LinkVeth};

use super::{Row, generator::BenchObject};
use crate::{
    error::Result,
    ethtool::{self, Feature},
    netns,
    ops::{self, PeerOptions, PortSpec},
    rtnl::Rtnl,
    with_state,
};

/// Names of the two feth interfaces the benchmark creates.
pub const FETH_A: &str = "fbench0";
pub const FETH_B: &str = "fbench1";
const NS_GEN: &str = "fbench-gen";
const NS_SINK: &str = "fbench-sink";

/// Where frames are generated and where they are counted.
pub struct Topology {
    pub row: Row,
    pub gen_ns: &'static str,
    pub gen_dev: &'static str,
    pub sink_ns: &'static str,
    pub sink_dev: &'static str,
    /// MAC the generated frames are addressed to.
    pub sink_mac: Vec<u8>,
}

/// `feth-loader up` of two feth interfaces, each in its namespace, in `mode`.
pub fn feth_pair((a, ns_a): (&str, &str), (b, ns_b): (&str, &str), mode: Mode) -> Result<()> {
    let spec = |name: &str, ns: &str| PortSpec { name: name.into(), netns: Some(ns.into()), mtu: None };
    with_state(|state| ops::up(state, &spec(a, ns_a), &spec(b, ns_b), PeerOptions { mode: Some(mode), hwcsum: None }))
}

/// Sets a link up; returns its ifindex.
pub fn up(rtnl: &Rtnl, name: &str) -> Result<u32> {
    let index = rtnl.require(name)?.index;
    rtnl.set_up(index, true, &format!("{name}: set up"))?;
    Ok(index)
}

/// A veth pair with a queue per CPU, like feth's own.
pub fn veth(rtnl: &Rtnl, a: &str, b: &str) -> Result<()> {
    let q = crate::pair::queues();
    let msg = LinkVeth::new(a, b)
        .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::NumTxQueues(q))
        .append_extra_attribute(rtnetlink::packet_route::link::LinkAttribute::NumRxQueues(q))
        .build();
    rtnl.add(msg, &format!("create veth {a}/{b}"))
}

impl Topology {
    pub fn build(row: Row, objects: &mut BenchObject) -> Result<Topology> {
        // Leftovers of an interrupted run go first.
        Self::remove_namespaces();
        netns::ensure(NS_GEN)?;
        netns::ensure(NS_SINK)?;
        let topo = match row {
            Row::FethXdp | Row::FethTc => {
                let mode = if row == Row::FethXdp { Mode::Xdp } else { Mode::Tc };
                feth_pair((FETH_A, NS_GEN), (FETH_B, NS_SINK), mode)?;
                Topology { row, gen_ns: NS_GEN, gen_dev: FETH_A, sink_ns: NS_SINK, sink_dev: FETH_B, sink_mac: vec![] }
            }
            Row::PlainVeth => {
                netns::run_in(Some(NS_GEN), || {
                    let rtnl = Rtnl::open()?;
                    veth(&rtnl, "x0", "x1")?;
                    up(&rtnl, "x0")?;
                    up(&rtnl, "x1").map(drop)
                })?;
                Topology { row, gen_ns: NS_GEN, gen_dev: "x0", sink_ns: NS_GEN, sink_dev: "x1", sink_mac: vec![] }
            }
            Row::MinimalDevmap | Row::Bridge => {
                netns::run_in(Some(NS_GEN), || {
                    let rtnl = Rtnl::open()?;
                    veth(&rtnl, "a0", "a1")?;
                    veth(&rtnl, "b0", "b1")?;
                    if row == Row::Bridge {
                        rtnl.add(LinkBridge::new("br0").build(), "create bridge br0")?;
                        let br = up(&rtnl, "br0")?;
                        for port in ["a1", "b1"] {
                            let index = rtnl.require(port)?.index;
                            rtnl.set(
                                LinkUnspec::new_with_index(index).controller(br).build(),
                                &format!("{port}: join br0"),
                            )?;
                        }
                        // a1 receives XDP_TX frames from a0: it needs NAPI, which GRO gives it.
                        ethtool::set("a1", Feature::Gro, true)?;
                    }
                    for dev in ["a0", "a1", "b0", "b1"] {
                        up(&rtnl, dev)?;
                    }
                    Ok(())
                })?;
                Topology { row, gen_ns: NS_GEN, gen_dev: "a0", sink_ns: NS_GEN, sink_dev: "b0", sink_mac: vec![] }
            }
        };
        objects.attach(&topo).map(|sink_mac| Topology { sink_mac, ..topo })
    }

    pub fn teardown(self, objects: &mut BenchObject) -> Result<()> {
        objects.detach_all();
        if matches!(self.row, Row::FethXdp | Row::FethTc) {
            with_state(|state| ops::down(state, &[FETH_A, FETH_B]))?;
        }
        Self::remove_namespaces();
        Ok(())
    }

    fn remove_namespaces() {
        for ns in [NS_GEN, NS_SINK] {
            if netns::exists(ns) {
                let _ = netns::delete(ns);
            }
        }
    }
}

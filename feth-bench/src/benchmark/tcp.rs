//! TCP throughput between two namespaces with iperf3, for both feth modes and plain veth.
use std::{
    io::{BufRead as _, BufReader},
    net::{IpAddr, Ipv4Addr},
    os::{fd::AsRawFd as _, unix::process::CommandExt as _},
    process::{Command, Stdio},
};

use feth_common::Mode;
use rtnetlink::LinkUnspec;
use serde::Serialize;

use crate::{
    benchmark::networks::{feth_pair, up, veth},
    benchmark::progress::Progress,
};
use feth_control::{
    error::{Context as _, FethError, Result},
    kernel::context::Context,
    kernel::netns,
    kernel::rtnl::Rtnl,
    ops, with_state,
};

pub(super) const NS_CLIENT: &str = "fbench-tcp-a";
pub(super) const NS_SERVER: &str = "fbench-tcp-b";
const NS_BRIDGE: &str = "fbench-tcp-br";
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 1);
pub(super) const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 1, 2);

#[derive(Clone, Debug, Serialize)]
pub struct TcpResult {
    pub setup: &'static str,
    /// Median of the rounds.
    pub gbps: f64,
    pub rounds: Vec<f64>,
}

/// Rounds per setup, interleaved across setups: one iperf3 stream varies by several percent
/// from run to run, the median of interleaved rounds does not.
const ROUNDS: usize = 3;

/// A command run inside a named namespace (setns before exec; no `ip netns exec` needed):
/// `program` is a path, or the name of a helper found as `feth_control::kernel::helper` finds them.
pub(super) fn in_netns(ns: &str, program: &str) -> Result<Command> {
    let file = netns::open(ns)?;
    let mut cmd = if program.contains('/') {
        Command::new(program)
    } else {
        feth_control::kernel::helper::require(program, "the benchmark")?
    };
    // SAFETY: setns is async-signal-safe; the fd stays open in the closure until exec.
    unsafe {
        cmd.pre_exec(move || netns::enter(&file));
    }
    Ok(cmd)
}

fn address(ns: &str, dev: &str, ip: Ipv4Addr) -> Result<()> {
    netns::run_in(Some(ns), || {
        let rtnl = Rtnl::open()?;
        let index = up(&rtnl, dev)?;
        rtnl.block_on(rtnl.handle().address().add(index, IpAddr::V4(ip), 24).execute())
            .context(format!("{dev}: add {ip}"))
    })
}

fn reset_namespaces() -> Result<()> {
    for ns in [NS_CLIENT, NS_SERVER] {
        if netns::exists(ns) {
            netns::delete(ns)?;
        }
        netns::ensure(ns)?;
    }
    Ok(())
}

/// One iperf3 run from the client namespace to the server namespace; Gbit/s received.
fn iperf3(seconds: u32) -> Result<f64> {
    let mut server = in_netns(NS_SERVER, "iperf3")?
        .args(["-s", "-1", "--forceflush", "-B", &SERVER_IP.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start iperf3 server")?;
    // Wait for the server's own word that it listens (no fixed sleep).
    let mut lines = BufReader::new(server.stdout.take().expect("piped")).lines();
    let listening = lines.any(|l| l.is_ok_and(|l| l.contains("Server listening")));
    if !listening {
        let _ = server.kill();
        return Err(FethError::Helper { program: "iperf3", reason: "its server did not start".into() });
    }
    let out = in_netns(NS_CLIENT, "iperf3")?
        .args(["-c", &SERVER_IP.to_string(), "-t", &seconds.to_string(), "-J"])
        .output()
        .context("run iperf3 client")?;
    let _ = server.kill();
    let _ = server.wait();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| FethError::Helper { program: "iperf3", reason: format!("printed no JSON report: {e}") })?;
    report["end"]["sum_received"]["bits_per_second"]
        .as_f64()
        .map(|b| b / 1e9)
        .ok_or_else(|| FethError::Helper { program: "iperf3", reason: format!("failed: {}", report["error"]) })
}

/// How the client and server namespaces are joined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Setup {
    Feth(Mode),
    /// Two feth interfaces on two "hosts" (namespaces with loader states of their own) peered
    /// over VXLAN through a veth underlay (`peer --remote`).
    FethVxlan,
    PlainVeth,
    Bridge,
}

impl Setup {
    pub fn label(self) -> &'static str {
        match self {
            Setup::Feth(Mode::Xdp) => "feth crossover, XDP mode",
            Setup::Feth(Mode::Tc) => "feth crossover, TC mode",
            Setup::Feth(Mode::Netkit) => "feth crossover, netkit mode",
            Setup::FethVxlan => "feth remote peers over VXLAN",
            Setup::PlainVeth => "plain veth",
            Setup::Bridge => "Linux bridge",
        }
    }
}

/// A veth pair made in the client namespace whose second end moves to `to`.
fn veth_across(a: &str, b: &str, to: &str) -> Result<()> {
    let target = netns::open(to)?;
    netns::run_in(Some(NS_CLIENT), || {
        let rtnl = Rtnl::open()?;
        veth(&rtnl, a, b)?;
        let peer = rtnl.require(b)?;
        rtnl.set(LinkUnspec::new_with_index(peer.index).setns_by_fd(target.as_raw_fd()).build(), &format!("move {b}"))
    })
}

/// In the bridge's namespace: the bridge br0 joining vbr1 (from the client) and vbr2, whose
/// peer vbr3 goes to the server's namespace.
fn bridge_to_server() -> Result<()> {
    let server = netns::open(NS_SERVER)?;
    netns::run_in(Some(NS_BRIDGE), || {
        let rtnl = Rtnl::open()?;
        veth(&rtnl, "vbr2", "vbr3")?;
        let far = rtnl.require("vbr3")?;
        rtnl.set(LinkUnspec::new_with_index(far.index).setns_by_fd(server.as_raw_fd()).build(), "move vbr3")?;
        rtnl.add(rtnetlink::LinkBridge::new("br0").build(), "create br0")?;
        let br = up(&rtnl, "br0")?;
        for port in ["vbr1", "vbr2"] {
            let index = up(&rtnl, port)?;
            rtnl.set(LinkUnspec::new_with_index(index).controller(br).build(), &format!("{port}: join br0"))?;
        }
        Ok(())
    })
}

/// Builds `setup` between fresh client and server namespaces, runs `f`, and takes it down.
pub fn with_setup<T>(ctx: &Context, setup: Setup, f: impl FnOnce() -> Result<T>) -> Result<T> {
    reset_namespaces()?;
    let result = match setup {
        Setup::Feth(mode) => {
            let (a, b) = ("fbtcp0", "fbtcp1");
            feth_pair(ctx, (a, NS_CLIENT), (b, NS_SERVER), mode)?;
            let result =
                address(NS_CLIENT, a, CLIENT_IP).and_then(|()| address(NS_SERVER, b, SERVER_IP)).and_then(|()| f());
            with_state(ctx, |state| ops::down(state, &[a, b]))?;
            result
        }
        Setup::FethVxlan => {
            let result = vxlan_pair().and_then(|()| {
                address(NS_CLIENT, "fbvx0", CLIENT_IP).and_then(|()| address(NS_SERVER, "fbvx1", SERVER_IP))
            });
            let result = result.and_then(|()| f());
            vxlan_pair_down();
            result
        }
        Setup::PlainVeth => veth_across("vtcp0", "vtcp1", NS_SERVER)
            .and_then(|()| address(NS_CLIENT, "vtcp0", CLIENT_IP))
            .and_then(|()| address(NS_SERVER, "vtcp1", SERVER_IP))
            .and_then(|()| f()),
        Setup::Bridge => {
            // The bridge lives in a third namespace, one veth to each side.
            netns::ensure(NS_BRIDGE)?;
            let joined = veth_across("vbr0", "vbr1", NS_BRIDGE)
                .and_then(|()| bridge_to_server())
                .and_then(|()| address(NS_CLIENT, "vbr0", CLIENT_IP))
                .and_then(|()| address(NS_SERVER, "vbr3", SERVER_IP));
            let result = joined.and_then(|()| f());
            let _ = netns::delete(NS_BRIDGE);
            result
        }
    };
    for ns in [NS_CLIENT, NS_SERVER] {
        let _ = netns::delete(ns);
    }
    result
}

/// The "hosts" of the VXLAN setup: (namespace, state directory, underlay, address, user end,
/// user namespace).
const VX_HOSTS: [(&str, &str, &str, &str, &str, &str); 2] = [
    ("fbench-vx-ha", "/sys/fs/bpf/fbench-vx-ha", "ulvx0", "198.18.2.1", "fbvx0", NS_CLIENT),
    ("fbench-vx-hb", "/sys/fs/bpf/fbench-vx-hb", "ulvx1", "198.18.2.2", "fbvx1", NS_SERVER),
];

/// This binary (feth-loader) run on one VXLAN host, with that host's own state directory.
fn loader_on(host: usize, args: &[&str]) -> Result<()> {
    let (ns, bpffs, ..) = VX_HOSTS[host];
    let exe = std::env::current_exe().context("find feth-loader")?;
    let out = in_netns(ns, exe.to_str().unwrap_or("feth-loader"))?
        .arg("--bpffs")
        .arg(bpffs)
        .args(args)
        .output()
        .context("run feth-loader on a VXLAN host")?;
    if !out.status.success() {
        return Err(FethError::Invalid(format!(
            "feth-loader {args:?} on {ns}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Two hosts joined by a veth underlay, each with a feth interface peered to the other's.
fn vxlan_pair() -> Result<()> {
    for (ns, ..) in VX_HOSTS {
        if netns::exists(ns) {
            netns::delete(ns)?;
        }
        netns::ensure(ns)?;
    }
    let far = netns::open(VX_HOSTS[1].0)?;
    netns::run_in(Some(VX_HOSTS[0].0), || {
        let rtnl = Rtnl::open()?;
        veth(&rtnl, VX_HOSTS[0].2, VX_HOSTS[1].2)?;
        let peer = rtnl.require(VX_HOSTS[1].2)?;
        rtnl.set(LinkUnspec::new_with_index(peer.index).setns_by_fd(far.as_raw_fd()).build(), "move the underlay")
    })?;
    for (ns, _, underlay, addr, ..) in VX_HOSTS {
        address(ns, underlay, addr.parse().expect("an IPv4 address"))?;
    }
    for (i, (_, _, underlay, _, user, user_ns)) in VX_HOSTS.into_iter().enumerate() {
        let remote = VX_HOSTS[1 - i].3;
        loader_on(i, &["create", user, "--netns", user_ns])?;
        loader_on(i, &["peer", user, "--remote", remote, "--vni", "42", "--dev", underlay])?;
    }
    Ok(())
}

fn vxlan_pair_down() {
    for (i, (ns, bpffs, _, _, user, _)) in VX_HOSTS.into_iter().enumerate() {
        let _ = loader_on(i, &["down", user]);
        let _ = netns::delete(ns);
        let _ = std::fs::remove_dir_all(bpffs);
    }
}

/// `None` when iperf3 is not installed (`cargo xtask bench` installs it).
pub fn tcp_throughput(ctx: &Context, seconds: u32, progress: &Progress) -> Result<Option<Vec<TcpResult>>> {
    if feth_control::kernel::helper::find("iperf3").is_none() {
        return Ok(None);
    }
    let mut runs = vec![Setup::Feth(Mode::Xdp), Setup::Feth(Mode::Tc), Setup::FethVxlan, Setup::PlainVeth];
    if ctx.features.netkit {
        runs.push(Setup::Feth(Mode::Netkit));
    }
    let section = progress.section("tcp", ROUNDS * runs.len());
    let mut rounds: Vec<Vec<f64>> = vec![Vec::new(); runs.len()];
    for round in 1..=ROUNDS {
        for (setup, samples) in runs.iter().zip(&mut rounds) {
            section.measuring(&format!("round {round} {}", setup.label()));
            let gbps = with_setup(ctx, *setup, || iperf3(seconds))?;
            section.done(&format!("round {round} {}: {gbps:.2} Gbit/s", setup.label()));
            samples.push(gbps);
        }
    }
    let results = runs
        .iter()
        .map(|s| s.label())
        .zip(rounds)
        .map(|(setup, samples)| {
            let mut sorted = samples.clone();
            sorted.sort_by(f64::total_cmp);
            TcpResult { setup, gbps: sorted[sorted.len() / 2], rounds: samples }
        })
        .collect();
    Ok(Some(results))
}

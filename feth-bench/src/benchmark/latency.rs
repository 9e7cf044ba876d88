//! Round-trip time between two namespaces with `sockperf ping-pong` (UDP and TCP), for both
//! feth modes, plain veth and a Linux bridge, in interleaved rounds.
use std::{
    io::{BufRead as _, BufReader},
    process::Stdio,
};

use feth_common::Mode;
use serde::Serialize;

use feth_control::{
    error::{Context as _, FethError, Result},
    kernel::context::Context,
};

use crate::{
    benchmark::progress::Progress,
    benchmark::stats::Spread,
    benchmark::tcp::{NS_CLIENT, NS_SERVER, SERVER_IP, Setup, in_netns, with_setup},
};

const PORT: &str = "11111";
const ROUNDS: usize = 3;

#[derive(Clone, Debug, Serialize)]
pub struct LatencyResult {
    pub setup: &'static str,
    pub protocol: &'static str,
    /// Round-trip percentiles in microseconds: medians over the rounds, with their spread.
    pub p50_us: Spread,
    pub p99_us: Spread,
    pub p999_us: Spread,
}

/// (p50, p99, p99.9) of one ping-pong run, in microseconds of round trip.
fn sockperf(seconds: u32, tcp: bool) -> Result<[f64; 3]> {
    let proto: &[&str] = if tcp { &["--tcp"] } else { &[] };
    let mut server = in_netns(NS_SERVER, "sockperf")?
        .args(["server", "-i", &SERVER_IP.to_string(), "-p", PORT])
        .args(proto)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start sockperf server")?;
    // The server's own word that it waits for messages (no fixed sleep).
    let ready = BufReader::new(server.stdout.take().expect("piped"))
        .lines()
        .any(|l| l.is_ok_and(|l| l.contains("to block on socket")));
    if !ready {
        let _ = server.kill();
        let _ = server.wait();
        return Err(FethError::Helper { program: "sockperf", reason: "its server did not start".into() });
    }
    let out = in_netns(NS_CLIENT, "sockperf")?
        .args(["ping-pong", "-i", &SERVER_IP.to_string(), "-p", PORT, "-t", &seconds.to_string(), "--full-rtt"])
        .args(proto)
        .output()
        .context("run sockperf client");
    let _ = server.kill();
    let _ = server.wait();
    let text = String::from_utf8_lossy(&out?.stdout).into_owned();
    let percentile = |p: &str| {
        text.lines()
            .find(|l| l.contains(&format!("percentile {p} =")))
            .and_then(|l| l.rsplit('=').next()?.trim().parse::<f64>().ok())
            .ok_or_else(|| FethError::Helper { program: "sockperf", reason: format!("printed no {p} percentile") })
    };
    Ok([percentile("50.000")?, percentile("99.000")?, percentile("99.900")?])
}

fn protocol(tcp: bool) -> &'static str {
    if tcp { "tcp" } else { "udp" }
}

/// `None` when sockperf is not installed (`cargo xtask bench` installs it).
pub fn latency(ctx: &Context, seconds: u32, progress: &Progress) -> Result<Option<Vec<LatencyResult>>> {
    if feth_control::kernel::helper::find("sockperf").is_none() {
        return Ok(None);
    }
    let mut setups = vec![Setup::PlainVeth, Setup::Feth(Mode::Xdp), Setup::Feth(Mode::Tc), Setup::Bridge];
    if ctx.features.netkit {
        setups.push(Setup::Feth(Mode::Netkit));
    }
    let cases: Vec<(Setup, bool)> =
        [false, true].iter().flat_map(|&tcp| setups.iter().map(move |s| (*s, tcp))).collect();
    let mut runs: Vec<Vec<[f64; 3]>> = vec![Vec::new(); cases.len()];
    let section = progress.section("latency", ROUNDS * cases.len());
    for round in 1..=ROUNDS {
        for ((setup, tcp), samples) in cases.iter().zip(&mut runs) {
            let what = format!("round {round} {} {}", setup.label(), protocol(*tcp));
            section.measuring(&what);
            let [p50, p99, p999] = with_setup(ctx, *setup, || sockperf(seconds, *tcp))?;
            section.done(&format!("{what}: p50 {p50:.1} p99 {p99:.1} p99.9 {p999:.1} us"));
            samples.push([p50, p99, p999]);
        }
    }
    let results = cases
        .iter()
        .zip(runs)
        .map(|((setup, tcp), samples)| {
            let at = |i: usize| Spread::of(samples.iter().map(|s| s[i]).collect()).unwrap_or_default();
            LatencyResult {
                setup: setup.label(),
                protocol: protocol(*tcp),
                p50_us: at(0),
                p99_us: at(1),
                p999_us: at(2),
            }
        })
        .collect();
    Ok(Some(results))
}

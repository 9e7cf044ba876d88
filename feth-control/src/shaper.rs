//! The rate limit of `impair --rate`: a `tbf` qdisc at the root of the sending user end, the
//! place a real NIC shapes. It queues instead of dropping, so TCP sees back-pressure (TCP small
//! queues) and runs at the rate; what overflows its queue is counted by the qdisc and reported
//! as the `tx_rate` drop reason. Frames it holds back have not entered the crossover yet, like
//! `tx_refused`.
//!
//! iproute2's `tc` does the netlink work (rtnetlink has no tbf options); it runs inside the
//! user end's namespace. feth's tbf carries its own handle, so a qdisc someone else put there
//! is never replaced.
use std::process::Command;

use crate::{
    error::{FethError, Result},
    netns::Netns,
};

/// The root handle of feth's tbf (`fe7f:`, "fe" for feth).
const HANDLE: &str = "fe7f:";
/// How long a frame may wait in the shaper's queue before it is dropped (tbf's `latency`).
const LATENCY: &str = "50ms";

/// What the root qdisc of a user end is, as far as feth cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// No qdisc of feth's or anyone's (noqueue, or the default).
    Default,
    /// feth's tbf: its rate and burst (bytes) and the frames it dropped.
    Feth { rate_bytes: u64, burst_bytes: u64, drops: u64 },
    /// A qdisc someone else put there (its kind).
    Foreign(String),
}

fn tc(ns: &Netns, what: &str, args: &[String]) -> Result<String> {
    let args = args.to_vec();
    let out = ns.run(move || {
        Command::new("tc").args(&args).output().map_err(|e| {
            FethError::KernelFeature(format!("iproute2's tc is needed to shape a rate and did not run: {e}"))
        })
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(FethError::Refused { name: what.to_owned(), reason: format!("tc refused: {}", err.trim()) });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The root qdisc of `dev` in `ns`.
pub fn root(dev: &str, ns: &Netns) -> Result<Root> {
    let text = tc(ns, dev, &["-s".into(), "-j".into(), "qdisc".into(), "show".into(), "dev".into(), dev.into()])?;
    let all: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let Some(root) = all.as_array().and_then(|a| a.iter().find(|q| q["root"] == true)) else {
        return Ok(Root::Default);
    };
    let kind = root["kind"].as_str().unwrap_or_default();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    Ok(match (kind, root["handle"].as_str()) {
        ("tbf", Some(HANDLE)) => Root::Feth {
            rate_bytes: n(&root["options"]["rate"]),
            burst_bytes: n(&root["options"]["burst"]),
            drops: n(&root["drops"]),
        },
        ("noqueue" | "pfifo_fast" | "mq" | "fq_codel", _) => Root::Default,
        (other, _) => Root::Foreign(other.to_owned()),
    })
}

/// Refuses a rate where someone else's qdisc is the root (feth does not replace it).
pub fn check_free(dev: &str, ns: &Netns) -> Result<()> {
    match root(dev, ns)? {
        Root::Foreign(kind) => Err(FethError::Refused {
            name: dev.to_owned(),
            reason: format!("its root qdisc is a {kind} feth did not put there; remove it before setting a rate"),
        }),
        _ => Ok(()),
    }
}

/// Shapes what `dev` transmits to `rate_bytes` per second with a bucket of `burst_bytes`,
/// replacing feth's earlier shaper; refused where someone else's qdisc is the root.
pub fn install(dev: &str, ns: &Netns, rate_bytes: u64, burst_bytes: u64) -> Result<()> {
    check_free(dev, ns)?;
    let args: Vec<String> = [
        "qdisc",
        "replace",
        "dev",
        dev,
        "root",
        "handle",
        HANDLE,
        "tbf",
        "rate",
        &format!("{}bit", rate_bytes * 8),
        "burst",
        &burst_bytes.to_string(),
        "latency",
        LATENCY,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    tc(ns, dev, &args).map(|_| ())
}

/// Removes feth's shaper from `dev` (nothing else's).
pub fn remove(dev: &str, ns: &Netns) -> Result<()> {
    if !matches!(root(dev, ns)?, Root::Feth { .. }) {
        return Ok(());
    }
    let args: Vec<String> =
        ["qdisc", "del", "dev", dev, "root", "handle", HANDLE].iter().map(|s| s.to_string()).collect();
    tc(ns, dev, &args).map(|_| ())
}

/// Frames feth's shaper on `dev` dropped (0 without one).
pub fn drops(dev: &str, ns: &Netns) -> u64 {
    match root(dev, ns) {
        Ok(Root::Feth { drops, .. }) => drops,
        _ => 0,
    }
}

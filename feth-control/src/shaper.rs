//! The queue of `impair --rate` and `--delay`: a qdisc at the root of the sending user end,
//! the place a real NIC shapes. `tbf` for a rate alone; `netem` when a delay is asked (with
//! its own rate, if one is set), where the kernel has it. A queue paces TCP through
//! back-pressure instead of losses; what overflows it is counted by the qdisc and reported as
//! the `tx_rate` drop reason. Frames it holds back have not entered the crossover yet, like
//! `tx_refused`.
//!
//! iproute2's `tc` does the netlink work (rtnetlink has no tbf or netem options); it runs
//! inside the user end's namespace. feth's qdisc carries its own handle, so a qdisc someone
//! else put there is never replaced.
use std::process::Command;

use crate::{
    error::{FethError, Result},
    impair::Impairment,
    netns::Netns,
};

/// The root handle of feth's qdisc (`fe7f:`, "fe" for feth).
const HANDLE: &str = "fe7f:";
/// How long a frame may wait in tbf's queue before it is dropped (tbf's `latency`).
const LATENCY: &str = "50ms";

/// What the root qdisc of a user end is, as far as feth cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Root {
    /// No qdisc of feth's or anyone's (noqueue, or the default).
    Default,
    /// feth's qdisc: its kind, tbf's rate and burst (bytes; 0 for netem), the frames it dropped.
    Feth { kind: String, rate_bytes: u64, burst_bytes: u64, drops: u64 },
    /// A qdisc someone else put there (its kind).
    Foreign(String),
}

fn tc(ns: &Netns, what: &str, args: &[String]) -> Result<String> {
    let args = args.to_vec();
    crate::privilege::pass_net_admin_to_helpers();
    let out = ns.run(move || {
        Command::new("tc").args(&args).output().map_err(|e| {
            FethError::KernelFeature(format!("iproute2's tc is needed for a rate or a delay and did not run: {e}"))
        })
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let reason = format!("tc refused: {}", err.trim());
        if err.contains("Operation not permitted") {
            return Err(FethError::NotPermitted(format!("{what}: {reason} (it needs CAP_NET_ADMIN)")));
        }
        return Err(FethError::Refused { name: what.to_owned(), reason });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// The root qdisc of `dev` in `ns`.
pub fn root(dev: &str, ns: &Netns) -> Result<Root> {
    let text = tc(ns, dev, &strings(&["-s", "-j", "qdisc", "show", "dev", dev]))?;
    let all: serde_json::Value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
    let Some(root) = all.as_array().and_then(|a| a.iter().find(|q| q["root"] == true)) else {
        return Ok(Root::Default);
    };
    let kind = root["kind"].as_str().unwrap_or_default();
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    Ok(match (kind, root["handle"].as_str()) {
        ("tbf" | "netem", Some(HANDLE)) => Root::Feth {
            kind: kind.to_owned(),
            rate_bytes: if kind == "tbf" { n(&root["options"]["rate"]) } else { 0 },
            burst_bytes: if kind == "tbf" { n(&root["options"]["burst"]) } else { 0 },
            drops: n(&root["drops"]),
        },
        ("noqueue" | "pfifo_fast" | "mq" | "fq_codel", _) => Root::Default,
        (other, _) => Root::Foreign(other.to_owned()),
    })
}

/// Whether feth's qdisc on `dev` is the one `impair` asks for. (netem's parameters are set
/// by `impair` itself; a repair only puts back a qdisc of the wrong kind or none.)
pub fn in_step(now: &Root, impair: &Impairment) -> bool {
    match now {
        Root::Feth { kind, rate_bytes, burst_bytes, .. } if impair.delay_us != 0 => {
            kind == "netem" && (*rate_bytes, *burst_bytes) == (0, 0)
        }
        Root::Feth { kind, rate_bytes, burst_bytes, .. } => {
            kind == "tbf" && *rate_bytes == impair.rate_bytes && *burst_bytes == impair.burst_bytes
        }
        _ => false,
    }
}

/// Refuses a rate or delay where someone else's qdisc is the root (feth does not replace it).
fn check_free(dev: &str, ns: &Netns) -> Result<()> {
    match root(dev, ns)? {
        Root::Foreign(kind) => Err(FethError::Refused {
            name: dev.to_owned(),
            reason: format!(
                "its root qdisc is a {kind} feth did not put there; remove it before setting a rate or delay"
            ),
        }),
        _ => Ok(()),
    }
}

/// Puts feth's qdisc for `impair` at the root of `dev` (replacing feth's earlier one), or
/// removes it when `impair` asks for neither a rate nor a delay.
pub fn apply(dev: &str, ns: &Netns, impair: &Impairment) -> Result<()> {
    if impair.rate_bytes == 0 && impair.delay_us == 0 {
        return remove(dev, ns);
    }
    check_free(dev, ns)?;
    let mut args = strings(&["qdisc", "replace", "dev", dev, "root", "handle", HANDLE]);
    if impair.delay_us == 0 {
        args.extend(strings(&[
            "tbf",
            "rate",
            &format!("{}bit", impair.rate_bytes * 8),
            "burst",
            &impair.burst_bytes.to_string(),
            "latency",
            LATENCY,
        ]));
        return tc(ns, dev, &args).map(|_| ());
    }
    args.extend(strings(&["netem", "delay", &format!("{}us", impair.delay_us)]));
    if impair.jitter_us != 0 {
        args.push(format!("{}us", impair.jitter_us));
    }
    if impair.rate_bytes != 0 {
        args.extend(strings(&["rate", &format!("{}bit", impair.rate_bytes * 8)]));
    }
    tc(ns, dev, &args).map(|_| ()).map_err(|e| match e {
        FethError::Refused { reason, .. } if reason.contains("unknown") || reason.contains("Unknown") => {
            FethError::Refused {
                name: dev.to_owned(),
                reason: "--delay needs sch_netem (or sch_fq), and this kernel has neither".into(),
            }
        }
        other => other,
    })
}

/// Removes feth's qdisc from `dev` (nothing else's).
pub fn remove(dev: &str, ns: &Netns) -> Result<()> {
    if !matches!(root(dev, ns)?, Root::Feth { .. }) {
        return Ok(());
    }
    tc(ns, dev, &strings(&["qdisc", "del", "dev", dev, "root", "handle", HANDLE])).map(|_| ())
}

/// Frames feth's qdisc on `dev` dropped (0 without one).
pub fn drops(dev: &str, ns: &Netns) -> u64 {
    match root(dev, ns) {
        Ok(Root::Feth { drops, .. }) => drops,
        _ => 0,
    }
}

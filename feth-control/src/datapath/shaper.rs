//! The queue of `impair --rate` and `--delay`: a qdisc at the root of the sending user end,
//! the place a real NIC shapes. `tbf` for a rate alone; `netem` when a delay is asked (with
//! its own rate, if one is set), where the kernel has it. A queue paces TCP through
//! back-pressure instead of losses; what overflows it is counted by the qdisc and reported as
//! the `tx_rate` drop reason. Frames it holds back have not entered the crossover yet, like
//! `tx_refused`.
//!
//! Installed, read and removed over rtnetlink, inside the user end's namespace, as every other
//! change feth makes: no helper program runs (a binary with file capabilities must not hand
//! them to one, README "Without root"). netlink-packet-route has the TC messages but not tbf's
//! or netem's options, so `qdisc_options` encodes those (linux/pkt_sched.h). feth's qdisc
//! carries its own handle, so a qdisc someone else put there is never replaced.
use futures::TryStreamExt as _;
use rtnetlink::{
    packet_core::{DefaultNla, NLM_F_CREATE, NLM_F_REPLACE},
    packet_route::{
        RouteNetlinkMessage,
        tc::{TcAttribute, TcHandle, TcMessage, TcOption, TcStats2},
    },
};

use crate::{
    error::{FethError, Result, errno},
    kernel::netns::Netns,
    kernel::rtnl::Rtnl,
    port::impair::Impairment,
};

/// The root handle of feth's qdisc (`fe7f:`, "fe" for feth).
const HANDLE: TcHandle = TcHandle { major: 0xfe7f, minor: 0 };
/// How long a frame may wait in tbf's queue before it is dropped (tbf's `latency`), in µs.
const LATENCY_US: u64 = 50_000;
/// netem's queue, in frames (tc's default).
const NETEM_LIMIT: u32 = 1000;

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

/// The netlink encoding of tbf's and netem's options (linux/pkt_sched.h), and its reading.
mod qdisc_options {
    /// `TCA_OPTIONS`, the attribute both kinds put their options in.
    pub const TCA_OPTIONS: u16 = 2;
    const TCA_TBF_PARMS: u16 = 1;
    const TCA_TBF_RATE64: u16 = 4;
    const TCA_TBF_BURST: u16 = 6;
    const TCA_NETEM_RATE: u16 = 6;
    const TCA_NETEM_RATE64: u16 = 8;
    const TCA_NETEM_LATENCY64: u16 = 10;
    const TCA_NETEM_JITTER64: u16 = 11;
    /// `TC_LINKLAYER_ETHERNET`: with it the kernel asks for no rate table (tc sends one only
    /// for kernels before 3.10).
    const LINKLAYER_ETHERNET: u8 = 1;
    /// The kernel's packet scheduler clock: a tick is 64 ns (`PSCHED_SHIFT`).
    const NS_PER_TICK: u64 = 64;
    /// `struct tc_ratespec` is 12 bytes; `struct tc_tbf_qopt` two of them and three u32.
    const RATESPEC_LEN: usize = 12;
    const TBF_QOPT_LEN: usize = 2 * RATESPEC_LEN + 12;
    /// `struct tc_netem_qopt`: six u32.
    const NETEM_QOPT_LEN: usize = 24;

    /// One netlink attribute, padded to 4 bytes.
    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut out = Vec::with_capacity(len.next_multiple_of(4));
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(len.next_multiple_of(4), 0);
        out
    }

    fn u32_sat(v: u64) -> u32 {
        u32::try_from(v).unwrap_or(u32::MAX)
    }

    fn ticks(ns: u64) -> u32 {
        u32_sat(ns / NS_PER_TICK)
    }

    /// A `tc_ratespec` of `rate` bytes per second (saturated: the 64-bit attribute carries more).
    fn ratespec(rate: u64) -> [u8; RATESPEC_LEN] {
        let mut spec = [0u8; RATESPEC_LEN];
        spec[1] = LINKLAYER_ETHERNET;
        spec[8..12].copy_from_slice(&u32_sat(rate).to_ne_bytes());
        spec
    }

    /// tbf at `rate` bytes/s with a bucket of `burst` bytes, and a queue that holds what
    /// `latency_us` at the rate lets through on top of the burst (tc's `limit` from `latency`).
    pub fn tbf(rate: u64, burst: u64, latency_us: u64) -> Vec<u8> {
        let burst32 = u32_sat(burst.max(1));
        let limit = u32_sat(rate.saturating_mul(latency_us) / 1_000_000 + u64::from(burst32));
        // The bucket as time at the rate; the kernel takes TCA_TBF_BURST instead when given.
        let buffer =
            ticks((u128::from(burst32) * 1_000_000_000 / u128::from(rate.max(1))).min(u64::MAX as u128) as u64);
        let mut qopt = Vec::with_capacity(TBF_QOPT_LEN);
        qopt.extend_from_slice(&ratespec(rate));
        qopt.extend_from_slice(&[0u8; RATESPEC_LEN]); // no peak rate
        qopt.extend_from_slice(&limit.to_ne_bytes());
        qopt.extend_from_slice(&buffer.to_ne_bytes());
        qopt.extend_from_slice(&0u32.to_ne_bytes()); // mtu: only for a peak rate
        let mut out = nla(TCA_TBF_PARMS, &qopt);
        out.extend(nla(TCA_TBF_BURST, &burst32.to_ne_bytes()));
        if rate > u64::from(u32::MAX) {
            out.extend(nla(TCA_TBF_RATE64, &rate.to_ne_bytes()));
        }
        out
    }

    /// netem delaying by `delay_us` (± `jitter_us`, uniform), at `rate` bytes/s when not 0.
    /// netem's options are its struct followed by attributes, not a nest.
    pub fn netem(delay_us: u64, jitter_us: u64, rate: u64, limit: u32) -> Vec<u8> {
        let (delay_ns, jitter_ns) = (delay_us.saturating_mul(1000), jitter_us.saturating_mul(1000));
        let mut out = Vec::with_capacity(NETEM_QOPT_LEN + 64);
        for field in [ticks(delay_ns), limit, 0, 0, 0, ticks(jitter_ns)] {
            out.extend_from_slice(&field.to_ne_bytes());
        }
        out.extend(nla(TCA_NETEM_LATENCY64, &(delay_ns.min(i64::MAX as u64) as i64).to_ne_bytes()));
        out.extend(nla(TCA_NETEM_JITTER64, &(jitter_ns.min(i64::MAX as u64) as i64).to_ne_bytes()));
        if rate != 0 {
            let mut spec = [0u8; 16];
            spec[..4].copy_from_slice(&u32_sat(rate).to_ne_bytes());
            out.extend(nla(TCA_NETEM_RATE, &spec));
            if rate > u64::from(u32::MAX) {
                out.extend(nla(TCA_NETEM_RATE64, &rate.to_ne_bytes()));
            }
        }
        out
    }

    /// The attributes in `bytes`, as (kind, value); stops at the first malformed one.
    fn attributes(mut bytes: &[u8]) -> impl Iterator<Item = (u16, &[u8])> {
        std::iter::from_fn(move || {
            let len = usize::from(u16::from_ne_bytes(bytes.get(..2)?.try_into().ok()?));
            let kind = u16::from_ne_bytes(bytes.get(2..4)?.try_into().ok()?) & 0x3fff;
            let value = bytes.get(4..len)?;
            bytes = bytes.get(len.next_multiple_of(4)..).unwrap_or_default();
            Some((kind, value))
        })
    }

    /// tbf's rate (bytes/s) and burst (bytes) from the options the kernel dumps. The kernel
    /// keeps the burst as time at the rate, in ticks, so the burst read back may differ from
    /// the one set by the rounding of a tick (see `same_burst`).
    pub fn read_tbf(options: &[u8]) -> (u64, u64) {
        let (mut rate, mut buffer_ticks) = (0u64, 0u64);
        for (kind, value) in attributes(options) {
            match kind {
                TCA_TBF_PARMS if value.len() >= TBF_QOPT_LEN => {
                    rate = rate.max(u64::from(u32::from_ne_bytes(value[8..12].try_into().unwrap())));
                    let at = 2 * RATESPEC_LEN + 4;
                    buffer_ticks = u64::from(u32::from_ne_bytes(value[at..at + 4].try_into().unwrap()));
                }
                TCA_TBF_RATE64 if value.len() >= 8 => rate = u64::from_ne_bytes(value[..8].try_into().unwrap()),
                _ => {}
            }
        }
        let burst = u128::from(rate) * u128::from(buffer_ticks) * u128::from(NS_PER_TICK) / 1_000_000_000;
        (rate, u64::try_from(burst).unwrap_or(u64::MAX))
    }

    /// Whether a burst read back is the one set, within the kernel's rounding (a tick at the
    /// rate, and its fixed-point time conversion: well under 1%).
    pub fn same_burst(read: u64, set: u64, rate: u64) -> bool {
        let tick = u128::from(rate) * u128::from(NS_PER_TICK) / 1_000_000_000;
        u128::from(read.abs_diff(set)) <= tick + 1 + u128::from(set / 100)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn tbf_options_read_back() {
            let opts = tbf(12_500_000, 250_000, 50_000);
            let parms: Vec<_> = attributes(&opts).collect();
            assert_eq!(parms.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [TCA_TBF_PARMS, TCA_TBF_BURST]);
            let (rate, burst) = read_tbf(&opts);
            assert_eq!(rate, 12_500_000);
            assert!(same_burst(burst, 250_000, rate), "{burst}");
            // limit: 50 ms at the rate plus the burst.
            let limit = u32::from_ne_bytes(parms[0].1[24..28].try_into().unwrap());
            assert_eq!(limit, 625_000 + 250_000);
        }

        #[test]
        fn rates_beyond_32_bits_ride_in_their_own_attribute() {
            let rate = 12_500_000_000; // 100 Gbit/s
            let opts = tbf(rate, 250_000_000, 50_000);
            assert!(attributes(&opts).any(|(k, v)| k == TCA_TBF_RATE64 && v == rate.to_ne_bytes()));
            assert_eq!(read_tbf(&opts).0, rate);
            let netem = netem(1000, 0, rate, 1000);
            assert!(attributes(&netem[NETEM_QOPT_LEN..]).any(|(k, _)| k == TCA_NETEM_RATE64));
        }

        #[test]
        fn netem_is_a_struct_then_attributes() {
            let opts = netem(20_000, 5_000, 0, 1000);
            assert_eq!(u32::from_ne_bytes(opts[0..4].try_into().unwrap()), (20_000_000 / 64) as u32);
            assert_eq!(u32::from_ne_bytes(opts[4..8].try_into().unwrap()), 1000);
            let attrs: Vec<_> = attributes(&opts[NETEM_QOPT_LEN..]).collect();
            assert_eq!(attrs[0], (TCA_NETEM_LATENCY64, &20_000_000i64.to_ne_bytes()[..]));
            assert_eq!(attrs[1], (TCA_NETEM_JITTER64, &5_000_000i64.to_ne_bytes()[..]));
            assert_eq!(attrs.len(), 2, "no rate asked");
        }

        #[test]
        fn malformed_options_read_as_nothing() {
            for bytes in [&[][..], &[3, 0], &[200, 0, 1, 0, 1, 2], &[8, 0, 1, 0]] {
                assert_eq!(read_tbf(bytes), (0, 0));
            }
        }
    }
}

/// Runs `f` with an rtnetlink connection in `ns` and the ifindex of `dev` there.
fn with_dev<T: Send>(dev: &str, ns: &Netns, f: impl FnOnce(&Rtnl, i32) -> Result<T> + Send) -> Result<T> {
    ns.run(|| {
        let rtnl = Rtnl::open()?;
        let link = rtnl.require(dev)?;
        f(&rtnl, link.index as i32)
    })
}

/// Turns a refusal of the kernel into feth's sentence for `dev`.
fn refused(dev: &str, doing: &str, cause: rtnetlink::Error) -> FethError {
    match errno(&cause) {
        Some(libc::EPERM) => FethError::NotPermitted(format!("{dev}: {doing} was refused: it needs CAP_NET_ADMIN")),
        _ => FethError::Netlink { context: format!("{dev}: {doing}"), cause },
    }
}

/// What a dumped root qdisc is to feth.
fn classify(msg: &TcMessage) -> Root {
    let mut kind = String::new();
    let (mut options, mut drops) = (Vec::new(), 0u64);
    for attr in &msg.attributes {
        match attr {
            TcAttribute::Kind(k) => kind = k.clone(),
            TcAttribute::Options(opts) => {
                for opt in opts {
                    if let TcOption::Other(nla) = opt {
                        options = nla_value(nla);
                    }
                }
            }
            TcAttribute::Stats2(stats) => {
                for s in stats {
                    if let TcStats2::Queue(q) = s {
                        drops = u64::from(q.drops);
                    }
                }
            }
            TcAttribute::Stats(s) if drops == 0 => drops = u64::from(s.drops),
            _ => {}
        }
    }
    match kind.as_str() {
        "tbf" | "netem" if msg.header.handle == HANDLE => {
            let (rate_bytes, burst_bytes) = if kind == "tbf" { qdisc_options::read_tbf(&options) } else { (0, 0) };
            Root::Feth { kind, rate_bytes, burst_bytes, drops }
        }
        "noqueue" | "pfifo_fast" | "mq" | "fq_codel" | "" => Root::Default,
        _ => Root::Foreign(kind),
    }
}

/// The bytes of an attribute netlink-packet-route kept whole (kinds it does not know).
fn nla_value(nla: &DefaultNla) -> Vec<u8> {
    use rtnetlink::packet_core::Nla as _;
    let mut value = vec![0u8; nla.value_len()];
    nla.emit_value(&mut value);
    value
}

fn root_on(rtnl: &Rtnl, dev: &str, index: i32) -> Result<Root> {
    let dump = rtnl
        .block_on(async { rtnl.handle().qdisc().get().index(index).execute().try_collect::<Vec<TcMessage>>().await });
    let all = dump.map_err(|e| refused(dev, "reading its qdiscs", e))?;
    // A dump filtered by ifindex still lists every device's on some kernels: match it here.
    Ok(all
        .iter()
        .find(|m| m.header.index == index && m.header.parent == TcHandle::ROOT)
        .map_or(Root::Default, classify))
}

/// The root qdisc of `dev` in `ns`.
pub fn root(dev: &str, ns: &Netns) -> Result<Root> {
    with_dev(dev, ns, |rtnl, index| root_on(rtnl, dev, index))
}

/// Whether feth's qdisc on `dev` is the one `impair` asks for. (netem's parameters are set
/// by `impair` itself; a repair only puts back a qdisc of the wrong kind or none.)
pub fn in_step(now: &Root, impair: &Impairment) -> bool {
    match now {
        Root::Feth { kind, rate_bytes, burst_bytes, .. } if impair.delay_us != 0 => {
            kind == "netem" && (*rate_bytes, *burst_bytes) == (0, 0)
        }
        Root::Feth { kind, rate_bytes, burst_bytes, .. } => {
            kind == "tbf"
                && *rate_bytes == impair.rate_bytes
                && qdisc_options::same_burst(*burst_bytes, impair.burst_bytes, impair.rate_bytes)
        }
        _ => false,
    }
}

/// Puts feth's qdisc for `impair` at the root of `dev` (replacing feth's earlier one), or
/// removes it when `impair` asks for neither a rate nor a delay. Someone else's root qdisc is
/// never replaced: the rate or delay is refused.
pub fn apply(dev: &str, ns: &Netns, impair: &Impairment) -> Result<()> {
    if impair.rate_bytes == 0 && impair.delay_us == 0 {
        return remove(dev, ns);
    }
    with_dev(dev, ns, |rtnl, index| {
        let now = root_on(rtnl, dev, index)?;
        if let Root::Foreign(kind) = &now {
            return Err(FethError::Refused {
                name: dev.to_owned(),
                reason: format!(
                    "its root qdisc is a {kind} feth did not put there; remove it before setting a rate or delay"
                ),
            });
        }
        let (kind, options) = if impair.delay_us == 0 {
            ("tbf", qdisc_options::tbf(impair.rate_bytes, impair.burst_bytes, LATENCY_US))
        } else {
            ("netem", qdisc_options::netem(impair.delay_us, impair.jitter_us, impair.rate_bytes, NETEM_LIMIT))
        };
        let missing = |kind: &str| match kind {
            "netem" => FethError::Refused {
                name: dev.to_owned(),
                reason: "--delay needs sch_netem, and this kernel does not have it".into(),
            },
            _ => FethError::KernelFeature(format!("{dev}: a rate needs sch_tbf")),
        };
        // The kernel changes a qdisc in place only within its kind: from tbf to netem (or
        // back) feth's qdisc is removed and the new one made, once the kernel is known to
        // have the new kind, so a refusal leaves the old one as it was.
        if let Root::Feth { kind: old, .. } = &now
            && old != kind
        {
            if !kind_available(kind, &options)? {
                return Err(missing(kind));
            }
            delete(rtnl, dev, index)?;
        }
        let message = qdisc_message(index, kind, options);
        let flags = NLM_F_CREATE | NLM_F_REPLACE;
        rtnl.request_ack(RouteNetlinkMessage::NewQueueDiscipline(message), flags).map_err(|e| match errno(&e) {
            // The kernel knows no such qdisc kind (and could not load its module).
            Some(libc::ENOENT) => missing(kind),
            _ => refused(dev, &format!("installing a {kind} qdisc"), e),
        })
    })
}

/// A request for feth's root qdisc of `kind` with `options` on `index`.
fn qdisc_message(index: i32, kind: &str, options: Vec<u8>) -> TcMessage {
    let mut message = TcMessage::with_index(index);
    message.header.parent = TcHandle::ROOT;
    message.header.handle = HANDLE;
    message.attributes.push(TcAttribute::Kind(kind.to_owned()));
    message.attributes.push(TcAttribute::Other(DefaultNla::new(qdisc_options::TCA_OPTIONS, options)));
    message
}

/// Whether the kernel makes a qdisc of `kind` with `options`: tried on the loopback device of
/// a private network namespace, which vanishes with everything in it.
fn kind_available(kind: &str, options: &[u8]) -> Result<bool> {
    let ns = crate::kernel::netns::private()?;
    crate::kernel::netns::run_in_file(&ns, || {
        let rtnl = Rtnl::open()?;
        let lo = rtnl.require("lo")?;
        let message = qdisc_message(lo.index as i32, kind, options.to_vec());
        match rtnl.request_ack(RouteNetlinkMessage::NewQueueDiscipline(message), NLM_F_CREATE | NLM_F_REPLACE) {
            Ok(()) => Ok(true),
            Err(e) if errno(&e) == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(refused("lo", &format!("trying a {kind} qdisc"), e)),
        }
    })
}

fn delete(rtnl: &Rtnl, dev: &str, index: i32) -> Result<()> {
    let mut request = rtnl.handle().qdisc().del(index);
    let message = request.message_mut();
    message.header.parent = TcHandle::ROOT;
    message.header.handle = HANDLE;
    rtnl.block_on(request.execute()).map_err(|e| refused(dev, "removing its qdisc", e))
}

/// Removes feth's qdisc from `dev` (nothing else's).
pub fn remove(dev: &str, ns: &Netns) -> Result<()> {
    with_dev(dev, ns, |rtnl, index| {
        if !matches!(root_on(rtnl, dev, index)?, Root::Feth { .. }) {
            return Ok(());
        }
        delete(rtnl, dev, index)
    })
}

/// Frames feth's qdisc on `dev` dropped (0 without one).
pub fn drops(dev: &str, ns: &Netns) -> u64 {
    match root(dev, ns) {
        Ok(Root::Feth { drops, .. }) => drops,
        _ => 0,
    }
}

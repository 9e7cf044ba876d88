//! `feth-loader impair`: cable faults on what an interface transmits.
use feth_control::{
    kernel::context::Context,
    ops,
    port::impair::{self, Impairment},
    read_state, with_state,
};

#[derive(clap::Args)]
pub struct Args {
    /// The interface whose transmissions are impaired (NAME -> its peer).
    name: String,
    /// Lose frames at random, e.g. 10% or 0.5%.
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    loss: Option<String>,
    /// Lose exactly one frame in N (Apple feth's tx_drops; counted per CPU); 0 turns it off.
    #[arg(long, value_name = "N")]
    loss_every: Option<u32>,
    /// Flip one bit in frames at random, e.g. 1%; the receiver's checksums catch it (in TC mode
    /// NAME then checksums in software, shown by `show`).
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    corrupt: Option<String>,
    /// Send frames twice at random, e.g. 10% (TC mode).
    #[arg(long, value_name = "P", allow_hyphen_values = true)]
    duplicate: Option<String>,
    /// Shape to this rate (a tbf qdisc at the root of NAME, so TCP slows down instead of
    /// losing; what overflows its 50 ms queue is dropped and counted), e.g. 100mbit, 1gbit,
    /// 512kbit, 10mbps (bytes); 0 turns it off.
    #[arg(long, value_name = "R", allow_hyphen_values = true)]
    rate: Option<String>,
    /// The shaper's bucket, e.g. 64kb (default: 20 ms at the rate, at least 16 KiB).
    #[arg(long, value_name = "B", requires = "rate", allow_hyphen_values = true)]
    burst: Option<String>,
    /// Delay every frame, e.g. 20ms (a netem qdisc at the root of NAME, with the rate if one is
    /// set; needs sch_netem in the kernel); 0 turns it off.
    #[arg(long, value_name = "D", allow_hyphen_values = true)]
    delay: Option<String>,
    /// Vary the delay by up to this much, e.g. 5ms.
    #[arg(long, value_name = "J", requires = "delay", allow_hyphen_values = true)]
    jitter: Option<String>,
    /// Remove every impairment.
    #[arg(long, conflicts_with_all = ["loss", "loss_every", "corrupt", "duplicate", "rate", "burst", "delay", "jitter"])]
    clear: bool,
}

impl Args {
    fn changes(&self) -> bool {
        self.clear
            || self.loss.is_some()
            || self.loss_every.is_some()
            || self.corrupt.is_some()
            || self.duplicate.is_some()
            || self.rate.is_some()
            || self.delay.is_some()
    }

    /// The impairments as spelled on the command line.
    fn spec(&self) -> impair::Spec {
        impair::Spec {
            loss: self.loss.clone(),
            loss_every: self.loss_every,
            corrupt: self.corrupt.clone(),
            duplicate: self.duplicate.clone(),
            rate: self.rate.clone(),
            burst: self.burst.clone(),
            delay: self.delay.clone(),
            jitter: self.jitter.clone(),
        }
    }

    /// The impairments after this command: the given ones replace theirs, the rest are kept.
    fn apply(&self, now: Impairment) -> feth_control::Result<Impairment> {
        if self.clear {
            return Ok(Impairment::default());
        }
        self.spec().apply(&self.name, now)
    }
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let now = if args.changes() {
        with_state(ctx, |state| {
            let port = state.port(&args.name)?;
            let next = args.apply(port.record.impair)?;
            ops::set_impair(state, &args.name, next)?;
            Ok(next)
        })?
    } else {
        read_state(ctx, |state| Ok(state.port(&args.name)?.record.impair))?
    };
    let text = now.describe();
    println!("{}: impair {}", args.name, if text.is_empty() { "none".to_owned() } else { text.join(", ") });
    Ok(())
}

//! `feth-loader flap`: pulls the cable between an interface and its peer and plugs it back,
//! on a schedule, in the foreground. Interrupted, it leaves the link up as it found it.
use std::{io::Write as _, time::Instant};

use feth_control::{kernel::context::Context, ops, port::impair::parse_duration, with_state};
use nix::sys::signal::{SigSet, Signal};

#[derive(clap::Args)]
pub struct Args {
    /// One end of the link (its peer goes down and up with it).
    name: String,
    /// How long the link stays down each time, e.g. 200ms or 2s.
    #[arg(long, value_name = "D")]
    down: String,
    /// How long the link stays up between downs, e.g. 300ms.
    #[arg(long, value_name = "U")]
    up: String,
    /// Down/up cycles; forever without it.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
}

/// Interrupts that end the flapping (the link is then left up).
fn interrupts() -> SigSet {
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    set.add(Signal::SIGHUP);
    set
}

/// Waits until `deadline`; false when an interrupt came first.
fn wait_until(deadline: Instant, set: &SigSet) -> bool {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return true;
    }
    let timeout = libc::timespec { tv_sec: left.as_secs() as _, tv_nsec: left.subsec_nanos() as libc::c_long };
    // SAFETY: a valid signal set and timeout; no siginfo wanted.
    let got = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &timeout) };
    // EAGAIN: the timeout passed. EINTR (another signal): keep waiting.
    if got < 0 {
        return if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            wait_until(deadline, set)
        } else {
            true
        };
    }
    false
}

fn say(start: Instant, name: &str, up: bool) {
    // A closed stdout must not stop the schedule or leave the link down.
    let _ = writeln!(
        std::io::stdout(),
        "{:>9.3}s {name}: link {}",
        start.elapsed().as_secs_f64(),
        if up { "up" } else { "down" }
    );
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let down = parse_duration("--down", &args.down)?;
    let up = parse_duration("--up", &args.up)?;
    if args.count == Some(0) {
        anyhow::bail!("--count must be at least 1");
    }
    // Checked before the schedule starts: an unknown or unpeered name changes nothing.
    let cable = with_state(ctx, |state| ops::Cable::of(state, &args.name))?;
    // Output to a closed pipe must not end the process with the cable pulled.
    // SAFETY: changing a signal's disposition; this thread is the only one.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let set = interrupts();
    set.thread_block()?;
    // Deadlines are absolute (start + the durations so far): a slow command does not shift
    // the ones after it.
    let start = Instant::now();
    let mut at = start;
    let mut cycles = 0u64;
    let result = loop {
        if args.count.is_some_and(|n| cycles >= n) {
            break Ok(());
        }
        if let Err(e) = cable.set(false) {
            break Err(e.into());
        }
        say(start, &args.name, false);
        at += down;
        let interrupted = !wait_until(at, &set);
        if let Err(e) = cable.set(true) {
            break Err(e.into());
        }
        say(start, &args.name, true);
        cycles += 1;
        if interrupted {
            break Ok(());
        }
        at += up;
        if args.count.is_some_and(|n| cycles >= n) {
            break Ok(());
        }
        if !wait_until(at, &set) {
            break Ok(());
        }
    };
    let _ = set.thread_unblock();
    result
}

//! `feth-loader capture`: switches the data path's capture on for one port, reads what it
//! hands over (`feth_common::capture`), and switches it off again.
//!
//! One capture per state directory at a time: the capture holds an exclusive flock on the layout
//! directory (changing commands lock the state directory above it, so they go on meanwhile).
//! A capture killed without cleaning up leaves the switch on; the repair finds the flock free
//! and turns it off (`datapath::capture_switch`).
use std::{
    os::fd::AsRawFd as _,
    time::{Duration, Instant},
};

use aya::{
    maps::{
        MapData, PerfEventArray,
        perf::{PerfEvent, PerfEventArrayBuffer},
    },
    programs::{LinkOrder, SchedClassifier, TcAttachType, tc::TcAttach},
};
use feth_common::{
    Settings,
    capture::{CaptureMeta, DROPS_ONLY},
    names::{MAP_CAPTURE, PROG_TC_USER_EGRESS},
};

use crate::{
    datapath::capture_switch,
    error::{Context as _, FethError, Result},
    kernel::{bpffs::StateDir, context::Context},
    session::{read_state, with_state},
};

/// Pages of each CPU's ring: 1 MiB, room for about 60 frames of 16 KiB or 7000 small ones
/// between two reads.
const PAGES: usize = 256;

/// One captured frame.
pub struct Frame {
    pub meta: CaptureMeta,
    pub data: Vec<u8>,
}

/// A running capture; dropping it switches the data path's capture off.
pub struct Capture {
    ctx: Context,
    buffers: Vec<PerfEventArrayBuffer>,
    _array: PerfEventArray<MapData>,
    _running: std::fs::File,
    /// Records the rings had no room for (the frames themselves were not affected).
    pub lost: u64,
    slot: u32,
    /// The egress program on the user end (TCX kernels): detached when dropped, or when this
    /// process dies, with its file descriptor.
    _egress: Option<SchedClassifier>,
    /// The peer's MTU the data path was last told, and when it was last looked at.
    peer_mtu: u32,
    peer_mtu_at: Instant,
}

/// Attaches the egress program to the user end (in its namespace), as a TCX link owned by the
/// returned program: frames the user end sends while `flap` holds the link down are refused by
/// its own veth before any crossover program sees them; at egress they are seen first.
fn attach_user_egress(
    state: &StateDir,
    netns: &crate::kernel::netns::Netns,
    ifindex: u32,
    name: &str,
) -> Result<SchedClassifier> {
    let path = state.pin_path(PROG_TC_USER_EGRESS);
    netns.run(|| {
        let mut prog = SchedClassifier::from_pin(path).context(format!("open pinned program {PROG_TC_USER_EGRESS}"))?;
        let tcx = TcAttach::Tcx { attach_type: TcAttachType::Egress, order: LinkOrder::default() };
        prog.attach(ifindex, tcx).context(format!("{name}: attach the capture's egress program"))?;
        Ok(prog)
    })
}

/// How often a capture looks at the peer's MTU again (a user may change it meanwhile).
const PEER_MTU_EVERY: Duration = Duration::from_secs(1);

impl Capture {
    /// Starts capturing what `name` transmits into the crossover.
    pub fn start(ctx: &Context, name: &str, drops_only: bool) -> Result<Capture> {
        with_state(ctx, |state| {
            let port = state.port(name)?;
            let slot = port.slot;
            let Some(running) = capture_switch::hold(&ctx.state)? else {
                return Err(FethError::Refused {
                    name: name.to_owned(),
                    reason: "another capture is running on this bench (one at a time); stop it first".into(),
                });
            };
            let path = ctx.state.pin_path(MAP_CAPTURE);
            let data = MapData::from_pin(&path).context(format!("open pinned map {MAP_CAPTURE}"))?;
            let mut array = PerfEventArray::try_from(aya::maps::Map::PerfEventArray(data)).context(MAP_CAPTURE)?;
            let cpus =
                aya::util::online_cpus().map_err(|(what, e)| FethError::Io { context: what.to_owned(), cause: e })?;
            let mut buffers = Vec::new();
            for cpu in cpus {
                let buffer =
                    PerfEventArrayBuffer::open(cpu, PAGES).context(format!("open the capture ring of CPU {cpu}"))?;
                array.set(cpu, &buffer).context(format!("register the capture ring of CPU {cpu}"))?;
                buffers.push(buffer);
            }
            let mtu = state.peer_user_mtu(slot);
            let egress = match &port.user {
                Some(user) if ctx.features.tcx => Some(attach_user_egress(&ctx.state, &port.netns, user.index, name)?),
                _ => None,
            };
            let crossover = state.crossover.as_mut().ok_or(FethError::NoPorts)?;
            crossover.update_settings(|s| {
                s.capture = (slot + 1) | if drops_only { DROPS_ONLY } else { 0 };
                s.capture_mtu = mtu;
            })?;
            Ok(Capture {
                ctx: ctx.clone(),
                buffers,
                _array: array,
                _running: running,
                lost: 0,
                slot,
                _egress: egress,
                peer_mtu: mtu,
                peer_mtu_at: Instant::now(),
            })
        })
    }

    /// Tells the data path the peer's MTU again when it changed (about once a second).
    fn follow_peer_mtu(&mut self) -> Result<()> {
        if self.peer_mtu_at.elapsed() < PEER_MTU_EVERY {
            return Ok(());
        }
        self.peer_mtu_at = Instant::now();
        let slot = self.slot;
        let mtu = read_state(&self.ctx, |state| Ok(state.peer_user_mtu(slot)))?;
        if mtu == self.peer_mtu {
            return Ok(());
        }
        update_settings(&self.ctx, |s| s.capture_mtu = mtu)?;
        self.peer_mtu = mtu;
        Ok(())
    }

    /// Waits up to `timeout` for frames and hands each to `f` (in the order of each CPU's ring).
    pub fn read(&mut self, timeout: Duration, mut f: impl FnMut(Frame)) -> Result<()> {
        self.follow_peer_mtu()?;
        let mut fds: Vec<libc::pollfd> =
            self.buffers.iter().map(|b| libc::pollfd { fd: b.as_raw_fd(), events: libc::POLLIN, revents: 0 }).collect();
        // SAFETY: a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout.as_millis() as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            // A signal (Ctrl-C) still drains what the rings hold.
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(FethError::Io { context: "wait for captured frames".into(), cause: e });
            }
        }
        let lost = &mut self.lost;
        for buffer in &mut self.buffers {
            buffer.for_each(|event| match event {
                PerfEvent::Sample { head, tail } => {
                    let raw: Vec<u8> = head.iter().chain(tail.iter()).copied().collect();
                    if let Some(frame) = parse(&raw) {
                        f(frame);
                    }
                }
                PerfEvent::Lost { count } => *lost += count,
            });
        }
        Ok(())
    }
}

/// A record: the meta, then `caplen` bytes of frame (then padding).
fn parse(raw: &[u8]) -> Option<Frame> {
    let size = std::mem::size_of::<CaptureMeta>();
    if raw.len() < size {
        return None;
    }
    // SAFETY: CaptureMeta is plain integers; the length was checked.
    let meta: CaptureMeta = unsafe { std::ptr::read_unaligned(raw.as_ptr().cast()) };
    let data = raw.get(size..size + meta.caplen as usize)?.to_vec();
    Some(Frame { meta, data })
}

impl Drop for Capture {
    fn drop(&mut self) {
        // Best effort (the process may be ending on a signal); a switch left on is cleared by
        // the next repair once this process no longer holds the layout directory.
        let _ = update_settings(&self.ctx, capture_switch::switch_off);
    }
}

/// Changes the data path's settings under the state lock (nothing when nothing is loaded).
fn update_settings(ctx: &Context, f: impl FnOnce(&mut Settings)) -> Result<()> {
    with_state(ctx, |state| state.crossover.as_mut().map_or(Ok(()), |c| c.update_settings(f)))
}

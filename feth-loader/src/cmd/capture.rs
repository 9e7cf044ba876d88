//! `feth-loader capture NAME`: what NAME transmits, as the crossover saw it, including the
//! frames it dropped (each pcapng record's comment says what happened to the frame).
use std::{
    borrow::Cow,
    io::Write,
    sync::atomic::Ordering,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::Context as _;
use feth_common::capture::{SNAPLEN, reason};
use feth_control::{
    kernel::context::Context,
    observe::capture::{Capture, Frame},
};
use pcap_file::{
    DataLink,
    pcapng::{
        PcapNgWriter,
        blocks::{
            enhanced_packet::{EnhancedPacketBlock, EnhancedPacketOption},
            interface_description::{InterfaceDescriptionBlock, InterfaceDescriptionOption},
        },
    },
};

#[derive(clap::Args)]
pub struct Args {
    name: String,
    /// Write the frames to this pcapng file (`-` for stdout, e.g. `| tshark -r -`); without
    /// it, one line per frame.
    #[arg(short = 'w', value_name = "FILE")]
    write: Option<String>,
    /// Stop after this many frames.
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Only frames the crossover dropped, corrupted or duplicated.
    #[arg(long)]
    drops_only: bool,
}

/// Where frames go.
enum Sink {
    Lines(std::io::Stdout),
    Pcap(PcapNgWriter<Box<dyn Write>>),
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    // Ctrl-C and SIGTERM end the capture cleanly: the switch goes off, the file is complete.
    let stop = super::stop_on_signals();
    let mut sink = match args.write.as_deref() {
        None => Sink::Lines(std::io::stdout()),
        Some(path) => {
            let out: Box<dyn Write> = if path == "-" {
                Box::new(std::io::stdout())
            } else {
                Box::new(std::io::BufWriter::new(
                    // With the caller's own permissions: `-w` never writes where the caller may not.
                    feth_control::kernel::caller::create(std::path::Path::new(path))
                        .with_context(|| format!("cannot create {path}"))?,
                ))
            };
            let mut writer = PcapNgWriter::new(out).context("write the pcapng header")?;
            writer
                .write_pcapng_block(InterfaceDescriptionBlock {
                    linktype: DataLink::ETHERNET,
                    snaplen: SNAPLEN,
                    options: vec![
                        InterfaceDescriptionOption::IfName(Cow::Owned(args.name.clone())),
                        // Timestamps in nanoseconds (as the writer stores them).
                        InterfaceDescriptionOption::IfTsResol(9),
                    ],
                })
                .context("write the pcapng interface")?;
            Sink::Pcap(writer)
        }
    };
    let mut capture = Capture::start(ctx, &args.name, args.drops_only)?;
    eprintln!(
        "feth-loader: capturing what {} transmits{}",
        args.name,
        if args.drops_only { " (drops, corruptions, duplicates only)" } else { "" }
    );
    // The data path stamps frames with CLOCK_MONOTONIC; the file wants wall-clock time.
    let offset = wall_minus_monotonic();
    let (mut seen, mut failed) = (0u64, None);
    loop {
        // Ctrl-C ends the capture after one last pass over the rings: what they hold was sent
        // before the stop, and a capture that left it there would miss it without a word.
        let stopping = stop.load(Ordering::Relaxed);
        let wait = if stopping { Duration::ZERO } else { Duration::from_millis(100) };
        capture.read(wait, |frame| {
            if failed.is_some() || args.count.is_some_and(|n| seen >= n) {
                return;
            }
            seen += 1;
            if let Err(e) = write(&mut sink, &args.name, &frame, offset) {
                failed = Some(e);
            }
        })?;
        if let Some(e) = failed.take() {
            // A closed pipe ends the capture quietly, like any command.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                break;
            }
            return Err(e).context("write captured frames");
        }
        if stopping || args.count.is_some_and(|n| seen >= n) {
            break;
        }
    }
    let lost = capture.lost;
    drop(capture);
    if let Sink::Pcap(writer) = sink {
        writer.into_inner().flush().ok();
    }
    eprintln!(
        "feth-loader: {seen} frames captured{}",
        if lost > 0 { format!(", {lost} lost (rings full)") } else { String::new() }
    );
    Ok(())
}

fn write(sink: &mut Sink, name: &str, frame: &Frame, offset: Duration) -> std::io::Result<()> {
    let m = &frame.meta;
    let at = offset + Duration::from_nanos(m.ts_ns);
    match sink {
        Sink::Lines(out) => {
            let secs = at.as_secs_f64();
            writeln!(out.lock(), "{secs:.6} {name} {} {} bytes", reason::name(m.reason), m.len)
        }
        Sink::Pcap(writer) => writer
            .write_pcapng_block(EnhancedPacketBlock {
                interface_id: 0,
                timestamp: at,
                original_len: m.len,
                data: Cow::Borrowed(&frame.data),
                options: vec![EnhancedPacketOption::Comment(Cow::Borrowed(reason::name(m.reason)))],
            })
            .map(drop)
            .map_err(|e| match e {
                pcap_file::PcapError::IoError(io) => io,
                other => std::io::Error::other(other.to_string()),
            }),
    }
}

/// Wall-clock time minus CLOCK_MONOTONIC, to date the data path's stamps.
fn wall_minus_monotonic() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid timespec out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    let monotonic = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().saturating_sub(monotonic)
}

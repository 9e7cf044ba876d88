//! `gen` and `sink`: every generated frame is delivered or counted under a reason, exactly;
//! the sink counts what arrives; rates, IMIX proportions and refusals.
use std::process::{Child, Stdio};

use feth_tests::{
    both_modes,
    frames::PacketSocket,
    loader::{self, fails, ok, show_json},
    pair::{WAIT, port, up_pair},
    wait_until,
};

both_modes!(every_generated_frame_is_delivered_or_counted,);

/// One test of this file at a time: `gen --rate` measures the machine before it sends (the
/// probe), and another test's flood running beside it would halve what it measures.
fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that failed holding it poisons it; the next still runs.
    ONE.lock().unwrap_or_else(|e| e.into_inner())
}

/// What feth0 has sent into the crossover so far.
/// Whether gen and sink run here (BPF_PROG_RUN with live frames, Linux 5.18). Where they do
/// not, checks their refusal instead, on a TC pair: one sentence each naming the version, and
/// not a frame sent.
fn live_frames_here() -> bool {
    if feth_tests::kernel_at_least(5, 18) {
        return true;
    }
    let _p = up_pair("tc", &[]);
    for (what, args) in
        [("gen", &["gen", "feth0", "--count", "10"][..]), ("sink", &["sink", "feth1", "--duration", "1s"])]
    {
        let err = fails(args);
        assert!(err.contains(&format!("{what} needs Linux 5.18")), "{err}");
    }
    assert_eq!(feth0_tx(), 0, "nothing was sent");
    false
}

fn feth0_tx() -> u64 {
    port(&show_json(), "feth0")["counters"]["tx"]["packets"].as_u64().unwrap()
}

fn report(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("gen --json: {e}: {out}"))
}

fn n(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// `sink NAME --json` or `gen NAME --json` running until SIGINT (Ctrl-C), ended by its pid.
struct Running(Child);

impl Running {
    fn start(args: &[&str]) -> Running {
        let child = loader::command()
            .args(args)
            .arg("--json")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the loader");
        Running(child)
    }

    fn sink(name: &str) -> Running {
        Running::start(&["sink", name])
    }

    fn stop(mut self) -> serde_json::Value {
        // SAFETY: a signal to our own child, by its pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let child = std::mem::replace(&mut self.0, std::process::Command::new("true").spawn().unwrap());
        let out = child.wait_with_output().expect("output");
        assert!(out.status.success(), "after SIGINT: {}", String::from_utf8_lossy(&out.stderr));
        report(&String::from_utf8_lossy(&out.stdout))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The sink is attached once its interface has an XDP program.
fn sink_attached(p: &feth_tests::pair::Pair, dev: &str) -> bool {
    p.b.run(|| {
        std::process::Command::new("ip")
            .args(["-d", "link", "show", dev])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("prog/xdp"))
    })
}

fn every_generated_frame_is_delivered_or_counted(mode: &str) {
    let _alone = alone();
    if !live_frames_here() {
        return;
    }
    let p = up_pair(mode, &[]);
    if mode == "netkit" {
        // gen and sink work with XDP live frames, which a netkit pair cannot carry.
        for cmd in [&["gen", "feth0", "--count", "10"][..], &["sink", "feth1", "--duration", "1s"]] {
            let err = feth_tests::loader::fails(cmd);
            assert!(err.contains("a netkit pair cannot"), "{err}");
        }
        return;
    }
    let sink = Running::sink("feth1");
    assert!(wait_until(WAIT, || sink_attached(&p, "feth1")), "the sink attached");
    let out = report(&ok(&["gen", "feth0", "--count", "100000", "--size", "64", "--json"]));
    assert_eq!(n(&out, "sent"), 100000, "{out}");
    assert_eq!(out["unaccounted"], 0, "every frame delivered or counted: {out}");
    let drops: u64 = ["tx_refused", "link_down", "no_peer", "redirect_error", "loss", "loss_every", "rx_refused"]
        .iter()
        .map(|k| n(&out, k))
        .sum();
    assert_eq!(n(&out, "delivered") + drops, 100000, "{out}");
    let sunk = sink.stop();
    assert_eq!(n(&sunk, "received"), n(&out, "delivered"), "the sink counted what was delivered: {sunk}");
}

#[test]
fn a_rate_is_kept() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let _p = up_pair("xdp", &[]);
    // 10 kpps: gen refuses a rate more than twice what the bare path carried a moment ago,
    // and an emulated 6.12 beside a second VM carried 45 kpps, so 100 kpps was a coin toss.
    let out = report(&ok(&["gen", "feth0", "--rate", "10kpps", "--duration", "2s", "--json"]));
    // A rate for a time is a count: exactly rate x duration frames, paced so that they cannot
    // leave faster than the rate (a slow machine may take longer, which is no failure).
    assert_eq!(n(&out, "sent"), 20_000, "10 kpps for 2 s: {out}");
    let secs = out["seconds"].as_f64().unwrap();
    assert!(secs >= 1.9, "paced, not sent at once: 20000 frames in {secs:.2} s");
    assert_eq!(out["unaccounted"], 0, "{out}");
}

/// A rate beyond what the kernel's bare path carries here is refused before a frame leaves,
/// judged against the receiver the peer has: its stack, then an XDP program (the sink).
#[test]
fn a_rate_the_bare_path_cannot_carry_is_refused() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let p = up_pair("xdp", &[]);
    let counts = || {
        let shown = show_json();
        let packets = |name: &str, dir: &str| port(&shown, name)["counters"][dir]["packets"].as_u64().unwrap();
        (packets("feth0", "tx"), packets("feth1", "rx"))
    };
    let before = counts();
    // No veth path carries 50 Mpps from one CPU; the generator alone would (about 200 Mpps
    // per CPU without sending), so only the probe of the path refuses it.
    let err = fails(&["gen", "feth0", "--rate", "50mpps", "--cpus", "0", "--count", "1000"]);
    assert!(err.contains("cannot be met") && err.contains("into the stack"), "{err}");
    let sink = Running::sink("feth1");
    assert!(wait_until(WAIT, || sink_attached(&p, "feth1")), "the sink attached");
    let err = fails(&["gen", "feth0", "--rate", "50mpps", "--cpus", "0", "--count", "1000"]);
    assert!(err.contains("cannot be met") && err.contains("into an XDP program"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one sentence: {err}");
    assert_eq!(counts(), before, "nothing was sent");
    assert_eq!(n(&sink.stop(), "received"), 0, "nothing arrived");
}

/// Ctrl-C ends an endless `gen` cleanly, with the report, and every frame sent is accounted.
#[test]
fn ctrl_c_ends_gen_with_its_report() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let _p = up_pair("xdp", &[]);
    let before = feth0_tx();
    let sending = Running::start(&["gen", "feth0", "--rate", "2kpps", "--cpus", "0"]);
    assert!(wait_until(WAIT, || feth0_tx() > before + 1000), "gen is sending");
    let out = sending.stop();
    assert!(n(&out, "sent") > 1000, "{out}");
    // Delivered, or refused by feth0's queue under a slow receiver (tx_refused), and so on.
    assert_eq!(out["unaccounted"], 0, "{out}");
}

#[test]
fn imix_keeps_its_proportions_on_the_wire() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let p = up_pair("tc", &[]);
    let rx = p.b.run(|| PacketSocket::open_all("feth1"));
    // The whole burst waits in the socket until gen has returned.
    rx.set_recv_buffer(64 << 20);
    // 240 frames: each size's share goes in one call of fewer frames than the veth ring holds
    // (256), so a slow receiver (TCG) refuses none and the wire shows what was sent.
    let out = report(&ok(&["gen", "feth0", "--imix", "--count", "240", "--cpus", "0", "--json"]));
    assert_eq!(n(&out, "sent"), 240);
    assert_eq!(n(&out, "delivered"), 240, "{out}");
    let mut by_size = std::collections::HashMap::new();
    let mut seen = 0;
    while seen < 240 {
        let Some(f) = rx.recv(WAIT) else { break };
        if f.len() >= 14 && f[12..14] == [0x08, 0x00] && f[23] == 17 {
            *by_size.entry(f.len()).or_insert(0u64) += 1;
            seen += 1;
        }
    }
    let share = |size: usize| *by_size.get(&size).unwrap_or(&0) as f64 / 240.0;
    // IMIX's 64/594/1518 count the FCS, which a packet socket does not see.
    for (size, want) in [(60, 7.0 / 12.0), (590, 4.0 / 12.0), (1514, 1.0 / 12.0)] {
        assert!(
            (share(size) - want).abs() <= 0.01,
            "{size} B: {:.3} of the frames, want {want:.3} ({by_size:?})",
            share(size)
        );
    }
}

#[test]
fn bad_inputs_send_nothing() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let _p = up_pair("tc", &[]);
    let before = feth0_tx();
    for args in [
        vec!["gen", "feth0", "--size", "9000", "--count", "10"],
        vec!["gen", "feth0", "--size", "20", "--count", "10"],
        vec!["gen", "feth0", "--rate", "0pps", "--count", "10"],
        vec!["gen", "feth0", "--rate", "fast", "--count", "10"],
        vec!["gen", "feth0", "--count", "0"],
        vec!["gen", "nosuch0", "--count", "10"],
        vec!["gen", "lo", "--count", "10"],
        vec!["sink", "nosuch0", "--duration", "1s"],
    ] {
        let err = fails(&args);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(feth0_tx(), before, "nothing was sent");
}

#[test]
fn a_pcap_is_replayed_byte_for_byte_in_order() {
    use pcap_file::pcap::{PcapPacket, PcapWriter};
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let p = up_pair("tc", &[]);
    let src = feth_tests::pair::mac(&p.a, "feth0");
    // 1000 frames of many sizes, 1 ms apart in the file.
    let frames: Vec<Vec<u8>> =
        (0..1000u32).map(|seq| feth_tests::frames::test_frame(src, 60 + (seq as usize * 37) % 1400, seq)).collect();
    let write = |path: &std::path::Path, apart: std::time::Duration| {
        let mut writer = PcapWriter::new(std::fs::File::create(path).unwrap()).unwrap();
        for (i, f) in frames.iter().enumerate() {
            let at = std::time::Duration::from_secs(1_700_000_000) + apart * i as u32;
            writer.write_packet(&PcapPacket::new(at, f.len() as u32, f)).unwrap();
        }
    };
    let path = std::env::temp_dir().join(format!("feth-replay-{}.pcap", std::process::id()));
    write(&path, std::time::Duration::from_millis(1));
    let rx = p.b.run(|| PacketSocket::open("feth1"));
    rx.set_recv_buffer(64 << 20);
    // A rate replay cannot reach (one call per frame: tens of thousands a second) is refused
    // before any frame leaves.
    let before = feth0_tx();
    let err = fails(&["gen", "feth0", "--pcap", path.to_str().unwrap(), "--rate", "5mpps"]);
    assert!(err.contains("cannot be met") && err.contains("one frame per BPF_PROG_RUN call"), "{err}");
    // So is a capture whose own timing asks for that: 1000 frames 1 us apart.
    let fast = std::env::temp_dir().join(format!("feth-replay-fast-{}.pcap", std::process::id()));
    write(&fast, std::time::Duration::from_micros(1));
    let err = fails(&["gen", "feth0", "--pcap", fast.to_str().unwrap()]);
    let _ = std::fs::remove_file(&fast);
    assert!(err.contains("cannot be met") && err.contains("the capture's own"), "{err}");
    assert_eq!(feth0_tx(), before, "nothing was sent");
    let out = report(&ok(&["gen", "feth0", "--pcap", path.to_str().unwrap(), "--rate", "500pps", "--json"]));
    let _ = std::fs::remove_file(&path);
    assert_eq!(n(&out, "sent"), 1000, "{out}");
    assert_eq!(out["unaccounted"], 0, "{out}");
    let got: Vec<Vec<u8>> = std::iter::from_fn(|| rx.recv(WAIT)).take(1000).collect();
    assert_eq!(got.len(), 1000, "all 1000 arrived");
    for (i, (sent, got)) in frames.iter().zip(&got).enumerate() {
        assert!(sent == got, "frame {i} differs or is out of order");
    }
    // A file that is not a capture: one sentence, nothing sent.
    let junk = std::env::temp_dir().join(format!("feth-replay-{}.junk", std::process::id()));
    std::fs::write(&junk, b"not a capture").unwrap();
    let err = fails(&["gen", "feth0", "--pcap", junk.to_str().unwrap()]);
    let _ = std::fs::remove_file(&junk);
    assert!(err.contains("not a pcap"), "{err}");
}

/// The Internet checksum over `data` plus `partial` (0 when the data includes its checksum and
/// is right).
fn fold(data: &[u8], mut acc: u32) -> u16 {
    for pair in data.chunks(2) {
        acc += u32::from(u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]));
    }
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Whether an IPv4 frame's header and UDP/TCP checksums are right.
fn checksums_hold(f: &[u8]) -> bool {
    let ihl = 14 + 20;
    let total = u16::from_be_bytes([f[16], f[17]]) as usize;
    let l4 = &f[ihl..14 + total];
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(&f[26..34]);
    pseudo.extend_from_slice(&[0, f[23]]);
    pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    fold(&f[14..ihl], 0) == 0 && fold(l4, u32::from(!fold(&pseudo, 0))) == 0
}

#[test]
fn flows_vary_ports_and_addresses_with_correct_checksums() {
    let _alone = alone();
    let _w = feth_tests::world();
    if !live_frames_here() {
        return;
    }
    let p = up_pair("xdp", &[]);
    let rx = p.b.run(|| PacketSocket::open_all("feth1"));
    rx.set_recv_buffer(64 << 20);
    // Paced: 200 frames per 100 ms, each burst within the veth ring's 256 (one burst of 4000 was
    // partly refused at the sender under the kernel matrix's emulation).
    let args = [
        "gen",
        "feth0",
        "--dst-port",
        "1000-1999",
        "--src-ip",
        "198.18.0.10-198.18.0.13",
        "--count",
        "4000",
        "--rate",
        "2kpps",
    ];
    let out = report(&ok(&[&args[..], &["--cpus", "0", "--json"]].concat()));
    assert_eq!(n(&out, "sent"), 4000);
    let mut ports = std::collections::HashSet::new();
    let mut sources = std::collections::HashSet::new();
    let mut seen = 0;
    while seen < 4000 {
        let Some(f) = rx.recv(WAIT) else { break };
        if f.len() < 42 || f[12..14] != [0x08, 0x00] || f[23] != 17 {
            continue;
        }
        seen += 1;
        assert!(checksums_hold(&f), "frame {seen}: IPv4 and UDP checksums hold");
        ports.insert(u16::from_be_bytes([f[36], f[37]]));
        sources.insert([f[26], f[27], f[28], f[29]]);
    }
    assert_eq!(seen, 4000, "all arrived");
    assert_eq!(ports.len(), 1000, "every destination port of 1000-1999");
    assert!(ports.iter().all(|p| (1000..=1999).contains(p)));
    assert_eq!(sources.len(), 4, "every source address: {sources:?}");
    // TCP SYNs, ports varied, checksums right.
    let out = report(&ok(&[
        "gen",
        "feth0",
        "--proto",
        "tcp-syn",
        "--dst-port",
        "80-89",
        "--count",
        "20",
        "--cpus",
        "0",
        "--json",
    ]));
    assert_eq!(n(&out, "sent"), 20);
    let syns: Vec<Vec<u8>> =
        std::iter::from_fn(|| rx.recv(WAIT)).filter(|f| f.len() >= 54 && f[23] == 6).take(20).collect();
    assert_eq!(syns.len(), 20);
    for f in &syns {
        assert_eq!(f[47] & 0x12, 0x02, "a SYN");
        assert!(checksums_hold(f), "IPv4 and TCP checksums hold");
    }
}

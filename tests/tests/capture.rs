//! `feth-loader capture`: what a port transmits, read back by Debian's `tshark` from the pcapng
//! file: every frame sent is there byte for byte, and a dropped one carries its reason.
use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
};

use feth_tests::{
    both_modes,
    frames::{PacketSocket, seq_of, test_frame},
    loader::{self, counters, ok},
    pair::{WAIT, mac, up_pair},
    wait_until, world,
};

both_modes!(dropped_frames_carry_their_reason, frames_over_the_peers_mtu_are_captured_as_too_big,);

/// The capture process, ended by its pid (SIGINT: it writes the end of the file and switches
/// the capture off) when dropped.
struct Running(Child);

impl Running {
    /// SIGINT, then its stderr once it has finished the file and switched the capture off.
    fn stop(&mut self) -> String {
        use std::io::Read as _;
        // SAFETY: a signal to our own child, by its pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
        let status = self.0.wait().expect("wait for capture");
        let mut err = String::new();
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut err);
        }
        assert!(status.success(), "capture ended with {status}: {err}");
        err
    }

    /// `feth-loader ARGS` (a capture), once `FETH_SETTINGS` shows `field` (a `bpftool map
    /// dump` line such as `"capture": [1-9]`): frames sent from then on are captured.
    fn start(args: &[&str]) -> Running {
        Running(loader::command().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("start"))
    }

    fn capture(args: &[&str], field: &str) -> Running {
        let running = Running::start(args);
        let settings = format!("bpftool map dump pinned {}/FETH_SETTINGS", feth_tests::LAYOUT);
        assert!(
            wait_until(WAIT, || feth_tests::world::sh(&format!("{settings} | grep -q '{field}'"))),
            "the capture switched on ({field})"
        );
        running
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// (frame bytes, comment) of every record, as tshark reads them.
fn read_with_tshark(path: &str) -> Vec<(Vec<u8>, String)> {
    let out = Command::new("tshark").args(["-r", path, "-T", "json", "-x"]).output().expect("run tshark");
    assert!(out.status.success(), "tshark -r: {}", String::from_utf8_lossy(&out.stderr));
    let packets: serde_json::Value = serde_json::from_slice(&out.stdout).expect("tshark JSON");
    packets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let layers = &p["_source"]["layers"];
            let hex = layers["frame_raw"][0].as_str().unwrap_or_default();
            let bytes = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
            let comment = layers["pkt_comment"]["frame.comment"]
                .as_str()
                .or_else(|| layers["frame"]["frame.comment"].as_str())
                .unwrap_or_default()
                .to_owned();
            (bytes, comment)
        })
        .collect()
}

fn dropped_frames_carry_their_reason(mode: &str) {
    let p = up_pair(mode, &[]);
    ok(&["impair", "feth0", "--loss", "30%"]);
    let path = std::env::temp_dir().join(format!("feth-capture-{}-{mode}.pcapng", std::process::id()));
    let path = path.to_str().unwrap().to_owned();
    let mut capture = Running::capture(&["capture", "feth0", "-w", &path], r#""capture": [1-9]"#);
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let src = mac(&p.a, "feth0");
    let sent: HashMap<u32, Vec<u8>> =
        (0..200u32).map(|seq| (seq, test_frame(src, 60 + seq as usize * 7, seq))).collect();
    let before = counters("feth0")["tx"]["packets"].as_u64().unwrap();
    for seq in 0..200u32 {
        tx.send(&sent[&seq]);
    }
    assert!(
        wait_until(WAIT, || counters("feth0")["tx"]["packets"].as_u64().unwrap() >= before + 200),
        "feth counted the frames"
    );
    let said = capture.stop();
    assert!(said.contains("frames captured"), "{said}");
    let records = read_with_tshark(&path);
    let _ = std::fs::remove_file(&path);
    let ours: Vec<&(Vec<u8>, String)> = records
        .iter()
        .filter(|(b, _)| b.len() >= 18 && b[6..12] == src && sent.get(&seq_of(b)).is_some_and(|f| f == b))
        .collect();
    assert_eq!(ours.len(), 200, "every frame sent is in the file byte for byte ({} records)", records.len());
    let lost = ours.iter().filter(|(_, c)| c == "dropped: loss").count();
    let crossed = ours.iter().filter(|(_, c)| c == "crossed").count();
    assert_eq!(lost + crossed, 200, "each says what happened: {:?}", ours.iter().map(|(_, c)| c).collect::<Vec<_>>());
    let counted = counters("feth0")["drops"]["tx_loss"]["packets"].as_u64().unwrap();
    assert_eq!(lost as u64, counted, "the capture's drops are the counter's");
    assert!((20..=110).contains(&lost), "about 30% of 200 lost: {lost}");
    // Off again: the switch is back to 0.
    assert!(feth_tests::world::sh(&format!(
        "bpftool map dump pinned {}/FETH_SETTINGS | grep -q '\"capture\": 0'",
        feth_tests::LAYOUT
    )));
}

#[test]
fn drops_only_and_a_second_capture_is_refused() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    let path = std::env::temp_dir().join(format!("feth-capture-{}-drops.pcapng", std::process::id()));
    let path = path.to_str().unwrap().to_owned();
    // Every other frame dropped: by `--loss-every` (5.12), or before it by being too big for
    // feth1 (a drop with its reason too; the capture reads the peer's MTU as it starts).
    if !feth_tests::kernel_at_least(5, 12) {
        p.b.set_mtu("feth1", 1000);
    }
    let mut capture = Running::capture(&["capture", "feth0", "-w", &path, "--drops-only"], r#""capture": [1-9]"#);
    let err = feth_tests::loader::fails(&["capture", "feth1"]);
    assert!(err.contains("another capture is running"), "{err}");
    ok(&["unpeer", "feth0"]);
    ok(&["peer", "feth0", "feth1"]);
    let exact_loss = feth_tests::kernel_at_least(5, 12);
    if exact_loss {
        ok(&["impair", "feth0", "--loss-every", "2"]);
    }
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let src = mac(&p.a, "feth0");
    for seq in 0..20 {
        let len = if exact_loss || seq % 2 == 0 { 100 } else { 1400 };
        tx.send(&test_frame(src, len, seq));
    }
    // Stopped once the data path has dropped the ten (a loaded machine delivers a burst to the
    // wire end later than the socket took it), so the capture has had them.
    let (port, reason) = if exact_loss { ("feth0", "tx_loss_every") } else { ("feth1", "rx_refused") };
    assert!(
        wait_until(WAIT, || counters(port)["drops"][reason]["packets"].as_u64() >= Some(10)),
        "ten frames dropped: {}",
        counters(port)
    );
    let _ = capture.stop();
    let records = read_with_tshark(&path);
    let _ = std::fs::remove_file(&path);
    let ours: Vec<_> = records.iter().filter(|(b, _)| b.len() >= 18 && b[6..12] == src).collect();
    assert!(!ours.is_empty() && ours.iter().all(|(_, c)| c.starts_with("dropped:")), "only drops: {ours:?}");
}

/// The peer's user end has a smaller MTU: what it will refuse is captured as too big, and its
/// `rx_refused` counts the same frames.
fn frames_over_the_peers_mtu_are_captured_as_too_big(mode: &str) {
    let p = up_pair(mode, &[]);
    p.b.set_mtu("feth1", 1000);
    let path = std::env::temp_dir().join(format!("feth-capture-{}-{mode}-mtu.pcapng", std::process::id()));
    let path = path.to_str().unwrap().to_owned();
    let mut capture = Running::capture(&["capture", "feth0", "-w", &path], r#""capture_mtu": 1000"#);
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let src = mac(&p.a, "feth0");
    let before = counters("feth1")["drops"]["rx_refused"]["packets"].as_u64().unwrap();
    // 1018 bytes fit (MTU plus the Ethernet header and a VLAN tag's room); 1019 do not.
    let lens = [500usize, 1018, 1019, 1400, 1500];
    for (seq, len) in lens.iter().enumerate() {
        tx.send(&test_frame(src, *len, seq as u32));
    }
    assert!(
        wait_until(WAIT, || counters("feth1")["drops"]["rx_refused"]["packets"].as_u64().unwrap() == before + 3),
        "feth1 refused the three long frames: {}",
        counters("feth1")
    );
    let _ = capture.stop();
    let records = read_with_tshark(&path);
    let _ = std::fs::remove_file(&path);
    let said: Vec<(usize, &str)> =
        records.iter().filter(|(b, _)| b.len() >= 18 && b[6..12] == src).map(|(b, c)| (b.len(), c.as_str())).collect();
    assert_eq!(
        said,
        [
            (500, "crossed"),
            (1018, "crossed"),
            (1019, "dropped: too_big"),
            (1400, "dropped: too_big"),
            (1500, "dropped: too_big")
        ],
        "each frame with its fate"
    );
}

/// What feth0 sends while `flap` holds its link down never reaches a crossover program (its
/// own veth refuses it); the capture's egress program on the user end sees it (TCX kernels).
#[test]
fn frames_sent_while_the_link_is_down_are_captured() {
    if !feth_tests::kernel_at_least(6, 6) {
        eprintln!("NOTE: this kernel has no TCX: capture does not see link-down frames here (README, Limitations)");
        return;
    }
    let _w = world();
    let p = up_pair("xdp", &[]);
    let path = std::env::temp_dir().join(format!("feth-capture-{}-linkdown.pcapng", std::process::id()));
    let path = path.to_str().unwrap().to_owned();
    let mut capture = Running::capture(&["capture", "feth0", "-w", &path], r#""capture": [1-9]"#);
    let mut flap = Running::start(&["flap", "feth0", "--down", "30s", "--up", "1s"]);
    assert!(wait_until(WAIT, || !feth_tests::pair::carrier(&p.a, "feth0")), "link down");
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let src = mac(&p.a, "feth0");
    for seq in 0..5 {
        tx.try_send(&test_frame(src, 200, seq));
    }
    assert!(
        wait_until(WAIT, || counters("feth0")["drops"]["tx_link_down"].as_u64().unwrap() == 5),
        "five frames counted as tx_link_down"
    );
    let _ = flap.stop();
    let _ = capture.stop();
    let records = read_with_tshark(&path);
    let _ = std::fs::remove_file(&path);
    let ours: Vec<&str> =
        records.iter().filter(|(b, _)| b.len() >= 18 && b[6..12] == src).map(|(_, c)| c.as_str()).collect();
    assert_eq!(ours, ["dropped: link_down"; 5], "each frame sent while down, with why");
}

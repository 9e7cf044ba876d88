//! TC mode's one hop (`bpf_redirect_peer`, where the kernel counts what it delivers: 6.7):
//! frames go from the sender's wire end straight into the peer's user end, skipping the peer's
//! wire end, and every one stays counted; what the receiving veth would judge (a frame over its
//! MTU, a frame for another address) still goes through it. Before 6.7 TC mode keeps two hops.
use feth_tests::{
    frames::{PacketSocket, seq_of, test_frame},
    loader::{ok, show_json},
    pair::{ABSENCE, Pair, WAIT, assert_crosses_len, crossed_or_counted, mac, port, send_one, up_pair},
    wait_until,
};

fn one_hop_here() -> bool {
    feth_tests::kernel_at_least(6, 7)
}

/// Frames the wire end of `name` has sent: what reached `name` through its veth (two hops).
fn through_wire(name: &str) -> u64 {
    let show = show_json();
    let wire = port(&show, name)["wire"].as_str().expect("a wire end").to_owned();
    feth_tests::world::current_net().link(&wire).expect("the wire end").tx_packets
}

/// The invariant feth0 -> feth1 at rest, in packets and in bytes.
fn all_counted() -> bool {
    let show = show_json();
    let (a, b) = (&port(&show, "feth0")["counters"], &port(&show, "feth1")["counters"]);
    crossed_or_counted(a, b, "packets") && crossed_or_counted(a, b, "bytes")
}

/// A unicast frame from feth0 to `dest`, seen (or not) on feth1.
fn send_to(p: &Pair, dest: [u8; 6], len: usize, seq: u32) -> Option<Vec<u8>> {
    let rx = p.b.run(|| PacketSocket::open("feth1"));
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let mut frame = test_frame(mac(&p.a, "feth0"), len, seq);
    frame[..6].copy_from_slice(&dest);
    tx.send(&frame);
    std::iter::from_fn(|| rx.recv(WAIT)).find(|f| seq_of(f) == seq)
}

#[test]
fn tc_mode_crosses_in_one_hop_where_the_kernel_counts_it() {
    let _w = feth_tests::world();
    let p = up_pair("tc", &[]);
    let show = show_json();
    let hops = if one_hop_here() { 1 } else { 2 };
    assert_eq!(port(&show, "feth0")["hops"], hops, "{show:#}");
    assert_eq!(port(&show, "feth1")["hops"], hops, "{show:#}");
    let before = through_wire("feth1");
    // Group frames (the test frames are broadcast) and unicast to feth1's own address.
    for seq in 1..=10 {
        assert_crosses_len(&p.a, "feth0", &p.b, "feth1", 1514, seq);
    }
    let got = send_to(&p, mac(&p.b, "feth1"), 1000, 11);
    assert_eq!(got.map(|f| f.len()), Some(1000), "a unicast frame to feth1 crosses");
    // A veth with NAPI counts what it sent after the receiver has it: wait for the count.
    if one_hop_here() {
        assert_eq!(through_wire("feth1"), before, "no frame went through feth1's wire end");
    } else {
        let all = wait_until(WAIT, || through_wire("feth1") >= before + 11);
        assert!(all, "every frame went through feth1's wire end: {}", through_wire("feth1") - before);
    }
    // A frame for another address goes through the veth, which judges it as it always has
    // (here: delivered, as a frame for another host).
    let before = through_wire("feth1");
    let got = send_to(&p, [0x02, 0, 0, 0, 0, 0x99], 100, 12);
    assert!(got.is_some(), "a frame for another address still reaches feth1's stack");
    assert!(wait_until(WAIT, || through_wire("feth1") > before), "through feth1's wire end");
    assert!(wait_until(WAIT, all_counted), "every frame delivered or counted: {:#}", show_json());
}

#[test]
fn one_hop_follows_the_receivers_mtu() {
    let _w = feth_tests::world();
    let p = up_pair("tc", &[]);
    let refused = |n: u64, bytes: u64| {
        wait_until(WAIT, || {
            let show = show_json();
            let r = &port(&show, "feth1")["counters"]["drops"]["rx_refused"];
            r["packets"] == n && r["bytes"] == bytes
        })
    };
    // Lowered behind feth's back: followed by the next changing command, or `repair`.
    p.b.set_mtu("feth1", 1000);
    let out = ok(&["repair"]);
    if one_hop_here() {
        assert!(out.contains("feth0: data path follows its peer's user end: one hop"), "{out}");
    }
    let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", 1514, 1, ABSENCE);
    assert!(got.is_none(), "a frame over feth1's MTU must not arrive");
    assert!(refused(1, 1514), "counted as refused: {:#}", show_json());
    assert_crosses_len(&p.a, "feth0", &p.b, "feth1", 1014, 2);
    // Raised and lowered with feth: the one hop follows at once.
    ok(&["up", "feth0", "feth1", "--mtu", "1500"]);
    assert_crosses_len(&p.a, "feth0", &p.b, "feth1", 1514, 3);
    ok(&["up", "feth0", "feth1", "--mtu", "1200"]);
    p.a.set_mtu("feth0", 1500);
    let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", 1514, 4, ABSENCE);
    assert!(got.is_none(), "a frame over feth1's new MTU must not arrive");
    assert!(refused(2, 2 * 1514), "counted as refused: {:#}", show_json());
    assert_crosses_len(&p.a, "feth0", &p.b, "feth1", 1214, 5);
    assert!(wait_until(WAIT, all_counted), "every frame delivered or counted: {:#}", show_json());
}

/// An XDP program on the receiver (here `sink`'s) would be passed by the one hop, so its
/// peer's frames go through the veth while it is there, and take the one hop again after.
#[test]
fn an_xdp_program_on_the_receiver_sees_every_frame() {
    let _w = feth_tests::world();
    if !feth_tests::kernel_at_least(5, 18) {
        return; // sink needs live frames (traffic.rs checks its refusal)
    }
    let p = up_pair("tc", &[]);
    let sink = feth_tests::loader::command()
        .args(["sink", "feth1", "--json", "--duration", "60s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sink");
    // Nothing below panics before the sink is stopped: a failed test leaves no sink behind.
    let attached = wait_until(WAIT, || {
        p.b.link("feth1").is_some_and(|l| l.xdp_prog.is_some()) && port(&show_json(), "feth0")["hops"] == 2
    });
    let out = feth_tests::loader::run(&["gen", "feth0", "--count", "1000", "--cpus", "0", "--json"]);
    // SAFETY: a signal to our own child, by its pid.
    unsafe { libc::kill(sink.id() as i32, libc::SIGINT) };
    let done = sink.wait_with_output().expect("sink ends");
    assert!(attached, "feth0 crosses in two hops while the sink runs: {:#}", show_json());
    assert!(out.status.success(), "gen: {}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&done.stdout).expect("sink --json");
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("gen --json");
    assert_eq!(report["received"], sent["delivered"], "the sink saw every delivered frame: {report} {sent}");
    let hops = if one_hop_here() { 1 } else { 2 };
    assert_eq!(port(&show_json(), "feth0")["hops"], hops, "back after the sink");
}

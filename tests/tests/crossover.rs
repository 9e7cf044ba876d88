//! End-to-end: real namespaces, real veth pairs, real frames through the pinned crossover.
//! Run as root (`cargo xtask test`).
use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::Path,
    time::Duration,
};

use feth_tests::{
    frames::{PacketSocket, seq_of, test_frame},
    loader::{Ports, fails, ok, show_json, show_state},
    netns::NetNs,
    serial, wait_until,
};

const WAIT: Duration = Duration::from_secs(5);
/// How long a frame that must not arrive is waited for.
const ABSENCE: Duration = Duration::from_millis(500);

/// Two namespaces with feth0 (in `a`) and feth1 (in `b`) peered by `up`.
/// Field order matters: the ports go down before the namespaces are deleted.
struct Pair {
    _ports: Ports,
    a: NetNs,
    b: NetNs,
}

fn up_pair(extra: &[&str]) -> Pair {
    let ports = Ports::new(&["feth0", "feth1", "feth2"]);
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let mut args = vec!["up", "feth0", "feth1", "--netns-a", &a.name, "--netns-b", &b.name];
    args.extend_from_slice(extra);
    ok(&args);
    Pair { _ports: ports, a, b }
}

fn mac(ns: &NetNs, dev: &str) -> [u8; 6] {
    ns.link(dev).expect("link exists").mac.try_into().expect("6-byte MAC")
}

/// Sends one frame of `len` bytes from `from`/`from_dev` and returns what `to`/`to_dev`
/// received within `timeout` (compared by the caller).
fn send_one(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, len: usize, seq: u32, timeout: Duration) -> (Vec<u8>, Option<Vec<u8>>) {
    let rx = to.run(|| PacketSocket::open(to_dev));
    let tx = from.run(|| PacketSocket::open(from_dev));
    let frame = test_frame(mac(from, from_dev), len, seq);
    tx.send(&frame);
    let got = std::iter::from_fn(|| rx.recv(timeout)).find(|f| seq_of(f) == seq);
    (frame, got)
}

fn assert_crosses(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, seq: u32) {
    let (sent, got) = send_one(from, from_dev, to, to_dev, 200, seq, WAIT);
    assert_eq!(got.as_deref(), Some(sent.as_slice()), "{from_dev} -> {to_dev}: frame not received byte-identical");
}

fn assert_blocked(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, seq: u32) {
    let (_, got) = send_one(from, from_dev, to, to_dev, 200, seq, ABSENCE);
    assert!(got.is_none(), "{from_dev} -> {to_dev}: frame crossed although it must not");
}

fn carrier(ns: &NetNs, dev: &str) -> bool {
    ns.link(dev).expect("link exists").carrier
}

fn port<'a>(show: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    show.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name} not in show"))
}

#[test]
fn frames_cross_byte_identical_both_ways() {
    let _s = serial();
    let p = up_pair(&[]);
    // The `up` process has exited: what crosses now crosses through pinned objects only.
    assert!(wait_until(WAIT, || carrier(&p.a, "feth0") && carrier(&p.b, "feth1")), "carrier up after up");
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 1);
    assert_crosses(&p.b, "feth1", &p.a, "feth0", 2);
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 3);
}

#[test]
fn frames_do_not_cross_while_unpeered() {
    let _s = serial();
    let p = up_pair(&[]);
    ok(&["unpeer", "feth0"]);
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 10);
    assert_blocked(&p.b, "feth1", &p.a, "feth0", 11);
    ok(&["peer", "feth0", "feth1"]);
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 12);
}

#[test]
fn crossover_survives_loader_exit() {
    let _s = serial();
    let p = up_pair(&[]);
    // Every command is a process that has exited by now; the programs and links stay pinned.
    let pins = Path::new("/sys/fs/bpf/feth");
    assert!(pins.join("feth_xdp_wire").exists() && pins.join("links/fwire0").exists() && pins.join("links/fwire1").exists());
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 20);
    assert_crosses(&p.b, "feth1", &p.a, "feth0", 21);
}

/// FNV-1a: a content hash without extra crates.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// Sends `len` bytes over TCP from namespace `a` (198.18.0.1) to `b` (198.18.0.2) and checks
/// the content hash on arrival.
fn tcp_transfer(p: &Pair, len: usize) {
    p.a.addr("feth0", IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 24);
    p.b.addr("feth1", IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 24);
    let server: SocketAddr = "198.18.0.2:5201".parse().unwrap();
    let listener = p.b.run(|| TcpListener::bind(server).expect("bind in namespace b"));
    let data: Vec<u8> = (0..len as u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8).collect();
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut got = Vec::with_capacity(len);
        conn.read_to_end(&mut got).expect("read transfer");
        got
    });
    let mut client = p.a.run(|| TcpStream::connect_timeout(&server, WAIT).expect("connect across the crossover"));
    client.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
    client.write_all(&data).expect("write transfer");
    drop(client);
    let got = receiver.join().expect("receiver");
    assert_eq!(got.len(), data.len(), "transfer length");
    assert_eq!(fnv1a(&got), fnv1a(&data), "transfer content hash");
}

#[test]
fn tcp_transfer_10mb_intact() {
    let _s = serial();
    let p = up_pair(&[]);
    tcp_transfer(&p, 12 << 20);
}

#[test]
fn unpeer_drops_carrier_and_repeer_keeps_ifindex() {
    let _s = serial();
    let p = up_pair(&[]);
    let c = NetNs::new("c");
    ok(&["create", "feth2", "--netns", &c.name]);
    let ifindex0 = p.a.link("feth0").unwrap().index;
    let ifindex2 = c.link("feth2").unwrap().index;

    ok(&["unpeer", "feth0"]);
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0") && !carrier(&p.b, "feth1")), "both carriers down after unpeer");
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 30);

    ok(&["peer", "feth0", "feth2"]);
    // feth2 was created down; bring it up like a user would.
    c.set_up("feth2");
    assert!(wait_until(WAIT, || carrier(&p.a, "feth0") && carrier(&c, "feth2")), "carrier up after peer");
    assert!(!carrier(&p.b, "feth1"), "feth1 stays down");
    assert_crosses(&p.a, "feth0", &c, "feth2", 31);
    assert_crosses(&c, "feth2", &p.a, "feth0", 32);
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 33);
    assert_eq!(p.a.link("feth0").unwrap().index, ifindex0, "feth0 not re-created");
    assert_eq!(c.link("feth2").unwrap().index, ifindex2, "feth2 not re-created");
    ok(&["destroy", "feth2"]);
}

#[test]
fn destroy_one_side_leaves_the_other_unpeered() {
    let _s = serial();
    let p = up_pair(&[]);
    ok(&["destroy", "feth1"]);
    assert!(p.b.link("feth1").is_none(), "feth1 is gone");
    let feth0 = p.a.link("feth0").expect("feth0 still exists");
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0")), "feth0 carrier down");
    let show = show_json();
    assert_eq!(port(&show, "feth0")["peer"], serde_json::Value::Null);
    assert_eq!(port(&show, "feth0")["link"], "down");
    assert_eq!(port(&show, "feth0")["ifindex"], feth0.index);
}

#[test]
fn up_is_idempotent_and_busy_changes_nothing() {
    let _s = serial();
    let p = up_pair(&[]);
    let before = show_state();
    ok(&["up", "feth0", "feth1", "--netns-a", &p.a.name, "--netns-b", &p.b.name]);
    ok(&["up", "feth0", "feth1"]);
    assert_eq!(show_state(), before, "second up changed state");

    let err = fails(&["up", "feth0", "feth2"]);
    assert!(err.contains("feth0") && err.contains("busy"), "busy error names feth0: {err}");
    assert_eq!(show_state(), before, "refused up changed state");
    let err = fails(&["peer", "feth2", "feth1"]);
    assert!(err.contains("no such interface"), "{err}");
    assert_eq!(show_state(), before);
}

#[test]
fn bad_peers_are_refused_without_change() {
    let _s = serial();
    let _p = up_pair(&[]);
    ok(&["unpeer", "feth0"]);
    let before = show_state();
    for (args, expect) in [
        (vec!["peer", "feth0", "lo"], "lo: invalid"),
        (vec!["peer", "feth0", "nosuchif9"], "nosuchif9: no such interface"),
        (vec!["peer", "feth0", "feth0"], "itself"),
        (vec!["up", "feth0", "feth0"], "itself"),
        (vec!["unpeer", "lo"], "lo: invalid"),
        (vec!["destroy", "lo"], "lo: invalid"),
        (vec!["create", "lo"], "lo: an interface with this name already exists"),
        (vec!["create", "feth9", "--mtu", "71"], "out of range"),
        (vec!["create", "feth9", "--mtu", "16371"], "out of range"),
    ] {
        let err = fails(&args);
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err:?}");
        assert_eq!(show_state(), before, "{args:?} changed state");
    }
}

#[test]
fn long_names_are_refused_before_anything_is_created() {
    let _s = serial();
    let a = NetNs::new("a");
    let long = "feth0123456789ab"; // 16 bytes
    let err = fails(&["up", long, "feth1", "--netns-a", &a.name]);
    assert!(err.contains("longer than 15 bytes"), "{err}");
    let err = fails(&["up", "feth1", long]);
    assert!(err.contains("longer than 15 bytes"), "{err}");
    assert!(fails(&["create", "feth1", long]).contains("longer than 15 bytes"));
    assert_eq!(show_json(), serde_json::json!([]), "nothing was created");
    assert!(!Path::new("/sys/fs/bpf/feth").exists(), "nothing pinned");
}

#[test]
fn down_of_last_interface_leaves_nothing() {
    let _s = serial();
    let p = up_pair(&[]);
    ok(&["down", "feth0", "feth1"]);
    assert!(!Path::new("/sys/fs/bpf/feth").exists(), "pin directory removed");
    let links = feth_tests::netns::link_names_here();
    assert!(!links.iter().any(|l| l.starts_with("fwire")), "a wire end is left: {links:?}");
    let programs: Vec<String> = aya::programs::loaded_programs()
        .filter_map(|p| p.ok()?.name_as_str().map(str::to_owned))
        .collect();
    assert!(!programs.iter().any(|n| n.starts_with("feth_xdp")), "a feth program is still loaded: {programs:?}");
    assert!(p.a.link("feth0").is_none() && p.b.link("feth1").is_none());
    assert_eq!(show_json(), serde_json::json!([]));
}

#[test]
fn deleting_one_side_behind_our_back_unpeers_the_other() {
    let _s = serial();
    let p = up_pair(&[]);
    p.b.delete("feth1");
    let show = show_json();
    assert_eq!(port(&show, "feth0")["peer"], serde_json::Value::Null);
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0")), "feth0 carrier down");
}

#[test]
fn mac_follows_feth_unit_number() {
    let _s = serial();
    let ns = NetNs::new("m");
    let _ports = Ports::new(&["feth3", "feth258"]);
    ok(&["create", "feth3", "feth258", "--netns", &ns.name]);
    assert_eq!(ns.link("feth3").unwrap().mac, vec![0x66, 0x65, 0x74, 0x68, 0x00, 0x03]);
    assert_eq!(ns.link("feth258").unwrap().mac, vec![0x66, 0x65, 0x74, 0x68, 0x01, 0x02]);
    let show = show_json();
    assert_eq!(port(&show, "feth3")["mac"], "66:65:74:68:00:03");
    assert_eq!(port(&show, "feth258")["mac"], "66:65:74:68:01:02");
}

#[test]
fn show_reports_offloads_changed_for_xdp() {
    let _s = serial();
    let _p = up_pair(&[]);
    let show = show_json();
    let feth0 = port(&show, "feth0");
    assert_eq!(feth0["mode"], "xdp");
    assert_eq!(feth0["offloads"]["tx_checksum"], false);
    assert!(feth0["changed"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("tx-checksumming off")));
}

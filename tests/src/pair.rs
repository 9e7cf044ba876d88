//! A peered pair in two fresh namespaces, and the frame checks every suite uses.
use std::{
    io::{Read as _, Write as _},
    net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    time::Duration,
};

use crate::{
    frames::{PacketSocket, seq_of, test_frame},
    loader::{Ports, ok},
    netns::NetNs,
};

pub const WAIT: Duration = Duration::from_secs(5);
/// How long a frame that must not arrive is waited for.
pub const ABSENCE: Duration = Duration::from_millis(500);

/// Two namespaces with feth0 (in `a`) and feth1 (in `b`) peered by `up`.
/// Field order matters: the ports go down before the namespaces are deleted.
pub struct Pair {
    _ports: Ports,
    pub a: NetNs,
    pub b: NetNs,
}

/// `up feth0 feth1 --mode MODE` plus `extra` flags, each end in its own namespace.
pub fn up_pair(mode: &str, extra: &[&str]) -> Pair {
    let ports = Ports::new(&["feth0", "feth1", "feth2"]);
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let mut args = vec!["up", "feth0", "feth1", "--netns-a", &a.name, "--netns-b", &b.name, "--mode", mode];
    args.extend_from_slice(extra);
    ok(&args);
    Pair { _ports: ports, a, b }
}

impl Pair {
    /// A pair of namespaces whose `names` the test creates itself (destroyed on drop).
    pub fn adopt(names: &[&str], a: NetNs, b: NetNs) -> Pair {
        Pair { _ports: Ports::new(names), a, b }
    }
}

pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

pub fn mac(ns: &NetNs, dev: &str) -> [u8; 6] {
    ns.link(dev).expect("link exists").mac.try_into().expect("6-byte MAC")
}

pub fn carrier(ns: &NetNs, dev: &str) -> bool {
    ns.link(dev).expect("link exists").carrier
}

/// Sends one frame of `len` bytes from `from`/`from_dev` and returns it with what
/// `to`/`to_dev` received within `timeout`.
pub fn send_one(
    from: &NetNs,
    from_dev: &str,
    to: &NetNs,
    to_dev: &str,
    len: usize,
    seq: u32,
    timeout: Duration,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let rx = to.run(|| PacketSocket::open(to_dev));
    let tx = from.run(|| PacketSocket::open(from_dev));
    let frame = test_frame(mac(from, from_dev), len, seq);
    tx.send(&frame);
    let got = std::iter::from_fn(|| rx.recv(timeout)).find(|f| seq_of(f) == seq);
    (frame, got)
}

/// That a frame of `len` bytes crosses byte-identical. The frame is sent again each second
/// (up to WAIT) when it does not arrive: this checks that frames cross, while the counter
/// tests check that none is lost uncounted. A frame that had to be sent again says so on
/// stderr with what `stats` counted, so a loss shows in the log instead of failing a test that
/// is about something else (one was seen once in CI, under load, not since).
pub fn assert_crosses_len(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, len: usize, seq: u32) {
    const TRIES: u32 = 5;
    let rx = to.run(|| PacketSocket::open(to_dev));
    let tx = from.run(|| PacketSocket::open(from_dev));
    let sent = test_frame(mac(from, from_dev), len, seq);
    for attempt in 1..=TRIES {
        tx.send(&sent);
        if let Some(got) = std::iter::from_fn(|| rx.recv(WAIT / TRIES)).find(|f| seq_of(f) == seq) {
            assert!(got == sent, "{from_dev} -> {to_dev}: {len}-byte frame not byte-identical");
            return;
        }
        let stats = crate::loader::run(&["stats", from_dev, to_dev, "--json"]);
        eprintln!(
            "{from_dev} -> {to_dev}: {len}-byte frame {seq} not seen (try {attempt} of {TRIES}); stats: {}",
            String::from_utf8_lossy(&stats.stdout).trim()
        );
    }
    panic!("{from_dev} -> {to_dev}: {len}-byte frame did not arrive in {TRIES} tries");
}

pub fn assert_crosses(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, seq: u32) {
    assert_crosses_len(from, from_dev, to, to_dev, 200, seq);
}

pub fn assert_blocked(from: &NetNs, from_dev: &str, to: &NetNs, to_dev: &str, seq: u32) {
    let (_, got) = send_one(from, from_dev, to, to_dev, 200, seq, ABSENCE);
    assert!(got.is_none(), "{from_dev} -> {to_dev}: frame crossed although it must not");
}

/// FNV-1a: a content hash without extra crates.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3))
}

/// Sends `len` bytes over TCP from namespace `a` (198.18.0.1) to `b` (198.18.0.2) and checks
/// the content hash on arrival.
pub fn tcp_transfer(p: &Pair, len: usize) {
    p.a.addr("feth0", IpAddr::V4(Ipv4Addr::new(198, 18, 0, 1)), 24);
    p.b.addr("feth1", IpAddr::V4(Ipv4Addr::new(198, 18, 0, 2)), 24);
    tcp_transfer_between(&p.a, &p.b, "198.18.0.2:5201".parse().unwrap(), len);
}

/// Sends `len` bytes over TCP from namespace `a` to `server` in namespace `b` (addresses
/// already set) and checks the content hash on arrival.
pub fn tcp_transfer_between(a: &NetNs, b: &NetNs, server: SocketAddr, len: usize) {
    let listener = b.run(|| TcpListener::bind(server).expect("bind in namespace b"));
    let data: Vec<u8> = (0..len as u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8).collect();
    let expected = (data.len(), fnv1a(&data));
    let receiver = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(crate::scaled(Duration::from_secs(60)))).unwrap();
        let mut got = Vec::with_capacity(len);
        conn.read_to_end(&mut got).expect("read transfer");
        (got.len(), fnv1a(&got))
    });
    let mut client =
        a.run(|| TcpStream::connect_timeout(&server, crate::scaled(WAIT)).expect("connect across the crossover"));
    client.set_write_timeout(Some(crate::scaled(Duration::from_secs(60)))).unwrap();
    client.write_all(&data).expect("write transfer");
    drop(client);
    assert_eq!(receiver.join().expect("receiver"), expected, "transfer length and content hash");
}

/// A port of `show --json` by name.
pub fn port<'a>(show: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    show.as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name} not in show"))
}

/// Runs each listed `fn name(mode: &str)` as three tests, `xdp::name`, `tc::name` and
/// `netkit::name` (where the kernel has netkit; elsewhere its refusal is checked instead),
/// each in a world of its own.
#[macro_export]
macro_rules! both_modes {
    ($($name:ident),* $(,)?) => {
        mod xdp {
            $( #[test] fn $name() {
                let _w = $crate::world();
                super::$name("xdp")
            } )*
        }
        mod tc {
            $( #[test] fn $name() { let _w = $crate::world(); super::$name("tc") } )*
        }
        mod netkit {
            $( #[test] fn $name() {
                let _w = $crate::world();
                if $crate::netkit_here() {
                    super::$name("netkit")
                }
            } )*
        }
    };
}

/// The invariant at rest for A -> B, in `field` ("packets" or "bytes"): what A sent into the
/// crossover (plus its duplicates) was delivered to B or counted under a drop reason.
pub fn crossed_or_counted(a: &serde_json::Value, b: &serde_json::Value, field: &str) -> bool {
    let n = |v: &serde_json::Value| v[field].as_u64().unwrap();
    let a_drops: u64 = ["tx_no_peer", "tx_redirect_error", "tx_loss", "tx_loss_every"]
        .iter()
        .map(|reason| n(&a["drops"][*reason]))
        .sum();
    n(&a["tx"]) + n(&a["duplicated"]) == n(&b["rx"]) + a_drops + n(&b["drops"]["rx_refused"])
}

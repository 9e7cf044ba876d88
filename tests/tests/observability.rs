//! What users watch: exact counters per protocol and direction, the invariant at rest,
//! Prometheus exposition, live link events, and names in `bpftool map dump`.
use std::{
    io::{BufRead as _, BufReader},
    process::Stdio,
    sync::mpsc,
};

use feth_tests::{
    both_modes,
    frames::PacketSocket,
    loader::{self, counters, ok, show_json},
    netns::NetNs,
    pair::{ABSENCE, WAIT, mac, port, send_one, up_pair},
    wait_until, world,
};

both_modes!(protocol_counters_are_exact_per_direction, invariant_holds_with_unpeered_and_oversized_frames);

const OTHER_HOST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];

fn eth(src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = OTHER_HOST.to_vec();
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f.resize(f.len().max(60), 0);
    f
}

fn ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 198, 18, 0, 1, 198, 18, 0, 2];
    h[2..4].copy_from_slice(&total.to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn ipv6(next: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[next, 64]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    h.extend_from_slice(l4);
    h
}

/// Frames of each kind, as (kind, frame).
fn frames(src: [u8; 6]) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "arp",
            eth(
                src,
                0x0806,
                &[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 198, 18, 0, 9],
            ),
        ),
        ("udp", eth(src, 0x0800, &ipv4(17, &[0x30, 0x39, 0x30, 0x39, 0, 12, 0, 0, b'f', b'e', b't', b'h']))),
        (
            "tcp",
            eth(
                src,
                0x0800,
                &ipv4(6, &[0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0]),
            ),
        ),
        ("icmpv6", eth(src, 0x86dd, &ipv6(58, &[128, 0, 0, 0, 0, 1, 0, 1]))),
        ("raw", eth(src, 0x88b5, b"feth raw frame")),
    ]
}

/// Bytes of the frames `send_mix` sends for `counts`.
fn mix_bytes(counts: &[(&str, u64)]) -> u64 {
    frames([0; 6])
        .iter()
        .map(|(kind, frame)| counts.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| n * frame.len() as u64))
        .sum()
}

/// Sends `counts[kind]` frames of each kind from `ns`/`dev`.
fn send_mix(ns: &NetNs, dev: &str, counts: &[(&str, u64)]) -> u64 {
    let tx = ns.run(|| PacketSocket::open_all(dev));
    let mut total = 0;
    for (kind, frame) in frames(mac(ns, dev)) {
        let n = counts.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n);
        for _ in 0..n {
            tx.send(&frame);
        }
        total += n;
    }
    total
}

fn protocol_counters_are_exact_per_direction(mode: &str) {
    let p = up_pair(mode, &[]);
    let a_to_b = [("arp", 3), ("udp", 5), ("tcp", 4), ("icmpv6", 2), ("raw", 6)];
    let b_to_a = [("arp", 1), ("udp", 2), ("tcp", 7), ("icmpv6", 3), ("raw", 1)];
    let sent_a = send_mix(&p.a, "feth0", &a_to_b);
    let sent_b = send_mix(&p.b, "feth1", &b_to_a);
    assert!(
        wait_until(WAIT, || counters("feth1")["rx"]["packets"] == sent_a
            && counters("feth0")["rx"]["packets"] == sent_b),
        "all frames delivered: feth0 {:#} feth1 {:#}",
        counters("feth0"),
        counters("feth1")
    );
    for (name, peer, mix, sent) in [("feth0", "feth1", a_to_b, sent_a), ("feth1", "feth0", b_to_a, sent_b)] {
        let c = counters(name);
        assert_eq!(c["tx"]["bytes"], mix_bytes(&mix), "{name} tx bytes");
        assert_eq!(counters(peer)["rx"]["bytes"], mix_bytes(&mix), "{peer} rx bytes");
        assert_eq!(counters(peer)["rx"]["packets"], sent, "{peer} rx packets");
        let n = |k: &str| mix.iter().find(|(kind, _)| *kind == k).unwrap().1;
        let expect = serde_json::json!({
            "arp": n("arp"),
            "ipv4": n("udp") + n("tcp"),
            "ipv6": n("icmpv6"),
            "other": n("raw"),
            "tcp": n("tcp"),
            "udp": n("udp"),
            "icmp": 0,
            "icmpv6": n("icmpv6"),
        });
        assert_eq!(c["tx_protocols"], expect, "{name} protocol counters");
        assert_eq!(c["tx"]["packets"], sent, "{name} tx packets");
        let none = serde_json::json!({"packets": 0, "bytes": 0});
        assert_eq!(
            c["drops"],
            serde_json::json!({
                "tx_refused": 0,
                "tx_link_down": 0,
                "tx_no_peer": none,
                "tx_redirect_error": none,
                "rx_refused": none,
                "tx_loss": none,
                "tx_loss_every": none,
                "tx_rate": 0,
            })
        );
    }
}

fn invariant_holds_with_unpeered_and_oversized_frames(mode: &str) {
    let p = up_pair(mode, &[]);
    let crossed = send_mix(&p.a, "feth0", &[("raw", 10), ("udp", 2)]);
    assert!(wait_until(WAIT, || counters("feth1")["rx"]["packets"] == crossed));

    ok(&["unpeer", "feth0"]);
    let while_down = send_mix(&p.a, "feth0", &[("raw", 4)]);
    ok(&["peer", "feth0", "feth1"]);

    // A page: what a sender may have on every kernel in either mode (before 5.18 the kernel
    // refuses more under a single-buffer XDP program), well over feth1's 1500.
    const BIG: u32 = 3504;
    p.a.set_mtu("feth0", BIG);
    let oversized = 3;
    for seq in 0..oversized {
        let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", BIG as usize + 14, 100 + seq, ABSENCE);
        assert!(got.is_none(), "oversized frame must not arrive");
    }
    let at_rest = wait_until(WAIT, || {
        let (a, b) = (counters("feth0"), counters("feth1"));
        feth_tests::pair::crossed_or_counted(&a, &b, "packets")
            && feth_tests::pair::crossed_or_counted(&a, &b, "bytes")
            && a["tx"]["packets"] == crossed + u64::from(oversized)
    });
    let (a, b) = (counters("feth0"), counters("feth1"));
    assert!(at_rest, "invariant at rest: feth0 {a:#} feth1 {b:#}");
    assert_eq!(b["rx"]["packets"], crossed);
    // Linux 6.1 drops frames sent on a carrier-less veth in the qdisc layer, before the veth
    // counts them; later kernels count them as the user end's tx_dropped.
    let counted_by_kernel = feth_tests::kernel_at_least(6, 6);
    assert_eq!(a["drops"]["tx_refused"], if counted_by_kernel { while_down } else { 0 });
    assert_eq!(b["drops"]["rx_refused"]["packets"], oversized);
    assert_eq!(b["drops"]["rx_refused"]["bytes"], u64::from(oversized) * u64::from(BIG + 14), "refused bytes");
}

#[test]
fn stats_watch_prints_rates_per_interval() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    let sender = {
        let tx = p.a.run(|| PacketSocket::open_all("feth0"));
        let frame = frames(mac(&p.a, "feth0")).pop().unwrap().1;
        std::thread::spawn(move || {
            for _ in 0..4000 {
                tx.send(&frame);
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let out = ok(&["stats", "feth0", "--watch", "--interval", "0.3", "--count", "2", "--json"]);
    sender.join().unwrap();
    let samples: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str(l).expect("one JSON array per interval")).collect();
    assert_eq!(samples.len(), 2, "{out}");
    for s in &samples {
        let rate = &s[0];
        assert_eq!(rate["name"], "feth0");
        assert!(rate["tx_pps"].as_f64().unwrap() > 0.0, "frames were flowing: {rate}");
        assert!(rate["tx_bps"].as_f64().unwrap() >= 8.0 * 60.0 * rate["tx_pps"].as_f64().unwrap() * 0.99, "{rate}");
    }
}

#[test]
fn prometheus_output_parses() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    let sent = send_mix(&p.a, "feth0", &[("raw", 5), ("arp", 2)]);
    assert!(wait_until(WAIT, || counters("feth1")["rx"]["packets"] == sent));
    let text = ok(&["stats", "--format", "prometheus"]);
    let scrape =
        prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).expect("valid exposition format");
    let value = |metric: &str, iface: &str, extra: Option<(&str, &str)>| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == metric
                    && s.labels.get("device") == Some(iface)
                    && extra.is_none_or(|(k, v)| s.labels.get(k) == Some(v))
            })
            .unwrap_or_else(|| panic!("{metric}{{device={iface}}} missing"));
        match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{metric}: unexpected value {other:?}"),
        }
    };
    assert_eq!(value("feth_transmit_packets_total", "feth0", None), sent as f64);
    assert_eq!(value("feth_receive_packets_total", "feth1", None), sent as f64);
    assert_eq!(value("feth_transmit_protocol_packets_total", "feth0", Some(("protocol", "arp"))), 2.0);
    assert_eq!(value("feth_dropped_packets_total", "feth0", Some(("reason", "tx_refused"))), 0.0);
    assert_eq!(value("feth_carrier", "feth1", None), 1.0);
    assert_eq!(value("feth_up", "feth1", None), 1.0);
    assert_eq!(value("feth_peer_info", "feth0", Some(("peer", "feth1"))), 1.0);
    assert_eq!(value("feth_peer_info", "feth1", Some(("mode", "xdp"))), 1.0);
    // OpenMetrics: a counter family is documented under its name without `_total`.
    for family in ["feth_transmit_packets", "feth_carrier", "feth_peer"] {
        assert!(scrape.docs.contains_key(family), "{family} has HELP");
    }
    assert_eq!(text.lines().last(), Some("# EOF"), "a complete exposition");
}

/// A running `feth-loader` command that streams lines (`monitor`, `log follow`), killed (by
/// its own pid) on drop so a failed assertion leaves no process behind.
struct Streaming {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    /// Starts `args` and waits until the command says `ready_word` on stderr.
    fn start(args: &[&str], ready_word: &str) -> Streaming {
        let mut child = loader::command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start feth-loader");
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut ready = String::new();
        stderr.read_line(&mut ready).expect("the command says it is ready");
        assert!(ready.contains(ready_word), "{args:?}: {ready}");
        let (tx, lines) = mpsc::channel();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        std::thread::spawn(move || stdout.lines().map_while(Result::ok).for_each(|l| drop(tx.send(l))));
        Streaming { child, lines }
    }

    /// Collects monitor events until `n` arrived for `iface` (or a timeout).
    fn events_of(&self, seen: &mut Vec<serde_json::Value>, iface: &str, n: usize) -> Vec<String> {
        let mine = |seen: &Vec<serde_json::Value>| seen.iter().filter(|e| e["interface"] == iface).count();
        while mine(seen) < n {
            match self.lines.recv_timeout(feth_tests::scaled(WAIT)) {
                Ok(line) => seen.push(serde_json::from_str(&line).expect("monitor line is JSON")),
                Err(_) => break,
            }
        }
        seen.iter().filter(|e| e["interface"] == iface).map(describe).collect()
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn describe(e: &serde_json::Value) -> String {
    match e["event"].as_str().unwrap() {
        "peered" => format!("peered {}", e["peer"].as_str().unwrap_or("?")),
        "carrier" => format!("carrier {}", if e["up"] == true { "up" } else { "down" }),
        other => other.to_owned(),
    }
}

#[test]
fn monitor_streams_peer_unpeer_peer_destroy() {
    let _w = world();
    let _ports = feth_tests::loader::Ports::new(&["feth0", "feth1"]);
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    ok(&["create", "feth0", "--netns", &a.name]);
    ok(&["create", "feth1", "--netns", &b.name]);
    a.set_up("feth0");
    b.set_up("feth1");
    let monitor = Streaming::start(&["monitor", "--json"], "monitoring");
    ok(&["peer", "feth0", "feth1"]);
    ok(&["unpeer", "feth0"]);
    ok(&["peer", "feth0", "feth1"]);
    ok(&["destroy", "feth1"]);
    let mut seen = Vec::new();
    let feth1 = monitor.events_of(&mut seen, "feth1", 9);
    let feth0 = monitor.events_of(&mut seen, "feth0", 8);
    let cycle = |peer: &str| [format!("peered {peer}"), "carrier up".into(), "unpeered".into(), "carrier down".into()];
    let expect0: Vec<String> = [cycle("feth1"), cycle("feth1")].concat();
    let mut expect1: Vec<String> = [cycle("feth0"), cycle("feth0")].concat();
    expect1.push("destroyed".into());
    assert_eq!(feth0, expect0, "feth0 events");
    assert_eq!(feth1, expect1, "feth1 events");
}

#[test]
fn monitor_repairs_a_deletion_behind_our_back() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    let monitor = Streaming::start(&["monitor", "--json"], "monitoring");
    p.b.delete("feth1");
    let mut seen = Vec::new();
    // Deleting a veth closes it first: its wire end goes down, then away.
    let feth1 = monitor.events_of(&mut seen, "feth1", 3);
    assert_eq!(feth1, ["unpeered", "carrier down", "destroyed"], "feth1 events");
    let feth0 = monitor.events_of(&mut seen, "feth0", 2);
    assert_eq!(feth0, ["unpeered", "carrier down"], "the former peer is unpeered live");
    assert!(!feth_tests::pair::carrier(&p.a, "feth0"));
    assert_eq!(port(&show_json(), "feth0")["peer"], serde_json::Value::Null);
}

#[test]
fn bpftool_shows_counter_names() {
    let _w = world();
    let _p = up_pair("xdp", &[]);
    let out = feth_tests::world::command("bpftool")
        .args(["map", "dump", "pinned", &format!("{}/FETH_STATS", feth_tests::LAYOUT)])
        .output()
        .expect("bpftool");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let dump = String::from_utf8_lossy(&out.stdout);
    for field in ["tx_packets", "rx_crossed_bytes", "drop_no_peer", "tx_icmpv6"] {
        assert!(dump.contains(field), "bpftool dump names {field}");
    }
    let out = feth_tests::world::command("bpftool")
        .args(["map", "dump", "pinned", &format!("{}/FETH_PORTS", feth_tests::LAYOUT)])
        .output()
        .expect("bpftool");
    assert!(String::from_utf8_lossy(&out.stdout).contains("peer_slot"));
}

#[test]
fn debug_log_switches_at_runtime_and_streams() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    let follow = Streaming::start(&["log", "follow"], "following");
    let lines = &follow.lines;

    // Off (the default): frames cross without a line.
    send_mix(&p.a, "feth0", &[("raw", 3)]);
    assert!(lines.recv_timeout(feth_tests::scaled(ABSENCE)).is_err(), "no log while the switch is off");

    ok(&["log", "on"]);
    send_mix(&p.a, "feth0", &[("raw", 3)]);
    let line = lines.recv_timeout(feth_tests::scaled(WAIT)).expect("a log line per frame while on");
    assert!(line.contains("xdp slot") && line.contains("len 60"), "{line}");

    ok(&["log", "off"]);
    while lines.recv_timeout(feth_tests::scaled(ABSENCE)).is_ok() {}
    send_mix(&p.a, "feth0", &[("raw", 3)]);
    assert!(lines.recv_timeout(feth_tests::scaled(ABSENCE)).is_err(), "no log after the switch is off again");
}

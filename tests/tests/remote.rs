//! Remote peers over VXLAN: two "hosts" on this machine, each a world of its own (its own
//! loader namespace and bpffs), joined by a veth underlay with 198.18.9.x addresses. On each,
//! feth0 (its user end in a namespace of its own) is peered to the other host's feth0.
use std::{net::IpAddr, process::Command};

use feth_tests::{
    frames::PacketSocket,
    loader::{fails, ok, show_json, show_state},
    netns::NetNs,
    pair::{ABSENCE, WAIT, assert_blocked, assert_crosses, carrier, tcp_transfer_between},
    wait_until,
    world::{Handles, World},
};

/// One host: its world (loader namespace, bpffs) and the namespace of its feth0's user end.
/// Field order matters: the user namespace goes before the world.
struct Host {
    user: NetNs,
    world: World,
    handles: Handles,
    underlay: &'static str,
    addr: &'static str,
}

impl Host {
    /// Makes this host the one the next `feth-loader` commands run on.
    fn on(&self) -> &Self {
        World::enter_thread(self.handles.clone());
        self
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        World::enter_thread(self.handles.clone());
        let _ = feth_tests::loader::command().args(["down", "feth0", "feth9"]).output();
    }
}

/// Two hosts joined by an underlay: `ul0` 198.18.9.1 on A, `ul1` 198.18.9.2 on B.
fn two_hosts() -> (Host, Host) {
    two_hosts_over(false, 1500)
}

/// Two hosts joined by an underlay of `mtu` bytes: over IPv6 (`2001:db8:9::1` and `::2`, no
/// duplicate address detection, so the addresses are usable at once) or IPv4 (198.18.9.x).
fn two_hosts_over(ipv6: bool, mtu: u32) -> (Host, Host) {
    let (wa, wb) = (World::new(), World::new());
    let status = Command::new("ip")
        .args(["link", "add", "ul0", "netns", &wa.net.name, "type", "veth", "peer", "name", "ul1", "netns"])
        .arg(&wb.net.name)
        .status()
        .expect("run ip");
    assert!(status.success(), "create the underlay");
    let addrs = if ipv6 { ["2001:db8:9::1", "2001:db8:9::2"] } else { ["198.18.9.1", "198.18.9.2"] };
    for (w, dev, addr) in [(&wa, "ul0", addrs[0]), (&wb, "ul1", addrs[1])] {
        w.net.set_mtu(dev, mtu);
        if ipv6 {
            // The test namespaces start without IPv6 (quiet counters); the underlay needs it.
            w.net.run(|| std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "0").unwrap());
            let added = Command::new("ip")
                .args(["-n", &w.net.name, "addr", "add", &format!("{addr}/64"), "dev", dev, "nodad"])
                .status();
            assert!(added.is_ok_and(|s| s.success()), "add {addr}");
        } else {
            w.net.addr(dev, addr.parse().unwrap(), 24);
        }
        w.net.set_up(dev);
    }
    let host = |world: World, underlay, addr, tag| {
        let handles = world.handles();
        Host { user: NetNs::new(tag), world, handles, underlay, addr }
    };
    (host(wa, "ul0", addrs[0], "ua"), host(wb, "ul1", addrs[1], "ub"))
}

/// `create feth0` on `h`, in its user namespace.
fn create(h: &Host) {
    h.on();
    ok(&["create", "feth0", "--netns", &h.user.name]);
    h.user.set_up("feth0");
}

/// Peers `h`'s feth0 with the other host's, over the underlay.
fn peer_remote(h: &Host, other: &Host, vni: &str) {
    h.on();
    ok(&["peer", "feth0", "--remote", other.addr, "--vni", vni, "--dev", h.underlay]);
}

fn show(h: &Host) -> serde_json::Value {
    h.on();
    show_json()[0].clone()
}

fn n(v: &serde_json::Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or_else(|| panic!("{path:?} in {v}"))
}

/// At rest, for what `a` sent to `b`: every frame `a` sent was handed to its tunnel end or
/// counted; the tunnel end sent it or counted it refused; what arrived at `b`'s tunnel end
/// was sent by `a`'s (a lossless underlay) and was delivered to `b`'s user end or refused.
fn accounted(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    let (ca, cb, ra, rb) = (&a["counters"], &b["counters"], &a["remote"], &b["remote"]);
    let drops = ["tx_no_peer", "tx_redirect_error", "tx_loss", "tx_loss_every"]
        .iter()
        .map(|d| n(ca, &["drops", d, "packets"]))
        .sum::<u64>();
    n(ca, &["tx", "packets"]) + n(ca, &["duplicated", "packets"]) == n(ra, &["handed", "packets"]) + drops
        && n(ra, &["handed", "packets"]) == n(ra, &["sent", "packets"]) + n(ra, &["refused"])
        && n(ra, &["sent", "packets"]) == n(rb, &["received", "packets"])
        && n(rb, &["received", "packets"]) == n(cb, &["rx", "packets"]) + n(cb, &["drops", "rx_refused", "packets"])
        && n(rb, &["received", "bytes"]) == n(cb, &["rx", "bytes"]) + n(cb, &["drops", "rx_refused", "bytes"])
}

/// The VNI of a VXLAN packet on the underlay (Ethernet, IPv4 without options, UDP to `port`).
fn vni_of(frame: &[u8], port: u16) -> Option<u32> {
    let udp = 14 + 20;
    let is_udp = frame.get(12..14)? == [0x08, 0x00] && frame.get(23)? == &17;
    let dst = u16::from_be_bytes(frame.get(udp + 2..udp + 4)?.try_into().ok()?);
    let vxlan = frame.get(udp + 8..udp + 16)?;
    (is_udp && dst == port && vxlan[0] & 0x08 != 0).then(|| u32::from_be_bytes([0, vxlan[4], vxlan[5], vxlan[6]]))
}

#[test]
fn remote_peers_cross_over_vxlan() {
    let (a, b) = two_hosts();
    create(&a);
    create(&b);
    peer_remote(&a, &b, "100");
    peer_remote(&b, &a, "100");
    for h in [&a, &b] {
        assert!(wait_until(WAIT, || carrier(&h.user, "feth0")), "carrier on while peered remotely");
        let s = show(h);
        assert_eq!(s["link"], "up", "{s}");
        assert_eq!(s["remote"]["vni"], 100, "{s}");
        assert_eq!(s["remote"]["tunnel"], "fvx0", "{s}");
        // The underlay's 1500 bytes minus VXLAN's 50: the user end's MTU follows, and says why.
        assert_eq!(s["mtu"], 1450, "{s}");
        assert!(s["changed"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().contains("fvx0")), "{s}");
    }
    // Frames cross byte for byte, both ways, and the underlay carries them as UDP 4789, VNI 100.
    let underlay = b.world.net.run(|| PacketSocket::open_all(b.underlay));
    assert_crosses(&a.user, "feth0", &b.user, "feth0", 1);
    assert_crosses(&b.user, "feth0", &a.user, "feth0", 2);
    let vnis: Vec<u32> = std::iter::from_fn(|| underlay.recv(ABSENCE)).filter_map(|f| vni_of(&f, 4789)).collect();
    assert!(!vnis.is_empty() && vnis.iter().all(|v| *v == 100), "VXLAN on the underlay: {vnis:?}");
    // IP over it: ping answers, and a 20 MB TCP transfer arrives intact.
    a.user.addr("feth0", "198.18.10.1".parse::<IpAddr>().unwrap(), 24);
    b.user.addr("feth0", "198.18.10.2".parse::<IpAddr>().unwrap(), 24);
    let ping = Command::new("ip")
        .args(["netns", "exec", &a.user.name, "ping", "-c", "3", "-i", "0.2", "-W", "5", "198.18.10.2"])
        .output()
        .expect("run ping (iputils-ping, which cargo xtask test installs)");
    assert!(ping.status.success(), "ping over VXLAN: {}", String::from_utf8_lossy(&ping.stdout));
    tcp_transfer_between(&a.user, &b.user, "198.18.10.2:5201".parse().unwrap(), 20 << 20);
    // Every frame accounted for on both sides, both directions, once traffic is at rest.
    let mut last = None;
    let settled = wait_until(WAIT, || {
        let (sa, sb) = (show(&a), show(&b));
        let done = accounted(&sa, &sb) && accounted(&sb, &sa);
        last = Some((sa, sb));
        done
    });
    let (sa, sb) = last.unwrap();
    assert!(settled, "counters account for every frame:\nA {sa}\nB {sb}");
    assert!(n(&sa["counters"], &["tx", "bytes"]) > 20 << 20, "the transfer went through the crossover: {sa}");
    // Prometheus sees the remote peer and its VXLAN device's counters, the same as show.
    a.on();
    let metrics = ok(&["stats", "--format", "prometheus"]);
    assert!(
        metrics.contains(r#"feth_remote_info{device="feth0",remote="198.18.9.2",vni="100",tunnel="fvx0"} 1"#),
        "{metrics}"
    );
    let sample = r#"feth_remote_packets_total{device="feth0",direction="sent"} "#;
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("{sample} in {metrics}"));
    // At least what show counted a moment before (an ARP refresh may have crossed since).
    assert!(sent >= n(&sa["remote"], &["sent", "packets"]), "{metrics}");
    // B's pins lost (a bpffs remount): the repair reloads the programs and re-attaches the
    // VXLAN device too, so what arrives from A still crosses (and B's replies return).
    b.on();
    assert!(feth_tests::world::sh(&format!("rm -rf {}", feth_tests::LAYOUT)), "remove B's pins");
    ok(&["repair"]);
    let received = |h: &Host| n(&show(h)["remote"], &["received", "packets"]);
    let before = received(&b);
    assert_crosses(&a.user, "feth0", &b.user, "feth0", 10);
    assert_crosses(&b.user, "feth0", &a.user, "feth0", 11);
    assert!(received(&b) > before, "B's VXLAN device counts in the new maps");
    // Unpeering one side stops the traffic and removes its VXLAN device.
    b.on();
    ok(&["unpeer", "feth0"]);
    assert!(b.world.net.link("fvx0").is_none(), "B's VXLAN device is gone");
    assert!(wait_until(WAIT, || !carrier(&b.user, "feth0")), "B's carrier off");
    assert_eq!(show(&b)["mtu"], 1500, "unpeer puts back the MTU feth lowered for the tunnel");
    assert_blocked(&a.user, "feth0", &b.user, "feth0", 3);
    // A wrong VNI isolates.
    peer_remote(&b, &a, "101");
    assert_eq!(show(&b)["mtu"], 1450);
    assert_blocked(&a.user, "feth0", &b.user, "feth0", 4);
    assert_blocked(&b.user, "feth0", &a.user, "feth0", 5);
    // The right one again crosses. An MTU someone set in between stays after unpeer.
    b.user.set_mtu("feth0", 1400);
    b.on();
    ok(&["unpeer", "feth0"]);
    assert_eq!(show(&b)["mtu"], 1400, "an MTU set since is kept");
    peer_remote(&b, &a, "100");
    assert_crosses(&a.user, "feth0", &b.user, "feth0", 6);
    // `down` takes the VXLAN devices along.
    for h in [&a, &b] {
        h.on();
        ok(&["down", "feth0"]);
        assert!(h.world.net.link("fvx0").is_none(), "VXLAN device gone after down");
    }
}

#[test]
fn bad_remote_peerings_change_nothing() {
    let (a, b) = two_hosts();
    create(&a);
    a.on();
    ok(&["create", "feth9", "--netns", &a.user.name]);
    peer_remote(&a, &b, "100");
    let before = show_state();
    let cases: &[&[&str]] = &[
        &["peer", "feth9", "--remote", "198.18.9.300"],
        &["peer", "feth9", "--remote", "198.18.9.2", "--vni", "16777216"],
        &["peer", "feth9", "--remote", "198.18.9.2", "--vni", "100"],
        &["peer", "feth9", "--remote", "198.18.9.2", "--dev", "nosuch0"],
        &["peer", "feth9", "--remote", "203.0.113.1"],
        &["peer", "feth9", "--remote", "198.18.9.2", "--local", "198.18.7.7"],
        &["peer", "feth0", "--remote", "198.18.9.2", "--vni", "7"],
        &["peer", "feth0", "feth9"],
        &["peer", "feth9", "--remote", "198.18.9.2", "--vni", "9", "--mode", "xdp"],
        &["flap", "feth0", "--down", "1s", "--up", "1s"],
    ];
    for args in cases {
        let err = fails(args);
        eprintln!("{args:?}: {}", err.trim_end());
        assert!(!err.contains("Error"), "{args:?}: {err}");
        assert_eq!(show_state(), before, "{args:?} changed nothing");
        assert!(a.world.net.link("fvx9").is_none(), "{args:?}: no VXLAN device left");
    }
    // An XDP port peered remotely uses the TC path and says so.
    ok(&["unpeer", "feth0"]);
    ok(&["peer", "feth0", "feth9", "--mode", "xdp"]);
    ok(&["unpeer", "feth0"]);
    peer_remote(&a, &b, "100");
    let s = show(&a);
    let me = s.as_object().unwrap();
    assert_eq!(me["name"], "feth0", "{s}");
    assert_eq!(me["mode"], "tc", "{s}");
    assert!(me["changed"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().contains("tc path")), "{s}");
}

#[test]
fn ipv6_underlay_carries_jumbo_frames() {
    let (a, b) = two_hosts_over(true, 9000);
    create(&a);
    create(&b);
    peer_remote(&a, &b, "200");
    peer_remote(&b, &a, "200");
    // VXLAN over IPv6 takes 70 bytes: the tunnel carries 8930; the user ends keep their 1500
    // (only an MTU above what the tunnel carries is lowered) until raised.
    for h in [&a, &b] {
        let s = show(h);
        assert_eq!(s["remote"]["tunnel_mtu"], 8930, "{s}");
        assert_eq!(s["mtu"], 1500, "{s}");
        h.user.set_mtu("feth0", 8930);
    }
    assert!(wait_until(WAIT, || carrier(&a.user, "feth0") && carrier(&b.user, "feth0")), "carrier");
    feth_tests::pair::assert_crosses_len(&a.user, "feth0", &b.user, "feth0", 8930 + 14, 1);
    feth_tests::pair::assert_crosses_len(&b.user, "feth0", &a.user, "feth0", 8930 + 14, 2);
}

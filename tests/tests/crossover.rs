//! End-to-end: real namespaces, real veth pairs, real frames through the pinned crossover,
//! in both datapaths. Run as root (`cargo xtask test`).

use feth_tests::{
    both_modes,
    loader::{Ports, fails, ok, show_json, show_state},
    netns::NetNs,
    pair::{WAIT, assert_blocked, assert_crosses, carrier, port, tcp_transfer, up_pair},
    wait_until, world,
};

both_modes!(
    frames_cross_byte_identical_both_ways,
    frames_do_not_cross_while_unpeered,
    crossover_survives_loader_exit,
    tcp_transfer_10mb_intact,
    unpeer_drops_carrier_and_repeer_keeps_ifindex,
    destroy_one_side_leaves_the_other_unpeered,
    up_is_idempotent_and_busy_changes_nothing,
    bad_peers_are_refused_without_change,
    down_of_last_interface_leaves_nothing,
    deleting_one_side_behind_our_back_unpeers_the_other,
    show_reports_mode_and_offloads,
);

fn frames_cross_byte_identical_both_ways(mode: &str) {
    let p = up_pair(mode, &[]);
    assert!(wait_until(WAIT, || carrier(&p.a, "feth0") && carrier(&p.b, "feth1")), "carrier up after up");
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 1);
    assert_crosses(&p.b, "feth1", &p.a, "feth0", 2);
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 3);
}

fn frames_do_not_cross_while_unpeered(mode: &str) {
    let p = up_pair(mode, &[]);
    ok(&["unpeer", "feth0"]);
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 10);
    assert_blocked(&p.b, "feth1", &p.a, "feth0", 11);
    ok(&["peer", "feth0", "feth1"]);
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 12);
}

fn crossover_survives_loader_exit(mode: &str) {
    let p = up_pair(mode, &[]);
    // Every command is a process that has exited by now; the programs and links stay pinned.
    for wire in ["fwire0", "fwire1"] {
        assert!(feth_tests::world::attached(wire, mode), "{wire}'s {mode} program is still attached");
    }
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 20);
    assert_crosses(&p.b, "feth1", &p.a, "feth0", 21);
}

fn tcp_transfer_10mb_intact(mode: &str) {
    let p = up_pair(mode, &[]);
    tcp_transfer(&p, 12 << 20);
}

fn unpeer_drops_carrier_and_repeer_keeps_ifindex(mode: &str) {
    let p = up_pair(mode, &[]);
    let c = NetNs::new("c");
    ok(&["create", "feth2", "--netns", &c.name, "--mode", mode]);
    let ifindex0 = p.a.link("feth0").unwrap().index;
    let ifindex2 = c.link("feth2").unwrap().index;

    ok(&["unpeer", "feth0"]);
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0") && !carrier(&p.b, "feth1")), "both carriers down after unpeer");
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 30);

    ok(&["peer", "feth0", "feth2", "--mode", mode]);
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

fn destroy_one_side_leaves_the_other_unpeered(mode: &str) {
    let p = up_pair(mode, &[]);
    ok(&["destroy", "feth1"]);
    assert!(p.b.link("feth1").is_none(), "feth1 is gone");
    let feth0 = p.a.link("feth0").expect("feth0 still exists");
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0")), "feth0 carrier down");
    let show = show_json();
    assert_eq!(port(&show, "feth0")["peer"], serde_json::Value::Null);
    assert_eq!(port(&show, "feth0")["link"], "down");
    assert_eq!(port(&show, "feth0")["ifindex"], feth0.index);
}

fn up_is_idempotent_and_busy_changes_nothing(mode: &str) {
    let p = up_pair(mode, &[]);
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

fn bad_peers_are_refused_without_change(mode: &str) {
    let _p = up_pair(mode, &[]);
    ok(&["unpeer", "feth0"]);
    let before = show_state();
    let xdp_hwcsum = "hwcsum on needs --mode tc";
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
        (vec!["peer", "feth0", "feth1", "--mode", "xdp", "--hwcsum", "on"], xdp_hwcsum),
    ] {
        let err = fails(&args);
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err:?}");
        assert_eq!(show_state(), before, "{args:?} changed state");
    }
}

#[test]
fn long_names_are_refused_before_anything_is_created() {
    let _w = world();
    let a = NetNs::new("a");
    let long = "feth0123456789ab"; // 16 bytes
    let err = fails(&["up", long, "feth1", "--netns-a", &a.name]);
    assert!(err.contains("longer than 15 bytes"), "{err}");
    let err = fails(&["up", "feth1", long]);
    assert!(err.contains("longer than 15 bytes"), "{err}");
    assert!(fails(&["create", "feth1", long]).contains("longer than 15 bytes"));
    assert_eq!(show_json(), serde_json::json!([]), "nothing was created");
    assert!(!feth_tests::world::exists("/sys/fs/bpf/feth"), "nothing pinned");
}

fn down_of_last_interface_leaves_nothing(mode: &str) {
    let p = up_pair(mode, &[]);
    // The ids of this world's programs (other worlds, and the machine's own feth, have theirs).
    let ids: Vec<u32> = feth_tests::world::sh_out(&format!(
        "for p in {}/feth_*; do bpftool prog show pinned $p | head -n1 | cut -d: -f1; done",
        feth_tests::LAYOUT
    ))
    .lines()
    .map(|l| l.trim().parse().expect("a program id"))
    .collect();
    assert_eq!(ids.len(), 5, "the five programs are pinned");
    ok(&["down", "feth0", "feth1"]);
    assert!(!feth_tests::world::exists("/sys/fs/bpf/feth"), "pin directory removed");
    let world_net = feth_tests::world::current_net();
    let links = world_net.run(feth_tests::netns::link_names_here);
    assert!(!links.iter().any(|l| l.starts_with("fwire")), "a wire end is left: {links:?}");
    let still: Vec<u32> = aya::programs::loaded_programs().filter_map(|p| Some(p.ok()?.id())).collect();
    assert!(!ids.iter().any(|id| still.contains(id)), "a feth program is still loaded: {ids:?}");
    assert!(p.a.link("feth0").is_none() && p.b.link("feth1").is_none());
    assert_eq!(show_json(), serde_json::json!([]));
}

fn deleting_one_side_behind_our_back_unpeers_the_other(mode: &str) {
    let p = up_pair(mode, &[]);
    p.b.delete("feth1");
    // Before any command repairs the pair, feth0 still has carrier: what it sends now is
    // counted as dropped, not lost.
    let tx = p.a.run(|| feth_tests::frames::PacketSocket::open("feth0"));
    for seq in 0..5 {
        tx.send(&feth_tests::frames::test_frame(feth_tests::pair::mac(&p.a, "feth0"), 100, seq));
    }
    let show = show_json();
    assert_eq!(port(&show, "feth0")["peer"], serde_json::Value::Null);
    let counters = &port(&show, "feth0")["counters"];
    assert_eq!(counters["tx"]["packets"], 5, "{counters}");
    // Before 5.12 (no bpf_check_mtu) the TC program cannot tell that the peer is gone: these
    // frames are lost uncounted until the repair, as docs/kernels.md says.
    let counted = if mode == "tc" && !feth_tests::kernel_at_least(5, 12) { 0 } else { 5 };
    assert_eq!(counters["drops"]["tx_redirect_error"]["packets"], counted, "{counters}");
    assert_eq!(counters["drops"]["tx_redirect_error"]["bytes"], counted * 100, "{counters}");
    // Reading changed nothing: the repair is a changing command's (or `repair`'s) job.
    assert!(carrier(&p.a, "feth0"), "show does not repair");
    let repaired = ok(&["repair"]);
    assert!(repaired.contains("feth0: roll back a one-sided peering"), "{repaired}");
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0")), "feth0 carrier down");
}

#[test]
fn mac_follows_feth_unit_number() {
    let _w = world();
    let ns = NetNs::new("m");
    let _ports = Ports::new(&["feth3", "feth258"]);
    ok(&["create", "feth3", "feth258", "--netns", &ns.name]);
    assert_eq!(ns.link("feth3").unwrap().mac, vec![0x66, 0x65, 0x74, 0x68, 0x00, 0x03]);
    assert_eq!(ns.link("feth258").unwrap().mac, vec![0x66, 0x65, 0x74, 0x68, 0x01, 0x02]);
    let show = show_json();
    assert_eq!(port(&show, "feth3")["mac"], "66:65:74:68:00:03");
    assert_eq!(port(&show, "feth258")["mac"], "66:65:74:68:01:02");
}

fn show_reports_mode_and_offloads(mode: &str) {
    let p = up_pair(mode, &[]);
    // One queue per CPU, so traffic from several cores does not share one ring.
    let cpus = std::thread::available_parallelism().unwrap().get() as u32;
    let feth0 = p.a.link("feth0").unwrap();
    assert_eq!((feth0.tx_queues, feth0.rx_queues), (cpus, cpus), "user end queues");
    let show = show_json();
    let feth0 = port(&show, "feth0");
    assert_eq!(feth0["mode"], mode);
    assert_eq!(feth0["offloads"]["gro"], true);
    let csum_off_said =
        feth0["changed"].as_array().unwrap().iter().any(|c| c.as_str().unwrap().starts_with("tx-checksumming off"));
    match mode {
        "xdp" => {
            assert_eq!(feth0["offloads"]["tx_checksum"], false);
            assert!(csum_off_said, "show says why tx-checksumming is off");
        }
        _ => {
            assert_eq!(feth0["offloads"]["tx_checksum"], true, "tc keeps checksum offload (hwcsum)");
            assert!(!csum_off_said);
        }
    }
}

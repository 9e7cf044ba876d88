//! The state model end to end: the interfaces are the truth and the pins a cache. Reading
//! never writes, lost pins and older layouts are rebuilt from the records, renames and moves
//! are followed, and a command killed at any step converges on the next.
use std::os::unix::process::ExitStatusExt as _;

use feth_tests::{
    both_modes,
    loader::{command, fails, ok, run, show_json, show_state},
    netns::NetNs,
    pair::{WAIT, assert_blocked, assert_crosses, carrier, mac, port, up_pair},
    wait_until, world,
    world::{World, attached, exists, sh},
};

both_modes!(reading_never_writes_and_lost_pins_are_rebuilt, bpffs_remount_loses_nothing, killed_commands_converge,);

const PINS: [&str; 9] = [
    "FETH_PORTS",
    "FETH_CROSSOVER",
    "FETH_STATS",
    "FETH_SETTINGS",
    "feth_xdp_wire",
    "feth_tc_wire",
    "feth_tc_user_egress",
    "feth_xdp_user_rx",
    "feth_netkit_rx",
];
use feth_tests::{LAYOUT, LAYOUT_NAME};

/// After a repair, a second one finds nothing to do.
fn assert_converged() {
    let out = ok(&["repair", "--dry-run"]);
    assert_eq!(out.trim(), "nothing to repair", "a repair left work: {out}");
}

fn both_cross(p: &feth_tests::pair::Pair, seq: u32) {
    assert_crosses(&p.a, "feth0", &p.b, "feth1", seq);
    assert_crosses(&p.b, "feth1", &p.a, "feth0", seq + 1);
}

fn reading_never_writes_and_lost_pins_are_rebuilt(mode: &str) {
    let p = up_pair(mode, &["--hwcsum", "off"]);
    ok(&["media", "feth0", "--list", "autoselect,1000baseT", "--current", "1000baseT"]);
    let before = show_state();
    let link = format!("links/fwire0_{mode}");
    // The TC netlink path pins no link (its filter lives on the device).
    let link_pinned = exists(&format!("{LAYOUT}/{link}"));
    let lost: Vec<&str> = PINS.iter().copied().chain(link_pinned.then_some(link.as_str())).chain(["*"]).collect();
    for (i, pin) in lost.into_iter().enumerate() {
        let path = format!("{LAYOUT}/{pin}");
        assert!(sh(&format!("rm -rf {path}")), "remove {path}");
        // Every reading command: the interfaces are still there and nothing is rewritten.
        let out = run(&["show", "--json"]);
        assert!(out.status.success(), "show after losing {pin}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("feth-loader repair"), "show says a repair is due");
        let mut shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        shown.as_array_mut().unwrap().iter_mut().for_each(|p| drop(p.as_object_mut().unwrap().remove("counters")));
        assert_eq!(shown, before, "show after losing {pin}");
        ok(&["stats"]);
        ok(&["media", "feth0"]);
        if pin != "*" {
            assert!(!exists(&path), "reading recreated {pin}");
        }
        assert!(p.a.link("feth0").is_some() && p.b.link("feth1").is_some(), "no interface was deleted");
        // A repair rebuilds it all from the records.
        let repaired = ok(&["repair"]);
        assert!(!repaired.contains("nothing to repair"), "repair after losing {pin} changed something");
        assert_eq!(show_state(), before, "everything survives losing {pin}");
        assert!(!p.a.ethtool("feth0", 0x16), "hwcsum off survives");
        both_cross(&p, 10 * i as u32);
        assert_converged();
    }
}

fn bpffs_remount_loses_nothing(mode: &str) {
    let p = up_pair(mode, &[]);
    ok(&["media", "feth1", "--list", "autoselect,10Gbase-T", "--current", "10Gbase-T"]);
    let before = show_state();
    assert!(sh("umount /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf"), "remount bpffs in the world");
    assert!(!exists("/sys/fs/bpf/feth"), "a fresh bpffs is empty");
    assert_eq!(show_state(), before, "show reads the records");
    // Any changing command repairs first.
    ok(&["media", "feth0", "--current", "autoselect"]);
    assert_eq!(show_state(), before);
    assert!(attached("fwire1", mode), "programs attached again");
    both_cross(&p, 1);
    assert_converged();
}

/// Runs `args` with a fault point and expects the command to be killed there.
fn killed(args: &[&str], point: &str) {
    let status = command().env("FETH_FAULT", point).args(args).status().expect("run feth-loader");
    assert_eq!(status.signal(), Some(9), "{args:?} was to be killed at {point}: {status}");
}

fn killed_commands_converge(mode: &str) {
    let other = if mode == "xdp" { "tc" } else { "xdp" };
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let p = feth_tests::pair::Pair::adopt(&["feth0", "feth1"], a, b);

    // create, killed with the veth pair made but no record yet: finished, never deleted.
    // A netkit pair is made for netkit mode (and never switches mode).
    let kind: &[&str] = if mode == "netkit" { &["--mode", "netkit"] } else { &[] };
    killed(&[&["create", "feth0", "--netns", &p.a.name], kind].concat(), "create:veth-made");
    let repaired = ok(&["repair"]);
    assert!(repaired.contains("feth0: finish a creation cut short"), "{repaired}");
    assert_converged();
    ok(&[&["create", "feth1", "--netns", &p.b.name], kind].concat());
    p.a.set_up("feth0");
    p.b.set_up("feth1");

    // peer, killed between the two records: rolled back.
    killed(&["peer", "feth0", "feth1", "--mode", mode], "peer:first-record");
    assert!(ok(&["repair"]).contains("roll back a one-sided peering"));
    assert_converged();
    assert_eq!(port(&show_json(), "feth0")["peer"], serde_json::Value::Null);
    assert_blocked(&p.a, "feth0", &p.b, "feth1", 1);

    // peer, killed with the programs attached but the maps not yet written: finished.
    killed(&["peer", "feth0", "feth1", "--mode", mode], "converge:attached");
    ok(&["repair"]);
    assert_converged();
    assert!(wait_until(WAIT, || carrier(&p.a, "feth0") && carrier(&p.b, "feth1")), "peered after the repair");
    both_cross(&p, 2);

    // A mode switch killed after the maps flipped, before the old program was detached.
    let last = if mode == "netkit" { mode } else { other };
    if mode != "netkit" {
        killed(&["peer", "feth0", "feth1", "--mode", other], "converge:maps");
        ok(&["repair"]);
        assert_converged();
        assert_eq!(port(&show_json(), "feth1")["mode"], other);
        assert!(!attached("fwire0", mode), "the old mode's program is detached");
        assert!(attached("fwire0", other), "the new mode's program is attached");
        both_cross(&p, 4);
    }

    // unpeer, killed between the two records: finished.
    killed(&["unpeer", "feth0"], "unpeer:first-record");
    ok(&["repair"]);
    assert_converged();
    assert!(wait_until(WAIT, || !carrier(&p.a, "feth0") && !carrier(&p.b, "feth1")), "unpeered after the repair");
    ok(&["peer", "feth0", "feth1"]);

    // destroy, killed after marking: the interface stays; killed after deleting: it is gone.
    killed(&["destroy", "feth1"], "destroy:marked");
    ok(&["repair"]);
    assert_converged();
    assert!(p.b.link("feth1").is_some(), "a destroy cut short before deleting keeps the interface");
    killed(&["destroy", "feth1"], "destroy:deleted");
    ok(&["repair"]);
    assert_converged();
    assert!(p.b.link("feth1").is_none());
    assert!(!exists(&format!("{LAYOUT}/links/fwire1_{last}")), "the destroyed port's link is gone");
    assert_eq!(port(&show_json(), "feth0")["peer"], serde_json::Value::Null);
}

#[test]
fn renames_and_moves_are_followed() {
    let _w = world();
    let p = up_pair("tc", &[]);
    let (mac0, mac1) = (mac(&p.a, "feth0"), mac(&p.b, "feth1"));
    p.a.rename("feth0", "lab0");
    let c = NetNs::new("c");
    p.b.move_to("feth1", &c);
    let show = show_json();
    let lab0 = port(&show, "lab0");
    assert_eq!(lab0["netns"], p.a.name.as_str());
    assert_eq!(lab0["peer"], "feth1");
    assert_eq!(lab0["mtu"], 1500);
    assert_eq!(lab0["mac"], feth_tests::pair::format_mac(&mac0));
    let feth1 = port(&show, "feth1");
    assert_eq!(feth1["netns"], c.name.as_str(), "the move is followed");
    assert_eq!(feth1["mac"], feth_tests::pair::format_mac(&mac1));
    assert!(!show.to_string().contains("hwcsum off was asked"), "no invented reasons: {show}");
    let err = fails(&["unpeer", "feth0"]);
    assert!(err.contains("feth0: no such interface"), "the old name is gone: {err}");
    ok(&["unpeer", "lab0"]);
    assert!(wait_until(WAIT, || !carrier(&p.a, "lab0")));
    ok(&["peer", "lab0", "feth1"]);
    c.set_up("feth1");
    assert_crosses(&p.a, "lab0", &c, "feth1", 1);
    assert_crosses(&c, "feth1", &p.a, "lab0", 2);
    ok(&["down", "lab0", "feth1"]);
    assert_eq!(show_json(), serde_json::json!([]));
}

#[test]
fn hwcsum_off_survives_mode_switches_and_repair() {
    let _w = world();
    const TX_CSUM: u32 = 0x16;
    let p = up_pair("tc", &["--hwcsum", "off"]);
    assert!(!p.a.ethtool("feth0", TX_CSUM));
    ok(&["peer", "feth0", "feth1", "--mode", "xdp"]);
    ok(&["peer", "feth0", "feth1", "--mode", "tc"]);
    assert!(!p.a.ethtool("feth0", TX_CSUM), "hwcsum off kept through tc -> xdp -> tc");
    assert_eq!(port(&show_json(), "feth0")["hwcsum"], false);
    assert!(sh(&format!("rm -rf {LAYOUT}")));
    ok(&["repair"]);
    assert!(!p.a.ethtool("feth0", TX_CSUM) && !p.b.ethtool("feth1", TX_CSUM), "and through a repair");
    ok(&["peer", "feth0", "feth1", "--hwcsum", "on"]);
    assert!(p.a.ethtool("feth0", TX_CSUM), "until asked otherwise");
}

#[test]
fn nine_mixed_names_get_nine_macs() {
    let _w = world();
    let ns = NetNs::new("m");
    let names = ["feth7", "lab1", "lab2", "lab3", "lab4", "lab5", "lab6", "lab7", "lab8"];
    let mut args = vec!["create"];
    args.extend(names);
    args.extend(["--netns", &ns.name]);
    ok(&args);
    let mut macs: Vec<Vec<u8>> = names.iter().map(|n| ns.link(n).unwrap().mac).collect();
    assert_eq!(macs[0], b"feth\x00\x07", "feth7 keeps feth's address");
    macs.sort();
    macs.dedup();
    assert_eq!(macs.len(), 9, "nine distinct addresses");
    let mut args = vec!["down"];
    args.extend(names);
    ok(&args);
}

#[test]
fn older_layout_is_upgraded_in_place() {
    let _w = world();
    let p = up_pair("xdp", &[]);
    // Layout 1, made on purpose: every pin directly in the state directory, and aliases that
    // name the user end.
    // Its FETH_PORTS had 16-byte values (slot, peer slot, mode, peer wire ifindex): feth0 in
    // slot 0 and feth1 in slot 1, crossed in XDP mode (1); ifindexes little-endian.
    assert!(sh(&format!("cd /sys/fs/bpf/feth && mv {LAYOUT_NAME}/* . && rmdir {LAYOUT_NAME} && rm FETH_PORTS")));
    assert!(sh("bpftool map create /sys/fs/bpf/feth/FETH_PORTS type array key 4 value 16 entries 256 name FETH_PORTS"));
    assert!(sh(
        "bpftool map update pinned /sys/fs/bpf/feth/FETH_PORTS key 0 0 0 0 value 0 0 0 0 1 0 0 0 1 0 0 0 1 0 0 64"
    ));
    assert!(sh(
        "bpftool map update pinned /sys/fs/bpf/feth/FETH_PORTS key 1 0 0 0 value 1 0 0 0 0 0 0 0 1 0 0 0 0 0 0 64"
    ));
    assert!(sh(&format!("ip link set fwire0 alias feth:feth0@{}", p.a.name)));
    assert!(sh(&format!("ip link set fwire1 alias feth:feth1@{}", p.b.name)));
    let shown = run(&["show"]);
    assert!(shown.status.success());
    assert!(String::from_utf8_lossy(&shown.stderr).contains("upgrade"), "show says an upgrade is due");
    assert!(exists("/sys/fs/bpf/feth/FETH_PORTS"), "reading upgraded nothing");
    let repaired = ok(&["repair"]);
    assert!(repaired.contains("upgrade fwire0") || repaired.contains("feth0: upgrade"), "{repaired}");
    assert!(repaired.contains("older layout"), "{repaired}");
    assert!(exists(&format!("{LAYOUT}/FETH_PORTS")) && !exists("/sys/fs/bpf/feth/FETH_PORTS"));
    assert!(!exists("/sys/fs/bpf/feth/links"), "the old links are gone");
    let show = show_json();
    assert_eq!(port(&show, "feth0")["peer"], "feth1", "the peer survives the upgrade");
    assert_eq!(port(&show, "feth0")["mode"], "xdp", "the mode survives the upgrade");
    assert!(sh("ip -d link show fwire0 | grep -q 'alias feth/2 peer=1 mode=xdp'"), "the record is rewritten");
    both_cross(&p, 1);
    assert_converged();
}

#[test]
fn parallel_commands_end_consistent() {
    let w = world();
    let ns = NetNs::new("p");
    let names = ["feth0", "feth1", "feth2", "feth3", "feth4", "feth5"];
    let mut args = vec!["create"];
    args.extend(names);
    args.extend(["--netns", &ns.name]);
    ok(&args);
    let handles = w.handles();
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let handles = handles.clone();
            std::thread::spawn(move || {
                World::enter_thread(handles);
                let mut seed = 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t + 1);
                for _ in 0..25 {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    let pick = |k: u64| names[((seed >> (16 + 8 * k)) % names.len() as u64) as usize];
                    let (x, y) = (pick(0), pick(1));
                    let mode = if seed & 1 == 0 { "xdp" } else { "tc" };
                    let args: Vec<&str> = match (seed >> 8) % 8 {
                        0 | 1 => vec!["peer", x, y, "--mode", mode],
                        2 => vec!["unpeer", x],
                        3 => vec!["show", "--json"],
                        4 => vec!["stats", x],
                        5 => vec!["media", x, "--current", "10Gbase-T"],
                        6 => vec!["repair"],
                        _ => vec!["peer", x, y],
                    };
                    let out = run(&args);
                    let err = String::from_utf8_lossy(&out.stderr);
                    // Refusals (busy, self-peer) are fine; anything else is not.
                    assert!(out.status.code().is_some(), "{args:?} died: {}", out.status);
                    if !out.status.success() {
                        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
                        assert!(err.contains("busy") || err.contains("itself"), "{args:?}: {err}");
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().expect("a command thread"));
    assert_converged();
    let show = show_json();
    for p in show.as_array().unwrap() {
        if let Some(peer) = p["peer"].as_str() {
            assert_eq!(port(&show, peer)["peer"], p["name"], "peering is mutual: {show}");
            assert_eq!(port(&show, peer)["mode"], p["mode"], "a pair shares its mode");
        }
    }
    ok(&["unpeer", "feth0"]);
    ok(&["unpeer", "feth1"]);
    ok(&["peer", "feth0", "feth1"]);
    ns.set_up("feth0");
    ns.set_up("feth1");
    assert_crosses(&ns, "feth0", &ns, "feth1", 1);
}

#[test]
fn state_directory_is_chosen_by_flag_or_environment() {
    let _w = world();
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let p = feth_tests::pair::Pair::adopt(&[], a, b);
    // FETH_BPFFS for a whole session: pins and lock there, nothing in the default directory.
    let with_env = |args: &[&str]| {
        let out = command().env("FETH_BPFFS", "/sys/fs/bpf/bench2").args(args).output().expect("run feth-loader");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    with_env(&["up", "feth0", "feth1", "--netns-a", &p.a.name, "--netns-b", &p.b.name]);
    assert!(exists(&format!("/sys/fs/bpf/bench2/{LAYOUT_NAME}/FETH_PORTS")), "pins in FETH_BPFFS");
    assert!(!exists("/sys/fs/bpf/feth"), "nothing in the default directory");
    both_cross(&p, 1);
    // --bpffs names the same directory; a reading command finds the pair there.
    let shown = ok(&["--bpffs", "/sys/fs/bpf/bench2", "show", "feth0", "--json"]);
    assert!(shown.contains("\"peer\": \"feth1\""), "{shown}");
    with_env(&["down", "feth0", "feth1"]);
    assert!(!exists("/sys/fs/bpf/bench2"), "the last port takes the directory along");
    // A directory on another filesystem is refused in one sentence, changing nothing.
    let err = fails(&["--bpffs", "/tmp/not-bpffs", "up", "feth0", "feth1", "--netns-a", &p.a.name]);
    assert!(err.contains("not on a bpffs mount"), "{err}");
    assert_eq!(show_json(), serde_json::json!([]));
}

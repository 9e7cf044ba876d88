//! `apply FILE.toml` and `export`: the machine made to match a file, changing only what
//! differs; an export applied changes nothing; a file with an error changes nothing at all.
use feth_tests::{
    loader::{Ports, fails, ok, show_json, show_state},
    netns::NetNs,
    pair::{assert_crosses, port},
    world,
};

/// A topology file in a temporary directory, removed on drop.
struct TopologyFile(std::path::PathBuf);

impl TopologyFile {
    fn new(tag: &str, text: &str) -> TopologyFile {
        let path = std::env::temp_dir().join(format!("feth-topology-{}-{tag}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        TopologyFile(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for TopologyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn bench_file(a: &NetNs, b: &NetNs, mode: &str, loss: &str) -> String {
    format!(
        "[interface.feth0]\nnetns = \"{}\"\nmtu = 3000\nimpair = {{ loss = \"{loss}\", rate = \"100mbit\" }}\n\n\
         [interface.feth1]\nnetns = \"{}\"\nmtu = 3000\nmedia = \"10Gbase-T\"\n\n\
         [[peer]]\na = \"feth0\"\nb = \"feth1\"\nmode = \"{mode}\"\n",
        a.name, b.name
    )
}

#[test]
fn apply_twice_changes_nothing_the_second_time() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1", "feth2"]);
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let file = TopologyFile::new("twice", &bench_file(&a, &b, "tc", "1%"));
    let dry = ok(&["apply", file.path(), "--dry-run"]);
    assert!(dry.contains("would create feth0"), "{dry}");
    assert!(show_json().as_array().unwrap().is_empty(), "--dry-run changed nothing");
    let first = ok(&["apply", file.path()]);
    for change in ["create feth0", "create feth1", "impair feth0 loss 1%", "peer feth0 feth1 --mode tc", "media feth1"]
    {
        assert!(first.contains(change), "{change:?} in {first}");
    }
    let show = show_json();
    assert_eq!(port(&show, "feth0")["mtu"], 3000);
    assert_eq!(port(&show, "feth0")["peer"], "feth1");
    assert_eq!(port(&show, "feth1")["media"]["current"], "10Gbase-T/full");
    // feth1 -> feth0: the file makes feth0's own frames lossy (1%), which would make one
    // frame from it a coin toss.
    assert_crosses(&b, "feth1", &a, "feth0", 1);
    assert_eq!(ok(&["apply", file.path()]).trim(), "nothing to change");
    // One thing differs: only it changes (here the mode, then an impairment).
    let changed = TopologyFile::new("changed", &bench_file(&a, &b, "xdp", "2%"));
    let out = ok(&["apply", changed.path()]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, ["impair feth0 loss 2%, rate 100mbit burst 250000B", "peer feth0 feth1 --mode xdp"], "{out}");
    assert_eq!(port(&show_json(), "feth0")["mode"], "xdp");
    assert_eq!(ok(&["apply", changed.path()]).trim(), "nothing to change");
    // --prune destroys what the file does not name, and only with it.
    ok(&["create", "feth2"]);
    assert_eq!(ok(&["apply", changed.path()]).trim(), "nothing to change", "feth2 is not the file's business");
    assert_eq!(ok(&["apply", changed.path(), "--prune"]).trim(), "destroy feth2");
}

#[test]
fn an_export_applied_changes_nothing_and_rebuilds_the_bench() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1"]);
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    ok(&["up", "feth0", "feth1", "--netns-a", &a.name, "--netns-b", &b.name, "--mode", "tc", "--hwcsum", "off"]);
    // `--loss-every` needs 5.12 (its refusal is tested in impair.rs); a random loss travels
    // through a file the same way.
    let loss = if feth_tests::kernel_at_least(5, 12) { ["--loss-every", "7"] } else { ["--loss", "14%"] };
    ok(&["impair", "feth0", loss[0], loss[1], "--corrupt", "0.5%", "--duplicate", "1%"]);
    ok(&["media", "feth1", "--list", "autoselect,1000baseT,10Gbase-T", "--current", "1000baseT"]);
    let exported = ok(&["export"]);
    let file = TopologyFile::new("export", &exported);
    assert_eq!(ok(&["apply", file.path()]).trim(), "nothing to change", "{exported}");
    let before = show_state();
    ok(&["down", "feth0", "feth1"]);
    ok(&["apply", file.path()]);
    assert_eq!(ok(&["export"]), exported, "the same bench again");
    let after = show_state();
    for name in ["feth0", "feth1"] {
        for field in ["netns", "mtu", "peer", "mode", "hwcsum", "media", "impair"] {
            assert_eq!(port(&after, name)[field], port(&before, name)[field], "{name} {field}");
        }
    }
    // feth1 -> feth0: feth0's own frames are impaired (every 7th lost, some corrupted).
    assert_crosses(&b, "feth1", &a, "feth0", 1);
}

#[test]
fn a_file_with_an_error_is_refused_as_a_whole() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1", "feth2"]);
    let a = NetNs::new("a");
    let good = format!("[interface.feth0]\nnetns = \"{}\"\n\n[interface.feth1]\nnetns = \"{}\"\n", a.name, a.name);
    for (bad, line, says) in [
        ("[interface.feth2]\nmtu = 99999\n", 7, "MTU 99999"),
        ("[interface.feth2]\nimpair = { loss = \"120%\" }\n", 7, "loss"),
        ("[interface.feth2]\ncolour = \"red\"\n", 8, "unknown field `colour`"),
        ("[[peer]]\na = \"feth0\"\nb = \"feth0\"\n", 7, "itself"),
        ("[[peer]]\na = \"feth0\"\nb = \"feth1\"\nmode = \"fast\"\n", 7, "mode"),
        ("[[peer]]\na = \"feth0\"\nb = \"feth1\"\n[[peer]]\na = \"feth0\"\nb = \"feth2\"\n", 10, "already peered"),
        ("[interface.fwire9]\n", 7, "fwire"),
        ("[interface.feth2\n", 7, ""),
    ] {
        let file = TopologyFile::new("bad", &format!("{good}\n{bad}"));
        let err = fails(&["apply", file.path()]);
        let at = format!("{}:{line}:", file.path());
        assert!(err.contains(&at) && err.contains(says), "{bad:?}: {err} (expected {at} and {says:?})");
        assert!(show_json().as_array().unwrap().is_empty(), "{bad:?}: nothing was applied");
    }
    // An interface the file puts in another namespace than it is in: refused, nothing changed.
    ok(&["create", "feth0"]);
    let before = show_state();
    let file = TopologyFile::new("moved", &good);
    let err = fails(&["apply", file.path()]);
    assert!(err.contains("feth0") && err.contains("namespace"), "{err}");
    assert_eq!(show_state(), before);
}

/// An underlay `ul0` (198.18.9.1/24) in the current world's loader namespace, so that a
/// remote address 198.18.9.2 has a route (no host answers there: files only configure
/// peerings); removed with the world.
fn underlay() -> NetNs {
    let net = feth_tests::world::current_net();
    let made = std::process::Command::new("ip")
        .args(["-n", &net.name, "link", "add", "ul0", "type", "veth", "peer", "name", "ul1"])
        .status();
    assert!(made.is_ok_and(|s| s.success()), "create the underlay");
    net.addr("ul0", "198.18.9.1".parse().unwrap(), 24);
    net.set_up("ul0");
    net
}

/// The README's example on a machine without its underlay: refused before the first change
/// (no namespace and no interface made), as is a name another interface holds.
#[test]
fn a_file_the_machine_refuses_changes_nothing() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1", "feth2"]);
    let (left, right) = (NetNs::unmade("l"), NetNs::unmade("r"));
    let text = format!(
        "[interface.feth0]\nnetns = \"{}\"\nmtu = 9000\nimpair = {{ loss = \"1%\" }}\n\n\
         [interface.feth1]\nnetns = \"{}\"\nmtu = 9000\n\n\
         [[peer]]\na = \"feth0\"\nb = \"feth1\"\nmode = \"tc\"\n\n\
         [interface.feth2]\nremote = {{ addr = \"198.18.9.2\", vni = 100, dev = \"ul9\" }}\n",
        left.name, right.name
    );
    let file = TopologyFile::new("no-underlay", &text);
    let err = fails(&["apply", file.path(), "--dry-run"]);
    assert!(err.contains("feth2: underlay interface ul9 does not exist"), "a dry run sees it too: {err}");
    let err = fails(&["apply", file.path()]);
    assert!(err.contains("feth2: underlay interface ul9 does not exist"), "{err}");
    assert!(show_json().as_array().unwrap().is_empty(), "no interface was made");
    assert!(!left.exists() && !right.exists(), "no namespace was made");
    // feth1's name is held by another interface in the namespace the file names.
    let a = NetNs::new("a");
    let made = std::process::Command::new("ip")
        .args(["-n", &a.name, "link", "add", "feth1", "type", "veth", "peer", "name", "other1"])
        .status();
    assert!(made.is_ok_and(|s| s.success()), "create a veth named feth1");
    let taken = TopologyFile::new(
        "taken",
        &format!("[interface.feth0]\nnetns = \"{}\"\n\n[interface.feth1]\nnetns = \"{}\"\n", a.name, a.name),
    );
    let err = fails(&["apply", taken.path()]);
    assert!(err.contains("feth1: an interface with this name already exists"), "{err}");
    assert!(show_json().as_array().unwrap().is_empty(), "feth0 was not made either");
}

/// A change that fails midway (a VNI another port holds, which only the peering finds out)
/// has the changes before it undone: ports made are destroyed, namespaces made are deleted,
/// ports changed are put back as they were.
#[test]
fn an_apply_that_fails_midway_is_rolled_back() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1", "feth2", "feth5", "feth6"]);
    underlay();
    let a = NetNs::new("a");
    ok(&["create", "feth5", "feth6", "--netns", &a.name]);
    ok(&["peer", "feth5", "--remote", "198.18.9.2", "--vni", "100", "--dev", "ul0"]);
    ok(&["impair", "feth6", "--loss", "5%"]);
    let before = show_state();
    let fresh = NetNs::unmade("n");
    let text = format!(
        "[interface.feth0]\nnetns = \"{fresh}\"\nmtu = 3000\n\n[interface.feth1]\nnetns = \"{fresh}\"\n\n\
         [[peer]]\na = \"feth0\"\nb = \"feth1\"\nmode = \"tc\"\n\n\
         [interface.feth6]\nnetns = \"{a}\"\nmtu = 2000\n\n\
         [interface.feth2]\nnetns = \"{a}\"\nremote = {{ addr = \"198.18.9.2\", vni = 100, dev = \"ul0\" }}\n",
        fresh = fresh.name,
        a = a.name
    );
    let file = TopologyFile::new("midway", &text);
    let plan = ok(&["apply", file.path(), "--dry-run"]);
    let last = plan.lines().last().unwrap_or_default();
    assert!(last.starts_with("would peer feth2 --remote"), "the failing change comes last: {plan}");
    let err = fails(&["apply", file.path()]);
    assert!(err.contains("VNI 100") && err.contains("feth5"), "{err}");
    assert_eq!(show_state(), before, "every change was undone");
    assert!(!fresh.exists(), "the namespace the apply made is gone");
}

#[test]
fn remote_peers_in_a_file() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1"]);
    let a = NetNs::new("a");
    let net = underlay();
    let text = format!(
        "[interface.feth0]\nnetns = \"{}\"\nremote = {{ addr = \"198.18.9.2\", vni = 100, dev = \"ul0\" }}\n",
        a.name
    );
    let file = TopologyFile::new("remote", &text);
    let first = ok(&["apply", file.path()]);
    assert!(first.contains("peer feth0 --remote 198.18.9.2 --vni 100 --port 4789 --dev ul0"), "{first}");
    let show = show_json();
    assert_eq!(port(&show, "feth0")["remote"]["vni"], 100, "{show}");
    assert_eq!(port(&show, "feth0")["mtu"], 1450, "the tunnel's MTU: {show}");
    assert_eq!(ok(&["apply", file.path()]).trim(), "nothing to change");
    // The export describes it, and applying the export changes nothing.
    let exported = TopologyFile::new("remote-export", &ok(&["export"]));
    assert!(std::fs::read_to_string(exported.path()).unwrap().contains("remote"), "export names the remote peer");
    assert_eq!(ok(&["apply", exported.path()]).trim(), "nothing to change");
    // A file that lists feth0 without it unpeers it (and its VXLAN device goes).
    let plain = TopologyFile::new("remote-gone", &format!("[interface.feth0]\nnetns = \"{}\"\nmtu = 1450\n", a.name));
    // unpeer puts back the 1500 bytes `peer --remote` lowered, and the file asks 1450.
    assert_eq!(ok(&["apply", plain.path()]).trim(), "unpeer feth0\nset feth0 mtu 1450");
    assert!(port(&show_json(), "feth0")["remote"].is_null());
    assert_eq!(port(&show_json(), "feth0")["mtu"], 1450);
    assert!(net.link("fvx0").is_none(), "the VXLAN device is gone");
    assert_eq!(ok(&["apply", plain.path()]).trim(), "nothing to change");
    // Errors name their line and change nothing.
    let before = show_state();
    for (tag, bad) in [
        ("remote-addr", "[interface.feth0]\nremote = { addr = \"198.18.9.300\" }\n"),
        ("remote-vni", "[interface.feth0]\nremote = { addr = \"198.18.9.2\", vni = 16777216 }\n"),
        (
            "remote-both",
            "[interface.feth0]\nremote = { addr = \"198.18.9.2\" }\n\n[[peer]]\na = \"feth0\"\nb = \"feth1\"\n",
        ),
    ] {
        let file = TopologyFile::new(tag, bad);
        let err = fails(&["apply", file.path()]);
        assert!(err.contains(&format!("{}:", file.path())), "{tag}: names the file and line: {err}");
        assert_eq!(show_state(), before, "{tag}: nothing changed");
    }
}

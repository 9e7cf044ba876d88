//! Without root: the binary with file capabilities, run by an ordinary user (uid 65534) who is
//! an operator, and a group (gid 65534) that may read the state but not change it. Users and
//! the group are the machine's `nobody`/`nogroup`; `setpriv` (util-linux) changes to them just
//! before exec, and the world's bpffs and namespaces keep the test apart from everything else.
//! Every command runs with a directory of trap scripts (`tc`, `ip`, `ethtool`, `docker`,
//! `podman`, ...) first in PATH: each records its capabilities if it ever runs, and none may.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::PathBuf,
    process::{Command, Output, Stdio},
};

use feth_tests::{
    loader::{self, show_state},
    netns::NetNs,
    pair::{Pair, assert_crosses},
    world::{self, sh},
};

/// Capabilities the README gives the binary.
const CAPS: &str = "cap_bpf,cap_net_admin,cap_sys_admin+ep";
const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;
/// A uid with no name, in group NOGROUP only when asked.
const READER: u32 = 65533;
/// The programs the trap directory holds.
const TRAPPED: [&str; 9] = ["tc", "ip", "ethtool", "docker", "podman", "iperf3", "sockperf", "bpftool", "sysctl"];

/// A copy of the binary under test, with `caps` when given, in a directory of its own that
/// everyone may enter; removed on drop.
struct Copy(PathBuf);

impl Copy {
    fn new(tag: &str, caps: Option<&str>) -> Copy {
        let dir = std::env::temp_dir().join(format!("feth-priv-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Programs a capable binary might be tricked into running through PATH: each records
        // that it ran and with which capabilities (it must never run).
        let trap = dir.join("trap");
        std::fs::create_dir_all(&trap).unwrap();
        std::fs::set_permissions(&trap, std::fs::Permissions::from_mode(0o777)).unwrap();
        for program in TRAPPED {
            let script = format!(
                "#!/bin/sh\n{{ echo \"$0 $*\"; grep -E '^Cap(Eff|Amb)' /proc/self/status; }} >> {}/ran\nexit 1\n",
                trap.display()
            );
            std::fs::write(trap.join(program), script).unwrap();
            std::fs::set_permissions(trap.join(program), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let bin = dir.join("feth-loader");
        std::fs::copy(loader::binary(), &bin).expect("copy feth-loader");
        if let Some(caps) = caps {
            let set = Command::new("setcap").arg(caps).arg(&bin).status().expect("run setcap");
            assert!(set.success(), "setcap {caps}");
        }
        Copy(bin)
    }

    /// Runs the copy in the current world as `uid` with `groups`, the trap first in PATH.
    fn run_as(&self, uid: u32, groups: &[u32], args: &[&str]) -> Output {
        self.command_as(uid, groups, args).output().expect("run setpriv")
    }

    fn command_as(&self, uid: u32, groups: &[u32], args: &[&str]) -> Command {
        let mut cmd = world::command("setpriv");
        cmd.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string()]);
        if groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            cmd.args(["--groups", &list.join(",")]);
        }
        let path = format!("{}:{}", self.trap().display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path).arg(&self.0).args(args);
        cmd
    }

    /// The directory of trap scripts next to the copy (see `Copy::new`).
    fn trap(&self) -> PathBuf {
        self.0.parent().expect("a directory").join("trap")
    }

    /// What the trap scripts recorded: empty while none ran.
    fn trapped(&self) -> String {
        std::fs::read_to_string(self.trap().join("ran")).unwrap_or_default()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn succeeded(out: &Output, what: &str) -> String {
    assert!(out.status.success(), "{what}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Exit status 3 (not permitted) and one sentence containing `says`.
fn not_permitted(out: &Output, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "exit status 3 for: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err:?}");
    assert!(err.contains(says), "{err:?} names {says}");
}

/// No trap script ran: nothing was found through the caller's PATH.
fn nothing_trapped(copy: &Copy) {
    let ran = copy.trapped();
    assert!(ran.is_empty(), "programs found through PATH ran (with these capabilities): {ran}");
}

/// A command of `uid` that succeeds, or is refused in one sentence containing `unless`.
fn succeeds_unless(out: &Output, what: &str, unless: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() || err.contains(unless), "{what}: {err}");
}

/// The state directory as the README's "Without root" makes it for operators: root's, the
/// operators' group may write.
fn operators_directory() {
    assert!(sh(&format!("install -d -o root -g {NOGROUP} -m 0770 /sys/fs/bpf/feth")));
}

#[test]
fn an_operator_runs_feth_with_file_capabilities_and_no_helper_from_path() {
    let _w = feth_tests::world();
    operators_directory();
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let bare = Copy::new("bare", None);
    let capped = Copy::new("capped", Some(CAPS));
    let op = |args: &[&str]| capped.run_as(NOBODY, &[NOGROUP], args);
    // Without the capabilities: one sentence naming each, nothing made.
    let out = bare.run_as(NOBODY, &[NOGROUP], &["up", "feth0", "feth1", "--netns-a", &a.name, "--netns-b", &b.name]);
    not_permitted(&out, "CAP_BPF");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_ADMIN") && err.contains("CAP_SYS_ADMIN"), "{err}");
    assert!(a.link("feth0").is_none(), "nothing was made");
    // With them, as the user: up, traffic, impair (the shaper over rtnetlink), reads, down.
    let pair = Pair::adopt(&["feth0", "feth1"], a, b);
    succeeded(&op(&["up", "feth0", "feth1", "--netns-a", &pair.a.name, "--netns-b", &pair.b.name]), "up");
    assert_crosses(&pair.a, "feth0", &pair.b, "feth1", 1);
    assert_crosses(&pair.b, "feth1", &pair.a, "feth0", 2);
    succeeded(&op(&["impair", "feth0", "--loss", "1%", "--rate", "100mbit"]), "impair");
    assert!(succeeded(&op(&["show", "feth0"]), "show").contains("impair loss 1%, rate 100mbit"));
    // The kernel's own view of the shaper: feth's tbf at the root of feth0.
    let qdisc = pair.a.run(|| world::sh_out("tc qdisc show dev feth0"));
    assert!(qdisc.contains("tbf fe7f: root") && qdisc.contains("rate 100Mbit"), "{qdisc}");
    // A delay where the kernel has netem, its one sentence where it does not.
    succeeds_unless(&op(&["impair", "feth1", "--delay", "5ms"]), "impair --delay", "needs sch_netem");
    succeeded(&op(&["impair", "feth1", "--clear"]), "impair --clear");
    for args in [
        &["stats", "feth0"][..],
        &["stats", "--json"],
        &["stats", "--format", "prometheus"],
        &["show", "--json"],
        &["repair"],
        &["repair", "--dry-run"],
        &["media", "feth0"],
    ] {
        succeeded(&op(args), &format!("{args:?}"));
    }
    // export, then apply of what it wrote (a file the user may read), which changes nothing.
    let exported = succeeded(&op(&["export"]), "export");
    let file = capped.trap().parent().unwrap().join("bench.toml");
    std::fs::write(&file, exported).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let applied = succeeded(&op(&["apply", file.to_str().unwrap()]), "apply");
    assert!(!applied.contains("set ") && !applied.contains("create"), "a second apply changes nothing: {applied}");
    // A capture into a directory of the user's.
    let mine = capped.trap().parent().unwrap().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::os::unix::fs::chown(&mine, Some(NOBODY), Some(NOGROUP)).unwrap();
    let pcap = mine.join("out.pcapng");
    let mut capture = capped
        .command_as(NOBODY, &[NOGROUP], &["capture", "feth0", "--count", "1", "-w", pcap.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start capture");
    let mut seq = 10;
    let done = feth_tests::wait_until(feth_tests::pair::WAIT, || {
        seq += 1;
        assert_crosses(&pair.a, "feth0", &pair.b, "feth1", seq);
        capture.try_wait().expect("wait for capture").is_some()
    });
    assert!(done, "the capture saw a frame and ended");
    let ended = capture.wait_with_output().expect("capture's end");
    assert!(ended.status.success(), "capture as the user: {}", String::from_utf8_lossy(&ended.stderr));
    assert!(std::fs::metadata(&pcap).is_ok_and(|m| m.len() > 100), "the capture wrote its file");
    // Container namespaces: the engine is run from a system directory only (or refused).
    for engine in ["docker", "podman"] {
        let out = op(&["create", "feth9", "--netns", &format!("{engine}:feth-priv-no-such-container")]);
        assert!(!out.status.success(), "{engine}: no such container");
    }
    succeeded(&op(&["peer", "feth0", "feth1", "--mode", "xdp"]), "mode switch");
    assert_crosses(&pair.a, "feth0", &pair.b, "feth1", 100);
    // Interfaces that are not feth's: refused in one sentence, left as they are.
    let lo_before = world::sh_out("ip -d link show lo; tc qdisc show dev lo");
    for args in [
        &["impair", "lo", "--rate", "10mbit"][..],
        &["destroy", "lo"],
        &["media", "lo", "--current", "autoselect"],
        &["unpeer", "lo"],
    ] {
        let out = op(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.trim_end().lines().count() == 1, "{args:?}: {err}");
    }
    assert_eq!(world::sh_out("ip -d link show lo; tc qdisc show dev lo"), lo_before, "lo untouched");
    // A namespace it would have to create: refused with what to do instead.
    not_permitted(&op(&["up", "feth2", "feth3", "--netns-a", "feth-priv-nosuch"]), "ip netns add feth-priv-nosuch");
    // Root's own commands: refused in one sentence.
    not_permitted(&op(&["bench", "--sizes", "64", "--seconds", "1"]), "bench needs root");
    succeeded(&op(&["down", "feth0", "feth1"]), "down");
    assert!(pair.a.link("feth0").is_none() && pair.b.link("feth1").is_none(), "down removed both");
    nothing_trapped(&capped);
    nothing_trapped(&bare);
    // The directory root made stays for the next command.
    assert!(sh("test -d /sys/fs/bpf/feth"));
}

#[test]
fn an_operator_places_interfaces_only_in_namespaces_it_may_open() {
    let _w = feth_tests::world();
    operators_directory();
    let capped = Copy::new("places", Some(CAPS));
    let _ports = feth_tests::loader::Ports::new(&["feth7", "feth8"]);
    // A network namespace held by root's process, and the loader's own held by the user's.
    let mut roots = world::command("unshare").args(["--net", "sleep", "600"]).spawn().expect("root's process");
    let mut users = world::command("setpriv")
        .args(["--reuid", &NOBODY.to_string(), "--regid", &NOGROUP.to_string(), "--clear-groups", "sleep", "600"])
        .spawn()
        .expect("the user's process");
    let own_ns = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).ok();
    assert!(
        feth_tests::wait_until(feth_tests::pair::WAIT, || own_ns(roots.id()) != own_ns(std::process::id())),
        "root's process is in a namespace of its own"
    );
    let before = show_state();
    let out = capped.run_as(NOBODY, &[NOGROUP], &["create", "feth7", "--netns", &format!("pid:{}", roots.id())]);
    not_permitted(&out, "may not open that network namespace");
    let out = capped.run_as(
        NOBODY,
        &[NOGROUP],
        &["create", "feth7", "--netns", &format!("path:/proc/{}/ns/net", roots.id())],
    );
    not_permitted(&out, "may not open that network namespace");
    assert_eq!(show_state(), before, "nothing was made");
    // Its own process's namespace is its to use.
    succeeded(
        &capped.run_as(NOBODY, &[NOGROUP], &["create", "feth8", "--netns", &format!("pid:{}", users.id())]),
        "create in the user's own process's namespace",
    );
    // Our own children, by their pids.
    let _ = roots.kill();
    let _ = roots.wait();
    let _ = users.kill();
    let _ = users.wait();
    nothing_trapped(&capped);
}

#[test]
fn a_capture_writes_only_where_the_caller_may() {
    let _w = feth_tests::world();
    operators_directory();
    let p = feth_tests::pair::up_pair("tc", &[]);
    let capped = Copy::new("writes", Some(CAPS));
    // Root's directory, which the user may read but not write.
    let dir = capped.trap().parent().unwrap().join("roots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let target = dir.join("x.pcapng");
    let out = capped.run_as(NOBODY, &[NOGROUP], &["capture", "feth0", "--count", "1", "-w", target.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cannot create"), "{err}");
    assert!(!target.exists(), "nothing was written where the user may not write");
    // Nor is a topology file read that the user may not read.
    let secret = dir.join("secret.toml");
    std::fs::write(&secret, "").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = capped.run_as(NOBODY, &[NOGROUP], &["apply", secret.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cannot read"), "{err}");
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 1);
    nothing_trapped(&capped);
}

#[test]
fn a_reader_cannot_make_or_adopt_a_state_directory_of_its_own() {
    let _w = feth_tests::world();
    // bpffs lets everyone make directories here (a fresh bpffs is 1777, as on many machines).
    assert!(sh("test \"$(stat -c %a /sys/fs/bpf)\" = 1777"));
    let capped = Copy::new("adopt", Some(CAPS));
    let reader = |env: Option<&str>, args: &[&str]| {
        let mut cmd = capped.command_as(READER, &[NOGROUP], args);
        if let Some(dir) = env {
            cmd.env("FETH_BPFFS", dir);
        }
        cmd.output().expect("run setpriv")
    };
    // No state directory yet: a changing command does not make one.
    not_permitted(&reader(None, &["create", "feth5"]), "it does not exist");
    assert!(!world::exists("/sys/fs/bpf/feth"), "no state directory was made");
    not_permitted(&reader(Some("/sys/fs/bpf/mine"), &["create", "feth5"]), "it does not exist");
    // One it made itself, where bpffs let it: refused, by FETH_BPFFS and by --bpffs.
    let made = world::command("setpriv")
        .args(["--reuid", &READER.to_string(), "--regid", &NOGROUP.to_string(), "--clear-groups"])
        .args(["mkdir", "-m", "0700", "/sys/fs/bpf/mine"])
        .status()
        .expect("mkdir as the reader");
    assert!(made.success(), "the reader may make a directory on this bpffs");
    not_permitted(&reader(Some("/sys/fs/bpf/mine"), &["create", "feth5"]), "root did not make it");
    not_permitted(&reader(None, &["--bpffs", "/sys/fs/bpf/mine", "create", "feth5"]), "root did not make it");
    not_permitted(&reader(Some("/sys/fs/bpf/mine"), &["show"]), "root did not make it");
    // bpffs's root itself is root's but everyone's to write.
    not_permitted(&reader(Some("/sys/fs/bpf"), &["create", "feth5"]), "writable by everyone");
    assert!(world::current_net().run(|| feth_tests::netns::link_here("feth5").is_none()), "nothing was made");
    assert!(!world::exists("/sys/fs/bpf/mine/v4"), "nothing was pinned there");
    nothing_trapped(&capped);
}

#[test]
fn a_group_may_read_the_state_but_not_change_it() {
    let _w = feth_tests::world();
    // The administrator opens the state directory to group NOGROUP, read only; root changes.
    assert!(sh(&format!("install -d -o root -g {NOGROUP} -m 0750 /sys/fs/bpf/feth")));
    let p = feth_tests::pair::up_pair("tc", &[]);
    feth_tests::loader::ok(&["impair", "feth0", "--rate", "100mbit"]);
    // Every pin follows the directory: its group, group-readable, nobody else's.
    assert!(sh(&format!(
        "test -z \"$(find /sys/fs/bpf/feth -mindepth 1 \\( ! -group {NOGROUP} -o -perm /0027 \\) -print)\""
    )));
    assert!(sh("test -n \"$(find /sys/fs/bpf/feth -mindepth 1 -type f -perm -0040 -print)\""));
    let capped = Copy::new("reader", Some(CAPS));
    let before = show_state();
    // A member reads what root reads.
    let shown = succeeded(&capped.run_as(READER, &[NOGROUP], &["show", "--json"]), "show as a reader");
    let mut shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    for port in shown.as_array_mut().unwrap() {
        port.as_object_mut().unwrap().remove("counters");
    }
    assert_eq!(shown, before, "the reader sees the state as root does");
    let stats = succeeded(&capped.run_as(READER, &[NOGROUP], &["stats", "feth0", "--json"]), "stats as a reader");
    assert!(stats.contains("\"tx\"") && stats.contains("\"tx_rate\""), "{stats}");
    for args in [&["stats", "--format", "prometheus"][..], &["export"], &["repair", "--dry-run"], &["media", "feth0"]] {
        succeeded(&capped.run_as(READER, &[NOGROUP], args), &format!("{args:?} as a reader"));
    }
    // It may not change anything, with the capabilities or without.
    not_permitted(&capped.run_as(READER, &[NOGROUP], &["unpeer", "feth0"]), "read-only for this user");
    not_permitted(&capped.run_as(READER, &[NOGROUP], &["impair", "feth0", "--loss", "5%"]), "read-only");
    not_permitted(&capped.run_as(READER, &[NOGROUP], &["repair"]), "read-only");
    // Someone outside the group may not even read.
    not_permitted(&capped.run_as(READER, &[], &["show"]), "not readable for this user");
    assert_eq!(show_state(), before, "nothing changed");
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 1);
    nothing_trapped(&capped);
    drop(p);
    // The directory the administrator opened stays when the last port goes.
    assert!(sh("test -d /sys/fs/bpf/feth"));
}

//! Without root: the binary with file capabilities, run by an ordinary user (uid 65534), and a
//! group (gid 65534) that may read the state but not change it. Users and the group are the
//! machine's `nobody`/`nogroup`; `setpriv` (util-linux) changes to them just before exec, and
//! the world's bpffs and namespaces keep the test apart from everything else.
use std::{
    os::unix::fs::PermissionsExt as _,
    path::PathBuf,
    process::{Command, Output},
};

use feth_tests::{
    bench::{Pair, assert_crosses},
    loader::{self, show_state},
    netns::NetNs,
    world::{self, sh},
};

/// Capabilities the README gives the binary.
const CAPS: &str = "cap_bpf,cap_net_admin,cap_sys_admin+ep";
const NOBODY: u32 = 65534;
const NOGROUP: u32 = 65534;
/// A uid with no name, in group NOGROUP only when asked.
const READER: u32 = 65533;

/// A copy of the binary under test, with `caps` when given, in a directory of its own that
/// everyone may enter; removed on drop.
struct Copy(PathBuf);

impl Copy {
    fn new(tag: &str, caps: Option<&str>) -> Copy {
        let dir = std::env::temp_dir().join(format!("feth-priv-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("feth-loader");
        std::fs::copy(loader::binary(), &bin).expect("copy feth-loader");
        if let Some(caps) = caps {
            let set = Command::new("setcap").arg(caps).arg(&bin).status().expect("run setcap");
            assert!(set.success(), "setcap {caps}");
        }
        Copy(bin)
    }

    /// Runs the copy in the current world as `uid` with `groups`.
    fn run_as(&self, uid: u32, groups: &[u32], args: &[&str]) -> Output {
        let mut cmd = world::command("setpriv");
        cmd.args(["--reuid", &uid.to_string(), "--regid", &uid.to_string()]);
        if groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            cmd.args(["--groups", &list.join(",")]);
        }
        cmd.arg(&self.0).args(args).output().expect("run setpriv")
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

#[test]
fn an_ordinary_user_runs_feth_with_file_capabilities() {
    let _w = feth_tests::world();
    // The state directory belongs to the user; the namespaces exist already (creating them
    // would need write access to root's /run/netns).
    assert!(sh(&format!("mkdir -m 0700 /sys/fs/bpf/feth && chown {NOBODY}:{NOGROUP} /sys/fs/bpf/feth")));
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let bare = Copy::new("bare", None);
    let capped = Copy::new("capped", Some(CAPS));
    // Without the capabilities: one sentence naming each, nothing made.
    let out = bare.run_as(NOBODY, &[], &["up", "feth0", "feth1", "--netns-a", &a.name, "--netns-b", &b.name]);
    not_permitted(&out, "CAP_BPF");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("CAP_NET_ADMIN") && err.contains("CAP_SYS_ADMIN"), "{err}");
    assert!(a.link("feth0").is_none(), "nothing was made");
    // With them, as the user: up, traffic, impair (tc runs with the capability passed on), down.
    let pair = Pair::adopt(&["feth0", "feth1"], a, b);
    let up =
        capped.run_as(NOBODY, &[], &["up", "feth0", "feth1", "--netns-a", &pair.a.name, "--netns-b", &pair.b.name]);
    succeeded(&up, "up as an ordinary user");
    assert_crosses(&pair.a, "feth0", &pair.b, "feth1", 1);
    assert_crosses(&pair.b, "feth1", &pair.a, "feth0", 2);
    succeeded(&capped.run_as(NOBODY, &[], &["impair", "feth0", "--loss", "1%", "--rate", "100mbit"]), "impair");
    assert!(
        succeeded(&capped.run_as(NOBODY, &[], &["show", "feth0"]), "show").contains("impair loss 1%, rate 100mbit")
    );
    succeeded(&capped.run_as(NOBODY, &[], &["peer", "feth0", "feth1", "--mode", "xdp"]), "mode switch");
    assert_crosses(&pair.a, "feth0", &pair.b, "feth1", 3);
    // A namespace it would have to create: refused with what to do instead.
    let out = capped.run_as(NOBODY, &[], &["up", "feth2", "feth3", "--netns-a", "feth-priv-nosuch"]);
    not_permitted(&out, "ip netns add feth-priv-nosuch");
    succeeded(&capped.run_as(NOBODY, &[], &["down", "feth0", "feth1"]), "down");
    assert!(pair.a.link("feth0").is_none() && pair.b.link("feth1").is_none(), "down removed both");
}

#[test]
fn a_group_may_read_the_state_but_not_change_it() {
    let _w = feth_tests::world();
    // The administrator opens the state directory to group NOGROUP, read only; root changes.
    assert!(sh(&format!("mkdir -m 0750 /sys/fs/bpf/feth && chgrp {NOGROUP} /sys/fs/bpf/feth")));
    let p = feth_tests::bench::up_pair("tc", &[]);
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
    assert!(stats.contains("\"tx\""), "{stats}");
    // It may not change anything, with the capabilities or without.
    not_permitted(&capped.run_as(READER, &[NOGROUP], &["unpeer", "feth0"]), "read-only for this user");
    not_permitted(&capped.run_as(READER, &[NOGROUP], &["impair", "feth0", "--loss", "5%"]), "read-only");
    // Someone outside the group may not even read.
    not_permitted(&capped.run_as(READER, &[], &["show"]), "not readable for this user");
    assert_eq!(show_state(), before, "nothing changed");
    assert_crosses(&p.a, "feth0", &p.b, "feth1", 1);
    drop(p);
    // The directory the administrator opened stays when the last port goes.
    assert!(sh("test -d /sys/fs/bpf/feth"));
}

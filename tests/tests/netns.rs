//! Where user ends go (`--netns`): a name (created if missing, and said so, or refused with
//! `--no-create-netns`), a process's namespace (`pid:`), a namespace file (`path:`), a
//! container's (`docker:`/`podman:`, where an engine runs).
use std::{
    fs::File,
    os::unix::fs::MetadataExt as _,
    process::{Child, Command, Stdio},
};

use feth_tests::{
    frames::{PacketSocket, seq_of, test_frame},
    loader::{Ports, ok, run, show_json},
    pair::{WAIT, port},
    wait_until, world,
};

/// A process in a network namespace of its own (`unshare --net sleep infinity`), ended by its
/// pid when dropped.
struct Holder(Child);

impl Holder {
    fn new() -> Holder {
        let child = Command::new("unshare")
            .args(["--net", "--", "sleep", "infinity"])
            .stdin(Stdio::null())
            .spawn()
            .expect("start unshare");
        let pid = child.id();
        let own = std::fs::read_link("/proc/self/ns/net").ok();
        let apart =
            wait_until(WAIT, || std::fs::read_link(format!("/proc/{pid}/ns/net")).ok().is_some_and(|n| Some(n) != own));
        assert!(apart, "the holder has its own namespace");
        Holder(child)
    }

    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn inode(&self) -> u64 {
        std::fs::metadata(format!("/proc/{}/ns/net", self.pid())).unwrap().ino()
    }

    /// Runs `f` on a thread inside the holder's namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let file = File::open(format!("/proc/{}/ns/net", self.pid())).expect("open the holder's namespace");
        std::thread::scope(|s| {
            s.spawn(|| {
                feth_control::kernel::netns::enter(&file).expect("enter the holder's namespace");
                f()
            })
            .join()
            .expect("thread in the holder's namespace")
        })
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A named namespace the loader is expected to create, deleted when dropped.
struct Created(String);

impl Drop for Created {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn crosses(from: &Holder, from_dev: &str, to: &Holder, to_dev: &str, seq: u32) -> bool {
    let rx = to.run(|| PacketSocket::open(to_dev));
    let tx = from.run(|| PacketSocket::open(from_dev));
    let frame = test_frame([2, 0, 0, 0, 0, 1], 200, seq);
    tx.send(&frame);
    std::iter::from_fn(|| rx.recv(WAIT)).any(|f| seq_of(&f) == seq && f == frame)
}

#[test]
fn user_ends_go_into_a_process_namespace_or_a_namespace_file() {
    let _w = world();
    let (a, b) = (Holder::new(), Holder::new());
    let _ports = Ports::new(&["feth0", "feth1"]);
    let pid_a = format!("pid:{}", a.pid());
    let path_b = format!("path:/proc/{}/ns/net", b.pid());
    ok(&["up", "feth0", "feth1", "--netns-a", &pid_a, "--netns-b", &path_b]);
    assert!(a.run(|| feth_tests::netns::link_here("feth0")).is_some(), "feth0 is in a's namespace");
    assert!(b.run(|| feth_tests::netns::link_here("feth1")).is_some(), "feth1 is in b's namespace");
    assert!(crosses(&a, "feth0", &b, "feth1", 1), "feth0 -> feth1");
    assert!(crosses(&b, "feth1", &a, "feth0", 2), "feth1 -> feth0");
    // show names them by a process in them.
    let show = show_json();
    for (name, holder) in [("feth0", &a), ("feth1", &b)] {
        let label = port(&show, name)["netns"].as_str().unwrap_or_default().to_owned();
        let pid = label.strip_prefix("pid:").unwrap_or_else(|| panic!("{name}: netns {label}"));
        let ino = std::fs::metadata(format!("/proc/{pid}/ns/net")).unwrap().ino();
        assert_eq!(ino, holder.inode(), "{name}: {label} leads to its namespace");
    }
    // The same `up` again is a no-op: the same namespace, however it is named.
    ok(&["up", "feth0", "feth1", "--netns-a", &pid_a, "--netns-b", &path_b]);
    ok(&["down", "feth0", "feth1"]);
    assert!(a.run(|| feth_tests::netns::link_here("feth0")).is_none(), "down removed feth0");
}

#[test]
fn a_missing_name_is_created_and_said_or_refused() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1"]);
    let name = format!("feth-t-new-{}", std::process::id());
    let created = Created(name.clone());
    let exists = || std::path::Path::new("/run/netns").join(&name).exists();
    let out = run(&["--no-create-netns", "up", "feth0", "feth1", "--netns-a", &name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "refused: {err}");
    assert!(err.contains("does not exist") && err.trim_end().lines().count() == 1, "{err}");
    assert!(!exists(), "--no-create-netns created nothing");
    assert!(show_json().as_array().unwrap().is_empty(), "no interface either");
    let out = run(&["up", "feth0", "feth1", "--netns-a", &name]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains(&format!("created network namespace {name}")), "says so: {err:?}");
    assert!(exists());
    let again = run(&["up", "feth0", "feth1", "--netns-a", &name]);
    assert!(!String::from_utf8_lossy(&again.stderr).contains("created"), "said only when made");
    ok(&["down", "feth0", "feth1"]);
    drop(created);
}

#[test]
fn bad_namespace_arguments_are_refused() {
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1"]);
    for ns in [
        "pid:4294967295",
        "pid:self",
        "path:/etc/hostname",
        "path:/nonexistent",
        "box:one",
        "docker:feth-test-no-such-container",
        "podman:feth-test-no-such-container",
    ] {
        let out = run(&["up", "feth0", "feth1", "--netns-a", ns]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{ns}: refused with status 1: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{ns}: one sentence: {err:?}");
        assert!(err.contains(ns.split(':').next().unwrap()), "{ns}: names it: {err}");
    }
    assert!(show_json().as_array().unwrap().is_empty(), "nothing was made");
}

/// `program` under coreutils' `timeout`: killed after two minutes (Podman's slowest step took
/// 5 s under emulation), so a container engine that hangs fails its test instead of hanging
/// the whole run.
fn bounded(program: &str) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.args(["-k", "10", "120", program]);
    cmd
}

/// A running container's namespace, where Docker answers and has an image to run; elsewhere
/// only the refusal above is tested (xtask's summary line says which).
#[test]
fn docker_container_namespace_where_docker_runs() {
    let docker_ok = bounded("docker").args(["info"]).output().is_ok_and(|o| o.status.success());
    let image = docker_ok
        .then(|| bounded("docker").args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"]).output().ok())
        .flatten()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).lines().next().map(str::to_owned));
    let Some(image) = image else {
        eprintln!("NOTE: docker is not running here (or has no image): docker: tested only for its refusal");
        return;
    };
    let _w = world();
    let _ports = Ports::new(&["feth0", "feth1"]);
    let name = format!("feth-test-{}", std::process::id());
    let started = bounded("docker")
        .args(["run", "-d", "--rm", "--network", "none", "--name", &name, &image, "sleep", "600"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(started, "docker run {image}");
    let result = std::panic::catch_unwind(|| {
        ok(&["up", "feth0", "feth1", "--netns-a", &format!("docker:{name}")]);
        let pid = bounded("docker").args(["inspect", "--format", "{{.State.Pid}}", &name]).output().unwrap();
        assert_feth0_inside(&pid.stdout);
    });
    let _ = bounded("docker").args(["rm", "-f", &name]).status();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// A Podman container's namespace. The test owns everything Podman touches: a storage of its
/// own (`CONTAINERS_STORAGE_CONF`, which feth-loader's `podman inspect` inherits), an image it
/// makes from busybox's static binary (`podman import`: no registry needed) and one container
/// without network, run with runc (crun refuses this machine's hybrid cgroups). Where Podman
/// cannot run a container (no podman, no runc, no busybox), only the refusal above is tested.
#[test]
fn podman_container_namespace() {
    let dir = std::env::temp_dir().join(format!("feth-podman-{}", std::process::id()));
    let conf = dir.join("storage.conf");
    // Every engine command is bounded (coreutils' timeout, status 124): a Podman that hangs
    // fails this test, never the whole run.
    let podman = |args: &[&str]| {
        bounded("podman").env("CONTAINERS_STORAGE_CONF", &conf).args(args).output().expect("run podman")
    };
    let usable = Command::new("podman").arg("--version").output().is_ok_and(|o| o.status.success())
        && Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success())
        && std::path::Path::new("/bin/busybox").exists();
    if !usable {
        eprintln!("NOTE: podman, runc or busybox-static is missing: podman: tested only for its refusal");
        return;
    }
    let image_root = dir.join("image");
    std::fs::create_dir_all(image_root.join("bin")).unwrap();
    std::fs::copy("/bin/busybox", image_root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", image_root.join("bin/sleep")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "[storage]\ndriver = \"vfs\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
            dir.join("root").display(),
            dir.join("run").display()
        ),
    )
    .unwrap();
    let tar = dir.join("image.tar");
    let packed = Command::new("tar").arg("-C").arg(&image_root).arg("-cf").arg(&tar).arg(".").status();
    assert!(packed.is_ok_and(|s| s.success()), "pack the image");
    let image = "localhost/feth-test-sleep";
    let name = format!("feth-test-{}", std::process::id());
    let imported = podman(&["import", tar.to_str().unwrap(), image]);
    assert!(imported.status.success(), "podman import: {}", String::from_utf8_lossy(&imported.stderr));
    let started = podman(&[
        "--runtime",
        "runc",
        "run",
        "-d",
        "--network",
        "none",
        "--ulimit",
        "nofile=1024:1024",
        "--ulimit",
        "nproc=1024:1024",
        "--name",
        &name,
        image,
        "/bin/sleep",
        "600",
    ]);
    if !started.status.success() {
        // Under emulation (the kernel matrix's VM) Podman may lack what it needs; say so.
        eprintln!("NOTE: podman could not run a container here: {}", String::from_utf8_lossy(&started.stderr).trim());
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let _w = world();
        let _ports = Ports::new(&["feth0", "feth1"]);
        let up = feth_tests::loader::command()
            .env("CONTAINERS_STORAGE_CONF", &conf)
            .args(["up", "feth0", "feth1", "--netns-a", &format!("podman:{name}")])
            .output()
            .expect("run feth-loader");
        assert!(up.status.success(), "up with podman:{name}: {}", String::from_utf8_lossy(&up.stderr));
        assert_feth0_inside(&podman(&["inspect", "--format", "{{.State.Pid}}", &name]).stdout);
    });
    let _ = podman(&["rm", "-f", "-t", "0", &name]);
    let _ = podman(&["rmi", "-f", image]);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// feth0 is in the network namespace of the container whose init has the pid `inspect`
/// printed; then the pair goes down.
fn assert_feth0_inside(inspect: &[u8]) {
    let pid = String::from_utf8_lossy(inspect);
    let inside = Command::new("nsenter")
        .args(["-t", pid.trim(), "-n", "ip", "link", "show", "feth0"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(inside, "feth0 is inside the container");
    ok(&["down", "feth0", "feth1"]);
}

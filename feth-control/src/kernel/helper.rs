//! The few programs feth runs (a container engine's CLI for `docker:`/`podman:` namespaces; the
//! benchmark's iperf3 and sockperf), run as a binary with file capabilities must run them
//! (README "Without root"): found in a fixed list of system directories, never through the
//! caller's PATH; the file owned by root and writable by nobody else; with a clean environment
//! and an empty ambient capability set, so a caller without root runs them with no
//! capabilities at all (what an exec of a file without capabilities leaves a non-root process).
use std::{
    os::unix::{fs::MetadataExt as _, process::CommandExt as _},
    path::PathBuf,
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use crate::error::{FethError, Result};

/// Where helpers are looked for, in this order (each used only while root alone may write it).
pub const DIRS: [&str; 6] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"];
/// The PATH a helper sees (its own children, such as docker's plugins, are found there).
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// Whether only root may change what `path` is: owned by root, not writable by its group or
/// others.
fn root_only(meta: &std::fs::Metadata) -> bool {
    meta.uid() == 0 && meta.mode() & 0o022 == 0
}

/// The trusted file of `program`, if one is installed: in one of `DIRS` that only root may
/// write, itself owned by root and writable by nobody else.
pub fn find(program: &str) -> Option<PathBuf> {
    if program.is_empty() || program.contains('/') {
        return None;
    }
    DIRS.iter()
        .filter(|dir| std::fs::metadata(dir).is_ok_and(|m| root_only(&m)))
        .map(|dir| PathBuf::from(dir).join(program))
        .find(|path| std::fs::metadata(path).is_ok_and(|m| m.is_file() && root_only(&m) && m.mode() & 0o111 != 0))
}

/// A command for `program` found by `find`, with no ambient capabilities and the fixed PATH;
/// `None` when it is not installed there. For an untrusted caller (crate::kernel::caller) the
/// environment is clean but for what a login of the caller's uid would have (HOME, USER,
/// XDG_RUNTIME_DIR, where rootless Podman finds its containers), taken from the system, not
/// from the caller; root's own environment (DOCKER_HOST, CONTAINERS_STORAGE_CONF) is kept.
pub fn command(program: &str) -> Option<Command> {
    let path = find(program)?;
    let mut cmd = Command::new(path);
    if crate::kernel::caller::untrusted() {
        cmd.env_clear();
        let uid = nix::unistd::getuid();
        if let Ok(Some(user)) = nix::unistd::User::from_uid(uid) {
            cmd.env("HOME", &user.dir).env("USER", &user.name).env("LOGNAME", &user.name);
        }
        let runtime = format!("/run/user/{uid}");
        if std::fs::metadata(&runtime).is_ok_and(|m| m.uid() == uid.as_raw()) {
            cmd.env("XDG_RUNTIME_DIR", runtime);
        }
    }
    cmd.env("PATH", PATH);
    // SAFETY: prctl is async-signal-safe; between fork and exec nothing else runs.
    unsafe {
        cmd.pre_exec(|| {
            // feth never raises an ambient capability; clearing the set makes that hold for
            // whatever the process inherited too.
            if libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    Some(cmd)
}

/// Runs `cmd` to its end, or kills it after `limit`: a container engine whose daemon hangs
/// must not hang feth with it. `None` when it did not end in time. Its output is read after it
/// ends, which is fine for what feth asks (one `inspect` line); a helper that writes more than
/// a pipe holds would be killed at `limit`, not deadlock.
pub fn output_within(cmd: &mut Command, limit: Duration) -> std::io::Result<Option<Output>> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
    let deadline = Instant::now() + limit;
    while child.try_wait()?.is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().map(Some)
}

/// `command`, or a refusal naming where `program` was looked for.
pub fn require(program: &str, what: &str) -> Result<Command> {
    command(program).ok_or_else(|| {
        FethError::Invalid(format!(
            "{what} needs {program}, installed by root in {} (feth never runs one found through PATH)",
            DIRS.join(", ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_in_system_directories() {
        assert!(find("sh").is_some(), "sh is in /bin or /usr/bin on every Debian");
        assert!(find("./sh").is_none() && find("/bin/sh").is_none() && find("../bin/sh").is_none());
        assert!(find("feth-no-such-helper").is_none());
    }

    #[test]
    fn a_helper_that_hangs_is_killed_at_its_limit() {
        let mut cmd = command("sleep").expect("sleep is installed");
        cmd.arg("30");
        assert!(output_within(&mut cmd, Duration::from_millis(200)).expect("spawn sleep").is_none());
        let mut cmd = command("echo").expect("echo is installed");
        let out = output_within(cmd.arg("12"), Duration::from_secs(30)).expect("run echo").expect("echo ends");
        assert_eq!(out.stdout, b"12\n");
    }

    #[test]
    fn helpers_get_the_fixed_path() {
        // Whatever the tests' own PATH (cargo's holds ~/.cargo/bin), the helper sees the fixed one.
        let out = command("env").expect("env is installed").output().expect("run env");
        let env = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            env.lines().filter(|l| l.starts_with("PATH=")).collect::<Vec<_>>(),
            [format!("PATH={PATH}")],
            "{env}"
        );
    }
}

//! The machine's own feth pair around the suite: `feth0`/`feth1` in the default state
//! (/sys/fs/bpf/feth, the host's namespace for wire ends). Brought up here when absent and
//! removed again after; when someone already has them, they are only checked. Either way the
//! suite must leave them exactly as they were, peered and crossing.
use std::{path::Path, process::Command};

use crate::setup::status;

const NS_A: &str = "feth-xtask-a";
const NS_B: &str = "feth-xtask-b";

pub struct HostPair {
    bin: std::path::PathBuf,
    before: String,
    /// This run brought the pair up (and takes it down).
    ours: bool,
}

/// `show` without the counters lines, which move by themselves.
fn shown(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin).arg("show").output().map_err(|e| format!("feth-loader show: {e}"))?;
    if !out.status.success() {
        return Err(format!("feth-loader show failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.starts_with("\ttx ")).collect::<Vec<_>>().join("\n"))
}

fn has_pair(show: &str) -> bool {
    show.lines().any(|l| l.starts_with("feth0:")) || show.lines().any(|l| l.starts_with("feth1:"))
}

impl HostPair {
    pub fn up(bin: &Path) -> Result<HostPair, String> {
        let before = shown(bin)?;
        let ours = !has_pair(&before);
        if ours {
            for ns in [NS_A, NS_B] {
                status(Command::new("ip").args(["netns", "add", ns]))?;
            }
            status(Command::new(bin).args(["up", "feth0", "feth1", "--netns-a", NS_A, "--netns-b", NS_B]))?;
            eprintln!("xtask: feth0/feth1 up in the host's own state; the suite must leave them untouched");
        } else {
            eprintln!("xtask: this machine has its own feth0/feth1; the suite must leave them untouched");
        }
        Ok(HostPair { bin: bin.to_path_buf(), before: shown(bin)?, ours })
    }

    /// Same state as before the suite, and (for our own pair) frames still cross.
    pub fn check(&self, crossing: impl FnOnce(&[(&str, &str)]) -> Result<(), String>) -> Result<(), String> {
        let after = shown(&self.bin)?;
        if after != self.before {
            return Err(format!("the suite changed the host's feth state:\nbefore:\n{}\nafter:\n{after}", self.before));
        }
        if self.ours {
            crossing(&[("FETH_HOST_NETNS_A", NS_A), ("FETH_HOST_NETNS_B", NS_B)])?;
        }
        eprintln!("xtask: the host's feth0/feth1 are untouched");
        Ok(())
    }

    pub fn down(self) {
        if self.ours {
            let _ = Command::new(&self.bin).args(["down", "feth0", "feth1"]).status();
            for ns in [NS_A, NS_B] {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }
}

//! How the command line behaves as a Unix tool: a closed pipe ends it quietly, and
//! `--version` says what ran.
use std::{
    io::{BufRead as _, BufReader, Read as _},
    process::Stdio,
};

use feth_tests::{loader, pair::up_pair, wait_until, world};

#[test]
fn a_closed_pipe_ends_watch_quietly() {
    let _w = world();
    let _p = up_pair("tc", &[]);
    let mut child = loader::command()
        .args(["stats", "--watch", "--interval", "0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start stats --watch");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).expect("one line");
    assert!(first.contains("feth0") || first.contains("feth1"), "a rate line: {first:?}");
    // The reader is gone: the next print meets a closed pipe.
    let mut status = None;
    assert!(
        wait_until(feth_tests::pair::WAIT, || {
            status = child.try_wait().expect("wait");
            status.is_some()
        }),
        "stats --watch ends when its reader does"
    );
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "quiet: {err:?}");
}

#[test]
fn version_names_the_commit_and_the_ebpf_object() {
    let out = loader::ok(&["--version"]);
    assert!(out.starts_with("feth-loader "), "{out}");
    assert!(out.contains("commit ") && out.contains("eBPF object "), "{out}");
}

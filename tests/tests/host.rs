//! The machine's own feth pair, which `cargo xtask test` brings up in the host's state before
//! the suite and checks after it: the suite must leave it untouched, peered and crossing.
//! Run only by xtask (it names the namespaces); ignored in a plain `cargo test`.
use feth_tests::{netns::NetNs, pair::assert_crosses};

#[test]
#[ignore = "cargo xtask test runs it around the suite, with the host pair's namespaces"]
fn host_pair_still_crosses() {
    let ns = |var: &str| NetNs::existing(&std::env::var(var).unwrap_or_else(|_| panic!("{var} names a namespace")));
    let (a, b) = (ns("FETH_HOST_NETNS_A"), ns("FETH_HOST_NETNS_B"));
    assert_crosses(&a, "feth0", &b, "feth1", 1);
    assert_crosses(&b, "feth1", &a, "feth0", 2);
}

//! Many pairs in one command: 2048 pairs (4096 interfaces) come up with `up A B C D ...`, a
//! sample crosses, and `down` leaves nothing. Times are the benchmark's business, not asserted.
use feth_tests::{
    loader::{ok, show_json},
    netns::NetNs,
    pair::assert_crosses,
    world,
};

/// Pairs to bring up (`FETH_TEST_PAIRS`; the kernel matrix under emulation uses fewer).
fn pairs() -> usize {
    std::env::var("FETH_TEST_PAIRS").ok().and_then(|v| v.parse().ok()).unwrap_or(2048)
}

#[test]
fn thousands_of_pairs_come_up_cross_and_leave_nothing() {
    let w = world();
    let (a, b) = (NetNs::new("a"), NetNs::new("b"));
    let n = pairs();
    let names: Vec<String> = (0..n).flat_map(|i| [format!("sa{i}"), format!("sb{i}")]).collect();
    let mut args = vec!["up", "--netns-a", &a.name, "--netns-b", &b.name];
    args.extend(names.iter().map(String::as_str));
    ok(&args);
    let show = show_json();
    let ports = show.as_array().unwrap();
    assert_eq!(ports.len(), 2 * n, "every interface exists");
    assert!(ports.iter().all(|p| p["link"] == "up"), "every pair is peered with carrier");
    for i in [0, n / 2, n - 1] {
        let (x, y) = (format!("sa{i}"), format!("sb{i}"));
        assert_crosses(&a, &x, &b, &y, 2 * i as u32);
        assert_crosses(&b, &y, &a, &x, 2 * i as u32 + 1);
    }
    let mut args = vec!["down"];
    args.extend(names.iter().map(String::as_str));
    ok(&args);
    assert_eq!(show_json(), serde_json::json!([]));
    assert!(!feth_tests::world::exists("/sys/fs/bpf/feth"), "no pin left");
    let left = w.net.run(feth_tests::netns::link_names_here);
    assert_eq!(left, ["lo"], "no wire end left");
    assert!(a.run(feth_tests::netns::link_names_here) == ["lo"] && b.run(feth_tests::netns::link_names_here) == ["lo"]);
}

//! MTU: jumbo frames cross in both datapaths; MTUs set later with rtnetlink are honoured;
//! frames larger than the receiver's MTU are counted as drops.
use feth_tests::{
    both_modes,
    loader::{fails, ok, show_json},
    pair::{WAIT, assert_crosses_len, port, send_one, up_pair},
    wait_until,
};

both_modes!(
    jumbo_frames_cross_byte_identical,
    mtu_set_with_rtnetlink_is_honoured,
    frames_over_the_receivers_mtu_are_counted
);

/// A full-size frame for an MTU: the MTU plus the Ethernet header.
fn full(mtu: usize) -> usize {
    mtu + 14
}

/// What XDP mode crosses without multi-buffer XDP redirect (kernels before 6.3).
const XDP_LINEAR_MTU: usize = 3504;

fn jumbo_frames_cross_byte_identical(mode: &str) {
    if mode == "xdp" && !feth_tests::xdp_jumbo() {
        // Up to a page crosses; more is refused in one sentence, changing nothing.
        let p = up_pair(mode, &["--mtu", &XDP_LINEAR_MTU.to_string()]);
        assert_crosses_len(&p.a, "feth0", &p.b, "feth1", full(XDP_LINEAR_MTU), 1);
        assert_crosses_len(&p.b, "feth1", &p.a, "feth0", full(XDP_LINEAR_MTU), 2);
        let err = fails(&["up", "feth0", "feth1", "--mtu", "9000"]);
        assert!(err.contains("feth0: MTU 9000 is above 3504") && err.contains("6.3"), "{err}");
        assert_eq!(port(&show_json(), "feth0")["mtu"], XDP_LINEAR_MTU);
        // Set behind feth's back, then asked to stay in XDP mode: refused; TC mode crosses it.
        // Before 5.18 (single-buffer XDP programs) the kernel itself refuses a user end more
        // than a page while XDP runs on its wire end: the MTU goes up after the switch.
        let multi_buffer_programs = feth_tests::kernel_at_least(5, 18);
        if multi_buffer_programs {
            p.a.set_mtu("feth0", 9000);
            p.b.set_mtu("feth1", 9000);
            let err = fails(&["peer", "feth0", "feth1", "--mode", "xdp"]);
            assert!(err.contains("MTU 9000 is above 3504"), "{err}");
        }
        ok(&["peer", "feth0", "feth1", "--mode", "tc"]);
        if !multi_buffer_programs {
            p.a.set_mtu("feth0", 9000);
            p.b.set_mtu("feth1", 9000);
        }
        assert_crosses_len(&p.a, "feth0", &p.b, "feth1", full(9000), 3);
        assert_crosses_len(&p.b, "feth1", &p.a, "feth0", full(9000), 4);
        return;
    }
    let p = up_pair(mode, &["--mtu", "16370"]);
    for (seq, mtu) in [(1, 9000), (2, 16370)] {
        assert_crosses_len(&p.a, "feth0", &p.b, "feth1", full(mtu), seq);
        assert_crosses_len(&p.b, "feth1", &p.a, "feth0", full(mtu), seq + 10);
    }
}

/// Before 5.18 the XDP program on a wire end is single-buffer, and the kernel itself refuses a
/// user end's MTU above a page while it runs; XDP mode is then refused such an MTU everywhere.
fn kernel_refuses_jumbo_in_xdp_mode(p: &feth_tests::pair::Pair, mode: &str) -> bool {
    if mode != "xdp" || feth_tests::kernel_at_least(5, 18) {
        return false;
    }
    assert!(!p.a.try_set_mtu("feth0", 9000), "the kernel refuses MTU 9000 under a single-buffer XDP program");
    assert_eq!(p.a.link("feth0").unwrap().mtu, 1500, "the MTU is unchanged");
    true
}

fn mtu_set_with_rtnetlink_is_honoured(mode: &str) {
    let p = up_pair(mode, &[]);
    if kernel_refuses_jumbo_in_xdp_mode(&p, mode) {
        return;
    }
    p.a.set_mtu("feth0", 9000);
    p.b.set_mtu("feth1", 9000);
    if mode == "xdp" && !feth_tests::xdp_jumbo() {
        // Not crossed, but counted, and `show` says why.
        let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", full(9000), 3, feth_tests::pair::ABSENCE);
        assert!(got.is_none());
        let refused =
            wait_until(WAIT, || port(&show_json(), "feth1")["counters"]["drops"]["rx_refused"]["packets"] == 1);
        assert!(refused, "the frame is counted: {:#}", show_json());
        let show = show_json();
        assert!(show.to_string().contains("frames over MTU 3504 are not crossed"), "{show}");
        return;
    }
    assert_crosses_len(&p.a, "feth0", &p.b, "feth1", full(9000), 3);
    assert_crosses_len(&p.b, "feth1", &p.a, "feth0", full(9000), 4);
    let show = show_json();
    assert_eq!(port(&show, "feth0")["mtu"], 9000);
}

fn frames_over_the_receivers_mtu_are_counted(mode: &str) {
    let p = up_pair(mode, &[]);
    if kernel_refuses_jumbo_in_xdp_mode(&p, mode) {
        // Still counted: a frame over the receiver's MTU, from a sender raised to a page.
        p.a.set_mtu("feth0", 3504);
        let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", full(3504), 5, feth_tests::pair::ABSENCE);
        assert!(got.is_none(), "a frame over feth1's MTU must not arrive");
        let counted =
            wait_until(WAIT, || port(&show_json(), "feth1")["counters"]["drops"]["rx_refused"]["packets"] == 1);
        assert!(counted, "the refused frame is counted on feth1: {:#}", show_json());
        return;
    }
    p.a.set_mtu("feth0", 9000);
    let (_, got) = send_one(&p.a, "feth0", &p.b, "feth1", full(9000), 5, feth_tests::pair::ABSENCE);
    assert!(got.is_none(), "a frame over feth1's MTU must not arrive");
    let counted = wait_until(WAIT, || {
        let show = show_json();
        port(&show, "feth1")["counters"]["drops"]["rx_refused"]["packets"] == 1
    });
    assert!(counted, "the refused frame is counted on feth1: {:#}", show_json());
    let show = show_json();
    let (a, b) = (&port(&show, "feth0")["counters"], &port(&show, "feth1")["counters"]);
    assert_eq!(a["tx"]["packets"], 1);
    assert_eq!(b["rx"]["packets"], 0);
    // Packets and bytes move together: nothing delivered, the whole frame counted as refused.
    assert_eq!(b["rx"]["bytes"], 0);
    assert_eq!(b["drops"]["rx_refused"]["bytes"], a["tx"]["bytes"]);
}

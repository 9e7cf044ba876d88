//! Media (feth's SET_MEDIA / SIOCGIFMEDIA) through `feth-loader media` and `show --json`.
use feth_tests::{
    loader::{fails, ok, show_json, show_state},
    pair::{port, up_pair},
    world,
};

fn media() -> serde_json::Value {
    port(&show_json(), "feth0")["media"].clone()
}

#[test]
fn defaults_limits_and_refusals() {
    let _w = world();
    let _p = up_pair("tc", &[]);
    let m = media();
    assert_eq!(m["list"], serde_json::json!(["autoselect", "10Gbase-T/full", "2500Base-T/full", "5000Base-T/full"]));
    assert_eq!(m["current"], "autoselect");
    assert_eq!(m["active"], true, "active while peered");

    let words27 =
        std::iter::once("autoselect").chain(std::iter::repeat_n("1000baseT", 26)).collect::<Vec<_>>().join(",");
    ok(&["media", "feth0", "--list", &words27]);
    assert_eq!(media()["list"].as_array().unwrap().len(), 27);
    assert_eq!(media()["current"], "autoselect", "replacing the list keeps the current media");

    let before = show_state();
    let words28 = format!("{words27},100baseTX");
    for (args, expect) in [
        (vec!["media", "feth0", "--list", words28.as_str()], "at most 27"),
        (vec!["media", "feth0", "--list", "autoselect,40GbaseWHAT"], "unknown media word"),
        (vec!["media", "feth0", "--current", "100baseTX"], "not in the media list"),
        (vec!["media", "feth0", "--list", "1000baseT"], "not in the media list"),
        (vec!["media", "nosuchif9", "--current", "autoselect"], "no such interface"),
    ] {
        let err = fails(&args);
        assert!(err.contains(expect), "{args:?}: expected {expect:?} in {err:?}");
        assert_eq!(show_state(), before, "{args:?} changed state");
    }

    ok(&["media", "feth0", "--list", "autoselect,1000baseT/half,10GbaseT", "--current", "10Gbase-T"]);
    assert_eq!(media()["current"], "10Gbase-T/full");
    assert_eq!(media()["list"], serde_json::json!(["autoselect", "1000baseT/half", "10Gbase-T/full"]));

    ok(&["unpeer", "feth0"]);
    assert_eq!(media()["active"], false, "inactive while unpeered");
    ok(&["peer", "feth0", "feth1"]);
    assert_eq!(media()["active"], true);
}

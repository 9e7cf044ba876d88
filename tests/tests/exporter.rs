//! `feth-loader exporter` scraped by the real Prometheus (Debian's `prometheus` package): its
//! query API returns the counters feth reports after known traffic. The exporter, Prometheus
//! and the client all live in the world's network namespace (its own loopback).
use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use feth_tests::{
    frames::{PacketSocket, test_frame},
    loader::{self, counters},
    pair::{WAIT, up_pair},
    wait_until, world,
};

/// A process the test started, ended by its pid on drop.
struct Started(Child);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// GET inside the world's network namespace; the body on 200.
fn get(url: &str) -> Option<String> {
    let url = url.to_owned();
    world::current_net().run(move || {
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(2)).build();
        agent.get(&url).call().ok()?.into_string().ok()
    })
}

/// A value of an instant query (the first series), from Prometheus's HTTP API.
fn query(promql: &str) -> Option<f64> {
    let body = get(&format!("http://127.0.0.1:9090/api/v1/query?query={}", encode(promql)))?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// Percent-encoding of a query string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn prometheus_scrapes_the_exporter() {
    if Command::new("prometheus").arg("--version").output().is_err() {
        panic!("Debian's prometheus package is needed (cargo xtask test installs it)");
    }
    let _w = world();
    let p = up_pair("tc", &[]);
    assert!(world::sh("ip link set lo up"), "the world's loopback");
    let exporter = Started(
        loader::command()
            .args(["exporter", "--listen", "127.0.0.1:9469"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the exporter"),
    );
    assert!(wait_until(WAIT, || get("http://127.0.0.1:9469/metrics").is_some()), "the exporter answers");
    // Known traffic: 250 frames from feth0.
    let tx = p.a.run(|| PacketSocket::open("feth0"));
    let mac = feth_tests::pair::mac(&p.a, "feth0");
    for seq in 0..250 {
        tx.send(&test_frame(mac, 100, seq));
    }
    let sent = counters("feth0")["tx"]["packets"].as_u64().unwrap();
    assert!(sent >= 250, "feth counted the frames: {sent}");
    // Prometheus, scraping every second, with its data in a directory of the test's.
    let dir = std::env::temp_dir().join(format!("feth-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: feth\n    static_configs:\n      - targets: ['127.0.0.1:9469']\n",
    )
    .unwrap();
    let prometheus = Started(
        world::command("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg("--web.listen-address=127.0.0.1:9090")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let scraped = wait_until(Duration::from_secs(60), || {
        query("feth_transmit_packets_total{device=\"feth0\"}")
            == Some(counters("feth0")["tx"]["packets"].as_u64().unwrap() as f64)
    });
    let result = std::panic::catch_unwind(|| {
        assert!(scraped, "Prometheus has feth0's transmit count: {:?}", query("feth_transmit_packets_total"));
        assert_eq!(query("up{job=\"feth\"}"), Some(1.0), "the target is up");
        let rx = query("feth_receive_packets_total{device=\"feth1\"}").unwrap();
        let tx = query("feth_transmit_packets_total{device=\"feth0\"}").unwrap();
        assert_eq!(rx, tx, "what feth0 sent, feth1 received");
        assert_eq!(query("feth_carrier{device=\"feth1\"}"), Some(1.0));
        assert_eq!(query("feth_peer_info{device=\"feth0\",peer=\"feth1\",mode=\"tc\"}"), Some(1.0));
        assert_eq!(query("feth_dropped_packets_total{device=\"feth0\",reason=\"no_peer\"}"), Some(0.0));
    });
    drop(prometheus);
    drop(exporter);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

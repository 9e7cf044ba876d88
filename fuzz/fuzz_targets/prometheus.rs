//! Label values feth emits (`stats --format prometheus`, `exporter`): whatever an interface,
//! its peer or its tunnel is called, every sample line lexes as the exposition format says
//! and its `device` label reads back as the name.
#![no_main]
use feth_control::{observe::counters::{PortSnapshot, RemoteReport}, observe::prometheus};
use libfuzzer_sys::{
    arbitrary::{self, Arbitrary},
    fuzz_target,
};

#[derive(Arbitrary, Debug)]
struct Names {
    name: String,
    peer: Option<String>,
    addr: Option<String>,
    tunnel: String,
}

/// The labels of one sample line (`name{k="v",...} value`), unescaped, or why not.
fn labels(line: &str) -> Result<Vec<(String, String)>, String> {
    let Some((_, rest)) = line.split_once('{') else { return Ok(vec![]) };
    let mut out = Vec::new();
    let mut chars = rest.chars();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if chars.next() != Some('"') {
            return Err(format!("no quote after {key:?}"));
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('\\') => value.push('\\'),
                    Some('"') => value.push('"'),
                    Some('n') => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some('"') => break,
                Some('\n') => return Err("a raw newline in a value".into()),
                Some(c) => value.push(c),
                None => return Err("value not closed".into()),
            }
        }
        out.push((key, value));
        match chars.next() {
            Some(',') => continue,
            Some('}') => break,
            other => return Err(format!("{other:?} after a value")),
        }
    }
    let after: String = chars.collect();
    if !after.starts_with(' ') || after.trim().parse::<f64>().is_err() {
        return Err(format!("no value after the labels: {after:?}"));
    }
    Ok(out)
}

fuzz_target!(|n: Names| {
    let remote = n.addr.map(|addr| RemoteReport {
        addr,
        vni: 7,
        port: 4789,
        local: None,
        dev: None,
        tunnel: n.tunnel.clone(),
        tunnel_ifindex: None,
        tunnel_mtu: None,
        text: String::new(),
        handed: Default::default(),
        sent: Default::default(),
        refused: 0,
        received: Default::default(),
    });
    let port = PortSnapshot {
        name: n.name.clone(),
        peer: n.peer,
        mode: "tc",
        link_up: true,
        admin_up: true,
        carrier: true,
        counters: Default::default(),
        remote,
    };
    let text = prometheus::render(&[port]);
    assert!(text.ends_with("# EOF\n"), "{text}");
    // A sample line ends at a newline outside a value: values must hold no raw newline.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let labels = labels(line).unwrap_or_else(|why| panic!("{why}: {line:?}"));
        let device = labels.iter().find(|(k, _)| k == "device").map(|(_, v)| v.as_str());
        assert_eq!(device, Some(n.name.as_str()), "{line:?}");
    }
});

//! Counters in the Prometheus text exposition format (version 0.0.4).
use std::fmt::Write as _;

use crate::counters::PortSnapshot;

fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One sample: interface, an optional extra label (name, value), the value.
type Sample<'a> = (String, Option<(&'a str, &'a str)>, u64);

struct Family<'a> {
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    samples: Vec<Sample<'a>>,
}

/// Renders every port's counters; metric names follow Prometheus conventions
/// (`feth_` prefix, `_total` for counters, base units).
pub fn render(ports: &[PortSnapshot]) -> String {
    let mut families = vec![
        Family {
            name: "feth_transmit_packets_total",
            help: "Frames the interface transmitted into the crossover.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_transmit_bytes_total",
            help: "Bytes of frames that entered the crossover from the interface.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_receive_packets_total",
            help: "Frames the crossover delivered to the interface.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_receive_bytes_total",
            help: "Bytes the crossover handed to the interface.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_dropped_packets_total",
            help: "Frames dropped, by reason.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_transmit_protocol_packets_total",
            help: "Frames transmitted into the crossover, by protocol.",
            kind: "counter",
            samples: vec![],
        },
        Family {
            name: "feth_link_up",
            help: "1 while the interface is peered (link up).",
            kind: "gauge",
            samples: vec![],
        },
        Family {
            name: "feth_impaired_packets_total",
            help: "Frames of the interface corrupted or duplicated on purpose (feth-loader impair), still delivered.",
            kind: "counter",
            samples: vec![],
        },
    ];
    for p in ports {
        let c = &p.counters;
        let name = escape(&p.name);
        let mut push = |i: usize, label: Option<(&'static str, &'static str)>, v: u64| {
            families[i].samples.push((name.clone(), label, v))
        };
        push(0, None, c.tx.packets);
        push(1, None, c.tx.bytes);
        push(2, None, c.rx.packets);
        push(3, None, c.rx.bytes);
        for (reason, v) in [
            ("tx_refused", c.drops.tx_refused),
            ("no_peer", c.drops.tx_no_peer.packets),
            ("redirect_error", c.drops.tx_redirect_error.packets),
            ("rx_refused", c.drops.rx_refused.packets),
            ("loss", c.drops.tx_loss.packets),
            ("loss_every", c.drops.tx_loss_every.packets),
            ("rate", c.drops.tx_rate),
        ] {
            push(4, Some(("reason", reason)), v);
        }
        let pr = &c.tx_protocols;
        for (proto, v) in [
            ("arp", pr.arp),
            ("ipv4", pr.ipv4),
            ("ipv6", pr.ipv6),
            ("other", pr.other),
            ("tcp", pr.tcp),
            ("udp", pr.udp),
            ("icmp", pr.icmp),
            ("icmpv6", pr.icmpv6),
        ] {
            push(5, Some(("protocol", proto)), v);
        }
        push(6, None, u64::from(p.link_up));
        push(7, Some(("reason", "corrupted")), c.corrupted.packets);
        push(7, Some(("reason", "duplicated")), c.duplicated.packets);
    }
    let mut out = String::new();
    for f in families {
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (iface, label, v) in f.samples {
            match label {
                Some((k, val)) => {
                    let _ = writeln!(out, "{}{{interface=\"{iface}\",{k}=\"{val}\"}} {v}", f.name);
                }
                None => {
                    let _ = writeln!(out, "{}{{interface=\"{iface}\"}} {v}", f.name);
                }
            }
        }
    }
    out
}

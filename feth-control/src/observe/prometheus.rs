//! Counters in the Prometheus text format, for `stats --format prometheus` and `exporter`:
//! encoded by prometheus-client (OpenMetrics text, which Prometheus reads), named as
//! node_exporter names interface metrics: a `device` label, `_total` counters, `feth_up` and
//! `feth_carrier` gauges, and `feth_peer_info{device,peer,mode}`; a remote peer adds
//! `feth_remote_info{device,remote,vni,tunnel}` and its VXLAN device's
//! `feth_remote_packets_total{device,direction}`.
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeMetric as _},
    metrics::{MetricType, counter::ConstCounter, gauge::ConstGauge},
    registry::Registry,
};

use crate::observe::counters::PortSnapshot;

/// What one scrape shows: the ports as read at that moment.
#[derive(Debug)]
struct Ports(Vec<PortSnapshot>);

/// One value of a family for a port, with its extra label if any (`reason="loss"`).
type Sample = (Option<(&'static str, &'static str)>, u64);

/// A metric family: name (without `_total`), help, type, and per port its labelled values.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: MetricType,
    samples: fn(&PortSnapshot) -> Vec<Sample>,
}

const FAMILIES: &[Family] = &[
    Family {
        name: "feth_transmit_packets",
        help: "Frames the interface transmitted into the crossover.",
        kind: MetricType::Counter,
        samples: |p| vec![(None, p.counters.tx.packets)],
    },
    Family {
        name: "feth_transmit_bytes",
        help: "Bytes of frames that entered the crossover from the interface.",
        kind: MetricType::Counter,
        samples: |p| vec![(None, p.counters.tx.bytes)],
    },
    Family {
        name: "feth_receive_packets",
        help: "Frames the crossover delivered to the interface.",
        kind: MetricType::Counter,
        samples: |p| vec![(None, p.counters.rx.packets)],
    },
    Family {
        name: "feth_receive_bytes",
        help: "Bytes the crossover handed to the interface.",
        kind: MetricType::Counter,
        samples: |p| vec![(None, p.counters.rx.bytes)],
    },
    Family {
        name: "feth_dropped_packets",
        help: "Frames dropped, by reason.",
        kind: MetricType::Counter,
        samples: |p| {
            let d = &p.counters.drops;
            [
                ("tx_refused", d.tx_refused),
                ("link_down", d.tx_link_down),
                ("no_peer", d.tx_no_peer.packets),
                ("redirect_error", d.tx_redirect_error.packets),
                ("rx_refused", d.rx_refused.packets),
                ("loss", d.tx_loss.packets),
                ("loss_every", d.tx_loss_every.packets),
                ("rate", d.tx_rate),
            ]
            .into_iter()
            .map(|(reason, v)| (Some(("reason", reason)), v))
            .collect()
        },
    },
    Family {
        name: "feth_transmit_protocol_packets",
        help: "Frames transmitted into the crossover, by protocol.",
        kind: MetricType::Counter,
        samples: |p| {
            let pr = &p.counters.tx_protocols;
            [
                ("arp", pr.arp),
                ("ipv4", pr.ipv4),
                ("ipv6", pr.ipv6),
                ("other", pr.other),
                ("tcp", pr.tcp),
                ("udp", pr.udp),
                ("icmp", pr.icmp),
                ("icmpv6", pr.icmpv6),
            ]
            .into_iter()
            .map(|(proto, v)| (Some(("protocol", proto)), v))
            .collect()
        },
    },
    Family {
        name: "feth_impaired_packets",
        help: "Frames of the interface corrupted or duplicated on purpose (feth-loader impair), still delivered.",
        kind: MetricType::Counter,
        samples: |p| {
            vec![
                (Some(("reason", "corrupted")), p.counters.corrupted.packets),
                (Some(("reason", "duplicated")), p.counters.duplicated.packets),
            ]
        },
    },
    Family {
        name: "feth_remote_packets",
        help: "Frames of a remote peer's VXLAN device: handed to it, sent, refused (handed, not sent), received from the other host.",
        kind: MetricType::Counter,
        samples: |p| {
            let Some(r) = &p.remote else { return vec![] };
            [
                ("handed", r.handed.packets),
                ("sent", r.sent.packets),
                ("refused", r.refused),
                ("received", r.received.packets),
            ]
            .into_iter()
            .map(|(direction, v)| (Some(("direction", direction)), v))
            .collect()
        },
    },
    Family {
        name: "feth_up",
        help: "1 while the interface is administratively up (as node_network_up).",
        kind: MetricType::Gauge,
        samples: |p| vec![(None, u64::from(p.admin_up))],
    },
    Family {
        name: "feth_carrier",
        help: "1 while the interface has carrier: peered (as node_network_carrier).",
        kind: MetricType::Gauge,
        samples: |p| vec![(None, u64::from(p.carrier))],
    },
];

impl Collector for Ports {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        for family in FAMILIES {
            let mut metric = encoder.encode_descriptor(family.name, family.help, None, family.kind)?;
            for port in &self.0 {
                for (extra, value) in (family.samples)(port) {
                    let mut labels = vec![("device", label_value(&port.name))];
                    labels.extend(extra.map(|(k, v)| (k, v.to_owned())));
                    let sample = metric.encode_family(&labels)?;
                    match family.kind {
                        MetricType::Counter => ConstCounter::new(value).encode(sample)?,
                        _ => ConstGauge::new(value as i64).encode(sample)?,
                    }
                }
            }
        }
        // Which port is crossed to which, in which mode: joins with the counters on `device`.
        let mut info = encoder.encode_descriptor(
            "feth_peer",
            "The interface's peer and datapath mode (1 while peered).",
            None,
            MetricType::Info,
        )?;
        for port in self.0.iter().filter(|p| p.peer.is_some()) {
            let peer = port.peer.as_deref().unwrap_or_default();
            info.encode_info(&[
                ("device", label_value(&port.name)),
                ("peer", label_value(peer)),
                ("mode", port.mode.to_owned()),
            ])?;
        }
        let mut info = encoder.encode_descriptor(
            "feth_remote",
            "The interface's peer on another host: its address, VNI and the VXLAN device that carries it.",
            None,
            MetricType::Info,
        )?;
        for port in &self.0 {
            let Some(r) = &port.remote else { continue };
            let vni = r.vni.to_string();
            info.encode_info(&[
                ("device", label_value(&port.name)),
                ("remote", label_value(&r.addr)),
                ("vni", vni),
                ("tunnel", label_value(&r.tunnel)),
            ])?;
        }
        Ok(())
    }
}

/// A label value as the exposition format spells it: prometheus-client writes values as they
/// are, and an interface name may hold a quote or a backslash (the kernel allows both), which would end
/// the value early and break the whole scrape.
pub fn label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Every port's metrics as one exposition (ending with `# EOF`).
pub fn render(ports: &[PortSnapshot]) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Ports(ports.to_vec())));
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// The content type of `render`'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `prometheus` fuzz target: prometheus-client wrote `device="a"b"`, which
    /// no scraper reads, for an interface named with a quote (the kernel allows one).
    #[test]
    fn names_with_quotes_and_backslashes_stay_inside_their_label() {
        let port = PortSnapshot {
            name: r#"a"b\c"#.into(),
            peer: Some("p\"".into()),
            mode: "tc",
            link_up: true,
            admin_up: true,
            carrier: true,
            counters: Default::default(),
            remote: None,
        };
        let text = render(&[port]);
        assert!(text.contains(r#"feth_transmit_packets_total{device="a\"b\\c"} 0"#), "{text}");
        assert!(text.contains(r#"feth_peer_info{device="a\"b\\c",peer="p\"",mode="tc"} 1"#), "{text}");
    }
}

//! Live link events of feth interfaces, derived from rtnetlink notifications about the wire
//! ends (a wire end's admin state is the peering, its carrier is the user end's carrier).
use std::collections::HashMap;

use futures::StreamExt as _;
use rtnetlink::{
    constants::RTMGRP_LINK,
    packet_core::NetlinkPayload,
    packet_route::RouteNetlinkMessage,
    sys::{AsyncSocket as _, SocketAddr},
};
use serde::Serialize;

use crate::{
    datapath::crossover::Crossover,
    error::{Context as _, Result},
    kernel::context::Context,
    kernel::rtnl::{LinkView, runtime},
    state::State,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Created { interface: String },
    Peered { interface: String, peer: Option<String> },
    Unpeered { interface: String },
    Carrier { interface: String, up: bool },
    Destroyed { interface: String },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Created { interface } => write!(f, "created {interface}"),
            Event::Peered { interface, peer } => write!(f, "peered {interface} {}", peer.as_deref().unwrap_or("?")),
            Event::Unpeered { interface } => write!(f, "unpeered {interface}"),
            Event::Carrier { interface, up } => write!(f, "carrier {interface} {}", if *up { "up" } else { "down" }),
            Event::Destroyed { interface } => write!(f, "destroyed {interface}"),
        }
    }
}

/// What the monitor last saw of a wire end.
#[derive(Clone, Debug)]
struct Seen {
    interface: String,
    admin_up: bool,
    carrier: bool,
}

/// The current name of the user end of wire end `link`, read from the kernel (the user end may
/// have been renamed or moved since the monitor started).
fn interface_of(ctx: &Context, link: &LinkView) -> Option<String> {
    if !link.is_pair_end() {
        return None;
    }
    let slot = feth_common::wire_slot_of(link.index)?;
    let state = State::read(ctx).ok()?;
    Some(state.by_slot(slot).map_or_else(|| format!("{}-user", link.name), |p| p.name()))
}

/// Name of the port peered with the wire end `ifindex`: one map read, as soon as the event
/// arrives (a later command may already have changed the pairing; then the last peer this
/// monitor saw is named).
fn peer_name(
    ctx: &Context,
    ifindex: u32,
    seen: &HashMap<u32, Seen>,
    last_peer: &mut HashMap<u32, String>,
) -> Option<String> {
    let slot = feth_common::wire_slot_of(ifindex)?;
    let current = Crossover::open_existing(&ctx.state)
        .ok()
        .flatten()
        .and_then(|c| c.port(slot).ok())
        .filter(|c| c.is_peered())
        .and_then(|c| seen.get(&(feth_common::WIRE_IFINDEX_BASE + c.peer_slot)).map(|s| s.interface.clone()));
    if let Some(peer) = &current {
        last_peer.insert(ifindex, peer.clone());
    }
    current.or_else(|| last_peer.get(&ifindex).cloned())
}

/// Events for one new view of a wire end.
fn diff(
    ctx: &Context,
    link: &LinkView,
    seen: &mut HashMap<u32, Seen>,
    last_peer: &mut HashMap<u32, String>,
) -> Vec<Event> {
    if feth_common::wire_slot_of(link.index).is_none() {
        return vec![];
    }
    let known = seen.get(&link.index).map(|s| s.interface.clone());
    let Some(interface) = known.or_else(|| interface_of(ctx, link)) else { return vec![] };
    let mut events = Vec::new();
    let before = seen.get(&link.index).cloned().unwrap_or_else(|| {
        events.push(Event::Created { interface: interface.clone() });
        Seen { interface: interface.clone(), admin_up: false, carrier: false }
    });
    seen.insert(link.index, Seen { interface: interface.clone(), admin_up: link.admin_up, carrier: link.carrier });
    if link.admin_up != before.admin_up {
        events.push(if link.admin_up {
            Event::Peered { interface: interface.clone(), peer: peer_name(ctx, link.index, seen, last_peer) }
        } else {
            Event::Unpeered { interface: interface.clone() }
        });
    }
    if link.carrier != before.carrier {
        events.push(Event::Carrier { interface, up: link.carrier });
    }
    events
}

/// Streams events to `emit` until the process is stopped. `ready` is called once the
/// subscription is in place (nothing that happens after it is missed).
pub fn run(ctx: &Context, mut ready: impl FnMut(), mut emit: impl FnMut(&Event)) -> Result<()> {
    let rt = runtime();
    let _guard = rt.enter();
    let (mut connection, _handle, mut messages) = rtnetlink::new_connection().context("open rtnetlink socket")?;
    connection
        .socket_mut()
        .socket_mut()
        .bind(&SocketAddr::new(0, RTMGRP_LINK))
        .context("subscribe to link notifications")?;
    rt.spawn(connection);
    drop(_guard);

    let mut seen: HashMap<u32, Seen> = HashMap::new();
    let mut last_peer: HashMap<u32, String> = HashMap::new();
    for port in State::read(ctx)?.ports {
        let interface = port.name();
        seen.insert(port.wire.index, Seen { interface, admin_up: port.wire.admin_up, carrier: port.wire.carrier });
    }
    // Remember the current pairs, so a "peered" event read late still names its peer.
    let wires: Vec<u32> = seen.keys().copied().collect();
    for ifindex in wires {
        peer_name(ctx, ifindex, &seen, &mut last_peer);
    }
    ready();
    while let Some((message, _)) = rt.block_on(messages.next()) {
        let NetlinkPayload::InnerMessage(message) = message.payload else { continue };
        match message {
            RouteNetlinkMessage::NewLink(msg) => {
                for event in diff(ctx, &LinkView::from(&msg), &mut seen, &mut last_peer) {
                    emit(&event);
                }
            }
            RouteNetlinkMessage::DelLink(msg) => {
                let Some(gone) = seen.remove(&msg.header.index) else { continue };
                emit(&Event::Destroyed { interface: gone.interface });
                // Deleted behind our back or by a command: either way the repair (unpeering the
                // former peer, carrier down) is what every command does first.
                crate::session::repair_now(ctx)?;
            }
            _ => {}
        }
    }
    Ok(())
}

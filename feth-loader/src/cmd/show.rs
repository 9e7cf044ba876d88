use feth_control::{kernel::context::Context, observe::show, port::on_off, read_state};

#[derive(clap::Args)]
pub struct Args {
    /// Show only this interface.
    name: Option<String>,
    /// Print JSON (an array of objects) instead of text.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let reports = read_state(ctx, |state| {
        let ports = match &args.name {
            Some(name) => vec![state.port(name)?.clone()],
            None => state.ports.clone(),
        };
        ports.iter().map(|p| show::port_report(state, p)).collect::<Result<Vec<_>, _>>()
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for r in &reports {
        let ns = r.netns.as_deref().map(|n| format!(" netns {n}")).unwrap_or_default();
        println!("{}: {}{} mtu {} mac {}", r.name, if r.admin_up { "UP" } else { "DOWN" }, ns, r.mtu, r.mac);
        println!(
            "\tpeer {} link {} mode {}{} hwcsum {} wire {} (slot {})",
            r.peer.as_deref().or(r.remote.as_ref().map(|_| "(remote)")).unwrap_or("-"),
            r.link,
            r.mode,
            match r.hops {
                Some(1) => " (one hop)",
                Some(_) => " (two hops)",
                None => "",
            },
            on_off(r.hwcsum),
            r.wire,
            r.slot
        );
        if let Some(remote) = &r.remote {
            println!(
                "\tremote {}: handed {} sent {} refused {} received {}",
                remote.text, remote.handed.packets, remote.sent.packets, remote.refused, remote.received.packets
            );
        }
        println!("\toffloads tx-checksumming {} gro {}", on_off(r.offloads.tx_checksum), on_off(r.offloads.gro));
        for c in &r.changed {
            println!("\tset by feth: {c}");
        }
        println!(
            "\tmedia {} ({}) list {}",
            r.media.current,
            if r.media.active { "active" } else { "inactive" },
            r.media.list.join(",")
        );
        if !r.impair.text.is_empty() {
            println!("\timpair {}", r.impair.text.join(", "));
        }
        let c = &r.counters;
        println!(
            "\ttx {} pkts {} bytes  rx {} pkts {} bytes  drops tx {} rx {} tx-refused {} link-down {}",
            c.tx.packets,
            c.tx.bytes,
            c.rx.packets,
            c.rx.bytes,
            c.drops.tx_total().packets,
            c.drops.rx_refused.packets,
            c.drops.tx_refused,
            c.drops.tx_link_down
        );
        if c.corrupted.packets + c.duplicated.packets > 0 {
            println!("\tcorrupted {} duplicated {}", c.corrupted.packets, c.duplicated.packets);
        }
    }
    Ok(())
}

use feth_control::{
    kernel::context::Context,
    ops,
    port::remote::{DEFAULT_PORT, DEFAULT_VNI, Endpoint},
    with_state,
};

use super::options::Crossing;

#[derive(clap::Args)]
pub struct PeerArgs {
    a: String,
    /// The local peer; without it, --remote names a peer on another host.
    #[arg(required_unless_present = "remote", conflicts_with = "remote")]
    b: Option<String>,
    #[command(flatten)]
    crossing: Crossing,
    #[command(flatten)]
    remote: RemoteArgs,
}

/// A peer on another host, reached through a VXLAN device feth creates (README, "Remote
/// peers"); the other host runs the same command pointing back.
#[derive(clap::Args)]
pub struct RemoteArgs {
    /// Underlay address of the other host (IPv4 or IPv6).
    #[arg(long, value_name = "ADDR")]
    remote: Option<String>,
    /// VXLAN network identifier, 0 to 16777215; both hosts use the same.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_VNI, requires = "remote")]
    vni: u32,
    /// UDP port of the VXLAN packets.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT, requires = "remote")]
    port: u16,
    /// Source address on this host (default: the kernel's choice for the route).
    #[arg(long, value_name = "ADDR", requires = "remote")]
    local: Option<String>,
    /// Underlay interface the VXLAN packets leave through (its MTU bounds NAME's).
    #[arg(long, value_name = "UNDERLAY", requires = "remote")]
    dev: Option<String>,
}

#[derive(clap::Args)]
pub struct UnpeerArgs {
    name: String,
}

fn address(flag: &str, text: &str) -> anyhow::Result<std::net::IpAddr> {
    text.parse().map_err(|_| anyhow::anyhow!("{flag} {text}: not an IPv4 or IPv6 address"))
}

pub fn run_peer(args: PeerArgs, ctx: &Context) -> anyhow::Result<()> {
    let Some(remote) = &args.remote.remote else {
        let b = args.b.as_deref().expect("clap requires B without --remote");
        with_state(ctx, |state| ops::peer(state, &args.a, b, args.crossing.into()))?;
        return Ok(());
    };
    if args.crossing.given() {
        anyhow::bail!("--mode and --hwcsum choose how a local pair crosses; a remote peer always uses the TC path");
    }
    let at = Endpoint {
        addr: address("--remote", remote)?,
        vni: args.remote.vni,
        port: args.remote.port,
        local: args.remote.local.as_deref().map(|l| address("--local", l)).transpose()?,
        dev: args.remote.dev.clone(),
    };
    at.check_form().map_err(|reason| anyhow::anyhow!("{}: {reason}", args.a))?;
    with_state(ctx, |state| ops::peer_remote(state, &args.a, at))?;
    Ok(())
}

pub fn run_unpeer(args: UnpeerArgs, ctx: &Context) -> anyhow::Result<()> {
    with_state(ctx, |state| ops::unpeer(state, &args.name))?;
    Ok(())
}

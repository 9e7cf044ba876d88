use feth_control::{kernel::context::Context, ops, port::media, read_state, with_state};

#[derive(clap::Args)]
pub struct Args {
    name: String,
    /// Replace the media list: comma-separated words (at most 27), e.g.
    /// autoselect,1000baseT,10Gbase-T/full,100baseTX/half.
    #[arg(long, value_delimiter = ',')]
    list: Option<Vec<String>>,
    /// Select the current media (must be in the list).
    #[arg(long)]
    current: Option<String>,
}

/// Without --list/--current it prints the media, like `ifconfig -m`.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let changing = args.list.is_some() || args.current.is_some();
    let read = |state: &feth_control::State| {
        let port = state.port(&args.name)?;
        Ok((port.record.media.clone(), state.peer_of(port).is_some()))
    };
    let (m, active) = if changing {
        with_state(ctx, |state| {
            let (m, active) = read(state)?;
            let m = media::apply(&args.name, &m, args.list.as_deref(), args.current.as_deref())?;
            ops::set_media(state, &args.name, m.clone())?;
            Ok((m, active))
        })?
    } else {
        read_state(ctx, read)?
    };
    let (current, list) = (m.current, m.list);
    println!(
        "{}: media {} status {}",
        args.name,
        media::format_word(current),
        if active { "active" } else { "inactive" }
    );
    for w in list {
        println!("\tmedia {}", media::format_word(w));
    }
    Ok(())
}

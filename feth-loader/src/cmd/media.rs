use feth_loader::{media, ops, with_state};

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
pub fn run(args: Args) -> anyhow::Result<()> {
    let (current, list, active) = with_state(|state| {
        let port = ops::port(state, &args.name)?.clone();
        let (slot, peered) = (port.slot, port.config.is_peered());
        let crossover = state.crossover()?;
        let mut m = crossover.media(slot)?;
        if args.list.is_some() || args.current.is_some() {
            m = media::apply(&args.name, &m, args.list.as_deref(), args.current.as_deref())?;
            crossover.set_media(slot, &m)?;
        }
        Ok((m.current, m.words().to_vec(), peered))
    })?;
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

//! `apply FILE.toml` and `export`: a bench as a file (feth_control::topology).
use anyhow::Context as _;
use feth_control::{kernel::context::Context, read_state, topology, with_state};

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// The topology file (TOML; `feth-loader export` writes one).
    file: std::path::PathBuf,
    /// Also destroy feth interfaces the file does not name.
    #[arg(long)]
    prune: bool,
    /// Print what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
}

/// Prints each change as it is made (or, with --dry-run, would be).
pub fn apply(args: ApplyArgs, ctx: &Context) -> anyhow::Result<()> {
    // Read with the caller's own permissions (feth_control::kernel::caller).
    let bytes = feth_control::kernel::caller::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let text = String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8 text", args.file.display()))?;
    // The whole file is checked before anything is touched.
    let wanted = topology::Topology::parse(&args.file.display().to_string(), &text, &ctx.features)?;
    let run = |state: &feth_control::State| wanted.plan(state, args.prune);
    let changes = if args.dry_run {
        // Checked against the machine as the apply would be: a dry run that passes is not
        // refused for an underlay or a name it could have seen.
        read_state(ctx, |state| run(state).and_then(|c| topology::check::check(state, &c).map(|()| c)))?
    } else {
        with_state(ctx, |state| {
            let changes = run(state)?;
            topology::apply(state, &changes)?;
            Ok(changes)
        })?
    };
    for change in &changes {
        println!("{}{change}", if args.dry_run { "would " } else { "" });
    }
    if changes.is_empty() {
        println!("nothing to change");
    }
    Ok(())
}

pub fn export(ctx: &Context) -> anyhow::Result<()> {
    print!("{}", read_state(ctx, topology::export)?);
    Ok(())
}

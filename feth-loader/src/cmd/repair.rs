use feth_control::{kernel::context::Context, pending_repairs, repair};

#[derive(clap::Args)]
pub struct Args {
    /// List what would be repaired without changing anything.
    #[arg(long)]
    dry_run: bool,
}

/// Brings the pinned state and the data path in line with the interfaces' records, printing
/// one line per change (every changing command does the same silently first).
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    let changes = if args.dry_run {
        feth_control::kernel::privilege::require(&feth_control::kernel::privilege::READ)?;
        let _lock = ctx.state.lock_shared()?;
        pending_repairs(ctx)?
    } else {
        repair_now(ctx)?
    };
    for change in &changes {
        println!("{change}");
    }
    if changes.is_empty() {
        println!("nothing to repair");
    }
    Ok(())
}

/// `with_state` repairs silently before running a command; here the repair is the command.
fn repair_now(ctx: &Context) -> anyhow::Result<Vec<String>> {
    let mut run = repair::Run::all(true);
    feth_control::with_repaired_state(ctx, &mut run, |_| Ok(()))?;
    Ok(run.changes)
}

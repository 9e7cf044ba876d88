use feth_control::{kernel::context::Context, ops, with_state};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args)]
pub struct DownArgs {
    #[arg(required = true)]
    names: Vec<String>,
}

/// Strict: every name must be a feth interface, checked before any is destroyed.
pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    with_state(ctx, |state| {
        for name in &args.names {
            state.port(name)?;
        }
        let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
        ops::destroy_many(state, &names)
    })?;
    Ok(())
}

/// Idempotent counterpart of `up` (see `ops::down`).
pub fn run_down(args: DownArgs, ctx: &Context) -> anyhow::Result<()> {
    let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
    with_state(ctx, |state| ops::down(state, &names))?;
    Ok(())
}

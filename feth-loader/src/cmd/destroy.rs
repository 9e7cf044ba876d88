use feth_loader::{ops, with_state};

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
pub fn run(args: Args) -> anyhow::Result<()> {
    with_state(|state| {
        for name in &args.names {
            ops::port(state, name)?;
        }
        let names: Vec<&str> = args.names.iter().map(String::as_str).collect();
        ops::destroy_many(state, &names)
    })?;
    Ok(())
}

/// Idempotent counterpart of `up`: names that do not exist are already down; a name that
/// exists but is not a feth interface is still refused.
pub fn run_down(args: DownArgs) -> anyhow::Result<()> {
    with_state(|state| {
        let mut present = Vec::new();
        for name in &args.names {
            match ops::port(state, name) {
                Ok(_) => present.push(name.as_str()),
                Err(feth_loader::FethError::NoSuchInterface(_)) => {}
                Err(e) => return Err(e),
            }
        }
        present.dedup();
        ops::destroy_many(state, &present)
    })?;
    Ok(())
}

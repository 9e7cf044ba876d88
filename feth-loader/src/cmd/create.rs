use feth_loader::{ops, with_state};

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    names: Vec<String>,
    /// Named network namespace for the user ends (created if missing).
    #[arg(long)]
    netns: Option<String>,
    /// MTU of the user ends (72..=16370).
    #[arg(long)]
    mtu: Option<u32>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let specs: Vec<ops::PortSpec> = args
        .names
        .iter()
        .map(|name| ops::PortSpec { name: name.clone(), netns: args.netns.clone(), mtu: args.mtu })
        .collect();
    with_state(|state| {
        // Check all names first: a refusal leaves the state exactly as it was.
        let mut todo = Vec::new();
        for spec in &specs {
            if !ops::check_create(state, spec)? && !todo.iter().any(|s: &&ops::PortSpec| s.name == spec.name) {
                todo.push(spec);
            }
        }
        let mut made = Vec::new();
        for spec in todo {
            if let Err(e) = ops::create(state, spec) {
                for name in made {
                    let _ = ops::destroy(state, name);
                }
                return Err(e);
            }
            made.push(&spec.name);
        }
        Ok(())
    })?;
    Ok(())
}

//! `gen`, `sink` and `bench` in a build without the feature "traffic" (`cargo xtask run` of any
//! other command builds that way, to be quicker): each takes any arguments and is refused in
//! one sentence that says how to get a build that has it.
use feth_control::kernel::context::Context;

/// Whatever the command was given: the real arguments live with the real command.
#[derive(clap::Args)]
pub struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
}

pub type GenArgs = Rest;
pub type SinkArgs = Rest;

/// Refused (exit status 1): the build, not the machine, lacks it.
fn refused(command: &str) -> anyhow::Error {
    feth_control::FethError::Refused {
        name: command.to_owned(),
        reason: format!(
            "this feth-loader was built without the traffic generator; \
             `cargo xtask run -- {command} ...` or `cargo xtask install` builds one with it"
        ),
    }
    .into()
}

pub fn run_gen(_: Rest, _: &Context) -> anyhow::Result<()> {
    Err(refused("gen"))
}

pub fn run_sink(_: Rest, _: &Context) -> anyhow::Result<()> {
    Err(refused("sink"))
}

pub mod bench {
    pub type Args = super::Rest;

    pub fn run(_: Args, _: &super::Context) -> anyhow::Result<()> {
        Err(super::refused("bench"))
    }
}

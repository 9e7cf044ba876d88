//! `feth-loader`: the command line of feth. Each subcommand lives in `cmd/`.
use std::process::ExitCode;

use clap::FromArgMatches as _;

mod cmd;

/// `feth-loader --version`: what ran, for a bug report.
pub fn version() -> String {
    format!(
        "{} (commit {}, eBPF object {})",
        env!("CARGO_PKG_VERSION"),
        env!("FETH_GIT_COMMIT"),
        feth_control::datapath::load::object_id()
    )
}

fn main() -> ExitCode {
    // A closed pipe (`feth-loader stats --watch | head -1`) ends the process quietly, as it
    // does for other Unix tools, instead of a panic on the next print. `flap` opts out: it
    // must plug the cable back in whatever happens to its output.
    // SAFETY: resetting a signal's disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let matches = cmd::command().get_matches();
    let cli = match cmd::Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One sentence: the outermost context plus its cause chain (a cause a message
            // already ends with is not repeated).
            let mut text = String::new();
            for cause in err.chain().map(|e| e.to_string()) {
                if !text.ends_with(&cause) {
                    if !text.is_empty() {
                        text.push_str(": ");
                    }
                    text.push_str(&cause);
                }
            }
            eprintln!("feth-loader: {text}");
            ExitCode::from(exit_status(&err))
        }
    }
}

/// The documented exit status (`cmd::EXIT_STATUS`) of a failed command: the first feth error
/// in the chain decides; an error from elsewhere is a failure of the system.
fn exit_status(err: &anyhow::Error) -> u8 {
    use feth_control::error::Class;
    let class = err.chain().find_map(|e| e.downcast_ref::<feth_control::FethError>()).map(|e| e.class());
    match class {
        Some(Class::Refused) => 1,
        Some(Class::NotPermitted) => 3,
        Some(Class::KernelFeature) => 4,
        Some(Class::Failed) | None => 5,
    }
}

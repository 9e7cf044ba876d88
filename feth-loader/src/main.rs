//! `feth-loader`: the command line of feth. Each subcommand lives in `cmd/`.
use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

mod cmd;

/// `feth-loader --version`: what ran, for a bug report.
fn version() -> String {
    format!(
        "{} (commit {}, eBPF object {})",
        env!("CARGO_PKG_VERSION"),
        env!("FETH_GIT_COMMIT"),
        feth_control::crossover::object_id()
    )
}

fn main() -> ExitCode {
    // A closed pipe (`feth-loader stats --watch | head -1`) ends the process quietly, as it
    // does for other Unix tools, instead of a panic on the next print. `flap` opts out: it
    // must plug the cable back in whatever happens to its output.
    // SAFETY: resetting a signal's disposition before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    // clap keeps the version for the whole run.
    let version: &'static str = Box::leak(version().into_boxed_str());
    let matches = cmd::Cli::command().version(version).get_matches();
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
            ExitCode::FAILURE
        }
    }
}

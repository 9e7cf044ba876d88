//! `feth-loader`: the command line of feth. Each subcommand lives in `cmd/`.
use std::process::ExitCode;

use clap::Parser;

mod cmd;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    match cmd::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One sentence: the outermost context plus its cause chain.
            let chain: Vec<String> = err.chain().map(|e| e.to_string()).collect();
            eprintln!("feth-loader: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

//! `feth-loader`: the command line of feth. Each subcommand lives in `cmd/`.
use std::process::ExitCode;

use clap::Parser;

mod cmd;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
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

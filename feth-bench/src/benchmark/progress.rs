//! Progress of a long benchmark run on stderr: a bar per section naming what is being
//! measured when stderr is a terminal, plain lines otherwise (CI logs, `2>file`).
use std::io::{IsTerminal as _, Write as _};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    terminal: bool,
}

impl Progress {
    /// Bars when stderr is a terminal, plain lines otherwise.
    pub fn new() -> Progress {
        Progress { terminal: std::io::stderr().is_terminal() }
    }

    /// Plain lines whatever stderr is.
    pub fn plain() -> Progress {
        Progress { terminal: false }
    }

    /// A section of `steps` measurements.
    pub fn section(&self, name: &'static str, steps: usize) -> Section {
        let bar = self.terminal.then(|| {
            let bar = ProgressBar::new(steps as u64);
            let style = ProgressStyle::with_template("{prefix:>12} [{bar:30}] {pos}/{len} {elapsed:>4} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(name);
            bar
        });
        Section { name, bar }
    }

    /// A line outside any section.
    pub fn note(&self, line: &str) {
        say(&format!("bench: {line}"));
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

/// Never panics: a closed pipe must not abort the benchmark before it has removed its
/// namespaces and interfaces.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub struct Section {
    name: &'static str,
    bar: Option<ProgressBar>,
}

impl Section {
    /// What is being measured now (the bar's message; nothing in plain mode, where the
    /// result line follows).
    pub fn measuring(&self, what: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(what.to_owned());
        }
    }

    /// `steps` more measurements than the section started with.
    pub fn extend(&self, steps: usize) {
        if let Some(bar) = &self.bar {
            bar.inc_length(steps as u64);
        }
    }

    /// One measurement finished: its result, above the bar or as a plain line.
    pub fn done(&self, result: &str) {
        let line = format!("bench: {} {result}", self.name);
        match &self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => say(&line),
        }
    }
}

impl Drop for Section {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

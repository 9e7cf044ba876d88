//! The README and docs/ as a newcomer meets them: every `sh` block runs as written and every
//! link leads somewhere.
//!
//! Each page runs in a world of its own with its own `/run/netns`, so the namespace names the
//! examples use (`left`, `right`, `hostA`, ...) are the page's and never the machine's. Its
//! blocks run in order, each in a fresh `bash -e -o pipefail`, in one working directory; a
//! `toml` block preceded by `<!-- file: NAME -->` is written to NAME there first. `feth-loader`
//! is the binary under test, and `sudo` runs its arguments (the suite runs as root). Blocks
//! marked `console` (commands for a real machine: building, installing, several hosts) and
//! `text` (output) are not run.
use std::{
    io::Read as _,
    os::unix::{fs::PermissionsExt as _, process::CommandExt as _},
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use feth_tests::{loader, world};

/// The longest one block may take (the slowest, traffic.md's, takes a few seconds).
const BLOCK_LIMIT: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_path_buf()
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

/// A fenced block: its info string, its text, the file it is written to (if marked), and the
/// line it starts on.
#[derive(Debug)]
struct Block {
    info: String,
    text: String,
    file: Option<String>,
    /// `<!-- needs: Linux X.Y -->` just before the block: it runs on X.Y and later only.
    needs: Option<(u32, u32)>,
    line: usize,
}

fn blocks(markdown: &str) -> Vec<Block> {
    let mut found = Vec::new();
    // The block being read, its indent, and the marker seen just before a block.
    let mut open: Option<(Block, usize)> = None;
    let mut marker: Option<String> = None;
    let mut needs: Option<(u32, u32)> = None;
    for (i, raw) in markdown.lines().enumerate() {
        let line = raw.trim_start();
        match open.take() {
            None if line.starts_with("```") => {
                let info = line.trim_start_matches('`').trim().to_owned();
                let block = Block { info, text: String::new(), file: marker.take(), needs: needs.take(), line: i + 1 };
                open = Some((block, raw.len() - line.len()));
            }
            None => {
                if let Some(name) = line.strip_prefix("<!-- file: ").and_then(|r| r.strip_suffix(" -->")) {
                    marker = Some(name.to_owned());
                } else if let Some(v) = line.strip_prefix("<!-- needs: Linux ").and_then(|r| r.strip_suffix(" -->")) {
                    let (major, minor) = v.split_once('.').expect("needs: Linux X.Y");
                    needs = Some((major.parse().expect("a major version"), minor.parse().expect("a minor version")));
                } else if !line.is_empty() {
                    (marker, needs) = (None, None);
                }
            }
            Some((block, _)) if line.starts_with("```") => found.push(block),
            Some((mut block, indent)) => {
                block.text.push_str(raw.get(indent..).unwrap_or(line));
                block.text.push('\n');
                open = Some((block, indent));
            }
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    found
}

#[test]
fn the_block_reader_reads_what_the_pages_write() {
    let page = "intro\n\n```sh\necho a\n```\n\n<!-- file: x.toml -->\n```toml\nk = 1\n```\n\n  ```console\n  make\n  ```\n\n<!-- needs: Linux 5.18 -->\n```sh\ngen\n```\n";
    let found = blocks(page);
    assert_eq!(found.len(), 4);
    assert_eq!((found[0].needs, found[3].needs), (None, Some((5, 18))));
    assert_eq!((found[0].info.as_str(), found[0].text.as_str(), found[0].line), ("sh", "echo a\n", 3));
    assert_eq!(found[1].file.as_deref(), Some("x.toml"));
    assert_eq!((found[2].info.as_str(), found[2].text.as_str()), ("console", "make\n"));
}

/// A directory holding `feth-loader` (the binary under test) and `sudo` (runs its arguments).
fn tools_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("create bin/");
    std::os::unix::fs::symlink(loader::binary(), bin.join("feth-loader")).expect("link feth-loader");
    std::fs::write(bin.join("sudo"), "#!/bin/sh\nexec \"$@\"\n").expect("write sudo");
    std::fs::set_permissions(bin.join("sudo"), std::fs::Permissions::from_mode(0o755)).expect("chmod sudo");
    bin
}

/// Runs `script` in the current world from `dir`; `Err` is what it printed when it failed or
/// took too long. Every process it left behind (its process group) is ended.
fn run_block(script: &str, dir: &Path, bin: &Path) -> Result<(), String> {
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    // Entering the world's mount namespace moves the working directory to its root: the
    // script changes into the page's directory itself.
    let script = format!("cd '{}'\n{script}", dir.display());
    let mut cmd = world::command("bash");
    cmd.args(["-e", "-o", "pipefail", "-c", &script])
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().expect("start bash");
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let readers = [
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    ];
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if start.elapsed() > BLOCK_LIMIT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Our own child's group, by its id: whatever the block left running in the background.
    // SAFETY: a plain kill(2) of a process group this test created.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let [out, err] = readers.map(|r| r.join().expect("reader"));
    match status {
        Some(s) if s.success() => Ok(()),
        Some(s) => Err(format!("{s}\n--- stdout\n{out}--- stderr\n{err}")),
        None => Err(format!("still running after {BLOCK_LIMIT:?}\n--- stdout\n{out}--- stderr\n{err}")),
    }
}

/// Runs every block of one page in a world of its own; returns the failures.
fn run_page(page: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(page).expect("read page");
    let found = blocks(&text);
    let runnable = found.iter().any(|b| b.info == "sh" || b.file.is_some());
    if !runnable {
        return Vec::new();
    }
    let _world = world::World::with_own_named_netns();
    let dir = std::env::temp_dir().join(format!(
        "feth-docs-{}-{}",
        std::process::id(),
        page.display().to_string().replace('/', "_")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the page's directory");
    let bin = tools_dir(&dir);
    let mut failures = Vec::new();
    for block in &found {
        let at = format!("{}:{}", page.display(), block.line);
        if let Some((major, minor)) = block.needs
            && !feth_tests::kernel_at_least(major, minor)
        {
            // Later blocks build on this one: the page stops here on this kernel.
            eprintln!("NOTE: {at} and what follows it need Linux {major}.{minor}: not run on this kernel");
            break;
        }
        if let Some(file) = &block.file {
            std::fs::write(dir.join(file), &block.text).expect("write the block's file");
        } else if block.info == "sh" {
            eprintln!("{at}: running");
            if let Err(e) = run_block(&block.text, &dir, &bin) {
                failures.push(format!("{at}: {e}"));
                // Later blocks build on this one.
                break;
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    failures
}

#[test]
fn every_shell_example_runs_as_written() {
    let failures: Vec<String> = pages().iter().flat_map(|p| run_page(p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn every_block_says_whether_it_runs() {
    let mut unknown = Vec::new();
    for page in pages() {
        for b in blocks(&std::fs::read_to_string(&page).expect("read page")) {
            let known = match b.info.as_str() {
                "sh" | "console" | "text" | "yaml" => true,
                "toml" => b.file.is_some(),
                _ => false,
            };
            if !known {
                unknown.push(format!(
                    "{}:{}: ```{} (sh, console, text, yaml, or toml with a file marker)",
                    page.display(),
                    b.line,
                    b.info
                ));
            }
        }
    }
    assert!(unknown.is_empty(), "{}", unknown.join("\n"));
}

#[test]
fn every_link_leads_somewhere() {
    let mut broken = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("read page");
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or("");
            if target.is_empty() || target.contains("://") {
                continue;
            }
            if !page.parent().expect("a directory").join(target).exists() {
                broken.push(format!("{}: {target}", page.display()));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_stays_short() {
    let size = std::fs::metadata(root().join("README.md")).expect("README.md").len();
    assert!(size < 15_000, "README.md is {size} bytes: move detail into docs/");
}

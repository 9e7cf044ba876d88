//! What the package ships beside the binary, generated from the clap definitions so they never
//! drift from it: shell completions (`feth-loader completions bash`) and man pages
//! (`feth-loader man DIR`, hidden: `cargo xtask dist` calls it).
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap_complete::Shell;
use clap_mangen::roff::{Roff, bold, roman};

use super::EXIT_STATUS;

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

#[derive(clap::Args)]
pub struct ManArgs {
    /// Directory the pages are written to (feth-loader.1, feth-loader-peer.1, ...).
    dir: PathBuf,
}

pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut super::command(), "feth-loader", &mut script);
    let mut script = String::from_utf8(script)?;
    if args.shell == Shell::Bash {
        // clap_complete's bash script spells a hyphenated command's state two ways (the loop
        // says feth__loader__subcmd__peer, the case arms feth__subcmd__loader__subcmd__peer),
        // so no subcommand's options complete (clap-rs/clap#6421, open). Spell them alike.
        script = script.replace("feth__subcmd__loader", "feth__loader");
    }
    print!("{script}");
    Ok(())
}

pub fn man(args: ManArgs) -> anyhow::Result<()> {
    feth_control::kernel::caller::as_caller(|| std::fs::create_dir_all(&args.dir))
        .with_context(|| format!("create {}", args.dir.display()))?;
    let mut cmd = super::command();
    cmd.build();
    write_pages(&cmd, "feth-loader", "feth-loader", &args.dir)
}

/// One page per command, named as `man feth-loader-peer` finds it; hidden commands get none.
/// `name` is the page's (feth-loader-peer), `bin` what the user types (feth-loader peer).
fn write_pages(cmd: &clap::Command, name: &str, bin: &str, dir: &Path) -> anyhow::Result<()> {
    let page = cmd.clone().name(name.to_owned()).bin_name(bin.to_owned());
    let man =
        clap_mangen::Man::new(page).manual("feth manual").source(format!("feth-loader {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    if cmd.has_subcommands() {
        man.render_subcommands_section(&mut out)?;
    }
    // The exit statuses hold for every command; the top page has them as a section of its own
    // (clap would print them under EXTRA), and every page points there.
    let mut statuses = Roff::new();
    statuses.control("SH", ["EXIT STATUS"]);
    if name == "feth-loader" {
        for (code, what) in EXIT_STATUS {
            statuses.control("TP", []).text([bold(code.to_string())]).text([roman(what)]);
        }
    } else {
        statuses.text([roman("See "), bold("feth-loader"), roman("(1).")]);
    }
    statuses.to_writer(&mut out)?;
    if cmd.get_version().is_some() {
        man.render_version_section(&mut out)?;
    }
    let path = dir.join(format!("{name}.1"));
    feth_control::kernel::caller::as_caller(|| std::fs::write(&path, &out))
        .with_context(|| format!("write {}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set() && s.get_name() != "help") {
        let sub_name = sub.get_name();
        write_pages(sub, &format!("{name}-{sub_name}"), &format!("{bin} {sub_name}"), dir)?;
    }
    Ok(())
}

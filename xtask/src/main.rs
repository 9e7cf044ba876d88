//! Orchestration: set-up of a fresh machine, build, run, test, install, bench.
//!
//! Runs on the machine's default stable toolchain with std only; everything that needs the
//! pinned nightly is driven from here.
use std::{env, process::ExitCode};

mod cargo;
mod fuzz;
mod host;
mod kernels;
mod package;
mod setup;
mod vm;

const USAGE: &str = "usage: cargo xtask <command>
  setup              install what is missing (pinned nightly + rust-src, llvm-22-dev, bpf-linker)
  build              setup, then build feth-loader (release)
  run -- ARGS...     build, then run feth-loader ARGS as root
  test [-- ARGS...]  build, then every test (unit + kernel end-to-end, as root) on this kernel,
                     then (without ARGS) fuzz and test-package
  test --kernel K [-- ARGS...]
                     the same inside QEMU on kernel K: debian-5.10, debian-6.1 or debian-6.12
                     (fetched from Debian's archive into ~/.cache/feth-vm) or a release in /boot
  vm --kernel K -- COMMAND...
                     run a shell command as root inside QEMU on kernel K (the host's files
                     visible, changes discarded)
  install            build, then copy feth-loader to /usr/local/bin
  dist               build the Debian package (target/debian/feth-loader_*.deb): binary, man
                     pages, completions, README
  test-package       dist, then install it into a clean Debian 12 root (debootstrap) and use it
                     there: --version, man, completion, up + ping + down
  fuzz [SECONDS]     run every fuzz target (fuzz/) from its seeds for SECONDS (default 30)
  lint               rustfmt check, then clippy -D warnings on user space and on the eBPF crate
  bench [-- ARGS...] build, then feth-loader bench ARGS";

/// How long `test` fuzzes each target.
const FUZZ_SECONDS: u32 = 30;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (command, rest) = match args.split_first() {
        Some((c, rest)) => (c.as_str(), rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest)),
        None => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let result = match command {
        "setup" => setup::run(),
        "build" => setup::run().and_then(|()| cargo::build_loader()).map(drop),
        "run" => {
            setup::run().and_then(|()| cargo::build_loader_for(rest)).and_then(|bin| cargo::run_as_root(&bin, rest))
        }
        "test" => setup::run().and_then(|()| setup::test_tools()).and_then(|()| match rest {
            [flag, kernel, rest @ ..] if flag == "--kernel" => {
                vm::test(kernel, rest.strip_prefix(&["--".to_owned()]).unwrap_or(rest))
            }
            // The whole suite also tests the package as users get it; a filtered run does not.
            [] => cargo::test(rest).and_then(|()| fuzz::run(FUZZ_SECONDS)).and_then(|()| package::test()),
            _ => cargo::test(rest),
        }),
        "vm" => match rest {
            [flag, kernel, command @ ..] if flag == "--kernel" && !command.is_empty() => {
                vm::shell(kernel, &command.strip_prefix(&["--".to_owned()]).unwrap_or(command).join(" "))
            }
            _ => Err(format!("vm takes --kernel K -- COMMAND\n{USAGE}")),
        },
        "fuzz" => setup::run().and_then(|()| match rest {
            [] => fuzz::run(FUZZ_SECONDS),
            [s] => s.parse().map_err(|_| format!("fuzz takes seconds, not {s:?}")).and_then(fuzz::run),
            _ => Err(format!("fuzz takes at most one argument\n{USAGE}")),
        }),
        "lint" => setup::run().and_then(|()| setup::lint_toolchain()).and_then(|()| cargo::lint()),
        "dist" => setup::run().and_then(|()| package::dist()).map(drop),
        "test-package" => setup::run().and_then(|()| package::test()),
        "install" => setup::run().and_then(|()| cargo::build_full_loader()).and_then(|bin| cargo::install(&bin)),
        "bench" => {
            setup::run().and_then(|()| setup::bench_tools()).and_then(|()| cargo::build_full_loader()).and_then(|bin| {
                let mut args = vec!["bench".to_owned()];
                args.extend_from_slice(rest);
                cargo::run_as_root(&bin, &args)
            })
        }
        _ => Err(format!("unknown command {command:?}\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

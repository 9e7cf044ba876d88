use std::os::fd::AsRawFd as _;

use feth_control::{datapath::load, kernel::context::Context, read_state, with_state};

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Action {
    /// Log every crossed frame (feth's debug switch).
    On,
    /// Stop logging (the default).
    Off,
    /// Stream the log until stopped.
    Follow,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(value_enum)]
    action: Action,
}

/// Prints aya-log records on stdout, one line each.
struct Printer;

impl log::Log for Printer {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        println!("{}", record.args());
    }
    fn flush(&self) {}
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    match args.action {
        Action::On | Action::Off => {
            let on = matches!(args.action, Action::On);
            with_state(ctx, |state| {
                let crossover = state.crossover.as_mut().ok_or(feth_control::FethError::NoPorts)?;
                crossover.update_settings(|s| s.log = u32::from(on))
            })?;
            Ok(())
        }
        Action::Follow => {
            let ids = read_state(ctx, |state| {
                state.crossover.as_ref().ok_or(feth_control::FethError::NoPorts)?;
                load::program_ids(&state.ctx.state)
            })?;
            // Both programs write to the object's one log ring buffer.
            let mut logger = aya_log::EbpfLogger::init_from_id_with_logger(ids[0], Printer)?;
            eprintln!("feth-loader: following the data path log (switch it with `feth-loader log on|off`)");
            loop {
                let mut pfd = libc::pollfd { fd: logger.as_raw_fd(), events: libc::POLLIN, revents: 0 };
                // SAFETY: one valid pollfd.
                unsafe { libc::poll(&mut pfd, 1, 1000) };
                logger.flush();
            }
        }
    }
}

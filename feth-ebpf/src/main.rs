//! feth data path: programs attached to the hidden wire ends that cross frames over to the peer.
#![no_std]
#![no_main]
// One instruction in assembly: the atomic fetch-and-add of `loss-every` (see impair.rs).
#![feature(asm_experimental_arch)]

/// Logs a frame through aya-log when feth's debug switch is on; compiled out without the
/// `log` feature.
#[cfg(feature = "log")]
macro_rules! frame_log {
    ($ctx:expr, $settings:expr, $($arg:tt)*) => {
        if $settings.log != 0 {
            aya_log_ebpf::debug!($ctx, $($arg)*);
        }
    };
}
#[cfg(not(feature = "log"))]
macro_rules! frame_log {
    ($($arg:tt)*) => {};
}

mod capture;
mod counters;
mod impair;
mod maps;
mod parsing;
mod tc;
mod xdp;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";

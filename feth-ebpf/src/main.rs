//! feth data path: programs attached to the hidden wire ends that cross frames over to the peer.
#![no_std]
#![no_main]

mod counters;
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

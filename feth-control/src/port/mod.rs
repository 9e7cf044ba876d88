//! The model of a port, without the kernel: its durable record, names and MAC addresses,
//! media, impairments and remote endpoint, as users type them and as the record keeps them.
//! Pure and unit-tested; the fuzz targets parse through it.
pub mod impair;
pub mod media;
pub mod mtu;
pub mod names;
pub mod record;
pub mod remote;

/// A switch as users type and read it (`--hwcsum on`, `show`'s offloads, repair's sentences).
pub fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}

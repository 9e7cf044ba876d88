//! Global switches of the data path (`FETH_SETTINGS`, one entry).

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// feth's `debug` sysctl: non-zero logs every frame through aya-log.
    pub log: u32,
    /// Non-zero while `feth-loader capture` runs: the captured slot plus one, and
    /// `capture::DROPS_ONLY` (was padding, so older pins read it as 0: off).
    pub capture: u32,
    /// While a capture runs: the MTU of the captured port's peer's user end (0: unknown), so
    /// that frames its veth will refuse are captured as `capture::reason::TOO_BIG`.
    pub capture_mtu: u32,
    pub _reserved: u32,
}

const _: () = assert!(core::mem::size_of::<Settings>() == 16);

#[cfg(feature = "user")]
// SAFETY: plain integers of fixed size (`repr(C)`); any bit pattern is a valid value.
unsafe impl aya::Pod for Settings {}

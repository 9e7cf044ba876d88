//! Global switches of the data path (`FETH_SETTINGS`, one entry).

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// feth's `debug` sysctl: non-zero logs every frame through aya-log.
    pub log: u32,
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<Settings>() == 8);

#[cfg(feature = "user")]
unsafe impl aya::Pod for Settings {}

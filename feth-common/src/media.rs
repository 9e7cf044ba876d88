//! feth's media (SIOCGIFMEDIA/SET_MEDIA): a list of ifmedia words and the current one.

/// feth keeps at most this many media words per interface (if_fake.c: FAKE_MEDIA_MAX).
pub const MEDIA_MAX: usize = 27;

/// Value of `FETH_MEDIA`, indexed by slot. Words are BSD ifmedia words
/// (`IFM_ETHER | subtype | options`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortMedia {
    /// Number of valid entries in `list`.
    pub count: u32,
    pub current: u32,
    pub list: [u32; MEDIA_MAX],
    pub _pad: u32,
}

const _: () = assert!(core::mem::size_of::<PortMedia>() == 4 * (2 + MEDIA_MAX + 1));

impl PortMedia {
    pub fn words(&self) -> &[u32] {
        &self.list[..(self.count as usize).min(MEDIA_MAX)]
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for PortMedia {}

//! Per-port configuration shared by the data path and the control plane.

/// Sentinel for "no peer" in [`PortConfig::peer_slot`].
pub const NO_PEER: u32 = u32::MAX;

/// Which datapath crosses this port's frames over.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Xdp = 1,
    Tc = 2,
}

impl Mode {
    pub const fn from_raw(raw: u32) -> Option<Mode> {
        match raw {
            1 => Some(Mode::Xdp),
            2 => Some(Mode::Tc),
            _ => None,
        }
    }
}

/// Value of `FETH_PORTS`, keyed by the wire end's ifindex.
///
/// Plain integers only (no enums or `Option` in map memory): the kernel side reads raw bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// Index of this port in `FETH_CROSSOVER` and `FETH_STATS`; also the wire end's name suffix.
    pub slot: u32,
    /// Slot of the peer port, or [`NO_PEER`].
    pub peer_slot: u32,
    /// [`Mode`] as its raw value.
    pub mode: u32,
    /// Largest frame (L2 payload after the Ethernet header, i.e. the MTU) the peer's user end accepts.
    pub peer_mtu: u32,
}

const _: () = assert!(core::mem::size_of::<PortConfig>() == 16);

impl PortConfig {
    pub const fn is_peered(&self) -> bool {
        self.peer_slot != NO_PEER
    }
}

#[cfg(feature = "user")]
unsafe impl aya::Pod for PortConfig {}

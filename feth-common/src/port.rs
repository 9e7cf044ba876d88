//! Per-port configuration shared by the data path and the control plane.

/// Sentinel for "no peer" in [`PortConfig::peer_slot`].
pub const NO_PEER: u32 = u32::MAX;

/// Which datapath crosses this port's frames over.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Xdp = 1,
    Tc = 2,
    /// The TC program on a netkit pair (6.7+): it runs when the user end transmits, and the
    /// peer's netkit delivers into its user end. One hop, no veth. Chosen when the interface
    /// is created (a netkit pair cannot become a veth pair), so never switched to or from.
    Netkit = 3,
}

/// Datapath of a new pair when none is asked for (README: "Choosing a mode").
pub const DEFAULT_MODE: Mode = Mode::Tc;

impl Mode {
    /// The name users type and read (`--mode xdp|tc`, `show`, `stats`).
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Xdp => "xdp",
            Mode::Tc => "tc",
            Mode::Netkit => "netkit",
        }
    }

    pub const fn from_raw(raw: u32) -> Option<Mode> {
        match raw {
            1 => Some(Mode::Xdp),
            2 => Some(Mode::Tc),
            3 => Some(Mode::Netkit),
            _ => None,
        }
    }

    /// Whether the TC program crosses this mode's frames as skbs, which keep GSO/TSO and
    /// checksum offload (TC and netkit; XDP loses CHECKSUM_PARTIAL).
    pub const fn is_skb(self) -> bool {
        !matches!(self, Mode::Xdp)
    }
}

/// `xdp`, `tc` or `netkit`, as [`Mode::name`] spells them.
impl core::str::FromStr for Mode {
    type Err = ();

    fn from_str(text: &str) -> Result<Mode, ()> {
        match text {
            "xdp" => Ok(Mode::Xdp),
            "tc" => Ok(Mode::Tc),
            "netkit" => Ok(Mode::Netkit),
            _ => Err(()),
        }
    }
}

/// Value of `FETH_PORTS`, indexed by slot. An all-zero entry (mode 0) is an unused slot.
///
/// Plain integers only (no enums or `Option` in map memory): the kernel side reads raw bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PortConfig {
    /// Index of this port in the per-slot maps; also the wire end's name suffix.
    pub slot: u32,
    /// Slot of the peer port, or [`NO_PEER`].
    pub peer_slot: u32,
    /// [`Mode`] as its raw value. Both ports of a pair share it. The XDP program crosses only
    /// in XDP mode and passes frames on otherwise, so a mode switch is one write per port.
    pub mode: u32,
    /// ifindex of the peer's wire end (what the TC program redirects to), 0 when unpeered.
    /// XDP mode uses `FETH_CROSSOVER` instead (devmaps are for `bpf_redirect_map` only).
    pub peer_ifindex: u32,
    /// Which impairments apply to what this port transmits ([`impair`] bits); 0 keeps the
    /// data path to one branch.
    pub impair: u32,
    /// Frames lost at random, in parts per million.
    pub loss_ppm: u32,
    /// Exactly one frame in this many is lost (Apple feth's `tx_drops`).
    pub loss_every: u32,
    /// Frames with one bit flipped, in parts per million.
    pub corrupt_ppm: u32,
    /// Frames sent twice, in parts per million (TC mode).
    pub duplicate_ppm: u32,
    /// How TC mode reaches the peer ([`hop`] bits); 0 is through the peer's wire end.
    pub hop: u32,
    /// With [`hop::ONE`]: the longest frame (not GSO) the peer's user end accepts, its MTU
    /// plus an Ethernet header and a VLAN tag, as the veth judges it. The one hop skips that
    /// judgement, so a longer frame takes the two hops and the veth refuses and counts it.
    pub peer_limit: u32,
    /// With [`hop::ONE`]: the peer user end's MAC address. Unicast frames to it, and every
    /// group frame, take the one hop; frames to any other address take the two, so the
    /// receiving veth judges them against the address it has now.
    pub peer_mac: [u8; 6],
    pub _pad: [u8; 2],
}

const _: () = assert!(core::mem::size_of::<PortConfig>() == 52);

/// Bits of [`PortConfig::hop`].
pub mod hop {
    /// TC mode delivers into the peer's user end with `bpf_redirect_peer`: one hop from the
    /// sender's wire end, no veth transmit and no backlog queue. Set only where the kernel
    /// counts such frames in the receiver's own counters (6.7), the user end lies in another
    /// namespace than the wire ends (the kernel refuses the hop within one), is up (the hop
    /// would deliver into a down device), and has no XDP program (which only the veth hop
    /// runs). The loader sets it from what it last saw of the peer: every changing command
    /// and `repair` bring it up to date.
    pub const ONE: u32 = 1;
}

/// Bits of [`PortConfig::impair`].
pub mod impair {
    pub const LOSS: u32 = 1;
    pub const LOSS_EVERY: u32 = 2;
    pub const CORRUPT: u32 = 4;
    pub const DUPLICATE: u32 = 8;
}

/// Probabilities are parts of this many.
pub const PPM: u32 = 1_000_000;

impl PortConfig {
    pub const fn is_peered(&self) -> bool {
        self.peer_slot != NO_PEER
    }

    /// True for a slot the loader registered (unused array entries are all zero).
    pub const fn is_registered(&self) -> bool {
        self.mode != 0
    }

    /// An unpeered port's configuration in `mode`.
    pub const fn unpeered(slot: u32, mode: Mode) -> Self {
        PortConfig {
            slot,
            peer_slot: NO_PEER,
            mode: mode as u32,
            peer_ifindex: 0,
            impair: 0,
            loss_ppm: 0,
            loss_every: 0,
            corrupt_ppm: 0,
            duplicate_ppm: 0,
            hop: 0,
            peer_limit: 0,
            peer_mac: [0; 6],
            _pad: [0; 2],
        }
    }
}

#[cfg(feature = "user")]
// SAFETY: plain integers of fixed size (`repr(C)`); any bit pattern is a valid value.
unsafe impl aya::Pod for PortConfig {}

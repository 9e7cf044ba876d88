//! Flags shared by `up` and `peer`.
use feth_common::Mode;
use feth_control::ops::PeerOptions;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum ModeArg {
    /// Native XDP with a devmap redirect: best packet rate; checksums in software, no GSO.
    Xdp,
    /// TC redirect (cls_bpf on the wire ends): keeps GSO/TSO and checksum offload; best for TCP.
    Tc,
    /// The TC program on netkit pairs (Linux 6.7+ built with netkit): one hop, no veth; keeps
    /// offloads. Chosen when the interfaces are created.
    Netkit,
}

impl From<ModeArg> for Mode {
    fn from(m: ModeArg) -> Mode {
        match m {
            ModeArg::Xdp => Mode::Xdp,
            ModeArg::Tc => Mode::Tc,
            ModeArg::Netkit => Mode::Netkit,
        }
    }
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

#[derive(clap::Args, Clone, Copy, Debug)]
pub struct Crossing {
    /// Datapath of the pair (default for a new pair: tc).
    #[arg(long, value_enum)]
    mode: Option<ModeArg>,
    /// feth's hardware-checksum mode: transmit checksum offload on the user ends (tc, netkit).
    #[arg(long, value_enum)]
    hwcsum: Option<OnOff>,
}

impl Crossing {
    /// Whether any flag was given.
    pub fn given(&self) -> bool {
        self.mode.is_some() || self.hwcsum.is_some()
    }
}

impl From<Crossing> for PeerOptions {
    fn from(c: Crossing) -> Self {
        PeerOptions { mode: c.mode.map(Mode::from), hwcsum: c.hwcsum.map(|h| matches!(h, OnOff::On)) }
    }
}

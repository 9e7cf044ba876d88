//! The two ethtool features feth changes on a user end, through the SIOCETHTOOL ioctl of the
//! calling thread's namespace (no `ethtool` binary needed).
use std::{
    io,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use crate::error::{Context as _, Result};

const ETHTOOL_GTXCSUM: u32 = 0x16;
const ETHTOOL_STXCSUM: u32 = 0x17;
const ETHTOOL_GGRO: u32 = 0x2b;
const ETHTOOL_SGRO: u32 = 0x2c;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

#[repr(C)]
struct IfReq {
    name: [u8; libc::IFNAMSIZ],
    data: *mut EthtoolValue,
    _pad: [u8; 16],
}

/// Feature toggles feth cares about.
#[derive(Clone, Copy, Debug)]
pub enum Feature {
    /// Transmit checksum offload: must be off in XDP mode, since XDP_REDIRECT loses
    /// CHECKSUM_PARTIAL and stack TCP would arrive with bad checksums.
    TxChecksum,
    /// GRO gives a veth NAPI, without which it silently drops XDP-redirected frames.
    Gro,
}

impl Feature {
    fn commands(self) -> (u32, u32) {
        match self {
            Feature::TxChecksum => (ETHTOOL_GTXCSUM, ETHTOOL_STXCSUM),
            Feature::Gro => (ETHTOOL_GGRO, ETHTOOL_SGRO),
        }
    }
}

fn ioctl(ifname: &str, cmd: u32, data: u32) -> io::Result<u32> {
    // SAFETY: plain socket creation; the fd is owned below.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh, valid fd.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut value = EthtoolValue { cmd, data };
    let mut req = IfReq { name: [0; libc::IFNAMSIZ], data: &mut value, _pad: [0; 16] };
    req.name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    // SAFETY: req points at a valid ifreq whose data points at a valid ethtool_value.
    if unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCETHTOOL as libc::Ioctl, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value.data)
}

pub fn get(ifname: &str, feature: Feature) -> Result<bool> {
    ioctl(ifname, feature.commands().0, 0)
        .map(|v| v != 0)
        .context(format!("{ifname}: read ethtool feature {feature:?}"))
}

pub fn set(ifname: &str, feature: Feature, on: bool) -> Result<()> {
    ioctl(ifname, feature.commands().1, on as u32)
        .map(drop)
        .context(format!("{ifname}: set ethtool feature {feature:?}"))
}

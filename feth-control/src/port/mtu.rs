//! feth's MTU range and the frames XDP mode can cross.
use feth_common::Mode;

use crate::{
    error::{FethError, Result},
    kernel::features::Features,
};

/// feth's MTU range (if_fake.c: FETH_MTU_MIN .. FETH_MTU_MAX).
pub const MIN: u32 = 72;
pub const MAX: u32 = 16370;
pub const DEFAULT: u32 = 1500;

/// The largest MTU a frame of which crosses in XDP mode without multi-buffer XDP: one page
/// minus the XDP headroom and the skb's shared info, minus the Ethernet header (the limit
/// veth itself applies to single-buffer XDP).
pub const XDP_LINEAR: u32 = 3504;

/// Refuses an MTU outside feth's range.
pub fn check(name: &str, mtu: u32) -> Result<()> {
    if (MIN..=MAX).contains(&mtu) {
        Ok(())
    } else {
        Err(FethError::MtuOutOfRange { name: name.to_owned(), mtu, min: MIN, max: MAX })
    }
}

/// The largest MTU XDP mode crosses on a kernel with `features`.
pub fn xdp_max(features: &Features) -> u32 {
    if features.xdp_jumbo { MAX } else { XDP_LINEAR }
}

/// Refuses an MTU XDP mode cannot cross on a kernel with `features`.
pub fn check_xdp(name: &str, mode: Mode, mtu: u32, features: &Features) -> Result<()> {
    let max = xdp_max(features);
    if mode == Mode::Xdp && mtu > max {
        return Err(FethError::XdpMtu { name: name.to_owned(), mtu, max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdp_limit_follows_the_kernel() {
        let old = Features::NONE;
        let new = Features { xdp_jumbo: true, ..old };
        assert!(check_xdp("feth0", Mode::Xdp, XDP_LINEAR, &old).is_ok());
        assert!(check_xdp("feth0", Mode::Xdp, XDP_LINEAR + 1, &old).is_err());
        assert!(check_xdp("feth0", Mode::Xdp, MAX, &new).is_ok());
        assert!(check_xdp("feth0", Mode::Tc, MAX, &old).is_ok());
        assert!(check("feth0", MIN - 1).is_err() && check("feth0", MAX + 1).is_err());
    }
}

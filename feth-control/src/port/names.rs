//! Interface names and the feth MAC address rule.
use feth_common::names::{TUNNEL_PREFIX, WIRE_PREFIX};

use crate::error::{FethError, Result};

/// IFNAMSIZ minus the terminating NUL.
pub const MAX_NAME_LEN: usize = 15;

/// Refuses a name before anything is created: too long, unusable by the kernel, or reserved for
/// wire ends.
pub fn validate(name: &str) -> Result<()> {
    let bad = |reason| Err(FethError::BadName { name: name.to_owned(), reason });
    if name.len() > MAX_NAME_LEN {
        return Err(FethError::NameTooLong(name.to_owned()));
    }
    if name.is_empty() {
        return bad("empty");
    }
    if name == "." || name == ".." {
        return bad("reserved by the kernel");
    }
    if name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control()) {
        return bad("contains '/', ':' or whitespace");
    }
    if name.starts_with(WIRE_PREFIX) {
        return bad("the prefix 'fwire' is reserved for feth's hidden wire ends");
    }
    if name.starts_with(TUNNEL_PREFIX) && name[TUNNEL_PREFIX.len()..].bytes().all(|b| b.is_ascii_digit()) {
        return bad("names 'fvx<number>' are reserved for feth's VXLAN devices");
    }
    Ok(())
}

/// feth's MAC: the bytes "feth" followed by the unit number as two big-endian bytes
/// (`feth3` -> 66:65:74:68:00:03). Any other name, or a `feth<unit>` whose address another
/// port already has (it was renamed), gets "fetH" and the port's slot instead
/// (66:65:74:48:HI:LO): slots are unique, and no `feth<unit>` address has that fourth byte.
pub fn mac_address(name: &str, slot: u32, taken: impl Fn(&[u8; 6]) -> bool) -> [u8; 6] {
    let unit = name
        .strip_prefix("feth")
        // Canonical digits only: feth07 must not get feth7's address.
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()) && (d == &"0" || !d.starts_with('0')))
        .and_then(|digits| digits.parse::<u16>().ok());
    if let Some(unit) = unit {
        let [hi, lo] = unit.to_be_bytes();
        let mac = [b'f', b'e', b't', b'h', hi, lo];
        if !taken(&mac) {
            return mac;
        }
    }
    let [hi, lo] = (slot as u16).to_be_bytes();
    [b'f', b'e', b't', b'H', hi, lo]
}

pub fn format_mac(mac: &[u8]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Name of the hidden wire end for a slot.
pub fn wire_name(slot: u32) -> String {
    format!("{WIRE_PREFIX}{slot}")
}

/// Slot of a wire end, if `name` is one.
pub fn wire_slot(name: &str) -> Option<u32> {
    name.strip_prefix(WIRE_PREFIX)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_follows_feth_unit() {
        assert_eq!(format_mac(&mac_address("feth3", 9, |_| false)), "66:65:74:68:00:03");
        assert_eq!(format_mac(&mac_address("feth258", 9, |_| false)), "66:65:74:68:01:02");
        assert_eq!(format_mac(&mac_address("bench", 7, |_| false)), "66:65:74:48:00:07");
        assert_eq!(format_mac(&mac_address("feth", 5, |_| false)), "66:65:74:48:00:05");
        assert_eq!(format_mac(&mac_address("feth07", 5, |_| false)), "66:65:74:48:00:05");
        assert_eq!(format_mac(&mac_address("feth70000", 5, |_| false)), "66:65:74:48:00:05");
        let feth7 = mac_address("feth7", 1, |_| false);
        assert_eq!(format_mac(&mac_address("feth7", 2, |m| *m == feth7)), "66:65:74:48:00:02");
    }

    #[test]
    fn names_are_checked() {
        assert!(validate("feth0").is_ok());
        assert!(matches!(validate("a-very-long-name"), Err(FethError::NameTooLong(_))));
        assert!(validate("fwire3").is_err());
        assert!(validate("a/b").is_err());
        assert!(validate("").is_err());
        assert_eq!(wire_slot(&wire_name(42)), Some(42));
        assert_eq!(wire_slot("feth0"), None);
    }
}

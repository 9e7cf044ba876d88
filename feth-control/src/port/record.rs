//! The durable record of a port, kept in its wire end's `ifalias`.
//!
//! The kernel keeps an alias exactly as long as the interface, so what a user configured
//! (peer, mode, hwcsum, media) survives the loss of every pin and is the truth the pinned maps
//! are rebuilt from (ARCHITECTURE.md, "State"). Names are not recorded: the user end is found
//! through the veth link, so renames and namespace moves need no update.
//!
//! Format (at most 255 bytes, `IFALIASZ - 1`):
//! `feth/2 peer=<slot>|- mode=xdp|tc|netkit csum=0|1 media=<current>/<word>,<word>,...` (hex words),
//! then ` imp=...` when the port is impaired (`Impairment::encode`) and ` rem=...` when its
//! peer is remote (`Remote::encode`).
use feth_common::{
    DEFAULT_MODE, Mode,
    names::{WIRE_ALIAS_V1_PREFIX, WIRE_RECORD_PREFIX},
};

use crate::{
    port::impair::Impairment,
    port::media::{PortMedia, default_media},
    port::remote::Remote,
};

/// `IFALIASZ` minus the terminating NUL.
pub const ALIAS_MAX: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Slot of the peer port (its wire end is `WIRE_IFINDEX_BASE + slot`), if peered.
    pub peer: Option<u32>,
    pub mode: Mode,
    /// feth's hwcsum: transmit checksum offload on the user end, honoured in TC mode.
    pub hwcsum: bool,
    pub media: PortMedia,
    /// What this port's transmissions suffer (`feth-loader impair`).
    pub impair: Impairment,
    /// A peer on another host (`peer NAME --remote`); `peer` is then `None`.
    pub remote: Option<Remote>,
}

impl Default for Record {
    fn default() -> Self {
        Record {
            peer: None,
            mode: DEFAULT_MODE,
            hwcsum: true,
            media: default_media(),
            impair: Impairment::default(),
            remote: None,
        }
    }
}

/// How a wire end's record was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A record of this layout.
    Current,
    /// Layout 1's alias recorded only the user end's name; everything else lived in the pins:
    /// the record is to be rebuilt (upgrade).
    V1,
    /// No alias, or one feth did not write: a creation cut short before the record was set.
    Missing,
}

impl Record {
    pub fn encode(&self) -> String {
        let peer = self.peer.map_or("-".to_owned(), |p| p.to_string());
        let words: Vec<String> = self.media.list.iter().map(|w| format!("{w:x}")).collect();
        let mut text = format!(
            "{WIRE_RECORD_PREFIX} peer={peer} mode={} csum={} media={:x}/{}",
            self.mode.name(),
            u8::from(self.hwcsum),
            self.media.current,
            words.join(",")
        );
        if !self.impair.is_none() {
            text.push_str(" imp=");
            text.push_str(&self.impair.encode());
        }
        if let Some(remote) = &self.remote {
            text.push_str(" rem=");
            text.push_str(&remote.encode());
        }
        text
    }

    /// Whether the record fits the alias (a long media list leaves less room for impairments).
    pub fn fits(&self) -> bool {
        self.encode().len() <= ALIAS_MAX
    }

    /// The record an alias holds, or the defaults with why there is none.
    pub fn parse(alias: Option<&str>) -> (Record, Recorded) {
        let Some(alias) = alias else { return (Record::default(), Recorded::Missing) };
        if alias.starts_with(WIRE_ALIAS_V1_PREFIX) {
            return (Record::default(), Recorded::V1);
        }
        match alias.strip_prefix(WIRE_RECORD_PREFIX).and_then(parse_fields) {
            Some(record) => (record, Recorded::Current),
            None => (Record::default(), Recorded::Missing),
        }
    }
}

fn parse_fields(text: &str) -> Option<Record> {
    let mut record = Record::default();
    for field in text.split_whitespace() {
        let (key, value) = field.split_once('=')?;
        match key {
            "peer" => record.peer = if value == "-" { None } else { Some(value.parse().ok()?) },
            "mode" => record.mode = value.parse().ok()?,
            "csum" => record.hwcsum = value == "1",
            "media" => {
                let (current, list) = value.split_once('/')?;
                let word = |w: &str| u32::from_str_radix(w, 16).ok();
                record.media.current = word(current)?;
                record.media.list = list.split(',').map(word).collect::<Option<_>>()?;
            }
            "imp" => record.impair = Impairment::decode(value)?,
            "rem" => record.remote = Some(Remote::decode(value)?),
            // A later layout may add fields; an older reader keeps what it knows.
            _ => {}
        }
    }
    Some(record)
}

/// Whether `hwcsum` can be honoured in `mode`; `Err` says why not. Only TC mode keeps transmit
/// checksum offload.
pub fn hwcsum_fits(hwcsum: Option<bool>, mode: Mode) -> std::result::Result<(), &'static str> {
    if hwcsum == Some(true) && mode == Mode::Xdp {
        Err("XDP_REDIRECT loses CHECKSUM_PARTIAL, so XDP mode checksums in software")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::port::media::{MEDIA_MAX, parse_word};

    #[test]
    fn round_trip() {
        let mut r = Record { peer: Some(4095), mode: Mode::Xdp, hwcsum: false, ..Record::default() };
        assert_eq!(Record::parse(Some(&r.encode())), (r.clone(), Recorded::Current));
        r.peer = None;
        assert_eq!(Record::parse(Some(&r.encode())), (r, Recorded::Current));
    }

    #[test]
    fn longest_record_fits_an_alias() {
        let widest = parse_word("p", "5000Base-T/half").unwrap();
        let r = Record {
            peer: Some(u32::MAX - 1),
            mode: Mode::Xdp,
            hwcsum: false,
            media: PortMedia { current: widest, list: vec![widest; MEDIA_MAX] },
            impair: Impairment::default(),
            remote: None,
        };
        assert!(r.encode().len() <= ALIAS_MAX, "{} bytes", r.encode().len());
        assert_eq!(Record::parse(Some(&r.encode())), (r, Recorded::Current));
    }

    #[test]
    fn every_impairment_fits_with_the_default_media() {
        let r = Record {
            peer: Some(u32::MAX - 1),
            impair: Impairment {
                loss_ppm: 999_999,
                loss_every: u32::MAX,
                corrupt_ppm: 999_999,
                duplicate_ppm: 999_999,
                rate_bytes: crate::port::impair::RATE_MAX_BYTES,
                burst_bytes: 1 << 30,
                delay_us: 86_400_000_000,
                jitter_us: 86_400_000_000,
            },
            ..Record::default()
        };
        assert!(r.fits(), "{} bytes", r.encode().len());
        assert_eq!(Record::parse(Some(&r.encode())), (r, Recorded::Current));
    }

    #[test]
    fn other_aliases() {
        assert_eq!(Record::parse(Some("feth:feth0@ns")).1, Recorded::V1);
        assert_eq!(Record::parse(None).1, Recorded::Missing);
        assert_eq!(Record::parse(Some("my uplink")).1, Recorded::Missing);
        assert_eq!(Record::parse(Some("feth/2 peer=x")).1, Recorded::Missing);
    }
}

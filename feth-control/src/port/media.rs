//! feth media words (SET_MEDIA / SIOCGIFMEDIA), spelled as ifconfig and ethtool users know them.

use crate::error::{FethError, Result};

/// BSD `IFM_ETHER`.
const IFM_ETHER: u32 = 0x20;
/// Subtype bits.
const IFM_TMASK: u32 = 0x1f;
const IFM_FDX: u32 = 0x0010_0000;
const IFM_HDX: u32 = 0x0020_0000;

/// (XNU if_media.h subtype, ifconfig name, other accepted spellings).
const SUBTYPES: &[(u32, &str, &[&str])] = &[
    (0, "autoselect", &["auto"]),
    (3, "10baseT/UTP", &["10baseT", "10base-T"]),
    (6, "100baseTX", &["100baseT", "100base-TX"]),
    (11, "1000baseSX", &["1000base-SX"]),
    (14, "1000baseLX", &["1000base-LX"]),
    (16, "1000baseT", &["1000base-T", "1GbaseT"]),
    (18, "10Gbase-SR", &["10GbaseSR", "10000baseSR"]),
    (19, "10Gbase-LR", &["10GbaseLR", "10000baseLR"]),
    (20, "10Gbase-CX4", &["10GbaseCX4", "10000baseCX4"]),
    (21, "10Gbase-T", &["10GbaseT", "10000baseT"]),
    (22, "2500Base-T", &["2500BaseT", "2500baseT"]),
    (23, "5000Base-T", &["5000BaseT", "5000baseT"]),
];

/// feth keeps at most this many media words per interface (if_fake.c: FAKE_MEDIA_MAX).
pub const MEDIA_MAX: usize = 27;

/// An interface's media list and current media. Words are BSD ifmedia words
/// (`IFM_ETHER | subtype | options`); they are kept in the wire end's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortMedia {
    pub current: u32,
    pub list: Vec<u32>,
}

impl PortMedia {
    pub fn words(&self) -> &[u32] {
        &self.list
    }
}

fn bad(name: &str, why: String) -> FethError {
    FethError::BadMedia { name: name.to_owned(), reason: why }
}

/// Parses `WORD[/full|/half]` (case-insensitive; full duplex when not said, none for autoselect).
pub fn parse_word(port: &str, text: &str) -> Result<u32> {
    let (base, duplex) = match text.rsplit_once('/') {
        Some((b, d)) if ["full", "half", "full-duplex", "half-duplex"].contains(&d.to_ascii_lowercase().as_str()) => {
            (b, Some(d))
        }
        _ => (text, None),
    };
    let (subtype, _, _) = SUBTYPES
        .iter()
        .find(|(_, name, aliases)| {
            name.eq_ignore_ascii_case(base) || aliases.iter().any(|a| a.eq_ignore_ascii_case(base))
        })
        .ok_or_else(|| bad(port, format!("unknown media word {text:?} (known: {})", known())))?;
    let duplex_bits = match (subtype, duplex.map(|d| d.to_ascii_lowercase())) {
        (0, None) => 0,
        (0, Some(_)) => return Err(bad(port, format!("{text:?}: autoselect takes no duplex"))),
        (_, None) => IFM_FDX,
        (_, Some(d)) if d.starts_with("full") => IFM_FDX,
        (_, Some(_)) => IFM_HDX,
    };
    Ok(IFM_ETHER | subtype | duplex_bits)
}

fn known() -> String {
    SUBTYPES.iter().map(|(_, n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// `10Gbase-T/full`, `autoselect`.
pub fn format_word(word: u32) -> String {
    let subtype = word & IFM_TMASK;
    let name = SUBTYPES.iter().find(|(s, _, _)| *s == subtype).map_or("unknown", |(_, n, _)| n);
    match (word & IFM_FDX != 0, word & IFM_HDX != 0) {
        (true, _) => format!("{name}/full"),
        (_, true) => format!("{name}/half"),
        _ => name.to_owned(),
    }
}

/// feth's defaults: autoselect, 10GbaseT, 2500BaseT, 5000BaseT (full duplex); current autoselect.
pub fn default_media() -> PortMedia {
    let list = vec![IFM_ETHER, IFM_ETHER | 21 | IFM_FDX, IFM_ETHER | 22 | IFM_FDX, IFM_ETHER | 23 | IFM_FDX];
    PortMedia { current: IFM_ETHER, list }
}

/// Applies `--list` and `--current` to `media`, refusing anything out of feth's rules.
pub fn apply(port: &str, media: &PortMedia, list: Option<&[String]>, current: Option<&str>) -> Result<PortMedia> {
    let mut next = media.clone();
    if let Some(words) = list {
        if words.is_empty() {
            return Err(bad(port, "the media list is empty".into()));
        }
        if words.len() > MEDIA_MAX {
            return Err(bad(port, format!("{} media words given, at most {MEDIA_MAX} allowed", words.len())));
        }
        next.list = words.iter().map(|w| parse_word(port, w)).collect::<Result<Vec<_>>>()?;
    }
    if let Some(word) = current {
        next.current = parse_word(port, word)?;
    }
    // Replacing the list does not change the current media (feth), but current must be listed.
    if !next.words().contains(&next.current) {
        return Err(bad(port, format!("current media {} is not in the media list", format_word(next.current))));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        for w in ["autoselect", "10Gbase-T/full", "1000baseT/half", "2500Base-T/full"] {
            assert_eq!(format_word(parse_word("p", w).unwrap()), w);
        }
        assert_eq!(parse_word("p", "10GbaseT").unwrap(), parse_word("p", "10gbase-t/Full").unwrap());
        assert!(parse_word("p", "40GbaseWHAT").is_err());
        assert!(parse_word("p", "auto/full").is_err());
    }

    #[test]
    fn defaults_match_feth() {
        let names: Vec<String> = default_media().words().iter().map(|w| format_word(*w)).collect();
        assert_eq!(names, ["autoselect", "10Gbase-T/full", "2500Base-T/full", "5000Base-T/full"]);
        assert_eq!(format_word(default_media().current), "autoselect");
    }

    #[test]
    fn limits_are_enforced() {
        let m = default_media();
        let ok: Vec<String> = std::iter::repeat_n("1000baseT".to_owned(), 26).chain(["autoselect".into()]).collect();
        assert!(apply("p", &m, Some(&ok), None).is_ok());
        let too_many: Vec<String> = std::iter::repeat_n("1000baseT".to_owned(), 28).collect();
        assert!(apply("p", &m, Some(&too_many), None).is_err());
        assert!(apply("p", &m, None, Some("100baseTX")).is_err(), "current outside the list");
        // The list may drop the current word only together with a new current.
        let list = vec!["1000baseT".to_owned()];
        assert!(apply("p", &m, Some(&list), None).is_err());
        assert!(apply("p", &m, Some(&list), Some("1000baseT")).is_ok());
    }
}

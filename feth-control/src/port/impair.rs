//! Cable faults (`feth-loader impair`): what users type (tc-netem's spelling), what the record
//! keeps, and what the data path reads. An impairment applies to what a port transmits.
use std::time::Duration;

use feth_common::{Mode, PPM, PortConfig, impair};

use crate::{
    error::{FethError, Result},
    kernel::features::Features,
};

/// One port's impairments; all zero is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Impairment {
    pub loss_ppm: u32,
    pub loss_every: u32,
    pub corrupt_ppm: u32,
    pub duplicate_ppm: u32,
    /// Bytes per second; 0 is no limit (`shaper`).
    pub rate_bytes: u64,
    pub burst_bytes: u64,
    /// Delay and jitter in microseconds (`shaper`, netem).
    pub delay_us: u64,
    pub jitter_us: u64,
}

/// Impairments as users spell them: the `impair` flags, a topology file's `impair` table.
/// A field left out keeps the setting it is applied to.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_every: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrupt: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub burst: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
}

impl Spec {
    /// `now` with the spelled settings replacing theirs; `name` is the port, for errors.
    pub fn apply(&self, name: &str, now: Impairment) -> Result<Impairment> {
        let mut next = now;
        if let Some(p) = &self.loss {
            next.loss_ppm = parse_probability(name, "loss", p)?;
        }
        if let Some(n) = self.loss_every {
            next.loss_every = n;
        }
        if let Some(p) = &self.corrupt {
            next.corrupt_ppm = parse_probability(name, "corrupt", p)?;
        }
        if let Some(p) = &self.duplicate {
            next.duplicate_ppm = parse_probability(name, "duplicate", p)?;
        }
        if let Some(r) = &self.rate {
            if r.trim() == "0" {
                next.rate_bytes = 0;
                next.burst_bytes = 0;
            } else {
                next.rate_bytes = parse_rate(name, r)?;
                next.burst_bytes = match &self.burst {
                    Some(b) => parse_size(name, b)?,
                    None => default_burst(next.rate_bytes),
                };
            }
        }
        if let Some(d) = &self.delay {
            let us = |text: &str, what: &str| -> Result<u64> {
                if text.trim() == "0" {
                    return Ok(0);
                }
                Ok(parse_duration(&format!("{name}: {what}"), text)?.as_micros() as u64)
            };
            next.delay_us = us(d, "--delay")?;
            next.jitter_us = match &self.jitter {
                Some(j) => us(j, "--jitter")?,
                None => 0,
            };
            if next.delay_us == 0 {
                next.jitter_us = 0;
            }
        }
        Ok(next)
    }

    /// The spelling of `i` (what `export` writes): applied to none, it gives `i` back.
    pub fn of(i: &Impairment) -> Spec {
        let some = |on: bool, text: String| on.then_some(text);
        Spec {
            loss: some(i.loss_ppm != 0, percent(i.loss_ppm)),
            loss_every: (i.loss_every != 0).then_some(i.loss_every),
            corrupt: some(i.corrupt_ppm != 0, percent(i.corrupt_ppm)),
            duplicate: some(i.duplicate_ppm != 0, percent(i.duplicate_ppm)),
            rate: some(i.rate_bytes != 0, rate(i.rate_bytes)),
            burst: some(i.rate_bytes != 0 && i.delay_us == 0, format!("{}b", i.burst_bytes)),
            delay: some(i.delay_us != 0, duration(i.delay_us)),
            jitter: some(i.jitter_us != 0, duration(i.jitter_us)),
        }
    }
}

/// The shaper's bucket when `--burst` is not given: 20 ms at the rate, at least 16 KiB
/// (several full-size frames).
pub fn default_burst(rate_bytes: u64) -> u64 {
    (rate_bytes / 50).max(16 * 1024)
}

/// The fastest rate the shaper is set to.
pub const RATE_MAX_BYTES: u64 = 100_000_000_000 / 8;

impl Impairment {
    pub fn is_none(&self) -> bool {
        *self == Impairment::default()
    }

    /// What the root qdisc must do (`shaper`): rate, burst, delay, jitter; `None` for nothing.
    pub fn queue(&self) -> Option<(u64, u64, u64, u64)> {
        let q = (self.rate_bytes, self.burst_bytes, self.delay_us, self.jitter_us);
        (q != (0, 0, 0, 0)).then_some(q)
    }

    /// The data path's switch bits (rate and delay are the shaper's, not the data path's).
    pub fn bits(&self) -> u32 {
        [
            (self.loss_ppm != 0, impair::LOSS),
            (self.loss_every != 0, impair::LOSS_EVERY),
            (self.corrupt_ppm != 0, impair::CORRUPT),
            (self.duplicate_ppm != 0, impair::DUPLICATE),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .fold(0, |bits, (_, bit)| bits | bit)
    }

    pub fn apply_to(&self, config: &mut PortConfig) {
        config.impair = self.bits();
        config.loss_ppm = self.loss_ppm;
        config.loss_every = self.loss_every;
        config.corrupt_ppm = self.corrupt_ppm;
        config.duplicate_ppm = self.duplicate_ppm;
    }

    /// The record's `imp=` value: only what is set, `l<ppm>,e<n>,c<ppm>,d<ppm>,r<B/s>,b<B>`.
    pub fn encode(&self) -> String {
        let parts = [
            ('l', u64::from(self.loss_ppm)),
            ('e', u64::from(self.loss_every)),
            ('c', u64::from(self.corrupt_ppm)),
            ('d', u64::from(self.duplicate_ppm)),
            ('r', self.rate_bytes),
            ('b', self.burst_bytes),
            ('y', self.delay_us),
            ('j', self.jitter_us),
        ];
        parts.iter().filter(|(_, v)| *v != 0).map(|(k, v)| format!("{k}{v}")).collect::<Vec<_>>().join(",")
    }

    pub fn decode(text: &str) -> Option<Impairment> {
        let mut i = Impairment::default();
        for part in text.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = part.split_at_checked(1)?;
            let value: u64 = value.parse().ok()?;
            let small = || u32::try_from(value).ok();
            match key {
                "l" => i.loss_ppm = small()?,
                "e" => i.loss_every = small()?,
                "c" => i.corrupt_ppm = small()?,
                "d" => i.duplicate_ppm = small()?,
                "r" => i.rate_bytes = value,
                "b" => i.burst_bytes = value,
                "y" => i.delay_us = value,
                "j" => i.jitter_us = value,
                _ => {}
            }
        }
        Some(i)
    }

    /// Refuses what the port's mode cannot do, naming the mode that can.
    pub fn check(&self, name: &str, mode: Mode, features: &Features) -> Result<()> {
        let refuse = |reason: &str| Err(FethError::Refused { name: name.to_owned(), reason: reason.to_owned() });
        if self.loss_every != 0 && !features.atomic_fetch {
            return Err(FethError::KernelFeature(format!(
                "{name}: loss-every needs Linux 5.12 (an atomic fetch-and-add in BPF counts every frame exactly); this kernel is {}",
                crate::kernel::features::release()
            )));
        }
        if self.duplicate_ppm != 0 && mode == Mode::Xdp {
            return refuse(
                "duplication needs TC mode (an XDP frame can only go one way); `feth-loader peer` with --mode tc switches",
            );
        }
        Ok(())
    }

    /// For `show`: one phrase per impairment, as the user spelled it.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.loss_ppm != 0 {
            out.push(format!("loss {}", percent(self.loss_ppm)));
        }
        if self.loss_every != 0 {
            out.push(format!("loss-every {}", self.loss_every));
        }
        if self.corrupt_ppm != 0 {
            out.push(format!("corrupt {}", percent(self.corrupt_ppm)));
        }
        if self.duplicate_ppm != 0 {
            out.push(format!("duplicate {}", percent(self.duplicate_ppm)));
        }
        if self.rate_bytes != 0 && self.delay_us == 0 {
            out.push(format!("rate {} burst {}B", rate(self.rate_bytes), self.burst_bytes));
        }
        if self.rate_bytes != 0 && self.delay_us != 0 {
            out.push(format!("rate {}", rate(self.rate_bytes)));
        }
        if self.delay_us != 0 {
            let jitter =
                if self.jitter_us != 0 { format!(" jitter {}", duration(self.jitter_us)) } else { String::new() };
            out.push(format!("delay {}{jitter}", duration(self.delay_us)));
        }
        out
    }
}

/// `200ms`, `1.5s`, `250us` from microseconds.
pub fn duration(us: u64) -> String {
    match us {
        u if u.is_multiple_of(1_000_000) => format!("{}s", u / 1_000_000),
        u if u.is_multiple_of(1_000) => format!("{}ms", u / 1_000),
        u => format!("{u}us"),
    }
}

/// `12.5%` from parts per million.
pub fn percent(ppm: u32) -> String {
    let text = format!("{:.4}", f64::from(ppm) / f64::from(PPM) * 100.0);
    format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
}

/// A rate in tc's units, the largest that divides it exactly.
pub fn rate(bytes_per_second: u64) -> String {
    let bits = bytes_per_second * 8;
    for (unit, size) in [("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)] {
        if bits.is_multiple_of(size) {
            return format!("{}{unit}", bits / size);
        }
    }
    format!("{bits}bit")
}

fn bad(name: &str, what: &str, text: &str, why: &str) -> FethError {
    FethError::Invalid(format!("{name}: {what} {text:?}: {why}"))
}

/// `10%`, `0.5%` or a bare fraction `0.1`, to parts per million (at most 100%).
pub fn parse_probability(name: &str, what: &str, text: &str) -> Result<u32> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 10_000.0),
        None => (text, f64::from(PPM)),
    };
    let value: f64 =
        number.trim().parse().map_err(|_| bad(name, what, text, "not a number (for example 10% or 0.5%)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad(name, what, text, "must be between 0% and 100%"));
    }
    let ppm = (value * scale).round();
    if ppm > f64::from(PPM) {
        return Err(bad(name, what, text, "must be between 0% and 100%"));
    }
    if ppm == 0.0 && value > 0.0 {
        return Err(bad(name, what, text, "is below the finest step, 0.0001%"));
    }
    Ok(ppm as u32)
}

/// A rate as tc spells it: `100mbit`, `1gbit`, `512kbit`, `8000bit` or a bare number (bits
/// per second), `bps`/`kbps`/`mbps`/`gbps` (bytes per second). Returns bytes per second.
pub fn parse_rate(name: &str, text: &str) -> Result<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let value: f64 = number.parse().map_err(|_| bad(name, "rate", text, "not a rate (for example 100mbit)"))?;
    let bits_per_unit = match unit {
        "" | "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        _ => return Err(bad(name, "rate", text, "unknown unit (bit, kbit, mbit, gbit, bps, kbps, mbps, gbps)")),
    };
    let bytes = (value * bits_per_unit / 8.0).round();
    if !(1000.0..=RATE_MAX_BYTES as f64).contains(&bytes) {
        return Err(bad(name, "rate", text, "must be between 8kbit and 100gbit"));
    }
    Ok(bytes as u64)
}

/// A size as tc spells it: bytes, or with `k`/`kb`, `m`/`mb` (binary multiples).
pub fn parse_size(name: &str, text: &str) -> Result<u64> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !c.is_ascii_digit()).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let value: u64 = number.parse().map_err(|_| bad(name, "burst", text, "not a size (for example 64kb)"))?;
    let scale = match unit {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        _ => return Err(bad(name, "burst", text, "unknown unit (b, kb, mb)")),
    };
    let bytes = value.saturating_mul(scale);
    if !(1514..=1 << 30).contains(&bytes) {
        return Err(bad(name, "burst", text, "must be between 1514 bytes (one frame) and 1 GiB"));
    }
    Ok(bytes)
}

/// `200ms`, `2s`, `1.5s`, `500us`.
pub fn parse_duration(what: &str, text: &str) -> Result<Duration> {
    let lower = text.trim().to_ascii_lowercase();
    let split = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let (number, unit) = lower.split_at(split);
    let invalid = |why: &str| FethError::Invalid(format!("{what} {text:?}: {why}"));
    let value: f64 = number.parse().map_err(|_| invalid("not a duration (for example 200ms or 2s)"))?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        _ => return Err(invalid("unknown unit (us, ms, s, min)")),
    };
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 86_400.0 {
        return Err(invalid("must be more than 0 and at most a day"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        assert_eq!(parse_probability("a", "loss", "10%").unwrap(), 100_000);
        assert_eq!(parse_probability("a", "loss", "0.5%").unwrap(), 5_000);
        assert_eq!(parse_probability("a", "loss", "100%").unwrap(), PPM);
        assert!(parse_probability("a", "loss", "100.1%").is_err());
        assert!(parse_probability("a", "loss", "-1%").is_err());
        assert!(parse_probability("a", "loss", "x").is_err());
        assert_eq!(parse_rate("a", "100mbit").unwrap(), 12_500_000);
        assert_eq!(parse_rate("a", "1gbit").unwrap(), 125_000_000);
        assert_eq!(parse_rate("a", "125kbps").unwrap(), 125_000);
        assert!(parse_rate("a", "-5mbit").is_err());
        assert!(parse_rate("a", "5 furlongs").is_err());
        assert_eq!(parse_duration("--down", "200ms").unwrap(), Duration::from_millis(200));
        assert_eq!(parse_duration("--up", "2s").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("--up", "0s").is_err());
        assert_eq!(percent(5_000), "0.5%");
        assert_eq!(rate(12_500_000), "100mbit");
    }

    #[test]
    fn record_round_trip() {
        let i = Impairment {
            loss_ppm: 100_000,
            loss_every: 4,
            rate_bytes: 12_500_000,
            burst_bytes: 250_000,
            ..Default::default()
        };
        assert_eq!(Impairment::decode(&i.encode()), Some(i));
        assert_eq!(Impairment::decode(""), Some(Impairment::default()));
    }
}

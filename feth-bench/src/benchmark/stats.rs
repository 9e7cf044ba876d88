//! Medians and spreads of interleaved samples: every rate, and every ratio computed within one
//! round (the machine's speed moves by 2x within a minute; within a round the rows share it).
use serde::Serialize;

use crate::benchmark::rates::{RATIOS, Row, Sample};

/// Median and min-max spread.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        Some(Spread { median, min: values[0], max: values[n - 1] })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct RateSummary {
    pub row: Row,
    pub frame_size: usize,
    pub mpps: Spread,
    pub gbps: Spread,
    /// feth rows: frames in no counter, over every slice (must be 0).
    pub unaccounted: Option<i64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RatioSummary {
    pub row: Row,
    pub baseline: Row,
    pub frame_size: usize,
    pub ratio: Spread,
}

fn of_row(samples: &[Sample], row: Row, size: usize) -> impl Iterator<Item = &Sample> {
    samples.iter().filter(move |s| s.row == row && s.frame_size == size)
}

pub fn rates(samples: &[Sample], sizes: &[usize]) -> Vec<RateSummary> {
    let mut out = Vec::new();
    for row in Row::ALL {
        for &size in sizes {
            let mine: Vec<&Sample> = of_row(samples, row, size).collect();
            let Some(mpps) = Spread::of(mine.iter().map(|s| s.mpps).collect()) else { continue };
            let gbps = Spread::of(mine.iter().map(|s| s.gbps).collect()).unwrap_or_default();
            let unaccounted =
                row.is_feth().then(|| mine.iter().filter_map(|s| s.accounting.as_ref()).map(|a| a.unaccounted).sum());
            out.push(RateSummary { row, frame_size: size, mpps, gbps, unaccounted });
        }
    }
    out
}

pub fn ratios(samples: &[Sample], sizes: &[usize]) -> Vec<RatioSummary> {
    let mut out = Vec::new();
    for (row, baseline) in RATIOS {
        for &size in sizes {
            let per_round: Vec<f64> = of_row(samples, row, size)
                .filter_map(|s| {
                    let base = of_row(samples, baseline, size).find(|b| b.round == s.round)?;
                    (base.mpps > 0.0).then(|| s.mpps / base.mpps)
                })
                .collect();
            if let Some(ratio) = Spread::of(per_round) {
                out.push(RatioSummary { row, baseline, frame_size: size, ratio });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = Spread::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.0, 1.0, 3.0));
        assert_eq!(Spread::of(vec![4.0, 1.0, 2.0, 3.0]).unwrap().median, 2.5);
        assert!(Spread::of(vec![]).is_none());
    }

    #[test]
    fn ratios_pair_slices_of_one_round() {
        let sample = |row, round, mpps| Sample { row, frame_size: 64, round, mpps, gbps: 0.0, accounting: None };
        // The machine halves its speed in round 1: each round's ratio is still 0.9.
        let samples = vec![
            sample(Row::FethXdp, 0, 9.0),
            sample(Row::MinimalDevmap, 0, 10.0),
            sample(Row::FethXdp, 1, 4.5),
            sample(Row::MinimalDevmap, 1, 5.0),
        ];
        let r = ratios(&samples, &[64]);
        let xdp = r.iter().find(|r| r.row == Row::FethXdp && r.baseline == Row::MinimalDevmap).unwrap();
        assert!((xdp.ratio.min - 0.9).abs() < 1e-9 && (xdp.ratio.max - 0.9).abs() < 1e-9);
    }
}

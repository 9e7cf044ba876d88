//! Medians and spreads of interleaved samples: every rate, and every ratio computed within one
//! round (the machine's speed moves by 2x within a minute; within a round the rows share it).
use serde::Serialize;

use crate::benchmark::rates::{RATIOS, Row, Sample};

/// Median, min-max spread, and a 95% confidence interval of the median where there are
/// enough values for one (at least 6).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// The interval's ends: order statistics, so no assumption about the distribution
    /// (slices on a shared machine are skewed by whatever else runs).
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

impl Spread {
    pub fn of(mut values: Vec<f64>) -> Option<Spread> {
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let median = if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2.0 };
        let ci = interval_rank(n).map(|k| (values[k - 1], values[n - k]));
        Some(Spread { median, min: values[0], max: values[n - 1], ci_low: ci.map(|c| c.0), ci_high: ci.map(|c| c.1) })
    }

    /// Whether the 95% interval lies within `tolerance` (a fraction, 0.03 for +/-3%) of the
    /// median on both sides; never without an interval.
    pub fn pinned(&self, tolerance: f64) -> bool {
        match (self.ci_low, self.ci_high) {
            (Some(low), Some(high)) => {
                low >= self.median * (1.0 - tolerance) && high <= self.median * (1.0 + tolerance)
            }
            _ => false,
        }
    }
}

/// The rank k (1-based) of the lower end of a 95% confidence interval for the median of n
/// values: the interval [x(k), x(n+1-k)] misses the median only when at most k-1 values fall
/// on one side, which for a Binomial(n, 1/2) count happens with probability 2 P(B < k); k is
/// the largest with P(B < k) <= 2.5%. None below 6 values, where even [min, max] is not sure
/// enough. The terms are summed from their logarithms, so no n underflows them all.
fn interval_rank(n: usize) -> Option<usize> {
    let ln_half_n = -(n as f64) * std::f64::consts::LN_2;
    let (mut ln_choose, mut below, mut k) = (0.0f64, 0.0f64, 0);
    for i in 0..n {
        below += (ln_choose + ln_half_n).exp(); // now P(B <= i)
        if below > 0.025 {
            break;
        }
        k = i + 1;
        ln_choose += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
    }
    (k >= 1).then_some(k)
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

#[derive(Clone, Debug, Serialize)]
pub struct CostSummary {
    pub row: Row,
    pub frame_size: usize,
    /// Nanoseconds per run of the row's crossing program, over the rounds.
    pub ns: Spread,
}

/// The crossing programs' run time per frame (`--program-cost`), for the rows that have one.
pub fn costs(samples: &[Sample], sizes: &[usize]) -> Vec<CostSummary> {
    let mut out = Vec::new();
    for row in Row::ALL {
        for &size in sizes {
            if let Some(ns) = Spread::of(of_row(samples, row, size).filter_map(|s| s.program_ns).collect()) {
                out.push(CostSummary { row, frame_size: size, ns });
            }
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
    fn intervals_of_the_median_take_the_binomial_ranks() {
        // The textbook ranks: 6 values give [min, max] (96.9%); 15 give [x4, x12] (96.5%);
        // 100 give [x40, x61] (96.5%); fewer than 6 give none.
        assert_eq!(interval_rank(5), None);
        assert_eq!(interval_rank(6), Some(1));
        assert_eq!(interval_rank(15), Some(4));
        assert_eq!(interval_rank(100), Some(40));
        // Large n: near n/2 - 1.96 sqrt(n)/2, not lost to underflow.
        let k = interval_rank(4000).unwrap();
        assert!((1936..=1939).contains(&k), "{k}");
        let s = Spread::of((1..=15).map(f64::from).collect()).unwrap();
        assert_eq!((s.ci_low, s.ci_high), (Some(4.0), Some(12.0)));
        assert!(!s.pinned(0.03));
        let tight = Spread::of((0..15).map(|i| 1.0 + f64::from(i) * 0.001).collect()).unwrap();
        assert!(tight.pinned(0.03), "{tight:?}");
        assert!(!Spread::of(vec![1.0; 5]).unwrap().pinned(0.03), "no interval, not pinned");
    }

    #[test]
    fn ratios_pair_slices_of_one_round() {
        let sample = |row, round, mpps| Sample {
            row,
            frame_size: 64,
            round,
            mpps,
            gbps: 0.0,
            accounting: None,
            program_ns: None,
        };
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

//! `--plot FILE.svg`: the packet-rate table as a grouped bar chart, one group per frame size,
//! one bar per row at its median, the min-max spread over the rounds as an error bar.
use std::path::Path;

use feth_control::error::{FethError, Result};
use plotters::prelude::*;

use crate::benchmark::{Report, rates::Row};

/// One colour per row, in `Row::ALL` order: feth's two modes warm, the baselines cool.
const COLOURS: [RGBColor; 8] = [
    RGBColor(214, 39, 40),
    RGBColor(240, 128, 128),
    RGBColor(255, 127, 14),
    RGBColor(31, 119, 180),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(23, 190, 207),
    RGBColor(127, 127, 127),
];

/// Share of a group's width taken by its bars (the rest separates the groups).
const GROUP_FILL: f64 = 0.8;

fn plot_error(path: &Path, e: impl std::fmt::Display) -> FethError {
    FethError::Invalid(format!("{}: cannot draw the plot: {e}", path.display()))
}

pub fn plot(report: &Report, path: &Path) -> Result<()> {
    draw(report, path).map_err(|e| plot_error(path, e))
}

fn draw(report: &Report, path: &Path) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let sizes = &report.sizes;
    // Headroom above the tallest error bar for the legend.
    let top = report.packet_rates.iter().map(|r| r.mpps.max).fold(0.0, f64::max).max(0.1) * 1.45;
    let root = SVGBackend::new(path, (1000, 560)).into_drawing_area();
    root.fill(&WHITE)?;
    let m = &report.machine;
    let title = format!(
        "feth packet rate (median, min-max over {} rounds; {} CPUs, kernel {})",
        report.rounds, m.cpus, m.kernel
    );
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..sizes.len() as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc("million frames per second")
        .x_desc("frame size")
        .draw()?;
    let width = GROUP_FILL / Row::ALL.len() as f64;
    for (r, (row, colour)) in Row::ALL.iter().zip(COLOURS).enumerate() {
        let bars: Vec<_> = sizes
            .iter()
            .enumerate()
            .filter_map(|(g, &size)| {
                let rate = report.packet_rates.iter().find(|x| x.row == *row && x.frame_size == size)?;
                let left = g as f64 + (1.0 - GROUP_FILL) / 2.0 + r as f64 * width;
                Some((left, rate.mpps))
            })
            .collect();
        chart
            .draw_series(
                bars.iter()
                    .map(|&(left, s)| Rectangle::new([(left, 0.0), (left + width * 0.9, s.median)], colour.filled())),
            )?
            .label(format!("{}. {}", r + 1, row.label()))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], colour.filled()));
        chart.draw_series(bars.iter().map(|&(left, s)| {
            ErrorBar::new_vertical(left + width * 0.45, s.min, s.median, s.max, BLACK.stroke_width(1), 6)
        }))?;
    }
    let at = (0..sizes.len()).map(|g| chart.backend_coord(&(g as f64 + 0.5, 0.0))).collect();
    group_labels(&root, at, sizes)?;
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

/// The frame size of each group under the axis, centred on the group (`at`, backend
/// coordinates).
fn group_labels(
    root: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    at: Vec<(i32, i32)>,
    sizes: &[usize],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    for ((x, y), size) in at.into_iter().zip(sizes) {
        let style = TextStyle::from(("sans-serif", 14)).pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Top,
        ));
        root.draw(&Text::new(format!("{size} B"), (x, y + 6), style))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        benchmark::Machine,
        benchmark::stats::{RateSummary, Spread},
    };

    #[test]
    fn draws_every_row_and_size_with_its_spread() {
        let sizes = vec![64, 1500];
        let packet_rates = Row::ALL
            .iter()
            .enumerate()
            .flat_map(|(i, &row)| {
                sizes.iter().map(move |&frame_size| RateSummary {
                    row,
                    frame_size,
                    mpps: Spread {
                        median: 1.0 + i as f64,
                        min: 0.5 + i as f64,
                        max: 1.5 + i as f64,
                        ..Default::default()
                    },
                    gbps: Spread::default(),
                    unaccounted: None,
                })
            })
            .collect();
        let report = Report {
            machine: Machine { cpus: 2, kernel: "test".into(), generator_cpus: vec![0] },
            rounds: 3,
            seconds_per_slice: 1.0,
            sizes,
            packet_rates,
            ratios: Vec::new(),
            program_costs: Vec::new(),
            samples: Vec::new(),
            tcp: None,
            latency: None,
            scale: Vec::new(),
        };
        let path = std::env::temp_dir().join(format!("feth-plot-{}.svg", std::process::id()));
        plot(&report, &path).expect("plot");
        let svg = std::fs::read_to_string(&path).expect("read the plot");
        std::fs::remove_file(&path).ok();
        for row in Row::ALL {
            assert!(svg.contains(row.label()), "legend names {}", row.label());
        }
        assert!(svg.contains("64 B") && svg.contains("1500 B"), "group labels");
        // Six bars per size, each with an error bar (a vertical line plus two caps).
        assert!(svg.matches("<rect").count() >= 12, "bars drawn");
        assert!(svg.matches("<line").count() + svg.matches("<polyline").count() >= 12 * 3, "error bars drawn");
    }
}

//! The report's charts, each drawn with `plotters` into an SVG string.
//!
//! Every chart is one `<svg>` whose data series are `plotters` line or point series, so a
//! reader (or a test walking the DOM) finds one polyline per series of a line chart and one
//! circle per point of the find-max chart.

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::coord::combinators::{LogCoord, WithKeyPoints};
use plotters::prelude::*;
use sentinel_load::Second;

use crate::step::FindMaxStep;

/// Pixel size of every chart.
const SIZE: (u32, u32) = (960, 360);

const P50: RGBColor = RGBColor(0x1f, 0x77, 0xb4);
const P99: RGBColor = RGBColor(0xff, 0x7f, 0x0e);
const MAX: RGBColor = RGBColor(0xd6, 0x27, 0x28);
const TARGET: RGBColor = RGBColor(0x7f, 0x7f, 0x7f);
const ACHIEVED: RGBColor = RGBColor(0x2c, 0xa0, 0x2c);
const SERVICE: RGBColor = RGBColor(0x94, 0x67, 0xbd);

/// A drawn chart: its SVG and the names of the series it holds.
pub struct Chart {
    /// The `<svg>` element.
    pub svg: String,
    /// The series, in drawing order.
    pub series: Vec<&'static str>,
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws with `draw` onto a fresh SVG; a drawing error (none is expected from an in-memory
/// backend) leaves the chart as far as it got rather than losing the page.
fn svg(draw: impl FnOnce(&Area) -> Result<(), Box<dyn std::error::Error>>) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        let _ = root.fill(&WHITE);
        let _ = draw(&root);
        let _ = root.present();
    }
    svg
}

/// The smallest and largest positive values, padded, for a logarithmic axis.
fn log_bounds(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (low, high) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if low > high {
        (0.001, 1.0)
    } else {
        (low / 1.5, high * 1.5)
    }
}

/// The labelled values of a logarithmic latency axis from `low` to `high`: 1, 2 and 5 times
/// each power of ten within the range, or every digit times it where that gives fewer than
/// three labels (a range within one decade would otherwise show one label or none).
fn log_ticks(low: f64, high: f64) -> Vec<f64> {
    let decades = low.log10().floor() as i32..=high.log10().ceil() as i32;
    let within = |mantissas: &[u32]| -> Vec<f64> {
        decades
            .clone()
            .flat_map(|exponent| {
                mantissas.iter().map(move |m| {
                    // Built from its decimal text, so that 0.2 is 0.2 and not 0.2000000001.
                    format!("{m}e{exponent}").parse::<f64>().unwrap_or(f64::NAN)
                })
            })
            .filter(|tick| (low..=high).contains(tick))
            .collect()
    };
    let coarse = within(&[1, 2, 5]);
    if coarse.len() >= 3 {
        coarse
    } else {
        within(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
    }
}

/// A latency tick's label: the number as written, `0.05` or `200`.
fn tick_label(value: &f64) -> String {
    value.to_string()
}

/// A logarithmic latency axis from `low` to `high`, labelled at [`log_ticks`].
fn latency_axis(low: f64, high: f64) -> WithKeyPoints<LogCoord<f64>> {
    (low..high)
        .log_scale()
        .with_key_points(log_ticks(low, high))
}

/// Latency p50/p99/max per second on a log scale, with the target and achieved rates on the
/// right-hand axis.
pub fn latency_over_time(timeline: &[Second]) -> Chart {
    let seconds = timeline.len().max(1) as f64;
    let latencies = timeline
        .iter()
        .flat_map(|s| [s.latency_ms.p50, s.latency_ms.p99, s.latency_ms.max]);
    let (low, high) = log_bounds(latencies);
    let top_rate = timeline
        .iter()
        .map(|s| s.target_rate.max(s.sent as f64))
        .fold(1.0, f64::max)
        * 1.1;
    let svg = svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency per second (by due time) and rate",
                ("sans-serif", 18),
            )
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(0.0..seconds, latency_axis(low, high))?
            .set_secondary_coord(0.0..seconds, 0.0..top_rate);
        chart
            .configure_mesh()
            .x_desc("second of the schedule")
            .y_desc("latency (ms)")
            .y_label_formatter(&tick_label)
            .draw()?;
        chart
            .configure_secondary_axes()
            .y_desc("requests per second")
            .draw()?;
        // Each second's value is drawn at the middle of its second.
        let at = |s: &Second| s.second as f64 + 0.5;
        for (name, color, value) in [
            (
                "p50",
                P50,
                (|s: &Second| s.latency_ms.p50) as fn(&Second) -> f64,
            ),
            ("p99", P99, |s: &Second| s.latency_ms.p99),
            ("max", MAX, |s: &Second| s.latency_ms.max),
        ] {
            let points = timeline
                .iter()
                .filter(|s| value(s) > 0.0)
                .map(|s| (at(s), value(s)));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(format!("latency {name}"))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
        let sent = timeline.iter().map(|s| (at(s), s.sent as f64));
        chart
            .draw_secondary_series(LineSeries::new(sent, ACHIEVED.stroke_width(2)))?
            .label("sent per second")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], ACHIEVED));
        // Dashed and drawn last: where the generator keeps up, the two lines coincide, and the
        // target must still show.
        let target = timeline.iter().map(|s| (at(s), s.target_rate));
        chart
            .draw_secondary_series(DashedLineSeries::new(target, 6, 4, TARGET.stroke_width(2)))?
            .label("target rate")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 16, y)], TARGET));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    });
    Chart {
        svg,
        series: vec!["p50", "p99", "max", "achieved", "target"],
    }
}

/// Errors and missed requests per second (by due time).
pub fn failures_over_time(timeline: &[Second]) -> Chart {
    let seconds = timeline.len().max(1) as f64;
    let top = timeline
        .iter()
        .map(|s| s.errors.max(s.missed))
        .max()
        .unwrap_or(0)
        .max(1) as f64
        * 1.1;
    let svg = svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Errors and missed requests per second", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..seconds, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc("second of the schedule")
            .y_desc("requests")
            .draw()?;
        let at = |s: &Second| s.second as f64 + 0.5;
        for (name, color, value) in [
            ("errors", MAX, (|s: &Second| s.errors) as fn(&Second) -> u64),
            ("missed", P99, |s: &Second| s.missed),
        ] {
            let points = timeline.iter().map(|s| (at(s), value(s) as f64));
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    });
    Chart {
        svg,
        series: vec!["errors", "missed"],
    }
}

/// The percentile distribution of each histogram, as HdrHistogram's plotter draws it: the
/// latency against `1 / (1 − percentile)` on a log scale, so the tail gets the room.
pub fn percentile_distribution(series: &[(&'static str, &Histogram<u64>)]) -> Chart {
    let colors = [P50, SERVICE, ACHIEVED, P99];
    let curves: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|(_, histogram)| distribution(histogram))
        .collect();
    let (low, high) = log_bounds(curves.iter().flatten().map(|&(_, ms)| ms));
    let right = curves
        .iter()
        .flatten()
        .map(|&(x, _)| x)
        .fold(100.0, f64::max)
        * 1.2;
    let svg = svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Latency by percentile", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d((1.0..right).log_scale(), latency_axis(low, high))?;
        let percentile = |x: &f64| {
            let share = (1.0 - 1.0 / x) * 100.0;
            format!("{}%", trim(share))
        };
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .y_label_formatter(&tick_label)
            .x_label_formatter(&percentile)
            .draw()?;
        for ((name, _), (curve, color)) in series.iter().zip(curves.iter().zip(colors)) {
            chart
                .draw_series(LineSeries::new(
                    curve.iter().copied(),
                    color.stroke_width(2),
                ))?
                .label(*name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    });
    Chart {
        svg,
        series: series.iter().map(|(name, _)| *name).collect(),
    }
}

/// `(1 / (1 − q), ms)` points of a histogram of nanoseconds, five per halving of the tail.
fn distribution(histogram: &Histogram<u64>) -> Vec<(f64, f64)> {
    if histogram.is_empty() {
        return Vec::new();
    }
    histogram
        .iter_quantiles(5)
        .map(|step| (step.quantile_iterated_to(), step.value_iterated_to()))
        .filter(|&(q, _)| q < 1.0)
        .map(|(q, nanos)| (1.0 / (1.0 - q), (nanos.max(1)) as f64 / 1e6))
        .collect()
}

/// Each find-max step's p99 against its rate: a filled circle where the step passed, an open
/// one where it did not.
pub fn find_max_steps(steps: &[FindMaxStep]) -> Chart {
    let right = steps.iter().map(|s| s.rate).fold(1.0, f64::max) * 1.1;
    let (low, high) = log_bounds(steps.iter().map(|s| s.p99_ms));
    let svg = svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("find-max: each step's p99 at its rate", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..right, latency_axis(low, high))?;
        chart
            .configure_mesh()
            .x_desc("rate (requests per second)")
            .y_desc("p99 latency (ms)")
            .y_label_formatter(&tick_label)
            .draw()?;
        let point = |s: &FindMaxStep| (s.rate, s.p99_ms.max(low));
        chart
            .draw_series(
                steps
                    .iter()
                    .filter(|s| s.passed)
                    .map(|s| Circle::new(point(s), 5, ACHIEVED.filled())),
            )?
            .label("step passed")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, ACHIEVED.filled()));
        chart
            .draw_series(
                steps
                    .iter()
                    .filter(|s| !s.passed)
                    .map(|s| Circle::new(point(s), 5, MAX.stroke_width(2))),
            )?
            .label("step failed")
            .legend(|(x, y)| Circle::new((x + 8, y), 4, MAX.stroke_width(2)));
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        Ok(())
    });
    Chart {
        svg,
        series: vec!["passed", "failed"],
    }
}

/// A number with at most three decimals and no trailing zeros.
pub fn trim(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_within_one_decade_gets_several_labels() {
        assert_eq!(log_ticks(3.0, 40.0), vec![5.0, 10.0, 20.0]);
        assert_eq!(log_ticks(0.4, 0.9), vec![0.4, 0.5, 0.6, 0.7, 0.8, 0.9]);
    }

    #[test]
    fn a_wide_range_is_labelled_one_two_five() {
        assert_eq!(
            log_ticks(0.05, 300.0),
            vec![
                0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0
            ]
        );
        assert_eq!(tick_label(&0.05), "0.05");
        assert_eq!(tick_label(&200.0), "200");
    }
}

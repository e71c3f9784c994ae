//! Renderings of a result for people (a text report) and for HdrHistogram tools (`.hgrm`).

use std::io::{self, Write};

use hdrhistogram::Histogram;

use crate::result::{LoadTestResult, Percentiles};

/// Writes the human-readable report of a run: what was asked and how long it took, then
/// [`write_figures`].
pub fn write_text(result: &LoadTestResult, out: &mut impl Write) -> io::Result<()> {
    writeln!(
        out,
        "Target      {} req/s for {} s, {} workers{}",
        result.target_rate,
        result.duration_s,
        result.workers,
        if result.cancelled { " (cancelled)" } else { "" }
    )?;
    writeln!(
        out,
        "Time        elapsed {:.3} s  drain {:.3} s  pacing slack {:.3} ms",
        result.elapsed_s, result.drain_s, result.pacing_slack_ms
    )?;
    write_figures(result, out)
}

/// Writes what happened to the requests of a run (or of one of its targets): the counts, the
/// rates, the percentile table, and what came back (errors by kind, status codes, bytes).
pub fn write_figures(result: &LoadTestResult, out: &mut impl Write) -> io::Result<()> {
    let r = &result.requests;
    let drained = if r.drain_ok > 0 {
        format!(" ({} of them in the drain)", r.drain_ok)
    } else {
        String::new()
    };
    writeln!(
        out,
        "Requests    target {}  sent {}  ok {}{drained}  errors {}  timeouts {}  missed {}",
        r.target, r.sent, r.ok, r.errors, r.timeouts, r.missed
    )?;
    writeln!(
        out,
        "Rates       throughput {:.1} ok/s  send rate {:.1} req/s  success {:.2}%",
        result.throughput,
        result.send_rate,
        result.success_rate() * 100.0,
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<18}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "(ms)", "p50", "p90", "p95", "p99", "p99.9", "max"
    )?;
    let h = &result.histograms;
    percentile_row(out, "latency", &result.latency_ms, &h.latency)?;
    percentile_row(out, "latency (ok)", &result.ok_latency_ms, &h.ok_latency)?;
    percentile_row(
        out,
        "service time",
        &result.service_time_ms,
        &h.service_time,
    )?;
    percentile_row(
        out,
        "schedule lag",
        &result.schedule_lag_ms,
        &h.schedule_lag,
    )?;
    if !h.first_byte.is_empty() {
        percentile_row(out, "first byte", &result.first_byte_ms, &h.first_byte)?;
    }
    if result.connects > 0 {
        percentile_row(
            out,
            &format!("connect ({})", result.connects),
            &result.connect_ms,
            &h.connect,
        )?;
    }
    if !result.errors_by_kind.is_empty() {
        writeln!(out)?;
        writeln!(out, "Errors by kind")?;
        for (kind, count) in &result.errors_by_kind {
            writeln!(out, "  {kind:<16}{count:>10}")?;
        }
    }
    if !result.status.is_empty() {
        writeln!(out)?;
        writeln!(out, "Status codes")?;
        for (code, count) in &result.status {
            writeln!(out, "  {code:<16}{count:>10}")?;
        }
    }
    let bytes = &result.bytes;
    if bytes.sent > 0 || bytes.received > 0 {
        writeln!(out)?;
        writeln!(
            out,
            "Bytes       received {} ({}/s)  sent {} ({}/s)",
            human_bytes(bytes.received as f64),
            human_bytes(bytes.received_per_s),
            human_bytes(bytes.sent as f64),
            human_bytes(bytes.sent_per_s),
        )?;
    }
    Ok(())
}

/// A byte count in decimal units: `512 B`, `1.50 kB`, `12.3 MB`.
fn human_bytes(bytes: f64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if bytes < 1000.0 {
        return format!("{bytes:.0} B");
    }
    let mut value = bytes / 1000.0;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    let digits = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.digits$} {}", UNITS[unit])
}

/// One row of the percentile table; `-` in every column where the histogram holds no value
/// (no request of that kind), since a zero would read as a measured instant answer.
fn percentile_row(
    out: &mut impl Write,
    name: &str,
    p: &Percentiles,
    histogram: &Histogram<u64>,
) -> io::Result<()> {
    if histogram.is_empty() {
        return writeln!(
            out,
            "{name:<18}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
            "-", "-", "-", "-", "-", "-"
        );
    }
    writeln!(
        out,
        "{name:<18}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
        p.p50, p.p90, p.p95, p.p99, p.p999, p.max
    )
}

/// Writes a histogram of nanoseconds as the HdrHistogram percentile distribution (`.hgrm`),
/// values in milliseconds, five ticks per half distance, as HdrHistogram's plotters expect.
pub fn write_hgrm(histogram: &Histogram<u64>, out: &mut impl Write) -> io::Result<()> {
    const SCALE: f64 = 1e6;
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut total = 0u64;
    for step in histogram.iter_quantiles(5) {
        total += step.count_since_last_iteration();
        let value = step.value_iterated_to() as f64 / SCALE;
        let quantile = step.quantile_iterated_to();
        if quantile < 1.0 {
            writeln!(
                out,
                "{value:>12.3} {quantile:>2.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - quantile)
            )?;
        } else {
            writeln!(out, "{value:>12.3} {quantile:>2.12} {total:>10}")?;
        }
    }
    let mean = if histogram.is_empty() {
        0.0
    } else {
        histogram.mean()
    };
    let stdev = if histogram.is_empty() {
        0.0
    } else {
        histogram.stdev()
    };
    writeln!(
        out,
        "#[Mean    = {:>12.3}, StdDeviation   = {:>12.3}]",
        mean / SCALE,
        stdev / SCALE
    )?;
    writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        histogram.max() as f64 / SCALE,
        histogram.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        histogram.buckets(),
        2048
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_decimal_units() {
        assert_eq!(human_bytes(0.0), "0 B");
        assert_eq!(human_bytes(999.0), "999 B");
        assert_eq!(human_bytes(1500.0), "1.50 kB");
        assert_eq!(human_bytes(12_345_678.0), "12.3 MB");
        assert_eq!(human_bytes(987_000_000.0), "987 MB");
        assert_eq!(human_bytes(2e18), "2000 PB");
    }

    /// The percentile row named `name` in a text report, split into its columns.
    fn row(report: &str, name: &str) -> Vec<String> {
        let line = report
            .lines()
            .find(|line| line.starts_with(name) && line[name.len()..].starts_with("  "))
            .unwrap_or_else(|| panic!("no {name:?} row in\n{report}"));
        line[name.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    fn text(result: &LoadTestResult) -> String {
        let mut out = Vec::new();
        write_text(result, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_row_without_requests_prints_dashes_not_zeros() {
        let report = text(&crate::result::testing::run(&[], 5, 0));
        assert_eq!(row(&report, "latency (ok)"), vec!["-"; 6]);
        assert!(
            row(&report, "latency").iter().all(|cell| cell != "-"),
            "the failed requests have latencies:\n{report}"
        );
    }

    #[test]
    fn a_row_with_requests_prints_their_percentiles() {
        let report = text(&crate::result::testing::run(&[2.0, 4.0], 0, 0));
        let cells = row(&report, "latency (ok)");
        assert!(
            cells.iter().all(|cell| cell.parse::<f64>().is_ok()),
            "{cells:?}"
        );
        assert!(cells[5].parse::<f64>().unwrap() >= 4.0, "{cells:?}");
    }
}

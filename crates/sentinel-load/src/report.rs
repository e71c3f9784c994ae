//! Renderings of a result for people (a text report) and for HdrHistogram tools (`.hgrm`).

use std::io::{self, Write};

use hdrhistogram::Histogram;

use crate::result::{LoadTestResult, Percentiles};

/// Writes the human-readable report of a run.
pub fn write_text(result: &LoadTestResult, out: &mut impl Write) -> io::Result<()> {
    let r = &result.requests;
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
        "Requests    target {}  sent {}  ok {}  errors {}  timeouts {}  missed {}",
        r.target, r.sent, r.ok, r.errors, r.timeouts, r.missed
    )?;
    writeln!(
        out,
        "Rates       throughput {:.1} ok/s  send rate {:.1} req/s  success {:.2}%",
        result.throughput,
        result.send_rate,
        result.success_rate() * 100.0,
    )?;
    writeln!(
        out,
        "Time        elapsed {:.3} s  drain {:.3} s  pacing slack {:.3} ms",
        result.elapsed_s, result.drain_s, result.pacing_slack_ms
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<18}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "(ms)", "p50", "p90", "p95", "p99", "p99.9", "max"
    )?;
    percentile_row(out, "latency", &result.latency_ms)?;
    percentile_row(out, "latency (ok)", &result.ok_latency_ms)?;
    percentile_row(out, "service time", &result.service_time_ms)?;
    percentile_row(out, "schedule lag", &result.schedule_lag_ms)?;
    if !result.errors_by_kind.is_empty() {
        writeln!(out)?;
        writeln!(out, "Errors by kind")?;
        for (kind, count) in &result.errors_by_kind {
            writeln!(out, "  {kind:<16}{count:>10}")?;
        }
    }
    Ok(())
}

fn percentile_row(out: &mut impl Write, name: &str, p: &Percentiles) -> io::Result<()> {
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

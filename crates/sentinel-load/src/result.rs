//! The outcome of a run: counts, rates and percentiles, serialisable to the JSON contract.
//!
//! The struct serialises to exactly the documented object; a caller that needs more fields
//! serialises it to a `serde_json::Value` (or flattens it into its own struct) and adds them.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::config::LoadTestConfig;
use crate::error::RequestError;
use crate::progress::ProgressSnapshot;
use crate::recorder::Merged;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LoadTestResult {
    /// The configured rate, requests per second.
    pub target_rate: f64,
    /// The configured duration, seconds.
    pub duration_s: f64,
    /// Wall time from the first due time to the end of the schedule or, if later, of the drain,
    /// seconds.
    pub elapsed_s: f64,
    /// The number of workers (the concurrency cap).
    pub workers: usize,
    /// Whether the run was cancelled before its schedule ended.
    pub cancelled: bool,
    /// What happened to the scheduled requests.
    pub requests: RequestCounts,
    /// Successful requests per second of elapsed time.
    pub throughput: f64,
    /// The achieved send rate: sends per second between the first and the last send.
    pub send_rate: f64,
    /// Percentiles of the time from each request's due time to its completion.
    pub latency_ms: Percentiles,
    /// Percentiles of the time from each request's actual send to its completion.
    pub service_time_ms: Percentiles,
    /// Percentiles of how late each request was sent (actual send − due time).
    pub schedule_lag_ms: Percentiles,
    /// Failed requests by kind (`timeout`, `http_503`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// The full distributions behind the percentiles, for `.hgrm` output.
    #[serde(skip)]
    pub histograms: Histograms,
}

/// What happened to the scheduled requests: `sent = ok + errors`, `missed = target - sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Requests due within the run (all of them, or those due before cancellation).
    pub target: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed, timeouts included.
    pub errors: u64,
    /// Requests that failed by exceeding the per-request timeout.
    pub timeouts: u64,
    /// Requests due but never sent, because every worker was busy until the run ended.
    pub missed: u64,
}

/// A distribution's percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest value.
    pub max: f64,
}

/// The merged HDR histograms of a run, in nanoseconds.
#[derive(Debug, Clone)]
pub struct Histograms {
    /// Due time to completion.
    pub latency: Histogram<u64>,
    /// Actual send to completion.
    pub service_time: Histogram<u64>,
    /// Due time to actual send.
    pub schedule_lag: Histogram<u64>,
}

impl Percentiles {
    /// Reads the percentiles of a histogram of nanoseconds (all zero when it is empty).
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        let ms = |nanos: u64| nanos as f64 / 1e6;
        let at = |quantile: f64| ms(histogram.value_at_quantile(quantile));
        Self {
            p50: at(0.50),
            p90: at(0.90),
            p95: at(0.95),
            p99: at(0.99),
            p999: at(0.999),
            max: ms(histogram.max()),
        }
    }
}

impl LoadTestResult {
    pub(crate) fn new(
        config: &LoadTestConfig,
        target: u64,
        counts: ProgressSnapshot,
        elapsed: Duration,
        cancelled: bool,
        merged: Merged,
    ) -> Self {
        let elapsed_s = elapsed.as_secs_f64();
        let send_rate = match merged.sends {
            Some((first, last)) if last > first => {
                (counts.sent - 1) as f64 / (last - first).as_secs_f64()
            }
            _ => 0.0,
        };
        Self {
            target_rate: config.requests_per_second,
            duration_s: config.duration.as_secs_f64(),
            elapsed_s,
            workers: config.workers,
            cancelled,
            requests: RequestCounts {
                target,
                sent: counts.sent,
                ok: counts.ok,
                errors: counts.errors,
                timeouts: merged
                    .errors
                    .get(RequestError::TIMEOUT)
                    .copied()
                    .unwrap_or(0),
                missed: target.saturating_sub(counts.sent),
            },
            throughput: if elapsed_s > 0.0 {
                counts.ok as f64 / elapsed_s
            } else {
                0.0
            },
            send_rate,
            latency_ms: Percentiles::from_histogram(&merged.latency),
            service_time_ms: Percentiles::from_histogram(&merged.service),
            schedule_lag_ms: Percentiles::from_histogram(&merged.lag),
            errors_by_kind: merged.errors,
            histograms: Histograms {
                latency: merged.latency,
                service_time: merged.service,
                schedule_lag: merged.lag,
            },
        }
    }

    /// The fraction of scheduled requests that succeeded, in `0.0..=1.0`. Missed requests count
    /// against it (a target too slow to be sent its load has not passed); 0 if none was due.
    pub fn success_rate(&self) -> f64 {
        if self.requests.target == 0 {
            0.0
        } else {
            self.requests.ok as f64 / self.requests.target as f64
        }
    }

    /// The result as one JSON object (the documented contract).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("a result has only numbers, strings and maps")
    }
}

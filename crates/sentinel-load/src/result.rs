//! The outcome of a run: counts, rates and percentiles, serialisable to the JSON contract and
//! read back from it.
//!
//! The struct serialises to exactly the documented object; a caller that needs more fields
//! serialises it to a `serde_json::Value` (or flattens it into its own struct) and adds them.
//! The object carries the run's histograms in the HdrHistogram interchange encoding and every
//! raw count, so that a saved result can be rendered again or merged with the results of other
//! generators ([`crate::merge`]); the percentiles and rates are derived from those.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::config::LoadTestConfig;
use crate::error::RequestError;
use crate::histogram::{self, SIGNIFICANT_DIGITS};
use crate::interchange::serde_histogram;
use crate::progress::ProgressSnapshot;
use crate::recorder::Recorder;
use crate::segment::Segment;
use crate::stages::Stage;
use crate::timeline::Second;

/// Everything a run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoadTestResult {
    /// The whole schedule's rate (its mean rate with stages), requests per second, before any
    /// split into segments.
    pub target_rate: f64,
    /// The configured duration, seconds.
    pub duration_s: f64,
    /// Wall time from the first due time to the end of the drain: the schedule (the duration,
    /// or up to the stop when cancelled) plus `drain_s`, seconds.
    pub elapsed_s: f64,
    /// How long requests still in flight when scheduling ended took to finish, seconds.
    pub drain_s: f64,
    /// The number of workers (the concurrency cap).
    pub workers: usize,
    /// Whether the run was cancelled before its schedule ended.
    pub cancelled: bool,
    /// The most a request was released after its due time so that one timer wakeup served
    /// several (it shows in the schedule lag), milliseconds.
    pub pacing_slack_ms: f64,
    /// What happened to the scheduled requests.
    pub requests: RequestCounts,
    /// Successful requests that completed within the schedule, per second of it
    /// (`(ok - drain_ok) / (elapsed_s - drain_s)`): what the target sustained, not what it
    /// caught up on afterwards.
    pub throughput: f64,
    /// Requests sent per second of the schedule (`sent / (elapsed_s - drain_s)`).
    pub send_rate: f64,
    /// Percentiles of the time from each request's due time to its completion, over every
    /// sent request; a missed request counts at its lower bound (the end of scheduling minus
    /// its due time).
    pub latency_ms: Percentiles,
    /// The same, over successful requests only.
    pub ok_latency_ms: Percentiles,
    /// Percentiles of the time from each request's actual send to its completion.
    pub service_time_ms: Percentiles,
    /// Percentiles of how late each request was sent (actual send − due time).
    pub schedule_lag_ms: Percentiles,
    /// Failed requests by kind (`timeout`, `http_503`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Answers by status code (`{"200": 9980, "503": 20}`), as the request function reported
    /// them; a failure with an answer (a `503`) counts here too.
    #[serde(default)]
    pub status: BTreeMap<String, u64>,
    /// The bytes the requests wrote and read, in total and per second of the schedule.
    #[serde(default)]
    pub bytes: ByteCounts,
    /// Requests that opened a connection (the count behind `connect_ms`).
    #[serde(default)]
    pub connects: u64,
    /// Percentiles of how long opening a connection took, over the requests that opened one.
    #[serde(default)]
    pub connect_ms: Percentiles,
    /// Percentiles of the time from each request's actual send to the first byte of its
    /// answer, over the requests that got one.
    #[serde(default)]
    pub first_byte_ms: Percentiles,
    /// The full distributions behind the percentiles, for `.hgrm` output, thresholds and
    /// merging; in JSON, each in the HdrHistogram interchange encoding (V2, compressed,
    /// base64).
    pub histograms: Histograms,
    /// The arrival-rate stages, each with its own figures (empty for a constant rate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageResult>,
    /// Each target's own result, in the order of the configuration's mix, when the run kept
    /// its targets apart (empty otherwise, and then left out of the JSON).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<LoadTestResult>,
    /// One entry per second of the schedule, keyed by due time, when a timeline was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<Second>>,
    /// The share of the schedule this run sent (absent in JSON for the whole schedule).
    #[serde(default, skip_serializing_if = "is_whole")]
    pub segment: Segment,
    /// The shared start instant of the schedule, RFC 3339, when one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_at: Option<String>,
}

fn is_whole(segment: &Segment) -> bool {
    segment.is_whole()
}

/// One arrival-rate stage of a run and what happened to the requests due in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageResult {
    /// The stage as given (`30s:1000`, `60s:=2000`).
    pub stage: Stage,
    /// When the stage starts, seconds from the start of the schedule.
    pub start_s: f64,
    /// When it ends.
    pub end_s: f64,
    /// The rate at its start, requests per second.
    pub from_rate: f64,
    /// The rate at its end.
    pub to_rate: f64,
    /// The stage's figures, as a run of its own: its `target_rate` is the stage's mean rate and
    /// its `duration_s` the stage's duration.
    #[serde(flatten)]
    pub result: Box<LoadTestResult>,
}

/// What happened to the scheduled requests: `sent = ok + errors`, `missed = target - sent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    /// Requests due within the run (all of them, or those due before cancellation).
    pub target: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Requests that succeeded.
    pub ok: u64,
    /// Of those, the ones that completed after the schedule ended, in the drain: they do not
    /// count in `throughput`.
    #[serde(default)]
    pub drain_ok: u64,
    /// Requests that failed, timeouts included.
    pub errors: u64,
    /// Requests that failed by exceeding the per-request timeout.
    pub timeouts: u64,
    /// Requests due but never sent, because every worker was busy until the run ended.
    pub missed: u64,
}

/// A distribution's percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Histograms {
    /// Due time to completion, every sent request and the missed ones at their lower bound.
    #[serde(with = "serde_histogram")]
    pub latency: Histogram<u64>,
    /// Due time to completion, successful requests only.
    #[serde(with = "serde_histogram")]
    pub ok_latency: Histogram<u64>,
    /// Actual send to completion.
    #[serde(with = "serde_histogram")]
    pub service_time: Histogram<u64>,
    /// Actual send to completion, successful requests only: what the target's own answers
    /// took, which find-max judges apart from the generator's lag.
    #[serde(with = "serde_histogram", default = "empty_histogram")]
    pub ok_service_time: Histogram<u64>,
    /// Due time to actual send.
    #[serde(with = "serde_histogram")]
    pub schedule_lag: Histogram<u64>,
    /// Connection opening, for the requests that opened one.
    #[serde(with = "serde_histogram", default = "empty_histogram")]
    pub connect: Histogram<u64>,
    /// Actual send to the first byte of the answer.
    #[serde(with = "serde_histogram", default = "empty_histogram")]
    pub first_byte: Histogram<u64>,
}

/// Bytes written and read by the requests of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ByteCounts {
    /// Bytes written, in total.
    pub sent: u64,
    /// Bytes read, in total.
    pub received: u64,
    /// Bytes written per second of the schedule.
    pub sent_per_s: f64,
    /// Bytes read per second of the schedule.
    pub received_per_s: f64,
}

/// An empty histogram that resizes itself: what a saved result written before a histogram
/// was kept reads back as.
fn empty_histogram() -> Histogram<u64> {
    histogram::resizing(SIGNIFICANT_DIGITS)
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

/// How a run's wall time divided: scheduling, then draining the requests still in flight.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunTimes {
    /// From the first due time to the end of the schedule (or the stop).
    pub scheduled: Duration,
    /// From then until the last request finished.
    pub drain: Duration,
}

impl LoadTestResult {
    pub(crate) fn new(
        config: &LoadTestConfig,
        target: u64,
        counts: ProgressSnapshot,
        times: RunTimes,
        cancelled: bool,
        recorded: Recorder,
    ) -> Self {
        let scheduled_s = times.scheduled.as_secs_f64();
        let per_second = |count: u64| {
            if scheduled_s > 0.0 {
                count as f64 / scheduled_s
            } else {
                0.0
            }
        };
        let errors_by_kind = recorded.errors_by_kind();
        let bytes = ByteCounts {
            sent: recorded.bytes_sent,
            received: recorded.bytes_received,
            sent_per_s: per_second(recorded.bytes_sent),
            received_per_s: per_second(recorded.bytes_received),
        };
        let whole_rate = if config.stages.is_empty() {
            config.requests_per_second
        } else {
            config.profile().total() / config.duration.as_secs_f64()
        };
        Self {
            target_rate: whole_rate,
            duration_s: config.duration.as_secs_f64(),
            elapsed_s: scheduled_s + times.drain.as_secs_f64(),
            drain_s: times.drain.as_secs_f64(),
            workers: config.workers,
            cancelled,
            pacing_slack_ms: config.pacing_slack.as_secs_f64() * 1e3,
            requests: RequestCounts {
                target,
                sent: counts.sent,
                ok: counts.ok,
                drain_ok: recorded.drain_ok.min(counts.ok),
                errors: counts.errors,
                timeouts: errors_by_kind
                    .get(RequestError::TIMEOUT)
                    .copied()
                    .unwrap_or(0),
                missed: target.saturating_sub(counts.sent),
            },
            throughput: per_second(counts.ok - recorded.drain_ok.min(counts.ok)),
            send_rate: per_second(counts.sent),
            latency_ms: Percentiles::from_histogram(&recorded.latency),
            ok_latency_ms: Percentiles::from_histogram(&recorded.ok_latency),
            service_time_ms: Percentiles::from_histogram(&recorded.service),
            schedule_lag_ms: Percentiles::from_histogram(&recorded.lag),
            errors_by_kind,
            status: recorded.status_codes(),
            bytes,
            connects: recorded.connect.len(),
            connect_ms: Percentiles::from_histogram(&recorded.connect),
            first_byte_ms: Percentiles::from_histogram(&recorded.first_byte),
            histograms: Histograms {
                latency: recorded.latency,
                ok_latency: recorded.ok_latency,
                service_time: recorded.service,
                ok_service_time: recorded.ok_service,
                schedule_lag: recorded.lag,
                connect: recorded.connect,
                first_byte: recorded.first_byte,
            },
            stages: Vec::new(),
            targets: Vec::new(),
            timeline: None,
            segment: config.segment,
            start_at: config
                .start_at
                .and_then(|at| jiff::Timestamp::try_from(at).ok().map(|at| at.to_string())),
        }
    }

    /// How long requests were scheduled for (the duration, or up to the stop), seconds: what
    /// the rates are per.
    pub fn scheduled_s(&self) -> f64 {
        self.elapsed_s - self.drain_s
    }

    /// Reads the percentiles and rates again from the histograms and counts (after they were
    /// added to).
    pub(crate) fn derive(&mut self) {
        let h = &self.histograms;
        self.latency_ms = Percentiles::from_histogram(&h.latency);
        self.ok_latency_ms = Percentiles::from_histogram(&h.ok_latency);
        self.service_time_ms = Percentiles::from_histogram(&h.service_time);
        self.schedule_lag_ms = Percentiles::from_histogram(&h.schedule_lag);
        self.connect_ms = Percentiles::from_histogram(&h.connect);
        self.first_byte_ms = Percentiles::from_histogram(&h.first_byte);
        self.connects = h.connect.len();
        let scheduled_s = self.scheduled_s();
        let per_second = |count: u64| {
            if scheduled_s > 0.0 {
                count as f64 / scheduled_s
            } else {
                0.0
            }
        };
        self.throughput = per_second(self.requests.ok - self.requests.drain_ok);
        self.send_rate = per_second(self.requests.sent);
        self.bytes.sent_per_s = per_second(self.bytes.sent);
        self.bytes.received_per_s = per_second(self.bytes.received);
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

    /// Reads a result back from its JSON object (any fields a caller added are ignored).
    pub fn from_json(value: &serde_json::Value) -> Result<Self, serde_json::Error> {
        Self::deserialize(value)
    }
}

/// Results with known figures, for unit tests of what reads them.
#[cfg(test)]
pub(crate) mod testing {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::recorder::Recorder;

    /// A one-second run whose successes took `ok_ms` from their send, with `errors` failures
    /// and `missed` requests never sent, the first `late` sent requests (successes first)
    /// sent `lag_ms` late and the others on time.
    pub fn run_late(
        ok_ms: &[f64],
        errors: u64,
        missed: u64,
        late: usize,
        lag_ms: f64,
    ) -> LoadTestResult {
        let due = Instant::now();
        let mut recorder = Recorder::new(Duration::from_secs(60));
        let outcomes = ok_ms
            .iter()
            .map(|&ms| (ms, Ok(())))
            .chain((0..errors).map(|_| (1.0, Err(RequestError::new("connect")))));
        for (index, (ms, outcome)) in outcomes.enumerate() {
            let lag = if index < late { lag_ms } else { 0.0 };
            let sent = due + Duration::from_secs_f64(lag / 1e3);
            let done = sent + Duration::from_secs_f64(ms / 1e3);
            recorder.record(due, sent, done, outcome);
        }
        for _ in 0..missed {
            recorder.missed(Duration::from_millis(100));
        }
        let ok = ok_ms.len() as u64;
        let target = ok + errors + missed;
        let counts = ProgressSnapshot {
            elapsed: Duration::from_secs(1),
            target,
            sent: ok + errors,
            ok,
            errors,
        };
        let times = RunTimes {
            scheduled: Duration::from_secs(1),
            drain: Duration::from_secs(2),
        };
        let config = LoadTestConfig::new(target.max(1) as f64, Duration::from_secs(1));
        LoadTestResult::new(&config, target, counts, times, false, recorder)
    }

    /// [`run_late`] with every sent request `lag_ms` late.
    pub fn run_lagging(ok_ms: &[f64], errors: u64, missed: u64, lag_ms: f64) -> LoadTestResult {
        run_late(ok_ms, errors, missed, usize::MAX, lag_ms)
    }

    /// [`run_lagging`] with every request sent on time.
    pub fn run(ok_ms: &[f64], errors: u64, missed: u64) -> LoadTestResult {
        run_lagging(ok_ms, errors, missed, 0.0)
    }
}

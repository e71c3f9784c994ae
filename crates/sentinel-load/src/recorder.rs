//! What one worker records: three HDR histograms and its errors by kind, kept private to the
//! worker while the run lasts (no locks, no allocation per request) and merged at the end.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Significant decimal digits kept by every histogram.
pub(crate) const SIGNIFICANT_DIGITS: u8 = 3;

/// One worker's measurements. Values are nanoseconds.
#[derive(Debug)]
pub(crate) struct WorkerRecorder {
    /// From the due time to completion.
    pub latency: Histogram<u32>,
    /// From the actual send to completion.
    pub service: Histogram<u32>,
    /// From the due time to the actual send.
    pub lag: Histogram<u32>,
    /// Failures by kind, in first-seen order (kinds are few: a linear scan beats hashing).
    pub errors: Vec<(Cow<'static, str>, u64)>,
    /// The first and the last actual send of this worker.
    pub sends: Option<(Instant, Instant)>,
}

impl WorkerRecorder {
    /// A recorder able to hold values up to `highest` (larger values are clamped to it).
    pub fn new(highest: Duration) -> Self {
        let histogram = || histogram(highest);
        Self {
            latency: histogram(),
            service: histogram(),
            lag: histogram(),
            errors: Vec::new(),
            sends: None,
        }
    }

    /// Notes that a request was sent at `sent`.
    pub fn sent(&mut self, sent: Instant) {
        self.sends = Some(match self.sends {
            None => (sent, sent),
            Some((first, _)) => (first, sent),
        });
    }

    /// Records one completed (or failed) request's three durations.
    pub fn record(&mut self, due: Instant, sent: Instant, done: Instant) {
        self.latency.saturating_record(nanos(done - due));
        self.service.saturating_record(nanos(done - sent));
        self.lag.saturating_record(nanos(sent - due));
    }

    /// Counts one failure of `kind`.
    pub fn error(&mut self, kind: Cow<'static, str>) {
        match self.errors.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, count)) => *count += 1,
            None => self.errors.push((kind, 1)),
        }
    }
}

/// An empty histogram of nanoseconds from 1 to `highest`, at [`SIGNIFICANT_DIGITS`].
fn histogram<T: hdrhistogram::Counter>(highest: Duration) -> Histogram<T> {
    let highest = nanos(highest).max(2);
    Histogram::new_with_bounds(1, highest, SIGNIFICANT_DIGITS)
        .expect("bounds 1..highest with highest >= 2 at 3 digits are always valid")
}

fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

/// The merged measurements of every worker.
#[derive(Debug)]
pub(crate) struct Merged {
    pub latency: Histogram<u64>,
    pub service: Histogram<u64>,
    pub lag: Histogram<u64>,
    pub errors: BTreeMap<String, u64>,
    pub sends: Option<(Instant, Instant)>,
}

impl Merged {
    /// Merges the workers' recorders, made with the same `highest` bound.
    pub fn from_workers(workers: Vec<WorkerRecorder>, highest: Duration) -> Self {
        let mut merged = Self {
            latency: histogram(highest),
            service: histogram(highest),
            lag: histogram(highest),
            errors: BTreeMap::new(),
            sends: None,
        };
        for worker in workers {
            add(&mut merged.latency, &worker.latency);
            add(&mut merged.service, &worker.service);
            add(&mut merged.lag, &worker.lag);
            for (kind, count) in worker.errors {
                *merged.errors.entry(kind.into_owned()).or_default() += count;
            }
            if let Some((first, last)) = worker.sends {
                merged.sends = Some(match merged.sends {
                    None => (first, last),
                    Some((f, l)) => (f.min(first), l.max(last)),
                });
            }
        }
        merged
    }
}

fn add(into: &mut Histogram<u64>, from: &Histogram<u32>) {
    for value in from.iter_recorded() {
        into.saturating_record_n(value.value_iterated_to(), u64::from(value.count_at_value()));
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::result::Percentiles;

    /// The nearest-rank percentile of sorted samples, the definition HDR histograms follow.
    fn exact(sorted: &[u64], quantile: f64) -> u64 {
        let rank = ((quantile * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    fn close(hdr_ms: f64, exact_ns: u64) -> bool {
        let hdr = hdr_ms * 1e6;
        let exact = exact_ns as f64;
        // Three significant digits: within one part in 1024 (plus rounding of the ms value).
        (hdr - exact).abs() <= exact / 1024.0 + 1.0
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn merged_percentiles_match_an_exact_computation(
            samples in proptest::collection::vec(1u64..20_000_000_000, 1..2000),
            workers in 1usize..5,
        ) {
            let base = Instant::now();
            let mut recorders: Vec<_> =
                (0..workers).map(|_| WorkerRecorder::new(Duration::from_secs(30))).collect();
            for (i, &ns) in samples.iter().enumerate() {
                let done = base + Duration::from_nanos(ns);
                recorders[i % workers].record(base, base, done);
            }
            let merged = Merged::from_workers(recorders, Duration::from_secs(30));
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            let p = Percentiles::from_histogram(&merged.latency);
            for (hdr, q) in [(p.p50, 0.5), (p.p90, 0.9), (p.p95, 0.95), (p.p99, 0.99), (p.p999, 0.999)] {
                prop_assert!(close(hdr, exact(&sorted, q)), "q{q}: hdr {hdr} ms, exact {} ns", exact(&sorted, q));
            }
            prop_assert!(close(p.max, *sorted.last().unwrap()));
            prop_assert_eq!(merged.latency.len(), samples.len() as u64);
            prop_assert_eq!(merged.service.len(), samples.len() as u64);
        }
    }

    #[test]
    fn known_samples_give_known_percentiles() {
        let base = Instant::now();
        let mut recorder = WorkerRecorder::new(Duration::from_secs(1));
        // 1..=1000 microseconds, once each.
        for us in 1..=1000u64 {
            recorder.record(base, base, base + Duration::from_micros(us));
        }
        let merged = Merged::from_workers(vec![recorder], Duration::from_secs(1));
        let p = Percentiles::from_histogram(&merged.latency);
        assert!((p.p50 - 0.500).abs() < 0.001, "{p:?}");
        assert!((p.p99 - 0.990).abs() < 0.001, "{p:?}");
        assert!((p.max - 1.000).abs() < 0.001, "{p:?}");
        let lag = Percentiles::from_histogram(&merged.lag);
        assert_eq!(lag.max, 0.0);
    }

    #[test]
    fn errors_are_counted_by_kind_across_workers() {
        let mut a = WorkerRecorder::new(Duration::from_secs(1));
        let mut b = WorkerRecorder::new(Duration::from_secs(1));
        a.error("timeout".into());
        a.error("http_503".into());
        a.error("timeout".into());
        b.error(String::from("timeout").into());
        let merged = Merged::from_workers(vec![a, b], Duration::from_secs(1));
        assert_eq!(merged.errors.get("timeout"), Some(&3));
        assert_eq!(merged.errors.get("http_503"), Some(&1));
    }
}

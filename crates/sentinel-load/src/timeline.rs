//! The per-second timeline: what happened to the requests *due* in each second of the schedule,
//! so that a stall shows in the second it hit, not in the second its requests completed.
//!
//! Memory stays flat however long the run: each recording thread keeps, in its own shard, one
//! small histogram (two significant digits, sized to the values seen) per second it recorded
//! since the collector last came by; the collector, a few times a second, moves those into one
//! histogram per open second and closes every second whose requests have all been recorded
//! (none still waiting, parked or in flight), in order: it hands the closed second to the sink,
//! keeps its summary, and drops its histogram. Only seconds whose requests are still under way
//! are open, so their number follows the timeout and the backlog, not the duration.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::error::RequestError;
use crate::histogram::{self, add_counts, add_histogram};
use crate::interchange::serde_histogram;
use crate::schedule::Schedule;

/// Significant decimal digits of a second's latency histogram (1% resolution).
const SECOND_DIGITS: u8 = 2;

/// One second of the schedule: the requests due in it and what became of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds from the start of the schedule: the requests due in `[second, second + 1)`.
    pub second: u64,
    /// The scheduled rate over this second (this run's share of it), requests per second.
    pub target_rate: f64,
    /// Requests due in this second (`sent + missed`).
    pub due: u64,
    /// Of those, the requests sent.
    pub sent: u64,
    /// Of those, the requests that succeeded.
    pub ok: u64,
    /// Of those, the requests that failed (timeouts included).
    pub errors: u64,
    /// The failures by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Requests due in this second that were never sent.
    pub missed: u64,
    /// Latency from the due time, over the sent requests and the missed ones at their lower
    /// bound (as the run's `latency_ms`), at two significant digits.
    pub latency_ms: SecondLatency,
    /// The distribution behind `latency_ms` in nanoseconds, in the HdrHistogram interchange
    /// encoding, so that timelines of several generators merge second by second.
    #[serde(with = "serde_histogram")]
    pub latency_hdr: Histogram<u64>,
}

/// A second's latency percentiles, milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecondLatency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest value.
    pub max: f64,
}

impl SecondLatency {
    /// The percentiles of a histogram of nanoseconds (all zero when it is empty), in
    /// milliseconds to the histogram's two significant digits: a digit more would be noise.
    pub fn from_histogram(histogram: &Histogram<u64>) -> Self {
        let ms = |nanos: u64| two_significant_digits(nanos as f64 / 1e6);
        Self {
            p50: ms(histogram.value_at_quantile(0.50)),
            p90: ms(histogram.value_at_quantile(0.90)),
            p99: ms(histogram.value_at_quantile(0.99)),
            max: ms(histogram.max()),
        }
    }
}

/// `value` rounded to two significant digits (`1.2345` → `1.2`, `0.01289` → `0.013`), as the
/// nearest double to that decimal, so that it prints as written.
fn two_significant_digits(value: f64) -> f64 {
    format!("{value:.1e}").parse().unwrap_or(value)
}

impl Second {
    /// An empty second with the given number and scheduled rate.
    pub fn empty(second: u64, target_rate: f64) -> Self {
        Self {
            second,
            target_rate,
            due: 0,
            sent: 0,
            ok: 0,
            errors: 0,
            errors_by_kind: BTreeMap::new(),
            missed: 0,
            latency_ms: SecondLatency::from_histogram(&histogram::resizing(SECOND_DIGITS)),
            latency_hdr: histogram::resizing(SECOND_DIGITS),
        }
    }

    /// Adds `other` (the same second of another generator's share of the schedule) into this
    /// one: counts and scheduled rates summed, histograms merged, percentiles read again.
    pub fn add(&mut self, other: &Second) {
        self.target_rate += other.target_rate;
        self.due += other.due;
        self.sent += other.sent;
        self.ok += other.ok;
        self.errors += other.errors;
        self.missed += other.missed;
        add_counts(&mut self.errors_by_kind, &other.errors_by_kind);
        add_histogram(&mut self.latency_hdr, &other.latency_hdr);
        self.latency_ms = SecondLatency::from_histogram(&self.latency_hdr);
    }
}

/// Where each second goes as it closes: a callback (writing a line to a file, say), or nowhere
/// but the result.
#[derive(Clone, Default)]
pub struct TimelineSink {
    callback: Option<Arc<Mutex<Callback>>>,
}

/// What a sink calls with each closed second.
type Callback = dyn FnMut(&Second) + Send;

impl TimelineSink {
    /// Keeps the timeline in the result only.
    pub fn keep() -> Self {
        Self::default()
    }

    /// Calls `callback` with each second as it closes, in order, and keeps the timeline in the
    /// result too.
    pub fn new(callback: impl FnMut(&Second) + Send + 'static) -> Self {
        Self {
            callback: Some(Arc::new(Mutex::new(callback))),
        }
    }

    fn send(&self, second: &Second) {
        if let Some(callback) = &self.callback {
            let mut callback = callback.lock().unwrap_or_else(PoisonError::into_inner);
            callback(second);
        }
    }
}

impl fmt::Debug for TimelineSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.callback.is_some() {
            "TimelineSink(callback)"
        } else {
            "TimelineSink(keep)"
        })
    }
}

/// What one recording thread saw of one second since the collector last came by.
#[derive(Debug)]
pub(crate) struct SecondSlot {
    second: u64,
    sent: u64,
    ok: u64,
    missed: u64,
    errors: Vec<(Cow<'static, str>, u64)>,
    latency: Histogram<u64>,
}

impl SecondSlot {
    fn new(second: u64) -> Self {
        Self {
            second,
            sent: 0,
            ok: 0,
            missed: 0,
            errors: Vec::new(),
            latency: histogram::resizing(SECOND_DIGITS),
        }
    }

    /// The slot of `second` among `slots`, added if missing (the newest is nearly always it).
    pub fn of(slots: &mut Vec<SecondSlot>, second: u64) -> &mut SecondSlot {
        let index = if let Some(index) = slots.iter().rposition(|slot| slot.second == second) {
            index
        } else {
            slots.push(SecondSlot::new(second));
            slots.len() - 1
        };
        &mut slots[index]
    }

    /// Counts one sent request that took `latency_ns` from its due time.
    pub fn sent(&mut self, latency_ns: u64, outcome: &Result<(), RequestError>) {
        self.sent += 1;
        record(&mut self.latency, latency_ns);
        match outcome {
            Ok(()) => self.ok += 1,
            Err(error) => {
                let kind = error.kind();
                match self.errors.iter_mut().find(|(k, _)| k == kind) {
                    Some((_, count)) => *count += 1,
                    None => self.errors.push((Cow::Owned(kind.to_owned()), 1)),
                }
            }
        }
    }

    /// Counts one request never sent, whose latency is at least `lower_bound_ns`.
    pub fn missed(&mut self, lower_bound_ns: u64) {
        self.missed += 1;
        record(&mut self.latency, lower_bound_ns);
    }

    fn absorb(&mut self, other: SecondSlot) {
        self.sent += other.sent;
        self.ok += other.ok;
        self.missed += other.missed;
        for (kind, count) in other.errors {
            match self.errors.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, total)) => *total += count,
                None => self.errors.push((kind, count)),
            }
        }
        add_histogram(&mut self.latency, &other.latency);
    }
}

/// Records `nanos` in a histogram that resizes itself (clamped only beyond any resizing).
fn record(histogram: &mut Histogram<u64>, nanos: u64) {
    let nanos = nanos.max(1);
    if histogram.record(nanos).is_err() {
        histogram.saturating_record(nanos);
    }
}

/// Gathers the shards' slots into one per open second and closes seconds in order.
#[derive(Debug)]
pub(crate) struct Collector {
    sink: TimelineSink,
    open: BTreeMap<u64, SecondSlot>,
    /// The first second not yet closed.
    next: u64,
    closed: Vec<Second>,
}

impl Collector {
    pub fn new(sink: TimelineSink) -> Self {
        Self {
            sink,
            open: BTreeMap::new(),
            next: 0,
            closed: Vec::new(),
        }
    }

    /// Takes in slots drained from the shards.
    pub fn absorb(&mut self, slots: impl IntoIterator<Item = SecondSlot>) {
        for slot in slots {
            match self.open.get_mut(&slot.second) {
                Some(open) => open.absorb(slot),
                None => {
                    self.open.insert(slot.second, slot);
                }
            }
        }
    }

    /// The open slot of `second`, for requests recorded after the run (the missed ones).
    pub fn slot(&mut self, second: u64) -> &mut SecondSlot {
        self.open
            .entry(second)
            .or_insert_with(|| SecondSlot::new(second))
    }

    /// How many seconds the collector holds open: what its memory follows.
    #[cfg(test)]
    pub fn open_seconds(&self) -> usize {
        self.open.len()
    }

    /// Closes, in order, each second of the first `seconds` whose requests all lie below
    /// `recorded` (every request below that index has been recorded).
    pub fn close_recorded(&mut self, schedule: &Schedule, seconds: u64, recorded: u64) {
        while self.next < seconds {
            let (_, end) = second_span(schedule, self.next);
            if end > recorded {
                return;
            }
            self.close_next(schedule);
        }
    }

    /// Closes every second of the first `seconds` and returns the whole timeline.
    pub fn finish(mut self, schedule: &Schedule, seconds: u64) -> Vec<Second> {
        while self.next < seconds {
            self.close_next(schedule);
        }
        self.closed
    }

    fn close_next(&mut self, schedule: &Schedule) {
        let number = self.next;
        self.next += 1;
        let (first, end) = second_span(schedule, number);
        let mut second = Second::empty(number, target_rate(schedule, number));
        second.due = end - first;
        if let Some(slot) = self.open.remove(&number) {
            second.sent = slot.sent;
            second.ok = slot.ok;
            second.errors = slot.sent - slot.ok;
            second.missed = slot.missed;
            second.errors_by_kind = slot
                .errors
                .into_iter()
                .map(|(kind, count)| (kind.into_owned(), count))
                .collect();
            second.latency_ms = SecondLatency::from_histogram(&slot.latency);
            second.latency_hdr = slot.latency;
        }
        self.sink.send(&second);
        // The summary stays; a second's histogram is a few kilobytes at most once encoded.
        self.closed.push(second);
    }
}

/// The indices of the requests due in second `number` of the schedule.
fn second_span(schedule: &Schedule, number: u64) -> (u64, u64) {
    schedule.due_within(Duration::from_secs(number), Duration::from_secs(number + 1))
}

/// The scheduled rate over second `number` (its part within the schedule), this run's share.
fn target_rate(schedule: &Schedule, number: u64) -> f64 {
    let profile = schedule.profile();
    let from = number as f64;
    let to = (from + 1.0).min(profile.duration_s());
    if to <= from {
        return 0.0;
    }
    let requests = profile.integral(to) - profile.integral(from);
    requests / (to - from) / schedule.segment().count() as f64
}

/// The number of seconds a schedule that ran for `scheduled` spans (a partial last one counts).
pub(crate) fn seconds_in(scheduled: Duration) -> u64 {
    let whole = scheduled.as_secs();
    if scheduled.subsec_nanos() > 0 {
        whole + 1
    } else {
        whole
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn schedule(rate: f64, seconds: u64) -> Schedule {
        Schedule::constant(Instant::now(), rate, Duration::from_secs(seconds))
    }

    fn slot(second: u64, latencies_ms: &[u64], failures: usize) -> SecondSlot {
        let mut slot = SecondSlot::new(second);
        for (i, ms) in latencies_ms.iter().enumerate() {
            let outcome = if i < failures {
                Err(RequestError::new("http_503"))
            } else {
                Ok(())
            };
            slot.sent(ms * 1_000_000, &outcome);
        }
        slot
    }

    #[test]
    fn a_seconds_latencies_print_with_two_significant_digits() {
        assert_eq!(two_significant_digits(1.2345), 1.2);
        assert_eq!(two_significant_digits(0.012_89), 0.013);
        assert_eq!(two_significant_digits(987.0), 990.0);
        assert_eq!(two_significant_digits(0.0), 0.0);
        let mut histogram = histogram::resizing(SECOND_DIGITS);
        for nanos in [1_234_567, 2_345_678, 45_678_901] {
            histogram.record(nanos).unwrap();
        }
        let json = serde_json::to_value(SecondLatency::from_histogram(&histogram)).unwrap();
        for key in ["p50", "p90", "p99", "max"] {
            let printed = json[key].to_string();
            let digits = printed.trim_start_matches(['0', '.']).replace('.', "");
            assert!(
                digits.trim_end_matches('0').len() <= 2,
                "{key} printed as {printed}"
            );
        }
    }

    #[test]
    fn a_second_closes_only_once_all_its_requests_are_recorded_and_in_order() {
        let schedule = schedule(10.0, 3);
        let written = Arc::new(Mutex::new(Vec::new()));
        let sink = TimelineSink::new({
            let written = Arc::clone(&written);
            move |second: &Second| written.lock().unwrap().push(second.second)
        });
        let mut collector = Collector::new(sink);
        collector.absorb([slot(1, &[5; 10], 0), slot(0, &[1; 4], 1)]);
        collector.absorb([slot(0, &[2; 6], 0)]);
        collector.close_recorded(&schedule, 3, 9);
        assert!(
            written.lock().unwrap().is_empty(),
            "request 9 of second 0 not recorded"
        );
        collector.close_recorded(&schedule, 3, 25);
        assert_eq!(*written.lock().unwrap(), [0, 1]);
        assert_eq!(collector.open_seconds(), 0, "closed seconds are dropped");
        collector.slot(2).missed(700_000_000);
        let timeline = collector.finish(&schedule, 3);
        assert_eq!(*written.lock().unwrap(), [0, 1, 2]);
        let first = &timeline[0];
        assert_eq!(
            (first.due, first.sent, first.ok, first.errors),
            (10, 10, 9, 1)
        );
        assert_eq!(first.errors_by_kind.get("http_503"), Some(&1));
        assert!(
            (first.latency_ms.max - 2.0).abs() < 0.02,
            "{:?}",
            first.latency_ms
        );
        assert_eq!(first.target_rate, 10.0);
        assert_eq!((timeline[2].sent, timeline[2].missed), (0, 1));
        assert!(
            timeline[2].latency_ms.p50 >= 693.0,
            "{:?}",
            timeline[2].latency_ms
        );
    }

    #[test]
    fn seconds_of_several_generators_add_up() {
        let schedule = schedule(10.0, 1);
        let mut a = Collector::new(TimelineSink::keep());
        a.absorb([slot(0, &[1, 1, 1, 1, 1], 0)]);
        let mut b = Collector::new(TimelineSink::keep());
        b.absorb([slot(0, &[9, 9, 9, 9, 9], 2)]);
        let mut merged = a.finish(&schedule, 1).remove(0);
        merged.add(&b.finish(&schedule, 1)[0]);
        assert_eq!((merged.sent, merged.ok, merged.errors), (10, 8, 2));
        assert_eq!(merged.target_rate, 20.0);
        assert!(
            (merged.latency_ms.p50 - 1.0).abs() < 0.02,
            "{:?}",
            merged.latency_ms
        );
        assert!(
            (merged.latency_ms.p90 - 9.0).abs() < 0.1,
            "{:?}",
            merged.latency_ms
        );
    }

    #[test]
    fn a_partial_last_second_counts() {
        assert_eq!(seconds_in(Duration::from_millis(2500)), 3);
        assert_eq!(seconds_in(Duration::from_secs(2)), 2);
        assert_eq!(seconds_in(Duration::ZERO), 0);
    }
}

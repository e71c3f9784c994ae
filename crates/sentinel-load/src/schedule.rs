//! The open-loop schedule: when request *i* is due, and how many were due by a given instant.

use std::time::{Duration, Instant};

/// Request *i* is due at `start + i × period`, for *i* in `0..target`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Schedule {
    /// The instant request 0 is due.
    pub start: Instant,
    /// The instant after which no request is sent (`start + duration`).
    pub end: Instant,
    /// The number of requests scheduled.
    pub target: u64,
    period_ns: f64,
}

impl Schedule {
    /// A schedule of `target` requests at `rate` per second from `start` for `duration`.
    pub fn new(start: Instant, rate: f64, duration: Duration, target: u64) -> Self {
        Self {
            start,
            end: start + duration,
            target,
            period_ns: 1e9 / rate,
        }
    }

    /// The instant request `index` is due.
    pub fn due(&self, index: u64) -> Instant {
        self.start + Duration::from_nanos((index as f64 * self.period_ns) as u64)
    }

    /// How many requests were due strictly before `instant` (capped at the target).
    pub fn due_before(&self, instant: Instant) -> u64 {
        let elapsed = instant.saturating_duration_since(self.start).as_nanos() as f64;
        let estimate = ((elapsed / self.period_ns).ceil() as u64).min(self.target);
        self.settle(estimate, |due| due < instant)
    }

    /// How many requests are due at or before `instant` (capped at the target): every request
    /// below the returned index may be sent at `instant` without being early.
    pub fn due_by(&self, instant: Instant) -> u64 {
        if instant < self.start {
            return 0;
        }
        let elapsed = (instant - self.start).as_nanos() as f64;
        let estimate = ((elapsed / self.period_ns).floor() as u64)
            .saturating_add(1)
            .min(self.target);
        self.settle(estimate, |due| due <= instant)
    }

    /// Corrects a floating-point `estimate` of the count of leading requests whose due time
    /// satisfies `counts`, so that the answer agrees exactly with [`Schedule::due`].
    fn settle(&self, mut estimate: u64, counts: impl Fn(Instant) -> bool) -> u64 {
        while estimate > 0 && !counts(self.due(estimate - 1)) {
            estimate -= 1;
        }
        while estimate < self.target && counts(self.due(estimate)) {
            estimate += 1;
        }
        estimate
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn spaces_requests_evenly_from_start() {
        let start = Instant::now();
        let s = Schedule::new(start, 1000.0, Duration::from_secs(2), 2000);
        assert_eq!(s.due(0), start);
        assert_eq!(s.due(1), start + Duration::from_millis(1));
        assert_eq!(s.due(1999), start + Duration::from_millis(1999));
        assert_eq!(s.end, start + Duration::from_secs(2));
    }

    #[test]
    fn counts_requests_due_before_an_instant() {
        let start = Instant::now();
        let s = Schedule::new(start, 1000.0, Duration::from_secs(2), 2000);
        assert_eq!(s.due_before(start), 0);
        assert_eq!(s.due_before(start + Duration::from_micros(1)), 1);
        assert_eq!(s.due_before(start + Duration::from_millis(10)), 10);
        assert_eq!(s.due_before(start + Duration::from_secs(9)), 2000);
    }

    #[test]
    fn counts_requests_due_by_an_instant() {
        let start = Instant::now();
        let s = Schedule::new(start, 1000.0, Duration::from_secs(2), 2000);
        assert_eq!(s.due_by(start), 1);
        assert_eq!(s.due_by(start + Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(start + Duration::from_millis(1)), 2);
        assert_eq!(s.due_by(start + Duration::from_secs(9)), 2000);
    }

    proptest! {
        #[test]
        fn counts_agree_with_due_times(rate in 0.5f64..2e6, offset_ns in 0u64..3_000_000_000) {
            let start = Instant::now();
            let s = Schedule::new(start, rate, Duration::from_secs(3), (rate * 3.0) as u64);
            let at = start + Duration::from_nanos(offset_ns);
            let by = s.due_by(at);
            prop_assert!(by == 0 || s.due(by - 1) <= at);
            prop_assert!(by == s.target || s.due(by) > at);
            let before = s.due_before(at);
            prop_assert!(before == 0 || s.due(before - 1) < at);
            prop_assert!(before == s.target || s.due(before) >= at);
        }
    }
}

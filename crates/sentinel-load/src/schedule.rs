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
        let due = (elapsed / self.period_ns).ceil() as u64;
        due.min(self.target)
    }
}

#[cfg(test)]
mod tests {
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
}

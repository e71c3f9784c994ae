//! The open-loop schedule: when request *i* is due, and how many were due by a given instant.
//!
//! The whole schedule's request *g* is due where the integral of the rate profile reaches *g*
//! (`start + g / rate` at a constant rate); a run that is one segment of it numbers its own
//! requests `0..target` and sends, as its request *i*, the whole schedule's request
//! `segment.global(i)`.

use std::time::{Duration, Instant};

use crate::segment::Segment;
use crate::stages::RateProfile;

/// The due times of one run's requests, for *i* in `0..target`.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    /// The instant the whole schedule starts (its request 0 is due then).
    pub start: Instant,
    /// The instant after which no request is sent (`start + duration`).
    pub end: Instant,
    /// The number of requests this run sends.
    pub target: u64,
    /// The number of requests the whole schedule holds (all segments together).
    pub whole: u64,
    profile: RateProfile,
    segment: Segment,
    /// The period in nanoseconds when the rate is constant: the fast path of [`Schedule::due`].
    period_ns: Option<f64>,
}

impl Schedule {
    /// The segment `segment` of `profile`, starting at `start`.
    pub fn new(start: Instant, profile: RateProfile, segment: Segment) -> Self {
        let whole = (profile.total() + 1e-9).floor() as u64;
        Self {
            start,
            end: start + profile.duration(),
            target: segment.share_of(whole),
            whole,
            period_ns: profile.constant_rate().map(|rate| 1e9 / rate),
            profile,
            segment,
        }
    }

    /// `rate` requests per second for `duration` from `start`, the whole schedule.
    #[cfg(test)]
    pub fn constant(start: Instant, rate: f64, duration: Duration) -> Self {
        Self::new(start, RateProfile::constant(rate, duration), Segment::WHOLE)
    }

    /// How long after the start request `index` is due.
    pub fn offset(&self, index: u64) -> Duration {
        let global = self.segment.global(index) as f64;
        let nanos = match self.period_ns {
            Some(period) => global * period,
            None => self.profile.time_of(global) * 1e9,
        };
        Duration::from_nanos(nanos as u64)
    }

    /// The instant request `index` is due.
    pub fn due(&self, index: u64) -> Instant {
        self.start + self.offset(index)
    }

    /// How many requests were due strictly before `instant` (capped at the target).
    pub fn due_before(&self, instant: Instant) -> u64 {
        let reached = self.reached(instant);
        let estimate = self
            .segment
            .share_of((reached.ceil() as u64).min(self.whole));
        self.settle(estimate, |due| due < instant)
    }

    /// How many requests are due at or before `instant` (capped at the target): every request
    /// below the returned index may be sent at `instant` without being early.
    pub fn due_by(&self, instant: Instant) -> u64 {
        if instant < self.start {
            return 0;
        }
        let reached = self.reached(instant);
        let estimate = self
            .segment
            .share_of((reached.floor() as u64).saturating_add(1).min(self.whole));
        self.settle(estimate, |due| due <= instant)
    }

    /// The requests due in `[from, to)` seconds of the schedule: `(first, end)` indices.
    pub fn due_within(&self, from: Duration, to: Duration) -> (u64, u64) {
        (
            self.due_before(self.start + from),
            self.due_before(self.start + to),
        )
    }

    /// The integral of the rate from the start to `instant`: the whole schedule's requests due
    /// by then, before rounding.
    fn reached(&self, instant: Instant) -> f64 {
        let elapsed = instant.saturating_duration_since(self.start).as_secs_f64();
        self.profile.integral(elapsed)
    }

    /// The rate profile this schedule follows.
    pub fn profile(&self) -> &RateProfile {
        &self.profile
    }

    /// The segment of the whole schedule this run sends.
    pub fn segment(&self) -> Segment {
        self.segment
    }

    /// Corrects a floating-point `estimate` of the count of leading requests whose due time
    /// satisfies `counts`, so that the answer agrees exactly with [`Schedule::due`].
    fn settle(&self, mut estimate: u64, counts: impl Fn(Instant) -> bool) -> u64 {
        estimate = estimate.min(self.target);
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
    use crate::stages::Stage;

    fn constant(start: Instant, rate: f64, seconds: u64) -> Schedule {
        Schedule::constant(start, rate, Duration::from_secs(seconds))
    }

    #[test]
    fn spaces_requests_evenly_from_start() {
        let start = Instant::now();
        let s = constant(start, 1000.0, 2);
        assert_eq!(s.target, 2000);
        assert_eq!(s.due(0), start);
        assert_eq!(s.due(1), start + Duration::from_millis(1));
        assert_eq!(s.due(1999), start + Duration::from_millis(1999));
        assert_eq!(s.end, start + Duration::from_secs(2));
    }

    #[test]
    fn counts_requests_due_before_an_instant() {
        let start = Instant::now();
        let s = constant(start, 1000.0, 2);
        assert_eq!(s.due_before(start), 0);
        assert_eq!(s.due_before(start + Duration::from_micros(1)), 1);
        assert_eq!(s.due_before(start + Duration::from_millis(10)), 10);
        assert_eq!(s.due_before(start + Duration::from_secs(9)), 2000);
    }

    #[test]
    fn counts_requests_due_by_an_instant() {
        let start = Instant::now();
        let s = constant(start, 1000.0, 2);
        assert_eq!(s.due_by(start), 1);
        assert_eq!(s.due_by(start + Duration::from_micros(999)), 1);
        assert_eq!(s.due_by(start + Duration::from_millis(1)), 2);
        assert_eq!(s.due_by(start + Duration::from_secs(9)), 2000);
    }

    #[test]
    fn a_segment_sends_every_nth_request_at_the_whole_schedules_due_time() {
        let start = Instant::now();
        let whole = constant(start, 1000.0, 1);
        let profile = RateProfile::constant(1000.0, Duration::from_secs(1));
        let third = Schedule::new(start, profile, "3/4".parse().expect("valid"));
        assert_eq!(third.target, 250);
        assert_eq!(third.due(0), whole.due(2));
        assert_eq!(third.due(1), whole.due(6));
        assert_eq!(third.due_before(start + Duration::from_millis(7)), 2);
    }

    /// A ramp up, a hold and a ramp down: every kind of piece.
    fn staged(start: Instant, segment: Segment, scale: f64) -> Schedule {
        let stages: Vec<Stage> = ["700ms:900", "400ms:=300", "900ms:0"]
            .iter()
            .map(|text| text.parse().expect("valid"))
            .collect();
        let stages: Vec<Stage> = stages
            .into_iter()
            .map(|stage| Stage {
                rate: stage.rate * scale,
                ..stage
            })
            .collect();
        Schedule::new(start, RateProfile::staged(50.0 * scale, &stages), segment)
    }

    proptest! {
        #[test]
        fn counts_agree_with_due_times(
            rate in 0.5f64..2e6,
            offset_ns in 0u64..3_000_000_000,
            scale in 0.01f64..100.0,
            ramped in any::<bool>(),
        ) {
            let start = Instant::now();
            let s = if ramped {
                staged(start, Segment::WHOLE, scale)
            } else {
                constant(start, rate, 3)
            };
            let at = start + Duration::from_nanos(offset_ns);
            let by = s.due_by(at);
            prop_assert!(by == 0 || s.due(by - 1) <= at);
            prop_assert!(by == s.target || s.due(by) > at);
            let before = s.due_before(at);
            prop_assert!(before == 0 || s.due(before - 1) < at);
            prop_assert!(before == s.target || s.due(before) >= at);
        }

        #[test]
        fn segments_together_send_exactly_the_whole_schedule(
            n in 1u64..9,
            rate in 1.0f64..5000.0,
            scale in 0.05f64..20.0,
            ramped in any::<bool>(),
        ) {
            let start = Instant::now();
            let make = |segment: Segment| {
                if ramped {
                    staged(start, segment, scale)
                } else {
                    let profile = RateProfile::constant(rate, Duration::from_millis(1500));
                    Schedule::new(start, profile, segment)
                }
            };
            let whole = make(Segment::WHOLE);
            let mut dues: Vec<Instant> = Vec::new();
            for k in 1..=n {
                let part = make(Segment::new(k, n).expect("1 <= k <= n"));
                prop_assert_eq!(part.whole, whole.target);
                dues.extend((0..part.target).map(|i| part.due(i)));
            }
            dues.sort_unstable();
            let expected: Vec<Instant> = (0..whole.target).map(|i| whole.due(i)).collect();
            prop_assert_eq!(dues, expected);
        }
    }
}

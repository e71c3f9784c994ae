//! Arrival-rate stages: a rate that changes over the run, as a list of `DURATION:RATE` steps.
//!
//! Each [`Stage`] ramps linearly from the rate before it (the first from the run's starting
//! rate) to its own rate over its duration, or holds its rate (`=RATE`). The rate is thereby a
//! piecewise-linear function of time, [`RateProfile`], and request *i* is due at the first
//! instant where the integral of the rate since the start reaches *i*: a ramp thins or
//! thickens the arrivals smoothly and a stage edge never bursts, because the integral is
//! continuous across it. A constant rate is the one-piece profile, where request *i* is due at
//! `i / rate` exactly as before.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sentinel_duration::parse_duration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One step of an arrival-rate profile: `30s:1000` ramps to 1000 req/s over 30 s,
/// `1m:=2000` holds 2000 req/s for a minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// How long the stage lasts.
    pub duration: Duration,
    /// The rate the stage reaches (a ramp) or keeps (a hold), requests per second.
    pub rate: f64,
    /// Whether the stage holds its rate from its first instant instead of ramping to it.
    pub hold: bool,
}

/// Why a stage was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StageError {
    /// Not `DURATION:RATE`.
    #[error(
        "`{0}` is not a stage: expected DURATION:RATE to ramp (30s:1000) or \
         DURATION:=RATE to hold (1m:=2000)"
    )]
    Form(String),
    /// The duration did not parse or is zero.
    #[error("`{text}`: {why}")]
    Duration {
        /// The whole stage.
        text: String,
        /// What is wrong with the duration.
        why: String,
    },
    /// The rate is not a finite number of at least zero.
    #[error("`{0}`: the rate must be a number of requests per second, 0 or more")]
    Rate(String),
}

impl FromStr for Stage {
    type Err = StageError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (duration, rate) = text
            .split_once(':')
            .ok_or_else(|| StageError::Form(text.to_owned()))?;
        let duration_error = |why: String| StageError::Duration {
            text: text.to_owned(),
            why,
        };
        let duration =
            parse_duration(duration.trim()).map_err(|e| duration_error(e.to_string()))?;
        if duration.is_zero() {
            return Err(duration_error(
                "a stage must last longer than zero".to_owned(),
            ));
        }
        let rate = rate.trim();
        let (hold, rate) = match rate.strip_prefix('=') {
            Some(rate) => (true, rate.trim()),
            None => (false, rate),
        };
        let rate = rate.strip_suffix("/s").unwrap_or(rate);
        match rate.parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate >= 0.0 => Ok(Self {
                duration,
                rate,
                hold,
            }),
            _ => Err(StageError::Rate(text.to_owned())),
        }
    }
}

/// `30s:1000` or `60s:=2000`: the duration in seconds, so that it parses back to the same stage.
impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hold = if self.hold { "=" } else { "" };
        write!(f, "{}s:{hold}{}", self.duration.as_secs_f64(), self.rate)
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Stage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One linear piece of the rate: from `from` to `to` requests per second over `duration_s`,
/// starting `start_s` into the run, after `before` requests' worth of integral.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Piece {
    start_s: f64,
    duration_s: f64,
    from: f64,
    to: f64,
    before: f64,
}

impl Piece {
    /// The integral of the rate over the first `t` seconds of the piece.
    fn area(&self, t: f64) -> f64 {
        let t = t.clamp(0.0, self.duration_s);
        let slope = (self.to - self.from) / self.duration_s;
        self.from * t + slope * t * t / 2.0
    }

    /// The first time into the piece where its integral reaches `m` (clamped to the piece).
    fn time_of(&self, m: f64) -> f64 {
        if m <= 0.0 {
            return 0.0;
        }
        if self.from == self.to {
            return if self.from > 0.0 {
                (m / self.from).min(self.duration_s)
            } else {
                self.duration_s
            };
        }
        // from·t + slope·t²/2 = m, solved in the form that stays exact as the slope nears 0.
        let slope = (self.to - self.from) / self.duration_s;
        let root = (self.from * self.from + 2.0 * slope * m).max(0.0).sqrt();
        let denominator = self.from + root;
        if denominator <= 0.0 {
            return self.duration_s;
        }
        (2.0 * m / denominator).min(self.duration_s)
    }
}

/// The rate over a run as a function of time, and the due time of every request under it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RateProfile {
    pieces: Vec<Piece>,
    /// The sum of the stages' durations, exactly.
    duration: Duration,
}

impl RateProfile {
    /// `rate` requests per second for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Self {
        Self::staged(
            rate,
            &[Stage {
                duration,
                rate,
                hold: true,
            }],
        )
    }

    /// Ramps (or holds) through `stages` in turn, the first ramp starting at `start_rate`.
    pub fn staged(start_rate: f64, stages: &[Stage]) -> Self {
        let mut pieces = Vec::with_capacity(stages.len());
        let (mut start_s, mut rate, mut before) = (0.0, start_rate, 0.0);
        for stage in stages {
            let from = if stage.hold { stage.rate } else { rate };
            let piece = Piece {
                start_s,
                duration_s: stage.duration.as_secs_f64(),
                from,
                to: stage.rate,
                before,
            };
            before += piece.area(piece.duration_s);
            start_s += piece.duration_s;
            rate = stage.rate;
            pieces.push(piece);
        }
        Self {
            pieces,
            duration: stages.iter().map(|stage| stage.duration).sum(),
        }
    }

    /// The constant rate when the profile has one, for the fast path of due times.
    pub fn constant_rate(&self) -> Option<f64> {
        match self.pieces.as_slice() {
            [only] if only.from == only.to && only.from > 0.0 => Some(only.from),
            _ => None,
        }
    }

    /// How long the profile lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// How long the profile lasts, seconds.
    pub fn duration_s(&self) -> f64 {
        self.pieces
            .last()
            .map_or(0.0, |last| last.start_s + last.duration_s)
    }

    /// The integral of the rate over the whole profile: how many requests it schedules, before
    /// rounding down.
    pub fn total(&self) -> f64 {
        self.integral(self.duration_s())
    }

    /// The integral of the rate from the start to `t` seconds (clamped to the profile).
    pub fn integral(&self, t: f64) -> f64 {
        let index = self
            .pieces
            .partition_point(|piece| piece.start_s + piece.duration_s < t);
        match self.pieces.get(index).or(self.pieces.last()) {
            Some(piece) => piece.before + piece.area(t - piece.start_s),
            None => 0.0,
        }
    }

    /// The rate at `t` seconds into the profile (0 outside it).
    #[cfg(test)]
    pub fn rate_at(&self, t: f64) -> f64 {
        let index = self
            .pieces
            .partition_point(|piece| piece.start_s + piece.duration_s <= t);
        match self.pieces.get(index) {
            Some(piece) if t >= piece.start_s => {
                let into = (t - piece.start_s) / piece.duration_s;
                piece.from + (piece.to - piece.from) * into
            }
            _ => 0.0,
        }
    }

    /// The first time, in seconds from the start, at which the integral reaches `n`.
    pub fn time_of(&self, n: f64) -> f64 {
        // The first piece whose end the integral reaches n by.
        let index = self
            .pieces
            .partition_point(|piece| piece.before + piece.area(piece.duration_s) < n);
        match self.pieces.get(index) {
            Some(piece) => piece.start_s + piece.time_of(n - piece.before),
            None => self.duration_s(),
        }
    }

    /// The start of each stage, seconds from the start of the run.
    pub fn stage_starts(&self) -> impl Iterator<Item = f64> + '_ {
        self.pieces.iter().map(|piece| piece.start_s)
    }

    /// The index, in the whole schedule, of each stage's first request: the first *i* at or
    /// above the integral up to the stage's start.
    pub fn stage_first_requests(&self) -> impl Iterator<Item = u64> + '_ {
        self.pieces.iter().map(|piece| {
            (piece.before - 1e-9 * piece.before.max(1.0))
                .ceil()
                .max(0.0) as u64
        })
    }

    /// Each stage's rate at its start and at its end.
    pub fn stage_rates(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.pieces.iter().map(|piece| (piece.from, piece.to))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn stage(text: &str) -> Stage {
        text.parse().expect("a valid stage")
    }

    #[test]
    fn parses_ramps_and_holds_and_prints_them_back() {
        assert_eq!(
            stage("30s:1000"),
            Stage {
                duration: Duration::from_secs(30),
                rate: 1000.0,
                hold: false
            }
        );
        let hold = stage("1m:=2000");
        assert!(hold.hold);
        assert_eq!(hold.duration, Duration::from_secs(60));
        assert_eq!(hold.to_string(), "60s:=2000");
        assert_eq!(stage(&hold.to_string()), hold);
        assert_eq!(stage("500ms:0").to_string(), "0.5s:0");
        assert_eq!(stage("2s:=12.5/s").rate, 12.5);
    }

    #[test]
    fn refuses_what_is_not_a_stage() {
        assert!(matches!("30s".parse::<Stage>(), Err(StageError::Form(_))));
        assert!(matches!(
            "30:100".parse::<Stage>(),
            Err(StageError::Duration { .. })
        ));
        assert!(matches!(
            "0s:100".parse::<Stage>(),
            Err(StageError::Duration { .. })
        ));
        for bad in ["1s:-5", "1s:fast", "1s:=", "1s:inf"] {
            assert!(
                matches!(bad.parse::<Stage>(), Err(StageError::Rate(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_ramp_from_zero_schedules_half_its_rectangle() {
        let profile = RateProfile::staged(0.0, &[stage("10s:1000")]);
        assert!((profile.total() - 5000.0).abs() < 1e-9);
        // rate(t) = 100 t, integral = 50 t²: request 50 is due at 1 s, request 1250 at 5 s.
        assert!((profile.time_of(50.0) - 1.0).abs() < 1e-12);
        assert!((profile.time_of(1250.0) - 5.0).abs() < 1e-12);
        assert!((profile.rate_at(5.0) - 500.0).abs() < 1e-9);
    }

    #[test]
    fn a_constant_profile_is_the_plain_schedule() {
        let profile = RateProfile::constant(1000.0, Duration::from_secs(2));
        assert_eq!(profile.constant_rate(), Some(1000.0));
        assert_eq!(profile.time_of(1999.0), 1.999);
        assert_eq!(profile.total(), 2000.0);
    }

    #[test]
    fn a_pause_at_zero_moves_the_next_request_past_it() {
        let profile = RateProfile::staged(0.0, &[stage("1s:=10"), stage("5s:=0"), stage("1s:=10")]);
        assert!((profile.total() - 20.0).abs() < 1e-9);
        assert!((profile.time_of(9.0) - 0.9).abs() < 1e-12);
        // Request 10 is due where the integral first reaches 10: the end of the first stage.
        assert!((profile.time_of(10.0) - 1.0).abs() < 1e-12);
        assert!((profile.time_of(10.5) - 6.05).abs() < 1e-12);
    }

    /// A stage drawn for the property tests: a ramp or a hold of 0.1–20 s to 0–5000 req/s.
    fn any_stage() -> impl Strategy<Value = Stage> {
        (100u64..20_000, 0.0f64..5000.0, any::<bool>()).prop_map(|(ms, rate, hold)| Stage {
            duration: Duration::from_millis(ms),
            rate,
            hold,
        })
    }

    /// The integral of a piecewise-linear rate by the trapezoid rule, which is exact for it:
    /// written apart from the profile's own arithmetic so that the two check each other.
    fn trapezoid_integral(start_rate: f64, stages: &[Stage], t: f64) -> f64 {
        let (mut elapsed, mut rate, mut total) = (0.0, start_rate, 0.0);
        for stage in stages {
            let d = stage.duration.as_secs_f64();
            let from = if stage.hold { stage.rate } else { rate };
            let within = (t - elapsed).clamp(0.0, d);
            let rate_there = from + (stage.rate - from) * within / d;
            total += (from + rate_there) / 2.0 * within;
            elapsed += d;
            rate = stage.rate;
        }
        total
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn each_due_time_is_where_the_integral_reaches_its_index(
            start_rate in 0.0f64..5000.0,
            stages in proptest::collection::vec(any_stage(), 1..6),
            picks in proptest::collection::vec(0.0f64..1.0, 1..50),
        ) {
            let profile = RateProfile::staged(start_rate, &stages);
            let total = trapezoid_integral(start_rate, &stages, f64::INFINITY);
            prop_assert!((profile.total() - total).abs() <= 1e-9 * total.max(1.0));
            let count = (total + 1e-9).floor() as u64;
            prop_assume!(count > 1);
            let mut indexes: Vec<u64> =
                picks.iter().map(|p| (p * (count - 1) as f64) as u64).collect();
            indexes.sort_unstable();
            let mut last = 0.0;
            for i in indexes {
                let due = profile.time_of(i as f64);
                // Exact: the integral up to the due time is the index...
                let reached = trapezoid_integral(start_rate, &stages, due);
                prop_assert!((reached - i as f64).abs() <= 1e-6 * (i as f64).max(1.0),
                    "request {i} due at {due} s where the integral is {reached}");
                // ...and it is the first such time: a hair earlier, the integral falls short.
                if due > 1e-9 {
                    let earlier = trapezoid_integral(start_rate, &stages, due - 1e-7 * due.max(1.0));
                    prop_assert!(earlier < i as f64 + 1e-6 * (i as f64).max(1.0));
                }
                // Due times never go back, so no two stages' requests interleave or bunch.
                prop_assert!(due >= last);
                last = due;
            }
        }

        #[test]
        fn the_rate_is_the_slope_of_the_integral(
            start_rate in 0.0f64..5000.0,
            stages in proptest::collection::vec(any_stage(), 1..6),
            at in 0.0f64..1.0,
        ) {
            let profile = RateProfile::staged(start_rate, &stages);
            let t = at * profile.duration_s();
            let h = 1e-6;
            prop_assume!(t > h && t + h < profile.duration_s());
            let slope = (profile.integral(t + h) - profile.integral(t - h)) / (2.0 * h);
            let rate = profile.rate_at(t);
            // A stage edge within the step makes the slope a mix of the two sides' rates.
            let edge = profile.stage_starts().any(|s| (s - t).abs() <= h);
            prop_assume!(!edge);
            prop_assert!((slope - rate).abs() <= 1e-3 * rate.max(1.0), "{slope} vs {rate}");
        }
    }
}

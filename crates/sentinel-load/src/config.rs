//! What a load test is asked to do, and the checks that refuse a test that cannot run.

use std::time::{Duration, SystemTime};

use crate::mix::Mix;
use crate::segment::Segment;
use crate::stages::{RateProfile, Stage};

/// The parameters of one open-loop run: data only. What steers a run while it goes (the token
/// that stops it, the sink of its timeline) is given to the run as its
/// [`RunControl`](crate::RunControl).
#[derive(Debug, Clone)]
pub struct LoadTestConfig {
    /// Target rate: request *i* is due at `start + i / requests_per_second`. With
    /// [`LoadTestConfig::stages`], the rate the first stage ramps from (0 allowed).
    pub requests_per_second: f64,
    /// How long requests are scheduled for; `rate × duration` requests are due in total. With
    /// stages, their total duration (see [`LoadTestConfig::with_stages`]).
    pub duration: Duration,
    /// Arrival-rate stages: when not empty, the rate ramps (or holds) through them in turn and
    /// request *i* is due where the integral of the rate reaches *i*.
    pub stages: Vec<Stage>,
    /// The share of the schedule this run sends ([`Segment::WHOLE`] unless the schedule is
    /// split between generators).
    pub segment: Segment,
    /// The wall-clock instant the schedule starts (shared by every generator of a split
    /// schedule); `None` starts it when the run starts. A start already past by more than the
    /// first interval (the time until this run's second request is due) is refused.
    pub start_at: Option<SystemTime>,
    /// At most this many requests are in flight at once (one worker each).
    pub workers: usize,
    /// A request still running after this long (from its actual send) is cancelled and counted
    /// as a `timeout` error.
    pub timeout: Duration,
    /// After cancellation, in-flight requests get this long to finish before they are dropped
    /// and counted as `cancelled` errors.
    pub grace: Duration,
    /// How much later than its due time a request may be released so that one timer wakeup
    /// serves every request due within it (at most [`MAX_PACING_SLACK`]). It shows in the
    /// schedule lag and the latency, both measured from the due time, so it costs accuracy
    /// nothing; a smaller slack costs CPU at high rates.
    pub pacing_slack: Duration,
    /// Which target each request goes to when the request function serves several (it reads
    /// [`RequestContext::target`](crate::RequestContext::target)); one target by default.
    /// Split between segments, the whole schedule's mix is kept: N generators together send
    /// each target the requests one would.
    pub mix: Mix,
    /// Whether the result also holds each target's own figures (see
    /// [`LoadTestResult::targets`](crate::LoadTestResult::targets)); at most
    /// [`MAX_REPORTED_TARGETS`] targets.
    pub by_target: bool,
}

/// The most targets whose figures a run keeps apart: each costs a set of histograms per runtime
/// thread (about a megabyte for a 10 s run).
pub const MAX_REPORTED_TARGETS: usize = 100;

/// The largest [`LoadTestConfig::pacing_slack`] accepted: beyond it pacing would be too coarse
/// to call the schedule kept.
pub const MAX_PACING_SLACK: Duration = Duration::from_millis(1);

impl LoadTestConfig {
    /// A configuration with the given rate and duration, 64 workers, a 2 s timeout, a 1 s grace
    /// period, a 500 µs pacing slack and one target.
    pub fn new(requests_per_second: f64, duration: Duration) -> Self {
        Self {
            requests_per_second,
            duration,
            workers: 64,
            timeout: Duration::from_secs(2),
            grace: Duration::from_secs(1),
            pacing_slack: Duration::from_micros(500),
            stages: Vec::new(),
            segment: Segment::WHOLE,
            start_at: None,
            mix: Mix::single(),
            by_target: false,
        }
    }

    /// This configuration ramping from `requests_per_second` through `stages`, its duration
    /// their total.
    pub fn with_stages(self, stages: Vec<Stage>) -> Self {
        Self {
            duration: stages.iter().map(|stage| stage.duration).sum(),
            stages,
            ..self
        }
    }

    /// The rate over time this configuration schedules.
    pub(crate) fn profile(&self) -> RateProfile {
        if self.stages.is_empty() {
            RateProfile::constant(self.requests_per_second, self.duration)
        } else {
            RateProfile::staged(self.requests_per_second, &self.stages)
        }
    }

    /// This run's mean scheduled rate (its share of the schedule, over the whole duration),
    /// requests per second: what a throughput expectation should be measured against.
    pub fn mean_rate(&self) -> f64 {
        let seconds = self.duration.as_secs_f64();
        if seconds > 0.0 {
            self.profile().total() / self.segment.count() as f64 / seconds
        } else {
            0.0
        }
    }

    /// Checks the configuration and returns the number of requests it schedules.
    pub(crate) fn validate(&self) -> Result<u64, ConfigError> {
        let rate = self.requests_per_second;
        let staged = !self.stages.is_empty();
        if !rate.is_finite() || rate < 0.0 || (rate == 0.0 && !staged) {
            return Err(ConfigError::Rate(rate));
        }
        if let Some(stage) = self
            .stages
            .iter()
            .find(|stage| stage.duration.is_zero() || !stage.rate.is_finite() || stage.rate < 0.0)
        {
            return Err(ConfigError::Stage(stage.to_string()));
        }
        if staged && self.duration != self.stages.iter().map(|stage| stage.duration).sum() {
            return Err(ConfigError::StagesDuration(self.duration));
        }
        if self.duration.is_zero() {
            return Err(ConfigError::Duration);
        }
        if self.workers == 0 {
            return Err(ConfigError::Workers);
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::Timeout);
        }
        if self.pacing_slack > MAX_PACING_SLACK {
            return Err(ConfigError::PacingSlack(self.pacing_slack));
        }
        if self.by_target && self.mix.targets() > MAX_REPORTED_TARGETS {
            return Err(ConfigError::TooManyTargets(self.mix.targets()));
        }
        let profile = self.profile();
        let whole = (profile.total() + 1e-9).floor();
        if whole > f64::from(u32::MAX) * 16.0 {
            return Err(ConfigError::TooManyRequests(whole));
        }
        let target = self.segment.share_of(whole as u64);
        if target < 1 {
            return Err(ConfigError::NoRequests {
                rate,
                duration: self.duration,
            });
        }
        if let Some(at) = self.start_at {
            // Late by up to the first interval (until this run's second request is due), only the
            // first request is late; later than that, the start would be a burst.
            let first = profile.time_of(self.segment.global(1) as f64);
            let late = SystemTime::now()
                .duration_since(at)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64();
            if late > first {
                return Err(ConfigError::StartPassed(Duration::from_secs_f64(late)));
            }
        }
        Ok(target)
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The rate is zero (without stages), negative or not a number.
    #[error("the rate must be a positive number of requests per second, not {0}")]
    Rate(f64),
    /// A stage has no duration or a rate that is negative or not a number.
    #[error("stage {0}: a stage needs a duration above zero and a rate of 0 or more")]
    Stage(String),
    /// The duration is not the stages' total.
    #[error("a staged run lasts as long as its stages together, not {0:?}")]
    StagesDuration(Duration),
    /// The shared start instant is already further past than this run's first due time.
    #[error(
        "the start instant passed {0:?} ago, before this generator's first request was due: \
         give a --start-at far enough ahead for every generator to be ready"
    )]
    StartPassed(Duration),
    /// The duration is zero.
    #[error("the duration must be longer than zero")]
    Duration,
    /// No workers were asked for.
    #[error("at least one worker is needed")]
    Workers,
    /// The timeout is zero.
    #[error("the per-request timeout must be longer than zero")]
    Timeout,
    /// The pacing slack is above [`MAX_PACING_SLACK`].
    #[error("a pacing slack of {0:?} is above the largest accepted, {MAX_PACING_SLACK:?}")]
    PacingSlack(Duration),
    /// `rate × duration` is less than one request.
    #[error("{rate} req/s for {duration:?} schedules no request")]
    NoRequests {
        /// The configured rate.
        rate: f64,
        /// The configured duration.
        duration: Duration,
    },
    /// `rate × duration` is beyond what one run is meant to schedule.
    #[error("{0} requests is too many for one run")]
    TooManyRequests(f64),
    /// Figures per target were asked for more than [`MAX_REPORTED_TARGETS`] targets.
    #[error("figures per target are kept for at most {MAX_REPORTED_TARGETS} targets, not {0}")]
    TooManyTargets(usize),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_scheduled_requests() {
        let config = LoadTestConfig::new(1000.0, Duration::from_secs(5));
        assert_eq!(config.validate(), Ok(5000));
        let config = LoadTestConfig::new(0.3, Duration::from_secs(10));
        assert_eq!(config.validate(), Ok(3));
    }

    #[test]
    fn refuses_what_cannot_run() {
        let good = LoadTestConfig::new(10.0, Duration::from_secs(1));
        let mut c = good.clone();
        c.requests_per_second = f64::NAN;
        assert!(matches!(c.validate(), Err(ConfigError::Rate(_))));
        let mut c = good.clone();
        c.requests_per_second = -1.0;
        assert!(matches!(c.validate(), Err(ConfigError::Rate(_))));
        let mut c = good.clone();
        c.duration = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Duration));
        let mut c = good.clone();
        c.workers = 0;
        assert_eq!(c.validate(), Err(ConfigError::Workers));
        let mut c = good.clone();
        c.timeout = Duration::ZERO;
        assert_eq!(c.validate(), Err(ConfigError::Timeout));
        let mut c = good.clone();
        c.pacing_slack = Duration::from_millis(2);
        assert!(matches!(c.validate(), Err(ConfigError::PacingSlack(_))));
        let mut c = good.clone();
        c.requests_per_second = 0.5;
        assert!(matches!(c.validate(), Err(ConfigError::NoRequests { .. })));
        let mut c = good.clone();
        c.mix = Mix::round_robin(MAX_REPORTED_TARGETS + 1).unwrap();
        assert_eq!(c.validate(), Ok(10), "many targets, reported together");
        c.by_target = true;
        assert_eq!(
            c.validate(),
            Err(ConfigError::TooManyTargets(MAX_REPORTED_TARGETS + 1))
        );
        let mut c = good;
        c.requests_per_second = 1e12;
        c.duration = Duration::from_secs(3600);
        assert!(matches!(c.validate(), Err(ConfigError::TooManyRequests(_))));
    }
}

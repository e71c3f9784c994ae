//! What a load test is asked to do, and the checks that refuse a test that cannot run.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// The parameters of one open-loop run.
#[derive(Debug, Clone)]
pub struct LoadTestConfig {
    /// Target rate: request *i* is due at `start + i / requests_per_second`.
    pub requests_per_second: f64,
    /// How long requests are scheduled for; `rate × duration` requests are due in total.
    pub duration: Duration,
    /// At most this many requests are in flight at once (one worker each).
    pub workers: usize,
    /// A request still running after this long (from its actual send) is cancelled and counted
    /// as a `timeout` error.
    pub timeout: Duration,
    /// After cancellation, in-flight requests get this long to finish before they are dropped
    /// and counted as `cancelled` errors.
    pub grace: Duration,
    /// Cancelling this token stops scheduling; the run drains and returns a partial result.
    pub cancel: CancellationToken,
    /// How much later than its due time a request may be released so that one timer wakeup
    /// serves every request due within it (at most [`MAX_PACING_SLACK`]). It shows in the
    /// schedule lag and the latency, both measured from the due time, so it costs accuracy
    /// nothing; a smaller slack costs CPU at high rates.
    pub pacing_slack: Duration,
}

/// The largest [`LoadTestConfig::pacing_slack`] accepted: beyond it pacing would be too coarse
/// to call the schedule kept.
pub const MAX_PACING_SLACK: Duration = Duration::from_millis(1);

impl LoadTestConfig {
    /// A configuration with the given rate and duration, 64 workers, a 2 s timeout, a 1 s grace
    /// period, a 500 µs pacing slack and a fresh cancellation token.
    pub fn new(requests_per_second: f64, duration: Duration) -> Self {
        Self {
            requests_per_second,
            duration,
            workers: 64,
            timeout: Duration::from_secs(2),
            grace: Duration::from_secs(1),
            cancel: CancellationToken::new(),
            pacing_slack: Duration::from_micros(500),
        }
    }

    /// Checks the configuration and returns the number of requests it schedules.
    pub(crate) fn validate(&self) -> Result<u64, ConfigError> {
        let rate = self.requests_per_second;
        if !rate.is_finite() || rate <= 0.0 {
            return Err(ConfigError::Rate(rate));
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
        let target = (rate * self.duration.as_secs_f64() + 1e-9).floor();
        if target < 1.0 {
            return Err(ConfigError::NoRequests {
                rate,
                duration: self.duration,
            });
        }
        if target > u32::MAX as f64 * 16.0 {
            return Err(ConfigError::TooManyRequests(target));
        }
        Ok(target as u64)
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The rate is zero, negative or not a number.
    #[error("the rate must be a positive number of requests per second, not {0}")]
    Rate(f64),
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
        let mut c = good;
        c.requests_per_second = 1e12;
        c.duration = Duration::from_secs(3600);
        assert!(matches!(c.validate(), Err(ConfigError::TooManyRequests(_))));
    }
}

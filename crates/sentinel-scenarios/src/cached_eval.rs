//! `cached-eval`: a load through the pre-warmed policy cache, then the evaluation. The cache's
//! own hit and miss counters must show that it, not the store behind it, answered.

use jiff::Timestamp;
use sentinel_core::source::PolicySource;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use sentinel_policy::Request;

use crate::cache::{Cache, CacheFigures};
use crate::defaults;
use crate::findings::CheckResult;
use crate::fixture;
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

/// The least share of cache lookups the cache must answer by itself.
const MIN_HIT_RATIO: f64 = 0.99;

/// Error kind of a request whose policy could not be loaded.
const POLICY_UNAVAILABLE: &str = "policy_unavailable";

/// Loads the example policy through the warmed cache and evaluates it for alice (allow).
#[derive(Debug, Clone, Copy)]
pub struct CachedEval;

/// The warmed cache.
pub struct CachedEvalWorkload {
    cache: Cache,
}

impl LoadScenario for CachedEval {
    type Workload = CachedEvalWorkload;

    fn name(&self) -> &'static str {
        "cached-eval"
    }

    fn summary(&self) -> &'static str {
        "load through the pre-warmed policy cache, then evaluate"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(1000.0, 10, 50)
    }

    fn thresholds(&self, _rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>99%", "p99<10ms"])
    }

    async fn prepare(
        &self,
        _config: &LoadTestConfig,
        _setup: &Setup,
    ) -> Result<CachedEvalWorkload, SetupError> {
        Ok(CachedEvalWorkload {
            cache: Cache::warm().await?,
        })
    }
}

impl Workload for CachedEvalWorkload {
    type Figures = CacheFigures;

    async fn request(&self, _ctx: RequestContext) -> Result<(), RequestError> {
        let loaded = self
            .cache
            .source
            .load(fixture::PROFILE)
            .await
            .map_err(|_| RequestError::new(POLICY_UNAVAILABLE))?;
        fixture::expect_allow(loaded.policy.evaluate(&Request::new(
            fixture::ALLOWED_USER,
            fixture::PROFILE,
            Timestamp::now(),
        )))
    }

    fn finish(&self, _result: &LoadTestResult) -> (CacheFigures, Vec<CheckResult>) {
        let figures = self.cache.figures();
        let check = check_hit_ratio(figures.cache_hit_ratio, MIN_HIT_RATIO);
        (figures, vec![check])
    }
}

/// Passes when at least `minimum` (a fraction) of the cache lookups were hits.
fn check_hit_ratio(ratio: f64, minimum: f64) -> CheckResult {
    CheckResult::new(
        "cache_hit_ratio",
        ratio >= minimum,
        format!(
            "{:.3}% of lookups hit, at least {}% required",
            ratio * 100.0,
            minimum * 100.0
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hit_ratio_check_is_inclusive() {
        assert!(check_hit_ratio(0.99, 0.99).passed);
        let short = check_hit_ratio(0.989, 0.99);
        assert!(!short.passed);
        assert_eq!(
            short.detail,
            "98.900% of lookups hit, at least 99% required"
        );
    }
}

//! `policy-eval`: the evaluation of the example policy for an allowed request, nothing else. It
//! shows what the policy language costs on its own: no store, no cache, no log.

use std::sync::Arc;

use jiff::Timestamp;
use sentinel_core::source::PolicySource;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};
use sentinel_policy::{Policy, Request};

use crate::defaults;
use crate::findings::{CheckResult, NoFigures};
use crate::fixture::{self, MemorySource};
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};

/// Evaluates the example policy for alice on `production`; each must allow.
#[derive(Debug, Clone, Copy)]
pub struct PolicyEval;

/// The parsed example policy.
pub struct PolicyEvalWorkload {
    policy: Arc<Policy>,
}

impl LoadScenario for PolicyEval {
    type Workload = PolicyEvalWorkload;

    fn name(&self) -> &'static str {
        "policy-eval"
    }

    fn summary(&self) -> &'static str {
        "evaluate the example policy for alice/production (allow)"
    }

    fn config(&self) -> LoadTestConfig {
        defaults::config(1000.0, 10, 50)
    }

    fn thresholds(&self, rate: f64) -> Vec<Threshold> {
        defaults::thresholds(&["success>99%", "p99<10ms", &defaults::throughput(rate)])
    }

    async fn prepare(
        &self,
        _config: &LoadTestConfig,
        _setup: &Setup,
    ) -> Result<PolicyEvalWorkload, SetupError> {
        let loaded = MemorySource::example()?.load(fixture::PROFILE).await?;
        Ok(PolicyEvalWorkload {
            policy: loaded.policy,
        })
    }
}

impl Workload for PolicyEvalWorkload {
    type Figures = NoFigures;

    async fn request(&self, _ctx: RequestContext) -> Result<(), RequestError> {
        fixture::expect_allow(self.policy.evaluate(&Request::new(
            fixture::ALLOWED_USER,
            fixture::PROFILE,
            Timestamp::now(),
        )))
    }

    fn finish(&self, _result: &LoadTestResult) -> (NoFigures, Vec<CheckResult>) {
        (NoFigures {}, Vec::new())
    }
}

//! A whole scenario run: check the configuration, prepare the workload, run it on the load
//! generator (with a [`Watch`] for whoever shows progress or handles Ctrl-C), then read its
//! findings and judge its thresholds, once. The command line and the tests run scenarios only
//! through [`run`].

use std::sync::Arc;

use sentinel_load::{
    ConfigError, LoadTest, LoadTestConfig, LoadTestResult, RunControl, Threshold, Verdict,
};

use crate::findings::Findings;
use crate::registry::Scenario;
use crate::scenario::{Setup, SetupError};

/// Why a scenario could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The load configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The scenario could not be prepared.
    #[error(transparent)]
    Setup(#[from] SetupError),
}

/// What a caller sees of a run while it goes: a progress display, a Ctrl-C handler.
pub trait Watch {
    /// Called with the validated test just before its first request is due.
    fn start(&mut self, test: &LoadTest);
    /// Called once the run has ended, before its findings are read.
    fn stop(&mut self);
}

/// No one watches: a run in a test or a library.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwatched;

impl Watch for Unwatched {
    fn start(&mut self, _test: &LoadTest) {}

    fn stop(&mut self) {}
}

/// Everything one run of a scenario showed.
#[derive(Debug)]
pub struct ScenarioRun {
    /// The scenario run.
    pub scenario: Scenario,
    /// The load generator's result.
    pub result: LoadTestResult,
    /// The scenario's own figures and checks.
    pub findings: Findings,
    /// The thresholds checked, each with its breach if it did not hold.
    pub thresholds: Vec<Verdict>,
}

impl ScenarioRun {
    /// Whether every threshold and every check held.
    pub fn passed(&self) -> bool {
        self.findings.passed() && self.thresholds.iter().all(Verdict::passed)
    }

    /// What failed, one line each (empty when the run passed): the breached thresholds, then
    /// the failed checks.
    pub fn failures(&self) -> Vec<String> {
        let mut failures = self.breaches();
        failures.extend(self.failed_checks());
        failures
    }

    /// The thresholds the run breached, one line each.
    pub fn breaches(&self) -> Vec<String> {
        self.thresholds
            .iter()
            .filter_map(|verdict| verdict.breach.as_ref())
            .map(|breach| format!("threshold breached: {breach}"))
            .collect()
    }

    /// The scenario's checks that did not hold, one line each.
    pub fn failed_checks(&self) -> Vec<String> {
        self.findings
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("check failed: {}: {}", check.check, check.detail))
            .collect()
    }
}

/// Runs `scenario` with `config` under `control` against `thresholds` (the scenario's own for
/// the configured rate when `None`), telling `watch` when the load starts and stops. Must be
/// called within a multi-threaded Tokio runtime.
pub async fn run(
    scenario: Scenario,
    config: LoadTestConfig,
    control: RunControl,
    thresholds: Option<Vec<Threshold>>,
    setup: &Setup,
    watch: &mut impl Watch,
) -> Result<ScenarioRun, RunError> {
    let thresholds = thresholds.unwrap_or_else(|| scenario.thresholds(config.mean_rate()));
    // The configuration is checked before anything (a decision log file) is prepared.
    let test = LoadTest::new(config.clone())?;
    let workload = scenario.prepare(&config, setup).await?;
    watch.start(&test);
    let result = Arc::clone(&workload).drive(test, control).await;
    watch.stop();
    let findings = workload.finish(scenario.name(), &result);
    let thresholds = sentinel_load::judge(&thresholds, &result);
    Ok(ScenarioRun {
        scenario,
        result,
        findings,
        thresholds,
    })
}

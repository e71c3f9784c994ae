//! A whole scenario run without a terminal: prepare, run on the load generator, read the
//! findings and check the thresholds. The tests use [`run`]; the CLI drives the load itself
//! (progress, Ctrl-C) and judges the result with the same [`judge`].

use sentinel_load::{Breach, ConfigError, LoadTest, LoadTestConfig, LoadTestResult, Threshold};

use crate::scenario::Scenario;
use crate::workload::{Findings, Setup, SetupError, Workload};

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

/// Everything one run of a scenario showed.
#[derive(Debug)]
pub struct ScenarioRun {
    /// The load generator's result.
    pub result: LoadTestResult,
    /// The scenario's own figures and checks.
    pub findings: Findings,
    /// The thresholds checked, each with its breach if it did not hold.
    pub thresholds: Vec<(Threshold, Option<Breach>)>,
}

impl ScenarioRun {
    /// Whether every threshold and every check held.
    pub fn passed(&self) -> bool {
        self.findings.passed() && self.thresholds.iter().all(|(_, breach)| breach.is_none())
    }

    /// What failed, one line each (empty when the run passed).
    pub fn failures(&self) -> Vec<String> {
        let breaches = self
            .thresholds
            .iter()
            .filter_map(|(_, breach)| Some(format!("threshold breached: {}", breach.as_ref()?)));
        let checks = self
            .findings
            .checks
            .iter()
            .filter(|check| !check.passed)
            .map(|check| format!("check failed: {}: {}", check.check, check.detail));
        breaches.chain(checks).collect()
    }
}

/// Runs `scenario` with `config` against `thresholds` (the scenario's own for its rate when
/// `None`). Must be called within a multi-threaded Tokio runtime.
pub async fn run(
    scenario: Scenario,
    config: LoadTestConfig,
    thresholds: Option<Vec<Threshold>>,
    setup: &Setup,
) -> Result<ScenarioRun, RunError> {
    let thresholds = thresholds.unwrap_or_else(|| scenario.thresholds(config.requests_per_second));
    // The configuration is checked before anything (a decision log file) is prepared.
    let test = LoadTest::new(config.clone())?;
    let workload = Workload::prepare(scenario, &config, setup).await?;
    let request = std::sync::Arc::clone(&workload);
    let result = test.run(move |ctx| request.request(ctx)).await;
    Ok(judge(&workload, result, thresholds))
}

/// Reads `workload`'s findings after `result` and checks `thresholds` against it.
pub fn judge(
    workload: &Workload,
    result: LoadTestResult,
    thresholds: Vec<Threshold>,
) -> ScenarioRun {
    let findings = workload.finish(&result);
    let thresholds = thresholds
        .into_iter()
        .map(|threshold| {
            let breach = threshold.check(&result).err();
            (threshold, breach)
        })
        .collect();
    ScenarioRun {
        result,
        findings,
        thresholds,
    }
}

//! Running a built-in scenario as the tests do: no progress shown, no thresholds of their own.

use std::time::Duration;

use sentinel_load::{LoadTestConfig, RunControl};
use sentinel_scenarios::{Scenario, ScenarioRun, Setup, Unwatched, run};

/// Runs `scenario` with `config` and `setup`.
pub async fn run_quietly(scenario: Scenario, config: LoadTestConfig, setup: &Setup) -> ScenarioRun {
    run(
        scenario,
        config,
        RunControl::default(),
        None,
        setup,
        &mut Unwatched,
    )
    .await
    .expect("the scenario runs")
}

/// Runs `scenario` at `rate` requests per second for one second, slowly enough that every
/// request is answered (4 workers, a 10 s timeout), with the default setup.
pub async fn run_gently(scenario: Scenario, rate: f64) -> ScenarioRun {
    let mut config = LoadTestConfig::new(rate, Duration::from_secs(1));
    config.workers = 4;
    config.timeout = Duration::from_secs(10);
    run_quietly(scenario, config, &Setup::default()).await
}

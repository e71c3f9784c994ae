//! A scenario defined outside the crate, in this one file: it implements the two traits,
//! joins a list beside the built-in ones, and is found, run, judged and reported like them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sentinel_load::{
    LoadTestConfig, LoadTestResult, RequestContext, RequestError, RunControl, Threshold,
};
use sentinel_scenarios::{
    CheckResult, Figures, LoadScenario, Scenario, Setup, SetupError, Unwatched, Workload, run,
};
use serde::Serialize;

/// Counts its requests; every one must have been counted once.
struct Counting;

struct CountingWorkload {
    counted: AtomicU64,
}

#[derive(Debug, Serialize)]
struct CountingFigures {
    counted: u64,
}

impl LoadScenario for Counting {
    type Workload = CountingWorkload;

    fn name(&self) -> &'static str {
        "counting"
    }

    fn summary(&self) -> &'static str {
        "count every request"
    }

    fn config(&self) -> LoadTestConfig {
        let mut config = LoadTestConfig::new(200.0, Duration::from_millis(250));
        config.workers = 4;
        config
    }

    fn thresholds(&self, _rate: f64) -> Vec<Threshold> {
        vec!["success>=99%".parse().expect("well formed")]
    }

    async fn prepare(
        &self,
        _config: &LoadTestConfig,
        _setup: &Setup,
    ) -> Result<CountingWorkload, SetupError> {
        Ok(CountingWorkload {
            counted: AtomicU64::new(0),
        })
    }
}

impl Workload for CountingWorkload {
    type Figures = CountingFigures;

    async fn request(&self, _ctx: RequestContext) -> Result<(), RequestError> {
        self.counted.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn finish(&self, result: &LoadTestResult) -> (CountingFigures, Vec<CheckResult>) {
        let counted = self.counted.load(Ordering::Relaxed);
        let sent = result.requests.sent;
        let check = CheckResult::new(
            "counted",
            counted == sent,
            format!("{counted} counted for {sent} sent"),
        );
        (CountingFigures { counted }, vec![check])
    }
}

impl Figures for CountingFigures {
    fn summary(&self) -> String {
        format!("{} counted", self.counted)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sixth_scenario_is_found_run_and_reported_like_the_built_in_ones() {
    let mut scenarios = Scenario::ALL.to_vec();
    scenarios.push(Scenario::new(&Counting));
    let unknown = Scenario::find("nope", &scenarios).expect_err("not registered");
    assert!(
        unknown
            .to_string()
            .ends_with("issuance, remote or counting"),
        "{unknown}"
    );

    let counting = Scenario::find("counting", &scenarios).expect("registered");
    let outcome = run(
        counting,
        counting.config(),
        RunControl::default(),
        None,
        &Setup::default(),
        &mut Unwatched,
    )
    .await
    .expect("the scenario runs");
    assert!(outcome.passed(), "{:?}", outcome.failures());
    assert_eq!(outcome.thresholds[0].threshold.to_string(), "success>=99%");

    let sent = outcome.result.requests.sent;
    assert!(sent > 0);
    let figures = outcome.findings.figures::<CountingFigures>();
    assert_eq!(figures.map(|f| f.counted), Some(sent));
    assert_eq!(outcome.findings.summary(), format!("{sent} counted"));
    assert_eq!(
        serde_json::to_string(&outcome.findings).expect("JSON"),
        format!(
            r#"{{"scenario":"counting","counted":{sent},"checks":[{{"check":"counted","passed":true,"detail":"{sent} counted for {sent} sent"}}]}}"#
        )
    );
}

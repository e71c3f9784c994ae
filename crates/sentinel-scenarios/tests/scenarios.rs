//! The five scenarios at the plan's rates, durations, workers and thresholds. They take
//! seconds each and measure timing, so they run only with the `loadtest` feature, one at a
//! time (their names contain `timing::`, which the test script runs serially).

#[cfg(feature = "loadtest")]
mod timing {
    use sentinel_scenarios::{Scenario, ScenarioRun, Setup, run};

    /// Runs `scenario` at its plan figures and asserts every threshold and check.
    async fn assert_holds(scenario: Scenario) -> ScenarioRun {
        let config = scenario.shape().config();
        let outcome = run(scenario, config, None, &Setup::default())
            .await
            .expect("the scenario runs");
        let report = serde_json::to_string(&outcome.findings.json_fields()).unwrap_or_default();
        println!(
            "{scenario}: sent {} ok {} p99 {:.3} ms throughput {:.1}/s {report}",
            outcome.result.requests.sent,
            outcome.result.requests.ok,
            outcome.result.latency_ms.p99,
            outcome.result.throughput
        );
        assert!(
            outcome.passed(),
            "{scenario} failed: {:?}",
            outcome.failures()
        );
        outcome
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn policy_eval_holds_its_thresholds() {
        let run = assert_holds(Scenario::PolicyEval).await;
        assert_eq!(run.result.requests.target, 10_000);
        assert_eq!(run.thresholds.len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_eval_is_answered_by_the_cache() {
        let run = assert_holds(Scenario::CachedEval).await;
        let ratio = run.findings.figures["cache_hit_ratio"].as_f64();
        assert!(ratio.is_some_and(|r| r >= 0.99), "{ratio:?}");
        assert_eq!(run.findings.figures["source_loads"], 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identity_generates_no_colliding_ids() {
        let run = assert_holds(Scenario::Identity).await;
        assert_eq!(run.findings.figures["collisions"], 0);
        assert_eq!(run.findings.figures["ids"], run.result.requests.ok);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mixed_sends_the_planned_mix_with_the_right_outcomes() {
        let run = assert_holds(Scenario::Mixed).await;
        let mix = run.findings.figures["mix"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(mix.len(), 3);
        assert_eq!(mix[2]["class"], "miss");
        // Every never-seen name went to the store, and was not kept.
        let loads = run.findings.figures["source_loads"].as_u64().unwrap_or(0);
        assert_eq!(Some(loads), mix[2]["count"].as_u64());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issuance_logs_one_decision_per_request() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("decisions.jsonl");
        std::fs::write(&path, "{\"event\":\"decision\",\"before\":\"the run\"}\n")
            .expect("an earlier line");
        let setup = Setup {
            decision_log: Some(path.clone()),
        };
        let scenario = Scenario::Issuance;
        let outcome = run(scenario, scenario.shape().config(), None, &setup)
            .await
            .expect("the scenario runs");
        assert!(
            outcome.passed(),
            "issuance failed: {:?}",
            outcome.failures()
        );
        let sent = outcome.result.requests.sent;
        assert_eq!(outcome.findings.figures["decision_log_lines"], sent);
        let text = std::fs::read_to_string(&path).expect("the log");
        // The earlier line, then a decision and an outcome line per issued request.
        assert_eq!(text.lines().count() as u64, 1 + 2 * sent);
    }
}

//! The built-in scenarios at their default rates, durations, workers and thresholds. They take
//! seconds each and measure timing, so they run only with the `loadtest` feature, one at a
//! time (their names contain `timing::`, which the test script runs serially). Those that
//! write a decision log keep it on a memory-backed filesystem, so that their latency is the
//! pipeline's; that the default log on disk is synced is counted, not timed, below.

use sentinel_scenarios::issuance::IssuanceFigures;
use sentinel_scenarios::remote::RemoteFigures;
use sentinel_scenarios::{Scenario, ScenarioRun};

use crate::support::run_gently;

/// Runs `name` with its decision log where the scenarios keep it by default (a temporary file),
/// slowly enough that every request is answered: 100 requests at 100/s.
async fn run_with_the_default_log(name: &str) -> ScenarioRun {
    let scenario: Scenario = name.parse().expect("a built-in scenario");
    let run = run_gently(scenario, 100.0).await;
    assert_eq!(run.result.requests.ok, 100, "{name}: {:?}", run.failures());
    assert!(
        run.findings
            .checks
            .iter()
            .any(|check| check.check == "decision_log_synced" && check.passed),
        "{name}: {:?}",
        run.findings.checks
    );
    run
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuance_syncs_every_allowed_decision_of_its_default_log() {
    let run = run_with_the_default_log("issuance").await;
    let figures = run.findings.figures::<IssuanceFigures>().expect("figures");
    assert_eq!(figures.decision_lines_synced, 100, "{figures:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_syncs_every_allowed_decision_of_its_default_log() {
    let run = run_with_the_default_log("remote").await;
    let figures = run.findings.figures::<RemoteFigures>().expect("figures");
    assert_eq!(figures.decision_lines_synced, 100, "{figures:?}");
}

#[cfg(feature = "loadtest")]
mod timing {
    use sentinel_scenarios::identity::IdentityFigures;
    use sentinel_scenarios::mixed::{Class, MixedFigures};
    use sentinel_scenarios::{CacheFigures, Setup};
    use sentinel_testkit::memory_tempdir;

    use super::*;
    use crate::support::run_quietly;

    /// Runs `scenario` at its defaults with `setup` and asserts every threshold and check.
    async fn assert_holds(name: &str, setup: &Setup) -> ScenarioRun {
        let scenario: Scenario = name.parse().expect("a built-in scenario");
        let outcome = run_quietly(scenario, scenario.config(), setup).await;
        let report = serde_json::to_string(&outcome.findings).unwrap_or_default();
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
        let run = assert_holds("policy-eval", &Setup::default()).await;
        assert_eq!(run.result.requests.target, 10_000);
        assert_eq!(run.thresholds.len(), 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cached_eval_is_answered_by_the_cache() {
        let run = assert_holds("cached-eval", &Setup::default()).await;
        let cache = run
            .findings
            .figures::<CacheFigures>()
            .expect("cache figures");
        assert!(cache.cache_hit_ratio >= 0.99, "{cache:?}");
        assert_eq!(cache.source_loads, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn identity_generates_no_colliding_ids() {
        let run = assert_holds("identity", &Setup::default()).await;
        let ids = run
            .findings
            .figures::<IdentityFigures>()
            .expect("ID figures");
        assert_eq!(ids.collisions, 0);
        assert_eq!(ids.ids, run.result.requests.ok);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mixed_sends_each_class_in_its_share_with_the_right_outcome() {
        let run = assert_holds("mixed", &Setup::default()).await;
        let figures = run.findings.figures::<MixedFigures>().expect("mix figures");
        assert_eq!(figures.mix.len(), 3);
        let miss = &figures.mix[2];
        assert_eq!(miss.class, Class::Miss);
        // Every never-seen name went to the store, and was not kept.
        assert_eq!(figures.cache.source_loads, miss.count);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn issuance_logs_one_decision_per_request() {
        let dir = memory_tempdir();
        let path = dir.path().join("decisions.jsonl");
        std::fs::write(&path, "{\"event\":\"decision\",\"before\":\"the run\"}\n")
            .expect("an earlier line");
        let setup = Setup {
            decision_log: Some(path.clone()),
        };
        let run = assert_holds("issuance", &setup).await;
        let sent = run.result.requests.sent;
        let figures = run.findings.figures::<IssuanceFigures>().expect("figures");
        assert_eq!(figures.decision_log_lines, Some(sent));
        let text = std::fs::read_to_string(&path).expect("the log");
        // The earlier line, then a decision and an outcome line per issued request.
        assert_eq!(text.lines().count() as u64, 1 + 2 * sent);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn remote_serves_signed_proofs_over_tls_at_its_rate() {
        let dir = memory_tempdir();
        let setup = Setup {
            decision_log: Some(dir.path().join("decisions.jsonl")),
        };
        let run = assert_holds("remote", &setup).await;
        assert_eq!(run.result.requests.target, 10_000);
        let figures = run.findings.figures::<RemoteFigures>().expect("figures");
        assert!(figures.sts_verified >= run.result.requests.ok);
        assert!(figures.decision_log_lines >= Some(run.result.requests.ok));
    }
}

//! The scenarios' own fields of the JSON report (`scenario`, their figures and `checks`), byte
//! for byte, from real runs slow enough that every request completes: 20 requests at 20 req/s.
//! Scripts read these fields; a change here is a change of the contract.

use sentinel_scenarios::Scenario;

use crate::support::run_gently;

/// One line per scenario, in the order of [`Scenario::ALL`].
const EXPECTED: &str = include_str!("../fixtures/findings.jsonl");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_reports_the_same_fields_as_before() {
    let runs = Scenario::ALL.map(|scenario| async move {
        let run = run_gently(scenario, 20.0).await;
        assert_eq!(run.result.requests.ok, 20, "{scenario}: {:?}", run.result);
        // Through a JSON value, as the report is written: its keys in alphabetical order.
        let fields = serde_json::to_value(&run.findings).expect("JSON");
        serde_json::to_string(&fields).expect("JSON")
    });
    let mut lines = Vec::new();
    for run in runs {
        lines.push(tokio::spawn(run));
    }
    let mut actual = String::new();
    for line in lines {
        actual.push_str(&line.await.expect("the run finishes"));
        actual.push('\n');
    }
    assert_eq!(actual, EXPECTED);
}

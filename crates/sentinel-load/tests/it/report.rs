//! Thresholds checked against a real result, and the text and `.hgrm` renderings of it.

use std::time::Duration;

use sentinel_load::{
    LoadTestConfig, LoadTestResult, RequestError, RunControl, Threshold, run_load_test, write_hgrm,
    write_text,
};

/// 200 requests at 1000/s: every fifth fails with `http_503`, every request takes about 20 ms.
async fn slow_run() -> LoadTestResult {
    let mut config = LoadTestConfig::new(1000.0, Duration::from_millis(200));
    config.workers = 64;
    run_load_test(config, RunControl::default(), |ctx| async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if ctx.seq % 5 == 0 {
            Err(RequestError::new("http_503"))
        } else {
            Ok(())
        }
    })
    .await
    .unwrap()
}

/// What the threshold `expr` measured in `result`, or its breach.
fn check(expr: &str, result: &LoadTestResult) -> Result<String, String> {
    let threshold: Threshold = expr.parse().unwrap();
    threshold.check(result).map_err(|breach| breach.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_pass_or_name_their_breach() {
    let result = slow_run().await;
    assert!(result.latency_ms.p50 >= 19.0, "{:?}", result.latency_ms);

    // 80% succeed in about 20 ms; the failed fifth counts as slower than any bound.
    let measured = check("p50<1s", &result).unwrap();
    let p50: f64 = measured.strip_suffix("ms").unwrap().parse().unwrap();
    assert!((19.0..1000.0).contains(&p50), "measured {measured}");
    let breach = check("p50<10ms", &result).unwrap_err();
    assert!(
        breach.starts_with("p50 ") && breach.ends_with("ms >= 10ms"),
        "{breach}"
    );
    let breach = check("p90<1s", &result).unwrap_err();
    assert!(
        breach.starts_with("p90 >= 1s: ")
            && breach.ends_with(" due requests failed or were missed"),
        "{breach}"
    );
    assert!(check("max<=5s", &result).is_err());

    // At most 80% succeed (fewer if the machine is too busy to send them all).
    assert!(result.success_rate() <= 0.8);
    assert!(check("success>=50%", &result).is_ok());
    let breach = check("success>=99%", &result).unwrap_err();
    assert!(
        breach.starts_with("success ") && breach.ends_with("% < 99%"),
        "{breach}"
    );

    assert!(check("throughput>=1", &result).is_ok());
    let breach = check("throughput>=100000", &result).unwrap_err();
    assert!(
        breach.starts_with("throughput ") && breach.ends_with(" < 100000"),
        "{breach}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_text_report_shows_counts_percentiles_and_errors() {
    let result = slow_run().await;
    let mut out = Vec::new();
    write_text(&result, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let sent = result.requests.sent;
    assert!(text.contains(&format!("sent {sent}")), "{text}");
    for row in [
        "latency",
        "service time",
        "schedule lag",
        "p99.9",
        "http_503",
    ] {
        assert!(text.contains(row), "{row} missing from\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hgrm_output_is_a_percentile_distribution_in_milliseconds() {
    let result = slow_run().await;
    let mut out = Vec::new();
    write_hgrm(&result.histograms.latency, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let mut lines = text.lines();
    let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    );
    let rows: Vec<Vec<f64>> = text
        .lines()
        .skip(2)
        .take_while(|l| !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(|f| f.parse().unwrap()).collect())
        .collect();
    assert!(rows.len() > 10);
    // Values in ms (about 20), percentiles and counts rising to 1.0 and the total.
    assert!((19.0..1000.0).contains(&rows[0][0]), "{:?}", rows[0]);
    assert!(
        rows.windows(2)
            .all(|w| w[0][1] <= w[1][1] && w[0][2] <= w[1][2])
    );
    let last = rows.last().unwrap();
    assert_eq!((last[1], last[2]), (1.0, result.requests.sent as f64));
    assert!(text.contains(&format!("Total count    = {:>12}]", result.requests.sent)));
}

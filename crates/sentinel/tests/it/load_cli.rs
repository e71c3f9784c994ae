//! `sentinel load --url` end to end: the binary against a local hyper server on 127.0.0.1,
//! checking the JSON contract, error kinds, thresholds and exit codes, `.hgrm` output, request
//! shaping flags and Ctrl-C.

use std::process::Output;
use std::time::{Duration, Instant};

use load_support::{json, refusing_addr, sentinel, server, stderr};

use crate::load_support;

/// A short run at `url` with extra flags.
fn load(url: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "--url",
        url,
        "--rate",
        "200",
        "--duration",
        "500ms",
        "--workers",
        "4",
    ];
    args.extend_from_slice(extra);
    sentinel(&args)
}

#[test]
fn json_output_follows_the_contract() {
    let addr = server().addr;
    let output = load(&format!("http://{addr}/ok"), &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Not a terminal: no progress bar, nothing on stderr.
    assert_eq!(stderr(&output), "");
    let v = json(&output);
    assert_eq!(v["target_rate"], 200.0);
    assert_eq!(v["duration_s"], 0.5);
    let r = &v["requests"];
    assert_eq!(r["target"], 100);
    assert!(r["ok"].as_u64().unwrap() >= 95, "{r}");
    assert_eq!(r["errors"], 0);
    assert_eq!(r["sent"].as_u64(), Some(r["ok"].as_u64().unwrap()));
    assert_eq!(
        r["missed"].as_u64().unwrap(),
        r["target"].as_u64().unwrap() - r["sent"].as_u64().unwrap()
    );
    for group in ["latency_ms", "service_time_ms", "schedule_lag_ms"] {
        for key in ["p50", "p90", "p95", "p99", "p999", "max"] {
            assert!(v[group][key].is_number(), "{group}.{key}");
        }
    }
    for key in ["elapsed_s", "throughput", "send_rate"] {
        assert!(v[key].is_number(), "{key}");
    }
    assert_eq!(v["errors_by_kind"], serde_json::json!({}));
}

#[test]
fn a_non_2xx_status_is_an_error_of_its_code_and_breaches_success() {
    let addr = server().addr;
    let output = load(
        &format!("http://{addr}/busy"),
        &["--json", "--threshold", "success>=99%"],
    );
    assert_eq!(output.status.code(), Some(1));
    let v = json(&output);
    assert_eq!(v["requests"]["ok"], 0);
    assert_eq!(v["errors_by_kind"]["http_503"], v["requests"]["sent"]);
    assert_eq!(v["thresholds"][0]["passed"], false);
    assert!(
        stderr(&output).contains("threshold breached: success 0% < 99%"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_refused_connection_is_counted_as_a_connect_error() {
    let addr = refusing_addr();
    let output = load(&format!("http://{addr}/"), &["--json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let v = json(&output);
    assert!(v["requests"]["sent"].as_u64().unwrap() > 0);
    assert_eq!(v["errors_by_kind"]["connect"], v["requests"]["sent"]);
}

#[test]
fn thresholds_set_the_exit_code_and_name_the_breach() {
    let addr = server().addr;
    let url = format!("http://{addr}/slow");
    let pass = load(
        &url,
        &["--threshold", "p50<5s", "--threshold", "success>=90%"],
    );
    assert_eq!(pass.status.code(), Some(0), "{}", stderr(&pass));
    let text = String::from_utf8_lossy(&pass.stdout);
    assert!(text.contains("pass    p50<5s"), "{text}");

    let fail = load(
        &url,
        &["--threshold", "p99<10ms", "--threshold", "throughput>=1"],
    );
    assert_eq!(fail.status.code(), Some(1));
    let err = stderr(&fail);
    assert!(
        err.contains("threshold breached: p99 ") && err.contains("ms >= 10ms"),
        "{err}"
    );
    assert!(
        !err.contains("throughput"),
        "only the breached one is named: {err}"
    );
}

#[test]
fn bad_input_is_refused_before_any_load() {
    let bad_threshold = sentinel(&["--url", "http://127.0.0.1:1/", "--threshold", "p99=10ms"]);
    assert_eq!(bad_threshold.status.code(), Some(2));
    assert!(
        stderr(&bad_threshold).contains("p99=10ms"),
        "{}",
        stderr(&bad_threshold)
    );

    let no_url = sentinel(&["--rate", "10"]);
    assert_eq!(no_url.status.code(), Some(2));
    assert!(stderr(&no_url).contains("--url"), "{}", stderr(&no_url));

    let ftp = sentinel(&["--url", "ftp://127.0.0.1:1/"]);
    assert_eq!(ftp.status.code(), Some(2));
    assert!(
        stderr(&ftp).contains("only http:// and https://"),
        "{}",
        stderr(&ftp)
    );

    let no_rate = sentinel(&["--url", "http://127.0.0.1:1/", "--rate", "0"]);
    assert_eq!(no_rate.status.code(), Some(2));
    assert!(stderr(&no_rate).contains("rate"), "{}", stderr(&no_rate));

    let no_body = sentinel(&["--url", "http://127.0.0.1:1/", "--body", "@/nonexistent/x"]);
    assert_eq!(no_body.status.code(), Some(2));
    assert!(
        stderr(&no_body).contains("/nonexistent/x"),
        "{}",
        stderr(&no_body)
    );
}

#[test]
fn method_headers_and_body_file_shape_every_request() {
    let addr = server().addr;
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("body.txt");
    std::fs::write(&body, "hello").unwrap();
    let body_arg = format!("@{}", body.display());
    let url = format!("http://{addr}/echo");
    let shaped = [
        "--json",
        "--method",
        "post",
        "--header",
        "X-Test: yes",
        "--body",
        &body_arg,
    ];
    let output = load(&url, &shaped);
    let v = json(&output);
    assert_eq!(v["requests"]["errors"], 0, "{v}");

    let unshaped = load(&url, &["--json", "--method", "POST", "--body", &body_arg]);
    let v = json(&unshaped);
    assert_eq!(v["errors_by_kind"]["http_400"], v["requests"]["sent"]);
}

#[test]
fn hgrm_and_text_reports_are_written() {
    let addr = server().addr;
    let dir = tempfile::tempdir().unwrap();
    let hgrm = dir.path().join("latency.hgrm");
    let output = load(
        &format!("http://{addr}/ok"),
        &["--hgrm", hgrm.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("latency") && text.contains("schedule lag"),
        "{text}"
    );
    let distribution = std::fs::read_to_string(&hgrm).unwrap();
    assert!(
        distribution.starts_with("       Value     Percentile"),
        "{distribution}"
    );
    assert!(distribution.contains("#[Max     ="), "{distribution}");
}

#[test]
fn ctrl_c_stops_the_run_and_reports_the_partial_result() {
    let addr = server().addr;
    let url = format!("http://{addr}/ok");
    let child = load_support::spawn_sentinel(&[
        "--url",
        &url,
        "--rate",
        "100",
        "--duration",
        "60s",
        "--json",
    ]);
    std::thread::sleep(Duration::from_millis(800));
    let began = Instant::now();
    load_support::interrupt(&child);
    let output = child.wait_with_output().unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "took {:?}",
        began.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    let v = json(&output);
    assert_eq!(v["cancelled"], true);
    let target = v["requests"]["target"].as_u64().unwrap();
    assert!((20..=300).contains(&target), "{v}");
    assert!(v["requests"]["ok"].as_u64().unwrap() >= target - 5, "{v}");
}

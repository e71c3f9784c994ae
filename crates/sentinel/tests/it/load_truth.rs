//! The load simulator's verdict is true: each test points `sentinel load` at a local server
//! that misbehaves in one way (refuses every connection, answers 503, stops answering, closes
//! idle connections, answers one request late) and checks the verdict, the exit status and the
//! figures; and at a target that is fine but that a generator with too few workers cannot
//! load, which find-max must name as generator-limited.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::load_support::{
    LATE_BY, Nginx, allow_open_files, interrupt, json, refusing_addr, sentinel, server,
    spawn_sentinel, stderr,
};

fn u64_at(v: &Value, pointer: &str) -> u64 {
    v.pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

fn f64_at(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("{pointer} in {v}"))
}

#[test]
fn every_connection_refused_breaches_a_latency_threshold() {
    let url = format!("http://{}/", refusing_addr());
    let args = [
        "--url",
        &url,
        "--rate",
        "200",
        "--duration",
        "2s",
        "--threshold",
        "p99<10ms",
        "--json",
    ];
    let output = sentinel(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let v = json(&output);
    assert_eq!(u64_at(&v, "/requests/target"), 400);
    assert_eq!(u64_at(&v, "/requests/ok"), 0);
    assert_eq!(v["thresholds"][0]["passed"], false);
    let breach = v["thresholds"][0]["breach"].as_str().unwrap();
    assert!(
        breach.starts_with("p99 >= 10ms: ")
            && breach.ends_with(" due requests failed or were missed"),
        "{breach}"
    );
    assert!(
        stderr(&output).contains("threshold breached: p99 >= 10ms"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn find_max_against_a_target_that_only_answers_503_finds_no_rate() {
    let target = server();
    let url = target.url("/busy");
    let args = [
        "--url",
        &url,
        "--find-max",
        "--rate",
        "40",
        "--duration",
        "200ms",
        "--threshold",
        "p99<10ms",
        "--json",
    ];
    let output = sentinel(&args);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let v = json(&output);
    assert_eq!(v["max_rate"], Value::Null, "{v}");
    let steps = v["steps"].as_array().unwrap();
    assert!(steps.len() >= 2, "{v}");
    for step in steps {
        assert_eq!(step["verdict"], "fail", "{step}");
        assert_eq!(
            u64_at(step, "/result/errors_by_kind/http_503"),
            u64_at(step, "/result/requests/sent")
        );
    }
    let text = sentinel(&args[..args.len() - 1]);
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("no rate held"), "{stdout}");
}

/// A find-max at a healthy target, interrupted by Ctrl-C `after` it started; `extra` flags.
fn interrupted_find_max(after: Duration, extra: &[&str]) -> std::process::Output {
    let target = server();
    let url = target.url("/ok");
    let mut args = vec![
        "--url",
        &url,
        "--find-max",
        "--rate",
        "50",
        "--duration",
        "300ms",
        "--threshold",
        "p99<1s",
    ];
    args.extend_from_slice(extra);
    let child = spawn_sentinel(&args);
    std::thread::sleep(after);
    let began = Instant::now();
    interrupt(&child);
    let output = child.wait_with_output().unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    output
}

#[test]
fn ctrl_c_during_find_max_reports_the_steps_so_far_as_one_json_object() {
    // Long enough for a few steps (each 300 ms after a 500 ms pause), far from the end.
    let output = interrupted_find_max(Duration::from_millis(2500), &["--json"]);
    let v = json(&output);
    assert_eq!(v["interrupted"], true, "{v}");
    let steps = v["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{v}");
    assert!(
        steps[..steps.len() - 1]
            .iter()
            .all(|step| step["verdict"] == "pass"),
        "{v}"
    );
    assert!(f64_at(&v, "/highest_passed") >= 50.0, "{v}");
    // Nothing is confirmed before the search converges, and nothing unconfirmed is reported.
    assert_eq!(v["max_rate"], Value::Null, "{v}");
}

#[test]
fn ctrl_c_during_find_max_in_text_says_what_ran() {
    let output = interrupted_find_max(Duration::from_millis(1800), &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("   1        50"), "{stdout}");
    assert!(stdout.contains("\ninterrupted after "), "{stdout}");
    assert!(stdout.contains("passed once"), "{stdout}");
}

#[test]
fn find_max_with_too_few_workers_names_the_generator_as_the_limit() {
    // One worker and a target that takes 10 ms: nothing above 100 req/s can be sent.
    let target = server();
    let url = target.url("/slow");
    let output = sentinel(&[
        "--url",
        &url,
        "--find-max",
        "--rate",
        "50",
        "--workers",
        "1",
        "--duration",
        "500ms",
        "--threshold",
        "p99<1s",
        "--json",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let v = json(&output);
    let max = f64_at(&v, "/max_rate");
    assert!((25.0..=100.0).contains(&max), "{v}");
    let steps = v["steps"].as_array().unwrap();
    let not_passed: Vec<&Value> = steps.iter().filter(|s| s["passed"] == false).collect();
    assert!(!not_passed.is_empty(), "{v}");
    for step in &not_passed {
        assert_eq!(step["verdict"], "generator-limited", "{step}");
        let reason = step["failures"][0].as_str().unwrap();
        assert!(reason.contains("due requests never sent"), "{reason}");
    }
    assert_eq!(
        v["generator_limited"].as_array().unwrap().len(),
        not_passed.len()
    );
}

#[test]
fn a_password_in_the_url_is_sent_as_authorization_and_never_printed() {
    let target = server();
    let url = format!("http://alice:hunter2@{}/ok", target.addr);
    let output = sentinel(&[
        "--url",
        &url,
        "--find-max",
        "--rate",
        "20",
        "--duration",
        "100ms",
        "--threshold",
        "p99<1ns",
    ]);
    assert_eq!(
        target.last_authorization().as_deref(),
        Some("Basic YWxpY2U6aHVudGVyMg==")
    );
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        stderr(&output)
    );
    assert!(printed.contains("http://***@127.0.0.1"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
}

#[test]
fn the_open_file_limit_is_raised_and_an_unfittable_worker_count_refused() {
    allow_open_files(1100);
    let target = server();
    let url = target.url("/ok");
    let binary = env!("CARGO_BIN_EXE_sentinel");
    let run = |limits: &str, workers: &str| {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{limits}; exec \"$0\" load --url \"$1\" --workers \"$2\" --rate 400 \
                 --duration 500ms --json"
            ))
            .args([binary, &url, workers])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    };
    // A soft limit of 256 under a higher hard one: raised, and 1000 connections open.
    let raised = run("ulimit -Sn 256", "1000");
    assert_eq!(raised.status.code(), Some(0), "{}", stderr(&raised));
    let v = json(&raised);
    assert_eq!(u64_at(&v, "/http/connections_opened"), 1000, "{v}");
    assert_eq!(u64_at(&v, "/requests/errors"), 0, "{v}");
    // A hard limit of 256: 1000 workers cannot fit, and the run is refused before it starts.
    let refused = run("ulimit -n 256", "1000");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("1000 connections need 1064 open files"),
        "{}",
        stderr(&refused)
    );
    assert!(refused.stdout.is_empty());
}

/// Timing-sensitive: multi-second runs whose figures depend on the schedule being kept, run
/// one at a time by the test script.
mod timing {
    use super::*;

    #[test]
    fn a_target_that_stops_answering_at_the_end_breaches_p99_and_shows_the_stall() {
        // 500/s for 5 s over 16 workers; the server stops answering after 4 s, so the last
        // second's requests are either stuck in the 16 workers (and time out) or never sent.
        let target = server();
        let url = target.url("/stall");
        let output = sentinel(&[
            "--url",
            &url,
            "--rate",
            "500",
            "--duration",
            "5s",
            "--workers",
            "16",
            "--threshold",
            "p99<10ms",
            "--json",
        ]);
        assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
        let v = json(&output);
        assert_eq!(u64_at(&v, "/requests/target"), 2500);
        assert_eq!(u64_at(&v, "/requests/timeouts"), 16, "{v}");
        let missed = u64_at(&v, "/requests/missed");
        assert!((400..=500).contains(&missed), "{v}");
        // Missed requests count at their lower bound: the last second shows in the tail.
        assert!(f64_at(&v, "/latency_ms/p99") > 500.0, "{v}");
        assert!(f64_at(&v, "/ok_latency_ms/p99") < 1000.0, "{v}");
        let breach = v["thresholds"][0]["breach"].as_str().unwrap();
        assert!(
            breach.starts_with("p99 >= 10ms: ")
                && breach.ends_with("of 2500 due requests failed or were missed"),
            "{breach}"
        );
    }

    #[test]
    fn a_connection_the_server_closes_while_idle_costs_no_error() {
        // nginx closes a kept-alive connection after 20 ms idle; 95/s over 2 workers leaves
        // each connection idle about 21 ms between its requests.
        let nginx = Nginx::start("20ms");
        let url = format!("http://{}/", nginx.addr);
        let output = sentinel(&[
            "--url",
            &url,
            "--rate",
            "95",
            "--duration",
            "5s",
            "--workers",
            "2",
            "--threshold",
            "success>=100%",
            "--json",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let v = json(&output);
        assert_eq!(u64_at(&v, "/requests/errors"), 0, "{v}");
        assert_eq!(u64_at(&v, "/requests/ok"), 475, "{v}");
        assert!(
            u64_at(&v, "/http/retried/closed_idle") > 0,
            "nginx closed the idle connections under the load: {v}"
        );
    }

    #[test]
    fn a_late_answer_at_the_end_drains_without_lowering_the_rates() {
        // 500/s for 5 s; the last request is answered 1.9 s late.
        let target = server();
        let url = target.url("/late");
        let output = sentinel(&[
            "--url",
            &url,
            "--rate",
            "500",
            "--duration",
            "5s",
            "--threshold",
            "throughput>=450",
            "--json",
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let v = json(&output);
        assert_eq!(u64_at(&v, "/requests/ok"), 2500, "{v}");
        let drain = f64_at(&v, "/drain_s");
        let late = LATE_BY.as_secs_f64();
        assert!(drain > late - 0.3 && drain < late + 0.6, "{v}");
        assert!((f64_at(&v, "/throughput") - 500.0).abs() < 1.0, "{v}");
        assert!((f64_at(&v, "/send_rate") - 500.0).abs() < 1.0, "{v}");
        let elapsed = f64_at(&v, "/elapsed_s");
        assert!((elapsed - (5.0 + drain)).abs() < 0.01, "{v}");
    }

    #[test]
    fn ten_thousand_workers_fit_in_150_mb() {
        allow_open_files(10_100);
        let target = server();
        let url = target.url("/ok");
        #[allow(clippy::zombie_processes)] // reaped by wait4 below
        let child = spawn_sentinel(&[
            "--url",
            &url,
            "--workers",
            "10000",
            "--rate",
            "5000",
            "--duration",
            "3s",
            "--json",
        ]);
        // Reaped here rather than by `Child::wait`, to read its resource usage.
        let (status, peak_kb) = wait_with_peak_rss(child.id());
        assert_eq!(status, 0);
        assert!(peak_kb < 150 * 1024, "peak RSS {peak_kb} KB");
    }

    /// Waits for the child `pid` and returns its exit status and peak resident set in KB.
    #[allow(unsafe_code)]
    fn wait_with_peak_rss(pid: u32) -> (i32, i64) {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let pid = libc::pid_t::try_from(pid).unwrap();
        // SAFETY: `status` and `usage` are valid for writes; `pid` is our own child.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        assert_eq!(waited, pid);
        (libc::WEXITSTATUS(status), usage.ru_maxrss)
    }
}

//! Load over time, against request functions whose behaviour over time is known: a stall shows
//! in the timeline seconds it hit, seconds close while the run goes on, and each stage gets
//! figures of its own.
//!
//! The tests whose verdict depends on wall-clock timing sit in `timing`, which the test script
//! runs one at a time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sentinel_load::{
    LoadTestConfig, RequestError, RunControl, Second, Stage, TimelineSink, run_load_test,
};

fn stages(texts: &[&str]) -> Vec<Stage> {
    texts.iter().map(|t| t.parse().expect("valid")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_reports_its_own_requests_and_they_add_up_to_the_run() {
    let mut config = LoadTestConfig::new(0.0, Duration::ZERO).with_stages(stages(&[
        "300ms:400",
        "200ms:=400",
        "300ms:0",
    ]));
    config.workers = 8;
    let result = run_load_test(config, RunControl::default(), |ctx| async move {
        if ctx.seq % 7 == 0 {
            Err(RequestError::new("http_503"))
        } else {
            Ok(())
        }
    })
    .await
    .expect("a valid configuration");
    // 0→400 over 0.3 s (60), 400 for 0.2 s (80), 400→0 over 0.3 s (60).
    assert_eq!(result.requests.target, 200);
    assert_eq!(result.duration_s, 0.8);
    assert_eq!(result.target_rate, 250.0, "the mean rate");
    let targets: Vec<u64> = result
        .stages
        .iter()
        .map(|s| s.result.requests.target)
        .collect();
    assert_eq!(targets, [60, 80, 60]);
    let sent: u64 = result.stages.iter().map(|s| s.result.requests.sent).sum();
    assert_eq!(sent, result.requests.sent);
    let errors: u64 = result.stages.iter().map(|s| s.result.requests.errors).sum();
    assert_eq!(errors, result.requests.errors);
    let hold = &result.stages[1];
    assert_eq!((hold.from_rate, hold.to_rate), (400.0, 400.0));
    assert_eq!((hold.start_s, hold.end_s), (0.3, 0.5));
    assert_eq!(hold.result.target_rate, 400.0);
    let json = result.to_json();
    assert_eq!(json["stages"][0]["stage"], "0.3s:400");
    assert_eq!(json["stages"][2]["requests"]["target"], 60);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_of_the_schedule_is_one_entry_counting_the_requests_due_in_it() {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let mut config =
        LoadTestConfig::new(0.0, Duration::ZERO).with_stages(stages(&["1s:=50", "1500ms:=200"]));
    config.workers = 8;
    let control = RunControl::default().with_timeline(TimelineSink::new({
        let lines = Arc::clone(&lines);
        move |second: &Second| lines.lock().unwrap().push(second.clone())
    }));
    let result = run_load_test(config, control, |ctx| async move {
        if ctx.seq % 10 == 0 {
            Err(RequestError::new("io"))
        } else {
            Ok(())
        }
    })
    .await
    .expect("a valid configuration");
    let timeline = result.timeline.as_ref().expect("recorded");
    assert_eq!(
        *lines.lock().unwrap(),
        *timeline,
        "the sink saw each second"
    );
    let numbers: Vec<u64> = timeline.iter().map(|s| s.second).collect();
    assert_eq!(numbers, [0, 1, 2]);
    let due: Vec<u64> = timeline.iter().map(|s| s.due).collect();
    assert_eq!(due, [50, 200, 100]);
    let rates: Vec<f64> = timeline.iter().map(|s| s.target_rate).collect();
    assert_eq!(rates, [50.0, 200.0, 200.0]);
    for second in timeline {
        assert_eq!(second.sent + second.missed, second.due, "{second:?}");
        assert_eq!(second.ok + second.errors, second.sent, "{second:?}");
        assert_eq!(
            second.errors_by_kind.get("io").copied().unwrap_or(0),
            second.errors
        );
        assert_eq!(second.latency_hdr.len(), second.due);
    }
    let sent: u64 = timeline.iter().map(|s| s.sent).sum();
    assert_eq!(sent, result.requests.sent);
}

mod timing {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stall_in_seconds_3_and_4_shows_in_exactly_those_seconds() {
        // The target freezes from 3 s to 5 s of a 7 s run at 100/s: every request due in that
        // window waits until 5 s, whenever it was sent; the backlog clears in milliseconds.
        let began = Instant::now();
        let mut config = LoadTestConfig::new(100.0, Duration::from_secs(7));
        config.workers = 32;
        config.timeout = Duration::from_secs(3);
        let control = RunControl::default().with_timeline(TimelineSink::keep());
        let (stall_from, stall_to) = (Duration::from_secs(3), Duration::from_secs(5));
        let result = run_load_test(config, control, move |_| async move {
            let now = began.elapsed();
            if now >= stall_from && now < stall_to {
                tokio::time::sleep(stall_to - now).await;
            }
            Ok::<(), RequestError>(())
        })
        .await
        .expect("a valid configuration");
        let timeline = result.timeline.expect("recorded");
        assert_eq!(timeline.len(), 7);
        for second in &timeline {
            let p50 = second.latency_ms.p50;
            if (3..5).contains(&second.second) {
                // Due 3.0–4.99 s, answered at 5 s: half of each second waited 0.5 s or more.
                assert!(p50 >= 400.0, "second {}: p50 {p50} ms", second.second);
            } else {
                assert!(
                    second.latency_ms.p99 < 100.0,
                    "second {}: {:?}",
                    second.second,
                    second.latency_ms
                );
            }
            assert_eq!(second.sent, second.due, "second {}", second.second);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn seconds_close_while_the_run_goes_on() {
        let began = Instant::now();
        let closed_at = Arc::new(Mutex::new(Vec::new()));
        let mut config = LoadTestConfig::new(200.0, Duration::from_secs(4));
        config.workers = 8;
        let control = RunControl::default().with_timeline(TimelineSink::new({
            let closed_at = Arc::clone(&closed_at);
            move |second: &Second| {
                closed_at
                    .lock()
                    .unwrap()
                    .push((second.second, began.elapsed()));
            }
        }));
        run_load_test(config, control, |_| std::future::ready(Ok(())))
            .await
            .expect("a valid configuration");
        let closed_at = closed_at.lock().unwrap();
        assert_eq!(closed_at.len(), 4);
        // Second k closes soon after its last request finished, not at the end of the run:
        // only the seconds still under way are held open.
        for &(second, at) in closed_at.iter().take(3) {
            let end = Duration::from_secs(second + 1);
            assert!(
                at >= end,
                "second {second} closed at {at:?}, before it ended"
            );
            assert!(
                at < end + Duration::from_millis(900),
                "second {second} closed only at {at:?}"
            );
        }
    }
}

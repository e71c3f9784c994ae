//! Results of the segments of one schedule, added up into the result of the whole schedule.
//!
//! Counts are summed; percentiles are read from the merged histograms, never averaged; the
//! timelines are merged second by second and the stages stage by stage. Results of different
//! schedules (rate, duration, stages, segment count or start instant), a segment given twice,
//! or a set of segments that leaves part of the schedule out are refused: their sum would be
//! the result of a load nobody ran.

use std::collections::BTreeSet;

use crate::histogram::{add_counts, add_histogram};
use crate::result::{LoadTestResult, StageResult};
use crate::segment::Segment;
use crate::timeline::Second;

/// Why results could not be merged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no result to merge")]
    Empty,
    /// Two results ran different schedules.
    #[error("result {index} ran a different schedule: {what}")]
    Schedule {
        /// The position of the differing result (from 1).
        index: usize,
        /// What differs, with both values.
        what: String,
    },
    /// A segment appears twice.
    #[error(
        "segment {0} appears twice; every result must be a different --segment K/N of one \
         schedule"
    )]
    Duplicate(Segment),
    /// Part of the schedule is missing.
    #[error("segment {0} of the schedule is missing: merge the results of every segment")]
    Missing(Segment),
}

/// Adds up the results of the segments of one schedule; see the module documentation.
pub fn merge(results: &[LoadTestResult]) -> Result<LoadTestResult, MergeError> {
    let (first, rest) = results.split_first().ok_or(MergeError::Empty)?;
    for (offset, other) in rest.iter().enumerate() {
        if let Some(what) = schedule_difference(first, other) {
            return Err(MergeError::Schedule {
                index: offset + 2,
                what,
            });
        }
    }
    let mut seen = BTreeSet::new();
    for result in results {
        if !seen.insert(result.segment.number()) {
            return Err(MergeError::Duplicate(result.segment));
        }
    }
    let count = first.segment.count();
    if let Some(missing) = (1..=count).find(|k| !seen.contains(k)) {
        return Err(MergeError::Missing(
            Segment::new(missing, count).expect("1 <= k <= n"),
        ));
    }
    Ok(sum(results))
}

/// What makes the schedules of `a` and `b` differ, if anything.
fn schedule_difference(a: &LoadTestResult, b: &LoadTestResult) -> Option<String> {
    let differ = |name: &str, x: &dyn std::fmt::Display, y: &dyn std::fmt::Display| {
        Some(format!("{name} {y} where the first has {x}"))
    };
    if a.target_rate != b.target_rate {
        return differ("target rate", &a.target_rate, &b.target_rate);
    }
    if a.duration_s != b.duration_s {
        return differ("duration (s)", &a.duration_s, &b.duration_s);
    }
    if a.segment.count() != b.segment.count() {
        return differ("segment count", &a.segment.count(), &b.segment.count());
    }
    if a.targets.len() != b.targets.len() {
        return differ("targets kept apart", &a.targets.len(), &b.targets.len());
    }
    if a.start_at != b.start_at {
        let show = |at: &Option<String>| at.clone().unwrap_or_else(|| "no start".to_owned());
        return differ("start", &show(&a.start_at), &show(&b.start_at));
    }
    let stages = |result: &LoadTestResult| {
        result
            .stages
            .iter()
            .map(|stage| format!("{} from {}", stage.stage, stage.from_rate))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (x, y) = (stages(a), stages(b));
    if x != y {
        let none = |text: String| {
            if text.is_empty() {
                "none".to_owned()
            } else {
                text
            }
        };
        return differ("stages", &none(x), &none(y));
    }
    None
}

/// The sum of results already known to be parts of one schedule.
fn sum(results: &[LoadTestResult]) -> LoadTestResult {
    let mut total = results[0].clone();
    for other in &results[1..] {
        let r = &mut total.requests;
        let o = &other.requests;
        r.target += o.target;
        r.sent += o.sent;
        r.ok += o.ok;
        r.drain_ok += o.drain_ok;
        r.errors += o.errors;
        r.timeouts += o.timeouts;
        r.missed += o.missed;
        add_counts(&mut total.errors_by_kind, &other.errors_by_kind);
        add_counts(&mut total.status, &other.status);
        total.bytes.sent += other.bytes.sent;
        total.bytes.received += other.bytes.received;
        let h = &mut total.histograms;
        let oh = &other.histograms;
        add_histogram(&mut h.latency, &oh.latency);
        add_histogram(&mut h.ok_latency, &oh.ok_latency);
        add_histogram(&mut h.service_time, &oh.service_time);
        add_histogram(&mut h.ok_service_time, &oh.ok_service_time);
        add_histogram(&mut h.schedule_lag, &oh.schedule_lag);
        add_histogram(&mut h.connect, &oh.connect);
        add_histogram(&mut h.first_byte, &oh.first_byte);
        total.workers += other.workers;
        total.cancelled |= other.cancelled;
        total.pacing_slack_ms = total.pacing_slack_ms.max(other.pacing_slack_ms);
        let scheduled = total.scheduled_s().max(other.scheduled_s());
        total.elapsed_s = total.elapsed_s.max(other.elapsed_s);
        total.drain_s = total.elapsed_s - scheduled;
    }
    total.stages = (0..total.stages.len())
        .map(|index| {
            let parts: Vec<LoadTestResult> = results
                .iter()
                .map(|result| (*result.stages[index].result).clone())
                .collect();
            StageResult {
                result: Box::new(sum(&parts)),
                ..total.stages[index].clone()
            }
        })
        .collect();
    total.targets = (0..total.targets.len())
        .map(|index| {
            let parts: Vec<LoadTestResult> = results
                .iter()
                .map(|result| result.targets[index].clone())
                .collect();
            sum(&parts)
        })
        .collect();
    total.timeline = merge_timelines(results);
    total.segment = Segment::WHOLE;
    total.derive();
    total
}

/// The timelines merged second by second, when every result has one.
fn merge_timelines(results: &[LoadTestResult]) -> Option<Vec<Second>> {
    let timelines: Option<Vec<&Vec<Second>>> = results
        .iter()
        .map(|result| result.timeline.as_ref())
        .collect();
    let timelines = timelines?;
    let longest = timelines.iter().map(|t| t.len()).max().unwrap_or(0);
    let merged = (0..longest)
        .map(|index| {
            let mut seconds = timelines.iter().filter_map(|timeline| timeline.get(index));
            let mut second = seconds
                .next()
                .cloned()
                .unwrap_or_else(|| Second::empty(index as u64, 0.0));
            for other in seconds {
                second.add(other);
            }
            second
        })
        .collect();
    Some(merged)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::LoadTestConfig;
    use crate::control::RunControl;
    use crate::runner::run_load_test;
    use crate::timeline::TimelineSink;

    async fn segment(k: u64, n: u64, rate: f64) -> LoadTestResult {
        let mut config = LoadTestConfig::new(rate, Duration::from_millis(300));
        config.segment = Segment::new(k, n).expect("valid");
        config.workers = 4;
        let control = RunControl::default().with_timeline(TimelineSink::keep());
        run_load_test(config, control, move |ctx| async move {
            if ctx.seq % 10 == 0 {
                Err(crate::RequestError::new("http_503"))
            } else {
                Ok(())
            }
        })
        .await
        .expect("a valid configuration")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn segments_add_up_to_the_whole_schedule() {
        let parts = [
            segment(1, 3, 100.0).await,
            segment(2, 3, 100.0).await,
            segment(3, 3, 100.0).await,
        ];
        let merged = merge(&parts).expect("one schedule");
        assert_eq!(merged.requests.target, 30);
        assert_eq!(
            merged.requests.sent,
            parts.iter().map(|p| p.requests.sent).sum::<u64>()
        );
        let errors: u64 = parts.iter().map(|p| p.errors_by_kind["http_503"]).sum();
        assert_eq!(merged.errors_by_kind["http_503"], errors);
        assert_eq!(merged.histograms.latency.len(), 30);
        assert!(merged.segment.is_whole());
        let timeline = merged.timeline.as_ref().expect("every part has one");
        assert_eq!(timeline.len(), 1);
        assert_eq!(timeline[0].due, 30);
        assert!(
            (timeline[0].target_rate - 100.0).abs() < 1e-9,
            "{}",
            timeline[0].target_rate
        );
        // Serialised and read back, the parts still merge to the same figures.
        let reread: Vec<LoadTestResult> = parts
            .iter()
            .map(|p| LoadTestResult::from_json(&p.to_json()).expect("reads back"))
            .collect();
        let again = merge(&reread).expect("one schedule");
        assert_eq!(again.requests, merged.requests);
        assert_eq!(again.histograms, merged.histograms);
        assert_eq!(again.latency_ms, merged.latency_ms);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn different_schedules_duplicates_and_gaps_are_refused() {
        let a = segment(1, 2, 100.0).await;
        let b = segment(2, 2, 200.0).await;
        let refused = merge(&[a.clone(), b]).expect_err("different rates");
        assert_eq!(
            refused.to_string(),
            "result 2 ran a different schedule: target rate 200 where the first has 100"
        );
        let mut longer = segment(2, 2, 100.0).await;
        longer.duration_s = 0.6;
        assert!(matches!(
            merge(&[a.clone(), longer]),
            Err(MergeError::Schedule { .. })
        ));
        assert_eq!(
            merge(&[a.clone(), a.clone()]).err(),
            Some(MergeError::Duplicate(a.segment))
        );
        assert_eq!(
            merge(std::slice::from_ref(&a)).err(),
            Some(MergeError::Missing("2/2".parse().expect("valid")))
        );
        assert_eq!(merge(&[]).err(), Some(MergeError::Empty));
    }
}

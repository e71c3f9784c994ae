//! The scenario checks that the load generator's thresholds cannot express: the observed mix
//! of request classes, collisions among every generated ID, and one decision line per request
//! in the decision log. Each is a pure function of what a run collected, so it is tested on
//! hand-made inputs (a wrong mix, a duplicated ID) as well as in the scenarios.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

/// The substring that marks a decision line: the log is compact JSON and string values
/// escape their quotes, so it occurs only as the `event` field of a decision.
const DECISION_MARK: &[u8] = br#""event":"decision""#;

/// The outcome of one check, as reported next to the thresholds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckResult {
    /// The check's name: `mix`, `collisions`, `decision_log_lines`, `cache_hit_ratio`, ...
    pub check: &'static str,
    /// Whether it held.
    pub passed: bool,
    /// What was measured against what was required, e.g. `0 collisions among 25000 IDs`.
    pub detail: String,
}

impl CheckResult {
    /// A result named `check` that passed when `passed`, described by `detail`.
    pub fn new(check: &'static str, passed: bool, detail: String) -> Self {
        Self {
            check,
            passed,
            detail,
        }
    }
}

/// One class of a mixed workload: its expected and observed share, and how many of its
/// requests had an outcome other than the one the class asserts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassShare {
    /// The class, e.g. `allow`.
    pub class: &'static str,
    /// The share the workload sends, in percent.
    pub expected_pct: f64,
    /// The share among requests that completed with the asserted outcome, in percent.
    pub observed_pct: f64,
    /// Requests of this class that completed with the asserted outcome.
    pub count: u64,
    /// Requests of this class that completed with another outcome.
    pub wrong_outcome: u64,
}

/// Builds the observed mix: `classes` gives each class's name and expected percentage,
/// `counts` and `wrong` (same order) what was observed.
pub fn observe_mix(
    classes: &[(&'static str, f64)],
    counts: &[u64],
    wrong: &[u64],
) -> Vec<ClassShare> {
    let total: u64 = counts.iter().sum();
    classes
        .iter()
        .zip(counts)
        .zip(wrong)
        .map(
            |((&(class, expected_pct), &count), &wrong_outcome)| ClassShare {
                class,
                expected_pct,
                observed_pct: if total == 0 {
                    0.0
                } else {
                    count as f64 * 100.0 / total as f64
                },
                count,
                wrong_outcome,
            },
        )
        .collect()
}

/// Passes when every class's observed share is within `tolerance_pct` points of its expected
/// share and no request had the wrong outcome for its class.
pub fn check_mix(mix: &[ClassShare], tolerance_pct: f64) -> CheckResult {
    let mut problems = Vec::new();
    for class in mix {
        if (class.observed_pct - class.expected_pct).abs() > tolerance_pct {
            problems.push(format!(
                "{} is {:.2}% of requests, expected {}% ± {tolerance_pct}",
                class.class, class.observed_pct, class.expected_pct
            ));
        }
        if class.wrong_outcome > 0 {
            problems.push(format!(
                "{} {} requests had the wrong outcome",
                class.wrong_outcome, class.class
            ));
        }
    }
    if mix.iter().all(|class| class.count == 0) {
        problems.push("no request completed".to_owned());
    }
    let detail = if problems.is_empty() {
        let shares: Vec<String> = mix
            .iter()
            .map(|c| format!("{} {:.2}%", c.class, c.observed_pct))
            .collect();
        format!("{} (± {tolerance_pct} points)", shares.join(", "))
    } else {
        problems.join("; ")
    };
    CheckResult::new("mix", problems.is_empty(), detail)
}

/// The number of IDs equal to an ID seen before, among all of `sets` (each worker's IDs,
/// collected without sharing), merged here at the end.
pub fn count_collisions(sets: Vec<Vec<u64>>) -> (u64, u64) {
    let mut all: Vec<u64> = sets.into_iter().flatten().collect();
    all.sort_unstable();
    let collisions = all.windows(2).filter(|pair| pair[0] == pair[1]).count();
    (collisions as u64, all.len() as u64)
}

/// Passes when no ID repeated.
pub fn check_collisions(collisions: u64, ids: u64) -> CheckResult {
    CheckResult::new(
        "collisions",
        collisions == 0 && ids > 0,
        format!("{collisions} collisions among {ids} IDs"),
    )
}

/// Counts the decision lines written to the log at `path` after byte `offset`.
pub fn count_decision_lines(path: &Path, offset: u64) -> io::Result<u64> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let finder = memchr::memmem::Finder::new(DECISION_MARK);
    let mut line = Vec::with_capacity(1024);
    let mut count = 0;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(count);
        }
        if finder.find(&line).is_some() {
            count += 1;
        }
    }
}

/// Passes when the log holds exactly one decision line per request sent.
pub fn check_decision_lines(lines: u64, sent: u64) -> CheckResult {
    CheckResult::new(
        "decision_log_lines",
        lines == sent,
        format!("{lines} decision lines for {sent} requests sent"),
    )
}

/// Passes when at least `minimum` (a fraction) of the cache lookups were hits.
pub fn check_hit_ratio(ratio: f64, minimum: f64) -> CheckResult {
    CheckResult::new(
        "cache_hit_ratio",
        ratio >= minimum,
        format!(
            "{:.3}% of lookups hit, at least {}% required",
            ratio * 100.0,
            minimum * 100.0
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLASSES: [(&str, f64); 3] = [("allow", 80.0), ("deny", 15.0), ("miss", 5.0)];

    #[test]
    fn the_planned_mix_passes() {
        let mix = observe_mix(&CLASSES, &[8010, 1495, 495], &[0, 0, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(check.passed, "{}", check.detail);
        assert!((mix[0].observed_pct - 80.1).abs() < 1e-9);
    }

    #[test]
    fn a_wrong_mix_fails_and_names_the_class() {
        let mix = observe_mix(&CLASSES, &[7700, 1800, 500], &[0, 0, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(!check.passed);
        assert!(check.detail.contains("allow is 77.00%"), "{}", check.detail);
        assert!(check.detail.contains("deny is 18.00%"), "{}", check.detail);
        assert!(!check.detail.contains("miss is"), "{}", check.detail);
    }

    #[test]
    fn a_wrong_outcome_fails_even_in_the_right_mix() {
        let mix = observe_mix(&CLASSES, &[800, 150, 50], &[0, 1, 0]);
        let check = check_mix(&mix, 2.0);
        assert!(!check.passed);
        assert!(
            check
                .detail
                .contains("1 deny requests had the wrong outcome")
        );
    }

    #[test]
    fn an_empty_run_fails_the_mix() {
        let mix = observe_mix(&CLASSES, &[0, 0, 0], &[0, 0, 0]);
        assert!(!check_mix(&mix, 2.0).passed);
    }

    #[test]
    fn a_duplicated_id_across_workers_is_a_collision() {
        let (collisions, ids) = count_collisions(vec![vec![1, 2, 3], vec![4, 2], vec![]]);
        assert_eq!((collisions, ids), (1, 5));
        let check = check_collisions(collisions, ids);
        assert!(!check.passed);
        assert_eq!(check.detail, "1 collisions among 5 IDs");
    }

    #[test]
    fn a_duplicated_id_within_a_worker_is_a_collision() {
        assert_eq!(count_collisions(vec![vec![7, 9, 7, 7]]), (2, 4));
        assert!(check_collisions(0, 4).passed);
        assert!(!check_collisions(0, 0).passed, "no IDs proves nothing");
    }

    #[test]
    fn decision_lines_are_counted_after_the_offset() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("log.jsonl");
        let before = "{\"event\":\"decision\",\"user\":\"x\"}\n";
        let after = "{\"event\":\"decision\"}\n{\"event\":\"outcome\"}\n\
                     {\"user\":\"\\\"event\\\":\\\"decision\\\"\",\"event\":\"outcome\"}\n\
                     {\"event\":\"decision\"}\n";
        std::fs::write(&path, format!("{before}{after}")).expect("write");
        assert_eq!(count_decision_lines(&path, 0).ok(), Some(3));
        assert_eq!(
            count_decision_lines(&path, before.len() as u64).ok(),
            Some(2)
        );
        assert!(check_decision_lines(2, 2).passed);
        assert!(!check_decision_lines(3, 2).passed);
    }

    #[test]
    fn the_hit_ratio_check_is_inclusive() {
        assert!(check_hit_ratio(0.99, 0.99).passed);
        assert!(!check_hit_ratio(0.989, 0.99).passed);
    }
}

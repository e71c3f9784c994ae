//! The highest rate a target sustains: double the rate while every step passes, halve it while
//! none does, then bisect between the highest rate that passed and the lowest that did not
//! until the two are within [`PRECISION`]. The candidate is then run once more: only a rate
//! that passes that confirmation is reported, so one lucky step cannot raise the answer (a
//! best-of-two would). A failed confirmation counts as a failure at that rate and the search
//! goes on below it.
//!
//! The bookkeeping is pure: the caller runs each step (a short load run) and says whether it
//! passed, so any target (a scenario, a URL) can be searched. [`judge_step`] is the rule for
//! that: a step passes only if every threshold holds (with `success>=99%` added by
//! [`step_thresholds`] when no success threshold is given) and the generator kept its own
//! schedule. A step whose target's own answers breach a threshold fails, whatever the
//! generator did. A step whose target answered well but whose figures as measured breached, or
//! whose generator fell behind (more than 1% of the due requests, and at least
//! [`MIN_BEHIND_SCHEDULE`], never sent or sent late by the tightest latency bound), measured
//! the generator, not the target: it does not pass, and it is named generator-limited so that
//! nobody reads it as the target's limit.

use std::time::Duration;

use hdrhistogram::Histogram;

use crate::histogram::nanos;
use crate::result::LoadTestResult;
use crate::threshold::Threshold;

/// One tried rate and whether it passed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchStep {
    /// The rate tried, requests per second.
    pub rate: f64,
    /// Whether this step re-ran a candidate maximum to confirm it.
    pub confirming: bool,
    /// Whether the step passed.
    pub passed: bool,
}

/// The step to run next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// The rate, requests per second.
    pub rate: f64,
    /// Whether it re-runs the candidate maximum to confirm it.
    pub confirming: bool,
}

/// What a search established.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Found {
    /// The highest confirmed rate, with a failure above it within [`PRECISION`] (or, when the
    /// step cap ended the search, somewhere above it).
    Max(f64),
    /// Every rate tried passed up to the step cap or the ceiling: the target holds at least
    /// this confirmed rate, and its limit is beyond what was tried.
    AtLeast(f64),
    /// No rate was confirmed.
    Nothing,
}

/// A search in progress: ask [`RateSearch::next`], run it, [`RateSearch::record`] the verdict,
/// until there is no next probe; [`RateSearch::found`] says what it established (so far).
#[derive(Debug, Clone)]
pub struct RateSearch {
    next: Option<Probe>,
    /// The lowest rate that failed (its confirmation included).
    broke: Option<f64>,
    confirmed: Option<f64>,
    steps: Vec<SearchStep>,
}

/// The search stops once the rate that broke is within this factor of the rate that held.
pub const PRECISION: f64 = 1.05;
/// The most steps a search runs, its confirmation included.
pub const MAX_STEPS: usize = 24;
/// No rate below this is tried.
const FLOOR: f64 = 1.0;
/// No rate above this is tried (far beyond what one process can generate).
const CEILING: f64 = 1e8;

impl RateSearch {
    /// A search starting at `start` requests per second (clamped to the searchable range).
    pub fn new(start: f64) -> Self {
        let start = if start.is_finite() { start } else { FLOOR };
        Self {
            next: Some(Probe {
                rate: start.round().clamp(FLOOR, CEILING),
                confirming: false,
            }),
            broke: None,
            confirmed: None,
            steps: Vec::new(),
        }
    }

    /// The step to run next, or `None` when the search is over.
    pub fn next(&self) -> Option<Probe> {
        self.next
    }

    /// Records whether the step [`RateSearch::next`] named passed, and picks the next one.
    pub fn record(&mut self, passed: bool) {
        let Some(Probe { rate, confirming }) = self.next else {
            return;
        };
        self.steps.push(SearchStep {
            rate,
            confirming,
            passed,
        });
        if !passed {
            self.broke = Some(self.broke.map_or(rate, |broke| broke.min(rate)));
        } else if confirming {
            self.confirmed = Some(rate);
            self.next = None;
            return;
        }
        self.next = self.choose();
    }

    /// The highest rate that passed below every rate that broke: the candidate maximum.
    pub fn candidate(&self) -> Option<f64> {
        self.steps
            .iter()
            .filter(|step| step.passed && self.broke.is_none_or(|broke| step.rate < broke))
            .map(|step| step.rate)
            .reduce(f64::max)
    }

    fn choose(&self) -> Option<Probe> {
        let left = MAX_STEPS.saturating_sub(self.steps.len());
        let candidate = self.candidate();
        let confirm = |rate| {
            Some(Probe {
                rate,
                confirming: true,
            })
        };
        if left == 0 {
            return None;
        }
        if left == 1 {
            // The last step confirms whatever held, if anything did.
            return candidate.and_then(confirm);
        }
        let rate = match (candidate, self.broke) {
            (Some(held), None) if held >= CEILING => return confirm(held),
            (Some(held), None) => (held * 2.0).min(CEILING),
            (None, Some(broke)) => (broke / 2.0).round(),
            (Some(held), Some(broke)) if broke <= held * PRECISION => return confirm(held),
            (Some(held), Some(broke)) => ((held + broke) / 2.0).round(),
            (None, None) => return self.next,
        };
        let tried = self.steps.iter().any(|step| step.rate == rate);
        if rate < FLOOR || tried {
            // Nothing new to learn below the floor or at a rate already run.
            return candidate.and_then(confirm);
        }
        Some(Probe {
            rate,
            confirming: false,
        })
    }

    /// What the search established so far.
    pub fn found(&self) -> Found {
        match (self.confirmed, self.broke) {
            (None, _) => Found::Nothing,
            (Some(rate), None) => Found::AtLeast(rate),
            (Some(rate), Some(_)) => Found::Max(rate),
        }
    }

    /// Every step so far, in order.
    pub fn steps(&self) -> &[SearchStep] {
        &self.steps
    }
}

/// What every step must meet when no `success` threshold is given.
pub const DEFAULT_SUCCESS: &str = "success>=99%";
/// The schedule lag p99 a step may reach when no latency threshold gives a tighter bound.
pub const DEFAULT_LAG_BOUND: Duration = Duration::from_millis(10);

/// How one step of a search went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepVerdict {
    /// Every threshold held and the generator kept its schedule.
    Passed,
    /// A threshold (or a check of the caller's) did not hold.
    Failed,
    /// The generator did not keep its own schedule, so the step says nothing of the target.
    GeneratorLimited,
    /// The step was cancelled before its schedule ended.
    Interrupted,
}

impl StepVerdict {
    /// The verdict as reports print it: `pass`, `fail`, `generator-limited`, `interrupted`.
    pub fn name(self) -> &'static str {
        match self {
            StepVerdict::Passed => "pass",
            StepVerdict::Failed => "fail",
            StepVerdict::GeneratorLimited => "generator-limited",
            StepVerdict::Interrupted => "interrupted",
        }
    }
}

/// The thresholds every step of a search is held to: `thresholds`, and [`DEFAULT_SUCCESS`]
/// unless one of them already bounds success.
pub fn step_thresholds(thresholds: &[Threshold]) -> Vec<Threshold> {
    let mut all = thresholds.to_vec();
    if !thresholds.iter().any(Threshold::is_success) {
        all.push(
            DEFAULT_SUCCESS
                .parse()
                .expect("the default success threshold is well formed"),
        );
    }
    all
}

/// The fewest requests, late or never sent, that say the generator fell behind its schedule
/// when nothing was breached: one late send in a step of a few requests says nothing of the
/// generator.
pub const MIN_BEHIND_SCHEDULE: u64 = 5;

/// Judges one step. `breaches` are the thresholds its `result` breached, as measured (from each
/// request's due time, missed requests counted as failed), one line each; `failed_checks` the
/// caller's own checks that did not hold (a scenario's), which are the target's.
///
/// The step is judged twice over: the target's own answers (every threshold again with
/// [`Threshold::check_answers`], for the whole run and each target kept apart), and the
/// generator's schedule.
/// - Whatever the generator did, a step fails when the target's answers breach a threshold
///   or a check failed: failed statuses, refused or reset connections, timeouts and slow
///   answers are the target's.
/// - Otherwise a breach as measured is the generator's: the answers held, so only its missed
///   and late sends can have made the difference. The step is generator-limited.
/// - Otherwise, with nothing breached, the step is generator-limited still when the generator
///   fell behind its schedule: at least [`MIN_BEHIND_SCHEDULE`] requests, and more than 1% of
///   those due, never sent or sent the tightest latency bound (or [`DEFAULT_LAG_BOUND`]) or
///   more after their due time. A stray late or missed request is not enough: the step passes.
///
/// Returns the verdict and every reason it did not pass: a failed step's (the target's) first,
/// then how the generator fell behind; a generator-limited step's how the generator fell
/// behind first, then the breaches as measured.
pub fn judge_step(
    result: &LoadTestResult,
    thresholds: &[Threshold],
    breaches: Vec<String>,
    failed_checks: Vec<String>,
) -> (StepVerdict, Vec<String>) {
    let target_failed = !failed_checks.is_empty();
    let mut target: Vec<String> = breaches.into_iter().chain(failed_checks).collect();
    if result.cancelled {
        return (StepVerdict::Interrupted, target);
    }
    let answers = answer_breaches(result, thresholds);
    let schedule = ScheduleKept::of(result, thresholds);
    if target_failed || !answers.is_empty() {
        if target.is_empty() {
            // The answers breached a threshold that the measured figures, rounded, still met.
            target = answers;
        }
        let generator = if schedule.fell_behind() {
            schedule.shortfalls()
        } else {
            Vec::new()
        };
        return (
            StepVerdict::Failed,
            target.into_iter().chain(generator).collect(),
        );
    }
    if target.is_empty() && !schedule.fell_behind() {
        return (StepVerdict::Passed, Vec::new());
    }
    let reasons = schedule.shortfalls().into_iter().chain(target).collect();
    (StepVerdict::GeneratorLimited, reasons)
}

/// The thresholds that the target's own answers breach, in the whole run and in each target
/// kept apart, one line each.
fn answer_breaches(result: &LoadTestResult, thresholds: &[Threshold]) -> Vec<String> {
    std::iter::once(result)
        .chain(&result.targets)
        .flat_map(|answered| {
            thresholds
                .iter()
                .filter_map(|threshold| threshold.check_answers(answered).err())
        })
        .map(|breach| format!("the target's own answers breached a threshold: {breach}"))
        .collect()
}

/// How far a step's generator kept its own schedule: the due requests it never sent, and the
/// sends that went out `bound` (the tightest latency threshold, or [`DEFAULT_LAG_BOUND`]) or
/// more after their due time.
struct ScheduleKept {
    due: u64,
    missed: u64,
    sent: u64,
    late: u64,
    bound: Duration,
    /// The schedule lag p99, milliseconds.
    lag_p99_ms: f64,
}

impl ScheduleKept {
    fn of(result: &LoadTestResult, thresholds: &[Threshold]) -> Self {
        let bound = thresholds
            .iter()
            .filter_map(Threshold::latency_limit)
            .min()
            .unwrap_or(DEFAULT_LAG_BOUND);
        let r = &result.requests;
        Self {
            due: r.target,
            missed: r.missed,
            sent: r.sent,
            late: sends_at_least(&result.histograms.schedule_lag, bound),
            bound,
            lag_p99_ms: result.schedule_lag_ms.p99,
        }
    }

    /// Whether the generator fell behind: at least [`MIN_BEHIND_SCHEDULE`] requests, and more
    /// than 1% of those due, were missed or late.
    fn fell_behind(&self) -> bool {
        let behind = self.missed + self.late;
        behind >= MIN_BEHIND_SCHEDULE && behind * 100 > self.due
    }

    /// How the generator fell short of its schedule, one line each: its missed requests, its
    /// late sends, or else its schedule lag.
    fn shortfalls(&self) -> Vec<String> {
        let lag_p99 = self.lag_p99_ms;
        let mut lines = Vec::new();
        if self.missed > 0 {
            lines.push(format!(
                "{} of {} due requests never sent: no worker was free in time (raise --workers; \
                 a high service time means the target slowed)",
                self.missed, self.due
            ));
        }
        if self.late > 0 {
            lines.push(format!(
                "{} of {} sends went out {:?} or more after their due time (schedule lag p99 \
                 {lag_p99:.3}ms): the generator fell behind its schedule",
                self.late, self.sent, self.bound
            ));
        }
        if lines.is_empty() {
            lines.push(format!(
                "the target's own answers held every threshold: the generator's schedule lag \
                 (p99 {lag_p99:.3}ms) made the difference"
            ));
        }
        lines
    }
}

/// How many values of a histogram of nanoseconds are `bound` or more.
fn sends_at_least(histogram: &Histogram<u64>, bound: Duration) -> u64 {
    let bound = nanos(bound);
    histogram
        .iter_recorded()
        .filter(|value| value.value_iterated_to() >= bound)
        .map(|value| value.count_at_value())
        .sum()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::result::testing::{run, run_lagging, run_late};

    /// Runs a search against a target that holds up to `capacity` req/s.
    fn search(start: f64, capacity: f64) -> RateSearch {
        let mut search = RateSearch::new(start);
        while let Some(probe) = search.next() {
            search.record(probe.rate <= capacity);
        }
        search
    }

    fn rates(search: &RateSearch) -> Vec<f64> {
        search.steps().iter().map(|step| step.rate).collect()
    }

    #[test]
    fn doubles_then_bisects_to_within_the_precision_then_confirms() {
        let found = search(1000.0, 50_000.0);
        let Found::Max(max) = found.found() else {
            panic!("{:?}", found.found())
        };
        assert!(max <= 50_000.0 && max * PRECISION >= 50_000.0, "{max}");
        assert_eq!(
            &rates(&found)[..7],
            &[1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 32000.0, 64000.0],
            "doubles, and a failing rate is not retried"
        );
        let last = found.steps().last().unwrap();
        assert_eq!((last.rate, last.confirming, last.passed), (max, true, true));
        assert!(found.steps().len() <= MAX_STEPS);
    }

    #[test]
    fn halves_when_the_start_is_too_fast() {
        let found = search(1000.0, 300.0);
        let Found::Max(max) = found.found() else {
            panic!()
        };
        assert!(max <= 300.0 && max * PRECISION >= 300.0, "{max}");
        assert_eq!(&rates(&found)[..3], &[1000.0, 500.0, 250.0]);
    }

    #[test]
    fn a_lucky_step_that_fails_its_confirmation_is_not_reported() {
        let mut search = RateSearch::new(1000.0);
        search.record(true); // 1000
        search.record(false); // 2000
        search.record(true); // 1500
        search.record(false); // 1750
        search.record(false); // 1625
        search.record(true); // 1563 (1562.5 rounded)
        let probe = search.next().unwrap();
        assert_eq!(probe.rate, 1563.0);
        assert!(probe.confirming, "converged: confirm the candidate");
        search.record(false);
        let probe = search.next().unwrap();
        assert_eq!(
            (probe.rate, probe.confirming),
            (1500.0, true),
            "the failed confirmation broke 1563: confirm the next rate that held instead"
        );
        assert_eq!(search.found(), Found::Nothing, "nothing confirmed yet");
        search.record(true);
        assert_eq!(search.found(), Found::Max(1500.0));
        assert_eq!(search.next(), None);
    }

    #[test]
    fn a_target_that_never_fails_is_held_at_least_up_to_the_step_cap() {
        let found = search(1.0, f64::INFINITY);
        assert_eq!(found.steps().len(), MAX_STEPS);
        let last = found.steps().last().unwrap();
        assert!(last.confirming && last.passed);
        assert_eq!(found.found(), Found::AtLeast(last.rate));
        assert_eq!(last.rate, 2f64.powi(MAX_STEPS as i32 - 2));
    }

    #[test]
    fn a_target_that_never_holds_has_no_maximum() {
        let found = search(8.0, 0.5);
        assert_eq!(found.found(), Found::Nothing);
        assert_eq!(rates(&found), [8.0, 4.0, 2.0, 1.0]);
    }

    #[test]
    fn success_is_added_to_a_steps_thresholds_unless_one_is_given() {
        let thresholds = step_thresholds(&["p99<5ms".parse().unwrap()]);
        assert_eq!(
            thresholds
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["p99<5ms", "success>=99%"],
        );
        let own: Vec<Threshold> = vec!["success>=50%".parse().unwrap()];
        assert_eq!(step_thresholds(&own), own, "a given success bound is kept");
    }

    /// Judges `result` against `thresholds` as the command line does: the breaches as
    /// measured, then the caller's failed checks.
    fn judge(
        result: &LoadTestResult,
        thresholds: &[Threshold],
        checks: &[&str],
    ) -> (StepVerdict, Vec<String>) {
        let breaches = thresholds
            .iter()
            .filter_map(|threshold| threshold.check(result).err())
            .map(|breach| format!("threshold breached: {breach}"))
            .collect();
        let checks = checks.iter().map(|check| (*check).to_owned()).collect();
        judge_step(result, thresholds, breaches, checks)
    }

    #[test]
    fn every_combination_of_target_failure_and_generator_lag_gets_its_verdict() {
        use StepVerdict::{Failed, GeneratorLimited, Passed};
        const TARGET: &str = "threshold breached";
        const CHECK: &str = "check failed";
        const MISSED: &str = "10 of 110 due requests never sent";
        const LATE: &str = "sends went out 5ms or more after their due time";
        // (target, generator, the run, failed checks, verdict, first reason, last reason)
        type Row<'a> = (
            &'a str,
            &'a str,
            LoadTestResult,
            &'a [&'a str],
            StepVerdict,
            &'a str,
            &'a str,
        );
        let thresholds = step_thresholds(&["p99<5ms".parse().unwrap()]);
        let fast = vec![1.0; 100];
        let failing = vec![1.0; 95]; // and 5 errors: 95% success
        let slow = [vec![1.0; 98], vec![20.0; 2]].concat();
        let table: Vec<Row> = vec![
            (
                "answers fast",
                "on time",
                run(&fast, 0, 0),
                &[],
                Passed,
                "",
                "",
            ),
            (
                "answers fast",
                "10 missed",
                run(&fast, 0, 10),
                &[],
                GeneratorLimited,
                MISSED,
                TARGET,
            ),
            (
                "answers fast",
                "every send late",
                run_lagging(&fast, 0, 0, 6.0),
                &[],
                GeneratorLimited,
                LATE,
                TARGET,
            ),
            (
                "answers fast",
                "1 of 100 sends late",
                run_late(&fast, 0, 0, 1, 6.0),
                &[],
                Passed,
                "",
                "",
            ),
            // Few late sends, but the answers held: only they can have made the breach.
            (
                "answers fast",
                "3 of 100 sends late",
                run_late(&fast, 0, 0, 3, 6.0),
                &[],
                GeneratorLimited,
                "3 of 100 sends went out 5ms",
                TARGET,
            ),
            // One request of 101 never sent breaches nothing and is no generator behind.
            (
                "answers fast",
                "1 missed",
                run(&fast, 0, 1),
                &[],
                Passed,
                "",
                "",
            ),
            // Lag below the bound on every send still pushes the measured p99 over it.
            (
                "answers fast",
                "every send 4.5ms late",
                run_lagging(&fast, 0, 0, 4.5),
                &[],
                GeneratorLimited,
                "the generator's schedule lag",
                TARGET,
            ),
            (
                "5% failed",
                "on time",
                run(&failing, 5, 0),
                &[],
                Failed,
                TARGET,
                TARGET,
            ),
            (
                "5% failed",
                "10 missed",
                run(&failing, 5, 10),
                &[],
                Failed,
                TARGET,
                MISSED,
            ),
            (
                "5% failed",
                "every send late",
                run_lagging(&failing, 5, 0, 6.0),
                &[],
                Failed,
                TARGET,
                LATE,
            ),
            (
                "2% slow",
                "on time",
                run(&slow, 0, 0),
                &[],
                Failed,
                TARGET,
                TARGET,
            ),
            (
                "2% slow",
                "every send late",
                run_lagging(&slow, 0, 0, 6.0),
                &[],
                Failed,
                TARGET,
                LATE,
            ),
            (
                "2% slow",
                "10 missed",
                run(&slow, 0, 10),
                &[],
                Failed,
                TARGET,
                MISSED,
            ),
            (
                "a check failed",
                "on time",
                run(&fast, 0, 0),
                &["check failed: x"],
                Failed,
                CHECK,
                CHECK,
            ),
            (
                "a check failed",
                "10 missed",
                run(&fast, 0, 10),
                &["check failed: x"],
                Failed,
                TARGET,
                MISSED,
            ),
        ];
        for (target, generator, result, checks, verdict, first, last) in table {
            let (judged, reasons) = judge(&result, &thresholds, checks);
            let case = format!("{target}, {generator}: {judged:?} {reasons:?}");
            assert_eq!(judged, verdict, "{case}");
            if verdict == Passed {
                assert!(reasons.is_empty(), "{case}");
                continue;
            }
            assert!(reasons[0].contains(first), "first reason: {case}");
            assert!(
                reasons.last().unwrap().contains(last),
                "last reason: {case}"
            );
        }
    }

    #[test]
    fn a_target_that_only_fails_is_not_excused_by_one_late_send_in_eight() {
        // The first step of a find-max at 40/s for 200 ms: 8 answers, all 503, one sent 19 ms
        // late by a busy machine.
        let thresholds = step_thresholds(&["p99<10ms".parse().unwrap()]);
        let result = run_late(&[], 8, 0, 1, 19.0);
        assert_eq!(result.schedule_lag_ms.p99.round(), 19.0);
        let (verdict, reasons) = judge(&result, &thresholds, &[]);
        assert_eq!(verdict, StepVerdict::Failed, "{reasons:?}");
        assert!(
            reasons.iter().all(|reason| !reason.contains("generator")),
            "one late send of eight is no shortfall of the generator: {reasons:?}"
        );
        // Eight late sends of eight are, but the target's failures come first.
        let (verdict, reasons) = judge(&run_lagging(&[], 8, 0, 19.0), &thresholds, &[]);
        assert_eq!(verdict, StepVerdict::Failed);
        assert!(reasons[0].starts_with("threshold breached"), "{reasons:?}");
        assert!(
            reasons.last().unwrap().contains("fell behind"),
            "{reasons:?}"
        );
    }

    #[test]
    fn the_lag_bound_is_the_tightest_latency_threshold_or_the_default() {
        let fast = vec![1.0; 100];
        let tight = step_thresholds(&["p99<5ms".parse().unwrap(), "p50<20ms".parse().unwrap()]);
        assert_eq!(
            judge(&run_lagging(&fast, 0, 0, 3.0), &tight, &[]).0,
            StepVerdict::Passed
        );
        let loose = step_thresholds(&[]);
        let late = run_lagging(&fast, 0, 0, 11.0);
        let (verdict, reasons) = judge(&late, &loose, &[]);
        assert_eq!(verdict, StepVerdict::GeneratorLimited, "{reasons:?}");
        assert!(reasons[0].contains("10ms or more"), "{reasons:?}");
        assert_eq!(
            judge(&run_lagging(&fast, 0, 0, 9.0), &loose, &[]).0,
            StepVerdict::Passed
        );
    }

    #[test]
    fn a_cancelled_step_is_interrupted_whatever_it_measured() {
        let thresholds = step_thresholds(&[]);
        let mut stopped = run(&[1.0; 10], 5, 3);
        stopped.cancelled = true;
        assert_eq!(
            judge(&stopped, &thresholds, &[]).0,
            StepVerdict::Interrupted
        );
    }

    #[test]
    fn nonsense_starts_are_clamped() {
        assert_eq!(RateSearch::new(f64::NAN).next().unwrap().rate, 1.0);
        assert_eq!(RateSearch::new(-5.0).next().unwrap().rate, 1.0);
    }

    proptest! {
        #[test]
        fn a_reported_maximum_passed_twice_and_nothing_at_or_below_it_failed(
            start in 1.0f64..1e6,
            capacity in 1.0f64..1e7,
            flaky in proptest::collection::vec(any::<bool>(), MAX_STEPS),
        ) {
            // A noisy target: holds up to `capacity`, and each step near it may go either way.
            let mut search = RateSearch::new(start);
            let mut step = 0;
            while let Some(probe) = search.next() {
                let near = (probe.rate / capacity - 1.0).abs() < 0.2;
                search.record(if near { flaky[step] } else { probe.rate <= capacity });
                step += 1;
            }
            prop_assert!(search.steps().len() <= MAX_STEPS);
            if let Found::Max(max) | Found::AtLeast(max) = search.found() {
                let at_max: Vec<_> = search.steps().iter().filter(|s| s.rate == max).collect();
                prop_assert!(at_max.len() >= 2 && at_max.iter().all(|s| s.passed));
                prop_assert!(search.steps().iter().all(|s| s.passed || s.rate > max));
            }
        }
    }
}

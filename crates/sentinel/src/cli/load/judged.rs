//! What a load run is judged by and what its report shows: the output and pass/fail flags, and
//! a run with its verdicts, which decide the [`Outcome`].

use std::path::PathBuf;

use clap::Args;
use sentinel_load::http::HttpStats;
use sentinel_load::{LoadTestResult, Threshold, Verdict};
use sentinel_scenarios::{Findings, ScenarioRun};

use super::Outcome;

/// Output and pass/fail flags, shared by every kind of load target.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Print exactly one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Write the latency percentile distribution (HdrHistogram `.hgrm`, ms) to FILE.
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Write one JSON object per second of the schedule to FILE as each second closes (the
    /// requests due in it: sent, ok, errors, missed, latency); --json then carries it too.
    #[arg(long, value_name = "FILE")]
    pub timeline: Option<PathBuf>,
    /// Write a self-contained HTML report (summary, verdicts, charts over time and of the
    /// percentile distribution) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Fail (exit 1) unless the result meets EXPR: `p50|p90|p95|p99|p999|max` `<`/`<=` a
    /// duration (`p99<10ms`: 99% of the due requests succeeded within 10 ms; a failed or missed
    /// request counts as slower than any bound), `success>=99%` (or `0.99`) or
    /// `throughput>=800` (ok/s of the schedule). Repeatable.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<Threshold>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// A run and its verdicts: what one report shows.
pub struct Judged<'a> {
    /// What was loaded, for a run that is not a scenario's: the URL (its user info hidden) or
    /// the `--targets` file. The JSON report carries it as `target`, so that a saved result's
    /// report and merge are titled by it.
    pub target: Option<&'a str>,
    /// The load generator's result.
    pub result: &'a LoadTestResult,
    /// Each threshold, judged once.
    pub verdicts: &'a [Verdict],
    /// A scenario's own figures and checks.
    pub findings: Option<&'a Findings>,
    /// What the HTTP client was and did, for a `--url` or `--targets` run.
    pub http: Option<&'a HttpStats>,
    /// Each target kept apart (`--by-target`), with its own verdicts.
    pub targets: Vec<TargetJudged<'a>>,
}

/// One target of a run kept apart: its name, weight, own result and verdicts.
pub struct TargetJudged<'a> {
    /// The target as reports name it (`GET https://host/path`).
    pub name: &'a str,
    /// Its weight in the mix.
    pub weight: u32,
    /// Its own figures.
    pub result: &'a LoadTestResult,
    /// Each threshold, judged for it.
    pub verdicts: &'a [Verdict],
}

impl<'a> Judged<'a> {
    /// A scenario's run, as its report shows it.
    pub fn of(run: &'a ScenarioRun) -> Self {
        Self {
            target: None,
            result: &run.result,
            verdicts: &run.thresholds,
            findings: Some(&run.findings),
            http: None,
            targets: Vec::new(),
        }
    }

    /// Whether every threshold and check held, for the run and for each target.
    pub fn passed(&self) -> bool {
        self.verdicts.iter().all(Verdict::passed)
            && self.findings.is_none_or(Findings::passed)
            && self
                .targets
                .iter()
                .all(|target| target.verdicts.iter().all(Verdict::passed))
    }

    /// Interrupted, failed or succeeded, in that order of precedence.
    pub fn outcome(&self) -> Outcome {
        if self.result.cancelled {
            Outcome::Interrupted
        } else if self.passed() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}

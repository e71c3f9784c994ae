//! `sentinel load --find-max`: the highest rate at which a target still meets its thresholds.
//!
//! Each step is a short run (2 s unless `--duration` says otherwise) at the rate that
//! [`RateSearch`] picks: doubling from the start rate while the thresholds hold, halving while
//! they do not, then bisecting to within 5%; a rate that fails is tried once more before it
//! counts as failed. A step passes when every threshold holds (and, for a scenario, every
//! check). The step table is printed as the search goes.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use sentinel_load::LoadTestResult;
use sentinel_scenarios::{RateSearch, Shape};

use super::interrupt::EXIT_INTERRUPTED;
use super::scenarios::{self, Choice};
use super::{EXIT_USAGE, LoadArgs};

/// How long each step runs unless `--duration` is given.
const STEP_DURATION: Duration = Duration::from_secs(2);
/// Exit status when no rate met the thresholds.
const EXIT_NONE_HELD: u8 = 1;

/// One step's figures, for the table and the JSON report.
struct Step {
    rate: f64,
    result: LoadTestResult,
    failures: Vec<String>,
}

impl Step {
    /// Whether the step ran to its end with every threshold and check held.
    fn passed(&self) -> bool {
        self.failures.is_empty() && !self.result.cancelled
    }
}

/// Runs the search for `--scenario NAME` or `--url`.
pub async fn run(args: &LoadArgs) -> ExitCode {
    let searched = match (&args.scenario, &args.url) {
        (Some(Choice::One(scenario)), None) => {
            let scenario = *scenario;
            let start = args.rate.unwrap_or(scenario.shape().rate);
            search(args, scenario.name(), start, |rate| async move {
                let shape = Shape {
                    rate,
                    duration: step_duration(args),
                    ..scenarios::shape(scenario, args, false)
                };
                let thresholds = scenarios::thresholds(scenario, rate, args);
                let setup = scenarios::setup(args);
                let judged =
                    scenarios::run_one(scenario, &shape, &thresholds, &setup, &args.report).await?;
                Ok((judged.result, judged.failures))
            })
            .await
        }
        (None, Some(url)) => {
            if args.report.thresholds.is_empty() {
                return usage("--find-max with --url needs at least one --threshold to hold");
            }
            let start = args.rate.unwrap_or(super::DEFAULT_RATE);
            search(args, url, start, |rate| async move {
                let duration = step_duration(args);
                let (test, driver) = super::http_test(args, rate, duration).await?;
                let result = super::run_http(test, &driver, &args.report).await;
                let failures = scenarios::breaches(&args.report.thresholds, &result);
                Ok((result, failures))
            })
            .await
        }
        _ => return usage("--find-max searches one target: --scenario NAME (not all) or --url"),
    };
    searched.unwrap_or_else(|error| super::super::fail(&error))
}

/// Runs the steps that `RateSearch` asks for from `start`, printing each, then the verdict.
async fn search<F, Fut>(
    args: &LoadArgs,
    target: &str,
    start: f64,
    mut step: F,
) -> anyhow::Result<ExitCode>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = anyhow::Result<(LoadTestResult, Vec<String>)>>,
{
    let mut search = RateSearch::new(start);
    let mut steps = Vec::new();
    if !args.report.json {
        print_header(target)?;
    }
    let seconds = step_duration(args).as_secs_f64();
    while let Some(rate) = search.next_rate() {
        if rate * seconds < 1.0 {
            // A step this slow schedules no request: nothing lower can be measured.
            break;
        }
        let (result, failures) = step(rate)
            .await
            .with_context(|| format!("step at {rate} req/s"))?;
        let interrupted = result.cancelled;
        let done = Step {
            rate,
            result,
            failures,
        };
        if !args.report.json {
            print_step(steps.len() + 1, &done)?;
        }
        search.record(done.passed());
        steps.push(done);
        if interrupted {
            eprintln!("sentinel: interrupted; the search stopped early");
            return Ok(ExitCode::from(EXIT_INTERRUPTED as u8));
        }
    }
    let max = search.max_rate();
    if args.report.json {
        print_json(target, max, &steps)?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out)?;
        match max {
            Some(rate) => writeln!(out, "max rate: {rate} req/s ({target})")?,
            None => writeln!(out, "no rate held ({target})")?,
        }
    }
    Ok(match max {
        Some(_) => ExitCode::SUCCESS,
        None => ExitCode::from(EXIT_NONE_HELD),
    })
}

/// How long each step runs: `--duration`, or [`STEP_DURATION`].
fn step_duration(args: &LoadArgs) -> Duration {
    args.duration.unwrap_or(STEP_DURATION)
}

fn print_header(target: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Searching the highest rate {target} holds its thresholds at"
    )?;
    writeln!(
        out,
        "{:>4}{:>10}{:>10}{:>10}{:>10}{:>11}  verdict",
        "step", "rate/s", "sent", "p99 ms", "ok/s", "success"
    )?;
    out.flush()
}

fn print_step(index: usize, step: &Step) -> std::io::Result<()> {
    let r = &step.result;
    let verdict = match step.failures.first() {
        None if !r.cancelled => "pass".to_owned(),
        None => "interrupted".to_owned(),
        Some(first) => format!("FAIL {first}"),
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{index:>4}{:>10}{:>10}{:>10.3}{:>10.1}{:>10.2}%  {verdict}",
        step.rate,
        r.requests.sent,
        r.latency_ms.p99,
        r.throughput,
        r.success_rate() * 100.0
    )?;
    out.flush()
}

fn print_json(target: &str, max: Option<f64>, steps: &[Step]) -> std::io::Result<()> {
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|step| {
            serde_json::json!({
                "rate": step.rate,
                "passed": step.passed(),
                "failures": step.failures,
                "result": step.result.to_json(),
            })
        })
        .collect();
    let report = serde_json::json!({ "find_max": target, "max_rate": max, "steps": steps });
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &report)?;
    writeln!(out)
}

fn usage(message: &str) -> ExitCode {
    eprintln!("sentinel: {message}");
    ExitCode::from(EXIT_USAGE)
}

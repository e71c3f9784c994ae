//! `sentinel load --find-max`: the highest rate at which a target still meets its thresholds.
//!
//! Each step is a short run (2 s unless `--duration` says otherwise) at the rate that
//! [`RateSearch`] picks, after a short idle pause that lets the target settle. A step passes
//! only if every threshold holds, at least 99% of its requests succeed (unless a `success`
//! threshold says otherwise) and the generator kept its own schedule. A step whose target's own
//! answers breach a threshold fails; one whose answers held while its figures breached, or
//! while the generator fell behind, is reported as generator-limited, not as the target's limit
//! (see [`judge_step`]). The maximum is confirmed by a second run at that rate. The step table
//! is printed as the search goes; Ctrl-C stops it and reports the steps so far.

use std::future::Future;
use std::io::{self, Write};
use std::time::Duration;

use anyhow::Context;
use sentinel_load::{
    Found, LoadTestResult, RateSearch, StepVerdict, Threshold, judge_step, step_thresholds,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::scenarios::{self, Choice};
use super::{LoadArgs, Outcome, URL_RATE, url};

/// The idle pause before every step but the first.
const PAUSE: Duration = Duration::from_millis(500);

/// What one step's run measured, for [`judge_step`].
struct Measured {
    result: LoadTestResult,
    /// The thresholds the step was held to.
    criteria: Vec<Threshold>,
    /// The thresholds it breached, as measured, one line each.
    breaches: Vec<String>,
    /// The scenario's checks that did not hold, one line each.
    failed_checks: Vec<String>,
}

/// One step's figures, for the table and the JSON report.
struct Step {
    rate: f64,
    confirming: bool,
    verdict: StepVerdict,
    result: LoadTestResult,
    /// Why it did not pass, one line each.
    failures: Vec<String>,
}

/// Runs the search for `--scenario NAME` or `--url`.
pub async fn run(args: &LoadArgs) -> Outcome {
    let searched = match (&args.scenario, args.http_target()) {
        (Some(Choice::One(scenario)), None) => {
            let scenario = *scenario;
            let start = args.rate.unwrap_or(scenario.config().requests_per_second);
            search(args, scenario.name(), start, |rate| async move {
                let config = args.step_load(scenario.config(), rate);
                let thresholds =
                    scenarios::user_thresholds(args).unwrap_or_else(|| scenario.thresholds(rate));
                let criteria = step_thresholds(&thresholds);
                let control = args.control();
                let run =
                    scenarios::run_one(scenario, config, control, Some(criteria.clone()), args)
                        .await?;
                Ok(Measured {
                    breaches: run.breaches(),
                    failed_checks: run.failed_checks(),
                    result: run.result,
                    criteria,
                })
            })
            .await
        }
        (None, Some(target)) => {
            if args.report.thresholds.is_empty() {
                return usage("--find-max with --url needs at least one --threshold to hold");
            }
            let start = args.rate.unwrap_or(URL_RATE);
            let criteria = step_thresholds(&args.report.thresholds);
            search(args, &target, start, |rate| {
                let criteria = criteria.clone();
                async move {
                    let config = args.step_load(args.url_load(), rate);
                    let run = url::run_at(args, config, args.control(), &criteria).await?;
                    Ok(Measured {
                        breaches: run.breaches(),
                        failed_checks: Vec::new(),
                        result: run.result,
                        criteria,
                    })
                }
            })
            .await
        }
        _ => {
            return usage(
                "--find-max searches one target: --scenario NAME (not all), --url or --targets",
            );
        }
    };
    searched.unwrap_or_else(|error| super::failed(&error))
}

/// Runs the steps that `RateSearch` asks for from `start`, printing each, then what the
/// search established.
async fn search<F, Fut>(
    args: &LoadArgs,
    target: &str,
    start: f64,
    mut step: F,
) -> anyhow::Result<Outcome>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = anyhow::Result<Measured>>,
{
    let mut search = RateSearch::new(start);
    let mut steps: Vec<Step> = Vec::new();
    let text = !args.report.json;
    if text {
        write_header(&mut io::stdout().lock(), target)?;
    }
    let seconds = args.step_duration().as_secs_f64();
    let mut interrupted = false;
    while let Some(probe) = search.next() {
        if probe.rate * seconds < 1.0 {
            // A step this slow schedules no request: nothing lower can be measured.
            break;
        }
        if !steps.is_empty() && !pause(&args.stop).await {
            interrupted = true;
            break;
        }
        let Measured {
            result,
            criteria,
            breaches,
            failed_checks,
        } = step(probe.rate)
            .await
            .with_context(|| format!("step at {} req/s", probe.rate))?;
        let (verdict, failures) = judge_step(&result, &criteria, breaches, failed_checks);
        let done = Step {
            rate: probe.rate,
            confirming: probe.confirming,
            verdict,
            result,
            failures,
        };
        if text {
            write_step(&mut io::stdout().lock(), steps.len() + 1, &done)?;
        }
        steps.push(done);
        if verdict == StepVerdict::Interrupted {
            interrupted = true;
            break;
        }
        search.record(verdict == StepVerdict::Passed);
    }
    let summary = Summary {
        target,
        found: search.found(),
        highest_passed: search.candidate(),
        interrupted,
    };
    let mut out = io::stdout().lock();
    if text {
        write_summary(&mut out, &summary, &steps)?;
    } else {
        write_json(&mut out, &summary, &steps)?;
    }
    if interrupted {
        eprintln!("sentinel: interrupted; the search stopped early");
        return Ok(Outcome::Interrupted);
    }
    Ok(match summary.found {
        Found::Max(_) | Found::AtLeast(_) => Outcome::Success,
        Found::Nothing => Outcome::Failure,
    })
}

/// Waits [`PAUSE`]; `false` if Ctrl-C came first.
async fn pause(stop: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(PAUSE) => !stop.is_cancelled(),
        () = stop.cancelled() => false,
    }
}

/// What the search established, for the last lines of the report.
struct Summary<'a> {
    target: &'a str,
    found: Found,
    /// The highest rate that passed once below every failure (confirmed or not).
    highest_passed: Option<f64>,
    interrupted: bool,
}

fn write_header(out: &mut impl Write, target: &str) -> io::Result<()> {
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

fn write_step(out: &mut impl Write, index: usize, step: &Step) -> io::Result<()> {
    let r = &step.result;
    let mut verdict = match (step.verdict, step.failures.first()) {
        (StepVerdict::Passed, _) | (_, None) => step.verdict.name().to_owned(),
        (_, Some(first)) => format!("{} {first}", step.verdict.name().to_uppercase()),
    };
    if step.confirming {
        verdict.push_str(" (confirmation)");
    }
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

/// The rates of the steps the generator could not keep, above the maximum found.
fn generator_limited(steps: &[Step], found: Found) -> Vec<f64> {
    let floor = match found {
        Found::Max(rate) | Found::AtLeast(rate) => rate,
        Found::Nothing => 0.0,
    };
    steps
        .iter()
        .filter(|step| step.verdict == StepVerdict::GeneratorLimited && step.rate > floor)
        .map(|step| step.rate)
        .collect()
}

fn write_summary(out: &mut impl Write, summary: &Summary, steps: &[Step]) -> io::Result<()> {
    let target = summary.target;
    writeln!(out)?;
    if summary.interrupted {
        write!(out, "interrupted after {} steps: ", steps.len())?;
    }
    match summary.found {
        Found::Max(rate) => writeln!(out, "max rate: {rate} req/s ({target}), confirmed")?,
        Found::AtLeast(rate) => writeln!(
            out,
            "at least {rate} req/s ({target}): every step passed, up to the last the search \
             runs"
        )?,
        Found::Nothing => {
            let yet = if summary.interrupted { " yet" } else { "" };
            match summary.highest_passed {
                Some(rate) => writeln!(
                    out,
                    "no rate confirmed{yet}; {rate} req/s passed once ({target})"
                )?,
                None => writeln!(out, "no rate held{yet} ({target})")?,
            }
        }
    }
    let limited = generator_limited(steps, summary.found);
    if !limited.is_empty() {
        let rates: Vec<String> = limited.iter().map(f64::to_string).collect();
        writeln!(
            out,
            "generator-limited at {} req/s: there the generator, not the target, fell behind \
             (raise --workers, or spread the load over more generators)",
            rates.join(", ")
        )?;
    }
    Ok(())
}

fn write_json(out: &mut impl Write, summary: &Summary, steps: &[Step]) -> io::Result<()> {
    let (max, at_least) = match summary.found {
        Found::Max(rate) => (Some(rate), false),
        Found::AtLeast(rate) => (Some(rate), true),
        Found::Nothing => (None, false),
    };
    let rows: Vec<serde_json::Value> = steps
        .iter()
        .map(|step| {
            json!({
                "rate": step.rate,
                "confirming": step.confirming,
                "verdict": step.verdict.name(),
                "passed": step.verdict == StepVerdict::Passed,
                "failures": step.failures,
                "result": step.result.to_json(),
            })
        })
        .collect();
    let report = json!({
        "find_max": summary.target,
        "max_rate": max,
        "at_least": at_least,
        "highest_passed": summary.highest_passed,
        "generator_limited": generator_limited(steps, summary.found),
        "interrupted": summary.interrupted,
        "steps": rows,
    });
    serde_json::to_writer(&mut *out, &report)?;
    writeln!(out)
}

fn usage(message: &str) -> Outcome {
    eprintln!("sentinel: {message}");
    Outcome::Usage
}

#[cfg(test)]
mod tests {
    use super::super::tests::result;
    use super::*;

    fn text(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).expect("written to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    fn step(rate: f64, verdict: StepVerdict, result: &LoadTestResult) -> Step {
        Step {
            rate,
            confirming: false,
            verdict,
            result: result.clone(),
            failures: match verdict {
                StepVerdict::Passed => Vec::new(),
                _ => vec!["first reason".into(), "second reason".into()],
            },
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_step_is_a_row_with_its_verdict_and_first_reason() {
        let result = result(10, 1_000).await;
        assert_eq!(
            text(|out| write_header(out, "mixed")),
            "Searching the highest rate mixed holds its thresholds at\n\
             step    rate/s      sent    p99 ms      ok/s    success  verdict\n"
        );
        let failed = step(100.0, StepVerdict::Failed, &result);
        let row = text(|out| write_step(out, 3, &failed));
        let sent = result.requests.sent;
        assert!(
            row.starts_with(&format!("   3       100{sent:>10}")),
            "{row}"
        );
        assert!(row.ends_with("100.00%  FAIL first reason\n"), "{row}");
        let limited = step(200.0, StepVerdict::GeneratorLimited, &result);
        let row = text(|out| write_step(out, 4, &limited));
        assert!(
            row.ends_with("%  GENERATOR-LIMITED first reason\n"),
            "{row}"
        );
        let confirmed = Step {
            confirming: true,
            ..step(100.0, StepVerdict::Passed, &result)
        };
        let row = text(|out| write_step(out, 5, &confirmed));
        assert!(row.ends_with("%  pass (confirmation)\n"), "{row}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_summary_says_what_was_established_and_where_the_generator_was_the_limit() {
        let result = result(10, 1_000).await;
        let steps = [
            step(100.0, StepVerdict::Passed, &result),
            step(200.0, StepVerdict::GeneratorLimited, &result),
            step(150.0, StepVerdict::Passed, &result),
        ];
        let summary = |found, highest_passed, interrupted| Summary {
            target: "t",
            found,
            highest_passed,
            interrupted,
        };
        assert_eq!(
            text(|out| write_summary(out, &summary(Found::Max(150.0), Some(150.0), false), &steps)),
            "\nmax rate: 150 req/s (t), confirmed\n\
             generator-limited at 200 req/s: there the generator, not the target, fell behind \
             (raise --workers, or spread the load over more generators)\n"
        );
        assert_eq!(
            text(|out| write_summary(out, &summary(Found::AtLeast(400.0), None, false), &[])),
            "\nat least 400 req/s (t): every step passed, up to the last the search runs\n"
        );
        assert_eq!(
            text(|out| write_summary(out, &summary(Found::Nothing, None, false), &[])),
            "\nno rate held (t)\n"
        );
        assert_eq!(
            text(|out| write_summary(out, &summary(Found::Nothing, Some(150.0), false), &[])),
            "\nno rate confirmed; 150 req/s passed once (t)\n",
            "a rate that passed but was never confirmed is not a rate that never held"
        );
        assert_eq!(
            text(|out| write_summary(out, &summary(Found::Nothing, Some(150.0), true), &steps)),
            "\ninterrupted after 3 steps: no rate confirmed yet; 150 req/s passed once (t)\n\
             generator-limited at 200 req/s: there the generator, not the target, fell behind \
             (raise --workers, or spread the load over more generators)\n"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_json_report_is_one_object_with_every_step() {
        let result = result(10, 1_000).await;
        let steps = [
            step(1000.0, StepVerdict::Passed, &result),
            step(2000.0, StepVerdict::Failed, &result),
        ];
        let summary = Summary {
            target: "policy-eval",
            found: Found::Nothing,
            highest_passed: Some(1000.0),
            interrupted: true,
        };
        let line = text(|out| write_json(out, &summary, &steps));
        assert_eq!(line.lines().count(), 1);
        let expected = json!({
            "find_max": "policy-eval",
            "max_rate": null,
            "at_least": false,
            "highest_passed": 1000.0,
            "generator_limited": [],
            "interrupted": true,
            "steps": [
                {"rate": 1000.0, "confirming": false, "verdict": "pass", "passed": true,
                 "failures": [], "result": result.to_json()},
                {"rate": 2000.0, "confirming": false, "verdict": "fail", "passed": false,
                 "failures": ["first reason", "second reason"], "result": result.to_json()},
            ],
        });
        assert_eq!(line, format!("{expected}\n"));
    }
}

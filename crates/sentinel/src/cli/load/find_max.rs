//! `sentinel load --find-max`: the highest rate at which a target still meets its thresholds.
//!
//! Each step is a short run (2 s unless `--duration` says otherwise) at the rate that
//! [`RateSearch`] picks: doubling from the start rate while the thresholds hold, halving while
//! they do not, then bisecting to within 5%; a rate that fails is tried once more before it
//! counts as failed. A step passes when it ran to its end and every threshold held (and, for a
//! scenario, every check). The step table is printed as the search goes.

use std::future::Future;
use std::io::{self, Write};

use anyhow::Context;
use sentinel_load::{LoadTestResult, RateSearch};
use serde_json::json;

use super::scenarios::{self, Choice};
use super::{LoadArgs, Outcome, URL_RATE, url};

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
pub async fn run(args: &LoadArgs) -> Outcome {
    let searched = match (&args.scenario, args.http_target()) {
        (Some(Choice::One(scenario)), None) => {
            let scenario = *scenario;
            let start = args.rate.unwrap_or(scenario.config().requests_per_second);
            search(args, scenario.name(), start, |rate| async move {
                let config = args.step_load(scenario.config(), rate);
                let run = scenarios::run_one(scenario, config, args).await?;
                let failures = run.failures();
                Ok((run.result, failures))
            })
            .await
        }
        (None, Some(target)) => {
            if args.report.thresholds.is_empty() {
                return usage("--find-max with --url needs at least one --threshold to hold");
            }
            let start = args.rate.unwrap_or(URL_RATE);
            search(args, &target, start, |rate| async move {
                let config = args.step_load(args.url_load(), rate);
                let run = url::run_at(args, config).await?;
                let failures = run.breaches();
                Ok((run.result, failures))
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
) -> anyhow::Result<Outcome>
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = anyhow::Result<(LoadTestResult, Vec<String>)>>,
{
    let mut search = RateSearch::new(start);
    let mut steps = Vec::new();
    let text = !args.report.json;
    if text {
        write_header(&mut io::stdout().lock(), target)?;
    }
    let seconds = args.step_duration().as_secs_f64();
    while let Some(rate) = search.next_rate() {
        if rate * seconds < 1.0 {
            // A step this slow schedules no request: nothing lower can be measured.
            break;
        }
        let (result, failures) = step(rate)
            .await
            .with_context(|| format!("step at {rate} req/s"))?;
        let done = Step {
            rate,
            result,
            failures,
        };
        if text {
            write_step(&mut io::stdout().lock(), steps.len() + 1, &done)?;
        }
        search.record(done.passed());
        let interrupted = done.result.cancelled;
        steps.push(done);
        if interrupted {
            eprintln!("sentinel: interrupted; the search stopped early");
            return Ok(Outcome::Interrupted);
        }
    }
    let max = search.max_rate();
    let mut out = io::stdout().lock();
    if text {
        write_verdict(&mut out, target, max)?;
    } else {
        write_json(&mut out, target, max, &steps)?;
    }
    Ok(match max {
        Some(_) => Outcome::Success,
        None => Outcome::Failure,
    })
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
    let verdict = match step.failures.first() {
        None if !r.cancelled => "pass".to_owned(),
        None => "interrupted".to_owned(),
        Some(first) => format!("FAIL {first}"),
    };
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

fn write_verdict(out: &mut impl Write, target: &str, max: Option<f64>) -> io::Result<()> {
    writeln!(out)?;
    match max {
        Some(rate) => writeln!(out, "max rate: {rate} req/s ({target})"),
        None => writeln!(out, "no rate held ({target})"),
    }
}

fn write_json(
    out: &mut impl Write,
    target: &str,
    max: Option<f64>,
    steps: &[Step],
) -> io::Result<()> {
    let steps: Vec<serde_json::Value> = steps
        .iter()
        .map(|step| {
            json!({
                "rate": step.rate,
                "passed": step.passed(),
                "failures": step.failures,
                "result": step.result.to_json(),
            })
        })
        .collect();
    let report = json!({ "find_max": target, "max_rate": max, "steps": steps });
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_step_is_a_row_with_its_first_failure() {
        let result = result(10, 1_000).await;
        let header = text(|out| write_header(out, "mixed"));
        assert_eq!(
            header,
            "Searching the highest rate mixed holds its thresholds at\n\
             step    rate/s      sent    p99 ms      ok/s    success  verdict\n"
        );
        let failed = Step {
            rate: 100.0,
            result: result.clone(),
            failures: vec![
                "threshold breached: a".into(),
                "threshold breached: b".into(),
            ],
        };
        let row = text(|out| write_step(out, 3, &failed));
        let sent = result.requests.sent;
        assert!(
            row.starts_with(&format!("   3       100{sent:>10}")),
            "{row}"
        );
        assert!(
            row.ends_with("100.00%  FAIL threshold breached: a\n"),
            "{row}"
        );
        let passed = Step {
            failures: Vec::new(),
            ..failed
        };
        assert!(text(|out| write_step(out, 4, &passed)).ends_with("%  pass\n"));
        assert_eq!(
            text(|out| write_verdict(out, "mixed", Some(3000.0))),
            "\nmax rate: 3000 req/s (mixed)\n"
        );
        assert_eq!(
            text(|out| write_verdict(out, "mixed", None)),
            "\nno rate held (mixed)\n"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_json_report_holds_every_step() {
        let result = result(10, 1_000).await;
        let steps = [
            Step {
                rate: 1000.0,
                result: result.clone(),
                failures: Vec::new(),
            },
            Step {
                rate: 2000.0,
                result: result.clone(),
                failures: vec!["threshold breached: p99 2ms >= 1ms".into()],
            },
        ];
        let line = text(|out| write_json(out, "policy-eval", Some(1000.0), &steps));
        assert_eq!(line.lines().count(), 1);
        let expected = json!({
                "find_max": "policy-eval",
                "max_rate": 1000.0,
                "steps": [
                    {"rate": 1000.0, "passed": true, "failures": [], "result": result.to_json()},
                    {
                        "rate": 2000.0,
                        "passed": false,
                        "failures": ["threshold breached: p99 2ms >= 1ms"],
                        "result": result.to_json(),
                    },
                ],
        });
        assert_eq!(line, format!("{expected}\n"));
    }
}

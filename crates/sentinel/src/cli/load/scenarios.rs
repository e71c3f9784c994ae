//! `sentinel load --scenario NAME|all`, and `sentinel load` alone: the built-in scenarios of the
//! issuance path against the example policy and the in-process issuer, with the scenario's own
//! thresholds and checks setting the exit status.
//!
//! One scenario prints the full report (or one JSON object); several print one JSON object per
//! scenario per line, or a summary table. The run itself, the report, the `.hgrm` file and the
//! thresholds are the shared [`session`] and [`report`] machinery of `--url`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;

use sentinel_load::{LoadTest, LoadTestResult, Threshold};
use sentinel_scenarios::{Findings, Scenario, Setup, Shape, UnknownScenario, Workload};

use super::interrupt::EXIT_INTERRUPTED;
use super::report::{self, ReportArgs};
use super::{LoadArgs, session};

/// Exit status when a threshold or a check failed.
const EXIT_FAILED: u8 = 1;

/// What `--scenario` names: one scenario or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// One scenario.
    One(Scenario),
    /// Every scenario, in order.
    All,
}

impl FromStr for Choice {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if name == "all" {
            Ok(Choice::All)
        } else {
            name.parse().map(Choice::One)
        }
    }
}

/// One scenario's run, judged.
pub struct Judged {
    /// The load generator's result.
    pub result: LoadTestResult,
    /// The scenario's figures and checks.
    pub findings: Findings,
    /// What failed: breached thresholds and failed checks, one line each.
    pub failures: Vec<String>,
}

impl Judged {
    /// Whether the run was stopped by Ctrl-C.
    pub fn interrupted(&self) -> bool {
        self.result.cancelled
    }
}

/// The load shape of `scenario`: its plan shape (or the quick tour's, when `short`), with the
/// flags' overrides.
pub fn shape(scenario: Scenario, args: &LoadArgs, short: bool) -> Shape {
    let base = if short {
        scenario.short_shape()
    } else {
        scenario.shape()
    };
    Shape {
        rate: args.rate.unwrap_or(base.rate),
        duration: args.duration.unwrap_or(base.duration),
        workers: args.workers.unwrap_or(base.workers),
        timeout: args.timeout.unwrap_or(base.timeout),
    }
}

/// The thresholds a run at `rate` is held to: the user's `--threshold`s if any, else the
/// scenario's own.
pub fn thresholds(scenario: Scenario, rate: f64, args: &LoadArgs) -> Vec<Threshold> {
    if args.report.thresholds.is_empty() {
        scenario.thresholds(rate)
    } else {
        args.report.thresholds.clone()
    }
}

/// The decision log a run writes to: `--decision-log`, or a temporary file.
pub fn setup(args: &LoadArgs) -> Setup {
    Setup {
        decision_log: args.decision_log.clone(),
    }
}

/// Prepares and runs `scenario` at `shape` with progress and Ctrl-C handling, then judges it
/// against `thresholds` and the scenario's checks.
pub async fn run_one(
    scenario: Scenario,
    shape: &Shape,
    thresholds: &[Threshold],
    setup: &Setup,
    report: &ReportArgs,
) -> anyhow::Result<Judged> {
    let config = shape.config();
    // The configuration is checked before anything (a decision log file) is prepared.
    let test = LoadTest::new(config.clone())?;
    let workload = Workload::prepare(scenario, &config, setup).await?;
    let request = std::sync::Arc::clone(&workload);
    let result = session::run(test, report, move |ctx| request.request(ctx)).await;
    let run = sentinel_scenarios::judge(&workload, result, thresholds.to_vec());
    let failures = run.failures();
    Ok(Judged {
        result: run.result,
        findings: run.findings,
        failures,
    })
}

/// The thresholds `result` breached, one line each.
pub fn breaches(thresholds: &[Threshold], result: &LoadTestResult) -> Vec<String> {
    thresholds
        .iter()
        .filter_map(|threshold| {
            let breach = threshold.check(result).err()?;
            Some(format!("threshold breached: {breach}"))
        })
        .collect()
}

/// Runs the scenarios `--scenario` names, or all of them at short durations when neither it
/// nor `--url` was given.
pub async fn run(args: &LoadArgs) -> ExitCode {
    if let Some(problem) = unusable_flag(args) {
        eprintln!("sentinel: {problem}");
        return ExitCode::from(super::EXIT_USAGE);
    }
    let (scenarios, short) = match args.scenario {
        Some(Choice::One(scenario)) => (vec![scenario], false),
        Some(Choice::All) => (Scenario::ALL.to_vec(), false),
        None => (Scenario::ALL.to_vec(), true),
    };
    // Every shape is checked before any scenario runs, so bad flags are refused at once.
    for &scenario in &scenarios {
        if let Err(error) = LoadTest::new(shape(scenario, args, short).config()) {
            eprintln!("sentinel: scenario {scenario}: {error}");
            return ExitCode::from(super::EXIT_USAGE);
        }
    }
    let setup = setup(args);
    let single = scenarios.len() == 1;
    let table = !single && !args.report.json;
    let mut rows = Vec::new();
    let mut status = ExitCode::SUCCESS;
    for scenario in scenarios {
        let shape = shape(scenario, args, short);
        let thresholds = thresholds(scenario, shape.rate, args);
        let judged = match run_one(scenario, &shape, &thresholds, &setup, &args.report).await {
            Ok(judged) => judged,
            Err(error) => {
                super::super::fail(&error.context(format!("scenario {scenario}")));
                return ExitCode::FAILURE;
            }
        };
        let hgrm = args
            .report
            .hgrm
            .as_deref()
            .map(|path| hgrm_path(path, scenario, single));
        if table {
            for failure in &judged.failures {
                eprintln!("sentinel: {scenario}: {failure}");
            }
            if let Some(path) = &hgrm
                && let Err(error) = report::write_hgrm_file(&judged.result, path)
            {
                eprintln!("sentinel: writing {}: {error}", path.display());
                status = ExitCode::from(EXIT_FAILED);
            }
            if !judged.failures.is_empty() {
                status = ExitCode::from(EXIT_FAILED);
            }
        } else {
            let report_args = ReportArgs {
                json: args.report.json,
                hgrm,
                thresholds,
                quiet: args.report.quiet,
            };
            let reported =
                report::finish(&judged.result, judged.findings.json_fields(), &report_args);
            if reported != ExitCode::SUCCESS {
                status = reported;
            }
            if !args.report.json && print_checks(&judged.findings).is_err() {
                status = ExitCode::from(EXIT_FAILED);
            }
            for check in judged.findings.checks.iter().filter(|c| !c.passed) {
                eprintln!(
                    "sentinel: {scenario}: check failed: {}: {}",
                    check.check, check.detail
                );
                status = ExitCode::from(EXIT_FAILED);
            }
        }
        let interrupted = judged.interrupted();
        rows.push((scenario, shape, judged));
        if interrupted {
            status = ExitCode::from(EXIT_INTERRUPTED as u8);
            break;
        }
    }
    if table && let Err(error) = print_table(&rows) {
        eprintln!("sentinel: writing the report: {error}");
        status = ExitCode::from(EXIT_FAILED);
    }
    status
}

/// A flag that means nothing for this run: request shaping without `--url`, or a load shape
/// without a target (`sentinel load` alone runs the quick tour at its own shapes).
fn unusable_flag(args: &LoadArgs) -> Option<String> {
    if !args.headers.is_empty() || args.body.is_some() {
        return Some("--header and --body shape HTTP requests: they need --url URL".to_owned());
    }
    let shaped = [
        (args.rate.is_some(), "--rate"),
        (args.duration.is_some(), "--duration"),
        (args.workers.is_some(), "--workers"),
        (args.timeout.is_some(), "--timeout"),
    ];
    let (_, flag) = shaped.into_iter().find(|(given, _)| *given)?;
    args.scenario.is_none().then(|| {
        format!(
            "{flag} needs a target: --url URL or --scenario NAME|all \
             (`sentinel load` alone runs every scenario at its own short shape)"
        )
    })
}

/// The checks of a scenario under its text report.
fn print_checks(findings: &Findings) -> std::io::Result<()> {
    if findings.checks.is_empty() {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out)?;
    writeln!(out, "Checks ({})", findings.scenario)?;
    for check in &findings.checks {
        let verdict = if check.passed { "pass" } else { "FAIL" };
        writeln!(out, "  {verdict:<8}{}: {}", check.check, check.detail)?;
    }
    Ok(())
}

/// One line per scenario: its load, its latency, its own figures and its verdict.
fn print_table(rows: &[(Scenario, Shape, Judged)]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<12}{:>8}{:>6}{:>9}{:>9}{:>9}{:>9}{:>10}  {:<34}verdict",
        "scenario", "rate/s", "time", "sent", "ok", "p50 ms", "p99 ms", "ok/s", "figures",
    )?;
    for (scenario, shape, judged) in rows {
        let r = &judged.result;
        let verdict = match (judged.interrupted(), judged.failures.len()) {
            (true, _) => "interrupted".to_owned(),
            (false, 0) => "pass".to_owned(),
            (false, n) => format!("FAIL ({n})"),
        };
        writeln!(
            out,
            "{:<12}{:>8}{:>5}s{:>9}{:>9}{:>9.3}{:>9.3}{:>10.1}  {:<34}{verdict}",
            scenario.name(),
            shape.rate,
            shape.duration.as_secs_f64(),
            r.requests.sent,
            r.requests.ok,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.throughput,
            judged.findings.summary(),
        )?;
    }
    let passed = rows
        .iter()
        .filter(|(_, _, j)| j.failures.is_empty())
        .count();
    writeln!(out)?;
    writeln!(
        out,
        "{passed} of {} scenarios held their thresholds and checks",
        rows.len()
    )
}

/// The `.hgrm` file of `scenario`: `--hgrm` itself for a single scenario, else the scenario's
/// name added before the extension (`lat.hgrm` → `lat-issuance.hgrm`).
fn hgrm_path(path: &Path, scenario: Scenario, single: bool) -> PathBuf {
    if single {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{scenario}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{scenario}"),
    };
    path.with_file_name(name)
}

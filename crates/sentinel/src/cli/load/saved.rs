//! `sentinel load report FILE.json` and `sentinel load merge A.json B.json ...`: saved `--json`
//! results rendered again (text, JSON, HTML, `.hgrm`, timeline) and the results of the
//! segments of one schedule added up into one, judged against the thresholds with the usual
//! exit status.
//!
//! A saved result carries its histograms and every raw count, so whatever a live run reports
//! can be reported again from it, and merged percentiles come from merged histograms.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use sentinel_load::{LoadTestResult, Threshold};
use sentinel_load_report::{FindMaxStep, Page, render};
use serde_json::Value;

use super::Outcome;
use super::files::RunFiles;
use super::judged::{Judged, ReportArgs};
use super::report;

/// The subcommands of `sentinel load` that read saved results.
#[derive(Debug, Subcommand)]
pub enum SavedCommand {
    /// Report a saved `--json` result again: the text report (or --json), its thresholds judged
    /// again (the saved ones unless --threshold is given), and --html, --hgrm, --timeline files.
    /// A saved --find-max result renders its steps with --html.
    Report(ReportCommand),
    /// Add up the `--json` results of the segments of one schedule (`--segment K/N`, every K
    /// once) into the whole schedule's result: counts summed, percentiles from the merged
    /// histograms, the timeline merged second by second. Results of different schedules are
    /// refused with the difference.
    Merge(MergeCommand),
}

/// `sentinel load report`.
#[derive(Debug, Args)]
pub struct ReportCommand {
    /// A result saved by `sentinel load ... --json`.
    #[arg(value_name = "FILE.json")]
    file: PathBuf,
    #[command(flatten)]
    report: ReportArgs,
}

/// `sentinel load merge`.
#[derive(Debug, Args)]
pub struct MergeCommand {
    /// The results of every segment of one schedule, each saved by `sentinel load --segment
    /// K/N ... --json`.
    #[arg(value_name = "FILE.json", required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    report: ReportArgs,
}

/// Runs a subcommand on saved results.
pub fn run(command: &SavedCommand) -> Outcome {
    let outcome = match command {
        SavedCommand::Report(command) => report_saved(command),
        SavedCommand::Merge(command) => merge_saved(command),
    };
    outcome.unwrap_or_else(|error| {
        eprintln!("sentinel: {error:#}");
        Outcome::Usage
    })
}

/// A saved file: one run, or a find-max search.
enum Saved {
    Run {
        result: Box<LoadTestResult>,
        thresholds: Vec<Threshold>,
        title: String,
    },
    FindMax {
        title: String,
        steps: Vec<FindMaxStep>,
        conclusion: String,
        last: Option<Box<LoadTestResult>>,
    },
}

fn report_saved(command: &ReportCommand) -> anyhow::Result<Outcome> {
    let args = &command.report;
    match read(&command.file)? {
        Saved::Run {
            result,
            thresholds,
            title,
        } => Ok(judge_and_finish(
            &result,
            &args.thresholds,
            thresholds,
            args,
            &title,
        )),
        Saved::FindMax {
            title,
            steps,
            conclusion,
            last,
        } => {
            println!("{conclusion} ({title}), {} steps", steps.len());
            if let Some(path) = &args.html {
                let page = Page {
                    target: &title,
                    result: last.as_deref(),
                    verdicts: &[],
                    steps: &steps,
                    conclusion: Some(&conclusion),
                };
                std::fs::write(path, render(&page))
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(Outcome::Success)
        }
    }
}

fn merge_saved(command: &MergeCommand) -> anyhow::Result<Outcome> {
    let mut results = Vec::new();
    let mut saved_thresholds = None;
    let mut title = None;
    for path in &command.files {
        match read(path)? {
            Saved::Run {
                result,
                thresholds,
                title: name,
            } => {
                saved_thresholds.get_or_insert(thresholds);
                title.get_or_insert(name);
                results.push(*result);
            }
            Saved::FindMax { .. } => {
                bail!("{}: a --find-max search does not merge", path.display())
            }
        }
    }
    let merged = sentinel_load::merge(&results).context("cannot merge")?;
    let title = format!("{} (merged)", title.unwrap_or_default());
    Ok(judge_and_finish(
        &merged,
        &command.report.thresholds,
        saved_thresholds.unwrap_or_default(),
        &command.report,
        &title,
    ))
}

/// Judges `result` against `given` thresholds (else the `saved` ones) and reports it.
fn judge_and_finish(
    result: &LoadTestResult,
    given: &[Threshold],
    saved: Vec<Threshold>,
    args: &ReportArgs,
    title: &str,
) -> Outcome {
    let thresholds = if given.is_empty() {
        saved
    } else {
        given.to_vec()
    };
    let verdicts = sentinel_load::judge(&thresholds, result);
    let judged = Judged {
        result,
        verdicts: &verdicts,
        findings: None,
        http: None,
        targets: Vec::new(),
    };
    report::finish(&judged, args, RunFiles::saved(args, title))
}

/// Reads one saved `--json` output.
fn read(path: &Path) -> anyhow::Result<Saved> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let objects = text.lines().filter(|line| !line.trim().is_empty()).count();
    if objects > 1 {
        bail!(
            "{} holds {objects} JSON objects, one per line (as --scenario all prints): give one \
             result per file",
            path.display()
        );
    }
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    if let Some(target) = value.get("find_max") {
        return Ok(find_max(&value, target.as_str().unwrap_or(&name)));
    }
    let result = LoadTestResult::from_json(&value).with_context(|| {
        format!(
            "{} is not a result saved by sentinel load --json",
            path.display()
        )
    })?;
    let title = value
        .get("scenario")
        .and_then(Value::as_str)
        .unwrap_or(&name)
        .to_owned();
    Ok(Saved::Run {
        result: Box::new(result),
        thresholds: saved_thresholds(&value),
        title,
    })
}

/// The thresholds a saved report was judged against.
fn saved_thresholds(value: &Value) -> Vec<Threshold> {
    value
        .get("thresholds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|verdict| verdict.get("threshold")?.as_str()?.parse().ok())
        .collect()
}

/// A saved find-max search: its steps and conclusion, and its last step's result.
fn find_max(value: &Value, target: &str) -> Saved {
    let mut last = None;
    let steps = value
        .get("steps")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|step| {
            let result = LoadTestResult::from_json(step.get("result")?).ok()?;
            let passed = step.get("passed")?.as_bool()?;
            let verdict = step
                .get("verdict")
                .and_then(Value::as_str)
                .unwrap_or(if passed { "pass" } else { "fail" })
                .to_owned();
            let step = FindMaxStep {
                rate: step.get("rate")?.as_f64()?,
                p99_ms: result.latency_ms.p99,
                verdict,
                passed,
            };
            last = Some(Box::new(result));
            Some(step)
        })
        .collect();
    let at_least = value.get("at_least").and_then(Value::as_bool) == Some(true);
    let conclusion = match value.get("max_rate").and_then(Value::as_f64) {
        Some(rate) if at_least => format!("max rate: at least {rate} req/s"),
        Some(rate) => format!("max rate: {rate} req/s"),
        None => "no rate held".to_owned(),
    };
    Saved::FindMax {
        title: target.to_owned(),
        steps,
        conclusion,
        last,
    }
}

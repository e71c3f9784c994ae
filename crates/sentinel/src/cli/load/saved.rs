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
        /// What was loaded, as the saved JSON's `target` says (a URL run's).
        target: Option<String>,
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
            target,
        } => Ok(judge_and_finish(
            &result,
            (&args.thresholds, thresholds),
            args,
            &title,
            target.as_deref(),
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
    let mut target = None;
    for path in &command.files {
        match read(path)? {
            Saved::Run {
                result,
                thresholds,
                title: name,
                target: loaded,
            } => {
                saved_thresholds.get_or_insert(thresholds);
                title.get_or_insert(name);
                target = target.or(loaded);
                results.push(*result);
            }
            Saved::FindMax { .. } => {
                bail!("{}: a --find-max search does not merge", path.display())
            }
        }
    }
    let merged = sentinel_load::merge(&results).context("cannot merge")?;
    let title = format!(
        "{} ({} segments merged)",
        title.unwrap_or_default(),
        results.len()
    );
    Ok(judge_and_finish(
        &merged,
        (
            &command.report.thresholds,
            saved_thresholds.unwrap_or_default(),
        ),
        &command.report,
        &title,
        target.as_deref(),
    ))
}

/// Judges `result` against the `given` thresholds (else the `saved` ones) and reports it under
/// `title`, its JSON naming the `target` loaded.
fn judge_and_finish(
    result: &LoadTestResult,
    (given, saved): (&[Threshold], Vec<Threshold>),
    args: &ReportArgs,
    title: &str,
    target: Option<&str>,
) -> Outcome {
    let thresholds = if given.is_empty() {
        saved
    } else {
        given.to_vec()
    };
    let verdicts = sentinel_load::judge(&thresholds, result);
    let judged = Judged {
        target,
        result,
        verdicts: &verdicts,
        findings: None,
        http: None,
        targets: Vec::new(),
    };
    report::finish(&judged, args, RunFiles::saved(args, title))
}

/// What `load report` and `load merge` read, as the errors name it.
const WANTED: &str = "the output of `sentinel load ... --json` (one result per file)";

/// Reads one saved `--json` output, or says what the file is instead.
fn read(path: &Path) -> anyhow::Result<Saved> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut values = serde_json::Deserializer::from_str(&text).into_iter::<Value>();
    let value = match values.next() {
        Some(Ok(value)) => value,
        None => bail!("{} is empty: give {WANTED}", path.display()),
        Some(Err(_)) => bail!(
            "{} is not JSON (a text report cannot be read back): give {WANTED}",
            path.display()
        ),
    };
    if is_timeline_second(&value) {
        bail!(
            "{} is a --timeline file (one line per second of a run): give {WANTED}, which \
             carries the timeline when the run recorded one",
            path.display()
        );
    }
    let more = values.count();
    if more > 0 {
        bail!(
            "{} holds {} results, one per line (as --scenario all prints): give one result \
             per file",
            path.display(),
            more + 1
        );
    }
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
    let title = ["scenario", "target"]
        .iter()
        .find_map(|key| value.get(*key).and_then(Value::as_str))
        .unwrap_or(&name)
        .to_owned();
    Ok(Saved::Run {
        result: Box::new(result),
        thresholds: saved_thresholds(&value),
        title,
        target: value
            .get("target")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

/// Whether `value` is one second of a `--timeline` file rather than a result.
fn is_timeline_second(value: &Value) -> bool {
    value.get("second").is_some() && value.get("requests").is_none()
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sentinel_load::{LoadTestConfig, RunControl, run_load_test};

    use super::*;

    /// The result of a short run, as `--json` would save it.
    async fn saved_result() -> Value {
        let config = LoadTestConfig::new(100.0, Duration::from_millis(50));
        let result = run_load_test(config, RunControl::default(), |_| async { Ok(()) })
            .await
            .expect("a valid configuration");
        result.to_json()
    }

    /// What `read` says of a file holding `text`.
    fn read_error(text: &str) -> String {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        match read(file.path()) {
            Ok(_) => panic!("{text:?} was read as a result"),
            Err(error) => format!("{error:#}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_that_is_not_one_result_is_named_for_what_it_is() {
        let text_report = "Target      100 req/s for 1 s, 4 workers\nTime        elapsed 1 s\n";
        assert!(
            read_error(text_report).contains("is not JSON (a text report cannot be read back)"),
            "{}",
            read_error(text_report)
        );
        let timeline = r#"{"second":0,"due":5,"sent":5,"ok":5}
{"second":1,"due":5,"sent":5,"ok":5}
"#;
        assert!(
            read_error(timeline).contains("is a --timeline file"),
            "{}",
            read_error(timeline)
        );
        let result = saved_result().await;
        let two = format!("{result}\n{result}\n");
        assert!(
            read_error(&two).contains("holds 2 results, one per line"),
            "{}",
            read_error(&two)
        );
        assert!(read_error("").contains("is empty"), "{}", read_error(""));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_result_reads_whatever_its_layout_and_is_titled_by_its_target() {
        let mut result = saved_result().await;
        result["target"] = Value::from("https://example.test/healthz");
        let file = tempfile::NamedTempFile::new().unwrap();
        // Pretty-printed (as `jq .` leaves it): one result over many lines.
        std::fs::write(file.path(), serde_json::to_string_pretty(&result).unwrap()).unwrap();
        match read(file.path()).expect("a saved result") {
            Saved::Run { title, target, .. } => {
                assert_eq!(title, "https://example.test/healthz");
                assert_eq!(target.as_deref(), Some("https://example.test/healthz"));
            }
            Saved::FindMax { .. } => panic!("read as a find-max search"),
        }
    }
}

//! The end of a run: the text or JSON report on stdout, the `.hgrm` file, thresholds, and the
//! exit status that CI reads.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sentinel_load::{LoadTestResult, Threshold, write_hgrm, write_text};
use serde_json::{Map, Value, json};

use super::interrupt::EXIT_INTERRUPTED;

/// Exit status when a threshold is breached.
const EXIT_BREACHED: u8 = 1;

/// Output and pass/fail flags, shared by every kind of load target.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Print exactly one JSON object on stdout instead of the text report.
    #[arg(long)]
    pub json: bool,
    /// Write the latency percentile distribution (HdrHistogram `.hgrm`, ms) to FILE.
    #[arg(long, value_name = "FILE")]
    pub hgrm: Option<PathBuf>,
    /// Fail (exit 1) unless the result meets EXPR: `p50|p90|p95|p99|p999|max` `<`/`<=` a
    /// duration (`p99<10ms`), `success>=99%` or `throughput>=800`. Repeatable.
    #[arg(long = "threshold", value_name = "EXPR")]
    pub thresholds: Vec<Threshold>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Reports `result` (with `extra` fields added to the JSON object), writes the `.hgrm` file,
/// checks the thresholds and returns the exit status: 130 if the run was interrupted, 1 if a
/// threshold was breached or the report could not be written, 0 otherwise.
pub fn finish(result: &LoadTestResult, extra: Map<String, Value>, args: &ReportArgs) -> ExitCode {
    let checks: Vec<(&Threshold, Result<(), String>)> = args
        .thresholds
        .iter()
        .map(|t| (t, t.check(result).map_err(|breach| breach.to_string())))
        .collect();
    let written = if args.json {
        print_json(result, extra, &checks)
    } else {
        print_text(result, &checks)
    };
    let mut status = match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("sentinel: writing the report: {error}");
            ExitCode::from(EXIT_BREACHED)
        }
    };
    if let Some(path) = &args.hgrm
        && let Err(error) = write_hgrm_file(result, path)
    {
        eprintln!("sentinel: writing {}: {error}", path.display());
        status = ExitCode::from(EXIT_BREACHED);
    }
    for (_, check) in &checks {
        if let Err(breach) = check {
            eprintln!("sentinel: threshold breached: {breach}");
            status = ExitCode::from(EXIT_BREACHED);
        }
    }
    if result.cancelled {
        eprintln!("sentinel: interrupted; the result covers the requests due before the stop");
        return ExitCode::from(EXIT_INTERRUPTED as u8);
    }
    status
}

fn print_json(
    result: &LoadTestResult,
    extra: Map<String, Value>,
    checks: &[(&Threshold, Result<(), String>)],
) -> std::io::Result<()> {
    let mut object = match result.to_json() {
        Value::Object(object) => object,
        other => Map::from_iter([("result".to_owned(), other)]),
    };
    object.extend(extra);
    let thresholds: Vec<Value> = checks
        .iter()
        .map(|(threshold, check)| {
            json!({
                "threshold": threshold.to_string(),
                "passed": check.is_ok(),
                "breach": check.as_ref().err(),
            })
        })
        .collect();
    object.insert("thresholds".to_owned(), Value::Array(thresholds));
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &Value::Object(object))?;
    writeln!(out)
}

fn print_text(
    result: &LoadTestResult,
    checks: &[(&Threshold, Result<(), String>)],
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    write_text(result, &mut out)?;
    if !checks.is_empty() {
        writeln!(out)?;
        writeln!(out, "Thresholds")?;
        for (threshold, check) in checks {
            match check {
                Ok(()) => writeln!(out, "  pass    {threshold}")?,
                Err(breach) => writeln!(out, "  FAIL    {threshold}: {breach}")?,
            }
        }
    }
    Ok(())
}

/// Writes the latency distribution of `result` to `path` as an `.hgrm` file.
pub fn write_hgrm_file(result: &LoadTestResult, path: &std::path::Path) -> std::io::Result<()> {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
    write_hgrm(&result.histograms.latency, &mut file)?;
    file.flush()
}

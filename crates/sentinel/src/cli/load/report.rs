//! The end of a run: the text or JSON report on stdout, the files (in [`super::files`]), the
//! breaches and failed checks on stderr, and the [`Outcome`] that CI reads. The printers write
//! to any [`Write`], so both formats are tested without running the binary.

use std::io::{self, Write};

use sentinel_load::http::HttpStats;
use sentinel_load::{LoadTestResult, Threshold, Verdict, write_figures, write_text};
use sentinel_scenarios::Findings;
use serde::Serialize;
use serde_json::Value;

use super::Outcome;
use super::files::RunFiles;
use super::judged::{Judged, ReportArgs};

/// The JSON report: the result's fields, the scenario's, `http` and `thresholds`.
#[derive(Serialize)]
struct JsonReport<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<&'a str>,
    #[serde(flatten)]
    result: &'a LoadTestResult,
    #[serde(flatten)]
    findings: Option<&'a Findings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    http: Option<&'a HttpStats>,
    thresholds: &'a [Verdict],
}

/// Writes `judged` as one JSON object on one line, its keys in alphabetical order.
pub fn write_json(out: &mut impl Write, judged: &Judged) -> io::Result<()> {
    let report = JsonReport {
        target: judged.target,
        result: judged.result,
        findings: judged.findings,
        http: judged.http,
        thresholds: judged.verdicts,
    };
    // Through a JSON value, whose map keeps its keys sorted, so the order is the same whatever
    // the order of the fields above.
    let mut value = serde_json::to_value(&report)?;
    judge_stages(&mut value, judged);
    name_targets(&mut value, judged);
    serde_json::to_writer(&mut *out, &value)?;
    writeln!(out)
}

/// Adds to each stage of the JSON report the run's thresholds judged on that stage alone.
fn judge_stages(report: &mut Value, judged: &Judged) {
    let thresholds: Vec<Threshold> = judged
        .verdicts
        .iter()
        .map(|verdict| verdict.threshold.clone())
        .collect();
    let Some(Value::Array(stages)) = report.get_mut("stages") else {
        return;
    };
    for (json, stage) in stages.iter_mut().zip(&judged.result.stages) {
        let verdicts = sentinel_load::judge(&thresholds, &stage.result);
        if let (Value::Object(fields), Ok(verdicts)) = (json, serde_json::to_value(verdicts)) {
            fields.insert("thresholds".to_owned(), verdicts);
        }
    }
}

/// Adds to each target of the JSON report its name (`target`), its `weight` and its own
/// verdicts (`thresholds`).
fn name_targets(report: &mut Value, judged: &Judged) {
    let Some(Value::Array(targets)) = report.get_mut("targets") else {
        return;
    };
    for (json, target) in targets.iter_mut().zip(&judged.targets) {
        if let (Value::Object(fields), Ok(verdicts)) = (json, serde_json::to_value(target.verdicts))
        {
            fields.insert("target".to_owned(), Value::from(target.name));
            fields.insert("weight".to_owned(), Value::from(target.weight));
            fields.insert("thresholds".to_owned(), verdicts);
        }
    }
}

/// Writes `judged` as text: a loud warning when TLS was not verified, the load generator's
/// report, what the HTTP client did, the thresholds, the checks, then each target kept apart
/// with its own thresholds.
pub fn write_report(out: &mut impl Write, judged: &Judged) -> io::Result<()> {
    if judged.http.is_some_and(|http| http.tls == Some("insecure")) {
        writeln!(
            out,
            "WARNING     --insecure: TLS certificates were NOT verified; any server could have \
             answered"
        )?;
    }
    write_text(judged.result, out)?;
    if let Some(http) = judged.http {
        writeln!(out)?;
        write_http(out, http)?;
    }
    write_verdicts(out, judged.verdicts)?;
    if let Some(findings) = judged
        .findings
        .filter(|findings| !findings.checks.is_empty())
    {
        writeln!(out)?;
        writeln!(out, "Checks ({})", findings.scenario)?;
        for check in &findings.checks {
            let verdict = if check.passed { "pass" } else { "FAIL" };
            writeln!(out, "  {verdict:<8}{}: {}", check.check, check.detail)?;
        }
    }
    if !judged.targets.is_empty() {
        writeln!(out)?;
        writeln!(out, "By target")?;
        let total = judged.result.requests.target.max(1) as f64;
        for (index, target) in judged.targets.iter().enumerate() {
            writeln!(out)?;
            writeln!(
                out,
                "[{}/{}] {}  weight {}, {:.1}% of the requests",
                index + 1,
                judged.targets.len(),
                target.name,
                target.weight,
                target.result.requests.target as f64 / total * 100.0
            )?;
            write_figures(target.result, out)?;
            write_verdicts(out, target.verdicts)?;
        }
    }
    Ok(())
}

/// The thresholds section: each verdict, with what was measured or its breach.
fn write_verdicts(out: &mut impl Write, verdicts: &[Verdict]) -> io::Result<()> {
    if verdicts.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "Thresholds")?;
    for verdict in verdicts {
        match &verdict.breach {
            None => writeln!(
                out,
                "  pass    {}: measured {}",
                verdict.threshold, verdict.measured
            )?,
            Some(breach) => writeln!(out, "  FAIL    {}: {breach}", verdict.threshold)?,
        }
    }
    Ok(())
}

/// The HTTP line: protocol, TLS, and what the client did besides sending requests.
fn write_http(out: &mut impl Write, http: &HttpStats) -> io::Result<()> {
    let tls = match http.tls {
        Some("insecure") => " over TLS (certificates NOT verified)",
        Some(_) => " over TLS",
        None => "",
    };
    let keepalive = if http.keepalive {
        ""
    } else {
        ", a connection per request"
    };
    let resumed = if http.tls.is_some() {
        format!(" ({} TLS sessions resumed)", http.tls_resumed)
    } else {
        String::new()
    };
    let retried = &http.retried;
    writeln!(
        out,
        "HTTP        {}{tls}{keepalive}, {} connections opened{resumed}, {} requests sent again \
         on a fresh connection ({} closed while idle, {} closed before an answer, {} refused \
         unprocessed)",
        http.protocol,
        http.connections_opened,
        retried.total(),
        retried.closed_idle,
        retried.closed,
        retried.refused
    )
}

/// Prints `judged` on stdout (JSON or text), writes its `files`, names each breach and failed
/// check on stderr and returns the outcome: interrupted, failed (a breach, a failed check, or a
/// report or file that could not be written) or succeeded.
pub fn finish(judged: &Judged, args: &ReportArgs, files: RunFiles) -> Outcome {
    let mut out = io::stdout().lock();
    let written = if args.json {
        write_json(&mut out, judged)
    } else {
        write_report(&mut out, judged)
    };
    drop(out);
    let mut complete = true;
    if let Err(error) = written {
        eprintln!("sentinel: writing the report: {error}");
        complete = false;
    }
    complete &= files.finish(judged);
    for verdict in judged.verdicts {
        if let Some(breach) = &verdict.breach {
            eprintln!("sentinel: threshold breached: {breach}");
        }
    }
    for target in &judged.targets {
        for breach in target.verdicts.iter().filter_map(|v| v.breach.as_ref()) {
            eprintln!("sentinel: threshold breached by {}: {breach}", target.name);
        }
    }
    if let Some(warning) = unguarded_failure(judged) {
        eprintln!("sentinel: warning: {warning}");
    }
    if let Some(findings) = judged.findings {
        for check in findings.checks.iter().filter(|check| !check.passed) {
            eprintln!(
                "sentinel: {}: check failed: {}: {}",
                findings.scenario, check.check, check.detail
            );
        }
    }
    match judged.outcome() {
        Outcome::Interrupted => {
            eprintln!("sentinel: interrupted; the result covers the requests due before the stop");
            Outcome::Interrupted
        }
        Outcome::Success if complete => Outcome::Success,
        _ => Outcome::Failure,
    }
}

/// A run that mostly failed with nothing to judge it by (no threshold, no scenario check) exits 0,
/// as documented; so that a CI job without thresholds is not green by silence, the warning that
/// says so.
fn unguarded_failure(judged: &Judged) -> Option<String> {
    let unjudged = judged.verdicts.is_empty() && judged.findings.is_none();
    let success = judged.result.success_rate();
    (unjudged && judged.result.requests.target > 0 && success < 0.5).then(|| {
        format!(
            "only {:.1}% of the requests succeeded and no --threshold was given, so the exit \
             status is 0; add --threshold 'success>=99%' to fail on it",
            success * 100.0
        )
    })
}

#[cfg(test)]
mod tests {
    use sentinel_load::http::Retries;
    use sentinel_scenarios::CheckResult;
    use sentinel_scenarios::identity::IdentityFigures;
    use serde_json::{Value, json};

    use super::super::tests::result;
    use super::*;

    fn thresholds(texts: &[&str]) -> Vec<Threshold> {
        texts.iter().map(|t| t.parse().expect("valid")).collect()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_mostly_failed_run_without_thresholds_is_warned_of() {
        // `result(10, 1)` fails every request, `result(10, 5)` every fifth.
        let judged = |result, verdicts| Judged {
            target: None,
            result,
            verdicts,
            findings: None,
            http: None,
            targets: Vec::new(),
        };
        let failing = result(10, 1).await;
        assert!(failing.success_rate() < 0.5, "{}", failing.success_rate());
        let warning = unguarded_failure(&judged(&failing, &[])).expect("warned");
        assert!(warning.contains("no --threshold was given"), "{warning}");
        let judged_by = sentinel_load::judge(&thresholds(&["success>=0%"]), &failing);
        assert_eq!(unguarded_failure(&judged(&failing, &judged_by)), None);
        let passing = result(10, 5).await;
        assert_eq!(unguarded_failure(&judged(&passing, &[])), None);
    }

    fn findings(passed: bool) -> Findings {
        let figures = IdentityFigures {
            collisions: 0,
            ids: 9,
        };
        let check = CheckResult::new("collisions", passed, "0 collisions among 9 IDs".into());
        Findings::new("identity", figures, vec![check])
    }

    fn text(write: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) -> String {
        let mut out = Vec::new();
        write(&mut out).expect("written to memory");
        String::from_utf8(out).expect("UTF-8")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_text_report_is_the_generators_then_the_thresholds_then_the_checks() {
        let result = result(10, 5).await;
        let verdicts = sentinel_load::judge(&thresholds(&["success>=0%", "p99<1ns"]), &result);
        let breach = verdicts[1].breach.as_ref().expect("breached");
        let findings = findings(false);
        let judged = Judged {
            target: None,
            result: &result,
            verdicts: &verdicts,
            findings: Some(&findings),
            http: None,
            targets: Vec::new(),
        };
        let generator = text(|out| write_text(&result, out));
        assert_eq!(
            text(|out| write_report(out, &judged)),
            format!(
                "{generator}\nThresholds\n  pass    success>=0%: measured {}\n  FAIL    p99<1ns: \
                 {breach}\n\
                 \nChecks (identity)\n  FAIL    collisions: 0 collisions among 9 IDs\n",
                verdicts[0].measured
            )
        );
        let bare = Judged {
            target: None,
            result: &result,
            verdicts: &[],
            findings: None,
            http: None,
            targets: Vec::new(),
        };
        assert_eq!(text(|out| write_report(out, &bare)), generator);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_json_report_is_one_line_of_every_field_in_alphabetical_order() {
        let result = result(10, 5).await;
        let verdicts = sentinel_load::judge(&thresholds(&["success>=0%"]), &result);
        let findings = findings(true);
        let judged = Judged {
            target: None,
            result: &result,
            verdicts: &verdicts,
            findings: Some(&findings),
            http: None,
            targets: Vec::new(),
        };
        let line = text(|out| write_json(out, &judged));
        assert!(line.ends_with("}\n") && line.lines().count() == 1, "{line}");
        let mut expected = match result.to_json() {
            Value::Object(fields) => fields,
            other => panic!("not an object: {other}"),
        };
        expected.extend([
            ("scenario".to_owned(), json!("identity")),
            ("collisions".to_owned(), json!(0)),
            ("ids".to_owned(), json!(9)),
            (
                "checks".to_owned(),
                json!([{"check": "collisions", "passed": true, "detail": "0 collisions among 9 IDs"}]),
            ),
            (
                "thresholds".to_owned(),
                json!([{"threshold": "success>=0%", "measured": "80%", "passed": true,
                        "breach": null}]),
            ),
        ]);
        // Byte for byte: a map's keys in alphabetical order, compact, one line.
        assert_eq!(line, format!("{}\n", Value::Object(expected)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_url_run_reports_what_its_http_client_did() {
        let result = result(10, 5).await;
        let http = HttpStats {
            protocol: "HTTP/2",
            tls: Some("verified"),
            keepalive: true,
            connections_opened: 4,
            tls_resumed: 2,
            retried: Retries {
                closed_idle: 1,
                closed: 2,
                refused: 0,
            },
        };
        let judged = Judged {
            target: None,
            result: &result,
            verdicts: &[],
            findings: None,
            http: Some(&http),
            targets: Vec::new(),
        };
        let report = text(|out| write_report(out, &judged));
        assert!(
            report.ends_with(
                "\nHTTP        HTTP/2 over TLS, 4 connections opened (2 TLS sessions resumed), 3 \
                 requests sent again on a fresh connection (1 closed while idle, 2 closed \
                 before an answer, 0 refused unprocessed)\n"
            ),
            "{report}"
        );
        let line = text(|out| write_json(out, &judged));
        let value: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(
            value["http"],
            json!({"protocol": "HTTP/2", "tls": "verified", "keepalive": true,
                   "connections_opened": 4, "tls_resumed": 2,
                   "retried": {"closed_idle": 1, "closed": 2, "refused": 0}})
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interruption_outranks_a_failure_which_outranks_success() {
        let mut result = result(10, 5).await;
        let held = sentinel_load::judge(&thresholds(&["success>=0%"]), &result);
        let breached = sentinel_load::judge(&thresholds(&["success>=100%"]), &result);
        let judged = |verdicts, findings| Judged {
            target: None,
            result: &result,
            verdicts,
            findings,
            http: None,
            targets: Vec::new(),
        };
        let failed_check = findings(false);
        assert_eq!(judged(&held, None).outcome(), Outcome::Success);
        assert_eq!(judged(&breached, None).outcome(), Outcome::Failure);
        assert_eq!(
            judged(&held, Some(&failed_check)).outcome(),
            Outcome::Failure
        );
        result.cancelled = true;
        let interrupted = Judged {
            target: None,
            result: &result,
            verdicts: &breached,
            findings: None,
            http: None,
            targets: Vec::new(),
        };
        assert_eq!(interrupted.outcome(), Outcome::Interrupted);
    }
}

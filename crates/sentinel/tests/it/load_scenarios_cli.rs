//! `sentinel load --scenario` and `sentinel load` alone, end to end: the JSON contract with the
//! scenarios' own figures, per-scenario `.hgrm` files, the decision log (a temporary file unless
//! `--decision-log` says otherwise, never the user's own), breached thresholds naming
//! themselves in the exit status, `--find-max`, and refused input.
//!
//! Runs whose pass or fail depends on the machine's speed live in `timing`, which runs with
//! the `loadtest` feature, one test at a time.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sentinel_load::{Found, RateSearch};
use serde_json::Value;

use crate::bin::stderr;

/// Runs `sentinel load` with `args`, its home and state directories in `home`.
fn sentinel(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .arg("load")
        .args(args)
        .env("HOME", home)
        .env("XDG_STATE_HOME", home.join("state"))
        .stdin(Stdio::null())
        .output()
        .expect("sentinel runs")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect()
}

/// Holds a run to the scenarios' checks only, so the exit status does not depend on speed.
const NO_SPEED_LIMIT: [&str; 2] = ["--threshold", "success>=0%"];

#[test]
fn every_scenario_reports_its_figures_as_one_json_line() {
    let home = tempfile::tempdir().expect("temp dir");
    let hgrm = home.path().join("latency.hgrm");
    let hgrm_arg = hgrm.to_str().expect("UTF-8 path");
    let mut args = vec!["--scenario", "all", "--duration", "200ms", "--json", "-q"];
    args.extend(["--hgrm", hgrm_arg]);
    args.extend(NO_SPEED_LIMIT);
    let output = sentinel(home.path(), &args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lines = json_lines(&output);
    let names: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["scenario"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "policy-eval",
            "cached-eval",
            "identity",
            "mixed",
            "issuance",
            "remote"
        ]
    );
    for line in &lines {
        assert!(
            line["requests"]["sent"].as_u64().is_some_and(|n| n > 0),
            "{line}"
        );
        assert!(line["latency_ms"]["p99"].is_number(), "{line}");
        assert_eq!(line["thresholds"][0]["threshold"], "success>=0%");
        let name = line["scenario"].as_str().unwrap_or_default();
        assert!(
            home.path().join(format!("latency-{name}.hgrm")).exists(),
            "no .hgrm for {name}"
        );
    }
    assert_eq!(lines[1]["cache_hit_ratio"], 1.0);
    assert_eq!(lines[2]["collisions"], 0);
    let mix = lines[3]["mix"].as_array().expect("mix");
    assert_eq!(mix[1]["class"], "deny");
    assert_eq!(lines[4]["decision_log_lines"], lines[4]["requests"]["sent"]);
    assert!(lines[4]["checks"][0]["passed"].as_bool().unwrap_or(false));
    // remote: every credential issued was verified by STS and has its decision line.
    let ok = &lines[5]["requests"]["ok"];
    assert!(ok.as_u64().is_some_and(|n| n > 0), "{}", lines[5]);
    assert_eq!(&lines[5]["sts_verified"], ok);
    assert!(
        lines[5]["checks"]
            .as_array()
            .is_some_and(|checks| checks.iter().all(|c| c["passed"] == true)),
        "{}",
        lines[5]
    );
    // The decision log was a temporary file: nothing was written under the user's home.
    let written: Vec<_> = walk(home.path())
        .into_iter()
        .filter(|path| path.extension().is_none_or(|ext| ext != "hgrm"))
        .collect();
    assert!(written.is_empty(), "written under HOME: {written:?}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn issuance_appends_one_decision_per_request_to_the_given_log() {
    let home = tempfile::tempdir().expect("temp dir");
    let log = home.path().join("audit/decisions.jsonl");
    let log_arg = log.to_str().expect("UTF-8 path");
    let mut args = vec![
        "--scenario",
        "issuance",
        "--duration",
        "300ms",
        "--json",
        "-q",
    ];
    args.extend(["--decision-log", log_arg]);
    args.extend(NO_SPEED_LIMIT);
    let first = sentinel(home.path(), &args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let second = sentinel(home.path(), &args);
    assert_eq!(second.status.code(), Some(0), "{}", stderr(&second));
    let sent: u64 = [&first, &second]
        .iter()
        .map(|output| {
            let line = &json_lines(output)[0];
            assert_eq!(line["decision_log_lines"], line["requests"]["sent"]);
            line["requests"]["sent"].as_u64().unwrap_or(0)
        })
        .sum();
    let text = std::fs::read_to_string(&log).expect("the log was written");
    let decisions = text
        .lines()
        .filter(|line| line.contains(r#""event":"decision""#))
        .count() as u64;
    assert_eq!(decisions, sent, "both runs' decisions, each counted once");
}

#[test]
fn a_breached_threshold_fails_the_run_and_names_itself() {
    let home = tempfile::tempdir().expect("temp dir");
    let args = [
        "--scenario",
        "policy-eval",
        "--duration",
        "200ms",
        "--threshold",
        "p99<1ns",
        "--threshold",
        "success>=0%",
    ];
    let output = sentinel(home.path(), &args);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("threshold breached: p99"), "{err}");
    assert!(
        !err.contains("success"),
        "only the breached one is named: {err}"
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("FAIL    p99<1ns"), "{text}");
}

#[test]
fn find_max_searches_up_to_the_rate_the_thresholds_allow() {
    let home = tempfile::tempdir().expect("temp dir");
    // In process the generator itself is the limit: once it cannot send every due request,
    // the missed ones count against success and the search turns back. Where that limit lies
    // moves with whatever else the machine runs, so the search is checked against its own
    // rules, replayed over the verdicts it recorded, not against a rate.
    let args = [
        "--scenario",
        "policy-eval",
        "--find-max",
        "--duration",
        "250ms",
        "--json",
        "-q",
        "--threshold",
        "p99<1s",
    ];
    let output = sentinel(home.path(), &args);
    let report = &json_lines(&output)[0];
    assert_eq!(report["find_max"], "policy-eval");
    let steps = report["steps"].as_array().expect("steps");
    let rate = |step: &Value| step["rate"].as_f64().expect("a rate");
    let mut replay = RateSearch::new(1000.0);
    for step in steps {
        let probe = replay.next().expect("the search asked for this step");
        assert_eq!(
            (probe.rate, &serde_json::json!(probe.confirming)),
            (rate(step), &step["confirming"]),
            "each step is the one the search asks for: {report}"
        );
        replay.record(step["passed"] == true);
    }
    assert_eq!(replay.next(), None, "the search ran to its end: {report}");
    assert!(
        steps.iter().any(|step| step["passed"] == true),
        "a rate held: {report}"
    );
    let (code, max) = match replay.found() {
        Found::Max(max) | Found::AtLeast(max) => (0, Some(max)),
        Found::Nothing => (1, None),
    };
    assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
    assert_eq!(report["max_rate"].as_f64(), max, "{report}");
    // In process nothing fails but the generator: every step that did not pass says so.
    let broken: Vec<&Value> = steps
        .iter()
        .filter(|step| step["passed"] == false)
        .collect();
    assert!(
        broken
            .iter()
            .all(|step| step["verdict"] == "generator-limited"),
        "{report}"
    );
    let above_max = broken
        .iter()
        .filter(|step| max.is_none_or(|max| rate(step) > max))
        .count();
    assert_eq!(
        report["generator_limited"].as_array().map(Vec::len),
        Some(above_max),
        "{report}"
    );
}

#[test]
fn unusable_input_is_refused_before_any_load() {
    let home = tempfile::tempdir().expect("temp dir");
    let cases: [(&[&str], &str); 6] = [
        (&["--scenario", "nope"], "expected policy-eval"),
        (&["--scenario", "all", "--rate", "0"], "rate"),
        (&["--scenario", "all", "--find-max"], "one target"),
        (&["--find-max"], "one target"),
        (
            &["--url", "http://127.0.0.1:1/", "--find-max"],
            "--threshold",
        ),
        (&["--scenario", "issuance", "--body", "x"], "--url"),
    ];
    for (args, expected) in cases {
        let output = sentinel(home.path(), args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
}

#[cfg(feature = "loadtest")]
mod timing {
    use super::*;

    #[test]
    fn load_alone_runs_every_scenario_briefly_and_passes() {
        let home = tempfile::tempdir().expect("temp dir");
        // The log on a memory-backed filesystem: the thresholds time the pipeline, not the
        // disk (that the default log is synced is counted in the scenarios' own tests).
        let logs = sentinel_testkit::memory_tempdir();
        let log = logs.path().join("decisions.jsonl");
        let started = std::time::Instant::now();
        let output = sentinel(
            home.path(),
            &["-q", "--decision-log", log.to_str().expect("a UTF-8 path")],
        );
        let text = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(0), "{text}{}", stderr(&output));
        assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
        let names = [
            "policy-eval",
            "cached-eval",
            "identity",
            "mixed",
            "issuance",
            "remote",
        ];
        for name in names {
            assert!(text.lines().any(|l| l.starts_with(name)), "{name}: {text}");
        }
        let held = format!("{n} of {n} scenarios held", n = names.len());
        assert!(text.contains(&held), "{text}");
    }
}

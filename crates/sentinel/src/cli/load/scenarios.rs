//! `sentinel load --scenario NAME|all`, and `sentinel load` alone: the built-in scenarios of the
//! issuance path against the example policy and the in-process issuer, with the scenario's own
//! thresholds and checks setting the exit status.
//!
//! One scenario prints the full report (or one JSON object); several print one JSON object per
//! scenario per line, or a summary table. Running and judging a scenario is
//! [`sentinel_scenarios::run`]'s; this module picks the scenarios and their load from the flags
//! and prints what came back.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;

use sentinel_load::{LoadTest, LoadTestConfig, RunControl, Threshold};
use sentinel_scenarios::{Scenario, ScenarioRun, Setup, UnknownScenario};

use super::files::RunFiles;
use super::judged::Judged;
use super::report;
use super::session::Session;
use super::{LoadArgs, Outcome};

/// The scenarios `--scenario` can name, in the order they run and report.
pub fn registry() -> Vec<Scenario> {
    Scenario::ALL.to_vec()
}

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
            Scenario::find(name, &registry()).map(Choice::One)
        }
    }
}

/// The help after the flags: the scenarios, what sets the exit status, and examples.
pub fn after_help() -> String {
    let mut help = String::from("Scenarios (--scenario NAME, or all):\n");
    for scenario in registry() {
        let config = scenario.config();
        let load = format!(
            "{} req/s, {:?}",
            config.requests_per_second, config.duration
        );
        let _ = writeln!(
            help,
            "  {:<13}{load:<17}{}",
            scenario.name(),
            scenario.summary()
        );
    }
    help.push_str(
        "\nExit status: 0 when every threshold and check held; 1 when one did not, or on an \
         error; 2 for flags that cannot be used; 130 when interrupted (the report covers what \
         ran).\n\nExamples:\n  sentinel load                                   every scenario \
         briefly, a summary table\n  sentinel load --scenario issuance --json        one \
         scenario at its default load, as JSON\n  sentinel load --url http://127.0.0.1:8080/ \
         --rate 500 --threshold 'p99<10ms'\n  sentinel load --scenario issuance --find-max    \
         the highest rate that holds",
    );
    help
}

/// The thresholds the user gave, if any: they replace a scenario's own.
pub fn user_thresholds(args: &LoadArgs) -> Option<Vec<Threshold>> {
    (!args.report.thresholds.is_empty()).then(|| args.report.thresholds.clone())
}

/// The decision log a run writes to: `--decision-log`, or a temporary file.
pub fn setup(args: &LoadArgs) -> Setup {
    Setup {
        decision_log: args.decision_log.clone(),
    }
}

/// Runs `scenario` at `config` under `control` in a session (progress), judged against
/// `thresholds` (the scenario's own when `None`).
pub async fn run_one(
    scenario: Scenario,
    config: LoadTestConfig,
    control: RunControl,
    thresholds: Option<Vec<Threshold>>,
    args: &LoadArgs,
) -> anyhow::Result<ScenarioRun> {
    let mut session = Session::new(args.report.quiet);
    let setup = setup(args);
    let run = sentinel_scenarios::run(scenario, config, control, thresholds, &setup, &mut session)
        .await?;
    Ok(run)
}

/// Runs the scenarios `--scenario` names, or all of them for the quick tour when neither it
/// nor `--url` was given.
pub async fn run(args: &LoadArgs) -> Outcome {
    if let Some(problem) = unusable_flag(args) {
        eprintln!("sentinel: {problem}");
        return Outcome::Usage;
    }
    let (scenarios, tour) = match args.scenario {
        Some(Choice::One(scenario)) => (vec![scenario], false),
        Some(Choice::All) => (registry(), false),
        None => (registry(), true),
    };
    let loads: Vec<(Scenario, LoadTestConfig)> = scenarios
        .into_iter()
        .map(|scenario| {
            let base = if tour {
                scenario.tour_config()
            } else {
                scenario.config()
            };
            (scenario, args.load(base))
        })
        .collect();
    // Every load is checked before any scenario runs, so bad flags are refused at once.
    for (scenario, config) in &loads {
        if let Err(error) = LoadTest::new(config.clone()) {
            eprintln!("sentinel: scenario {scenario}: {error}");
            return Outcome::Usage;
        }
    }
    let single = loads.len() == 1;
    let table = !single && !args.report.json;
    let mut runs = Vec::new();
    let mut outcome = Outcome::Success;
    for (scenario, config) in loads {
        let name = (!single).then(|| scenario.name());
        let mut control = args.control();
        let files = match RunFiles::open(&args.report, scenario.name(), name, &mut control) {
            Ok(files) => files,
            Err(error) => {
                eprintln!("sentinel: {error:#}");
                return Outcome::Usage;
            }
        };
        let run = match run_one(scenario, config, control, user_thresholds(args), args).await {
            Ok(run) => run,
            Err(error) => {
                return super::super::outcome::failed(
                    &error.context(format!("scenario {scenario}")),
                );
            }
        };
        let reported = if table {
            summarised(&run, files)
        } else {
            report::finish(&Judged::of(&run), &args.report, files)
        };
        if reported != Outcome::Success {
            outcome = reported;
        }
        runs.push(run);
        if outcome == Outcome::Interrupted {
            break;
        }
    }
    if table && let Err(error) = write_table(&mut io::stdout().lock(), &runs) {
        eprintln!("sentinel: writing the report: {error}");
        outcome = Outcome::Failure;
    }
    outcome
}

/// For a row of the summary table: names each failure on stderr, writes the run's files, and
/// returns the run's outcome.
fn summarised(run: &ScenarioRun, files: RunFiles) -> Outcome {
    for failure in run.failures() {
        eprintln!("sentinel: {}: {failure}", run.scenario);
    }
    let judged = Judged::of(run);
    let outcome = judged.outcome();
    if !files.finish(&judged) && outcome == Outcome::Success {
        return Outcome::Failure;
    }
    outcome
}

/// A flag that means nothing for this run: request shaping or HTTP flags without `--url`, or
/// a load shape without a target (`sentinel load` alone runs the quick tour at its own loads).
fn unusable_flag(args: &LoadArgs) -> Option<String> {
    if args.method.is_some() || !args.headers.is_empty() || args.body.is_some() {
        return Some(
            "--method, --header and --body shape HTTP requests: they need --url URL".to_owned(),
        );
    }
    if let Some(flag) = args.http.given() {
        return Some(format!(
            "{flag} is for HTTP targets: it needs --url URL or --targets FILE"
        ));
    }
    let shaped = [
        (args.rate.is_some(), "--rate"),
        (args.duration.is_some(), "--duration"),
        (args.workers.is_some(), "--workers"),
        (args.timeout.is_some(), "--timeout"),
        (!args.stages.is_empty(), "--stage"),
        (args.segment.is_some(), "--segment"),
        (args.start_at.is_some(), "--start-at"),
    ];
    let (_, flag) = shaped.into_iter().find(|(given, _)| *given)?;
    args.scenario.is_none().then(|| {
        format!(
            "{flag} needs a target: --url URL or --scenario NAME|all \
             (`sentinel load` alone runs every scenario at its own short load)"
        )
    })
}

/// One line per scenario: its load, its latency, its own figures and its verdict.
fn write_table(out: &mut impl Write, runs: &[ScenarioRun]) -> io::Result<()> {
    writeln!(
        out,
        "{:<12}{:>8}{:>6}{:>9}{:>9}{:>9}{:>9}{:>10}  {:<34}verdict",
        "scenario", "rate/s", "time", "sent", "ok", "p50 ms", "p99 ms", "ok/s", "figures",
    )?;
    for run in runs {
        let r = &run.result;
        let verdict = match (r.cancelled, run.failures().len()) {
            (true, _) => "interrupted".to_owned(),
            (false, 0) => "pass".to_owned(),
            (false, n) => format!("FAIL ({n})"),
        };
        writeln!(
            out,
            "{:<12}{:>8}{:>5}s{:>9}{:>9}{:>9.3}{:>9.3}{:>10.1}  {:<34}{verdict}",
            run.scenario.name(),
            r.target_rate,
            r.duration_s,
            r.requests.sent,
            r.requests.ok,
            r.latency_ms.p50,
            r.latency_ms.p99,
            r.throughput,
            run.findings.summary(),
        )?;
    }
    let passed = runs.iter().filter(|run| run.passed()).count();
    writeln!(out)?;
    writeln!(
        out,
        "{passed} of {} scenarios held their thresholds and checks",
        runs.len()
    )
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sentinel_scenarios::Unwatched;

    use super::super::tests::flags;
    use super::*;

    /// A short real run of `name`, against `thresholds` or its own.
    async fn short_run(name: &str, thresholds: Option<&str>) -> ScenarioRun {
        let scenario: Scenario = name.parse().expect("built in");
        let config = LoadTestConfig {
            requests_per_second: 200.0,
            duration: Duration::from_millis(50),
            timeout: Duration::from_secs(5),
            ..scenario.config()
        };
        let thresholds = thresholds.map(|text| vec![text.parse().expect("valid")]);
        sentinel_scenarios::run(
            scenario,
            config,
            RunControl::default(),
            thresholds,
            &Setup::default(),
            &mut Unwatched,
        )
        .await
        .expect("the scenario runs")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_table_has_a_row_per_scenario_and_counts_those_that_held() {
        let runs = [
            short_run("identity", Some("success>=0%")).await,
            short_run("policy-eval", Some("p99<1ns")).await,
        ];
        let mut out = Vec::new();
        write_table(&mut out, &runs).expect("written to memory");
        let text = String::from_utf8(out).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            concat!(
                "scenario      rate/s  time     sent       ok   p50 ms   p99 ms      ok/s  ",
                "figures                           verdict"
            )
        );
        let sent = runs[0].result.requests.sent;
        assert!(
            lines[1].starts_with("identity         200 0.05s"),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains(&format!("0 collisions/{sent} IDs")),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with("pass"), "{}", lines[1]);
        assert!(lines[2].starts_with("policy-eval"), "{}", lines[2]);
        assert!(
            lines[2].ends_with("  -                                 FAIL (1)"),
            "{}",
            lines[2]
        );
        assert_eq!(lines[3], "");
        assert_eq!(
            lines[4],
            "1 of 2 scenarios held their thresholds and checks"
        );
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn choices_are_all_or_a_registered_name() {
        assert_eq!("all".parse(), Ok(Choice::All));
        let mixed: Choice = "mixed".parse().expect("registered");
        assert!(matches!(mixed, Choice::One(scenario) if scenario.name() == "mixed"));
        let unknown = "nope".parse::<Choice>().expect_err("not registered");
        for scenario in registry() {
            assert!(unknown.to_string().contains(scenario.name()), "{unknown}");
        }
    }

    #[test]
    fn the_help_lists_every_scenario_with_its_load() {
        let help = after_help();
        for scenario in registry() {
            let line = help
                .lines()
                .find(|line| line.trim_start().starts_with(scenario.name()))
                .unwrap_or_else(|| panic!("{scenario} missing: {help}"));
            assert!(line.contains(scenario.summary()), "{line}");
        }
        assert!(help.contains("130 when interrupted"), "{help}");
    }

    #[test]
    fn load_flags_need_a_target_and_request_flags_need_a_url() {
        let problem = unusable_flag(&flags(&["--workers", "3"])).expect("refused");
        assert!(problem.starts_with("--workers needs a target"), "{problem}");
        assert!(unusable_flag(&flags(&["--scenario", "all", "--workers", "3"])).is_none());
        let problem = unusable_flag(&flags(&["--scenario", "mixed", "--body", "x"]));
        assert!(problem.is_some_and(|p| p.contains("need --url")));
        assert!(unusable_flag(&flags(&["--method", "POST"])).is_some());
        assert!(unusable_flag(&flags(&[])).is_none());
    }
}

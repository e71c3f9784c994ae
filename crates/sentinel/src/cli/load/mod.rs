//! `sentinel load`: drive an open-loop load at a target and report it.
//!
//! The target is any HTTP server (`--url`, or many requests from `--targets FILE`, in [`url`])
//! or a built-in scenario of the issuance path (`--scenario`, in [`scenarios`]; with neither,
//! every scenario briefly). Everything around the run itself (progress bar and Ctrl-C in
//! [`session`], the text/JSON/`.hgrm` report in [`report`]) is shared by both kinds of target;
//! [`find_max`] searches the highest rate either sustains. Its files (`--timeline`, `--html`, `--hgrm`) are written by [`files`]; the
//! `report` and `merge` subcommands ([`saved`]) render and add up saved `--json` results. This
//! module holds the flags, the one place they become a load configuration, and the one Ctrl-C
//! watcher of the command: it is listening from the first moment to the last (resolving a
//! host, opening connections, running, pausing between find-max steps), and every run's
//! cancellation token is a child of its token.

mod files;
mod find_max;
mod interrupt;
mod judged;
mod progress;
mod report;
mod saved;
mod scenarios;
mod session;
mod url;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Args;
use sentinel_duration::parse_duration;
use sentinel_load::{LoadTestConfig, RunControl, Segment, Stage};
use tokio_util::sync::CancellationToken;

use super::Outcome;

/// `--url`'s rate unless `--rate` is given.
const URL_RATE: f64 = 100.0;
/// `--url`'s duration unless `--duration` is given.
const URL_DURATION: Duration = Duration::from_secs(10);
/// How long each `--find-max` step runs unless `--duration` is given.
const STEP_DURATION: Duration = Duration::from_secs(2);
/// The rate one runtime thread is given by default for an HTTP target. One thread drives
/// 80,000 HTTP/1.1 or 40,000 HTTPS req/s on loopback at about half a core, and costs about half
/// the CPU that two do at the same rate: handing requests between threads (waking a parked
/// one) is the dearest part of sending one.
const RATE_PER_THREAD: f64 = 50_000.0;

/// Flags of `sentinel load`.
#[derive(Debug, Args)]
#[command(after_help = scenarios::after_help(), args_conflicts_with_subcommands = true)]
pub struct LoadArgs {
    #[command(subcommand)]
    command: Option<saved::SavedCommand>,
    /// The URL to load, http:// or https:// (for many URLs, --targets FILE).
    #[arg(long, value_name = "URL", conflicts_with = "scenario")]
    url: Option<String>,
    /// A built-in scenario of the issuance path (listed below) or `all`; with neither this nor
    /// --url, every scenario runs briefly.
    #[arg(long, value_name = "NAME|all")]
    scenario: Option<scenarios::Choice>,
    /// Search the highest rate at which the thresholds hold, for one --scenario or the --url:
    /// short steps, doubling then bisecting, the maximum confirmed by a second run. A step whose
    /// target's own answers breach a threshold fails; one whose answers held while the
    /// generator itself fell behind is named generator-limited.
    #[arg(long)]
    find_max: bool,
    /// The decision log the `issuance` and `remote` scenarios append to [default: a temporary
    /// file]. Every allow waits for its line's sync, so the disk under it shows in the latency.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    #[arg(long, value_name = "N", help = help::rate())]
    rate: Option<f64>,
    #[arg(long, value_parser = parse_duration, help = help::duration())]
    duration: Option<Duration>,
    /// An arrival-rate stage: DURATION:RATE ramps linearly from the rate before it (the first
    /// from --rate, default 0) to RATE over DURATION; DURATION:=RATE holds RATE. Repeat for
    /// more, in order; the run lasts their total (`--stage 30s:1000 --stage 1m:=1000 --stage
    /// 30s:0`).
    #[arg(
        long = "stage",
        value_name = "DURATION:RATE",
        conflicts_with_all = ["duration", "find_max"]
    )]
    stages: Vec<Stage>,
    /// Send only segment K of N of the schedule: the requests whose index is K-1 modulo N, so
    /// that N generators with the same flags and --start-at send, together, exactly the
    /// schedule one would. --workers and the thresholds are this generator's.
    #[arg(long, value_name = "K/N", conflicts_with = "find_max")]
    segment: Option<Segment>,
    /// --segment with the segment counted from 0: `I/N` is segment I+1 of N. For a Kubernetes
    /// Indexed Job, whose pod I runs `--segment-index $(JOB_COMPLETION_INDEX)/N` without a
    /// shell.
    #[arg(
        long,
        value_name = "I/N",
        value_parser = Segment::from_index,
        conflicts_with_all = ["find_max", "segment"]
    )]
    segment_index: Option<Segment>,
    /// The instant the schedule starts, RFC 3339 (2030-01-01T12:00:00Z), shared by every
    /// generator of a split schedule; refused if it passed more than one request interval ago.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant, conflicts_with = "find_max")]
    start_at: Option<SystemTime>,
    #[arg(long, value_name = "N", help = help::workers())]
    workers: Option<usize>,
    #[arg(long, value_parser = parse_duration, help = help::timeout())]
    timeout: Option<Duration>,
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, help = help::pacing_slack())]
    pacing_slack: Option<Duration>,
    #[arg(
        long,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..),
        help = help::threads()
    )]
    threads: Option<u16>,
    /// The HTTP method [default: GET].
    #[arg(long)]
    method: Option<String>,
    /// A header sent with every request; repeat for more.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The request body: `@FILE` for a file's contents, anything else literally.
    #[arg(long, value_name = "@FILE")]
    body: Option<String>,
    #[command(flatten)]
    http: url::HttpArgs,
    #[command(flatten)]
    report: judged::ReportArgs,
    /// Cancelled by the first Ctrl-C.
    #[arg(skip)]
    stop: CancellationToken,
}

/// Runs `sentinel load`.
pub fn run(args: &LoadArgs) -> anyhow::Result<Outcome> {
    if let Some(command) = &args.command {
        return Ok(saved::run(command));
    }
    super::block_on_threads(Some(args.threads()), async {
        let watcher = interrupt::watch(args.stop.clone());
        let outcome = if args.find_max {
            find_max::run(args).await
        } else if args.http_target().is_some() {
            url::run(args).await
        } else {
            scenarios::run(args).await
        };
        watcher.abort();
        Ok(outcome)
    })
}

/// The outcome of a command that ended in `error`: interrupted if Ctrl-C caused it, else a
/// failure, named on stderr.
fn failed(error: &anyhow::Error) -> Outcome {
    if error.is::<interrupt::Interrupted>() {
        eprintln!("sentinel: {error}");
        Outcome::Interrupted
    } else {
        super::outcome::failed(error)
    }
}

impl LoadArgs {
    /// The HTTP target as reports name it (the URL, or the targets file), if one was given.
    fn http_target(&self) -> Option<String> {
        match (&self.url, &self.http.targets) {
            (Some(url), _) => Some(sentinel_load::http::hide_user_info(url)),
            (None, Some(file)) => Some(file.display().to_string()),
            (None, None) => None,
        }
    }

    /// The runtime threads of the command: `--threads`, else, for an HTTP target at a rate known
    /// in advance, one per [`RATE_PER_THREAD`] of this generator's share of the highest rate
    /// (at most one per core), else one per core (a scenario's target runs in the same process
    /// and needs them).
    fn threads(&self) -> usize {
        if let Some(threads) = self.threads {
            return threads.into();
        }
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        if self.find_max || self.http_target().is_none() {
            return cores;
        }
        let config = self.url_load();
        let peak = self
            .stages
            .iter()
            .map(|stage| stage.rate)
            .fold(config.requests_per_second, f64::max);
        let share = peak / config.segment.count() as f64;
        ((share / RATE_PER_THREAD).ceil() as usize).clamp(1, cores)
    }

    /// `base` with the load flags given on the command line in place of its own values (with
    /// `--stage`, ramping from `--rate` (or 0) through the stages).
    fn load(&self, base: LoadTestConfig) -> LoadTestConfig {
        let staged = !self.stages.is_empty();
        let start_rate = if staged {
            0.0
        } else {
            base.requests_per_second
        };
        let config = LoadTestConfig {
            requests_per_second: self.rate.unwrap_or(start_rate),
            duration: self.duration.unwrap_or(base.duration),
            workers: self.workers.unwrap_or(base.workers),
            timeout: self.timeout.unwrap_or(base.timeout),
            pacing_slack: self.pacing_slack.unwrap_or(base.pacing_slack),
            segment: self.segment.or(self.segment_index).unwrap_or(base.segment),
            start_at: self.start_at.or(base.start_at),
            ..base
        };
        if staged {
            config.with_stages(self.stages.clone())
        } else {
            config
        }
    }

    /// The control of one run: stopped by the command's Ctrl-C, without a timeline (the run's
    /// files add one when they need it).
    fn control(&self) -> RunControl {
        RunControl {
            cancel: self.stop.child_token(),
            timeline: None,
        }
    }

    /// The load of `--url`: the flags, else its own rate and duration and the load
    /// generator's defaults.
    fn url_load(&self) -> LoadTestConfig {
        self.load(LoadTestConfig::new(URL_RATE, URL_DURATION))
    }

    /// The load of one `--find-max` step at `rate`: `base` with the flags, at `rate`, for
    /// `--duration` or [`STEP_DURATION`].
    fn step_load(&self, base: LoadTestConfig, rate: f64) -> LoadTestConfig {
        LoadTestConfig {
            requests_per_second: rate,
            duration: self.step_duration(),
            ..self.load(base)
        }
    }

    /// How long each `--find-max` step runs.
    fn step_duration(&self) -> Duration {
        self.duration.unwrap_or(STEP_DURATION)
    }
}

/// An RFC 3339 instant (`2030-01-01T12:00:00Z`, `2030-01-01T13:00:00+01:00`).
fn parse_instant(text: &str) -> Result<SystemTime, String> {
    let refuse =
        |error: jiff::Error| format!("not an RFC 3339 instant like 2030-01-01T12:00:00Z: {error}");
    let instant = text.parse::<jiff::Timestamp>().map_err(refuse)?;
    SystemTime::try_from(instant).map_err(refuse)
}

/// Help texts that state a default, built from the values themselves so they cannot drift.
mod help {
    use sentinel_load::LoadTestConfig;

    use super::{RATE_PER_THREAD, STEP_DURATION, URL_DURATION, URL_RATE};

    fn library() -> LoadTestConfig {
        LoadTestConfig::new(URL_RATE, URL_DURATION)
    }

    pub fn threads() -> String {
        format!(
            "The threads the generator runs on [default: for --url or --targets, one per {RATE_PER_THREAD} \
             req/s of this generator's highest rate, at most one per core; for scenarios and \
             --find-max, one per core]. Raise it when a run reports that the generator fell \
             behind its schedule"
        )
    }

    pub fn rate() -> String {
        format!(
            "Target rate in requests per second; request i is due at start + i / rate \
             [default: {URL_RATE} for --url, the scenario's own otherwise]"
        )
    }

    pub fn duration() -> String {
        format!(
            "How long requests are scheduled for (10s, 500ms, 2m) [default: {URL_DURATION:?} for --url, the \
             scenario's own otherwise, {STEP_DURATION:?} per --find-max step]"
        )
    }

    pub fn workers() -> String {
        format!(
            "At most this many requests in flight, one connection each [default: {} for \
             --url, the scenario's own otherwise]",
            library().workers
        )
    }

    pub fn pacing_slack() -> String {
        format!(
            "How late a request may be released so that one timer wakeup sends every request \
             due within it: more slack costs less CPU at high rates, and shows in the schedule \
             lag (latency is measured from the due time either way) [default: {:?}, at most \
             {:?}]",
            library().pacing_slack,
            sentinel_load::MAX_PACING_SLACK
        )
    }

    pub fn timeout() -> String {
        format!(
            "A request running longer than this is cancelled and counted as a `timeout` error \
             [default: {:?} for --url, the scenario's own otherwise]",
            library().timeout
        )
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    /// `sentinel load`'s flags alone.
    #[derive(Debug, Parser)]
    struct Flags {
        #[command(flatten)]
        load: LoadArgs,
    }

    /// The flags parsed from `args`.
    pub(super) fn flags(args: &[&str]) -> LoadArgs {
        let argv = std::iter::once("load").chain(args.iter().copied());
        Flags::try_parse_from(argv).expect("valid flags").load
    }

    /// The result of a real run of `requests` quick requests, every `fail_every`-th failing.
    pub(super) async fn result(requests: u32, fail_every: u64) -> LoadTestResult {
        let mut config =
            LoadTestConfig::new(f64::from(requests) * 10.0, Duration::from_millis(100));
        config.workers = 2;
        sentinel_load::run_load_test(config, RunControl::default(), move |ctx| async move {
            if ctx.seq % fail_every == fail_every - 1 {
                Err(sentinel_load::RequestError::new("http_503"))
            } else {
                Ok(())
            }
        })
        .await
        .expect("a valid configuration")
    }

    use sentinel_load::LoadTestResult;

    #[test]
    fn the_url_load_is_its_own_rate_and_duration_and_the_generators_defaults() {
        let config = flags(&["--url", "http://127.0.0.1:1/"]).url_load();
        let library = LoadTestConfig::new(URL_RATE, URL_DURATION);
        assert_eq!(config.requests_per_second, 100.0);
        assert_eq!(config.duration, Duration::from_secs(10));
        assert_eq!(
            (config.workers, config.timeout),
            (library.workers, library.timeout)
        );
    }

    #[test]
    fn flags_replace_a_scenarios_load_and_a_step_keeps_its_own_rate() {
        let args = flags(&["--rate", "7", "--workers", "3", "--timeout", "1s"]);
        let scenario: sentinel_scenarios::Scenario = "identity".parse().expect("built in");
        let config = args.load(scenario.config());
        assert_eq!(config.requests_per_second, 7.0);
        assert_eq!(config.workers, 3);
        assert_eq!(config.timeout, Duration::from_secs(1));
        assert_eq!(config.duration, scenario.config().duration);
        let step = args.step_load(scenario.config(), 400.0);
        assert_eq!(step.requests_per_second, 400.0);
        assert_eq!(step.duration, STEP_DURATION);
        assert_eq!(step.workers, 3);
    }

    #[test]
    fn stages_ramp_from_the_rate_or_zero_and_set_the_duration() {
        let args = flags(&[
            "--url",
            "http://h/",
            "--stage",
            "2s:100",
            "--stage",
            "1s:=50",
        ]);
        let config = args.url_load();
        assert_eq!(config.requests_per_second, 0.0);
        assert_eq!(config.duration, Duration::from_secs(3));
        assert_eq!(config.stages.len(), 2);
        let args = flags(&["--url", "http://h/", "--rate", "10", "--stage", "2s:100"]);
        assert_eq!(args.url_load().requests_per_second, 10.0);
        let args = flags(&[
            "--url",
            "h",
            "--segment",
            "2/3",
            "--start-at",
            "2030-01-01T00:00:00Z",
        ]);
        let config = args.url_load();
        assert_eq!(config.segment.to_string(), "2/3");
        let at = config.start_at.expect("given");
        let since = at
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970");
        assert_eq!(since.as_secs(), 1_893_456_000);
        let indexed = flags(&["--url", "h", "--segment-index", "0/3"]);
        assert_eq!(indexed.url_load().segment.to_string(), "1/3");
    }

    #[test]
    fn an_http_target_gets_a_thread_per_50000_requests_per_second_of_its_share() {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let threads = |args: &[&str]| flags(args).threads();
        assert_eq!(threads(&["--url", "http://h/", "--threads", "3"]), 3);
        assert_eq!(threads(&["--url", "http://h/"]), 1);
        assert_eq!(threads(&["--url", "http://h/", "--rate", "50000"]), 1);
        assert_eq!(
            threads(&["--url", "http://h/", "--rate", "50001"]),
            2.min(cores)
        );
        assert_eq!(
            threads(&["--url", "h", "--stage", "1s:120000"]),
            3.min(cores)
        );
        let split = ["--url", "h", "--rate", "100000", "--segment", "1/4"];
        assert_eq!(threads(&split), 1);
        assert_eq!(threads(&["--url", "h", "--rate", "1e9"]), cores);
        assert_eq!(threads(&["--url", "h", "--find-max"]), cores);
        assert_eq!(threads(&["--scenario", "issuance"]), cores);
        assert!(Flags::try_parse_from(["load", "--threads", "0"]).is_err());
    }

    #[test]
    fn the_help_states_the_defaults_in_use() {
        assert!(help::threads().contains("one per 50000 req/s"));
        assert!(help::rate().contains("[default: 100 for --url"));
        assert!(help::duration().contains("10s for --url"));
        assert!(help::duration().contains("2s per --find-max step"));
        assert!(help::workers().contains("[default: 64 for --url"));
        assert!(help::timeout().contains("[default: 2s for --url"));
    }
}

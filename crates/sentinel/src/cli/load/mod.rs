//! `sentinel load`: drive an open-loop load at a target and report it.
//!
//! The target is any HTTP/1.1 URL (`--url`) or a built-in scenario of the issuance path
//! (`--scenario`, in [`scenarios`]; with neither, every scenario briefly). Everything around the
//! run itself (progress bar, Ctrl-C, the text/JSON/`.hgrm` report and thresholds) lives in
//! [`session`] and [`report`], so every kind of target reuses it unchanged; [`find_max`]
//! searches the highest rate either kind sustains.

mod find_max;
mod interrupt;
mod progress;
mod report;
mod scenarios;
mod session;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sentinel_load::http::{HttpDriver, HttpTarget};
use sentinel_load::{LoadTest, LoadTestConfig, parse_duration};

/// Exit status for input that cannot be used (as clap does for bad flags).
const EXIT_USAGE: u8 = 2;
/// `--url`'s rate unless `--rate` is given.
const DEFAULT_RATE: f64 = 100.0;
/// `--url`'s duration unless `--duration` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// `--url`'s workers unless `--workers` is given.
const DEFAULT_WORKERS: usize = 64;
/// `--url`'s timeout unless `--timeout` is given.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// Flags of `sentinel load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The HTTP URL to load (http:// only).
    #[arg(long, value_name = "URL", conflicts_with = "scenario")]
    url: Option<String>,
    /// A built-in scenario of the issuance path (policy-eval, cached-eval, identity, mixed,
    /// issuance) or `all`; with neither this nor --url, every scenario runs briefly.
    #[arg(long, value_name = "NAME|all")]
    scenario: Option<scenarios::Choice>,
    /// Search the highest rate at which the thresholds hold (short steps, doubling then
    /// bisecting) for one --scenario or the --url.
    #[arg(long)]
    find_max: bool,
    /// The decision log the `issuance` scenario appends to [default: a temporary file].
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Target rate in requests per second; request i is due at start + i / rate
    /// [default: 100 for --url, the scenario's own otherwise].
    #[arg(long, value_name = "N")]
    rate: Option<f64>,
    /// How long requests are scheduled for (10s, 500ms, 2m) [default: 10s for --url, the
    /// scenario's own otherwise, 2s per --find-max step].
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// At most this many requests in flight, one connection each [default: 64 for --url, the
    /// scenario's own otherwise].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// A request running longer than this is cancelled and counted as a `timeout` error
    /// [default: 2s for --url, the scenario's own otherwise].
    #[arg(long, value_parser = parse_duration)]
    timeout: Option<Duration>,
    /// The HTTP method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// A header sent with every request; repeat for more.
    #[arg(long = "header", value_name = "NAME: VALUE")]
    headers: Vec<String>,
    /// The request body: `@FILE` for a file's contents, anything else literally.
    #[arg(long, value_name = "@FILE")]
    body: Option<String>,
    #[command(flatten)]
    report: report::ReportArgs,
}

/// Runs `sentinel load`.
pub fn run(args: LoadArgs) -> ExitCode {
    super::run_async(async {
        if args.find_max {
            return Ok(find_max::run(&args).await);
        }
        if args.url.is_none() {
            return Ok(scenarios::run(&args).await);
        }
        let rate = args.rate.unwrap_or(DEFAULT_RATE);
        Ok(
            match http_test(&args, rate, args.duration.unwrap_or(DEFAULT_DURATION)).await {
                Ok((test, driver)) => {
                    let result = run_http(test, &driver, &args.report).await;
                    report::finish(&result, http_fields(&driver), &args.report)
                }
                Err(error) => {
                    eprintln!("sentinel: {error:#}");
                    ExitCode::from(EXIT_USAGE)
                }
            },
        )
    })
}

/// Builds the load test at `rate` for `duration` and the HTTP driver from the flags, checking
/// all of them first.
async fn http_test(
    args: &LoadArgs,
    rate: f64,
    duration: Duration,
) -> anyhow::Result<(LoadTest, Arc<HttpDriver>)> {
    let url = args
        .url
        .as_deref()
        .context("--url is required: the load target")?;
    let mut target = HttpTarget::from_url(url).await?;
    target.method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .with_context(|| format!("`{}` is not an HTTP method", args.method))?;
    for header in &args.headers {
        target.header(header)?;
    }
    if let Some(body) = &args.body {
        target.body = match body.strip_prefix('@') {
            Some(path) => std::fs::read(path)
                .with_context(|| format!("reading the body from {path}"))?
                .into(),
            None => body.clone().into_bytes().into(),
        };
    }
    let workers = args.workers.unwrap_or(DEFAULT_WORKERS);
    let mut config = LoadTestConfig::new(rate, duration);
    config.workers = workers;
    config.timeout = args.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let test = LoadTest::new(config)?;
    Ok((test, HttpDriver::new(target, workers)?))
}

/// Opens the workers' connections (so that the run measures requests, not connection set-up),
/// then runs `test` over them.
async fn run_http(
    test: LoadTest,
    driver: &Arc<HttpDriver>,
    report: &report::ReportArgs,
) -> sentinel_load::LoadTestResult {
    driver
        .open_connections(test.timeout(), &test.cancel_token())
        .await;
    let request = Arc::clone(driver);
    session::run(test, report, move |ctx| Arc::clone(&request).request(ctx)).await
}

/// The HTTP client's own figures, for the JSON report.
fn http_fields(driver: &HttpDriver) -> serde_json::Map<String, serde_json::Value> {
    let stats = serde_json::to_value(driver.stats()).unwrap_or_default();
    serde_json::Map::from_iter([("http".to_owned(), stats)])
}

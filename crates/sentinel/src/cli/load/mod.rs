//! `sentinel load`: drive an open-loop load at a target and report it.
//!
//! The target today is any HTTP/1.1 URL (`--url`). Everything around the run itself (progress
//! bar, Ctrl-C, the text/JSON/`.hgrm` report and thresholds) lives in [`session`] and
//! [`report`], so another kind of target can reuse it unchanged.

mod interrupt;
mod progress;
mod report;
mod session;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use sentinel_load::http::{HttpDriver, HttpTarget};
use sentinel_load::{LoadTest, LoadTestConfig, parse_duration};

/// Exit status for input that cannot be used (as clap does for bad flags).
const EXIT_USAGE: u8 = 2;

/// Flags of `sentinel load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// The HTTP URL to load (http:// only; required until other targets exist).
    #[arg(long, required = true, value_name = "URL")]
    url: Option<String>,
    /// Target rate in requests per second; request i is due at start + i / rate.
    #[arg(long, default_value_t = 100.0, value_name = "N")]
    rate: f64,
    /// How long requests are scheduled for (10s, 500ms, 2m).
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// At most this many requests in flight, one connection each.
    #[arg(long, default_value_t = 64, value_name = "N")]
    workers: usize,
    /// A request running longer than this is cancelled and counted as a `timeout` error.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    timeout: Duration,
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
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sentinel: starting the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match http_test(&args).await {
            Ok((test, driver)) => {
                let result = session::run(test, &args.report, move |ctx| {
                    Arc::clone(&driver).request(ctx)
                })
                .await;
                report::finish(&result, serde_json::Map::new(), &args.report)
            }
            Err(error) => {
                eprintln!("sentinel: {error:#}");
                ExitCode::from(EXIT_USAGE)
            }
        }
    })
}

/// Builds the load test and the HTTP driver from the flags, checking all of them first.
async fn http_test(args: &LoadArgs) -> anyhow::Result<(LoadTest, Arc<HttpDriver>)> {
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
    let mut config = LoadTestConfig::new(args.rate, args.duration);
    config.workers = args.workers;
    config.timeout = args.timeout;
    let test = LoadTest::new(config)?;
    Ok((test, HttpDriver::new(target, args.workers)))
}

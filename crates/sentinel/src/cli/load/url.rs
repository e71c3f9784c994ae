//! `sentinel load --url URL`: any HTTP/1.1 server as the target, with the request shaped by
//! `--method`, `--header` and `--body`, judged by the `--threshold`s given.

use std::sync::Arc;

use anyhow::Context;
use sentinel_load::http::{HttpDriver, HttpStats, HttpTarget, hide_user_info};
use sentinel_load::{LoadTest, LoadTestConfig, LoadTestResult, Threshold, Verdict};

use super::files::RunFiles;
use super::interrupt::Interrupted;
use super::report::{self, Judged};
use super::{LoadArgs, Outcome, session};

/// One judged run at the URL.
pub struct UrlRun {
    /// The load generator's result.
    pub result: LoadTestResult,
    /// Each threshold, judged once.
    pub verdicts: Vec<Verdict>,
    /// What the HTTP client did besides sending requests.
    pub http: HttpStats,
}

/// Runs one load at the URL and reports it.
pub async fn run(args: &LoadArgs) -> Outcome {
    let mut config = args.url_load();
    let title = args.url.as_deref().map(hide_user_info).unwrap_or_default();
    let files = match RunFiles::open(&args.report, &title, None, &mut config) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            return Outcome::Usage;
        }
    };
    match run_at(args, config, &args.report.thresholds).await {
        Ok(run) => report::finish(
            &Judged {
                result: &run.result,
                verdicts: &run.verdicts,
                findings: None,
                http: Some(&run.http),
            },
            &args.report,
            files,
        ),
        Err(error) if error.is::<Interrupted>() => super::failed(&error),
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            Outcome::Usage
        }
    }
}

/// Runs a load at the URL with `config` (progress, Ctrl-C) over connections opened first, and
/// judges `thresholds`. Fails, before any request, on flags that cannot make a request, and
/// with [`Interrupted`] if Ctrl-C came while the host was resolved.
pub async fn run_at(
    args: &LoadArgs,
    config: LoadTestConfig,
    thresholds: &[Threshold],
) -> anyhow::Result<UrlRun> {
    let target = tokio::select! {
        target = target(args) => target?,
        () = args.stop.cancelled() => return Err(Interrupted("the host was resolved").into()),
    };
    let workers = config.workers;
    let test = LoadTest::new(config)?;
    let driver = HttpDriver::new(target, workers)?;
    // Opened before the schedule starts, so that the run measures requests, not set-up.
    driver
        .open_connections(test.timeout(), &test.cancel_token())
        .await;
    let request = Arc::clone(&driver);
    let result = session::run(test, args.report.quiet, move |ctx| {
        Arc::clone(&request).request(ctx)
    })
    .await;
    let verdicts = sentinel_load::judge(thresholds, &result);
    Ok(UrlRun {
        result,
        verdicts,
        http: driver.stats(),
    })
}

/// The request every worker sends, from the flags.
async fn target(args: &LoadArgs) -> anyhow::Result<HttpTarget> {
    let url = args
        .url
        .as_deref()
        .context("--url is required: the load target")?;
    let mut target = HttpTarget::from_url(url).await?;
    if let Some(method) = &args.method {
        target.method = method
            .to_ascii_uppercase()
            .parse()
            .with_context(|| format!("`{method}` is not an HTTP method"))?;
    }
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
    Ok(target)
}

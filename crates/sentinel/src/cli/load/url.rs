//! `sentinel load --url URL`: any HTTP/1.1 server as the target, with the request shaped by
//! `--method`, `--header` and `--body`, judged by the `--threshold`s given.

use std::sync::Arc;

use anyhow::Context;
use sentinel_load::http::{HttpDriver, HttpTarget};
use sentinel_load::{LoadTest, LoadTestConfig, LoadTestResult, Verdict};

use super::files::RunFiles;
use super::report::{self, Judged};
use super::{LoadArgs, Outcome, session};

/// Runs one load at the URL and reports it.
pub async fn run(args: &LoadArgs) -> Outcome {
    let mut config = args.url_load();
    let title = args.url.as_deref().map(shown).unwrap_or_default();
    let files = match RunFiles::open(&args.report, &title, None, &mut config) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            return Outcome::Usage;
        }
    };
    match run_at(args, config).await {
        Ok((result, verdicts)) => report::finish(
            &Judged {
                result: &result,
                verdicts: &verdicts,
                findings: None,
            },
            &args.report,
            files,
        ),
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            Outcome::Usage
        }
    }
}

/// Runs a load at the URL with `config` (progress, Ctrl-C) and judges the thresholds. Fails,
/// before any request, on flags that cannot make a request.
pub async fn run_at(
    args: &LoadArgs,
    config: LoadTestConfig,
) -> anyhow::Result<(LoadTestResult, Vec<Verdict>)> {
    let target = target(args).await?;
    let workers = config.workers;
    let test = LoadTest::new(config)?;
    let driver = HttpDriver::new(target, workers)?;
    // Opened before the schedule starts, so that the run measures requests, not set-up.
    driver
        .open_connections(test.timeout(), &test.cancel_token())
        .await;
    let result = session::run(test, args.report.quiet, move |ctx| {
        Arc::clone(&driver).request(ctx)
    })
    .await;
    let verdicts = sentinel_load::judge(&args.report.thresholds, &result);
    Ok((result, verdicts))
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

/// `url` as a report may show it: any user info (`user:password@`) replaced by `***`.
fn shown(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://***@{host}{path}"),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn user_info_never_shows() {
        assert_eq!(shown("http://u:secret@h:8/p?q"), "http://***@h:8/p?q");
        assert_eq!(shown("http://h/a@b"), "http://h/a@b");
        assert_eq!(shown("not a url"), "not a url");
    }
}

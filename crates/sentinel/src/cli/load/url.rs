//! `sentinel load --url URL` or `--targets FILE`: any HTTP server as the target, with one
//! request shaped by `--method`, `--header` and `--body`, or many read from a targets file;
//! over HTTP/1.1 or HTTP/2, with or without TLS; judged by the `--threshold`s given, for the
//! whole run and, with `--by-target`, for each target too.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use sentinel_load::http::{HttpDriver, HttpOptions, HttpStats, HttpTarget, Route, TlsOptions};
use sentinel_load::{LoadTest, LoadTestConfig, LoadTestResult, RunControl, Threshold, Verdict};

use super::files::RunFiles;
use super::interrupt::Interrupted;
use super::judged::{Judged, TargetJudged};
use super::report;
use super::{LoadArgs, Outcome, session};

/// How `--url` and `--targets` runs speak HTTP, and which requests they send.
#[derive(Debug, Args)]
#[command(next_help_heading = "HTTP targets (--url or --targets)")]
pub struct HttpArgs {
    /// Send the requests of FILE instead of --url: one JSON object per line, `{"method",
    /// "url", "headers": {..}, "body" | "body_file", "weight"}`, only `url` required (see
    /// docs/load.md). Every line is checked before the run.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["url", "scenario"])]
    pub targets: Option<PathBuf>,
    /// Take the targets as often as their `weight` says, spread evenly (default: in turn).
    #[arg(long, requires = "targets")]
    pub weighted: bool,
    /// Report each target apart as well as the whole run, and judge every --threshold for
    /// each of them too.
    #[arg(long, requires = "targets")]
    pub by_target: bool,
    /// Speak HTTP/2 (agreed by ALPN over https://, by prior knowledge over http://) instead
    /// of HTTP/1.1.
    #[arg(long)]
    pub http2: bool,
    /// With --http2, the connections to each host that the workers share, each carrying many
    /// streams at once; --workers still caps the requests in flight [default: 1].
    #[arg(long, value_name = "N", requires = "http2")]
    pub connections: Option<usize>,
    /// Open a new connection for every request (HTTP/1.1), so that its latency includes the
    /// TCP and TLS handshakes. By default connections are opened before the run and kept.
    #[arg(long, conflicts_with = "http2")]
    pub no_keepalive: bool,
    /// Trust only the CA certificates in this PEM file, instead of the system's roots.
    #[arg(long, value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Accept any TLS certificate without checking it. The report says so.
    #[arg(long)]
    pub insecure: bool,
    /// Connect to this Unix socket instead of the URL's host; the URL still gives the Host
    /// header and the path.
    #[arg(long, value_name = "PATH", conflicts_with = "connect_to")]
    pub unix_socket: Option<PathBuf>,
    /// Connect to HOST:PORT instead of the URL's host and port (as curl's --connect-to), to
    /// load one replica of several behind one name; Host and the TLS name stay the URL's.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect_to: Option<String>,
}

impl HttpArgs {
    /// The first of these flags given, if any: they mean nothing without an HTTP target.
    pub fn given(&self) -> Option<&'static str> {
        [
            (self.targets.is_some(), "--targets"),
            (self.http2, "--http2"),
            (self.no_keepalive, "--no-keepalive"),
            (self.cacert.is_some(), "--cacert"),
            (self.insecure, "--insecure"),
            (self.unix_socket.is_some(), "--unix-socket"),
            (self.connect_to.is_some(), "--connect-to"),
        ]
        .into_iter()
        .find_map(|(given, flag)| given.then_some(flag))
    }

    /// The driver's options from the flags.
    fn options(&self) -> HttpOptions {
        let route = match (&self.unix_socket, &self.connect_to) {
            (Some(path), _) => Route::UnixSocket(path.clone()),
            (None, Some(host_port)) => Route::ConnectTo(host_port.clone()),
            (None, None) => Route::Url,
        };
        HttpOptions {
            http2: self.http2,
            connections: self.connections.unwrap_or(1),
            keepalive: !self.no_keepalive,
            tls: TlsOptions {
                ca_file: self.cacert.clone(),
                insecure: self.insecure,
            },
            route,
        }
    }
}

/// One judged run at the URL or the targets.
pub struct UrlRun {
    /// What was loaded: the URL (its user info hidden) or the `--targets` file.
    pub target: String,
    /// The load generator's result (with each target's own, with `--by-target`).
    pub result: LoadTestResult,
    /// Each threshold, judged once for the whole run.
    pub verdicts: Vec<Verdict>,
    /// With `--by-target`, each target's name, weight and verdicts, in the order of
    /// `result.targets`.
    pub targets: Vec<(String, u32, Vec<Verdict>)>,
    /// What the HTTP client is and did besides sending requests.
    pub http: HttpStats,
}

impl UrlRun {
    /// The run as its report shows it.
    fn judged(&self) -> Judged<'_> {
        Judged {
            target: Some(&self.target),
            result: &self.result,
            verdicts: &self.verdicts,
            findings: None,
            http: Some(&self.http),
            targets: self
                .targets
                .iter()
                .zip(&self.result.targets)
                .map(|((name, weight, verdicts), result)| TargetJudged {
                    name,
                    weight: *weight,
                    result,
                    verdicts,
                })
                .collect(),
        }
    }

    /// Every breached threshold, the run's and each target's, as one line each.
    pub fn breaches(&self) -> Vec<String> {
        let run = self
            .verdicts
            .iter()
            .filter_map(|verdict| verdict.breach.as_ref())
            .map(|breach| format!("threshold breached: {breach}"));
        let targets = self.targets.iter().flat_map(|(name, _, verdicts)| {
            verdicts
                .iter()
                .filter_map(|verdict| verdict.breach.as_ref())
                .map(move |breach| format!("threshold breached by {name}: {breach}"))
        });
        run.chain(targets).collect()
    }
}

/// Runs one load at the URL or the targets and reports it.
pub async fn run(args: &LoadArgs) -> Outcome {
    let config = args.url_load();
    let mut control = args.control();
    let title = args.http_target().unwrap_or_default();
    let files = match RunFiles::open(&args.report, &title, None, &mut control) {
        Ok(files) => files,
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            return Outcome::Usage;
        }
    };
    match run_at(args, config, control, &args.report.thresholds).await {
        Ok(run) => report::finish(&run.judged(), &args.report, files),
        Err(error) if error.is::<Interrupted>() => super::failed(&error),
        Err(error) => {
            eprintln!("sentinel: {error:#}");
            Outcome::Usage
        }
    }
}

/// Runs a load at the URL or the targets with `config` under `control` (progress, Ctrl-C) over
/// connections opened first, and judges `thresholds`. Fails, before any request, on flags or
/// targets that cannot make a request, and with [`Interrupted`] if Ctrl-C came while the hosts
/// were resolved.
pub async fn run_at(
    args: &LoadArgs,
    mut config: LoadTestConfig,
    control: RunControl,
    thresholds: &[Threshold],
) -> anyhow::Result<UrlRun> {
    let targets = targets(args)?;
    let driver = tokio::select! {
        driver = HttpDriver::new(targets, args.http.options(), config.workers) => driver?,
        () = args.stop.cancelled() => return Err(Interrupted("the hosts were resolved").into()),
    };
    config.mix = driver.mix(args.http.weighted)?;
    config.by_target = args.http.by_target;
    let test = LoadTest::new(config)?;
    if args.http.insecure {
        eprintln!("sentinel: --insecure: TLS certificates will not be verified");
    }
    // Opened before the schedule starts, so that the run measures requests, not set-up.
    let opened = driver
        .open_connections(test.timeout(), &control.cancel)
        .await;
    if let Some(failure) = &opened.failure {
        eprintln!(
            "sentinel: opening connections before the run: {failure} (the run goes on; each \
             request tries again)"
        );
    }
    let request = Arc::clone(&driver);
    let result = session::run(test, control, args.report.quiet, move |ctx| {
        Arc::clone(&request).request(ctx)
    })
    .await;
    let verdicts = sentinel_load::judge(thresholds, &result);
    let targets = driver
        .targets()
        .iter()
        .zip(&result.targets)
        .map(|(target, own)| {
            (
                target.name(),
                target.weight,
                sentinel_load::judge(thresholds, own),
            )
        })
        .collect();
    Ok(UrlRun {
        target: args.http_target().unwrap_or_default(),
        result,
        verdicts,
        targets,
        http: driver.stats(),
    })
}

/// The requests of the run: the targets file's, or the one the URL and the flags shape.
fn targets(args: &LoadArgs) -> anyhow::Result<Vec<HttpTarget>> {
    let mut targets = match (&args.url, &args.http.targets) {
        (Some(url), _) => vec![url_target(args, url)?],
        (None, Some(file)) => {
            if args.method.is_some() || args.body.is_some() {
                anyhow::bail!(
                    "--method and --body shape the --url request: a targets file gives each \
                     line its own `method` and `body`"
                );
            }
            sentinel_load::http::read_targets_file(file)?
        }
        (None, None) => anyhow::bail!("--url or --targets is required: the load target"),
    };
    // --header adds to every target; a target's own header of the same name gives way.
    for target in &mut targets {
        for header in &args.headers {
            target.header(header)?;
        }
    }
    Ok(targets)
}

/// The one request `--url`, `--method` and `--body` describe.
fn url_target(args: &LoadArgs, url: &str) -> anyhow::Result<HttpTarget> {
    let mut target = HttpTarget::from_url(url)?;
    if let Some(method) = &args.method {
        target.method = method
            .to_ascii_uppercase()
            .parse()
            .with_context(|| format!("`{method}` is not an HTTP method"))?;
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

//! What a load scenario is: a [`LoadScenario`] (its name, its default load and thresholds, and
//! how to prepare it) and the [`Workload`] it prepares (one request at a time, then its
//! findings). A scenario implements both in one module; everything else (the registry, the run,
//! the reports) works through these two traits.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use sentinel_core::decision_log::LogError;
use sentinel_core::source::SourceError;
use sentinel_load::{LoadTestConfig, LoadTestResult, RequestContext, RequestError, Threshold};

use crate::findings::{CheckResult, Figures};

/// A load scenario: what it is called, the load it runs at unless told otherwise, the
/// thresholds it must hold, and how to prepare its [`Workload`].
pub trait LoadScenario: Send + Sync + 'static {
    /// What the scenario's requests run against, prepared once per run.
    type Workload: Workload;

    /// The name on the command line and in reports, e.g. `policy-eval`.
    fn name(&self) -> &'static str;

    /// One line saying what the scenario measures.
    fn summary(&self) -> &'static str;

    /// The load it runs at by default: rate, duration, workers and per-request timeout.
    fn config(&self) -> LoadTestConfig;

    /// How long it runs in the quick tour (`sentinel load` alone), at its default rate.
    fn tour_duration(&self) -> Duration {
        Duration::from_secs(2)
    }

    /// The thresholds a run at `rate` requests per second must meet.
    fn thresholds(&self, rate: f64) -> Vec<Threshold>;

    /// Builds, and warms, what a run configured by `config` needs: stores, caches, files and
    /// per-worker records (`config.workers` of them).
    fn prepare(
        &self,
        config: &LoadTestConfig,
        setup: &Setup,
    ) -> impl Future<Output = Result<Self::Workload, SetupError>> + Send;
}

/// A prepared scenario: it serves requests during the run, then reports what it saw.
pub trait Workload: Send + Sync + 'static {
    /// The scenario's own figures, as they appear in the JSON report.
    type Figures: Figures;

    /// One request. `ctx.worker` is in `0..workers` and a worker runs one request at a time, so
    /// state indexed by it is never contended.
    fn request(&self, ctx: RequestContext)
    -> impl Future<Output = Result<(), RequestError>> + Send;

    /// Reads the figures after `result`'s run and checks them. Called once, after the last
    /// request.
    fn finish(&self, result: &LoadTestResult) -> (Self::Figures, Vec<CheckResult>);
}

/// Where a scenario keeps what it needs outside memory.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The decision log `issuance` appends to; `None` for a temporary file, removed after the
    /// run (a load run never touches the user's real log unless told to).
    pub decision_log: Option<PathBuf>,
}

/// Why a scenario could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The built-in policy could not be loaded into the cache.
    #[error("preparing the policy cache: {0}")]
    Policy(#[from] SourceError),
    /// The decision log could not be opened.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The temporary decision log could not be created or measured.
    #[error("preparing the decision log: {0}")]
    Io(#[from] std::io::Error),
    /// A scenario defined elsewhere could not prepare what it needs (a server, a certificate).
    #[error("{0}")]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

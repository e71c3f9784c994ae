//! `sentinel-scenarios`: load scenarios for Sentinel's issuance path, each with the thresholds
//! it must hold and the checks a latency figure cannot make.
//!
//! Six built-in scenarios, one module each: [`policy_eval`] (evaluation alone), [`cached_eval`]
//! (through the policy cache, whose own counters give the hit ratio), [`identity`] (request IDs,
//! all checked for collisions), [`mixed`] (allowed, denied and never-seen policies in fixed
//! shares, each outcome asserted), [`issuance`] (the whole broker, with one decision line per
//! request in a real decision log file) and [`remote`] (`sentinel server` over TLS, a signed
//! proof per request checked by an in-process STS). Each runs on the open-loop generator of
//! `sentinel-load` against the built-in example policy and the in-process issuer: no AWS, no
//! configuration.
//!
//! - [`LoadScenario`] and [`Workload`]: what a scenario is (name, default load, thresholds) and
//!   what it does (prepare once, serve one request, finish into its typed [`Figures`] and
//!   [`CheckResult`]s);
//! - [`Scenario`]: the registry, [`Scenario::ALL`], and a handle on any registered scenario;
//! - [`run()`]: prepare, run (with a [`Watch`] for progress and Ctrl-C) and judge in one call,
//!   into a [`ScenarioRun`] whose [`Findings`] serialize to the report's JSON fields.
//!
//! # Adding a scenario
//!
//! Write one module that implements [`LoadScenario`] for a unit struct and [`Workload`] for
//! what it prepares, then add `Scenario::new(&YourScenario)` to [`Scenario::ALL`] (a scenario
//! defined in another crate goes into that crate's own list, beside [`Scenario::ALL`]). The
//! command line, the reports, the summary table and `--find-max` pick it up from there.
//!
//! ```
//! use std::time::Duration;
//!
//! use sentinel_load::{
//!     LoadTestConfig, LoadTestResult, RequestContext, RequestError, RunControl, Threshold,
//! };
//! use sentinel_scenarios::{
//!     CheckResult, LoadScenario, NoFigures, Scenario, Setup, SetupError, Unwatched, Workload, run,
//! };
//!
//! /// A scenario whose requests do nothing: the generator's own floor.
//! struct Noop;
//!
//! impl LoadScenario for Noop {
//!     type Workload = NoopWorkload;
//!     fn name(&self) -> &'static str { "noop" }
//!     fn summary(&self) -> &'static str { "requests that do nothing" }
//!     fn config(&self) -> LoadTestConfig { LoadTestConfig::new(200.0, Duration::from_millis(100)) }
//!     fn thresholds(&self, _rate: f64) -> Vec<Threshold> {
//!         vec!["success>=99%".parse().expect("well formed")]
//!     }
//!     async fn prepare(&self, _: &LoadTestConfig, _: &Setup) -> Result<NoopWorkload, SetupError> {
//!         Ok(NoopWorkload)
//!     }
//! }
//!
//! struct NoopWorkload;
//!
//! impl Workload for NoopWorkload {
//!     type Figures = NoFigures;
//!     async fn request(&self, _: RequestContext) -> Result<(), RequestError> { Ok(()) }
//!     fn finish(&self, _: &LoadTestResult) -> (NoFigures, Vec<CheckResult>) {
//!         (NoFigures {}, Vec::new())
//!     }
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let noop = Scenario::new(&Noop);
//! let control = RunControl::default();
//! let run = run(noop, noop.config(), control, None, &Setup::default(), &mut Unwatched).await?;
//! assert!(run.passed(), "{:?}", run.failures());
//! # Ok(())
//! # }
//! ```

mod cache;
pub mod cached_eval;
mod defaults;
mod findings;
pub mod fixture;
pub mod identity;
pub mod issuance;
pub mod mixed;
mod per_worker;
pub mod policy_eval;
mod registry;
pub mod remote;
mod run;
mod scenario;

pub use cache::CacheFigures;
pub use findings::{CheckResult, Figures, Findings, NoFigures};
pub use registry::{Scenario, UnknownScenario};
pub use run::{RunError, ScenarioRun, Unwatched, Watch, run};
pub use scenario::{LoadScenario, Setup, SetupError, Workload};

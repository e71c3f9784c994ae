//! `sentinel-scenarios`: load scenarios for Sentinel's issuance path, each with the thresholds
//! it must hold and the checks a latency figure cannot make.
//!
//! Five scenarios ([`Scenario`]): `policy-eval` (evaluation alone), `cached-eval` (through the
//! policy cache, whose own counters give the hit ratio), `identity` (request IDs, all checked
//! for collisions), `mixed` (allowed, denied and never-seen policies in planned shares, each
//! outcome asserted) and `issuance` (the whole broker, with one decision line per request in a
//! real decision log file). Each runs on the open-loop generator of `sentinel-load` against the
//! built-in example policy and the in-process issuer: no AWS, no configuration.
//!
//! - [`Scenario`]: names, the plan's load shapes and thresholds;
//! - [`Workload`]: a prepared scenario, its request function and its [`Findings`];
//! - [`checks`]: the mix, collision, decision-line and hit-ratio checks;
//! - [`run()`]: prepare, run and judge in one call.

pub mod checks;
pub mod fixture;
mod run;
mod scenario;
mod workload;

pub use run::{RunError, ScenarioRun, judge, run};
pub use scenario::{Scenario, Shape, THROUGHPUT_SHARE, UnknownScenario};
pub use workload::{
    CACHE_CAPACITY, Findings, MIN_HIT_RATIO, MIX, MIX_TOLERANCE_PCT, POLICY_UNAVAILABLE, RNG,
    Setup, SetupError, WRONG_OUTCOME, Workload,
};

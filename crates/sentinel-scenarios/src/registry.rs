//! The registry: [`Scenario`] is a handle on any [`LoadScenario`], and [`Scenario::ALL`] lists the
//! built-in ones in the order they run and report. Names, error messages, the command line and
//! the summary table all read this one list.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentinel_load::{
    LoadTest, LoadTestConfig, LoadTestResult, RequestContext, RunControl, Threshold, Wire,
};

use crate::findings::Findings;
use crate::scenario::{LoadScenario, Setup, SetupError, Workload};
use crate::{cached_eval, identity, issuance, mixed, policy_eval, remote};

/// A registered load scenario: a copyable handle on its [`LoadScenario`].
#[derive(Clone, Copy)]
pub struct Scenario(&'static dyn Registered);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

impl Scenario {
    /// Every built-in scenario, in the order they are run and reported.
    pub const ALL: [Scenario; 6] = [
        Scenario::new(&policy_eval::PolicyEval),
        Scenario::new(&cached_eval::CachedEval),
        Scenario::new(&identity::Identity),
        Scenario::new(&mixed::Mixed),
        Scenario::new(&issuance::Issuance),
        Scenario::new(&remote::Remote),
    ];

    /// The handle on `scenario`.
    pub const fn new<S: LoadScenario>(scenario: &'static S) -> Scenario {
        Scenario(scenario)
    }

    /// The scenario named `name` among `scenarios`.
    pub fn find(name: &str, scenarios: &[Scenario]) -> Result<Scenario, UnknownScenario> {
        scenarios
            .iter()
            .find(|scenario| scenario.name() == name)
            .copied()
            .ok_or_else(|| UnknownScenario {
                name: name.to_owned(),
                known: scenarios.iter().map(|scenario| scenario.name()).collect(),
            })
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// One line saying what the scenario measures.
    pub fn summary(self) -> &'static str {
        self.0.summary()
    }

    /// The load it runs at by default.
    pub fn config(self) -> LoadTestConfig {
        self.0.config()
    }

    /// The load of the quick tour: the default load for the tour's shorter duration.
    pub fn tour_config(self) -> LoadTestConfig {
        LoadTestConfig {
            duration: self.0.tour_duration(),
            ..self.0.config()
        }
    }

    /// The thresholds a run at `rate` requests per second must meet.
    pub fn thresholds(self, rate: f64) -> Vec<Threshold> {
        self.0.thresholds(rate)
    }

    /// Prepares the scenario for `config` and returns how long `count` of its requests took,
    /// sent one after another on worker 0 without the load generator: the cost of one request,
    /// for a benchmark.
    pub async fn time_requests(
        self,
        config: &LoadTestConfig,
        count: u64,
    ) -> Result<Duration, SetupError> {
        let prepared = self.0.prepare(config, &Setup::default()).await?;
        let started = Instant::now();
        prepared.in_turn(count).await;
        Ok(started.elapsed())
    }

    /// Prepares the scenario for `config`.
    pub(crate) async fn prepare(
        self,
        config: &LoadTestConfig,
        setup: &Setup,
    ) -> Result<Arc<dyn Prepared>, SetupError> {
        self.0.prepare(config, setup).await
    }
}

/// What [`Scenario`] needs of a [`LoadScenario`], in a form it can hold without knowing its
/// type.
trait Registered: Send + Sync {
    fn name(&self) -> &'static str;
    fn summary(&self) -> &'static str;
    fn config(&self) -> LoadTestConfig;
    fn tour_duration(&self) -> Duration;
    fn thresholds(&self, rate: f64) -> Vec<Threshold>;
    fn prepare<'a>(
        &'a self,
        config: &'a LoadTestConfig,
        setup: &'a Setup,
    ) -> BoxFuture<'a, Result<Arc<dyn Prepared>, SetupError>>;
}

/// A prepared [`Workload`] of any scenario. Its requests are still dispatched statically: the
/// load generator runs the workload's own request future, unboxed.
pub(crate) trait Prepared: Send + Sync {
    /// Runs `test` under `control` with the workload's requests.
    fn drive(
        self: Arc<Self>,
        test: LoadTest,
        control: RunControl,
    ) -> BoxFuture<'static, LoadTestResult>;
    /// Serves `count` requests one after another on worker 0.
    fn in_turn(&self, count: u64) -> BoxFuture<'_, ()>;
    /// The findings of `scenario` after `result`'s run.
    fn finish(&self, scenario: &'static str, result: &LoadTestResult) -> Findings;
}

impl<S: LoadScenario> Registered for S {
    fn name(&self) -> &'static str {
        LoadScenario::name(self)
    }

    fn summary(&self) -> &'static str {
        LoadScenario::summary(self)
    }

    fn config(&self) -> LoadTestConfig {
        LoadScenario::config(self)
    }

    fn tour_duration(&self) -> Duration {
        LoadScenario::tour_duration(self)
    }

    fn thresholds(&self, rate: f64) -> Vec<Threshold> {
        LoadScenario::thresholds(self, rate)
    }

    fn prepare<'a>(
        &'a self,
        config: &'a LoadTestConfig,
        setup: &'a Setup,
    ) -> BoxFuture<'a, Result<Arc<dyn Prepared>, SetupError>> {
        Box::pin(async move {
            let workload = LoadScenario::prepare(self, config, setup).await?;
            Ok(Arc::new(workload) as Arc<dyn Prepared>)
        })
    }
}

impl<W: Workload> Prepared for W {
    fn drive(
        self: Arc<Self>,
        test: LoadTest,
        control: RunControl,
    ) -> BoxFuture<'static, LoadTestResult> {
        Box::pin(test.run(control, move |ctx| {
            let workload = Arc::clone(&self);
            async move { workload.request(ctx).await }
        }))
    }

    fn in_turn(&self, count: u64) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let wire = Wire::default();
            for seq in 0..count {
                // The outcome is the scenario's to judge in a run; here only the cost counts.
                let context = RequestContext {
                    worker: 0,
                    seq,
                    target: 0,
                    wire: wire.clone(),
                };
                let _ = self.request(context).await;
            }
        })
    }

    fn finish(&self, scenario: &'static str, result: &LoadTestResult) -> Findings {
        let (figures, checks) = Workload::finish(self, result);
        Findings::new(scenario, figures, checks)
    }
}

impl PartialEq for Scenario {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for Scenario {}

impl fmt::Debug for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Scenario").field(&self.name()).finish()
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a scenario: `` `x` is not a scenario: expected a, b or c ``.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` is not a scenario: expected {}", or_list(known))]
pub struct UnknownScenario {
    /// The name asked for.
    pub name: String,
    /// The names there are.
    pub known: Vec<&'static str>,
}

/// `a, b or c`.
fn or_list(names: &[&str]) -> String {
    match names.split_last() {
        None => "no scenario at all".to_owned(),
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Finds a built-in scenario by name.
impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scenario::find(name, &Scenario::ALL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        let error = "policy".parse::<Scenario>().expect_err("not a scenario");
        assert_eq!(
            error.to_string(),
            "`policy` is not a scenario: expected policy-eval, cached-eval, identity, mixed, \
             issuance or remote"
        );
        let one = Scenario::find("x", &Scenario::ALL[..1]).expect_err("not there");
        assert_eq!(
            one.to_string(),
            "`x` is not a scenario: expected policy-eval"
        );
    }

    #[test]
    fn every_scenario_has_a_unique_name_thresholds_and_a_valid_load() {
        let mut names: Vec<&str> = Scenario::ALL.iter().map(|s| s.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Scenario::ALL.len());
        for scenario in Scenario::ALL {
            assert!(!scenario.summary().is_empty());
            let config = scenario.config();
            assert!(!scenario.thresholds(config.requests_per_second).is_empty());
            for config in [config, scenario.tour_config()] {
                assert!(LoadTest::new(config).is_ok(), "{scenario}");
            }
        }
    }

    #[test]
    fn the_quick_tour_schedules_fourteen_seconds_of_load() {
        let total: Duration = Scenario::ALL.iter().map(|s| s.tour_config().duration).sum();
        assert_eq!(total, Duration::from_secs(14));
    }
}

//! The five scenarios by name, with the plan's rate, duration, workers, timeout and thresholds
//! as defaults, so the tests, the CLI and the documentation all read them from one place.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use sentinel_load::{LoadTestConfig, Threshold};

/// One load scenario on the issuance path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Evaluation of the example policy for an allowed request, nothing else.
    PolicyEval,
    /// A load through the pre-warmed cached source, then the evaluation.
    CachedEval,
    /// Request ID generation, every ID kept and checked for collisions.
    Identity,
    /// 80% allowed, 15% denied by rule and 5% never-seen policy names through the cache.
    Mixed,
    /// The whole broker: cached source, evaluation, decision log file, in-process issuer.
    Issuance,
}

/// A scenario's load shape: how fast, how long, how many in flight, how long one may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shape {
    /// Target rate, requests per second.
    pub rate: f64,
    /// How long requests are scheduled for.
    pub duration: Duration,
    /// At most this many requests in flight.
    pub workers: usize,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// The share of the target rate a run must complete per second to pass (the plan's 800 of
/// 1000, 4000 of 5000 and 400 of 500 req/s).
pub const THROUGHPUT_SHARE: f64 = 0.8;

/// The timeout of every scenario (the plan's, for policy evaluation).
const TIMEOUT: Duration = Duration::from_millis(100);

impl Scenario {
    /// Every scenario, in the order they are run and reported.
    pub const ALL: [Scenario; 5] = [
        Scenario::PolicyEval,
        Scenario::CachedEval,
        Scenario::Identity,
        Scenario::Mixed,
        Scenario::Issuance,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::PolicyEval => "policy-eval",
            Scenario::CachedEval => "cached-eval",
            Scenario::Identity => "identity",
            Scenario::Mixed => "mixed",
            Scenario::Issuance => "issuance",
        }
    }

    /// One line saying what the scenario measures.
    pub fn summary(self) -> &'static str {
        match self {
            Scenario::PolicyEval => "evaluate the example policy for alice/production (allow)",
            Scenario::CachedEval => "load through the pre-warmed policy cache, then evaluate",
            Scenario::Identity => "generate request IDs; every ID is checked for collisions",
            Scenario::Mixed => "80% allow, 15% deny by rule, 5% never-seen policy (deny)",
            Scenario::Issuance => "the whole broker: cache, evaluate, decision log, issuer",
        }
    }

    /// The plan's load shape for this scenario.
    pub fn shape(self) -> Shape {
        let (rate, seconds, workers) = match self {
            Scenario::PolicyEval => (1000.0, 10, 50),
            Scenario::CachedEval => (1000.0, 10, 50),
            Scenario::Identity => (5000.0, 5, 100),
            Scenario::Mixed => (500.0, 30, 25),
            Scenario::Issuance => (1000.0, 10, 50),
        };
        Shape {
            rate,
            duration: Duration::from_secs(seconds),
            workers,
            timeout: TIMEOUT,
        }
    }

    /// The shape of the quick tour (`sentinel load` with no arguments): the plan's rates and
    /// workers for a few seconds each, about 14 s for all five.
    pub fn short_shape(self) -> Shape {
        let seconds = match self {
            Scenario::Mixed => 4,
            _ => 2,
        };
        Shape {
            duration: Duration::from_secs(seconds),
            ..self.shape()
        }
    }

    /// The thresholds a run at `rate` must meet: the plan's latency and success figures, and a
    /// throughput of [`THROUGHPUT_SHARE`] of the rate where the plan sets one.
    pub fn thresholds(self, rate: f64) -> Vec<Threshold> {
        let throughput = format!("throughput>{}", (rate * THROUGHPUT_SHARE).round());
        let texts: Vec<String> = match self {
            Scenario::PolicyEval => vec!["success>99%".into(), "p99<10ms".into(), throughput],
            Scenario::CachedEval | Scenario::Issuance => {
                vec!["success>99%".into(), "p99<10ms".into()]
            }
            Scenario::Identity => vec!["success>=99.9%".into(), throughput],
            Scenario::Mixed => vec!["success>99%".into(), "p99<10ms".into(), throughput],
        };
        texts
            .iter()
            .map(|text| {
                text.parse()
                    .expect("the built-in thresholds are well formed")
            })
            .collect()
    }
}

impl Shape {
    /// The load generator's configuration for this shape (fresh cancellation token).
    pub fn config(&self) -> LoadTestConfig {
        let mut config = LoadTestConfig::new(self.rate, self.duration);
        config.workers = self.workers;
        config.timeout = self.timeout;
        config
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a scenario: expected policy-eval, cached-eval, identity, mixed or issuance")]
pub struct UnknownScenario(pub String);

impl FromStr for Scenario {
    type Err = UnknownScenario;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scenario::ALL
            .into_iter()
            .find(|scenario| scenario.name() == name)
            .ok_or_else(|| UnknownScenario(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for scenario in Scenario::ALL {
            assert_eq!(scenario.name().parse::<Scenario>(), Ok(scenario));
        }
        let error = "policy".parse::<Scenario>().expect_err("not a scenario");
        assert!(error.to_string().contains("policy-eval"), "{error}");
    }

    #[test]
    fn the_plan_figures_are_the_defaults() {
        let shape = Scenario::Identity.shape();
        assert_eq!((shape.rate, shape.workers), (5000.0, 100));
        assert_eq!(shape.duration, Duration::from_secs(5));
        let texts: Vec<String> = Scenario::PolicyEval
            .thresholds(1000.0)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(texts, ["success>99%", "p99<10ms", "throughput>800"]);
        let identity: Vec<String> = Scenario::Identity
            .thresholds(5000.0)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(identity, ["success>=99.9%", "throughput>4000"]);
    }

    #[test]
    fn the_quick_tour_takes_under_thirty_seconds() {
        let total: Duration = Scenario::ALL.iter().map(|s| s.short_shape().duration).sum();
        assert!(total < Duration::from_secs(20), "{total:?}");
    }
}
